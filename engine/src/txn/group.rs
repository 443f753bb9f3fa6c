//! Groups of transactions that share one WAL sync.
//!
//! A server answering pipelined requests, or many connections at once,
//! should not pay one fsync (and one thread hand-off) per transaction.
//! Two ways to run transactions so that their writes share a sync:
//!
//! - [`Db::transact_group`] runs a list of transactions in order, as
//!   [`Db::transact`] would one after another, logging each one's writes
//!   without a sync and syncing once before returning (or earlier, before
//!   a transaction that needs to see the writes so far).
//! - [`Db::try_stage_writes`] logs blind writes (transactions of SETs of
//!   inline values) without ever waiting for a lock or reading the disk,
//!   for an event loop; [`Db::publish_writes`], on another thread, makes
//!   any number of staged groups durable with one sync and returns their
//!   results.
//!
//! Invariants, for both: a staged write is in the WAL and the memtable but
//! invisible (above the visible LSN) until the sync that covers it, so no
//! reader sees a write that a crash could still lose; its locks are held
//! until then (strict 2PL); a failed sync fails every staged write it was
//! to cover, none of which is acknowledged, and poisons the database.

use std::sync::atomic::Ordering;

use jubilant_format::Lsn;

use super::exec::{Run, op_key, overlay_batch};
use super::op::{OpResult, TxnOp, TxnOutcome};
use crate::batch::WriteBatch;
use crate::db::{Appended, Db};
use crate::error::{Error, Result};
use crate::lock::HeldLocks;

/// The logged, not yet synced writes of a group, with their locks.
#[derive(Debug, Default)]
struct Staged {
    /// Where each write's result is, and its locks.
    pending: Vec<(usize, HeldLocks)>,
    /// Every key they hold locked, when `track_keys` (a group that may
    /// wait for locks must know which of them it holds itself; one that
    /// never waits finds out from the lock manager).
    keys: std::collections::HashSet<Vec<u8>>,
    track_keys: bool,
    /// The highest commit LSN among them.
    last_lsn: Lsn,
}

/// Blind writes logged by [`Db::try_stage_writes`], holding their locks,
/// waiting for [`Db::publish_writes`]. Dropped unpublished, it releases
/// its locks, and its writes are never acknowledged (they stay in the WAL
/// and may become durable with a later sync, as an unanswered commit may).
#[derive(Debug, Default)]
#[must_use = "staged writes hold their locks until published"]
pub struct StagedWrites {
    staged: Staged,
    results: Vec<Result<TxnOutcome>>,
    /// Whose locks `staged` holds.
    owner: Option<std::sync::Arc<crate::db::Inner>>,
}

impl Drop for StagedWrites {
    fn drop(&mut self) {
        if let Some(owner) = &self.owner {
            for (_, held) in self.staged.pending.drain(..) {
                owner.txns().locks().release(held);
            }
        }
    }
}

impl StagedWrites {
    /// How many transactions of the group were staged (the first ones).
    #[must_use]
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether none was.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

impl Db {
    /// Runs `group`, independent transactions, as if by [`Db::transact`]
    /// one after another (each sees the writes of the ones before it), but
    /// with one WAL sync for the writes of many: what a server does with
    /// the pipelined requests of one connection. Each result is what
    /// `transact` would have returned, and a write's result is returned
    /// only once the write is durable; other readers see it only then.
    ///
    /// Writes wait for the sync with their locks held (strict 2PL). Before
    /// a transaction that touches a key an earlier one of the group still
    /// holds locked, or that scans, the writes so far are synced and their
    /// locks released, so the group never waits on itself.
    pub fn transact_group(&self, group: &[&[TxnOp]]) -> Vec<Result<TxnOutcome>> {
        let mut out: Vec<Result<TxnOutcome>> = Vec::with_capacity(group.len());
        let mut staged = Staged { track_keys: true, ..Staged::default() };
        for &ops in group {
            let scans = ops.iter().any(|op| matches!(op, TxnOp::Scan { .. }));
            if scans || ops.iter().filter_map(op_key).any(|k| staged.keys.contains(k)) {
                self.publish_staged(&mut staged, &mut out);
            }
            if scans {
                // Range locks and a scan of the snapshot: the plain path.
                out.push(self.transact(ops));
            } else {
                self.stage(ops, &mut staged, &mut out);
            }
        }
        self.publish_staged(&mut staged, &mut out);
        out
    }

