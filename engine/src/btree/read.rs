//! Reading the tree: point lookups and ordered chunks of a range.

use std::ops::{Bound, ControlFlow};

use jubilant_format::PageId;

use super::node::{EntryRef, LeafEntry, Node};
use crate::error::Result;
use crate::pager::Pager;

/// The entry for `key` in the tree rooted at `root`.
pub fn get(pager: &Pager, root: Option<PageId>, key: &[u8]) -> Result<Option<LeafEntry<'static>>> {
    let Some(root) = root else { return Ok(None) };
    let pinned = Pinned { page: root, node: pager.node(root)?, children: Vec::new(), below: Vec::new() };
    get_from(pager, &pinned, key, |e| e.to_owned())
}

/// The top of one tree kept decoded outside the cache, so a lookup's
/// first two levels cost no cache lookups: the root's node and, when the
/// root is a branch, the nodes of its children. Memory beyond the cache
/// budget is bounded by the root's fanout (at most a few hundred pages).
#[derive(Debug)]
pub struct Pinned {
    page: PageId,
    node: std::sync::Arc<Node>,
    /// The root's children in order, or empty (the root is a leaf, or
    /// a child could not be read: lookups then go through the cache and
    /// report the damage).
    children: Vec<std::sync::Arc<Node>>,
    /// For each pinned child, a slot per child of its own (the tree's
    /// third level): once a lookup has read that node through the cache,
    /// a weak pointer to it, so that later lookups skip the cache's shard
    /// lock and hash probe while the node lives (after a cache eviction
    /// the next lookup reads it again and refills the slot). Weak, so the
    /// cache's budget still bounds the nodes' memory (a dead slot keeps
    /// only the node's small shell until it is refilled or this
    /// generation's top is dropped). Safe because the tree of one
    /// generation never changes: any node read for a page in it has the
    /// same content.
    below: Vec<Box<[arc_swap::ArcSwapWeak<Node>]>>,
}

/// Most children pinned: a root with more (only with tiny keys on big
/// pages) leaves its children to the cache.
const PIN_CHILDREN_MAX: usize = 512;

