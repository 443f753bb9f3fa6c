//! The memtable: committed changes not yet in a checkpoint.
//!
//! A lock-free skip list ordered by (key ascending, LSN descending), so
//! that every committed version of a key sits together, newest first. A
//! reader with snapshot LSN `s` sees, for each key, the newest version with
//! LSN ≤ `s`: reads never block writers, and a range scan sees one
//! consistent snapshot even while commits continue.
//!
//! Invariant: versions are inserted under the commit lock in LSN order,
//! and every version of one transaction has the same LSN (its commit's).
//!
//! The skip list is crossbeam's `base` one, read under an epoch guard:
//! entries borrowed for the guard's life, without the reference count a
//! `SkipMap` entry takes and gives back on its node (two atomic writes to
//! a shared cache line per lookup). Nothing is removed from a memtable
//! (it is dropped whole after its checkpoint) except a version replaced by
//! one of the same key and LSN (a batch writing a key twice), so a guard
//! held over a long iteration delays almost no reclamation.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};

use crossbeam_epoch as epoch;
use crossbeam_skiplist::base::SkipList;
use jubilant_format::Lsn;

use crate::btree::node::key_prefix16;

/// A skip-list key: a user key and the LSN of one of its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemKey {
    /// The key's first 16 bytes, zero-padded, kept in the skip-list node
    /// itself: read as a big-endian integer they order keys wherever they
    /// differ (where one key ends and the other has a byte, the shorter is
    /// a prefix of the longer, and padding is the lowest byte), so most
    /// comparisons of a search end here without following a pointer (a
    /// cache miss per level otherwise). Sixteen, not eight: keys such as
    /// `user:000000123456` share their first 8 bytes, and a memtable
    /// cannot know which bytes its keys share.
    head: [u8; HEAD],
    /// A key of more than [`HEAD`] bytes, whole. A shorter one is
    /// `head[..short_len]`, with no allocation of its own to free (or to
    /// follow when a checkpoint reads the keys in order).
    long: Option<Box<[u8]>>,
    short_len: u8,
    lsn: u64,
}

/// Keys up to this long live in [`MemKey::head`].
const HEAD: usize = 16;

/// The first [`HEAD`] bytes of `key`, zero-padded, and how many of them
/// are the key's.
fn head_of(key: &[u8]) -> ([u8; HEAD], u8) {
    let mut head = [0u8; HEAD];
    let n = key.len().min(HEAD);
    if let (Some(dst), Some(src)) = (head.get_mut(..n), key.get(..n)) {
        dst.copy_from_slice(src);
    }
    // n ≤ HEAD = 16 fits a byte.
    (head, n as u8)
}

impl MemKey {
    fn new(key: &[u8], lsn: u64) -> MemKey {
        let (head, short_len) = head_of(key);
        MemKey { head, long: (key.len() > HEAD).then(|| key.into()), short_len, lsn }
    }

    /// `key`, keeping its allocation only when it is too long for the head.
    fn from_box(key: Box<[u8]>, lsn: u64) -> MemKey {
        let (head, short_len) = head_of(&key);
        MemKey { head, long: (key.len() > HEAD).then_some(key), short_len, lsn }
    }

    /// The user key.
    fn key(&self) -> &[u8] {
        match &self.long {
            Some(key) => key,
            None => self.head.get(..usize::from(self.short_len)).unwrap_or_default(),
        }
    }
}

impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Head order agrees with key order wherever heads differ.
        key_prefix16(&self.head)
            .cmp(&key_prefix16(&other.head))
            .then_with(|| self.key().cmp(other.key()))
            .then_with(|| other.lsn.cmp(&self.lsn))
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What one version of a key says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemOp {
    /// The key has this value.
    Put {
        /// The value.
        value: Vec<u8>,
        /// Absolute expiry in ms since the Unix epoch.
        expires_at_unix_ms: Option<u64>,
    },
    /// The key has a value in the value log.
    PutRef {
        /// Where the value is.
        value_ref: jubilant_format::ValueRef,
        /// Absolute expiry in ms since the Unix epoch.
        expires_at_unix_ms: Option<u64>,
    },
    /// The key was deleted.
    Delete,
}

/// One visible version, as returned by lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemEntry {
    /// The key.
    pub key: Vec<u8>,
    /// LSN of the commit that wrote this version.
    pub lsn: Lsn,
    /// The version.
    pub op: MemOp,
}

/// Bytes of bookkeeping counted per version on top of key and value, so
/// that the dirty-byte budget reflects real memory.
const VERSION_OVERHEAD: usize = 96;

