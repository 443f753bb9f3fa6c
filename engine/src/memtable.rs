//! The memtable: committed changes not yet in a checkpoint.
//!
//! Every version sits in one append-only list (`versions`), in the order
//! inserted, linked to the previous version of its key. Two structures
//! find them:
//!
//! - **A hash index** from each key to its newest version (open
//!   addressing, one `AtomicU64` per slot: one writer, lock-free readers).
//!   A point lookup is a probe and a walk down the key's versions to the
//!   newest one at or below its snapshot: about two cache misses, where
//!   the skip list this replaced took one per level (~19 at 300k keys)
//!   for every insert and every lookup — a fifth of a served SET's CPU.
//! - **An ordered view** for range scans: the keys, sorted lazily into
//!   runs when a scan asks (writes pay nothing for order), each new run
//!   merged into the one before while it is at least half its size, so a
//!   scan merges O(log n) runs. A checkpoint sorts the versions once
//!   ([`Memtable::latest_map`]).
//!
//! A reader with snapshot LSN `s` sees, for each key, the newest version
//! with LSN ≤ `s`: reads never block writers, and a range scan sees one
//! consistent snapshot even while commits continue.
//!
//! Invariant: versions are inserted under the commit lock in LSN order,
//! and every version of one transaction has the same LSN (its commit's);
//! inserts are serialized by the memtable's writer lock besides. A reader
//! learns of versions through the visible LSN, stored with Release after
//! the versions of its commit are in and read with Acquire; so every
//! version at or below a reader's snapshot, and every index table the
//! writer had grown to before inserting it, is visible to that reader.
//!
//! Nothing is removed from a memtable: it is dropped whole after its
//! checkpoint. A key written twice by one batch keeps both versions; the
//! later one (same LSN) is found first.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use jubilant_format::Lsn;

use crate::btree::node::key_prefix16;

/// A user key as a version holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MemKey {
    /// The key's first 16 bytes, zero-padded: read as a big-endian integer
    /// they order keys wherever they differ (where one key ends and the
    /// other has a byte, the shorter is a prefix of the longer, and padding
    /// is the lowest byte), so sorting compares them inline.
    head: [u8; HEAD],
    /// A key of more than [`HEAD`] bytes, whole. A shorter one is
    /// `head[..short_len]`, with no allocation of its own.
    long: Option<Box<[u8]>>,
    short_len: u8,
}

/// Keys up to this long live in [`MemKey::head`].
const HEAD: usize = 16;

impl MemKey {
    /// `key`, keeping its allocation only when it is too long for the head.
    fn from_box(key: Box<[u8]>) -> MemKey {
        let mut head = [0u8; HEAD];
        let n = key.len().min(HEAD);
        if let (Some(dst), Some(src)) = (head.get_mut(..n), key.get(..n)) {
            dst.copy_from_slice(src);
        }
        // n ≤ HEAD = 16 fits a byte.
        MemKey { head, long: (key.len() > HEAD).then_some(key), short_len: n as u8 }
    }

