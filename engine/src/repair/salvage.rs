//! Carve mode (`jubectl salvage`): for a directory too damaged to repair.
//! Every page, WAL record and value-log record is found by its magic and
//! CRC32C wherever it lies, reachable or not; the newest version of each
//! key by LSN wins; a fresh directory is built from the winners through
//! the engine's write path. The source is only read.
//!
//! What can be placed: a leaf entry's value (inline, or a value-log record
//! whose CRC and key match its reference), a committed WAL `Put` (a
//! transaction counts only when its `Commit` record was found), and the
//! deletes of committed transactions. What cannot (a reference to a
//! missing value-log record, a value the new directory refuses) is
//! returned as a [`LostItem`] with its origin.
//!
//! Caveat of carving: a key deleted by a commit whose WAL record is gone
//! comes back with its last surviving version.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::vlog::decode_vlog_record_at;
use jubilant_format::wal::{PutValue, TxnWrite, WalPayload, decode_envelope_at};
use jubilant_format::{PageHeader, PageId, PageType, SegmentId, SegmentKind, TxnId, ValueRef};
use serde::Serialize;

use crate::btree::node::{LeafNode, ValueView};
use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::validate::dir::DirState;
use crate::validate::files::{WHOLE_FILE_MAX, list, read_whole};
use crate::{Db, Options, WriteBatch};

/// A version that could not be placed in the new directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LostItem {
    /// The key.
    #[serde(serialize_with = "jubilant_format::view::bytes")]
    pub key: Vec<u8>,
    /// Its LSN.
    pub version: u64,
    /// Where it was found.
    pub origin: String,
    /// Why it was not placed.
    pub reason: String,
    /// The value, when it is known.
    #[serde(skip)]
    pub value: Option<Vec<u8>>,
}

/// What salvage found and built.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SalvageReport {
    /// The source directory.
    pub source: String,
    /// The new directory.
    pub output: String,
    /// Valid leaf pages found.
    pub leaf_pages: u64,
    /// Valid WAL records found.
    pub wal_records: u64,
    /// Committed transactions found.
    pub committed_txns: u64,
    /// Valid value-log records found.
    pub vlog_records: u64,
    /// Keys written to the new directory.
    pub keys_recovered: u64,
    /// Keys whose newest version is a delete.
    pub keys_deleted: u64,
    /// Versions that could not be placed.
    pub lost: Vec<LostItem>,
}

#[derive(Debug, Clone)]
enum Carved {
    Put { value: Stored, expires_at_unix_ms: Option<u64> },
    Delete,
}

#[derive(Debug, Clone)]
enum Stored {
    Inline(Vec<u8>),
    Ref(ValueRef),
}

#[derive(Debug, Clone)]
struct Version {
    lsn: u64,
    what: Carved,
    origin: String,
}

/// A value-log record found by carving.
#[derive(Debug)]
struct VlogValue {
    crc: u32,
    key: Vec<u8>,
    value: Vec<u8>,
}

fn offer(best: &mut BTreeMap<Vec<u8>, Version>, key: &[u8], v: Version) {
    match best.get(key) {
        Some(old) if old.lsn >= v.lsn => {}
        _ => {
            best.insert(key.to_vec(), v);
        }
    }
}

