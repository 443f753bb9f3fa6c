//! The tree's structural invariants, checked from a superblock.
//!
//! Every node's keys are strictly ascending and inside the fences its
//! parent gives it (`[low, high)`); all leaves are at one depth; every node
//! fits its page and no two adjacent siblings would fit together in one
//! page; no page is reachable twice; the free list is disjoint from the
//! tree; and every page from 2 to `page_count - 1` is in exactly one of the
//! tree, the free list, or the free list's own pages (no leaked page).
//!
//! Tests call [`check_tree`] after every step; `jubectl validate` reports
//! the same findings for a directory on disk.

use std::collections::{BTreeSet, HashSet};

use jubilant_format::{PageId, Superblock};

use super::apply::merged_payload_len;
use super::node::Node;
use crate::error::Result;
use crate::pager::Pager;

/// What a successful check saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TreeReport {
    /// Levels (0 for an empty tree).
    pub depth: usize,
    /// Keys in the leaves.
    pub keys: u64,
    /// Leaf pages.
    pub leaves: u64,
    /// Branch pages.
    pub branches: u64,
    /// Pages on the free list.
    pub free_pages: u64,
    /// Pages holding the free list.
    pub free_list_pages: u64,
}

struct Walk<'a> {
    pager: &'a Pager,
    seen: HashSet<PageId>,
    report: TreeReport,
    leaf_depth: Option<usize>,
    problems: Vec<String>,
    capacity: usize,
}

/// Checks the tree and free list the superblock names; returns the report,
/// or every violation found.
pub fn check_tree(pager: &Pager, sb: &Superblock) -> Result<Result<TreeReport, Vec<String>>> {
    let mut walk = Walk {
        pager,
        seen: HashSet::new(),
        report: TreeReport::default(),
        leaf_depth: None,
        problems: Vec::new(),
        capacity: pager.page_size().payload_max(),
    };
    if let Some(root) = sb.root_page {
        walk.node(root, &[], None, 1)?;
    }
    walk.report.depth = walk.leaf_depth.unwrap_or(0);
    if walk.report.keys != sb.key_count {
        walk.problems
            .push(format!("superblock key_count {} but the tree holds {} keys", sb.key_count, walk.report.keys));
    }

    // The free list.
    let mut free: BTreeSet<PageId> = BTreeSet::new();
    let mut next = sb.free_list_head;
    let mut hops = 0u64;
    while let Some(page) = next {
        hops += 1;
        if hops > sb.page_count {
            walk.problems.push("the free list has a cycle".into());
            break;
        }
        if !walk.seen.insert(page) {
            walk.problems.push(format!("free-list page {page} is also reachable elsewhere"));
            break;
        }
        walk.report.free_list_pages += 1;
        let fl = pager.free_list_page(page)?;
        for p in fl.pages {
            if p.get() < 2 || p.get() >= sb.page_count {
                walk.problems.push(format!("free-list page {page} lists page {p}, outside 2..{}", sb.page_count));
            } else if !free.insert(p) {
                walk.problems.push(format!("page {p} is on the free list twice"));
            }
        }
        next = fl.next;
    }
    for p in &free {
        if walk.seen.contains(p) {
            walk.problems.push(format!("page {p} is both free and in use"));
        }
    }
    walk.report.free_pages = free.len() as u64;
    for id in 2..sb.page_count {
        let p = PageId(id);
        if !walk.seen.contains(&p) && !free.contains(&p) {
            walk.problems.push(format!("page {p} is leaked: neither in the tree nor free"));
        }
    }
    Ok(if walk.problems.is_empty() { Ok(walk.report) } else { Err(walk.problems) })
}

impl Walk<'_> {
    /// Checks the subtree at `page` whose keys must lie in `[low, high)`;
    /// returns its payload size and whether it is a leaf.
    fn node(&mut self, page: PageId, low: &[u8], high: Option<&[u8]>, depth: usize) -> Result<(usize, bool)> {
        if !self.seen.insert(page) {
            self.problems.push(format!("page {page} is reachable twice"));
            return Ok((0, true));
        }
        if depth > super::read::MAX_DEPTH {
            self.problems.push(format!("page {page}: deeper than {} levels", super::read::MAX_DEPTH));
            return Ok((0, true));
        }
        let node = self.pager.node(page)?;
        let in_fences = |k: &[u8]| k >= low && high.is_none_or(|h| k < h);
        match &*node {
            Node::Leaf(l) => {
                self.report.leaves += 1;
                self.report.keys += l.len() as u64;
                match self.leaf_depth {
                    None => self.leaf_depth = Some(depth),
                    Some(d) if d != depth => {
                        self.problems.push(format!("leaf {page} at depth {depth}, other leaves at depth {d}"))
                    }
                    Some(_) => {}
                }
                if l.is_empty() {
                    self.problems.push(format!("leaf {page} is empty"));
                }
                for i in 0..l.len() {
                    if !in_fences(l.key(i)) {
                        self.problems.push(format!("leaf {page}: key {i} lies outside the fences its parent gives"));
                    }
                }
                Ok((l.payload_len(), true))
            }
            Node::Branch(b) => {
                self.report.branches += 1;
                for i in 0..b.len().saturating_sub(1) {
                    if !in_fences(b.separator(i)) || b.separator(i) <= low {
                        self.problems.push(format!("branch {page}: separator {i} lies outside its fences"));
                    }
                }
                let mut previous: Option<(usize, bool)> = None;
                for i in 0..b.len() {
                    let child_low = if i == 0 { low.to_vec() } else { b.separator(i - 1).to_vec() };
                    let child_high =
                        if i + 1 < b.len() { Some(b.separator(i).to_vec()) } else { high.map(<[u8]>::to_vec) };
                    let Some(child) = b.child(i) else { continue };
                    let (size, leaf) = self.node(child, &child_low, child_high.as_deref(), depth + 1)?;
                    if size > self.capacity {
                        self.problems.push(format!("page {child} holds {size} bytes, more than a page"));
                    }
                    if let Some((prev_size, prev_leaf)) = previous
                        && prev_leaf == leaf
                        && merged_payload_len(prev_size, size, &child_low, leaf) <= self.capacity
                    {
                        self.problems.push(format!(
                            "branch {page}: children {} and {i} would fit together in one page (underfull)",
                            i - 1
                        ));
                    }
                    previous = Some((size, leaf));
                }
                Ok((b.payload_len(), false))
            }
        }
    }
}
