//! Applying a checkpoint's changes to the tree, copy on write.
//!
//! The changes (sorted, newest value per key, or a deletion) are pushed
//! down from the root; every node whose subtree changes is rebuilt in
//! memory and written to a fresh page, and its old page is returned as
//! freed. Nodes that do not change keep their pages.
//!
//! Shape rules, which [`super::check`] verifies:
//! - every node fits its page; a node that would not is split into
//!   balanced parts, with the shortest separator that divides them;
//! - **no two adjacent siblings fit together in one page**: after a level
//!   is rebuilt, every adjacent pair involving a rebuilt node is merged if
//!   the merged node fits (the rule holds for untouched pairs by
//!   induction), which keeps nodes at least about half full on average
//!   and stops a tree of deletions from leaving empty husks;
//! - all leaves are at the same depth; a root branch with one child is
//!   replaced by that child;
//! - adjacent rebuilt leaves under one parent are re-cut together into the
//!   fewest balanced leaves (`repack_leaf_runs`): scattered inserts into
//!   full leaves do not leave every one of them half empty.

use std::borrow::Cow;
use std::sync::Arc;

use jubilant_format::{Lsn, PageId, PageType};

use super::node::{
    BRANCH_HEADER_LEN, BranchEntry, LEAF_HEADER_LEN, LeafEntry, Node, StoredValue, branch_entry_len, encode_branch,
    encode_leaf,
};
use crate::error::Result;
use crate::pager::Pager;

/// One change: the newest value of a key, or its deletion.
///
/// The key and an inline value are borrowed from where they already are
/// (a checkpoint borrows them from the frozen memtable, which lives until
/// the new tree is published): they are copied once, into the page.
#[derive(Debug)]
pub struct Change<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The new value, or `None` to delete.
    pub put: Option<Put<'a>>,
}

/// What a [`Change`] stores under its key.
#[derive(Debug)]
pub struct Put<'a> {
    /// The value.
    pub value: StoredValue<'a>,
    /// LSN of the commit that wrote it.
    pub version: Lsn,
    /// Absolute expiry in ms since the Unix epoch.
    pub expires_at_unix_ms: Option<u64>,
}

impl<'a> Change<'a> {
    /// The leaf entry of a put (borrowing its key and value); `None` for a
    /// deletion.
    fn entry(&self) -> Option<LeafEntry<'a>> {
        let put = self.put.as_ref()?;
        Some(LeafEntry {
            key: Cow::Borrowed(self.key),
            value: put.value.clone(),
            version: put.version,
            expires_at_unix_ms: put.expires_at_unix_ms,
        })
    }
}

/// Where new pages come from during a checkpoint.
pub trait PageAllocator {
    /// A page the durable superblock does not reach, to write a node to.
    fn allocate(&mut self) -> Result<PageId>;
}

/// What a checkpoint's tree update did.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    /// The new root.
    pub root: Option<PageId>,
    /// Pages of the old tree that the new tree no longer uses.
    pub freed: Vec<PageId>,
    /// Pages written.
    pub written: u64,
    /// Change in the number of keys.
    pub key_delta: i64,
}

#[derive(Debug)]
enum Content<'a> {
    Leaf(Vec<LeafEntry<'a>>),
    Branch(Vec<BranchEntry>),
}

impl Content<'_> {
    fn payload_len(&self) -> usize {
        match self {
            Content::Leaf(e) => LEAF_HEADER_LEN + e.iter().map(LeafEntry::encoded_len).sum::<usize>(),
            Content::Branch(c) => {
                BRANCH_HEADER_LEN + c.iter().skip(1).map(|e| branch_entry_len(Some(&e.low_key))).sum::<usize>()
            }
        }
    }
}

/// A child slot while a level is rebuilt.
#[derive(Debug)]
enum Slot<'a> {
    /// An untouched child, kept on its page.
    Kept { low_key: Vec<u8>, page: PageId },
    /// A rebuilt node, not written yet.
    New { low_key: Vec<u8>, content: Content<'a> },
}

impl Slot<'_> {
    fn low_key(&self) -> &[u8] {
        match self {
            Slot::Kept { low_key, .. } | Slot::New { low_key, .. } => low_key,
        }
    }

    fn is_new(&self) -> bool {
        matches!(self, Slot::New { .. })
    }
}

