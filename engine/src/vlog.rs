//! The value log: large values written once, append-only, referenced from
//! the tree (WiscKey-style).
//!
//! A value at or above the threshold is appended to the current segment
//! under the commit lock, and the WAL logs only its [`ValueRef`]. Before
//! the WAL is fsynced, the value log is (see `Wal::set_pre_sync`), so a
//! durable commit never refers to a value that is not durable.
//!
//! Invariants:
//! - Records are appended in commit order; a reference never points past
//!   the first bad record of a segment (the value log is fsynced before any
//!   WAL record referring to it), so on open a torn tail can be cut at the
//!   last valid record without losing a referenced value.
//! - Reading through a reference checks the record's CRC, that it is the
//!   record the reference was made for (length and CRC match), and that it
//!   belongs to the key asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jubilant_format::Damage;
use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::vlog::{VlogReader, VlogStep, classify_vlog_damage, decode_referenced, encode_vlog_record};
use jubilant_format::{Lsn, SegmentHeader, SegmentId, SegmentKind, ValueRef};

use crate::error::{Error, Result};
use crate::storage::{Storage, StorageFile, read_exact_at};
use crate::sync::lock;

#[derive(Debug)]
struct Segment {
    file: Arc<dyn StorageFile>,
    /// Bytes in the file (header included).
    len: u64,
}

#[derive(Debug, Default)]
struct Inner {
    segments: BTreeMap<SegmentId, Segment>,
    /// The segment being appended to.
    current: Option<SegmentId>,
    /// Segments written since the last sync.
    unsynced: Vec<SegmentId>,
    scratch: Vec<u8>,
}

/// Counters of the value log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct VlogStats {
    /// Segment files.
    pub segments: u64,
    /// Bytes in all segments.
    pub bytes: u64,
    /// fsyncs of value-log segments.
    pub fsyncs: u64,
}

/// The value log of a data directory.
#[derive(Debug)]
pub struct ValueLog {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    directory_id: u64,
    segment_bytes: u64,
    read_only: bool,
    inner: Mutex<Inner>,
    dirty: AtomicBool,
    fsyncs: std::sync::atomic::AtomicU64,
}

fn segment_path(dir: &Path, segment: SegmentId) -> PathBuf {
    dir.join(SegmentKind::ValueLog.file_name(segment))
}