    /// The user key.
    fn key(&self) -> &[u8] {
        match &self.long {
            Some(key) => key,
            None => self.head.get(..usize::from(self.short_len)).unwrap_or_default(),
        }
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

/// One version in the list.
#[derive(Debug)]
struct Version {
    key: MemKey,
    lsn: u64,
    /// The index + 1 of the key's previous version; 0 for its first.
    older: u64,
    op: MemOp,
}

/// Bytes of bookkeeping counted per version on top of key and value, so
/// that the dirty-byte budget reflects real memory: the version in the
/// list (with the list's per-entry flag) and its key's index slots (the
/// index is between a quarter and half full: two to four 8-byte slots per
/// key).
const VERSION_OVERHEAD: usize = std::mem::size_of::<Version>() + 8 + 24;

/// The memtable.
#[derive(Debug)]
pub struct Memtable {
    /// Every version, in the order inserted (LSN order).
    versions: boxcar::Vec<Version>,
    /// Key → its newest version. Replaced by a table twice the size when
    /// half full; a reader holding the old one still finds every version
    /// inserted before the swap (see the module invariant).
    index: ArcSwap<Table>,
    /// The first version of each key, in the order the keys arrived: what
    /// the ordered view sorts.
    keys: boxcar::Vec<usize>,
    /// Serializes inserts (one writer for the index); holds how many keys
    /// the index has.
    writer: Mutex<usize>,
    /// The ordered view, brought up to date by the scan that needs it.
    view: Mutex<View>,
    bytes: AtomicUsize,
    max_lsn: AtomicU64,
    /// Whether any version has an expiry (the TTL sweeper leaves a
    /// memtable without one out of its scans).
    expiring: AtomicBool,
}

/// An index table: `2^bits` slots, each 0 (empty) or a version's index + 1
/// in the low [`TAG_SHIFT`] bits under the top 24 bits of its key's hash
/// (most probes of other keys end there, without reading a version). A
/// key's probe starts at the slot named by the top `bits` bits of its hash
/// and goes up (wrapping) to the first empty slot; at most half the slots
/// are full, so one is always found.
#[derive(Debug)]
struct Table {
    slots: Box<[AtomicU64]>,
    bits: u32,
}

/// Bits of a slot below the hash tag: a version index + 1 (a memtable
/// never holds 2^40 versions: each takes at least [`VERSION_OVERHEAD`]
/// bytes of memory).
const TAG_SHIFT: u32 = 40;
const SLOT_INDEX: u64 = (1 << TAG_SHIFT) - 1;

/// A new memtable's index has 2^this slots.
const MIN_TABLE_BITS: u32 = 10;

impl Table {
    fn new(bits: u32) -> Table {
        Table { slots: std::iter::repeat_with(|| AtomicU64::new(0)).take(1 << bits).collect(), bits }
    }

    /// Where the probe for `hash` starts.
    fn home(&self, hash: u64) -> usize {
        (hash >> (64 - self.bits)) as usize
    }

    fn next(&self, i: usize) -> usize {
        (i + 1) & (self.slots.len() - 1)
    }
}

/// A slot's version index.
fn slot_index(slot: u64) -> Option<usize> {
    usize::try_from((slot & SLOT_INDEX).checked_sub(1)?).ok()
}

/// The ordered view: the first `covered` keys of [`Memtable::keys`],
/// sorted into runs, each at most half the size of the one before.
#[derive(Debug, Default)]
struct View {
    covered: usize,
    runs: Vec<Arc<[Pos]>>,
}

/// A version's place in key order: the key's first 16 bytes inline, then
/// its length class (the length up to 16; 17 for a longer key) and the
/// version's index. Most comparisons end inline; only two long keys with
/// the same first 16 bytes read their versions. 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Pos {
    hi: u64,
    lo: u64,
    /// Length class above [`CLASS_SHIFT`], version index below.
    tail: u64,
}

const CLASS_SHIFT: u32 = 56;
const LONG_CLASS: u64 = HEAD as u64 + 1;

impl Pos {
    fn new(key: &MemKey, index: usize) -> Pos {
        let prefix = key_prefix16(&key.head);
        let class = if key.long.is_some() { LONG_CLASS } else { u64::from(key.short_len) };
        Pos { hi: (prefix >> 64) as u64, lo: prefix as u64, tail: class << CLASS_SHIFT | index as u64 }
    }

    /// The position of a key that is not in the list (a scan bound).
    fn probe(key: &[u8]) -> Pos {
        Pos::new(&MemKey::from_box(key.into()), 0)
    }

    fn class(self) -> u64 {
        self.tail >> CLASS_SHIFT
    }

    fn index(self) -> usize {
        (self.tail & ((1 << CLASS_SHIFT) - 1)) as usize
    }
}

/// Key order of two positions: inline first; the whole keys (read only
/// then) when both are long with the same first 16 bytes.
fn key_order<'k>(a: Pos, b: Pos, a_key: impl FnOnce() -> &'k [u8], b_key: impl FnOnce() -> &'k [u8]) -> Ordering {
    (a.hi, a.lo, a.class())
        .cmp(&(b.hi, b.lo, b.class()))
        .then_with(|| if a.class() == LONG_CLASS { a_key().cmp(b_key()) } else { Ordering::Equal })
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
    /// An empty memtable (its index grows as keys arrive).
    #[must_use]
    pub fn new() -> Memtable {
        Memtable {
            versions: boxcar::Vec::new(),
            index: ArcSwap::from_pointee(Table::new(MIN_TABLE_BITS)),
            keys: boxcar::Vec::new(),
            writer: Mutex::new(0),
            view: Mutex::new(View::default()),
            bytes: AtomicUsize::new(0),
            max_lsn: AtomicU64::new(0),
            expiring: AtomicBool::new(false),
        }
    }