/// The size of the node that merging two adjacent siblings would give.
/// Shared with the invariant checker, so both use one rule.
#[must_use]
pub fn merged_payload_len(left_payload: usize, right_payload: usize, right_low_key: &[u8], leaf: bool) -> usize {
    if leaf {
        left_payload + right_payload - LEAF_HEADER_LEN
    } else {
        // One header (count and child 0) goes; the right node's child 0
        // becomes an ordinary entry with the right node's low key as its
        // separator.
        left_payload + right_payload - BRANCH_HEADER_LEN + branch_entry_len(Some(right_low_key))
    }
}

struct Ctx<'a, A: PageAllocator> {
    pager: &'a Pager,
    alloc: &'a mut A,
    lsn: Lsn,
    capacity: usize,
    out: ApplyOutcome,
    scratch: Vec<u8>,
}

/// Applies `changes` (sorted by key, keys unique) to the tree rooted at
/// `root`, writing new pages stamped with `lsn`.
pub fn apply_changes<A: PageAllocator>(
    pager: &Pager,
    alloc: &mut A,
    root: Option<PageId>,
    changes: &[Change<'_>],
    lsn: Lsn,
) -> Result<ApplyOutcome> {
    debug_assert!(changes.windows(2).all(|w| matches!(w, [a, b] if a.key < b.key)), "changes sorted and unique");
    let mut ctx = Ctx {
        pager,
        alloc,
        lsn,
        capacity: pager.page_size().payload_max(),
        out: ApplyOutcome { root, ..ApplyOutcome::default() },
        scratch: Vec::new(),
    };
    if changes.is_empty() {
        return Ok(ctx.out);
    }
    // A root leaf's rebuilt entries borrow from it.
    let root_node: Arc<Node>;
    let mut level: Vec<Slot> = match root {
        None => {
            let entries: Vec<LeafEntry<'_>> = changes.iter().filter_map(Change::entry).collect();
            ctx.out.key_delta += entries.len() as i64;
            if entries.is_empty() {
                return Ok(ctx.out);
            }
            split(Vec::new(), Content::Leaf(entries), ctx.capacity)
        }
        Some(page) => {
            root_node = ctx.pager.node(page)?;
            match rebuild(&mut ctx, page, &root_node, Vec::new(), changes)? {
                None => return Ok(ctx.out),
                Some(slots) => slots,
            }
        }
    };
    // Grow upwards until one node remains.
    loop {
        merge_adjacent(&mut ctx, &mut level)?;
        if level.len() <= 1 {
            break;
        }
        let children = write_level(&mut ctx, level)?;
        level = split(Vec::new(), Content::Branch(children), ctx.capacity);
    }
    let root = match level.pop() {
        None => None,
        Some(Slot::Kept { page, .. }) => Some(page),
        Some(Slot::New { low_key, content }) => {
            // A root branch with a single child is replaced by the child.
            let mut content = content;
            loop {
                match content {
                    Content::Branch(children) if children.len() == 1 => {
                        let Some(only) = children.into_iter().next() else { unreachable!("one child") };
                        let node = ctx.pager.node(only.child)?;
                        match &*node {
                            Node::Branch(b) if b.len() == 1 => {
                                ctx.out.freed.push(only.child);
                                content = Content::Branch(b.to_entries(&low_key));
                            }
                            _ => break Some(only.child),
                        }
                    }
                    other => break Some(write_node(&mut ctx, &other)?),
                }
            }
        }
    };
    ctx.out.root = root;
    Ok(ctx.out)
}

/// Rebuilds the subtree at `page` (`node`, whose lowest key is `low_key`)
/// with `changes`; `None` if nothing changed, else the slots replacing it
/// (none if the subtree became empty). A rebuilt leaf's entries borrow
/// their keys and values from its old node, which the caller holds until
/// the new leaves are written.
fn rebuild<'a, A: PageAllocator>(
    ctx: &mut Ctx<'_, A>,
    page: PageId,
    node: &'a Node,
    low_key: Vec<u8>,
    changes: &[Change<'a>],
) -> Result<Option<Vec<Slot<'a>>>> {
    let content = match node {
        Node::Leaf(leaf) => {
            let (entries, changed, delta) = merge_leaf(leaf.entries(), changes);
            if !changed {
                return Ok(None);
            }
            ctx.out.key_delta += delta;
            Content::Leaf(entries)
        }
        Node::Branch(branch) => {
            let children = branch.to_entries(&low_key);
            // Each child's share of the changes, and the nodes of the
            // children that have some, held here: the leaves rebuilt from
            // them borrow from them until `write_level` below writes the
            // new ones (so only the children of the branches on the path
            // being rebuilt are held at once).
            let mut rest = changes;
            let mut shares = Vec::with_capacity(children.len());
            let mut held: Vec<Option<Arc<Node>>> = Vec::with_capacity(children.len());
            for (i, child) in children.iter().enumerate() {
                let upper = children.get(i + 1).map(|c| c.low_key.as_slice());
                let n = upper.map_or(rest.len(), |u| rest.partition_point(|c| c.key < u));
                let (mine, after) = rest.split_at(n);
                rest = after;
                shares.push(mine);
                held.push(if mine.is_empty() { None } else { Some(ctx.pager.node(child.child)?) });
            }
            let mut slots: Vec<Slot<'_>> = Vec::with_capacity(children.len() + 2);
            let mut changed = false;
            for ((child, mine), node) in children.iter().zip(shares).zip(&held) {
                let replaced = match node {
                    None => None,
                    Some(node) => rebuild(ctx, child.child, node, child.low_key.clone(), mine)?,
                };
                match replaced {
                    None => slots.push(Slot::Kept { low_key: child.low_key.clone(), page: child.child }),
                    Some(new) => {
                        changed = true;
                        slots.extend(new);
                    }
                }
            }
            if !changed {
                return Ok(None);
            }
            repack_leaf_runs(&mut slots, ctx.capacity);
            merge_adjacent(ctx, &mut slots)?;
            if slots.is_empty() {
                ctx.out.freed.push(page);
                return Ok(Some(Vec::new()));
            }
            Content::Branch(write_level(ctx, slots)?)
        }
    };
    ctx.out.freed.push(page);
    let empty = match &content {
        Content::Leaf(e) => e.is_empty(),
        Content::Branch(c) => c.is_empty(),
    };
    if empty {
        return Ok(Some(Vec::new()));
    }
    Ok(Some(split(low_key, content, ctx.capacity)))
}

