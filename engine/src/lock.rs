//! The lock manager: strict two-phase locking with shared and exclusive
//! modes on keys, and shared locks on key ranges (for scans), so that a
//! transaction's reads are serializable and a scan sees no phantoms.
//!
//! Point locks live in a hash-partitioned table (stripes, each with its own
//! mutex and wait queue). Range locks live in one table of their own; a
//! range conflicts with any exclusive key inside it, so a range request
//! looks through every stripe for one (ranges are rare: only transactions
//! that scan and do more take them).
//!
//! An exclusive point lock does not touch the range table while no range
//! is held or being acquired (`ranges_active` is zero): the common blind
//! write takes one stripe's mutex. The two sides cannot miss each other:
//! a range request counts itself in `ranges_active` before it looks
//! through the stripes, and an exclusive grant enters its stripe before it
//! reads the count; the stripe's mutex orders the two, so either the range
//! request finds the key or the grant sees the count and checks the range
//! table (undoing itself if a range covers the key). A release of an
//! exclusive key wakes range waiters on the same terms.
//!
//! Deadlock freedom: a transaction's whole lock set is computed up front
//! as *disjoint* intervals (a point, or a range), each with the strongest
//! mode the transaction needs there, and acquired in ascending order. A
//! transaction waiting for interval I holds only intervals ending before
//! I starts; whoever it waits for holds an interval overlapping I, so its
//! own next request starts after I does. Along any chain of waits the
//! requested start keys strictly increase: there can be no cycle.
//!
//! Fairness: waiters on a key are served first come, first served: a
//! request is granted only when it is compatible with the holders and with
//! every earlier waiter on that key. Exclusive requests blocked by a range
//! are registered as pending, and new range requests over them wait, so a
//! stream of scans cannot starve a writer. Every wait is bounded by the
//! transaction's deadline; on timeout it fails with `LockTimeout`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jubilant_format::TxnId;

use crate::sync::lock;

/// Lock modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum LockMode {
    /// Readers: compatible with other shared locks.
    Shared,
    /// Writers: compatible with nothing.
    Exclusive,
}

/// One lock request: a key or a key range, and a mode. Ranges are always
/// shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockRequest {
    /// A single key.
    Key {
        /// The key.
        key: Vec<u8>,
        /// The mode.
        mode: LockMode,
    },
    /// All keys in `[start, end)`; `end = None` means to the last key.
    Range {
        /// First key of the range.
        start: Vec<u8>,
        /// End of the range (exclusive), if bounded.
        end: Option<Vec<u8>>,
    },
}

impl LockRequest {
    fn start(&self) -> &[u8] {
        match self {
            LockRequest::Key { key, .. } => key,
            LockRequest::Range { start, .. } => start,
        }
    }
}

/// Why a lock was not granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// The deadline passed while waiting.
    Timeout {
        /// The key (or range start) waited for.
        key: Vec<u8>,
    },
    /// The transaction holds a shared lock on the key and asked for an
    /// exclusive one; the planner always asks for the strongest mode up
    /// front, so this is a bug in the caller.
    UpgradeRejected {
        /// The key.
        key: Vec<u8>,
    },
}

/// Counters of the lock manager.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LockStats {
    /// Requests that had to wait.
    pub waits: u64,
    /// Total time spent waiting, microseconds.
    pub wait_us: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Grants that overtook an earlier, incompatible waiter on the same
    /// key (first come, first served keeps this at zero).
    pub overtakes: u64,
}

#[derive(Debug, Default)]
struct KeyEntry {
    holders: Vec<(TxnId, LockMode)>,
    /// Waiters in arrival order.
    queue: VecDeque<(TxnId, LockMode)>,
}