    /// Runs one transaction of a group. A write is logged but not synced,
    /// and waits in `staged` with its locks.
    fn stage(&self, ops: &[TxnOp], staged: &mut Staged, out: &mut Vec<Result<TxnOutcome>>) {
        // Never wait for a lock while holding the staged writes' locks
        // (two groups could wait on each other until the timeout): if a
        // lock is taken, publish the group so far first, then wait.
        let held = match self.validate_and_lock_with(ops, staged.pending.is_empty()) {
            Ok(Some(held)) => held,
            Ok(None) => {
                self.publish_staged(staged, out);
                match self.validate_and_lock(ops) {
                    Ok(held) => held,
                    Err(e) => return out.push(Err(e)),
                }
            }
            Err(e) => return out.push(Err(e)),
        };
        self.run_and_stage(ops, held, staged, out);
    }

    /// Runs `ops` under `held`, pushing its result to `out`: a write is
    /// logged (not synced) and kept in `staged` with its locks; anything
    /// else (a read-only commit, an abort, an error) releases `held`.
    fn run_and_stage(&self, ops: &[TxnOp], held: HeldLocks, staged: &mut Staged, out: &mut Vec<Result<TxnOutcome>>) {
        let txns = self.transactions();
        let (results, overlay) = match self.run_locked(ops) {
            Ok(Run::Commit { results, overlay }) => (results, overlay),
            Ok(Run::Abort { op_index, reason, wrote }) => {
                txns.aborts_assert.fetch_add(1, Ordering::Relaxed);
                if wrote {
                    txns.rollbacks.fetch_add(1, Ordering::Relaxed);
                }
                txns.locks.release(held);
                return out.push(Ok(TxnOutcome::Aborted { op_index, reason }));
            }
            Err(e) => {
                txns.aborts_io.fetch_add(1, Ordering::Relaxed);
                txns.locks.release(held);
                return out.push(Err(e));
            }
        };
        if overlay.is_empty() {
            // Read only: it read committed, durable data (its keys are not
            // among the staged writes); nothing to wait for.
            txns.locks.release(held);
            txns.commits.add(1);
            return out.push(Ok(TxnOutcome::Committed { results, commit_lsn: None }));
        }
        let appended = self.shared().append_batch(&overlay_batch(overlay));
        self.record_staged(ops, appended, results, held, staged, out);
    }

    /// Keeps the logged (not synced) writes of the transaction `ops` in
    /// `staged` with its locks `held`, or fails it if logging failed.
    fn record_staged(
        &self,
        ops: &[TxnOp],
        appended: Result<Appended>,
        results: Vec<OpResult>,
        held: HeldLocks,
        staged: &mut Staged,
        out: &mut Vec<Result<TxnOutcome>>,
    ) {
        let txns = self.transactions();
        match appended {
            Ok(Appended::Pending(lsn)) => {
                if staged.track_keys {
                    staged.keys.extend(ops.iter().filter_map(op_key).map(<[u8]>::to_vec));
                }
                staged.pending.push((out.len(), held));
                staged.last_lsn = staged.last_lsn.max(lsn);
                out.push(Ok(TxnOutcome::Committed { results, commit_lsn: Some(lsn) }));
            }
            Ok(Appended::Empty(_)) => unreachable!("the batch of a non-empty overlay is not empty"),
            Err(e) => {
                txns.aborts_io.fetch_add(1, Ordering::Relaxed);
                txns.rollbacks.fetch_add(1, Ordering::Relaxed);
                txns.locks.release(held);
                out.push(Err(e));
            }
        }
    }