    /// Whether a version inserted so far has an expiry.
    pub fn has_expiring(&self) -> bool {
        self.expiring.load(AtomicOrdering::Acquire)
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
        if let MemOp::Put { expires_at_unix_ms: Some(_), .. } | MemOp::PutRef { expires_at_unix_ms: Some(_), .. } = op
            && !self.expiring.load(AtomicOrdering::Relaxed)
        {
            self.expiring.store(true, AtomicOrdering::Release);
        }
        let hash = hash64(&key);
        let tag = hash >> TAG_SHIFT;
        let mut keys = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if (*keys + 1) * 2 > self.index.load().slots.len() {
            self.grow();
        }
        // Only this thread (holding `writer`) changes the index, so what
        // it reads here stays true until it stores.
        let table = self.index.load();
        let (slot, older) = {
            let mut i = table.home(hash);
            loop {
                let Some(slot) = table.slots.get(i) else { return };
                let current = slot.load(AtomicOrdering::Relaxed);
                if current == 0 {
                    break (slot, 0);
                }
                if current >> TAG_SHIFT == tag && self.version(current).is_some_and(|v| v.key.key() == &*key) {
                    break (slot, current & SLOT_INDEX);
                }
                i = table.next(i);
            }
        };
        debug_assert!(
            slot_index(older).and_then(|i| self.versions.get(i)).is_none_or(|v| v.lsn <= lsn.get()),
            "memtable versions inserted out of LSN order"
        );
        let index = self.versions.push(Version { key: MemKey::from_box(key), lsn: lsn.get(), older, op });
        // Below 2^40 (see `SLOT_INDEX`).
        slot.store(tag << TAG_SHIFT | (index as u64 + 1), AtomicOrdering::Release);
        if older == 0 {
            *keys += 1;
            self.keys.push(index);
        }
        drop(keys);
        self.bytes.fetch_add(size, AtomicOrdering::Relaxed);
        self.max_lsn.fetch_max(lsn.get(), AtomicOrdering::Relaxed);
    }

    /// Replaces the index with one twice the size. The caller holds
    /// `writer`.
    fn grow(&self) {
        let old = self.index.load_full();
        let new = Table::new(old.bits + 1);
        for slot in &old.slots {
            let current = slot.load(AtomicOrdering::Relaxed);
            if current == 0 {
                continue;
            }
            // Up to 2^24 slots the tag holds the top bits the probe starts
            // from; past that the key is hashed again.
            let mut i = if new.bits <= 24 {
                (current >> TAG_SHIFT >> (24 - new.bits)) as usize
            } else {
                match self.version(current) {
                    Some(v) => new.home(hash64(v.key.key())),
                    None => continue,
                }
            };
            while let Some(s) = new.slots.get(i) {
                if s.load(AtomicOrdering::Relaxed) == 0 {
                    s.store(current, AtomicOrdering::Relaxed);
                    break;
                }
                i = new.next(i);
            }
        }
        // The swap publishes the new table's slots to readers that load it.
        self.index.store(Arc::new(new));
    }

    /// The version a slot names.
    fn version(&self, slot: u64) -> Option<&Version> {
        self.versions.get(slot_index(slot)?)
    }

    /// The newest version of `key`.
    fn newest(&self, key: &[u8]) -> Option<&Version> {
        let hash = hash64(key);
        let tag = hash >> TAG_SHIFT;
        let table = self.index.load();
        let mut i = table.home(hash);
        loop {
            let current = table.slots.get(i)?.load(AtomicOrdering::Acquire);
            if current == 0 {
                return None;
            }
            if current >> TAG_SHIFT == tag
                && let Some(v) = self.version(current)
                && v.key.key() == key
            {
                return Some(v);
            }
            i = table.next(i);
        }
    }

    /// The newest version at or below `snapshot`, from `v` down.
    fn visible<'a>(&'a self, mut v: &'a Version, snapshot: Lsn) -> Option<&'a Version> {
        while v.lsn > snapshot.get() {
            v = self.version(v.older)?;
        }
        Some(v)
    }

