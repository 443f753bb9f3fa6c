//! Value-log garbage collection.
//!
//! A value becomes garbage when its key is overwritten or deleted. GC finds
//! every live reference (the newest version of each key: memtables, then
//! tree), sums the live bytes of each segment, and for each segment whose
//! live share is below the threshold (the one being appended to is
//! rotated out first),
//! rewrites its live values into the current segment through ordinary
//! transactions: under an exclusive lock, only if the key still refers to
//! the old record (a concurrent write wins). A relocated key gets a new
//! version, like any write.
//!
//! The old segment is deleted only once a checkpoint at or past the last
//! relocation's LSN is durable (the GC marker keyed off the checkpointed
//! LSN): until then the durable tree may still refer to it, and a crash at
//! any moment replays the relocations from the WAL or keeps the old
//! references, both of which resolve.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::{Lsn, SegmentId, ValueRef};

use crate::batch::WriteBatch;
use crate::db::Inner;
use crate::error::Result;
use crate::iter::{Expired, Iter};
use crate::lock::{LockManager, LockMode, LockRequest};
use crate::sync::lock;

/// What one GC run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct GcReport {
    /// Live bytes per segment found, before relocation.
    pub live_bytes: BTreeMap<u64, u64>,
    /// Segments whose live values were moved.
    pub segments_relocated: Vec<u64>,
    /// Values moved.
    pub values_moved: u64,
    /// Bytes of values moved.
    pub bytes_moved: u64,
    /// Segments deleted so far by this run (others wait for a checkpoint).
    pub segments_deleted: Vec<u64>,
}

/// Relocated segments waiting for a checkpoint past their LSN, and the
/// counters of GC.
#[derive(Debug, Default)]
pub struct GcMarkers {
    pending: Vec<(SegmentId, Lsn)>,
    stats: GcStats,
}

/// Counters of value-log GC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcStats {
    /// GC runs since open.
    pub runs: u64,
    /// Values relocated since open.
    pub values_moved: u64,
    /// Segments deleted since open.
    pub segments_deleted: u64,
    /// Live value-log bytes found by the last run (0 before the first).
    pub live_bytes_at_last_run: u64,
}

impl GcMarkers {
    /// The counters.
    #[must_use]
    pub fn stats(&self) -> GcStats {
        self.stats
    }
}

/// Keys moved per transaction.
const BATCH: usize = 64;

/// Runs GC: relocates every segment whose live share is below
/// `min_live_ratio`.
pub(crate) fn run(arc: &Arc<Inner>, min_live_ratio: f64) -> Result<GcReport> {
    // Subscribers see the run's duration from the span's close.
    let _span = tracing::info_span!("gc", min_live_ratio).entered();
    let inner = &**arc;
    let mut report = GcReport::default();
    let started = Instant::now();
    let mut live = live_refs(arc)?;
    let mut current = inner.vlog.current();
    let mut rotated = false;
    let mut victims: Vec<SegmentId> = Vec::new();
    for (segment, size) in inner.vlog.segment_sizes() {
        let bytes: u64 = live.get(&segment).map_or(0, |v| v.iter().map(|(_, r)| u64::from(r.length)).sum());
        report.live_bytes.insert(segment.get(), bytes);
        let payload = size.saturating_sub(SEGMENT_HEADER_LEN as u64);
        if payload == 0 || (bytes as f64) >= min_live_ratio * payload as f64 {
            continue;
        }
        if Some(segment) == current {
            // The segment being appended to is mostly garbage too: start a
            // new one, so this one can be collected (small data sets never
            // fill a segment).
            let lsn = inner.wal.as_ref().map_or(Lsn::ZERO, crate::wal::Wal::next_lsn);
            current = Some(inner.vlog.rotate(lsn)?);
            rotated = true;
        }
        victims.push(segment);
    }
    if rotated {
        // Commits between the scan and the rotation may have appended to
        // the old segment: scan again, now that nothing appends to it.
        live = live_refs(arc)?;
    }
    for segment in victims {
        let refs = live.remove(&segment).unwrap_or_default();
        for chunk in refs.chunks(BATCH) {
            let (moved, bytes) = relocate(arc, chunk)?;
            report.values_moved += moved;
            report.bytes_moved += bytes;
        }
        let marker_lsn = inner.wal.as_ref().map_or(Lsn::ZERO, crate::wal::Wal::last_lsn);
        lock(&inner.gc).pending.push((segment, marker_lsn));
        report.segments_relocated.push(segment.get());
    }
    // Segments whose marker a durable checkpoint already covers go now.
    let checkpointed = lock(&inner.checkpoint).superblock.checkpoint_lsn;
    report.segments_deleted = after_checkpoint(inner, checkpointed)?.into_iter().map(SegmentId::get).collect();
    {
        let mut markers = lock(&inner.gc);
        markers.stats.runs += 1;
        markers.stats.values_moved += report.values_moved;
        markers.stats.live_bytes_at_last_run = report.live_bytes.values().sum();
    }
    tracing::debug!(?report, elapsed_ms = started.elapsed().as_millis() as u64, "value-log GC");
    Ok(report)
}