    /// Publishes the writes of `staged` (one sync) and releases their
    /// locks; on failure their results in `out` become the error.
    fn publish_staged(&self, staged: &mut Staged, out: &mut [Result<TxnOutcome>]) {
        let count = staged.pending.len() as u64;
        let mut error = self.sync_staged(staged.last_lsn, count).err();
        self.release_staged(staged, out, &mut error);
    }

    /// Logs the leading transactions of `group` that are blind writes —
    /// only SETs, of values small enough to sit in a leaf — without ever
    /// blocking: it stops at the first transaction that is not one, whose
    /// locks are not free at once, or that touches a key staged before it,
    /// and leaves that one and the rest to the caller. Nothing is durable,
    /// visible or acknowledged until [`Db::publish_writes`]. (Only a WAL
    /// segment roll-over, once per segment, may wait for a running sync.)
    pub fn try_stage_writes(&self, group: &[&[TxnOp]]) -> StagedWrites {
        let mut staged = StagedWrites {
            staged: Staged::default(),
            results: Vec::with_capacity(group.len()),
            owner: Some(self.shared_arc()),
        };
        let opts = self.options();
        let inline_max = crate::db::inline_limit(self.shared().manifest.page_size);
        let blind = |ops: &[TxnOp]| {
            !ops.is_empty()
                && ops.iter().all(|op| match op {
                    TxnOp::Set { key, value, .. } => {
                        key.len() <= crate::btree::node::KEY_MAX
                            && value.len() <= opts.value_max
                            && value.len() < opts.vlog_threshold
                            && key.len() + value.len() <= inline_max
                    }
                    _ => false,
                })
        };
        let now_ms = self.ttl_now_ms();
        // First lock and plan every write, then log them all under one
        // acquisition of the commit lock.
        let mut batches: Vec<WriteBatch> = Vec::with_capacity(group.len());
        let mut planned: Vec<(&[TxnOp], Vec<OpResult>, HeldLocks)> = Vec::with_capacity(group.len());
        for &ops in group {
            if !blind(ops) {
                break;
            }
            match self.plan_blind(ops, now_ms) {
                Ok(Some((batch, results, held))) => {
                    batches.push(batch);
                    planned.push((ops, results, held));
                }
                Ok(None) => break,
                // `staged.results` and `planned` stay in group order: an
                // error is answered here only before anything is planned;
                // later, it is left with the rest to the caller (which
                // meets the same error).
                Err(e) if planned.is_empty() => staged.results.push(Err(e)),
                Err(_) => break,
            }
        }
        let appended = self.shared().append_batches(batches);
        for ((ops, results, held), appended) in planned.into_iter().zip(appended) {
            self.record_staged(ops, appended, results, held, &mut staged.staged, &mut staged.results);
        }
        staged
    }

    /// Locks a blind write `ops` (only SETs) without waiting and builds its
    /// batch and results: `Ok(None)` if a lock is taken (a key an earlier
    /// transaction of the group staged is locked by it, so this one stops
    /// there too); on an error nothing stays locked.
    fn plan_blind(&self, ops: &[TxnOp], now_ms: u64) -> Result<Option<(WriteBatch, Vec<OpResult>, HeldLocks)>> {
        let Some(held) = self.validate_and_lock_with(ops, false)? else { return Ok(None) };
        if let [TxnOp::Set { key, value, ttl_ms }] = ops {
            // One SET, the common case: its write is its batch.
            let mut batch = WriteBatch::new();
            match ttl_ms.filter(|&t| t > 0) {
                Some(t) => batch.put_expiring(key.as_slice(), value.as_slice(), now_ms.saturating_add(t)),
                None => batch.put(key.as_slice(), value.as_slice()),
            };
            return Ok(Some((batch, vec![OpResult::Set], held)));
        }
        // SETs read nothing: running them only builds the overlay (in which
        // a key written twice is written once).
        match self.run_locked(ops) {
            Ok(Run::Commit { results, overlay }) if !overlay.is_empty() => {
                Ok(Some((overlay_batch(overlay), results, held)))
            }
            other => {
                self.transactions().locks.release(held);
                // (SETs always commit and write; anything else is left,
                // with the rest, to the caller.)
                other.map(|_| None)
            }
        }
    }

