//! The B+Tree and free-list walk from one superblock, collecting every
//! violation as a [`Finding`] instead of stopping at the first: the same
//! invariants as `btree::check` (fences, depth, no page reachable twice,
//! free list disjoint from the tree, no leaked page, key count), plus what
//! only an offline check can afford (page LSNs and entry versions against
//! the checkpoint LSN, TTL encoding, value references collected for the
//! value-log checks).

use std::collections::BTreeSet;

use jubilant_format::{Lsn, PAGE_FILE, PageHeader, PageId, PageType, Superblock, ValueRef};

use super::Hints;
use super::files::PageReader;
use super::finding::{Finding, FindingKind, Severity, expected_found_of};
use crate::btree::apply::merged_payload_len;
use crate::btree::node::{BranchNode, FreeListPage, LeafNode, ValueView};
use crate::btree::read::MAX_DEPTH;
use crate::error::Result;

/// A value-log reference found in a leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeValueRef {
    /// The leaf.
    pub page: PageId,
    /// The entry's key.
    pub key: Vec<u8>,
    /// The reference.
    pub value_ref: ValueRef,
}

/// What the walk saw.
#[derive(Debug, Clone, Default)]
pub struct TreeWalk {
    /// Levels (0 for an empty tree).
    pub depth: usize,
    /// Keys in the leaves read.
    pub keys: u64,
    /// Leaf pages read.
    pub leaves: u64,
    /// Branch pages read.
    pub branches: u64,
    /// Payload bytes of the tree pages read (for the fill ratio).
    pub payload_bytes: u64,
    /// Every page of the tree that was reached (read or not).
    pub tree_pages: BTreeSet<PageId>,
    /// Pages the free list names.
    pub free_pages: BTreeSet<PageId>,
    /// Pages holding the free list.
    pub free_list_pages: Vec<PageId>,
    /// Value-log references in the leaves.
    pub value_refs: Vec<TreeValueRef>,
    /// Entries with an expiry.
    pub expiring_entries: u64,
    /// Entries stored inline, and their value bytes.
    pub inline_values: u64,
    /// Inline value bytes.
    pub inline_value_bytes: u64,
    /// A reachable tree page could not be read or decoded: keys are lost
    /// from this tree.
    pub tree_damaged: bool,
    /// The free list could not be read whole or is inconsistent.
    pub free_list_damaged: bool,
    /// What is wrong.
    pub findings: Vec<Finding>,
}

struct Walk<'a> {
    pages: &'a PageReader,
    sb: &'a Superblock,
    hints: &'a Hints,
    out: TreeWalk,
    leaf_depth: Option<usize>,
    capacity: usize,
}

/// Walks the tree and free list that `sb` names.
pub fn walk_tree(pages: &PageReader, sb: &Superblock, hints: &Hints) -> Result<TreeWalk> {
    let mut walk = Walk {
        pages,
        sb,
        hints,
        out: TreeWalk::default(),
        leaf_depth: None,
        capacity: pages.page_size().payload_max(),
    };
    if let Some(root) = sb.root_page {
        walk.node(root, &[], None, 1)?;
    }
    walk.out.depth = walk.leaf_depth.unwrap_or(0);
    walk.free_list()?;
    walk.cross_checks();
    Ok(walk.out)
}