impl KeyEntry {
    fn grantable(&self, txn: TxnId, mode: LockMode) -> bool {
        let compatible = |other: LockMode| mode == LockMode::Shared && other == LockMode::Shared;
        if !self.holders.iter().all(|&(t, m)| t == txn || compatible(m)) {
            return false;
        }
        // First come, first served: everyone queued ahead must be
        // compatible with this request.
        for &(t, m) in &self.queue {
            if t == txn {
                return true;
            }
            if !compatible(m) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Default)]
struct Stripe {
    keys: HashMap<Vec<u8>, KeyEntry, foldhash::fast::RandomState>,
    /// Entries removed from `keys`, emptied, kept for the next keys (up to
    /// [`SPARE_ENTRIES`]): a blind write locks a new key and releases it
    /// on another thread, and allocating the key and holder list anew for
    /// each (then freeing them across threads) cost more than the rest of
    /// the grant.
    spare: Vec<(Vec<u8>, KeyEntry)>,
    /// Threads waiting on the stripe's condition variable: a change wakes
    /// them only if there are any (a wake-up is a system call).
    waiters: usize,
}

/// Spare entries a stripe keeps.
const SPARE_ENTRIES: usize = 64;

/// A spare entry's key buffer is kept only up to this capacity.
const SPARE_KEY_CAPACITY: usize = 256;

impl Stripe {
    /// The entry of `key`, created (from a spare one if any) when absent.
    fn entry(&mut self, key: &[u8]) -> &mut KeyEntry {
        if !self.keys.contains_key(key) {
            let (mut k, entry) = self.spare.pop().unwrap_or_default();
            k.clear();
            k.extend_from_slice(key);
            self.keys.insert(k, entry);
        }
        match self.keys.get_mut(key) {
            Some(entry) => entry,
            None => unreachable!("inserted above"),
        }
    }

    /// Removes the entry of `key` if nobody holds or waits for it.
    fn remove_if_unused(&mut self, key: &[u8]) {
        if self.keys.get(key).is_some_and(|e| e.holders.is_empty() && e.queue.is_empty())
            && let Some((k, entry)) = self.keys.remove_entry(key)
            && self.spare.len() < SPARE_ENTRIES
            && k.capacity() <= SPARE_KEY_CAPACITY
        {
            self.spare.push((k, entry));
        }
    }
}

#[derive(Debug, Default)]
struct RangeTable {
    /// Shared range locks: (start, end, holder).
    ranges: Vec<(Vec<u8>, Option<Vec<u8>>, TxnId)>,
    /// Exclusive requests waiting on a range or on their key: key and
    /// waiter count. (Granted exclusive keys are found in the stripes.)
    pending: BTreeMap<Vec<u8>, usize>,
    /// Threads waiting on `ranges_changed`, as [`Stripe::waiters`].
    waiters: usize,
}

/// A lock-protected table that counts the threads waiting for it to
/// change (see [`wait_until`]).
trait Waited {
    fn waiters(&mut self) -> &mut usize;
}

impl Waited for Stripe {
    fn waiters(&mut self) -> &mut usize {
        &mut self.waiters
    }
}

impl Waited for RangeTable {
    fn waiters(&mut self) -> &mut usize {
        &mut self.waiters
    }
}

fn in_range(key: &[u8], start: &[u8], end: Option<&[u8]>) -> bool {
    key >= start && end.is_none_or(|e| key < e)
}

impl RangeTable {
    fn range_blocks_key(&self, key: &[u8], txn: TxnId) -> bool {
        self.ranges.iter().any(|(s, e, t)| *t != txn && in_range(key, s, e.as_deref()))
    }

