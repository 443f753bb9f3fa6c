//! Appending to the WAL, with group commit.
//!
//! Committers append encoded records to an in-memory buffer under a short
//! lock and get LSNs. To make them durable, one committer becomes the
//! *leader*: it takes the whole buffer, writes it and fsyncs once, while
//! others that arrive meanwhile wait; the next leader takes everything
//! they appended. So N concurrent committers share about one fsync.
//!
//! Invariants:
//! - LSNs are dense and assigned in buffer order; a segment's records are
//!   contiguous from its header's `first_lsn`.
//! - `durable_lsn` only grows, and covers an LSN only after every byte up
//!   to that record was written and fsynced.
//! - A record never spans two segments: a segment rolls over before a
//!   record that would cross its size (a single larger record makes the
//!   segment larger).
//! - After any failed write or fsync the WAL is poisoned: every later
//!   append and sync fails, since the file's state is unknown.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use flatbuffers::FlatBufferBuilder;
use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::wal::{WAL_PAYLOAD_MAX, WalPayload, encode_envelope};
use jubilant_format::{Epoch, Lsn, SegmentHeader, SegmentId, SegmentKind};

use super::sleepers::{FANOUT, Sleepers};
use crate::error::{Error, Result};
use crate::storage::{Storage, StorageFile};
use crate::sync::lock;

/// Where the log ends after replay: the writer continues there.
#[derive(Debug, Clone)]
pub struct WalPosition {
    /// Live segments, oldest first: number and first LSN.
    pub segments: Vec<(SegmentId, Lsn)>,
    /// Offset in the last segment where the next record goes.
    pub end_offset: u64,
    /// LSN of the next record.
    pub next_lsn: Lsn,
    /// Start a new segment instead of appending to the last one (whose
    /// tail holds damaged, already checkpointed records).
    pub fresh_segment: bool,
}

#[derive(Debug)]
struct Inner {
    segment: SegmentId,
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    /// File offset where `buffer[0]` goes.
    write_offset: u64,
    buffer: Vec<u8>,
    spare: Vec<u8>,
    /// LSN of the last record in the buffer (or the last written).
    last_lsn: Lsn,
    next_lsn: Lsn,
    durable_lsn: Lsn,
    syncing: bool,
    /// Syncs started so far; sync number `syncs` is the one in flight
    /// while `syncing`.
    syncs: u64,
    /// While `syncing`: the last LSN the sync in flight covers.
    syncing_to: Lsn,
    /// The highest LSN a committer waits to see durable (it may already
    /// be): a leader whose sync ends below it leads the next one too.
    wanted: Lsn,
    /// Committers waiting for a sync.
    sleepers: Sleepers,
    poisoned: Option<String>,
    /// Live segments, oldest first.
    segments: VecDeque<(SegmentId, Lsn)>,
    bytes_appended: u64,
    records_appended: u64,
    fsyncs: u64,
    builder: Builder,
    /// The next segment's file being prepared (zero-filled and synced) by
    /// a helper thread, with preallocation only.
    next_segment: Option<std::thread::JoinHandle<Result<Arc<dyn StorageFile>>>>,
    /// Roll-overs that found the next segment prepared.
    prepared_used: u64,
}

/// The reused FlatBuffers builder (wrapped: the builder is not `Debug`).
struct Builder(FlatBufferBuilder<'static>);

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlatBufferBuilder")
    }
}

/// The WAL writer.
#[derive(Debug)]
pub struct Wal {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    directory_id: u64,
    segment_bytes: u64,
    preallocate: bool,
    inner: Mutex<Inner>,
    /// Notified when a sync ends (a roll-over waits for that).
    synced: Condvar,
    /// Called before every fsync of the WAL (the value log syncs here).
    pre_sync: std::sync::OnceLock<Hook>,
    /// fsync latency, microseconds.
    fsync_us: crate::histogram::Histogram,
    /// Records made durable by one fsync (the group-commit batch).
    group_records: crate::histogram::Histogram,
    /// `Inner::durable_lsn` and `Inner::syncing`, readable without the
    /// lock (stored under it): what a committer yielding for a sync
    /// watches. A sync that fails ends like any other, `in_flight` false,
    /// so the yielding committer takes the lock and finds the failure.
    durable: AtomicU64,
    in_flight: AtomicBool,
}

