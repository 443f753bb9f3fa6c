//! Which pages a superblock owns: its tree (branches and leaves), its
//! free list (the pages holding it and the pages it lists), and nothing
//! (orphaned). Walked once per slot, in the background.
//!
//! Every loop is bounded: the tree by the engine's depth limit and a
//! visited set, the free list by the page count.

use std::collections::{HashMap, HashSet};

use jubilant_engine::btree::read::MAX_DEPTH;
use jubilant_format::{PageId, Slot, Superblock, ValueRef};

use super::dir::DataDir;
use super::tree::{TreeNode, load_node};

/// Who owns a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Pages 0 and 1.
    Superblock,
    /// A branch of the tree.
    Branch,
    /// A leaf of the tree.
    Leaf,
    /// Referenced by the tree but unreadable.
    TreeDamaged,
    /// Holds the free list.
    FreeListNode,
    /// Listed as free.
    Free,
    /// Reachable twice (tree and free list, or two parents).
    Conflict,
    /// Owned by nothing: leaked.
    Orphan,
    /// At or past the superblock's `page_count`.
    Beyond,
}

impl Owner {
    /// Name, as in the view.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Owner::Superblock => "superblock",
            Owner::Branch => "tree branch",
            Owner::Leaf => "tree leaf",
            Owner::TreeDamaged => "tree (unreadable)",
            Owner::FreeListNode => "free-list node",
            Owner::Free => "free",
            Owner::Conflict => "owned twice",
            Owner::Orphan => "orphaned",
            Owner::Beyond => "past page_count",
        }
    }
}

/// A value-log reference found in a leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRef {
    /// The leaf.
    pub page: PageId,
    /// The entry's key.
    pub key: Vec<u8>,
    /// The reference.
    pub value_ref: ValueRef,
}

/// The ownership of every page, as seen from one superblock.
#[derive(Debug, Clone)]
pub struct Ownership {
    /// The slot whose superblock was walked.
    pub slot: Slot,
    /// Owner of page `i` at index `i`.
    pub owners: Vec<Owner>,
    /// The parent of each tree page.
    pub parents: HashMap<u64, u64>,
    /// Depth of the tree (levels).
    pub depth: usize,
    /// Keys in the leaves.
    pub keys: u64,
    /// Value-log references in the leaves.
    pub refs: Vec<LeafRef>,
    /// What went wrong on the way, with the page.
    pub problems: Vec<(u64, String)>,
}

impl Ownership {
    /// The owner of `page`.
    #[must_use]
    pub fn owner(&self, page: u64) -> Owner {
        self.owners.get(page as usize).copied().unwrap_or(Owner::Beyond)
    }

    /// How many pages each owner has, in a fixed order.
    #[must_use]
    pub fn counts(&self) -> Vec<(Owner, u64)> {
        let order = [
            Owner::Superblock,
            Owner::Branch,
            Owner::Leaf,
            Owner::TreeDamaged,
            Owner::FreeListNode,
            Owner::Free,
            Owner::Conflict,
            Owner::Orphan,
            Owner::Beyond,
        ];
        order.iter().map(|&o| (o, self.owners.iter().filter(|&&x| x == o).count() as u64)).collect()
    }
}