/// Keys and the references they hold, by segment.
type LiveRefs = HashMap<SegmentId, Vec<(Vec<u8>, ValueRef)>>;

/// Every live reference (expired entries included: the sweeper has not
/// removed them yet), grouped by segment.
fn live_refs(arc: &Arc<Inner>) -> Result<LiveRefs> {
    let mut live: LiveRefs = HashMap::new();
    let mut it =
        Iter::new(Arc::clone(arc), Bound::Unbounded, Bound::Unbounded, false, Expired::Include).without_values();
    while let Some(item) = it.next_entry() {
        let (key, entry) = item?;
        if let Some(r) = entry.value_ref {
            live.entry(r.segment).or_default().push((key, r));
        }
    }
    Ok(live)
}

/// Moves the values of `refs` into the current segment, for the keys that
/// still refer to them. Returns values and bytes moved.
fn relocate(arc: &Arc<Inner>, refs: &[(Vec<u8>, ValueRef)]) -> Result<(u64, u64)> {
    let inner = &**arc;
    let plan = LockManager::plan(
        refs.iter().map(|(k, _)| LockRequest::Key { key: k.clone(), mode: LockMode::Exclusive }).collect(),
    );
    let id = jubilant_format::TxnId(u64::MAX / 2 + inner.gc_runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let held = match inner.txns().locks().acquire_all(id, &plan, Instant::now() + inner.tunables.lock_timeout()) {
        Ok(held) => held,
        // Busy keys: moved by a later run.
        Err(_) => return Ok((0, 0)),
    };
    let result = (|| {
        let mut batch = WriteBatch::new();
        let mut bytes = 0u64;
        for (key, old) in refs {
            let Some(entry) = inner.get_entry_raw(key)? else { continue };
            if entry.value_ref != Some(*old) {
                continue;
            }
            bytes += entry.value.len() as u64;
            match entry.expires_at_unix_ms {
                Some(t) => batch.put_expiring(key.clone(), entry.value, t),
                None => batch.put(key.clone(), entry.value),
            };
        }
        let moved = batch.len() as u64;
        if moved > 0 {
            inner.commit_batch(&batch, crate::options::Durability::Sync)?;
        }
        Ok((moved, bytes))
    })();
    inner.txns().locks().release(held);
    result
}

/// Deletes relocated segments that a durable checkpoint at `checkpointed`
/// covers. Called after every checkpoint.
pub(crate) fn after_checkpoint(inner: &Inner, checkpointed: Lsn) -> Result<Vec<SegmentId>> {
    let ready: Vec<SegmentId> = {
        let mut markers = lock(&inner.gc);
        let (ready, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut markers.pending).into_iter().partition(|&(_, lsn)| lsn <= checkpointed);
        markers.pending = waiting;
        ready.into_iter().map(|(s, _)| s).collect()
    };
    for &segment in &ready {
        if inner.vlog.current() == Some(segment) {
            continue;
        }
        inner.vlog.remove_segment(segment)?;
        lock(&inner.gc).stats.segments_deleted += 1;
    }
    Ok(ready)
}