/// How long a committer whose records the sync in flight (or the next)
/// will cover yields the CPU for it before it sleeps: about two fsyncs
/// here. Longer only burns CPU when the disk is slow.
const YIELD_FOR_SYNC: std::time::Duration = std::time::Duration::from_micros(300);

/// Largest encoding buffer the writer keeps between appends.
const BUILDER_KEEP_MAX: usize = 1 << 20;

/// Syncs a leader leads for others after its own records are durable,
/// before it hands over. Its caller waits meanwhile, still holding its
/// transaction's locks: few, to bound that wait (2 measured as fast as 4
/// or 16 with 64 committers).
const EXTRA_SYNCS_MAX: u32 = 2;

/// Bucket bounds of the fsync latency histogram, microseconds.
pub const FSYNC_US_BOUNDS: &[u64] = &[50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 250_000, 1_000_000];
/// Bucket bounds of the group-commit batch histogram, records.
pub const GROUP_RECORDS_BOUNDS: &[u64] = &[1, 3, 6, 12, 24, 48, 96, 192, 384, 768, 1_536, 3_072];

/// A hook run before the WAL is fsynced.
pub type PreSync = Arc<dyn Fn() -> Result<()> + Send + Sync>;

struct Hook(PreSync);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreSync")
    }
}

/// Counters of the WAL.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WalStats {
    /// Bytes appended since open.
    pub bytes_appended: u64,
    /// Records appended since open.
    pub records_appended: u64,
    /// fsyncs of WAL segments since open.
    pub fsyncs: u64,
    /// Live segment files.
    pub segments: u64,
    /// Highest durable LSN.
    pub durable_lsn: u64,
    /// fsync latency of the group-commit leader, microseconds.
    pub fsync_latency_us: crate::histogram::HistogramSnapshot,
    /// Records made durable by one fsync (group-commit batch size).
    pub group_commit_records: crate::histogram::HistogramSnapshot,
    /// LSN of the next record.
    pub next_lsn: u64,
    /// Roll-overs that found the next segment prepared ahead (with
    /// preallocation); the others created it while commits waited.
    pub prepared_segments_used: u64,
}

/// Releases the WAL's lock, then unparks up to `n` committers due to wake
/// (unparked after the release: their first act is to take the lock).
fn unlock_waking(mut g: MutexGuard<'_, Inner>, n: usize) {
    let wake = g.sleepers.take(n);
    drop(g);
    wake.wake();
}

fn segment_path(dir: &Path, segment: SegmentId) -> PathBuf {
    dir.join(SegmentKind::Wal.file_name(segment))
}