/// The memtable.
#[derive(Debug)]
pub struct Memtable {
    map: SkipList<MemKey, MemOp>,
    /// Every key ever inserted, for point lookups of absent keys.
    filter: KeyFilter,
    bytes: AtomicUsize,
    max_lsn: AtomicU64,
}

/// A Bloom filter of the keys in a memtable, so that a point lookup of a
/// key the memtable does not hold usually skips the skip-list search (a
/// cache miss per level: most of a read's cost with a large memtable).
///
/// Blocked: a key sets 4 bits of one 64-bit word, so a lookup costs one
/// cache miss. Sized from the dirty-byte budget: a memtable holds at most
/// about `dirty_bytes_max` bytes, each version counting at least
/// [`VERSION_OVERHEAD`] + key bytes, so one bit per 16 budget bytes gives
/// 6+ bits per key (about 1/128 of the budget in memory).
///
/// Inserts set bits before the version enters the skip list; a reader
/// that sees a version visible at its snapshot (published by a Release
/// store of the visible LSN, read with Acquire) therefore sees its bits.
#[derive(Debug)]
struct KeyFilter {
    /// A power-of-two number of words.
    words: Box<[AtomicU64]>,
}

impl Default for KeyFilter {
    fn default() -> Self {
        KeyFilter::new(1 << 16)
    }
}

impl KeyFilter {
    /// A filter of at least `bits` bits (within 4 KiB ..= 8 MiB).
    fn new(bits: usize) -> KeyFilter {
        let words = (bits / 64).clamp(1 << 9, 1 << 20).next_power_of_two();
        KeyFilter { words: (0..words).map(|_| AtomicU64::new(0)).collect() }
    }

    /// The word of `key` and the bits it sets in it.
    fn probe(&self, key: &[u8]) -> (usize, u64) {
        let h = hash64(key);
        // `words.len()` is a power of two; the high half picks the word,
        // the low 24 bits the 4 bits in it.
        let index = (h >> 32) as usize & (self.words.len() - 1);
        let mask = (0..4).fold(0u64, |m, i| m | 1 << ((h >> (i * 6)) & 63));
        (index, mask)
    }

    fn insert(&self, key: &[u8]) {
        let (index, mask) = self.probe(key);
        if let Some(word) = self.words.get(index) {
            word.fetch_or(mask, AtomicOrdering::Relaxed);
        }
    }

    /// False only if `key` was never inserted.
    fn may_contain(&self, key: &[u8]) -> bool {
        let (index, mask) = self.probe(key);
        self.words.get(index).is_none_or(|w| w.load(AtomicOrdering::Relaxed) & mask == mask)
    }
}

