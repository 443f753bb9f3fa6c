//! Executing a transaction: lock set up front, operations in order on an
//! overlay (read-your-writes), ASSERTs against the overlay, then one
//! atomic, group-committed write — or an abort that leaves no trace.
//!
//! Locks are held until the commit is durable (strict two-phase locking):
//! a transaction that acquires a lock after another released it reads that
//! one's committed, durable writes.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use jubilant_format::{Lsn, TxnId};

use super::op::{AbortReason, Condition, OpResult, ReadItem, TxnOp, TxnOutcome};
use crate::batch::WriteBatch;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::lock::{HeldLocks, LockError, LockManager, LockMode, LockRequest, LockStats};

/// Largest number of pairs one SCAN returns.
pub const SCAN_LIMIT_MAX: u32 = 10_000;

/// Counters of transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TxnStats {
    /// Transactions committed (read-only ones included).
    pub commits: u64,
    /// Aborted because an ASSERT failed.
    pub aborts_assert: u64,
    /// Aborted because a lock was not granted in time.
    pub aborts_lock_timeout: u64,
    /// Aborted because the commit failed (I/O).
    pub aborts_io: u64,
    /// Aborted transactions that had buffered writes (rolled back).
    pub rollbacks: u64,
    /// Lock manager counters.
    pub locks: LockStats,
}

/// The transaction machinery of a database.
#[derive(Debug, Default)]
pub struct Transactions {
    pub(super) locks: LockManager,
    next_id: AtomicU64,
    /// Striped: every served GET counts here.
    pub(super) commits: crate::striped::Counter,
    pub(super) aborts_assert: AtomicU64,
    aborts_lock_timeout: AtomicU64,
    pub(super) aborts_io: AtomicU64,
    pub(super) rollbacks: AtomicU64,
}

impl Transactions {
    /// The counters.
    pub fn stats(&self) -> TxnStats {
        TxnStats {
            commits: self.commits.get(),
            aborts_assert: self.aborts_assert.load(Ordering::Relaxed),
            aborts_lock_timeout: self.aborts_lock_timeout.load(Ordering::Relaxed),
            aborts_io: self.aborts_io.load(Ordering::Relaxed),
            rollbacks: self.rollbacks.load(Ordering::Relaxed),
            locks: self.locks.stats(),
        }
    }

    /// The lock manager.
    pub fn locks(&self) -> &LockManager {
        &self.locks
    }
}

/// A pending write: the new value and expiry, or a deletion.
pub(super) type Pending = Option<(Vec<u8>, Option<u64>)>;

fn lock_requests(ops: &[TxnOp]) -> Vec<LockRequest> {
    ops.iter()
        .map(|op| match op {
            TxnOp::Get { key } | TxnOp::Assert { key, .. } => {
                LockRequest::Key { key: key.clone(), mode: LockMode::Shared }
            }
            TxnOp::Set { key, .. } | TxnOp::Del { key } => {
                LockRequest::Key { key: key.clone(), mode: LockMode::Exclusive }
            }
            TxnOp::Scan { start, end, .. } => {
                LockRequest::Range { start: start.clone().unwrap_or_default(), end: end.clone() }
            }
        })
        .collect()
}