impl Wal {
    /// Opens the writer at `pos` (from replay), creating the first segment
    /// if there is none.
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        directory_id: u64,
        segment_bytes: u64,
        preallocate: bool,
        pos: &WalPosition,
    ) -> Result<Wal> {
        // A next segment left half prepared by an earlier process.
        let next_file = dir.join(super::NEXT_SEGMENT_FILE);
        match storage.remove(&next_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("remove prepared WAL segment", &next_file, e));
            }
            _ => {}
        }
        let mut segments: VecDeque<(SegmentId, Lsn)> = pos.segments.iter().copied().collect();
        let (segment, file, path, write_offset) = match segments.back() {
            Some(&(last, _)) if pos.fresh_segment => {
                let segment = SegmentId(last.get() + 1);
                let (file, path) =
                    create_segment(&*storage, dir, directory_id, segment, pos.next_lsn, segment_bytes, preallocate)?;
                segments.push_back((segment, pos.next_lsn));
                (segment, file, path, SEGMENT_HEADER_LEN as u64)
            }
            Some(&(segment, _)) => {
                let path = segment_path(dir, segment);
                let file = storage.open(&path).map_err(|e| Error::io("open WAL segment", &path, e))?;
                // Replay read what the OS had, which after a failed fsync
                // in an earlier process may not be on disk: make it
                // durable before it counts as durable here.
                file.sync().map_err(|e| Error::io("fsync WAL segment", &path, e))?;
                (segment, file, path, pos.end_offset)
            }
            None => {
                let segment = SegmentId(1);
                let (file, path) =
                    create_segment(&*storage, dir, directory_id, segment, pos.next_lsn, segment_bytes, preallocate)?;
                segments.push_back((segment, pos.next_lsn));
                (segment, file, path, SEGMENT_HEADER_LEN as u64)
            }
        };
        let last = Lsn(pos.next_lsn.get().saturating_sub(1));
        Ok(Wal {
            storage,
            dir: dir.to_path_buf(),
            directory_id,
            segment_bytes,
            preallocate,
            inner: Mutex::new(Inner {
                segment,
                file,
                path,
                write_offset,
                buffer: Vec::new(),
                spare: Vec::new(),
                last_lsn: last,
                next_lsn: pos.next_lsn,
                durable_lsn: last,
                syncing: false,
                syncs: 0,
                syncing_to: last,
                wanted: last,
                sleepers: Sleepers::default(),
                poisoned: None,
                segments,
                bytes_appended: 0,
                records_appended: 0,
                fsyncs: 0,
                builder: Builder(FlatBufferBuilder::new()),
                next_segment: None,
                prepared_used: 0,
            }),
            synced: Condvar::new(),
            pre_sync: std::sync::OnceLock::new(),
            fsync_us: crate::histogram::Histogram::new(FSYNC_US_BOUNDS),
            group_records: crate::histogram::Histogram::new(GROUP_RECORDS_BOUNDS),
            durable: AtomicU64::new(last.get()),
            in_flight: AtomicBool::new(false),
        })
    }

    /// Appends `records` with consecutive LSNs; returns the LSN of the
    /// last one. Not durable until [`Wal::sync_to`] returns. Each `Commit`
    /// and `Txn` gets the durable LSN of this moment (see `wal.fbs`).
    pub fn append(&self, records: &mut [WalPayload]) -> Result<Lsn> {
        let mut g = lock(&self.inner);
        if let Some(first) = &g.poisoned {
            return Err(Error::PreviousIo { first: first.clone() });
        }
        let inner = &mut *g;
        let mut encoded = std::mem::take(&mut inner.spare);
        encoded.clear();
        let mut lsn = inner.next_lsn;
        let durable_now = inner.durable_lsn;
        let mut largest = 0;
        for record in records.iter_mut() {
            if let WalPayload::Commit { durable_lsn, .. } | WalPayload::Txn { durable_lsn, .. } = record {
                *durable_lsn = durable_now;
            }
            let record = &*record;
            let payload = record.encode_with(&mut inner.builder.0);
            largest = largest.max(payload.len());
            if payload.len() > WAL_PAYLOAD_MAX {
                let len = payload.len();
                inner.spare = encoded;
                return Err(Error::BatchTooLarge { len, max: WAL_PAYLOAD_MAX });
            }
            encode_envelope(lsn, Epoch::SINGLE_NODE, payload, &mut encoded);
            lsn = Lsn(lsn.get() + 1);
        }
        // A builder grown by a large record is not kept for small ones.
        if largest > BUILDER_KEEP_MAX {
            inner.builder = Builder(FlatBufferBuilder::new());
        }
        let end = g.write_offset + g.buffer.len() as u64;
        if end > SEGMENT_HEADER_LEN as u64 && end + encoded.len() as u64 > self.segment_bytes {
            // Roll over first; wait for an in-flight group sync so that the
            // old segment's bytes are all written before it is closed.
            while g.syncing {
                g = self.synced.wait(g).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            // The sync waited for may have failed: past a failure nothing
            // is written (a roll-over would write after the lost bytes and
            // start a segment behind a hole).
            if let Some(first) = &g.poisoned {
                return Err(Error::PreviousIo { first: first.clone() });
            }
            let rolled = self.roll_over(&mut g);
            // The roll-over synced (or poisoned) the log outside the
            // leader protocol: every committer waiting must look again,
            // or one woken to lead could return without leading and leave
            // the others asleep. (Rare: once per segment.)
            g.sleepers.all_due();
            // Unparked under the lock, against `Wake`'s advice: once per
            // segment, not worth a second acquisition.
            g.sleepers.take(usize::MAX).wake();
            if let Err(e) = rolled {
                g.poisoned = Some(e.to_string());
                self.synced.notify_all();
                return Err(e);
            }
        }
        let inner = &mut *g;
        inner.buffer.extend_from_slice(&encoded);
        // Half way through a preallocated segment, the next one starts
        // being prepared (zero-filling 16 MiB and syncing it took ~40 ms,
        // with every commit waiting, when the roll-over did it).
        let filled = inner.write_offset + inner.buffer.len() as u64;
        if self.preallocate && inner.next_segment.is_none() && filled * 2 > self.segment_bytes {
            let (storage, dir, bytes) = (Arc::clone(&self.storage), self.dir.clone(), self.segment_bytes);
            inner.next_segment = std::thread::Builder::new()
                .name("jubilant-wal-next".into())
                .spawn(move || prepare_segment(&*storage, &dir, bytes))
                .ok();
        }
        inner.bytes_appended += encoded.len() as u64;
        inner.records_appended += records.len() as u64;
        encoded.clear();
        // Nor a spare buffer grown by a large batch.
        inner.spare = if encoded.capacity() > BUILDER_KEEP_MAX { Vec::new() } else { encoded };
        inner.next_lsn = lsn;
        inner.last_lsn = Lsn(lsn.get() - 1);
        Ok(inner.last_lsn)
    }

    /// Writes out and fsyncs the buffer, then starts the next segment.
    /// Called with the lock held and no sync in flight.
    fn roll_over(&self, g: &mut Inner) -> Result<()> {
        assert!(!g.syncing, "roll over with a sync in flight");
        self.run_pre_sync()?;
        let buf = std::mem::take(&mut g.buffer);
        if !buf.is_empty() {
            g.file.write_at(&buf, g.write_offset).map_err(|e| Error::io("write WAL", &g.path, e))?;
        }
        g.file.sync().map_err(|e| Error::io("fsync WAL", &g.path, e))?;
        g.fsyncs += 1;
        g.durable_lsn = g.last_lsn;
        self.durable.store(g.durable_lsn.get(), Ordering::Release);
        let next = SegmentId(g.segment.get() + 1);
        // The prepared segment if it is ready; else made here (and one
        // still being prepared serves the next roll-over).
        let prepared = match g.next_segment.take() {
            Some(helper) if helper.is_finished() => match helper.join() {
                Ok(Ok(file)) => Some(file),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "preparing the next WAL segment failed; creating it at roll-over");
                    None
                }
                Err(_) => None,
            },
            other => {
                g.next_segment = other;
                None
            }
        };
        let (file, path) = match prepared {
            Some(file) => {
                g.prepared_used += 1;
                start_prepared_segment(&*self.storage, &self.dir, self.directory_id, next, g.next_lsn, file)?
            }
            None => create_segment(
                &*self.storage,
                &self.dir,
                self.directory_id,
                next,
                g.next_lsn,
                self.segment_bytes,
                self.preallocate,
            )?,
        };
        g.segment = next;
        g.file = file;
        g.path = path;
        g.write_offset = SEGMENT_HEADER_LEN as u64;
        g.segments.push_back((next, g.next_lsn));
        Ok(())
    }

    /// Returns once every record up to `lsn` is durable, fsyncing (as the
    /// group's leader) if nobody else is.
    ///
    /// Committers that find a sync in flight sleep until the one that
    /// covers them ends (the one in flight, or the one after it); see
    /// [`super::sleepers`] for how they are woken.
    pub fn sync_to(&self, lsn: Lsn) -> Result<()> {
        let mut g = lock(&self.inner);
        // Syncs led by this call after its own LSN was durable.
        let mut extra = 0;
        // Until when this call may yield for syncs instead of sleeping.
        let mut yield_until: Option<std::time::Instant> = None;
        loop {
            // Durable first: a commit made durable by a sync is acknowledged
            // even if a later sync failed (its caller would otherwise report
            // a failure for a write that is on disk, and a retry would
            // apply it twice).
            if let Some(first) = g.poisoned.as_ref().filter(|_| g.durable_lsn < lsn) {
                let err = Error::PreviousIo { first: first.clone() };
                unlock_waking(g, FANOUT);
                return Err(err);
            }
            if g.durable_lsn >= lsn {
                // Others wait for records past what is durable: lead their
                // sync at once (a few times at most) instead of handing
                // over to one of them, who must first be woken and
                // scheduled — on a busy machine that gap between fsyncs
                // was a quarter of the wall time of concurrent commits.
                let others = g.wanted > g.durable_lsn && g.last_lsn > g.durable_lsn;
                if g.syncing || !others || extra == EXTRA_SYNCS_MAX || g.poisoned.is_some() {
                    if others && !g.syncing {
                        // Handing over: one of them leads.
                        let next = g.syncs + 1;
                        g.sleepers.hand_over(next);
                    }
                    unlock_waking(g, FANOUT);
                    return Ok(());
                }
                extra += 1;
            } else if g.syncing {
                let until = *yield_until.get_or_insert_with(|| std::time::Instant::now() + YIELD_FOR_SYNC);
                if std::time::Instant::now() < until {
                    // Covered by the sync in flight or the next: yield the
                    // CPU until it ends rather than sleep. A sleeper costs
                    // a futex wait and a wake-up (an inter-processor
                    // interrupt on a VM) per commit; a thread that yields
                    // stays runnable and needs neither. Bounded: past it,
                    // sleep as below. `wanted` tells the leader to lead
                    // the next sync too (see the top of the loop); once no
                    // sync is in flight (the one waited for ended, durable
                    // or failed), this call takes the lock again: it
                    // returns, reports the failure, or leads a sync itself.
                    g.wanted = g.wanted.max(lsn);
                    drop(g);
                    while std::time::Instant::now() < until {
                        if self.durable.load(Ordering::Acquire) >= lsn.get() {
                            return Ok(());
                        }
                        if !self.in_flight.load(Ordering::Acquire) {
                            break;
                        }
                        std::thread::yield_now();
                    }
                    g = lock(&self.inner);
                    continue;
                }
                // Covered by the sync in flight, or by the one after it.
                let sync = if lsn <= g.syncing_to { g.syncs } else { g.syncs + 1 };
                g.wanted = g.wanted.max(lsn);
                g.sleepers.sleep_for(sync);
                unlock_waking(g, FANOUT);
                std::thread::park();
                g = lock(&self.inner);
                g.sleepers.awake();
                continue;
            }
            // Lead: take everything appended so far.
            g.syncing = true;
            self.in_flight.store(true, Ordering::Release);
            g.syncs += 1;
            g.syncing_to = g.last_lsn;
            let spare = std::mem::take(&mut g.spare);
            let buf = std::mem::replace(&mut g.buffer, spare);
            let offset = g.write_offset;
            g.write_offset += buf.len() as u64;
            let last = g.last_lsn;
            let file = Arc::clone(&g.file);
            let path = g.path.clone();
            let records = last.get().saturating_sub(g.durable_lsn.get());
            self.group_records.observe(records);
            // Committers of the previous sync still to wake: a few now,
            // they wake the rest.
            unlock_waking(g, FANOUT);
            // Covers the value log's sync (pre-sync hook), the write and
            // the fsync: what the committers of this group wait for.
            let span = tracing::debug_span!("fsync", records, bytes = buf.len()).entered();
            let started = std::time::Instant::now();
            let result = self
                .run_pre_sync()
                .and_then(|()| {
                    if buf.is_empty() {
                        Ok(())
                    } else {
                        file.write_at(&buf, offset).map_err(|e| Error::io("write WAL", &path, e))
                    }
                })
                .and_then(|()| file.sync().map_err(|e| Error::io("fsync WAL", &path, e)));
            self.fsync_us.observe(started.elapsed().as_micros() as u64);
            drop(span);
            g = lock(&self.inner);
            g.syncing = false;
            self.in_flight.store(false, Ordering::Release);
            g.fsyncs += 1;
            match result {
                Ok(()) => {
                    assert!(last >= g.durable_lsn, "durable LSN only grows");
                    g.durable_lsn = last;
                    self.durable.store(last.get(), Ordering::Release);
                    let mut buf = buf;
                    buf.clear();
                    if g.spare.capacity() < buf.capacity() {
                        g.spare = buf;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "WAL write failed; the database is now read-only until reopened");
                    g.poisoned = Some(e.to_string());
                    self.synced.notify_all();
                    g.sleepers.all_due();
                    // A sync led for others after this caller's own records
                    // were durable: its commit stands.
                    let own_durable = g.durable_lsn >= lsn;
                    unlock_waking(g, usize::MAX);
                    return if own_durable { Ok(()) } else { Err(e) };
                }
            }
            self.synced.notify_all();
            // Everyone this sync covered is due to wake (on the way out of
            // this loop, or as the next sync starts). Those waiting for the
            // next sync: this leader leads it (top of the loop) or hands it
            // over to one of them.
            let done = g.syncs;
            g.sleepers.done_through(done);
        }
    }

    /// Sets the hook run before every fsync of the WAL (once).
    pub fn set_pre_sync(&self, hook: PreSync) {
        let _ = self.pre_sync.set(Hook(hook));
    }

    fn run_pre_sync(&self) -> Result<()> {
        match self.pre_sync.get() {
            Some(hook) => (hook.0)(),
            None => Ok(()),
        }
    }

    /// The LSN the next appended record gets.
    pub fn next_lsn(&self) -> Lsn {
        lock(&self.inner).next_lsn
    }

    /// The LSN of the last appended record.
    pub fn last_lsn(&self) -> Lsn {
        lock(&self.inner).last_lsn
    }

    /// The highest durable LSN.
    pub fn durable_lsn(&self) -> Lsn {
        lock(&self.inner).durable_lsn
    }

    /// Bytes appended since open.
    pub fn bytes_appended(&self) -> u64 {
        lock(&self.inner).bytes_appended
    }

    /// Removes segments all of whose records have LSN ≤ `lsn` (never the
    /// segment being appended to), then syncs the directory.
    pub fn remove_through(&self, lsn: Lsn) -> Result<usize> {
        let doomed: Vec<SegmentId> = {
            let g = lock(&self.inner);
            let segs: Vec<(SegmentId, Lsn)> = g.segments.iter().copied().collect();
            segs.windows(2)
                .filter(|w| matches!(w, [_, (_, next_first)] if next_first.get() <= lsn.get() + 1))
                .filter_map(|w| w.first().map(|(s, _)| *s))
                .collect()
        };
        if doomed.is_empty() {
            return Ok(0);
        }
        for &segment in &doomed {
            let path = segment_path(&self.dir, segment);
            self.storage.remove(&path).map_err(|e| Error::io("remove WAL segment", &path, e))?;
        }
        self.storage.sync_dir(&self.dir).map_err(|e| Error::io("fsync directory", &self.dir, e))?;
        let mut g = lock(&self.inner);
        g.segments.retain(|(s, _)| !doomed.contains(s));
        Ok(doomed.len())
    }

    /// Counters.
    pub fn stats(&self) -> WalStats {
        let g = lock(&self.inner);
        WalStats {
            bytes_appended: g.bytes_appended,
            records_appended: g.records_appended,
            fsyncs: g.fsyncs,
            segments: g.segments.len() as u64,
            durable_lsn: g.durable_lsn.get(),
            next_lsn: g.next_lsn.get(),
            fsync_latency_us: self.fsync_us.snapshot(),
            group_commit_records: self.group_records.snapshot(),
            prepared_segments_used: g.prepared_used,
        }
    }

    /// The first error that poisoned the WAL, if any.
    pub fn poisoned(&self) -> Option<String> {
        lock(&self.inner).poisoned.clone()
    }
}

