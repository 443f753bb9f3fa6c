//! The page cache: decoded tree nodes with an explicit byte budget.
//!
//! Sharded by page id; each shard runs CLOCK (second chance) eviction over
//! its entries and keeps its bytes under `budget / shards`. The cache holds
//! only clean nodes (identical to their page on disk): changes live in the
//! memtable until a checkpoint writes new pages, so any entry can be
//! evicted at any time. Nodes are handed out as `Arc`, so a reader keeps
//! a node alive after eviction without copying it, and cached pages are
//! not re-verified on every read (the CRC was checked when they were read).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use jubilant_format::PageId;

use crate::btree::node::Node;
use crate::sync::{read, write};

/// Hashes page ids (already well spread by `shard`) with one multiply,
/// not SipHash: cache lookups are on every read's path.
#[derive(Default)]
struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PageMap<V> = HashMap<PageId, V, BuildHasherDefault<PageHasher>>;

const SHARDS: usize = 16;

/// A cached node, stored in the shard's hash table itself: a lookup
/// finds the node in the table's bucket, with no second indirection.
struct Cached {
    node: Arc<Node>,
    bytes: usize,
    /// Position of the page in the shard's CLOCK ring.
    ring: usize,
    /// Set by readers under the shard's read lock.
    referenced: AtomicBool,
}

/// Counters of one shard, on their own cache line so that threads reading
/// different shards do not contend.
#[derive(Default)]
#[repr(align(64))]
struct ShardCounters {
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct Shard {
    index: PageMap<Cached>,
    /// The cached pages in CLOCK order; `hand` points into it.
    ring: Vec<PageId>,
    hand: usize,
    bytes: usize,
}

impl Shard {
    /// Removes the page at ring position `i`.
    fn remove_at(&mut self, i: usize) {
        if i >= self.ring.len() {
            return;
        }
        let page = self.ring.swap_remove(i);
        if let Some(cached) = self.index.remove(&page) {
            self.bytes -= cached.bytes;
        }
        if let Some(&moved) = self.ring.get(i)
            && let Some(cached) = self.index.get_mut(&moved)
        {
            cached.ring = i;
        }
        if self.hand >= self.ring.len() {
            self.hand = 0;
        }
    }

    /// Whether the page at ring position `i` was read since the hand last
    /// passed, clearing the mark.
    fn take_referenced(&self, i: usize) -> bool {
        self.ring
            .get(i)
            .and_then(|page| self.index.get(page))
            .is_some_and(|c| c.referenced.swap(false, Ordering::Relaxed))
    }
}

/// Counters of the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Lookups that found the node.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Nodes evicted to stay within the budget.
    pub evictions: u64,
    /// Bytes held now.
    pub bytes: u64,
    /// The budget.
    pub budget_bytes: u64,
}

/// The page cache.
pub struct PageCache {
    shards: Vec<RwLock<Shard>>,
    counters: Vec<ShardCounters>,
    shard_budget: AtomicUsize,
    budget: AtomicUsize,
    evictions: AtomicU64,
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache").field("stats", &self.stats()).finish()
    }
}