/// A 64-bit hash of `key` with every bit mixed (FxHash-style rounds over
/// 8-byte words, the length folded in, then MurmurHash3's finalizer).
fn hash64(key: &[u8]) -> u64 {
    let mut h = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    let mut tail = [0u8; 8];
    for (dst, src) in tail.iter_mut().zip(chunks.remainder()) {
        *dst = *src;
    }
    h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(0x517c_c1b7_2722_0a95);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Default for Memtable {
    fn default() -> Memtable {
        Memtable::new()
    }
}

impl Memtable {
    /// An empty memtable with a small key filter (tests, tools).
    #[must_use]
    pub fn new() -> Memtable {
        Memtable::with_filter(KeyFilter::default())
    }

    fn with_filter(filter: KeyFilter) -> Memtable {
        Memtable {
            map: SkipList::new(epoch::default_collector().clone()),
            filter,
            bytes: AtomicUsize::new(0),
            max_lsn: AtomicU64::new(0),
        }
    }

    /// An empty memtable whose key filter suits a dirty-byte budget of
    /// `dirty_bytes_max` (see `KeyFilter`).
    #[must_use]
    pub fn for_budget(dirty_bytes_max: usize) -> Memtable {
        Memtable::with_filter(KeyFilter::new(dirty_bytes_max / 16))
    }

    /// Adds a version. Callers insert in LSN order (see the module
    /// invariant).
    pub fn insert(&self, key: &[u8], lsn: Lsn, op: MemOp) {
        self.insert_owned(key.into(), lsn, op);
    }

    /// [`Memtable::insert`] of a key the caller gives away.
    pub fn insert_owned(&self, key: Box<[u8]>, lsn: Lsn, op: MemOp) {
        let size = key.len()
            + VERSION_OVERHEAD
            + match &op {
                MemOp::Put { value, .. } => value.len(),
                MemOp::PutRef { .. } => 24,
                MemOp::Delete => 0,
            };
        // The filter first: see `KeyFilter`.
        self.filter.insert(&key);
        let guard = &epoch::pin();
        let key = MemKey::from_box(key, lsn.get());
        self.map.insert(key, op, guard).release(guard);
        self.bytes.fetch_add(size, AtomicOrdering::Relaxed);
        self.max_lsn.fetch_max(lsn.get(), AtomicOrdering::Relaxed);
    }

    /// Approximate memory held.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes.load(AtomicOrdering::Relaxed)
    }

    /// Whether no version is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of versions held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The highest LSN inserted.
    #[must_use]
    pub fn max_lsn(&self) -> Lsn {
        Lsn(self.max_lsn.load(AtomicOrdering::Relaxed))
    }

    /// The newest version of `key` with LSN ≤ `snapshot`.
    #[must_use]
    pub fn get(&self, key: &[u8], snapshot: Lsn) -> Option<MemEntry> {
        self.with(key, snapshot, |lsn, op| MemEntry { key: key.to_vec(), lsn, op: op.clone() })
    }

    /// Calls `f` with the newest version ≤ `snapshot` of `key` (its LSN
    /// and operation, borrowed: nothing is copied), if there is one.
    pub fn with<R>(&self, key: &[u8], snapshot: Lsn, f: impl FnOnce(Lsn, &MemOp) -> R) -> Option<R> {
        if self.map.is_empty() || !self.filter.may_contain(key) {
            return None;
        }
        let probe = MemKey::new(key, snapshot.get());
        let guard = &epoch::pin();
        let entry = self.map.lower_bound(Bound::Included(&probe), guard)?;
        (entry.key().key() == key).then(|| f(Lsn(entry.key().lsn), entry.value()))
    }

    /// Up to `limit` visible entries (newest version ≤ `snapshot` of each
    /// key, tombstones included) with keys in `(from, to)` — bounds as
    /// given — in ascending order, or descending when `reverse`. Returns
    /// whether the limit cut the result short.
    #[must_use]
    pub fn chunk(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        snapshot: Lsn,
        limit: usize,
        reverse: bool,
    ) -> (Vec<MemEntry>, bool) {
        let mut out = Vec::new();
        if self.map.is_empty() || limit == 0 {
            return (out, false);
        }
        // All versions of a key lie between (key, MAX) and (key, 0).
        let lower = match from {
            Bound::Included(k) => Bound::Included(MemKey::new(k, u64::MAX)),
            Bound::Excluded(k) => Bound::Excluded(MemKey::new(k, 0)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let upper = match to {
            Bound::Included(k) => Bound::Included(MemKey::new(k, 0)),
            Bound::Excluded(k) => Bound::Excluded(MemKey::new(k, u64::MAX)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let guard = &epoch::pin();
        let range = self.map.range((lower, upper), guard);
        if !reverse {
            // Entries borrow from the list for the guard's life.
            let mut last: Option<&[u8]> = None;
            for e in range {
                let k = e.key();
                if k.lsn > snapshot.get() || last == Some(k.key()) {
                    continue;
                }
                if out.len() == limit {
                    return (out, true);
                }
                last = Some(k.key());
                out.push(MemEntry { key: k.key().to_vec(), lsn: Lsn(k.lsn), op: e.value().clone() });
            }
        } else {
            // Backwards, a key's versions come oldest first: the visible one
            // is the last with LSN ≤ snapshot before the key changes.
            let mut pending: Option<MemEntry> = None;
            for e in range.rev() {
                let k = e.key();
                if pending.as_ref().is_some_and(|p| p.key.as_slice() != k.key()) {
                    if out.len() == limit {
                        return (out, true);
                    }
                    out.extend(pending.take());
                }
                if k.lsn <= snapshot.get() {
                    pending = Some(MemEntry { key: k.key().to_vec(), lsn: Lsn(k.lsn), op: e.value().clone() });
                }
            }
            if let Some(p) = pending {
                if out.len() == limit {
                    return (out, true);
                }
                out.push(p);
            }
        }
        (out, false)
    }

    /// The newest version of every key, in key order: what a checkpoint
    /// writes into the tree.
    #[must_use]
    pub fn latest(&self) -> Vec<MemEntry> {
        self.latest_map(|key, lsn, op| MemEntry { key: key.to_vec(), lsn, op: op.clone() })
    }

    /// `f` applied to the newest version of every key, in key order
    /// (one pass, one copy: a checkpoint builds its changes this way).
    pub fn latest_map<T>(&self, mut f: impl FnMut(&[u8], Lsn, &MemOp) -> T) -> Vec<T> {
        // One allocation (one version per key is the common case) instead
        // of ~20 doubling reallocations of a large checkpoint's changes,
        // each copying all so far into freshly faulted memory.
        let mut out = Vec::with_capacity(self.map.len());
        let mut last: Option<&[u8]> = None;
        // Entries borrow from the list for the guard's life.
        let guard = &epoch::pin();
        for e in self.map.iter(guard) {
            let k = e.key();
            if last == Some(k.key()) {
                continue;
            }
            last = Some(k.key());
            out.push(f(k.key(), Lsn(k.lsn), e.value()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The head shortcut never changes the order: keys, then newest
        /// version first — for keys sharing up to 20 bytes, of every
        /// length around 8 and 16, zero bytes included; and a key kept in
        /// the head or whole, borrowed or given, reads back as itself.
        #[test]
        fn mem_key_order_is_key_then_newest_first(
            a in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0u8), 1u8..3], 0..20),
            b in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0u8), 1u8..3], 0..20),
            la in 0u64..3,
            lb in 0u64..3,
        ) {
            let expected = a.cmp(&b).then(lb.cmp(&la));
            let (ka, kb) = (MemKey::new(&a, la), MemKey::from_box(b.clone().into(), lb));
            proptest::prop_assert_eq!(ka.cmp(&kb), expected);
            proptest::prop_assert_eq!(ka == kb, expected == Ordering::Equal);
            proptest::prop_assert_eq!(ka.key(), &a[..]);
            proptest::prop_assert_eq!(kb.key(), &b[..]);
            proptest::prop_assert_eq!(MemKey::from_box(a.clone().into(), la), ka);
        }
    }

    #[test]
    fn the_key_filter_never_hides_a_key_and_skips_most_absent_ones() {
        let m = Memtable::for_budget(1 << 20);
        let key = |i: u32| format!("key:{i:012}").into_bytes();
        for i in (0..20_000).step_by(2) {
            m.insert(&key(i), Lsn(u64::from(i) + 1), put(b"v"));
        }
        for i in (0..20_000).step_by(2) {
            assert!(m.get(&key(i), Lsn(u64::MAX)).is_some(), "key {i} hidden");
        }
        let passed = (1..20_000).step_by(2).filter(|&i| m.filter.may_contain(&key(i))).count();
        // 10,000 keys in 64 Ki bits: a few percent pass; a broken hash
        // (correlated word and bits) lets most through.
        assert!(passed < 1_000, "{passed} of 10,000 absent keys passed the filter");
        for i in (1..20_000).step_by(2) {
            assert!(m.get(&key(i), Lsn(u64::MAX)).is_none());
        }
    }

    fn put(v: &[u8]) -> MemOp {
        MemOp::Put { value: v.to_vec(), expires_at_unix_ms: None }
    }

    #[test]
    fn snapshot_reads_see_the_newest_version_at_or_below_the_snapshot() {
        let m = Memtable::new();
        m.insert(b"a", Lsn(1), put(b"1"));
        m.insert(b"a", Lsn(5), put(b"5"));
        m.insert(b"a", Lsn(9), MemOp::Delete);
        assert_eq!(m.get(b"a", Lsn(0)), None);
        assert_eq!(m.get(b"a", Lsn(4)).unwrap().op, put(b"1"));
        assert_eq!(m.get(b"a", Lsn(8)).unwrap().op, put(b"5"));
        assert_eq!(m.get(b"a", Lsn(9)).unwrap().op, MemOp::Delete);
        assert_eq!(m.get(b"b", Lsn(9)), None);
        assert_eq!(m.get(b"", Lsn(9)), None);
    }

    #[test]
    fn chunks_forward_and_backward_with_bounds_and_limits() {
        let m = Memtable::new();
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            m.insert(*k, Lsn(i as u64 + 1), put(b"old"));
            m.insert(*k, Lsn(i as u64 + 10), put(b"new"));
        }
        let keys = |v: Vec<MemEntry>| v.into_iter().map(|e| (e.key, e.lsn.get())).collect::<Vec<_>>();
        let (all, more) = m.chunk(Bound::Unbounded, Bound::Unbounded, Lsn(100), 10, false);
        assert!(!more);
        assert_eq!(keys(all), vec![(b"a".to_vec(), 10), (b"b".to_vec(), 11), (b"c".to_vec(), 12), (b"d".to_vec(), 13)]);
        let (old, _) = m.chunk(Bound::Excluded(b"a"), Bound::Included(b"c"), Lsn(11), 10, false);
        assert_eq!(keys(old), vec![(b"b".to_vec(), 11), (b"c".to_vec(), 3)]);
        let (rev, more) = m.chunk(Bound::Unbounded, Bound::Excluded(b"d"), Lsn(11), 2, true);
        assert!(more);
        assert_eq!(keys(rev), vec![(b"c".to_vec(), 3), (b"b".to_vec(), 11)]);
        let (latest, _) = (m.latest(), ());
        assert_eq!(latest.len(), 4);
        assert!(latest.iter().all(|e| e.lsn.get() >= 10));
    }
}