/// Creates segment `segment` starting at `first_lsn`: header, optionally
/// zeros up to `segment_bytes`, fsync of the file and of the directory.
pub(crate) fn create_segment(
    storage: &dyn Storage,
    dir: &Path,
    directory_id: u64,
    segment: SegmentId,
    first_lsn: Lsn,
    segment_bytes: u64,
    preallocate: bool,
) -> Result<(Arc<dyn StorageFile>, PathBuf)> {
    let path = segment_path(dir, segment);
    let file = storage.create(&path).map_err(|e| Error::io("create WAL segment", &path, e))?;
    if preallocate {
        fill_zeros(&*file, &path, segment_bytes)?;
    }
    let header = SegmentHeader { kind: SegmentKind::Wal, segment, first_lsn, directory_id };
    file.write_at(&header.encode(), 0).map_err(|e| Error::io("write WAL segment header", &path, e))?;
    file.sync().map_err(|e| Error::io("fsync WAL segment", &path, e))?;
    storage.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok((file, path))
}

/// Zeros from the end of the header up to `segment_bytes`: appends then
/// overwrite allocated blocks, and an fdatasync writes no metadata.
fn fill_zeros(file: &dyn StorageFile, path: &Path, segment_bytes: u64) -> Result<()> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    let mut offset = SEGMENT_HEADER_LEN as u64;
    while offset < segment_bytes {
        let n = (segment_bytes - offset).min(CHUNK as u64) as usize;
        file.write_at(zeros.get(..n).unwrap_or_default(), offset)
            .map_err(|e| Error::io("preallocate WAL segment", path, e))?;
        offset += n as u64;
    }
    Ok(())
}