impl PageCache {
    /// A cache holding at most about `budget` bytes of nodes.
    #[must_use]
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            counters: (0..SHARDS).map(|_| ShardCounters::default()).collect(),
            shard_budget: AtomicUsize::new(budget / SHARDS),
            budget: AtomicUsize::new(budget),
            evictions: AtomicU64::new(0),
        }
    }

    fn shard_index(page: PageId) -> usize {
        // Fibonacci hashing spreads consecutive page ids over the shards.
        let h = page.get().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60;
        h as usize % SHARDS
    }

    fn shard(&self, page: PageId) -> &RwLock<Shard> {
        match self.shards.get(Self::shard_index(page)) {
            Some(s) => s,
            None => unreachable!("shard index below SHARDS"),
        }
    }

    fn count(&self, page: PageId, hit: bool) {
        // Counters are striped by thread as well as by shard, so that two
        // threads reading the same hot page do not share a cache line.
        let stripe = crate::striped::stripe();
        let i = (Self::shard_index(page) + stripe * 7) % self.counters.len().max(1);
        if let Some(c) = self.counters.get(i) {
            if hit {
                c.hits.fetch_add(1, Ordering::Relaxed);
            } else {
                c.misses.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Changes the byte budget, evicting at once down to a smaller one.
    pub fn set_budget(&self, budget: usize) {
        self.budget.store(budget, Ordering::Relaxed);
        let shard_budget = budget / SHARDS;
        self.shard_budget.store(shard_budget, Ordering::Relaxed);
        let mut evicted = 0u64;
        for shard in &self.shards {
            evicted += Self::evict(&mut write(shard), shard_budget, 0);
        }
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    /// CLOCK: evicts unreferenced entries of `shard` until `incoming`
    /// more bytes fit in `budget` (each pass clears reference bits, so at
    /// most two passes); returns how many it evicted.
    fn evict(shard: &mut Shard, budget: usize, incoming: usize) -> u64 {
        let mut evicted = 0;
        let mut steps = 2 * shard.ring.len() + 1;
        while shard.bytes + incoming > budget && !shard.ring.is_empty() && steps > 0 {
            steps -= 1;
            let hand = shard.hand % shard.ring.len();
            if shard.take_referenced(hand) {
                shard.hand = (hand + 1) % shard.ring.len();
            } else {
                shard.remove_at(hand);
                evicted += 1;
            }
        }
        evicted
    }

    /// The cached node of `page`, if any.
    pub fn get(&self, page: PageId) -> Option<Arc<Node>> {
        let found = {
            let shard = read(self.shard(page));
            shard.index.get(&page).map(|cached| {
                // Only a first read since the hand passed writes: a store
                // on every read would bounce the bucket's cache line
                // between the threads reading a hot page.
                if !cached.referenced.load(Ordering::Relaxed) {
                    cached.referenced.store(true, Ordering::Relaxed);
                }
                Arc::clone(&cached.node)
            })
        };
        self.count(page, found.is_some());
        found
    }

    /// Caches `node` as the content of `page`, replacing any older entry
    /// (a page id reused by a checkpoint gets its new content).
    pub fn insert(&self, page: PageId, node: Arc<Node>) {
        let bytes = node.memory_bytes();
        let mut shard = write(self.shard(page));
        if let Some(i) = shard.index.get(&page).map(|c| c.ring) {
            shard.remove_at(i);
        }
        let shard_budget = self.shard_budget.load(Ordering::Relaxed);
        if bytes > shard_budget {
            return;
        }
        let evicted = Self::evict(&mut shard, shard_budget, bytes);
        let ring = shard.ring.len();
        shard.ring.push(page);
        shard.index.insert(page, Cached { node, bytes, ring, referenced: AtomicBool::new(false) });
        shard.bytes += bytes;
        drop(shard);
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
    }

    /// Drops `page` from the cache (its page was freed).
    pub fn remove(&self, page: PageId) {
        let mut shard = write(self.shard(page));
        if let Some(i) = shard.index.get(&page).map(|c| c.ring) {
            shard.remove_at(i);
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let bytes = self.shards.iter().map(|s| read(s).bytes as u64).sum();
        CacheStats {
            hits: self.counters.iter().map(|c| c.hits.load(Ordering::Relaxed)).sum(),
            misses: self.counters.iter().map(|c| c.misses.load(Ordering::Relaxed)).sum(),
            evictions: self.evictions.load(Ordering::Relaxed),
            bytes,
            budget_bytes: self.budget.load(Ordering::Relaxed) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::node::{LeafEntry, LeafNode, StoredValue, encode_leaf};
    use jubilant_format::Lsn;

    fn node(value_len: usize) -> Arc<Node> {
        let mut payload = Vec::new();
        encode_leaf(
            &[LeafEntry {
                key: b"k".to_vec().into(),
                value: StoredValue::Inline(vec![0; value_len].into()),
                version: Lsn(1),
                expires_at_unix_ms: None,
            }],
            &mut payload,
        );
        Arc::new(Node::Leaf(LeafNode::decode(&payload).unwrap()))
    }

    #[test]
    fn stays_within_budget_and_counts() {
        let cache = PageCache::new(64 << 10);
        for i in 0..1_000 {
            cache.insert(PageId(i), node(1000));
        }
        let stats = cache.stats();
        assert!(stats.bytes <= 64 << 10, "{stats:?}");
        assert!(stats.evictions > 900, "{stats:?}");
        let hits = (0..1_000).filter(|&i| cache.get(PageId(i)).is_some()).count() as u64;
        let stats = cache.stats();
        assert_eq!(stats.hits, hits);
        assert_eq!(stats.hits + stats.misses, 1_000);
    }

    #[test]
    fn referenced_entries_survive_a_clock_pass() {
        let cache = PageCache::new(SHARDS * 4 * node(1000).memory_bytes());
        // Fill one shard's worth, touch one, then insert more.
        let pages: Vec<PageId> = (0..200).map(PageId).collect();
        for &p in &pages {
            cache.insert(p, node(1000));
        }
        let hot = *pages.last().unwrap();
        for &p in &pages[..150] {
            cache.insert(PageId(p.get() + 1_000), node(1000));
            assert!(cache.get(hot).is_some(), "a node read between insertions stays cached");
        }
    }

    #[test]
    fn insert_replaces_and_remove_drops() {
        let cache = PageCache::new(1 << 20);
        cache.insert(PageId(5), node(10));
        cache.insert(PageId(5), node(20));
        let Node::Leaf(leaf) = &*cache.get(PageId(5)).unwrap() else { panic!() };
        assert_eq!(leaf.entry(0).unwrap().value, crate::btree::node::ValueView::Inline(&[0; 20]));
        cache.remove(PageId(5));
        assert!(cache.get(PageId(5)).is_none());
        assert_eq!(cache.stats().bytes, 0);
    }
}