/// Carves `dir` into the new directory `output` (which must not exist or
/// be empty).
pub fn salvage(storage: Arc<dyn Storage>, dir: &Path, output: &Path) -> Result<SalvageReport> {
    if storage.exists(output).map_err(|e| Error::io("stat", output, e))?
        && !list(&*storage, output)?.unwrap_or_default().is_empty()
    {
        return Err(Error::NotADatabase {
            path: output.to_path_buf(),
            reason: "the output directory is not empty".into(),
        });
    }
    let state = DirState::load(&*storage, dir)?;
    let mut report = SalvageReport {
        source: dir.display().to_string(),
        output: output.display().to_string(),
        ..SalvageReport::default()
    };
    let mut best: BTreeMap<Vec<u8>, Version> = BTreeMap::new();

    // Pages, wherever they are: a page records its own id.
    if let Some(pages) = &state.pages {
        let size = pages.page_size();
        for at in 2..pages.whole_pages() {
            let raw = pages.read(PageId(at))?;
            let Some(id) = raw.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes) else {
                continue;
            };
            let Ok(header) = PageHeader::open(&raw, PageId(id), size) else { continue };
            if header.page_type != PageType::Leaf {
                continue;
            }
            let Ok(leaf) = LeafNode::decode(header.payload(&raw)) else { continue };
            report.leaf_pages += 1;
            for i in 0..leaf.len() {
                let Some(e) = leaf.entry(i) else { continue };
                let value = match e.value {
                    ValueView::Inline(v) => Stored::Inline(v.to_vec()),
                    ValueView::Ref(r) => Stored::Ref(r),
                };
                let origin = format!("pages.jdb page {id} at offset {}", PageId(at).offset(size));
                let what = Carved::Put { value, expires_at_unix_ms: e.expires_at_unix_ms };
                offer(&mut best, e.key, Version { lsn: e.version.get(), what, origin });
            }
        }
    }

    // WAL records in every file of wal/, found by CRC.
    let mut changes: HashMap<TxnId, Vec<(Vec<u8>, Carved, String)>> = HashMap::new();
    let mut commits: HashMap<TxnId, u64> = HashMap::new();
    let wal_dir = dir.join(SegmentKind::Wal.directory());
    for name in list(&*storage, &wal_dir)?.unwrap_or_default() {
        let bytes = read_whole(&*storage, &wal_dir.join(&name), WHOLE_FILE_MAX)?;
        let mut pos = 0usize;
        while pos + 24 <= bytes.len() {
            // Cheap filter before the CRC: a plausible epoch and LSN.
            let field = |at: usize| bytes.get(pos + at..pos + at + 8).and_then(|b| <[u8; 8]>::try_from(b).ok());
            let plausible = matches!((field(8), field(16)), (Some(l), Some(e))
                if u64::from_le_bytes(l) > 0 && (1..1 << 32).contains(&u64::from_le_bytes(e)));
            let record = if plausible { decode_envelope_at(&bytes, pos, 0).ok() } else { None };
            let Some(r) = record else {
                pos += 1;
                continue;
            };
            report.wal_records += 1;
            let origin = format!("wal/{name} offset {} (LSN {})", r.offset, r.lsn);
            let carve = |w: TxnWrite| match w {
                TxnWrite::Put { key, value, expires_at_unix_ms } => {
                    let value = match value {
                        PutValue::Inline(v) => Stored::Inline(v),
                        PutValue::Ref(r) => Stored::Ref(r),
                    };
                    (key, Carved::Put { value, expires_at_unix_ms }, origin.clone())
                }
                TxnWrite::Delete { key } | TxnWrite::TtlTombstone { key, .. } => (key, Carved::Delete, origin.clone()),
            };
            match WalPayload::decode(r.payload, r.offset) {
                Ok(WalPayload::Commit { txn, .. }) => {
                    commits.insert(txn, r.lsn.get());
                }
                Ok(WalPayload::Txn { txn, writes, .. }) => {
                    // Its own commit: every write is committed at its LSN.
                    changes.entry(txn).or_default().extend(writes.into_iter().map(carve));
                    commits.insert(txn, r.lsn.get());
                }
                Ok(other) => {
                    if let Some((txn, w)) = other.into_write() {
                        changes.entry(txn).or_default().push(carve(w));
                    }
                }
                Err(_) => {}
            }
            pos += r.encoded_len();
        }
    }
    report.committed_txns = commits.len() as u64;
    for (txn, ops) in changes {
        let Some(&lsn) = commits.get(&txn) else { continue };
        // Last write first: a transaction that writes a key twice leaves
        // its last write (as replay does), and `offer` keeps the first of
        // equal LSNs.
        for (key, what, origin) in ops.into_iter().rev() {
            offer(&mut best, &key, Version { lsn, what, origin });
        }
    }

    // Value-log records, by segment and offset.
    let mut vlog: HashMap<(SegmentId, u64), VlogValue> = HashMap::new();
    let vlog_dir = dir.join(SegmentKind::ValueLog.directory());
    for name in list(&*storage, &vlog_dir)?.unwrap_or_default() {
        let Some(segment) = SegmentKind::ValueLog.parse_file_name(&name) else { continue };
        let bytes = read_whole(&*storage, &vlog_dir.join(&name), WHOLE_FILE_MAX)?;
        let mut pos = SEGMENT_HEADER_LEN.min(bytes.len());
        while pos + 24 <= bytes.len() {
            match decode_vlog_record_at(&bytes, pos, 0) {
                Ok(r) => {
                    report.vlog_records += 1;
                    vlog.insert(
                        (segment, r.offset),
                        VlogValue { crc: r.crc, key: r.key.to_vec(), value: r.value.to_vec() },
                    );
                    pos += r.length as usize;
                }
                Err(_) => pos += 1,
            }
        }
    }

    // The new directory.
    let opts =
        Options { storage: Arc::clone(&storage), background: false, wal_preallocate: false, ..Options::default() };
    let db = Db::open(output, opts)?;
    let mut batch = WriteBatch::new();
    let mut pending: Vec<(Vec<u8>, Version, Vec<u8>)> = Vec::new();
    for (key, v) in best {
        let (value, expires) = match &v.what {
            Carved::Delete => {
                report.keys_deleted += 1;
                continue;
            }
            Carved::Put { value: Stored::Inline(value), expires_at_unix_ms } => (value.clone(), *expires_at_unix_ms),
            Carved::Put { value: Stored::Ref(r), expires_at_unix_ms } => match vlog.get(&(r.segment, r.offset)) {
                Some(found) if found.crc == r.crc && found.key == key => (found.value.clone(), *expires_at_unix_ms),
                _ => {
                    report.lost.push(LostItem {
                        reason: format!(
                            "its value-log record (segment {} offset {}) was not found intact",
                            r.segment, r.offset
                        ),
                        key,
                        version: v.lsn,
                        origin: v.origin,
                        value: None,
                    });
                    continue;
                }
            },
        };
        match expires {
            Some(t) => batch.put_expiring(key.clone(), value.clone(), t),
            None => batch.put(key.clone(), value.clone()),
        };
        pending.push((key, v, value));
        if pending.len() >= 256 {
            flush(&db, &mut batch, &mut pending, &mut report)?;
        }
    }
    flush(&db, &mut batch, &mut pending, &mut report)?;
    db.checkpoint()?;
    db.close()?;
    Ok(report)
}

/// Writes the batch; when the engine refuses it, writes its keys one by
/// one and reports the ones it refuses.
fn flush(
    db: &Db,
    batch: &mut WriteBatch,
    pending: &mut Vec<(Vec<u8>, Version, Vec<u8>)>,
    report: &mut SalvageReport,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    if db.write(batch).is_ok() {
        report.keys_recovered += pending.len() as u64;
    } else {
        for (key, v, value) in pending.drain(..) {
            let mut one = WriteBatch::new();
            match &v.what {
                Carved::Put { expires_at_unix_ms: Some(t), .. } => one.put_expiring(key.clone(), value.clone(), *t),
                _ => one.put(key.clone(), value.clone()),
            };
            match db.write(&one) {
                Ok(_) => report.keys_recovered += 1,
                Err(e @ (Error::Io { .. } | Error::PreviousIo { .. })) => return Err(e),
                Err(e) => report.lost.push(LostItem {
                    key,
                    version: v.lsn,
                    origin: v.origin,
                    reason: format!("the new directory refused it: {e}"),
                    value: Some(value),
                }),
            }
        }
    }
    pending.clear();
    batch.clear();
    Ok(())
}