impl Pinned {
    /// Reads the root `page` and its children.
    pub fn load(pager: &Pager, page: PageId) -> Result<Pinned> {
        let node = pager.node(page)?;
        let children = match &*node {
            Node::Branch(b) if b.len() <= PIN_CHILDREN_MAX => {
                b.children().iter().map(|&c| pager.node(c)).collect::<Result<Vec<_>>>().unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let below = children
            .iter()
            .map(|c| match &**c {
                Node::Branch(b) => (0..b.len()).map(|_| arc_swap::ArcSwapWeak::new(std::sync::Weak::new())).collect(),
                Node::Leaf(_) => Box::default(),
            })
            .collect();
        Ok(Pinned { page, node, children, below })
    }

    /// The root page.
    #[must_use]
    pub fn page(&self) -> PageId {
        self.page
    }
}

/// Looks `key` up in the tree of `pinned`, and maps the entry found with
/// `f` without copying anything `f` does not take.
pub fn get_from<T>(pager: &Pager, pinned: &Pinned, key: &[u8], f: impl FnOnce(EntryRef<'_>) -> T) -> Result<Option<T>> {
    // Reading pages as needed, the descent always reaches a leaf.
    let Some(leaf) = leaf_for(pager, pinned, key, true)? else { return Ok(None) };
    Ok(entry_in(&leaf, key).map(f))
}

/// Like [`get_from`], but only through cached pages: `None` when the
/// lookup would have to read a page from disk.
pub fn get_cached<T>(
    pager: &Pager,
    pinned: &Pinned,
    key: &[u8],
    f: impl FnOnce(EntryRef<'_>) -> T,
) -> Result<Option<Option<T>>> {
    let Some(leaf) = leaf_for(pager, pinned, key, false)? else { return Ok(None) };
    Ok(Some(entry_in(&leaf, key).map(f)))
}

/// The entry of `key` in `node`, if it is a leaf holding it.
#[must_use]
pub fn entry_in<'n>(node: &'n Node, key: &[u8]) -> Option<EntryRef<'n>> {
    match node {
        Node::Leaf(l) => l.search(key).ok().and_then(|i| l.entry(i)),
        Node::Branch(_) => None,
    }
}

/// A leaf found by [`leaf_for`]: one of the pinned top nodes (borrowed) or
/// a node from the cache (shared). Either way no cache lock is held.
#[derive(Debug)]
pub enum LeafHandle<'a> {
    /// A pinned node.
    Pinned(&'a Node),
    /// A node from the cache.
    Cached(std::sync::Arc<Node>),
}

impl std::ops::Deref for LeafHandle<'_> {
    type Target = Node;

    fn deref(&self) -> &Node {
        match self {
            LeafHandle::Pinned(node) => node,
            LeafHandle::Cached(node) => node,
        }
    }
}

/// The leaf of the tree of `pinned` whose range holds `key`: through the
/// pinned top, then the cache, reading a page from disk on a miss when
/// `io` allows (else `None` at the first page not cached). No cache lock
/// is held once it returns, so callers may run code of their own on the
/// leaf's entries, even code that calls back into the database.
pub fn leaf_for<'a>(pager: &Pager, pinned: &'a Pinned, key: &[u8], io: bool) -> Result<Option<LeafHandle<'a>>> {
    let mut node: LeafHandle<'a> = LeafHandle::Pinned(&pinned.node);
    let mut page = pinned.page;
    // The child index taken at the root (for the slots of `below`).
    let mut first = 0;
    // Bounded by the tree's depth; a cycle in a corrupt tree is caught by
    // the depth limit.
    for depth in 0..MAX_DEPTH {
        let (i, child) = match &*node {
            Node::Leaf(_) => return Ok(Some(node)),
            Node::Branch(b) => {
                let i = b.child_index(key);
                (i, b.child(i))
            }
        };
        let Some(child) = child else {
            return Err(crate::Error::CorruptNode {
                path: pager.path().to_path_buf(),
                page,
                reason: "a branch without the child its separators name".into(),
            });
        };
        page = child;
        let slot = match depth {
            0 => {
                first = i;
                None
            }
            1 => pinned.below.get(first).and_then(|slots| slots.get(i)),
            _ => None,
        };
        if let Some(live) = slot.and_then(|s| s.load().upgrade()) {
            node = LeafHandle::Cached(live);
            continue;
        }
        node = match (depth, pinned.children.get(i)) {
            (0, Some(pinned_child)) => LeafHandle::Pinned(pinned_child),
            _ if io => LeafHandle::Cached(pager.node(page)?),
            _ => match pager.cached_node(page) {
                Some(cached) => LeafHandle::Cached(cached),
                None => return Ok(None),
            },
        };
        if let (Some(slot), LeafHandle::Cached(read)) = (slot, &node) {
            // Empty or dead (evicted): refill it.
            slot.store(std::sync::Arc::downgrade(read));
        }
    }
    Err(depth_error(pager, page))
}

/// Deeper than any real tree (a 4 KiB-page tree of 2^64 keys is about 20
/// levels deep): a walk this long means a cycle in a corrupt tree.
pub const MAX_DEPTH: usize = 64;

fn depth_error(pager: &Pager, page: PageId) -> crate::Error {
    crate::Error::CorruptNode {
        path: pager.path().to_path_buf(),
        page,
        reason: format!("the tree is deeper than {MAX_DEPTH} levels: a cycle"),
    }
}

fn in_lower(key: &[u8], from: Bound<&[u8]>) -> bool {
    match from {
        Bound::Included(f) => key >= f,
        Bound::Excluded(f) => key > f,
        Bound::Unbounded => true,
    }
}

fn in_upper(key: &[u8], to: Bound<&[u8]>) -> bool {
    match to {
        Bound::Included(t) => key <= t,
        Bound::Excluded(t) => key < t,
        Bound::Unbounded => true,
    }
}

/// Up to `limit` entries with keys in `(from, to)` in ascending order (or
/// descending when `reverse`), each mapped by `f` straight from the
/// cached page (so nothing is copied that `f` does not take); returns
/// whether more may follow.
pub fn chunk<T>(
    pager: &Pager,
    root: Option<PageId>,
    from: Bound<&[u8]>,
    to: Bound<&[u8]>,
    limit: usize,
    reverse: bool,
    f: &mut dyn FnMut(EntryRef<'_>) -> Result<T>,
) -> Result<(Vec<T>, bool)> {
    let mut out = Vec::with_capacity(limit);
    let Some(root) = root else {
        return Ok((out, false));
    };
    let mut collect = |e: EntryRef<'_>| {
        if out.len() == limit {
            // Another entry in range: more follow.
            return Ok(ControlFlow::Break(()));
        }
        out.push(f(e)?);
        Ok(ControlFlow::Continue(()))
    };
    let more = walk(pager, root, Range { from, to, reverse }, &mut collect, 0)?.is_break();
    Ok((out, more))
}