    fn pending_in_range(&self, start: &[u8], end: Option<&[u8]>) -> bool {
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        self.pending.range::<[u8], _>((Bound::Included(start), upper)).next().is_some()
    }
}

const STRIPES: usize = 64;

/// The lock manager.
#[derive(Debug)]
pub struct LockManager {
    stripes: Vec<(Mutex<Stripe>, Condvar)>,
    ranges: Mutex<RangeTable>,
    ranges_changed: Condvar,
    /// Range locks held plus range requests in progress (see the module
    /// comment): while zero, exclusive point locks skip the range table.
    ranges_active: AtomicUsize,
    /// Picks a key's stripe (its own seed: the stripes' maps hash with
    /// theirs, so the keys of one stripe do not share hash bits there).
    hasher: foldhash::fast::RandomState,
    waits: AtomicU64,
    wait_us: AtomicU64,
    timeouts: AtomicU64,
    overtakes: AtomicU64,
}

impl Default for LockManager {
    fn default() -> Self {
        LockManager::new()
    }
}

/// The locks one transaction holds; release them with
/// [`LockManager::release`].
#[derive(Debug, Default)]
pub struct HeldLocks {
    txn: TxnId,
    keys: Vec<(Vec<u8>, LockMode)>,
    ranges: usize,
}

impl HeldLocks {
    /// Number of locks held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len() + self.ranges
    }

    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LockManager {
    /// An empty lock table.
    #[must_use]
    pub fn new() -> LockManager {
        LockManager {
            stripes: (0..STRIPES).map(|_| (Mutex::new(Stripe::default()), Condvar::new())).collect(),
            ranges: Mutex::new(RangeTable::default()),
            ranges_changed: Condvar::new(),
            ranges_active: AtomicUsize::new(0),
            hasher: foldhash::fast::RandomState::default(),
            waits: AtomicU64::new(0),
            wait_us: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            overtakes: AtomicU64::new(0),
        }
    }

    fn stripe(&self, key: &[u8]) -> &(Mutex<Stripe>, Condvar) {
        let i = (self.hasher.hash_one(key) >> 32) as usize % STRIPES;
        match self.stripes.get(i) {
            Some(s) => s,
            None => unreachable!("stripe index below STRIPES"),
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> LockStats {
        LockStats {
            waits: self.waits.load(Ordering::Relaxed),
            wait_us: self.wait_us.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            overtakes: self.overtakes.load(Ordering::Relaxed),
        }
    }

    /// Normalises a transaction's requests into disjoint intervals with the
    /// strongest mode each needs, sorted by start key. A key inside a
    /// requested range that is also written gets an exclusive point lock,
    /// and the range is split around it.
    #[must_use]
    pub fn plan(requests: Vec<LockRequest>) -> Vec<LockRequest> {
        // One key is already a plan (a blind write's, the common case).
        if let [LockRequest::Key { .. }] = requests.as_slice() {
            return requests;
        }
        let mut keys: BTreeMap<Vec<u8>, LockMode> = BTreeMap::new();
        let mut ranges: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for r in requests {
            match r {
                LockRequest::Key { key, mode } => {
                    let m = keys.entry(key).or_insert(mode);
                    *m = (*m).max(mode);
                }
                LockRequest::Range { start, end } => {
                    if end.as_ref().is_none_or(|e| *e > start) {
                        ranges.push((start, end));
                    }
                }
            }
        }
        // Merge overlapping ranges.
        ranges.sort();
        let mut merged: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for (s, e) in ranges {
            match merged.last_mut() {
                Some((_, last_end)) if last_end.as_ref().is_none_or(|le| *le >= s) => {
                    let longer = match (&*last_end, &e) {
                        (None, _) | (_, None) => None,
                        (Some(a), Some(b)) => Some(a.max(b).clone()),
                    };
                    *last_end = longer;
                }
                _ => merged.push((s, e)),
            }
        }
        // Points inside a range: shared ones are covered by it; exclusive
        // ones split it.
        let mut out: Vec<LockRequest> = Vec::new();
        for (s, e) in merged {
            let inside: Vec<(Vec<u8>, LockMode)> = keys
                .range::<Vec<u8>, _>((Bound::Included(&s), e.as_ref().map_or(Bound::Unbounded, Bound::Excluded)))
                .map(|(k, m)| (k.clone(), *m))
                .collect();
            let mut cursor = s;
            for (k, m) in inside {
                keys.remove(&k);
                if m == LockMode::Exclusive {
                    if k > cursor {
                        out.push(LockRequest::Range { start: cursor, end: Some(k.clone()) });
                    }
                    let mut after = k.clone();
                    after.push(0);
                    out.push(LockRequest::Key { key: k, mode: LockMode::Exclusive });
                    cursor = after;
                }
            }
            if e.as_ref().is_none_or(|e| *e > cursor) {
                out.push(LockRequest::Range { start: cursor, end: e });
            }
        }
        out.extend(keys.into_iter().map(|(key, mode)| LockRequest::Key { key, mode }));
        out.sort_by(|a, b| a.start().cmp(b.start()));
        out
    }

    /// Acquires `plan` (from [`LockManager::plan`]) in order for `txn`,
    /// waiting at most until `deadline`. On failure nothing stays held.
    pub fn acquire_all(&self, txn: TxnId, plan: &[LockRequest], deadline: Instant) -> Result<HeldLocks, LockError> {
        let mut held = HeldLocks { txn, ..HeldLocks::default() };
        self.acquire_more(&mut held, plan, deadline)?;
        Ok(held)
    }

    /// [`LockManager::acquire_all`] with `Some(deadline)`, else
    /// [`LockManager::try_acquire_all`] (failing with a timeout where that
    /// returns `None`), taking the plan's keys instead of copying them.
    pub(crate) fn acquire_plan(
        &self,
        txn: TxnId,
        plan: Vec<LockRequest>,
        deadline: Option<Instant>,
    ) -> Result<HeldLocks, LockError> {
        let mut held = HeldLocks { txn, ..HeldLocks::default() };
        self.acquire_inner(&mut held, plan, deadline)?;
        Ok(held)
    }

    /// Acquires more locks for a transaction that already holds `held`.
    /// On failure every lock of the transaction is released (it aborts).
    pub fn acquire_more(&self, held: &mut HeldLocks, plan: &[LockRequest], deadline: Instant) -> Result<(), LockError> {
        self.acquire_inner(held, plan.to_vec(), Some(deadline))
    }

    /// Acquires `plan` for `txn` only if every lock is free now: never
    /// waits (for callers that must not block, such as an event loop).
    /// `None`, with nothing held and no timeout counted, if one is not.
    pub fn try_acquire_all(&self, txn: TxnId, plan: &[LockRequest]) -> Option<HeldLocks> {
        let mut held = HeldLocks { txn, ..HeldLocks::default() };
        self.acquire_inner(&mut held, plan.to_vec(), None).ok()?;
        Some(held)
    }

    /// [`LockManager::acquire_more`]; with no deadline, fails at once
    /// where it would wait.
    fn acquire_inner(
        &self,
        held: &mut HeldLocks,
        plan: Vec<LockRequest>,
        deadline: Option<Instant>,
    ) -> Result<(), LockError> {
        let txn = held.txn;
        held.keys.reserve(plan.len());
        for request in plan {
            let result = match request {
                LockRequest::Key { key, mode } => {
                    let got = self.acquire_key(txn, &key, mode, deadline, held);
                    if got.is_ok() {
                        held.keys.push((key, mode));
                    }
                    got
                }
                LockRequest::Range { start, end } => {
                    let got = self.acquire_range(txn, &start, end.as_deref(), deadline);
                    if got.is_ok() {
                        held.ranges += 1;
                    }
                    got
                }
            };
            match result {
                Ok(()) => {}
                Err(e) => {
                    if deadline.is_some() && matches!(e, LockError::Timeout { .. }) {
                        self.timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                    self.release(std::mem::take(held));
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn note_wait(&self, started: Option<Instant>) {
        if let Some(t) = started {
            self.waits.fetch_add(1, Ordering::Relaxed);
            self.wait_us.fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
    }

    fn acquire_key(
        &self,
        txn: TxnId,
        key: &[u8],
        mode: LockMode,
        deadline: Option<Instant>,
        held: &HeldLocks,
    ) -> Result<(), LockError> {
        if mode == LockMode::Exclusive && held.keys.iter().any(|(k, m)| k == key && *m == LockMode::Shared) {
            return Err(LockError::UpgradeRejected { key: key.to_vec() });
        }
        if self.grant_now(txn, key, mode) {
            return Ok(());
        }
        let mut waited: Option<Instant> = None;
        if mode == LockMode::Exclusive {
            // First, no other transaction's range may cover the key.
            let mut table = lock(&self.ranges);
            let mut registered = false;
            while table.range_blocks_key(key, txn) {
                if !registered {
                    *table.pending.entry(key.to_vec()).or_insert(0) += 1;
                    registered = true;
                }
                if deadline.is_some() {
                    waited.get_or_insert_with(Instant::now);
                }
                match wait_until(&self.ranges_changed, table, deadline) {
                    Some(t) => table = t,
                    None => {
                        let mut table = lock(&self.ranges);
                        unregister_pending(&mut table, key);
                        let wake = table.waiters > 0;
                        drop(table);
                        if wake {
                            self.ranges_changed.notify_all();
                        }
                        self.note_wait(waited);
                        return Err(LockError::Timeout { key: key.to_vec() });
                    }
                }
            }
            // Register the exclusive key before waiting on the stripe, so no
            // new range can slip in; an exclusive key waiting on the stripe
            // is owned by nobody yet, so it is only "pending".
            if registered {
                unregister_pending(&mut table, key);
            }
            // Once granted, the key is in its stripe, where range requests
            // look (under this table's lock, as here).
            *table.pending.entry(key.to_vec()).or_insert(0) += 1;
        }
        let (stripe_lock, stripe_changed) = self.stripe(key);
        let mut stripe = lock(stripe_lock);
        stripe.entry(key).queue.push_back((txn, mode));
        let result = loop {
            let entry = stripe.entry(key);
            if entry.grantable(txn, mode) {
                let overtook = entry
                    .queue
                    .iter()
                    .take_while(|&&(t, _)| t != txn)
                    .any(|&(_, m)| !(mode == LockMode::Shared && m == LockMode::Shared));
                if overtook {
                    self.overtakes.fetch_add(1, Ordering::Relaxed);
                }
                entry.queue.retain(|&(t, _)| t != txn);
                entry.holders.push((txn, mode));
                break Ok(());
            }
            if deadline.is_some() {
                waited.get_or_insert_with(Instant::now);
            }
            match wait_until(stripe_changed, stripe, deadline) {
                Some(s) => stripe = s,
                None => {
                    let mut s = lock(stripe_lock);
                    if let Some(entry) = s.keys.get_mut(key) {
                        entry.queue.retain(|&(t, _)| t != txn);
                    }
                    s.remove_if_unused(key);
                    stripe = s;
                    break Err(LockError::Timeout { key: key.to_vec() });
                }
            }
        };
        let wake = stripe.waiters > 0;
        drop(stripe);
        // Others queued behind this request may proceed now.
        if wake {
            stripe_changed.notify_all();
        }
        if mode == LockMode::Exclusive {
            let mut table = lock(&self.ranges);
            unregister_pending(&mut table, key);
            let wake = table.waiters > 0;
            drop(table);
            if wake {
                self.ranges_changed.notify_all();
            }
        }
        self.note_wait(waited);
        result
    }

    /// The common case of [`LockManager::acquire_key`]: the key is free
    /// (no holder it conflicts with, nobody queued) and, for an exclusive
    /// lock, no other transaction's range covers it. Grants it at once and
    /// returns true; otherwise changes nothing and returns false.
    ///
    /// An exclusive grant enters the stripe first and then looks at
    /// `ranges_active` (see the module comment): if a range is held or
    /// being acquired, it checks the range table and undoes itself when a
    /// range covers the key. No waiter needs waking on a grant: no one was
    /// queued on the key, and a new exclusive key only blocks more.
    fn grant_now(&self, txn: TxnId, key: &[u8], mode: LockMode) -> bool {
        let (stripe_lock, stripe_changed) = self.stripe(key);
        {
            let mut stripe = lock(stripe_lock);
            let entry = stripe.entry(key);
            if !(entry.queue.is_empty() && entry.grantable(txn, mode)) {
                return false;
            }
            entry.holders.push((txn, mode));
        }
        if mode == LockMode::Shared || self.ranges_active.load(Ordering::SeqCst) == 0 {
            return true;
        }
        let table = lock(&self.ranges);
        if !table.range_blocks_key(key, txn) {
            return true;
        }
        // Undo: a range covers the key. A range request that saw the key
        // meanwhile waits on `ranges_changed`; so may stripe waiters that
        // queued behind the grant.
        let mut stripe = lock(stripe_lock);
        let stripe_wake = stripe.waiters > 0;
        if let Some(entry) = stripe.keys.get_mut(key) {
            // Only the holding just granted.
            if let Some(at) = entry.holders.iter().rposition(|&h| h == (txn, mode)) {
                entry.holders.remove(at);
            }
        }
        stripe.remove_if_unused(key);
        drop(stripe);
        if stripe_wake {
            stripe_changed.notify_all();
        }
        let wake = table.waiters > 0;
        drop(table);
        if wake {
            self.ranges_changed.notify_all();
        }
        false
    }

    /// Whether a transaction other than `txn` holds an exclusive lock on a
    /// key in `[start, end)`. Called with the range table locked (the one
    /// order in which the two kinds of lock nest: table, then stripe).
    fn exclusive_in_range(&self, start: &[u8], end: Option<&[u8]>, txn: TxnId) -> bool {
        self.stripes.iter().any(|(stripe, _)| {
            lock(stripe).keys.iter().any(|(key, entry)| {
                in_range(key, start, end) && entry.holders.iter().any(|&(t, m)| t != txn && m == LockMode::Exclusive)
            })
        })
    }

    fn acquire_range(
        &self,
        txn: TxnId,
        start: &[u8],
        end: Option<&[u8]>,
        deadline: Option<Instant>,
    ) -> Result<(), LockError> {
        let mut waited: Option<Instant> = None;
        // Counted before looking through the stripes (see the module
        // comment); uncounted again on failure, or when the range is
        // released.
        self.ranges_active.fetch_add(1, Ordering::SeqCst);
        let mut table = lock(&self.ranges);
        while table.pending_in_range(start, end) || self.exclusive_in_range(start, end, txn) {
            if deadline.is_some() {
                waited.get_or_insert_with(Instant::now);
            }
            match wait_until(&self.ranges_changed, table, deadline) {
                Some(t) => table = t,
                None => {
                    self.ranges_active.fetch_sub(1, Ordering::SeqCst);
                    self.note_wait(waited);
                    return Err(LockError::Timeout { key: start.to_vec() });
                }
            }
        }
        table.ranges.push((start.to_vec(), end.map(<[u8]>::to_vec), txn));
        drop(table);
        self.note_wait(waited);
        Ok(())
    }

    /// Releases every lock of a transaction and wakes waiters.
    pub fn release(&self, held: HeldLocks) {
        let txn = held.txn;
        let mut any_exclusive = false;
        for (key, mode) in &held.keys {
            let (stripe_lock, changed) = self.stripe(key);
            let mut stripe = lock(stripe_lock);
            remove_holder(&mut stripe, key, txn);
            let wake = stripe.waiters > 0;
            drop(stripe);
            if wake {
                changed.notify_all();
            }
            any_exclusive |= *mode == LockMode::Exclusive;
        }
        // A range request that found one of these keys waits for it on
        // `ranges_changed`, and counted itself in `ranges_active` before it
        // looked (see the module comment).
        let ranges_waiting = any_exclusive && self.ranges_active.load(Ordering::SeqCst) > 0;
        if held.ranges > 0 || ranges_waiting {
            let mut table = lock(&self.ranges);
            let before = table.ranges.len();
            table.ranges.retain(|(_, _, t)| *t != txn);
            let released = before - table.ranges.len();
            debug_assert_eq!(released, held.ranges, "a transaction's ranges are all in the table");
            self.ranges_active.fetch_sub(released, Ordering::SeqCst);
            let wake = table.waiters > 0;
            drop(table);
            if wake {
                self.ranges_changed.notify_all();
            }
        }
    }
}

/// Removes `txn` from the holders of `key` in `stripe`, and the key's entry
/// once nobody holds or waits for it.
fn remove_holder(stripe: &mut Stripe, key: &[u8], txn: TxnId) {
    if let Some(entry) = stripe.keys.get_mut(key) {
        entry.holders.retain(|&(t, _)| t != txn);
    }
    stripe.remove_if_unused(key);
}

fn unregister_pending(table: &mut RangeTable, key: &[u8]) {
    if let Some(n) = table.pending.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            table.pending.remove(key);
        }
    }
}

/// Waits on `cv` until notified or `deadline`; `None` on timeout, and at
/// once without a deadline (a caller that must not wait).
///
/// Counted in the table's waiters while it waits, so that a change wakes
/// the condition variable only when someone waits on it. (A missed wake-up
/// would cost at most the 50 ms re-check below, never a hang.)
fn wait_until<'a, T: Waited>(
    cv: &Condvar,
    mut guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
) -> Option<MutexGuard<'a, T>> {
    let deadline = deadline?;
    let now = Instant::now();
    if now >= deadline {
        return None;
    }
    *guard.waiters() += 1;
    let (mut guard, _) = cv
        .wait_timeout(guard, (deadline - now).min(Duration::from_millis(50)))
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *guard.waiters() -= 1;
    Some(guard)
}