/// Merges a leaf's entries with changes (borrowing their keys and
/// values); returns the entries, whether anything changed, and the change
/// in key count.
fn merge_leaf<'a>(entries: Vec<LeafEntry<'a>>, changes: &[Change<'a>]) -> (Vec<LeafEntry<'a>>, bool, i64) {
    let mut out = Vec::with_capacity(entries.len() + changes.len());
    let mut changed = false;
    let mut delta = 0i64;
    let mut old = entries.into_iter().peekable();
    for change in changes {
        while let Some(e) = old.next_if(|e| *e.key < *change.key) {
            out.push(e);
        }
        let existed = old.next_if(|e| *e.key == *change.key);
        match (change.entry(), existed) {
            (Some(new), Some(old_entry)) => {
                // The same entry again (a replay of what the tree already
                // holds) changes nothing. Versions first: a rewrite has a
                // newer one, and once the leaf changed nothing is compared.
                changed = changed
                    || new.version != old_entry.version
                    || new.expires_at_unix_ms != old_entry.expires_at_unix_ms
                    || new.value != old_entry.value;
                out.push(new);
            }
            (Some(new), None) => {
                changed = true;
                delta += 1;
                out.push(new);
            }
            (None, Some(_)) => {
                changed = true;
                delta -= 1;
            }
            (None, None) => {}
        }
    }
    out.extend(old);
    (out, changed, delta)
}

/// Splits `content` (whose lowest key is `low_key`) into parts that fit a
/// page, as evenly as the entries allow.
fn split<'a>(low_key: Vec<u8>, content: Content<'a>, capacity: usize) -> Vec<Slot<'a>> {
    let total = content.payload_len();
    if total <= capacity {
        return vec![Slot::New { low_key, content }];
    }
    match content {
        Content::Leaf(entries) => {
            let sizes: Vec<usize> = entries.iter().map(LeafEntry::encoded_len).collect();
            let cuts = cut_points(&sizes, LEAF_HEADER_LEN, capacity);
            let mut slots = Vec::with_capacity(cuts.len() + 1);
            let mut rest = entries;
            let mut low = low_key;
            for &cut in cuts.iter().rev() {
                let tail = rest.split_off(cut);
                let sep = match (rest.last(), tail.first()) {
                    (Some(l), Some(r)) => shortest_separator(&l.key, &r.key),
                    _ => unreachable!("cut points lie strictly inside"),
                };
                slots.push(Slot::New { low_key: sep, content: Content::Leaf(tail) });
            }
            slots.push(Slot::New { low_key: std::mem::take(&mut low), content: Content::Leaf(rest) });
            slots.reverse();
            slots
        }
        Content::Branch(children) => {
            // Each child but the first of a part costs its separator; count
            // it for every child, which over-estimates by one separator.
            let sizes: Vec<usize> = children.iter().map(|c| branch_entry_len(Some(&c.low_key))).collect();
            let cuts = cut_points(&sizes, BRANCH_HEADER_LEN, capacity);
            let mut slots = Vec::with_capacity(cuts.len() + 1);
            let mut rest = children;
            for &cut in cuts.iter().rev() {
                let tail = rest.split_off(cut);
                let low = tail.first().map(|c| c.low_key.clone()).unwrap_or_default();
                slots.push(Slot::New { low_key: low, content: Content::Branch(tail) });
            }
            slots.push(Slot::New { low_key, content: Content::Branch(rest) });
            slots.reverse();
            slots
        }
    }
}