impl Db {
    /// Runs a transaction: see [`crate::txn`]. Returns the outcome (an
    /// ASSERT failure is an `Aborted` outcome, not an error); a lock
    /// timeout is [`Error::LockTimeout`] and an I/O failure the I/O error,
    /// and in every failed case nothing was written.
    pub fn transact(&self, ops: &[TxnOp]) -> Result<TxnOutcome> {
        let txns = self.transactions();
        let held = self.validate_and_lock(ops)?;
        let result = self.run_locked(ops);
        let outcome = match result {
            Ok(Run::Abort { op_index, reason, wrote }) => {
                txns.aborts_assert.fetch_add(1, Ordering::Relaxed);
                if wrote {
                    txns.rollbacks.fetch_add(1, Ordering::Relaxed);
                }
                Ok(TxnOutcome::Aborted { op_index, reason })
            }
            Ok(Run::Commit { results, overlay }) => {
                if overlay.is_empty() {
                    Ok(TxnOutcome::Committed { results, commit_lsn: None })
                } else {
                    match self.write(&overlay_batch(overlay)) {
                        Ok(lsn) => Ok(TxnOutcome::Committed { results, commit_lsn: Some(lsn) }),
                        Err(e) => {
                            txns.aborts_io.fetch_add(1, Ordering::Relaxed);
                            txns.rollbacks.fetch_add(1, Ordering::Relaxed);
                            Err(e)
                        }
                    }
                }
            }
            Err(e) => {
                txns.aborts_io.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        };
        // Strict 2PL: the commit above returned once durable.
        txns.locks.release(held);
        if matches!(outcome, Ok(TxnOutcome::Committed { .. })) {
            txns.commits.add(1);
        }
        outcome
    }

    /// Checks the sizes of `ops`, then takes their locks (none for a
    /// single read).
    pub(super) fn validate_and_lock(&self, ops: &[TxnOp]) -> Result<HeldLocks> {
        Ok(self.validate_and_lock_with(ops, true)?.unwrap_or_default())
    }

    /// [`Db::validate_and_lock`]; without `wait`, `Ok(None)` (nothing held,
    /// no timeout counted) where a lock is not free at once.
    pub(super) fn validate_and_lock_with(&self, ops: &[TxnOp], wait: bool) -> Result<Option<HeldLocks>> {
        let txns = self.transactions();
        let value_max = self.options().value_max;
        for op in ops {
            let Some(key) = op_key(op) else { continue };
            if key.len() > crate::btree::node::KEY_MAX {
                return Err(Error::KeyTooLarge { len: key.len(), max: crate::btree::node::KEY_MAX });
            }
            if let TxnOp::Set { value, .. } = op
                && value.len() > value_max
            {
                return Err(Error::ValueTooLarge { len: value.len(), max: value_max });
            }
        }
        // A transaction of one GET or one SCAN needs no locks: it reads one
        // snapshot, in which every commit is either wholly visible or not
        // at all (commits become visible atomically, after they are
        // durable), so it is serializable at that instant.
        let single_read = matches!(ops, [TxnOp::Get { .. } | TxnOp::Scan { .. }]);
        let id = TxnId(txns.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let plan = if single_read { Vec::new() } else { LockManager::plan(lock_requests(ops)) };
        if !wait {
            return Ok(txns.locks.acquire_plan(id, plan, None).ok());
        }
        let deadline = Instant::now() + self.lock_timeout();
        match txns.locks.acquire_plan(id, plan, Some(deadline)) {
            Ok(held) => Ok(Some(held)),
            Err(LockError::Timeout { key }) => {
                txns.aborts_lock_timeout.fetch_add(1, Ordering::Relaxed);
                Err(Error::LockTimeout { key })
            }
            Err(LockError::UpgradeRejected { key }) => {
                unreachable!("the plan asks for the strongest mode of every key up front (key {key:?})")
            }
        }
    }

    /// Runs `ops` as [`Db::transact`] would, but only if it is a single
    /// GET whose answer is in memory ([`Db::get_cached_with`]); `None`
    /// otherwise, having done nothing. Never blocks: for event loops that
    /// answer cached reads in place and hand the rest to a thread pool.
    pub fn transact_cached(&self, ops: &[TxnOp]) -> Option<Result<TxnOutcome>> {
        let [TxnOp::Get { key }] = ops else { return None };
        let answer = self.transact_get_cached_with(key, |entry| {
            entry.map(|e| ReadItem {
                key: key.clone(),
                value: e.value.to_vec(),
                version: Some(e.version),
                expires_at_unix_ms: e.expires_at_unix_ms,
            })
        })?;
        Some(answer.map(|item| TxnOutcome::Committed { results: vec![OpResult::Get(item)], commit_lsn: None }))
    }

    /// [`Db::transact_cached`] of a single GET of `key`, lending the entry
    /// to `f` in place ([`Db::get_cached_with`], with its rules for `f`)
    /// instead of copying it into a [`TxnOutcome`]: `None`, with `f` not
    /// called, when the answer is not in memory.
    pub fn transact_get_cached_with<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<crate::db::EntryView<'_>>) -> R,
    ) -> Option<Result<R>> {
        if key.len() > crate::btree::node::KEY_MAX {
            return None;
        }
        let answer = self.get_cached_with(key, f).transpose()?;
        if answer.is_ok() {
            self.transactions().commits.add(1);
        }
        Some(answer)
    }

    pub(super) fn run_locked(&self, ops: &[TxnOp]) -> Result<Run> {
        let mut overlay: BTreeMap<Vec<u8>, Pending> = BTreeMap::new();
        let mut results = Vec::with_capacity(ops.len());
        let now_ms = self.ttl_now_ms();
        for (op_index, op) in ops.iter().enumerate() {
            let result = match op {
                TxnOp::Get { key } => OpResult::Get(self.read_through(&overlay, key)?),
                TxnOp::Set { key, value, ttl_ms } => {
                    let expires = ttl_ms.filter(|&t| t > 0).map(|t| now_ms.saturating_add(t));
                    overlay.insert(key.clone(), Some((value.clone(), expires)));
                    OpResult::Set
                }
                TxnOp::Del { key } => {
                    let existed = self.read_through(&overlay, key)?.is_some();
                    overlay.insert(key.clone(), None);
                    OpResult::Del { existed }
                }
                TxnOp::Scan { start, end, limit, reverse } => {
                    let limit = if *limit == 0 { SCAN_LIMIT_MAX } else { (*limit).min(SCAN_LIMIT_MAX) };
                    let (items, truncated) =
                        self.scan_through(&overlay, start.as_deref(), end.as_deref(), limit, *reverse)?;
                    OpResult::Scan { items, truncated }
                }
                TxnOp::Assert { key, condition } => {
                    let item = self.read_through(&overlay, key)?;
                    let holds = match (condition, &item) {
                        (Condition::Exists, found) => found.is_some(),
                        (Condition::Absent, found) => found.is_none(),
                        (Condition::ValueEquals(v), Some(found)) => found.value == *v,
                        (Condition::ValueEquals(_), None) => false,
                        (Condition::VersionEquals(v), None) => v.get() == 0,
                        // A key written earlier in this transaction has no
                        // committed version yet.
                        (Condition::VersionEquals(v), Some(found)) => found.version == Some(*v),
                    };
                    if !holds {
                        return Ok(Run::Abort {
                            op_index,
                            reason: AbortReason::AssertFailed {
                                key: key.clone(),
                                condition: condition.clone(),
                                found_version: item.as_ref().and_then(|i| i.version).unwrap_or(Lsn::ZERO),
                                found_exists: item.is_some(),
                            },
                            wrote: !overlay.is_empty(),
                        });
                    }
                    OpResult::Assert
                }
            };
            results.push(result);
        }
        Ok(Run::Commit { results, overlay })
    }

    fn read_through(&self, overlay: &BTreeMap<Vec<u8>, Pending>, key: &[u8]) -> Result<Option<ReadItem>> {
        if let Some(pending) = overlay.get(key) {
            return Ok(pending.as_ref().map(|(value, expires)| ReadItem {
                key: key.to_vec(),
                value: value.clone(),
                version: None,
                expires_at_unix_ms: *expires,
            }));
        }
        Ok(self.get_entry(key)?.map(|e| committed_item(key.to_vec(), e)))
    }

    fn scan_through(
        &self,
        overlay: &BTreeMap<Vec<u8>, Pending>,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        limit: u32,
        reverse: bool,
    ) -> Result<(Vec<ReadItem>, bool)> {
        let lower = start.map_or(Bound::Unbounded, |s| Bound::Included(s.to_vec()));
        let upper = end.map_or(Bound::Unbounded, |e| Bound::Excluded(e.to_vec()));
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Ok((Vec::new(), false));
        }
        let mut base = if reverse {
            self.range_rev((lower.clone(), upper.clone()))?
        } else {
            self.range((lower.clone(), upper.clone()))?
        };
        let mut base_peek: Option<Result<(Vec<u8>, crate::db::Entry)>> = base.next_entry();
        let mut mine: Box<dyn Iterator<Item = (&Vec<u8>, &Pending)>> = if reverse {
            Box::new(overlay.range((lower.clone(), upper.clone())).rev())
        } else {
            Box::new(overlay.range((lower, upper)))
        };
        let mut mine_next = mine.next();
        let before = |a: &[u8], b: &[u8]| if reverse { a > b } else { a < b };
        let mut items = Vec::new();
        loop {
            let base_key = match &base_peek {
                Some(Ok((k, _))) => Some(k.clone()),
                Some(Err(_)) => {
                    if let Some(Err(e)) = base_peek.take() {
                        return Err(e);
                    }
                    None
                }
                None => None,
            };
            let take_mine = match (&mine_next, &base_key) {
                (Some((mk, _)), Some(bk)) => !before(bk, mk),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let item = if take_mine {
                let Some((mk, pending)) = mine_next.take() else { break };
                if base_key.as_deref() == Some(mk.as_slice()) {
                    base_peek = base.next_entry();
                }
                mine_next = mine.next();
                pending.as_ref().map(|(value, expires)| ReadItem {
                    key: mk.clone(),
                    value: value.clone(),
                    version: None,
                    expires_at_unix_ms: *expires,
                })
            } else {
                let current = std::mem::replace(&mut base_peek, base.next_entry());
                match current {
                    Some(Ok((key, e))) => Some(committed_item(key, e)),
                    Some(Err(e)) => return Err(e),
                    None => None,
                }
            };
            if let Some(item) = item {
                if items.len() == limit as usize {
                    return Ok((items, true));
                }
                items.push(item);
            }
        }
        Ok((items, false))
    }
}

/// What a read returns for `key`'s committed entry `e`.
fn committed_item(key: Vec<u8>, e: crate::db::Entry) -> ReadItem {
    ReadItem { key, value: e.value, version: Some(e.version), expires_at_unix_ms: e.expires_at_unix_ms }
}

/// The write batch of a transaction's overlay.
pub(super) fn overlay_batch(overlay: BTreeMap<Vec<u8>, Pending>) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (key, pending) in overlay {
        match pending {
            Some((value, Some(at))) => batch.put_expiring(key, value, at),
            Some((value, None)) => batch.put(key, value),
            None => batch.delete(key),
        };
    }
    batch
}

/// The key an operation locks (a SCAN locks a range).
pub(super) fn op_key(op: &TxnOp) -> Option<&[u8]> {
    match op {
        TxnOp::Get { key } | TxnOp::Set { key, .. } | TxnOp::Del { key } | TxnOp::Assert { key, .. } => Some(key),
        TxnOp::Scan { .. } => None,
    }
}

/// The result of running the operations under locks.
pub(super) enum Run {
    Commit { results: Vec<OpResult>, overlay: BTreeMap<Vec<u8>, Pending> },
    Abort { op_index: usize, reason: AbortReason, wrote: bool },
}