/// Walks the tree and free list of `sb` (read from `slot`) over `pages`
/// pages (the file's pages, or more if the superblock names more).
#[must_use]
pub fn walk(dir: &DataDir, slot: Slot, sb: &Superblock, pages: u64) -> Ownership {
    let total = pages.max(sb.page_count);
    let mut own = Ownership {
        slot,
        owners: (0..total)
            .map(|p| match p {
                0 | 1 => Owner::Superblock,
                p if p >= sb.page_count => Owner::Beyond,
                _ => Owner::Orphan,
            })
            .collect(),
        parents: HashMap::new(),
        depth: 0,
        keys: 0,
        refs: Vec::new(),
        problems: Vec::new(),
    };
    let mut seen: HashSet<u64> = HashSet::new();
    // Depth-first, with an explicit stack: (page, parent, depth).
    let mut stack: Vec<(PageId, Option<u64>, usize)> = sb.root_page.map(|r| (r, None, 1)).into_iter().collect();
    while let Some((page, parent, depth)) = stack.pop() {
        if page.get() < 2 || page.get() >= sb.page_count {
            own.problems.push((page.get(), format!("tree points at page {page}, outside 2..{}", sb.page_count)));
            continue;
        }
        if !seen.insert(page.get()) {
            mark(&mut own, page.get(), Owner::Conflict);
            own.problems.push((page.get(), format!("page {page} is reachable twice")));
            continue;
        }
        if let Some(p) = parent {
            own.parents.insert(page.get(), p);
        }
        if depth > MAX_DEPTH {
            own.problems.push((page.get(), format!("deeper than {MAX_DEPTH} levels: a cycle?")));
            continue;
        }
        match load_node(dir, page) {
            Ok(node) => match &*node {
                TreeNode::Leaf(leaf) => {
                    mark(&mut own, page.get(), Owner::Leaf);
                    own.depth = own.depth.max(depth);
                    own.keys += leaf.len() as u64;
                    for i in 0..leaf.len() {
                        if let Some(e) = leaf.entry(i)
                            && let jubilant_engine::btree::node::ValueView::Ref(r) = e.value
                        {
                            own.refs.push(LeafRef { page, key: e.key.to_vec(), value_ref: r });
                        }
                    }
                }
                TreeNode::Branch(branch) => {
                    mark(&mut own, page.get(), Owner::Branch);
                    for child in branch.children().iter().rev() {
                        stack.push((*child, Some(page.get()), depth + 1));
                    }
                }
            },
            Err(e) => {
                mark(&mut own, page.get(), Owner::TreeDamaged);
                own.problems.push((page.get(), e));
            }
        }
    }
    // The free list.
    let mut next = sb.free_list_head;
    let mut hops = 0u64;
    while let Some(page) = next {
        hops += 1;
        if hops > sb.page_count {
            own.problems.push((page.get(), "the free list has a cycle".into()));
            break;
        }
        if page.get() < 2 || page.get() >= sb.page_count || !seen.insert(page.get()) {
            mark(&mut own, page.get(), Owner::Conflict);
            own.problems.push((page.get(), format!("free-list page {page} is out of range or owned twice")));
            break;
        }
        next = None;
        match dir.read_page(page).map(|raw| super::page::tree_page(page, raw, dir.page_size)) {
            Ok(view) => match (&view.verdict, view.content) {
                (Ok(_), super::page::Content::FreeList { next: n, pages }) => {
                    mark(&mut own, page.get(), Owner::FreeListNode);
                    for p in pages {
                        if seen.contains(&p.get()) || own.owner(p.get()) == Owner::Free {
                            mark(&mut own, p.get(), Owner::Conflict);
                            own.problems.push((p.get(), format!("page {p} is free and also in use")));
                        } else if p.get() >= 2 && p.get() < sb.page_count {
                            mark(&mut own, p.get(), Owner::Free);
                        } else {
                            own.problems.push((page.get(), format!("lists page {p}, outside 2..{}", sb.page_count)));
                        }
                    }
                    next = n;
                }
                (Err(e), _) => {
                    mark(&mut own, page.get(), Owner::TreeDamaged);
                    own.problems.push((page.get(), format!("free-list page: {e}")));
                }
                (Ok(_), _) => {
                    mark(&mut own, page.get(), Owner::Conflict);
                    own.problems
                        .push((page.get(), format!("page {page} on the free-list chain is not a free-list page")));
                }
            },
            Err(e) => own.problems.push((page.get(), e)),
        }
    }
    own
}

fn mark(own: &mut Ownership, page: u64, owner: Owner) {
    if let Some(slot) = own.owners.get_mut(page as usize) {
        *slot = owner;
    }
}