/// Indices where to cut items of `sizes` into balanced parts of at most
/// `capacity - header` bytes each. Invariant: every single item fits.
fn cut_points(sizes: &[usize], header: usize, capacity: usize) -> Vec<usize> {
    let room = capacity - header;
    assert!(sizes.iter().all(|&s| s <= room), "an entry larger than a page");
    let total: usize = sizes.iter().sum();
    let parts = total.div_ceil(room).max(1);
    let target = total.div_ceil(parts);
    let mut cuts = Vec::new();
    let mut acc = 0;
    for (i, &s) in sizes.iter().enumerate() {
        if acc > 0 && (acc + s > room || acc >= target) {
            cuts.push(i);
            acc = 0;
        }
        acc += s;
    }
    cuts
}

/// The shortest key `s` with `left < s <= right`: a prefix of `right`.
#[must_use]
pub fn shortest_separator(left: &[u8], right: &[u8]) -> Vec<u8> {
    assert!(left < right, "separator between unordered keys");
    for len in 1..=right.len() {
        let prefix = right.get(..len).unwrap_or(right);
        if prefix > left {
            return prefix.to_vec();
        }
    }
    right.to_vec()
}

/// Re-cuts every run of two or more adjacent rebuilt leaves into the
/// fewest balanced leaves that hold them. Their pages are written anyway
/// (copy on write), so this costs no extra page. Without it, inserts
/// scattered over a level of full leaves split every one of them in half:
/// 16,000 random inserts into a bulk-loaded tree of 200,000 keys (8% more
/// keys) doubled its leaves and cost 12% of point-read speed.
fn repack_leaf_runs(slots: &mut Vec<Slot<'_>>, capacity: usize) {
    /// A run of rebuilt leaves: the first one's low key, their entries in
    /// order, how many leaves.
    struct Run<'a> {
        low_key: Vec<u8>,
        entries: Vec<LeafEntry<'a>>,
        leaves: usize,
    }
    fn flush<'a>(run: Run<'a>, out: &mut Vec<Slot<'a>>, capacity: usize) {
        if run.leaves == 1 {
            out.push(Slot::New { low_key: run.low_key, content: Content::Leaf(run.entries) });
        } else {
            out.extend(split(run.low_key, Content::Leaf(run.entries), capacity));
        }
    }
    let mut out = Vec::with_capacity(slots.len());
    let mut run: Option<Run<'_>> = None;
    for slot in slots.drain(..) {
        match slot {
            Slot::New { low_key, content: Content::Leaf(entries) } => match &mut run {
                // Adjacent slots: their keys follow each other in order.
                Some(r) => {
                    r.entries.extend(entries);
                    r.leaves += 1;
                }
                None => run = Some(Run { low_key, entries, leaves: 1 }),
            },
            other => {
                if let Some(r) = run.take() {
                    flush(r, &mut out, capacity);
                }
                out.push(other);
            }
        }
    }
    if let Some(r) = run.take() {
        flush(r, &mut out, capacity);
    }
    *slots = out;
}