/// Prepares the next segment's file under [`super::NEXT_SEGMENT_FILE`]:
/// zero-filled up to `segment_bytes`, synced, its directory entry synced.
/// Runs on a helper thread while the current segment fills.
fn prepare_segment(storage: &dyn Storage, dir: &Path, segment_bytes: u64) -> Result<Arc<dyn StorageFile>> {
    let path = dir.join(super::NEXT_SEGMENT_FILE);
    let file = storage.create(&path).map_err(|e| Error::io("create WAL segment", &path, e))?;
    fill_zeros(&*file, &path, segment_bytes)?;
    file.sync().map_err(|e| Error::io("fsync WAL segment", &path, e))?;
    storage.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok(file)
}

/// Makes the prepared `file` segment `segment` starting at `first_lsn`:
/// its header written and synced, then the rename to its segment name
/// synced — the same state on disk as [`create_segment`] leaves, without
/// the zero-filling on the commit path.
fn start_prepared_segment(
    storage: &dyn Storage,
    dir: &Path,
    directory_id: u64,
    segment: SegmentId,
    first_lsn: Lsn,
    file: Arc<dyn StorageFile>,
) -> Result<(Arc<dyn StorageFile>, PathBuf)> {
    let prepared = dir.join(super::NEXT_SEGMENT_FILE);
    let path = segment_path(dir, segment);
    let header = SegmentHeader { kind: SegmentKind::Wal, segment, first_lsn, directory_id };
    file.write_at(&header.encode(), 0).map_err(|e| Error::io("write WAL segment header", &prepared, e))?;
    file.sync().map_err(|e| Error::io("fsync WAL segment", &prepared, e))?;
    storage.rename(&prepared, &path).map_err(|e| Error::io("rename prepared WAL segment", &path, e))?;
    storage.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok((file, path))
}