    /// Makes every group of `groups` durable with one WAL sync, then
    /// visible, releases their locks and returns each group's results in
    /// order: what [`Db::transact`] would have returned for each
    /// transaction. Blocks for the sync (and for memory back-pressure, as
    /// a commit does): call it off any event loop.
    pub fn publish_writes(&self, groups: Vec<StagedWrites>) -> Vec<Vec<Result<TxnOutcome>>> {
        let errors = self.sync_writes(&groups);
        groups.into_iter().zip(errors).map(|(g, error)| self.finish_writes(g, error)).collect()
    }

    /// The first half of [`Db::publish_writes`]: one WAL sync for every
    /// group, then their writes are visible. Returns, per group, the error
    /// its transactions fail with (`None` if the sync succeeded; the first
    /// group gets the error itself, the others its text). The locks stay
    /// held until [`Db::finish_writes`] (or a drop) releases them, so a
    /// commit thread can go on to its next sync and leave that work to
    /// each group's waiter. Blocks like `publish_writes`.
    pub fn sync_writes(&self, groups: &[StagedWrites]) -> Vec<Option<Error>> {
        let last_lsn = groups.iter().map(|g| g.staged.last_lsn).max().unwrap_or(Lsn::ZERO);
        let count = groups.iter().map(|g| g.staged.pending.len() as u64).sum();
        let mut error = self.sync_staged(last_lsn, count).err();
        let text = error.as_ref().map(ToString::to_string);
        (0..groups.len())
            .map(|_| error.take().or_else(|| text.clone().map(|first| Error::PreviousIo { first })))
            .collect()
    }

    /// The second half of [`Db::publish_writes`], for one group after
    /// [`Db::sync_writes`] (with the error it returned for the group):
    /// releases the group's locks and returns its results in order.
    pub fn finish_writes(&self, mut group: StagedWrites, mut error: Option<Error>) -> Vec<Result<TxnOutcome>> {
        self.release_staged(&mut group.staged, &mut group.results, &mut error);
        std::mem::take(&mut group.results)
    }

    /// Publishes `count` staged commits up to `last_lsn`: one sync, then
    /// visible; then the back-pressure and checkpoint triggers, once (as
    /// `Db::write` runs them once per commit).
    fn sync_staged(&self, last_lsn: Lsn, count: u64) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        let shared = self.shared();
        shared.publish(last_lsn, crate::options::Durability::Sync)?;
        shared.count_commits(count);
        self.transactions().commits.add(count);
        self.after_commit()
    }

    /// Releases the locks of `staged` once it is published; if publishing
    /// failed (`error`), each of its results becomes that error: the first
    /// takes it, the rest get the same cause as text.
    fn release_staged(&self, staged: &mut Staged, out: &mut [Result<TxnOutcome>], error: &mut Option<Error>) {
        let txns = self.transactions();
        staged.keys.clear();
        for (index, held) in std::mem::take(&mut staged.pending) {
            txns.locks.release(held);
            if let Some(first) = error.take() {
                txns.aborts_io.fetch_add(1, Ordering::Relaxed);
                let text = match &first {
                    Error::PreviousIo { first } => first.clone(),
                    other => other.to_string(),
                };
                if let Some(slot) = out.get_mut(index) {
                    *slot = Err(first);
                }
                *error = Some(Error::PreviousIo { first: text });
            }
        }
    }
}