/// Merges adjacent slots while the merged node fits, for every pair that
/// involves a rebuilt node.
fn merge_adjacent<A: PageAllocator>(ctx: &mut Ctx<'_, A>, slots: &mut Vec<Slot<'_>>) -> Result<()> {
    let mut i = 0;
    while i + 1 < slots.len() {
        let (Some(a), Some(b)) = (slots.get(i), slots.get(i + 1)) else {
            break;
        };
        if !a.is_new() && !b.is_new() {
            i += 1;
            continue;
        }
        let (a_len, a_leaf) = slot_size(ctx, a)?;
        let (b_len, b_leaf) = slot_size(ctx, b)?;
        assert_eq!(a_leaf, b_leaf, "siblings are at the same level");
        if merged_payload_len(a_len, b_len, b.low_key(), a_leaf) > ctx.capacity {
            i += 1;
            continue;
        }
        let b = slots.remove(i + 1);
        let a = slots.remove(i);
        let (a_low, a_content) = into_content(ctx, a)?;
        let (b_low, b_content) = into_content(ctx, b)?;
        let merged = match (a_content, b_content) {
            (Content::Leaf(mut x), Content::Leaf(y)) => {
                x.extend(y);
                Content::Leaf(x)
            }
            (Content::Branch(mut x), Content::Branch(mut y)) => {
                if let Some(first) = y.first_mut() {
                    first.low_key = b_low;
                }
                x.extend(y);
                Content::Branch(x)
            }
            _ => unreachable!("siblings are at the same level"),
        };
        slots.insert(i, Slot::New { low_key: a_low, content: merged });
    }
    Ok(())
}

fn slot_size<A: PageAllocator>(ctx: &Ctx<'_, A>, slot: &Slot<'_>) -> Result<(usize, bool)> {
    Ok(match slot {
        Slot::New { content, .. } => (content.payload_len(), matches!(content, Content::Leaf(_))),
        Slot::Kept { page, .. } => match &*ctx.pager.node(*page)? {
            Node::Leaf(l) => (l.payload_len(), true),
            Node::Branch(b) => (b.payload_len(), false),
        },
    })
}

fn into_content<'a, A: PageAllocator>(ctx: &mut Ctx<'_, A>, slot: Slot<'a>) -> Result<(Vec<u8>, Content<'a>)> {
    Ok(match slot {
        Slot::New { low_key, content } => (low_key, content),
        Slot::Kept { low_key, page } => {
            let node: Arc<Node> = ctx.pager.node(page)?;
            ctx.out.freed.push(page);
            let content = match &*node {
                Node::Leaf(l) => Content::Leaf(l.to_entries()),
                Node::Branch(b) => Content::Branch(b.to_entries(&low_key)),
            };
            (low_key, content)
        }
    })
}

/// Writes the new nodes of a level; returns the parent's child entries.
fn write_level<A: PageAllocator>(ctx: &mut Ctx<'_, A>, slots: Vec<Slot<'_>>) -> Result<Vec<BranchEntry>> {
    let mut children = Vec::with_capacity(slots.len());
    for slot in slots {
        match slot {
            Slot::Kept { low_key, page } => children.push(BranchEntry { low_key, child: page }),
            Slot::New { low_key, content } => {
                let page = write_node(ctx, &content)?;
                children.push(BranchEntry { low_key, child: page });
            }
        }
    }
    Ok(children)
}

fn write_node<A: PageAllocator>(ctx: &mut Ctx<'_, A>, content: &Content<'_>) -> Result<PageId> {
    let page = ctx.alloc.allocate()?;
    ctx.scratch.clear();
    let page_type = match content {
        Content::Leaf(entries) => {
            encode_leaf(entries, &mut ctx.scratch);
            PageType::Leaf
        }
        Content::Branch(children) => {
            encode_branch(children, &mut ctx.scratch);
            PageType::Branch
        }
    };
    assert!(ctx.scratch.len() <= ctx.capacity, "node of {} bytes exceeds the page", ctx.scratch.len());
    ctx.pager.write_node(page, page_type, ctx.lsn, &ctx.scratch)?;
    ctx.out.written += 1;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_separator_is_a_prefix_between() {
        assert_eq!(shortest_separator(b"abc", b"abd"), b"abd");
        assert_eq!(shortest_separator(b"abc", b"b"), b"b");
        assert_eq!(shortest_separator(b"apple", b"banana"), b"b");
        assert_eq!(shortest_separator(b"a", b"ab"), b"ab");
        assert_eq!(shortest_separator(b"", b"x"), b"x");
    }

    #[test]
    fn cut_points_balance_and_fit() {
        let sizes = vec![100; 100];
        let cuts = cut_points(&sizes, 2, 4064);
        // 10,000 bytes in 4,062-byte rooms: 3 parts of about 3,400.
        assert_eq!(cuts.len(), 2);
        assert_eq!(cut_points(&[10; 5], 2, 4064), Vec::<usize>::new());
    }
}