    /// Approximate memory held.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes.load(AtomicOrdering::Relaxed)
    }

    /// Whether no version is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Number of versions held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.versions.count()
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
        // Most reads of a checkpointed store meet an empty memtable: no
        // hashing, no index.
        if self.is_empty() {
            return None;
        }
        let v = self.visible(self.newest(key)?, snapshot)?;
        Some(f(Lsn(v.lsn), &v.op))
    }

    /// The key of the version at `index`.
    fn key_at(&self, index: usize) -> &[u8] {
        self.versions.get(index).map(|v| v.key.key()).unwrap_or_default()
    }

    /// Key order, then version order.
    fn pos_order(&self, a: Pos, b: Pos) -> Ordering {
        key_order(a, b, || self.key_at(a.index()), || self.key_at(b.index())).then(a.index().cmp(&b.index()))
    }

    /// Order of a position's key against `key`.
    fn cmp_key(&self, p: Pos, key: &[u8]) -> Ordering {
        key_order(p, Pos::probe(key), || self.key_at(p.index()), || key)
    }

    /// The ordered view's runs, brought up to date with every key inserted
    /// so far.
    fn sorted_runs(&self) -> Vec<Arc<[Pos]>> {
        let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
        let n = self.keys.count();
        if n > view.covered {
            let mut run = Vec::with_capacity(n - view.covered);
            while view.covered < n {
                let Some(v) = self.keys.get(view.covered).and_then(|&i| Some((i, self.versions.get(i)?))) else {
                    break;
                };
                run.push(Pos::new(&v.1.key, v.0));
                view.covered += 1;
            }
            run.sort_unstable_by(|a, b| self.pos_order(*a, *b));
            view.runs.push(run.into());
            // Each run at most half the one before: O(log n) runs.
            while let [.., a, b] = view.runs.as_slice()
                && a.len() <= 2 * b.len()
            {
                let merged = self.merge(a, b);
                let keep = view.runs.len() - 2;
                view.runs.truncate(keep);
                view.runs.push(merged);
            }
        }
        view.runs.clone()
    }

    /// Two sorted runs as one.
    fn merge(&self, a: &[Pos], b: &[Pos]) -> Arc<[Pos]> {
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
        while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
            if self.pos_order(x, y) == Ordering::Less {
                out.push(x);
                a.next();
            } else {
                out.push(y);
                b.next();
            }
        }
        out.extend(a);
        out.extend(b);
        out.into()
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
        if self.is_empty() || limit == 0 {
            return (out, false);
        }
        // Each run's keys within the bounds: `start..end`.
        let runs = self.sorted_runs();
        let mut cursors: Vec<(&[Pos], usize, usize)> = runs
            .iter()
            .map(|run| {
                let start = run.partition_point(|p| match from {
                    Bound::Included(k) => self.cmp_key(*p, k) == Ordering::Less,
                    Bound::Excluded(k) => self.cmp_key(*p, k) != Ordering::Greater,
                    Bound::Unbounded => false,
                });
                let end = run.partition_point(|p| match to {
                    Bound::Included(k) => self.cmp_key(*p, k) != Ordering::Greater,
                    Bound::Excluded(k) => self.cmp_key(*p, k) == Ordering::Less,
                    Bound::Unbounded => true,
                });
                (run.as_ref(), start, end.max(start))
            })
            .collect();
        // Runs hold distinct keys: merging them visits each key once.
        loop {
            let mut best: Option<(usize, Pos)> = None;
            for (c, (run, start, end)) in cursors.iter().enumerate() {
                let candidate = if reverse { end.checked_sub(1).filter(|e| e >= start) } else { Some(*start) };
                let Some(p) = candidate.filter(|&i| i < *end).and_then(|i| run.get(i).copied()) else { continue };
                let better = best.is_none_or(|(_, b)| {
                    let order = self.pos_order(p, b);
                    if reverse { order == Ordering::Greater } else { order == Ordering::Less }
                });
                if better {
                    best = Some((c, p));
                }
            }
            let Some((c, p)) = best else { break };
            if let Some((_, start, end)) = cursors.get_mut(c) {
                if reverse {
                    *end -= 1;
                } else {
                    *start += 1;
                }
            }
            let key = self.key_at(p.index());
            let Some(entry) = self.with(key, snapshot, |lsn, op| MemEntry { key: key.to_vec(), lsn, op: op.clone() })
            else {
                continue;
            };
            if out.len() == limit {
                return (out, true);
            }
            out.push(entry);
        }
        (out, false)
    }

    /// The newest version of every key, in key order: what a checkpoint
    /// writes into the tree.
    #[must_use]
    pub fn latest(&self) -> Vec<MemEntry> {
        self.latest_map(|key, lsn, op| MemEntry { key: key.to_vec(), lsn, op: op.clone() })
    }

    /// `f` applied to the newest version of every key, in key order: one
    /// pass over the versions in list order, one sort of 24-byte positions,
    /// one call per key.
    pub fn latest_map<'s, T>(&'s self, mut f: impl FnMut(&'s [u8], Lsn, &'s MemOp) -> T) -> Vec<T> {
        let mut all: Vec<Pos> = Vec::with_capacity(self.versions.count());
        all.extend(self.versions.iter().map(|(i, v)| Pos::new(&v.key, i)));
        all.sort_unstable_by(|a, b| self.pos_order(*a, *b));
        let mut out = Vec::with_capacity(all.len());
        for (i, p) in all.iter().enumerate() {
            // A key's newest version is the last of its positions.
            let same_key_next = all.get(i + 1).is_some_and(|n| {
                key_order(*p, *n, || self.key_at(p.index()), || self.key_at(n.index())) == Ordering::Equal
            });
            if same_key_next {
                continue;
            }
            if let Some(v) = self.versions.get(p.index()) {
                out.push(f(v.key.key(), Lsn(v.lsn), &v.op));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::RangeBounds;

    use proptest::prelude::*;

    use super::*;

    fn put(v: &[u8]) -> MemOp {
        MemOp::Put { value: v.to_vec(), expires_at_unix_ms: None }
    }

    /// Keys that share up to 20 bytes, of every length around 8, 16 and
    /// 17, zero bytes included: where the inline order could go wrong.
    /// Half of them share their first 15 bytes, so that long keys often
    /// share the inline head.
    fn tricky_key() -> impl Strategy<Value = Vec<u8>> {
        let bytes = |n| proptest::collection::vec(prop_oneof![Just(0u8), 1u8..3], n);
        prop_oneof![bytes(0..20), bytes(0..6).prop_map(|tail| [vec![2u8; 15], tail].concat())]
    }

    proptest! {
        /// The inline order is key order for any two keys; versions of one
        /// key order by their place in the list.
        #[test]
        fn positions_order_by_key_then_version(a in tricky_key(), b in tricky_key(), ia in 0usize..3, ib in 0usize..3) {
            let (ka, kb) = (MemKey::from_box(a.clone().into()), MemKey::from_box(b.clone().into()));
            prop_assert_eq!(ka.key(), &a[..]);
            prop_assert_eq!(kb.key(), &b[..]);
            let (pa, pb) = (Pos::new(&ka, ia), Pos::new(&kb, ib));
            prop_assert_eq!(key_order(pa, pb, || &a, || &b), a.cmp(&b));
            prop_assert_eq!(key_order(pa, Pos::probe(&b), || &a, || &b), a.cmp(&b));
            prop_assert_eq!(pa.index(), ia);
        }

        /// Point reads, scans (bounds, snapshots, limits, both directions,
        /// interleaved with writes so that runs are built and merged) and
        /// the checkpoint's view agree with a plain model.
        #[test]
        fn reads_and_scans_agree_with_a_model(
            steps in proptest::collection::vec(
                (tricky_key(), 0u8..4, any::<bool>(), tricky_key(), tricky_key(), 0usize..6, any::<bool>()),
                1..120,
            ),
        ) {
            let m = Memtable::new();
            let mut model: BTreeMap<Vec<u8>, Vec<(u64, MemOp)>> = BTreeMap::new();
            let mut lsn = 0u64;
            for (i, (key, what, bump, from, to, limit, reverse)) in steps.into_iter().enumerate() {
                // Sometimes two writes share an LSN (one batch).
                if bump || lsn == 0 {
                    lsn += 1;
                }
                let op = if what == 0 { MemOp::Delete } else { put(&[what, i as u8]) };
                m.insert(&key, Lsn(lsn), op.clone());
                model.entry(key.clone()).or_default().push((lsn, op));
                let visible = |k: &[u8], s: u64| {
                    model.get(k).and_then(|vs| vs.iter().rev().find(|(l, _)| *l <= s)).map(|(l, op)| (*l, op.clone()))
                };
                let snapshot = lsn.saturating_sub(u64::from(what % 2));
                prop_assert_eq!(m.get(&key, Lsn(snapshot)).map(|e| (e.lsn.get(), e.op)), visible(&key, snapshot));
                prop_assert_eq!(m.get(&from, Lsn(lsn)).map(|e| (e.lsn.get(), e.op)), visible(&from, lsn));
                if i % 3 == 0 {
                    let lower = if what & 1 == 0 { Bound::Included(&from[..]) } else { Bound::Excluded(&from[..]) };
                    let upper = if what & 2 == 0 { Bound::Excluded(&to[..]) } else { Bound::Unbounded };
                    let mut expected: Vec<(Vec<u8>, u64, MemOp)> = model
                        .keys()
                        .filter(|k| (lower, upper).contains(&k[..]))
                        .filter_map(|k| visible(k, snapshot).map(|(l, op)| (k.clone(), l, op)))
                        .collect();
                    if reverse {
                        expected.reverse();
                    }
                    let more = expected.len() > limit;
                    expected.truncate(limit);
                    let (got, got_more) = m.chunk(lower, upper, Lsn(snapshot), limit, reverse);
                    let got: Vec<_> = got.into_iter().map(|e| (e.key, e.lsn.get(), e.op)).collect();
                    prop_assert_eq!(got, expected);
                    prop_assert_eq!(got_more, more && limit > 0);
                }
            }
            let latest: Vec<_> = m.latest().into_iter().map(|e| (e.key, e.lsn.get(), e.op)).collect();
            let expected: Vec<_> = model
                .iter()
                .filter_map(|(k, vs)| vs.last().map(|(l, op)| (k.clone(), *l, op.clone())))
                .collect();
            prop_assert_eq!(latest, expected);
            prop_assert_eq!(m.len(), model.values().map(Vec::len).sum::<usize>());
        }
    }

    #[test]
    fn lookups_find_every_key_across_index_growth_and_skip_absent_ones() {
        let m = Memtable::new();
        let key = |i: u32| format!("key:{i:012}").into_bytes();
        // Long keys too: past the inline head, and all sharing it.
        let long = |i: u32| format!("a-shared-prefix-{i:08}").into_bytes();
        for i in (0..40_000).step_by(2) {
            m.insert(&key(i), Lsn(u64::from(i) + 1), put(b"v"));
            // Long keys arrive out of key order.
            m.insert(&long(39_998 - i), Lsn(u64::from(i) + 1), put(b"w"));
        }
        assert!(m.index.load().bits > MIN_TABLE_BITS + 4, "the index grew");
        for i in (0..40_000).step_by(2) {
            assert_eq!(m.get(&key(i), Lsn(u64::MAX)).map(|e| e.op), Some(put(b"v")), "key {i}");
            assert_eq!(m.get(&long(i), Lsn(u64::MAX)).map(|e| e.op), Some(put(b"w")), "long key {i}");
            assert!(m.get(&key(i), Lsn(u64::from(i))).is_none(), "key {i} before its commit");
            assert!(m.get(&long(39_998 - i), Lsn(u64::from(i))).is_none(), "long key before its commit");
            assert!(m.get(&key(i + 1), Lsn(u64::MAX)).is_none());
            assert!(m.get(&long(i + 1), Lsn(u64::MAX)).is_none());
        }
        let (scan, more) =
            m.chunk(Bound::Included(b"a-shared-prefix-"), Bound::Excluded(b"b"), Lsn(u64::MAX), 5, false);
        assert!(more);
        let keys: Vec<_> = scan.into_iter().map(|e| e.key).collect();
        assert_eq!(keys, [0, 2, 4, 6, 8].map(long));
    }

    /// Readers racing the writer (and the index growing under them) find
    /// every key at or below the LSN the writer published, as the engine
    /// publishes its visible LSN.
    #[test]
    fn readers_racing_inserts_and_growth_see_every_published_version() {
        let m = Memtable::new();
        let visible = AtomicU64::new(0);
        let key = |i: u64| format!("k{i}").into_bytes();
        const N: u64 = 60_000;
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 1..=N {
                    m.insert(&key(i), Lsn(i), put(&i.to_le_bytes()));
                    if i % 3 == 0 {
                        m.insert(&key(i / 3), Lsn(i), put(&i.to_le_bytes()));
                    }
                    visible.store(i, AtomicOrdering::Release);
                }
            });
            for t in 0..2u64 {
                let (m, visible) = (&m, &visible);
                s.spawn(move || {
                    let mut x = t + 1;
                    while visible.load(AtomicOrdering::Acquire) < N {
                        let seen = visible.load(AtomicOrdering::Acquire);
                        if seen == 0 {
                            continue;
                        }
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let i = x % seen + 1;
                        let got = m.get(&key(i), Lsn(seen));
                        assert!(got.is_some_and(|e| e.lsn.get() >= i && e.lsn.get() <= seen), "key {i} at {seen}");
                    }
                });
            }
        });
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