impl ValueLog {
    /// Opens the value log in `dir`: registers every segment and cuts a
    /// torn tail off the last one (unless `read_only`).
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        directory_id: u64,
        segment_bytes: u64,
        read_only: bool,
    ) -> Result<ValueLog> {
        let names = match storage.list_dir(dir) {
            Ok(names) => names,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io("list", dir, e)),
        };
        let mut ids: Vec<SegmentId> = names.iter().filter_map(|n| SegmentKind::ValueLog.parse_file_name(n)).collect();
        ids.sort();
        let mut inner = Inner::default();
        for (i, &id) in ids.iter().enumerate() {
            let path = segment_path(dir, id);
            let file = if read_only { storage.open_read_only(&path) } else { storage.open(&path) }
                .map_err(|e| Error::io("open value-log segment", &path, e))?;
            let len = file.len().map_err(|e| Error::io("stat", &path, e))?;
            let mut header = vec![0u8; SEGMENT_HEADER_LEN.min(len as usize)];
            read_exact_at(&*file, &mut header, 0).map_err(|e| Error::io("read value-log segment", &path, e))?;
            let last = i + 1 == ids.len();
            match SegmentHeader::decode(&header, SegmentKind::ValueLog) {
                Ok(h) if h.segment == id && h.directory_id == directory_id => {}
                Ok(h) => {
                    return Err(Error::NeedsRepair {
                        reason: format!(
                            "{}: header names segment {} of directory {:#x}",
                            path.display(),
                            h.segment,
                            h.directory_id
                        ),
                    });
                }
                // A segment whose creation a crash interrupted holds no
                // referenced value: nothing refers to it before its header
                // is durable.
                Err(e) if last => {
                    tracing::warn!(file = %path.display(), error = %e, "value-log segment with a torn header: removing it");
                    if !read_only {
                        storage.remove(&path).map_err(|e| Error::io("remove", &path, e))?;
                        storage.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
                    }
                    continue;
                }
                Err(e) => return Err(Error::corrupt(path, e)),
            }
            let len = if last && !read_only { truncate_torn_tail(&*file, &path, len)? } else { len };
            if !read_only {
                // Values the WAL refers to may be only in the OS's cache
                // after a failed fsync in an earlier process.
                file.sync().map_err(|e| Error::io("fsync value-log segment", &path, e))?;
            }
            inner.segments.insert(id, Segment { file, len });
            if last {
                inner.current = Some(id);
            }
        }
        Ok(ValueLog {
            storage,
            dir: dir.to_path_buf(),
            directory_id,
            segment_bytes,
            read_only,
            inner: Mutex::new(inner),
            dirty: AtomicBool::new(false),
            fsyncs: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Appends a record for `key`/`value` written by the commit at `lsn`
    /// (not synced; see [`ValueLog::sync`]). Called under the commit lock.
    pub fn append(&self, lsn: Lsn, key: &[u8], value: &[u8]) -> Result<ValueRef> {
        assert!(!self.read_only, "append on a read-only value log");
        let mut g = lock(&self.inner);
        let inner = &mut *g;
        let record_len = (jubilant_format::vlog::VLOG_RECORD_HEADER_LEN + key.len() + value.len()) as u64;
        let current = match inner.current.and_then(|id| inner.segments.get(&id).map(|s| (id, s.len))) {
            Some((id, len)) if len == SEGMENT_HEADER_LEN as u64 || len + record_len <= self.segment_bytes => id,
            other => {
                let next = SegmentId(other.map_or(1, |(id, _)| id.get() + 1));
                self.create_segment(inner, next, lsn)?;
                next
            }
        };
        let Some(segment) = inner.segments.get_mut(&current) else { unreachable!("the current segment is registered") };
        inner.scratch.clear();
        let r = encode_vlog_record(current, segment.len, lsn, key, value, &mut inner.scratch);
        let path = segment_path(&self.dir, current);
        segment.file.write_at(&inner.scratch, segment.len).map_err(|e| Error::io("write value log", &path, e))?;
        segment.len += inner.scratch.len() as u64;
        if !inner.unsynced.contains(&current) {
            inner.unsynced.push(current);
        }
        self.dirty.store(true, Ordering::Release);
        Ok(r)
    }

    fn create_segment(&self, inner: &mut Inner, id: SegmentId, lsn: Lsn) -> Result<()> {
        let path = segment_path(&self.dir, id);
        self.storage.create_dir_all(&self.dir).map_err(|e| Error::io("create directory", &self.dir, e))?;
        let file = self.storage.create(&path).map_err(|e| Error::io("create value-log segment", &path, e))?;
        let header =
            SegmentHeader { kind: SegmentKind::ValueLog, segment: id, first_lsn: lsn, directory_id: self.directory_id };
        file.write_at(&header.encode(), 0).map_err(|e| Error::io("write value-log header", &path, e))?;
        file.sync().map_err(|e| Error::io("fsync value-log segment", &path, e))?;
        self.storage.sync_dir(&self.dir).map_err(|e| Error::io("fsync directory", &self.dir, e))?;
        inner.segments.insert(id, Segment { file, len: SEGMENT_HEADER_LEN as u64 });
        inner.current = Some(id);
        Ok(())
    }

    /// fsyncs every segment written since the last sync. The WAL calls this
    /// before it fsyncs, so a durable commit's values are durable.
    pub fn sync(&self) -> Result<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let pending: Vec<(SegmentId, Arc<dyn StorageFile>)> = {
            let mut g = lock(&self.inner);
            let ids = std::mem::take(&mut g.unsynced);
            ids.into_iter().filter_map(|id| g.segments.get(&id).map(|s| (id, Arc::clone(&s.file)))).collect()
        };
        for (id, file) in pending {
            if let Err(e) = file.sync() {
                self.dirty.store(true, Ordering::Release);
                return Err(Error::io("fsync value log", segment_path(&self.dir, id), e));
            }
            self.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Reads the value `r` points at, checking that the record is intact,
    /// is the one the reference was made for, and belongs to `key`.
    pub fn read(&self, key: &[u8], r: &ValueRef) -> Result<Vec<u8>> {
        let path = segment_path(&self.dir, r.segment);
        let file = {
            let g = lock(&self.inner);
            match g.segments.get(&r.segment) {
                Some(s) => Arc::clone(&s.file),
                None => {
                    return Err(Error::CorruptValue {
                        path,
                        segment: r.segment,
                        offset: r.offset,
                        reason: "the segment does not exist".into(),
                    });
                }
            }
        };
        let mut buf = vec![0u8; r.length as usize];
        read_exact_at(&*file, &mut buf, r.offset).map_err(|e| Error::CorruptValue {
            path: path.clone(),
            segment: r.segment,
            offset: r.offset,
            reason: format!("read {} bytes: {e}", r.length),
        })?;
        let record = decode_referenced(&buf, r).map_err(|e| Error::CorruptValue {
            path: path.clone(),
            segment: r.segment,
            offset: r.offset,
            reason: e.to_string(),
        })?;
        if record.key != key {
            return Err(Error::CorruptValue {
                path,
                segment: r.segment,
                offset: r.offset,
                reason: "the record belongs to another key".into(),
            });
        }
        Ok(record.value.to_vec())
    }

    /// The append position now: (segment, offset).
    pub fn tail(&self) -> (SegmentId, u64) {
        let g = lock(&self.inner);
        match g.current.and_then(|id| g.segments.get(&id).map(|s| (id, s.len))) {
            Some(t) => t,
            None => (SegmentId(0), 0),
        }
    }

    /// The oldest segment.
    pub fn head(&self) -> (SegmentId, u64) {
        let g = lock(&self.inner);
        g.segments.keys().next().map_or((SegmentId(0), 0), |&id| (id, SEGMENT_HEADER_LEN as u64))
    }

    /// Every segment and its size in bytes.
    pub fn segment_sizes(&self) -> Vec<(SegmentId, u64)> {
        lock(&self.inner).segments.iter().map(|(&id, s)| (id, s.len)).collect()
    }

    /// The segment being appended to.
    pub fn current(&self) -> Option<SegmentId> {
        lock(&self.inner).current
    }

    /// Starts a new current segment, so the old one can be collected.
    pub fn rotate(&self, lsn: Lsn) -> Result<SegmentId> {
        assert!(!self.read_only, "rotate on a read-only value log");
        let mut g = lock(&self.inner);
        let next = SegmentId(g.current.map_or(1, |id| id.get() + 1));
        self.create_segment(&mut g, next, lsn)?;
        Ok(next)
    }

    /// Deletes a segment no reference reaches any more (after garbage
    /// collection and a checkpoint). Never the current segment.
    pub fn remove_segment(&self, id: SegmentId) -> Result<()> {
        {
            let mut g = lock(&self.inner);
            assert_ne!(g.current, Some(id), "removing the segment being appended to");
            g.segments.remove(&id);
            g.unsynced.retain(|&s| s != id);
        }
        let path = segment_path(&self.dir, id);
        self.storage.remove(&path).map_err(|e| Error::io("remove value-log segment", &path, e))?;
        self.storage.sync_dir(&self.dir).map_err(|e| Error::io("fsync directory", &self.dir, e))
    }

    /// Counters.
    pub fn stats(&self) -> VlogStats {
        let g = lock(&self.inner);
        VlogStats {
            segments: g.segments.len() as u64,
            bytes: g.segments.values().map(|s| s.len).sum(),
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
        }
    }
}

/// Cuts the last segment at its last valid record; returns its new length.
fn truncate_torn_tail(file: &dyn StorageFile, path: &Path, len: u64) -> Result<u64> {
    let mut bytes = vec![0u8; len as usize];
    read_exact_at(file, &mut bytes, 0).map_err(|e| Error::io("read value-log segment", path, e))?;
    let body = bytes.get(SEGMENT_HEADER_LEN..).unwrap_or_default();
    let mut reader = VlogReader::new(body, SEGMENT_HEADER_LEN as u64);
    let end = loop {
        match reader.next_step() {
            Ok(VlogStep::Record(_)) => {}
            Ok(VlogStep::End(end)) => break end.offset,
            Err(e) => {
                let bad = (reader.offset() - SEGMENT_HEADER_LEN as u64) as usize;
                match classify_vlog_damage(body, SEGMENT_HEADER_LEN as u64, bad) {
                    Damage::TornTail { offset, dropped_bytes } => {
                        tracing::warn!(
                            file = %path.display(),
                            offset,
                            dropped_bytes,
                            reason = %e,
                            "value-log torn tail: cutting after the last valid record (no durable commit refers past it)"
                        );
                        break offset;
                    }
                    Damage::MidLog { offset, resume_offset, .. } => {
                        // Valid records follow: keep them (a reference may
                        // reach them); reads of the damaged record report it.
                        tracing::error!(
                            file = %path.display(),
                            offset,
                            resume_offset,
                            reason = %e,
                            "value-log damage in the middle of the segment: run `jubectl validate`"
                        );
                        break len;
                    }
                }
            }
        }
    };
    if end < len {
        file.set_len(end).map_err(|e| Error::io("truncate value-log segment", path, e))?;
        file.sync().map_err(|e| Error::io("fsync value-log segment", path, e))?;
    }
    Ok(end)
}