impl Walk<'_> {
    fn page_size(&self) -> u32 {
        self.pages.page_size().get()
    }

    fn finding(&self, severity: Severity, kind: FindingKind, page: PageId, message: String) -> Finding {
        Finding::new(severity, kind, PAGE_FILE, message).page(page.get(), self.page_size())
    }

    fn push(&mut self, finding: Finding) {
        self.out.findings.push(finding);
    }

    /// Reads and checks a page expected to be of one of `types`; `None`
    /// (with a finding) when it cannot be used.
    fn open(&mut self, page: PageId, types: &[PageType], role: &str) -> Result<Option<(PageHeader, Vec<u8>)>> {
        if page.get() < 2 || page.get() >= self.sb.page_count {
            let f = self
                .finding(
                    Severity::Error,
                    FindingKind::PageOutOfRange,
                    page,
                    format!("{role} names page {page}, outside the page file's pages 2..{}", self.sb.page_count),
                )
                .expected_found(
                    format!("a page id from 2 to {}", self.sb.page_count.saturating_sub(1)),
                    page.to_string(),
                )
                .suggest(self.hints.repair());
            self.push(f);
            return Ok(None);
        }
        let raw = self.pages.read(page)?;
        let header = match PageHeader::open(&raw, page, self.pages.page_size()) {
            Ok(h) => h,
            Err(e) => {
                let (expected, found) = expected_found_of(&e);
                let f = self
                    .finding(Severity::Error, FindingKind::PageCorrupt, page, format!("{role} page {page}: {e}"))
                    .expected_found(expected, found)
                    .suggest(self.hints.repair());
                self.push(f);
                return Ok(None);
            }
        };
        if !types.contains(&header.page_type) {
            let wanted: Vec<&str> = types.iter().map(|t| t.name()).collect();
            let f = self
                .finding(
                    Severity::Error,
                    FindingKind::PageWrongType,
                    page,
                    format!("{role} page {page} is a {} page", header.page_type.name()),
                )
                .expected_found(wanted.join(" or "), header.page_type.name())
                .suggest(self.hints.repair());
            self.push(f);
            return Ok(None);
        }
        if header.page_lsn > self.sb.checkpoint_lsn {
            let f = self
                .finding(
                    Severity::Error,
                    FindingKind::PageLsnAhead,
                    page,
                    format!(
                        "{role} page {page} was written at LSN {}, after the checkpoint (LSN {}) that reaches it: a later write overwrote it",
                        header.page_lsn, self.sb.checkpoint_lsn
                    ),
                )
                .expected_found(format!("page_lsn <= {}", self.sb.checkpoint_lsn), format!("page_lsn = {}", header.page_lsn))
                .suggest(self.hints.repair());
            self.push(f);
        }
        let payload = header.payload(&raw).to_vec();
        Ok(Some((header, payload)))
    }

    /// Checks the subtree at `page` whose keys lie in `[low, high)`;
    /// returns its payload size and whether it is a leaf, or `None` when
    /// it could not be read.
    fn node(&mut self, page: PageId, low: &[u8], high: Option<&[u8]>, depth: usize) -> Result<Option<(usize, bool)>> {
        if !self.out.tree_pages.insert(page) {
            let f = self
                .finding(
                    Severity::Error,
                    FindingKind::PageReachableTwice,
                    page,
                    format!("page {page} is reachable twice in the tree"),
                )
                .expected_found("each page reachable once", "reachable again")
                .suggest(self.hints.repair());
            self.push(f);
            self.out.tree_damaged = true;
            return Ok(None);
        }
        if depth > MAX_DEPTH {
            let f = self
                .finding(
                    Severity::Error,
                    FindingKind::DepthMismatch,
                    page,
                    format!("page {page} lies deeper than {MAX_DEPTH} levels: a cycle"),
                )
                .expected_found(format!("depth <= {MAX_DEPTH}"), depth.to_string())
                .suggest(self.hints.repair());
            self.push(f);
            self.out.tree_damaged = true;
            return Ok(None);
        }
        let role = if depth == 1 { "root" } else { "tree" };
        let Some((header, payload)) = self.open(page, &[PageType::Branch, PageType::Leaf], role)? else {
            self.out.tree_damaged = true;
            return Ok(None);
        };
        let in_fences = |k: &[u8]| k >= low && high.is_none_or(|h| k < h);
        match header.page_type {
            PageType::Leaf => {
                let leaf = match LeafNode::decode(&payload) {
                    Ok(l) => l,
                    Err(reason) => return self.invalid_node(page, "leaf", &reason),
                };
                self.out.leaves += 1;
                self.out.keys += leaf.len() as u64;
                self.out.payload_bytes += payload.len() as u64;
                match self.leaf_depth {
                    None => self.leaf_depth = Some(depth),
                    Some(d) if d != depth => {
                        let f = self
                            .finding(
                                Severity::Error,
                                FindingKind::DepthMismatch,
                                page,
                                format!("leaf {page} lies at depth {depth}, other leaves at depth {d}"),
                            )
                            .expected_found(format!("depth {d}"), format!("depth {depth}"))
                            .suggest(self.hints.repair());
                        self.push(f);
                    }
                    Some(_) => {}
                }
                if leaf.is_empty() {
                    let f = self
                        .finding(Severity::Error, FindingKind::LeafEmpty, page, format!("leaf {page} has no entries"))
                        .expected_found("at least one entry", "0 entries")
                        .suggest(self.hints.repair());
                    self.push(f);
                }
                self.leaf_entries(page, &leaf, header.page_lsn, &in_fences);
                Ok(Some((payload.len(), true)))
            }
            _ => {
                let branch = match BranchNode::decode(&payload) {
                    Ok(b) => b,
                    Err(reason) => return self.invalid_node(page, "branch", &reason),
                };
                self.out.branches += 1;
                self.out.payload_bytes += payload.len() as u64;
                for i in 0..branch.len().saturating_sub(1) {
                    let sep = branch.separator(i);
                    if !in_fences(sep) || sep <= low {
                        let f = self
                            .finding(
                                Severity::Error,
                                FindingKind::KeyOutsideFences,
                                page,
                                format!("branch {page}: separator {i} lies outside the fences its parent gives"),
                            )
                            .expected_found(
                                fence_text(low, high),
                                format!("separator {}", jubilant_format::view::display_bytes(sep)),
                            )
                            .suggest(self.hints.repair());
                        self.push(f);
                    }
                }
                let mut previous: Option<(usize, bool)> = None;
                for i in 0..branch.len() {
                    let child_low = if i == 0 { low.to_vec() } else { branch.separator(i - 1).to_vec() };
                    let child_high = if i + 1 < branch.len() {
                        Some(branch.separator(i).to_vec())
                    } else {
                        high.map(<[u8]>::to_vec)
                    };
                    let Some(child) = branch.child(i) else { continue };
                    let result = self.node(child, &child_low, child_high.as_deref(), depth + 1)?;
                    if let (Some((prev_size, prev_leaf)), Some((size, leaf))) = (previous, result)
                        && prev_leaf == leaf
                        && merged_payload_len(prev_size, size, &child_low, leaf) <= self.capacity
                    {
                        let f = self
                            .finding(
                                Severity::Warning,
                                FindingKind::NodeUnderfull,
                                page,
                                format!("branch {page}: children {} and {i} would fit together in one page", i - 1),
                            )
                            .expected_found("adjacent siblings that do not fit one page", "two that do")
                            .suggest(String::new());
                        self.push(f);
                    }
                    previous = result;
                }
                Ok(Some((payload.len(), false)))
            }
        }
    }

    fn invalid_node(&mut self, page: PageId, what: &str, reason: &str) -> Result<Option<(usize, bool)>> {
        let f = self
            .finding(Severity::Error, FindingKind::NodeInvalid, page, format!("{what} page {page}: {reason}"))
            .expected_found(format!("a valid {what} payload"), reason.to_owned())
            .suggest(self.hints.repair());
        self.push(f);
        self.out.tree_damaged = true;
        Ok(None)
    }

    fn leaf_entries(&mut self, page: PageId, leaf: &LeafNode, page_lsn: Lsn, in_fences: &dyn Fn(&[u8]) -> bool) {
        let mut outside = 0usize;
        let mut ahead = 0usize;
        for i in 0..leaf.len() {
            let Some(entry) = leaf.entry(i) else { continue };
            if !in_fences(entry.key) {
                outside += 1;
                if outside == 1 {
                    let f = self
                        .finding(
                            Severity::Error,
                            FindingKind::KeyOutsideFences,
                            page,
                            format!(
                                "leaf {page}: key {i} ({}) lies outside the fences its parent gives",
                                jubilant_format::view::display_bytes(entry.key)
                            ),
                        )
                        .expected_found(
                            "a key inside the parent's fences",
                            jubilant_format::view::display_bytes(entry.key),
                        )
                        .suggest(self.hints.repair());
                    self.push(f);
                }
            }
            if entry.version > self.sb.checkpoint_lsn || entry.version > page_lsn {
                ahead += 1;
                if ahead == 1 {
                    let f = self
                        .finding(Severity::Error, FindingKind::EntryVersionAhead, page, format!("leaf {page}: key {i} has version {} above the page LSN {page_lsn} or the checkpoint LSN {}", entry.version, self.sb.checkpoint_lsn))
                        .expected_found(format!("version <= {}", page_lsn.min(self.sb.checkpoint_lsn)), format!("version {}", entry.version))
                        .suggest(self.hints.repair());
                    self.push(f);
                }
            }
            if let Some(expires) = entry.expires_at_unix_ms {
                self.out.expiring_entries += 1;
                if expires == 0 {
                    let f = self
                        .finding(
                            Severity::Warning,
                            FindingKind::TtlInvalid,
                            page,
                            format!("leaf {page}: key {i} has the expiry flag set with expiry 0"),
                        )
                        .expected_found("an expiry above 0 ms when the flag is set", "0")
                        .suggest(self.hints.repair());
                    self.push(f);
                }
            }
            match entry.value {
                ValueView::Inline(v) => {
                    self.out.inline_values += 1;
                    self.out.inline_value_bytes += v.len() as u64;
                }
                ValueView::Ref(value_ref) => {
                    self.out.value_refs.push(TreeValueRef { page, key: entry.key.to_vec(), value_ref });
                }
            }
        }
    }

    fn free_list(&mut self) -> Result<()> {
        let mut next = self.sb.free_list_head;
        let mut hops = 0u64;
        while let Some(page) = next {
            hops += 1;
            if hops > self.sb.page_count || self.out.free_list_pages.contains(&page) {
                let f = self
                    .finding(
                        Severity::Error,
                        FindingKind::FreeListCycle,
                        page,
                        format!("the free list loops back to page {page}"),
                    )
                    .expected_found("a free list that ends", format!("page {page} again"))
                    .suggest(self.hints.repair());
                self.push(f);
                self.out.free_list_damaged = true;
                return Ok(());
            }
            if self.out.tree_pages.contains(&page) {
                let f = self
                    .finding(
                        Severity::Error,
                        FindingKind::PageReachableTwice,
                        page,
                        format!("free-list page {page} is also a tree page"),
                    )
                    .expected_found("a page only in the free list", "a tree page")
                    .suggest(self.hints.repair());
                self.push(f);
                self.out.free_list_damaged = true;
                return Ok(());
            }
            let Some((_, payload)) = self.open(page, &[PageType::FreeList], "free-list")? else {
                self.relabel_last_as_free_list();
                self.out.free_list_damaged = true;
                return Ok(());
            };
            let list = match FreeListPage::decode(&payload) {
                Ok(l) => l,
                Err(reason) => {
                    let f = self
                        .finding(
                            Severity::Error,
                            FindingKind::FreeListInvalid,
                            page,
                            format!("free-list page {page}: {reason}"),
                        )
                        .expected_found("a valid free-list payload", reason)
                        .suggest(self.hints.repair());
                    self.push(f);
                    self.out.free_list_damaged = true;
                    return Ok(());
                }
            };
            self.out.free_list_pages.push(page);
            for p in list.pages {
                if p.get() < 2 || p.get() >= self.sb.page_count {
                    let f = self
                        .finding(
                            Severity::Error,
                            FindingKind::FreePageOutOfRange,
                            page,
                            format!("free-list page {page} lists page {p}, outside 2..{}", self.sb.page_count),
                        )
                        .expected_found(
                            format!("a page id from 2 to {}", self.sb.page_count.saturating_sub(1)),
                            p.to_string(),
                        )
                        .suggest(self.hints.repair());
                    self.push(f);
                    self.out.free_list_damaged = true;
                } else if !self.out.free_pages.insert(p) {
                    let f = self
                        .finding(
                            Severity::Error,
                            FindingKind::FreePageDuplicate,
                            page,
                            format!("free-list page {page} lists page {p}, which is already on the free list"),
                        )
                        .expected_found("each free page listed once", format!("page {p} twice"))
                        .suggest(self.hints.repair());
                    self.push(f);
                    self.out.free_list_damaged = true;
                }
            }
            next = list.next;
        }
        Ok(())
    }

    /// A free-list page that failed to open was reported as a tree-style
    /// page problem; say it is the free list's.
    fn relabel_last_as_free_list(&mut self) {
        if let Some(last) = self.out.findings.last_mut()
            && last.kind == FindingKind::PageCorrupt
        {
            last.kind = FindingKind::FreeListInvalid;
        }
    }

    fn cross_checks(&mut self) {
        let in_use: Vec<PageId> = self
            .out
            .free_pages
            .iter()
            .filter(|p| self.out.tree_pages.contains(p) || self.out.free_list_pages.contains(p))
            .copied()
            .collect();
        for p in in_use {
            let f = self
                .finding(
                    Severity::Error,
                    FindingKind::FreePageInUse,
                    p,
                    format!("page {p} is on the free list and in use: the next checkpoint could overwrite it"),
                )
                .expected_found("free pages disjoint from the tree", "a page in both")
                .suggest(self.hints.repair());
            self.push(f);
            self.out.free_list_damaged = true;
        }
        if !self.out.tree_damaged && self.out.keys != self.sb.key_count {
            let f = Finding::new(
                Severity::Warning,
                FindingKind::KeyCountMismatch,
                PAGE_FILE,
                format!("the superblock counts {} keys, the leaves hold {}", self.sb.key_count, self.out.keys),
            )
            .at(self.sb.slot().page().offset(self.pages.page_size()))
            .expected_found(format!("key_count {}", self.out.keys), format!("key_count {}", self.sb.key_count))
            .suggest(self.hints.repair());
            self.push(f);
        }
        // Leaks only mean something when both structures were read whole.
        if self.out.tree_damaged || self.out.free_list_damaged {
            return;
        }
        let leaked: Vec<u64> = (2..self.sb.page_count)
            .filter(|&id| {
                let p = PageId(id);
                !self.out.tree_pages.contains(&p)
                    && !self.out.free_pages.contains(&p)
                    && !self.out.free_list_pages.contains(&p)
            })
            .collect();
        if let Some(&first) = leaked.first() {
            let f = self
                .finding(
                    Severity::Warning,
                    FindingKind::PageLeaked,
                    PageId(first),
                    format!(
                        "{} page(s) are neither in the tree nor free, first page {first}: their space is lost",
                        leaked.len()
                    ),
                )
                .expected_found(
                    "every page in the tree or free",
                    format!("{} leaked: {}", leaked.len(), id_list(&leaked)),
                )
                .suggest(self.hints.repair());
            self.push(f);
        }
    }
}

fn fence_text(low: &[u8], high: Option<&[u8]>) -> String {
    let show = jubilant_format::view::display_bytes;
    match high {
        Some(h) => format!("a key in [{}, {})", show(low), show(h)),
        None => format!("a key >= {}", show(low)),
    }
}

/// Up to 16 ids, then "…".
fn id_list(ids: &[u64]) -> String {
    let mut out: Vec<String> = ids.iter().take(16).map(u64::to_string).collect();
    if ids.len() > 16 {
        out.push("…".into());
    }
    out.join(", ")
}