/// Calls `f` on every entry with a key in `(from, to)`, in ascending order
/// (descending when `reverse`), borrowed from the cached page, until `f`
/// breaks; returns whether it did.
pub fn for_each(
    pager: &Pager,
    root: Option<PageId>,
    from: Bound<&[u8]>,
    to: Bound<&[u8]>,
    reverse: bool,
    f: &mut dyn FnMut(EntryRef<'_>) -> Result<ControlFlow<()>>,
) -> Result<ControlFlow<()>> {
    match root {
        Some(root) => walk(pager, root, Range { from, to, reverse }, f, 0),
        None => Ok(ControlFlow::Continue(())),
    }
}

/// What `walk` visits.
#[derive(Clone, Copy)]
struct Range<'a> {
    from: Bound<&'a [u8]>,
    to: Bound<&'a [u8]>,
    reverse: bool,
}

/// Depth-first walk of the children that can hold keys in range, in
/// order, calling `f` on each entry in range until it breaks.
fn walk(
    pager: &Pager,
    page: PageId,
    range: Range<'_>,
    f: &mut dyn FnMut(EntryRef<'_>) -> Result<ControlFlow<()>>,
    depth: usize,
) -> Result<ControlFlow<()>> {
    let Range { from, to, reverse } = range;
    if depth >= MAX_DEPTH {
        return Err(depth_error(pager, page));
    }
    let node = pager.node(page)?;
    match &*node {
        Node::Leaf(l) => {
            // Binary-search where the range starts in this leaf; the
            // bound check below then stops at its end.
            let (start, end) = if reverse {
                let end = match to {
                    Bound::Included(t) => l.search(t).map_or_else(|i| i, |i| i + 1),
                    Bound::Excluded(t) => l.search(t).unwrap_or_else(|i| i),
                    Bound::Unbounded => l.len(),
                };
                (0, end)
            } else {
                let start = match from {
                    Bound::Included(f) => l.search(f).unwrap_or_else(|i| i),
                    Bound::Excluded(f) => l.search(f).map_or_else(|i| i, |i| i + 1),
                    Bound::Unbounded => 0,
                };
                (start, l.len())
            };
            for n in 0..end.saturating_sub(start) {
                let i = if reverse { end - 1 - n } else { start + n };
                // Checked by decode: every index below `len` has an entry.
                let Some(e) = l.entry(i) else { continue };
                // Every index here is past the start (the search above).
                let past_end = if reverse { !in_lower(e.key, from) } else { !in_upper(e.key, to) };
                if past_end {
                    return Ok(ControlFlow::Continue(()));
                }
                if f(e)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(()))
        }
        Node::Branch(b) => {
            // The first child that can hold the start of the range.
            let start = if reverse {
                match to {
                    Bound::Included(t) | Bound::Excluded(t) => b.child_index(t),
                    Bound::Unbounded => b.len() - 1,
                }
            } else {
                match from {
                    Bound::Included(f) | Bound::Excluded(f) => b.child_index(f),
                    Bound::Unbounded => 0,
                }
            };
            let count = if reverse { start + 1 } else { b.len().saturating_sub(start) };
            for n in 0..count {
                let i = if reverse { start - n } else { start + n };
                // Stop at a child wholly past the end of the range.
                if !reverse && i > 0 && !in_upper(b.separator(i - 1), to) {
                    return Ok(ControlFlow::Continue(()));
                }
                if reverse && i + 1 < b.len() && !in_lower_strict(b.separator(i), from) {
                    return Ok(ControlFlow::Continue(()));
                }
                let Some(child) = b.child(i) else { break };
                if walk(pager, child, range, f, depth + 1)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(()))
        }
    }
}

/// Whether some key below `upper_exclusive` can be in range `from..`.
fn in_lower_strict(upper_exclusive: &[u8], from: Bound<&[u8]>) -> bool {
    match from {
        Bound::Included(f) | Bound::Excluded(f) => upper_exclusive > f,
        Bound::Unbounded => true,
    }
}
