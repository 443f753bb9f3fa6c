//! The actions keys trigger: opening a page, walking the tree, jumping to
//! a key, following a value reference, switching the browsed slot. Each
//! reads what it needs (one page, one record) when it runs.

use std::sync::Arc;

use jubilant_engine::btree::node::ValueView;
use jubilant_format::{PageId, Slot, ValueRef};

use super::{Cursor, PageDetail, State, Status, View};
use crate::model::page::{Content, PageView, ValueCell, superblock_page, tree_page};
use crate::model::text;
use crate::model::tree::{TreeNode, load_node};
use crate::model::vlog::{VlogRow, follow};

/// One node on the path from the root.
#[derive(Debug, Clone)]
pub struct TreeFrame {
    /// Its page.
    pub page: PageId,
    /// The decoded node, or why it could not be read.
    pub node: Result<Arc<TreeNode>, String>,
    /// The selected entry or child.
    pub cursor: Cursor,
}

/// The tree browser: the path from the root to the node shown.
#[derive(Debug, Clone, Default)]
pub struct TreeBrowser {
    /// Root first; the last frame is shown.
    pub path: Vec<TreeFrame>,
    /// The outcome of the last jump or walk.
    pub message: Option<Status>,
}

impl TreeBrowser {
    /// The frame shown.
    #[must_use]
    pub fn current(&self) -> Option<&TreeFrame> {
        self.path.last()
    }

    /// The key range `[low, high)` the shown node's parent gives it
    /// (`None` high is +∞).
    #[must_use]
    pub fn fences(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut low = Vec::new();
        let mut high: Option<Vec<u8>> = None;
        for frame in self.path.iter().take(self.path.len().saturating_sub(1)) {
            let Ok(node) = &frame.node else { break };
            let TreeNode::Branch(b) = &**node else { break };
            let i = frame.cursor.selected;
            if i > 0 {
                low = b.separator(i - 1).to_vec();
            }
            if i + 1 < b.len() {
                high = Some(b.separator(i).to_vec());
            }
        }
        (low, high)
    }
}

impl State {
    pub(crate) fn rows(&self) -> usize {
        crate::ui::list_rows(self, self.view)
    }

    /// Opens page `id` in the page view; Esc returns to `back`.
    pub fn open_page(&mut self, id: PageId, back: View) {
        let page = self.page_view(id);
        if let Err(e) = &page.verdict {
            self.say(true, format!("page {id}: {e}"));
        }
        self.page = Some(PageDetail { page, entries: Cursor::default(), hex_line: 0, focus_hex: false, back });
        self.view = View::PageDetail;
    }

    /// Reads and decodes page `id`.
    pub(crate) fn page_view(&self, id: PageId) -> PageView {
        let raw = self.dir.read_page(id);
        let read_error = raw.as_ref().err().cloned();
        let raw = raw.unwrap_or_default();
        let mut view = match id.get() {
            0 | 1 => {
                let slot = if id.get() == 0 { Slot::A } else { Slot::B };
                let decoded = self.dir.slot(slot).map_or_else(
                    || {
                        Err(jubilant_format::Error::InvalidContent {
                            structure: jubilant_format::Structure::Superblock,
                            reason: "slot not read".into(),
                        })
                    },
                    |s| s.decoded.clone(),
                );
                superblock_page(slot, raw, &decoded)
            }
            _ => tree_page(id, raw, self.dir.page_size),
        };
        if let Some(e) = read_error {
            view.verdict = Err(e);
        }
        view
    }

    /// Loads the page whose byte map the ownership view shows.
    pub(crate) fn load_own_page(&mut self) {
        let id = PageId(self.own_cursor.selected as u64);
        if self.own_page.as_ref().is_none_or(|p| p.id != id) && id.get() < self.page_count() {
            self.own_page = Some(self.page_view(id));
        }
    }

    /// Starts the tree browser at the browsed slot's root.
    pub(crate) fn tree_reset(&mut self) {
        self.tree = super::TreeBrowser::default();
        let root = self.slot.and_then(|s| self.dir.superblock(s)).and_then(|sb| sb.root_page);
        match root {
            Some(root) => self.tree.path.push(TreeFrame {
                page: root,
                node: load_node(&self.dir, root),
                cursor: Cursor::default(),
            }),
            None => {
                let why =
                    if self.slot.is_some() { "the tree is empty" } else { "no valid superblock: no tree to browse" };
                self.tree.message = Some(Status { error: self.slot.is_none(), text: why.into() });
            }
        }
    }

    /// Descends into the selected child of the shown branch, or follows
    /// the selected leaf entry's value reference.
    pub(crate) fn tree_enter(&mut self) {
        let Some(frame) = self.tree.path.last() else { return };
        let Ok(node) = &frame.node else { return };
        match &**node {
            TreeNode::Branch(b) => {
                if let Some(child) = b.child(frame.cursor.selected) {
                    self.tree.path.push(TreeFrame {
                        page: child,
                        node: load_node(&self.dir, child),
                        cursor: Cursor::default(),
                    });
                    self.tree.message = None;
                }
            }
            TreeNode::Leaf(l) => {
                if let Some(e) = l.entry(frame.cursor.selected) {
                    match e.value {
                        ValueView::Ref(r) => {
                            let key = e.key.to_vec();
                            self.follow_ref(&key, r, View::Tree);
                        }
                        ValueView::Inline(v) => {
                            let text = format!("inline value ({} B): nothing to follow", v.len());
                            self.tree.message = Some(Status { error: false, text });
                        }
                    }
                }
            }
        }
    }

    /// Goes up to the parent.
    pub(crate) fn tree_up(&mut self) {
        if self.tree.path.len() > 1 {
            self.tree.path.pop();
        }
    }

    /// Moves to the next (or previous) leaf, through the parents: leaves
    /// have no sibling pointers (§7a).
    pub(crate) fn tree_sibling(&mut self, forward: bool) {
        if !matches!(self.tree.current().map(|f| &f.node), Some(Ok(n)) if matches!(**n, TreeNode::Leaf(_))) {
            self.tree.message = Some(Status { error: false, text: "siblings: open a leaf first".into() });
            return;
        }
        let saved = self.tree.path.clone();
        self.tree.path.pop();
        // Up until a parent has a child on that side.
        loop {
            let Some(frame) = self.tree.path.last_mut() else {
                self.tree.path = saved;
                let edge = if forward { "last" } else { "first" };
                self.tree.message = Some(Status { error: false, text: format!("this is the {edge} leaf") });
                return;
            };
            let len = match &frame.node {
                Ok(n) => n.len(),
                Err(_) => 0,
            };
            let i = frame.cursor.selected;
            if forward && i + 1 < len {
                frame.cursor.select(i + 1, len, usize::MAX);
                break;
            }
            if !forward && i > 0 && len > 0 {
                frame.cursor.select(i - 1, len, usize::MAX);
                break;
            }
            self.tree.path.pop();
        }
        // Down along the near edge.
        let rows = self.rows();
        while let Some(frame) = self.tree.path.last() {
            let Ok(node) = &frame.node else { break };
            let TreeNode::Branch(b) = &**node else {
                let len = node.len();
                let at = if forward { 0 } else { len.saturating_sub(1) };
                if let Some(f) = self.tree.path.last_mut() {
                    f.cursor = Cursor::default();
                    f.cursor.select(at, len, rows);
                }
                break;
            };
            let Some(child) = b.child(frame.cursor.selected) else { break };
            let node = load_node(&self.dir, child);
            let len = node.as_ref().map_or(0, |n| n.len());
            let mut cursor = Cursor::default();
            cursor.select(if forward { 0 } else { len.saturating_sub(1) }, len, rows);
            self.tree.path.push(TreeFrame { page: child, node, cursor });
        }
        let page = self.tree.current().map_or(PageId(0), |f| f.page);
        self.tree.message = Some(Status { error: false, text: format!("moved to leaf page {page}") });
    }

    /// Jumps to the first key at or after `prefix`, from the root down.
    pub(crate) fn tree_jump(&mut self, prefix: &[u8]) {
        self.tree_reset();
        let rows = self.rows();
        loop {
            let Some(frame) = self.tree.path.last_mut() else { return };
            let node = match &frame.node {
                Ok(n) => Arc::clone(n),
                Err(e) => {
                    self.tree.message =
                        Some(Status { error: true, text: format!("jump stopped at page {}: {e}", frame.page) });
                    return;
                }
            };
            match &*node {
                TreeNode::Branch(b) => {
                    let i = b.child_index(prefix);
                    frame.cursor.select(i, b.len(), rows);
                    let Some(child) = b.child(i) else { return };
                    self.tree.path.push(TreeFrame {
                        page: child,
                        node: load_node(&self.dir, child),
                        cursor: Cursor::default(),
                    });
                }
                TreeNode::Leaf(l) => {
                    let i = l.search(prefix).unwrap_or_else(|i| i);
                    if i < l.len() {
                        frame.cursor.select(i, l.len(), rows);
                        let page = frame.page;
                        let key = text::key(l.key(i), 40);
                        let exact = if l.key(i).starts_with(prefix) {
                            "first key with the prefix"
                        } else {
                            "no key has the prefix; next key"
                        };
                        self.tree.message = Some(Status {
                            error: false,
                            text: format!("{exact}: {key} (leaf page {page}, entry {i})"),
                        });
                    } else {
                        // Past this leaf's last key: the next leaf's first.
                        frame.cursor.select(l.len().saturating_sub(1), l.len(), rows);
                        self.tree_sibling(true);
                        let at_edge = self.tree.message.as_ref().is_some_and(|m| m.text.contains("last leaf"));
                        let text = if at_edge {
                            format!("no key at or after {}", text::key(prefix, 40))
                        } else {
                            let key = match self.tree.current().map(|f| &f.node) {
                                Some(Ok(n)) => match &**n {
                                    TreeNode::Leaf(l) => text::key(l.key(0), 40),
                                    TreeNode::Branch(_) => String::new(),
                                },
                                _ => String::new(),
                            };
                            format!("next key: {key}")
                        };
                        self.tree.message = Some(Status { error: false, text });
                    }
                    return;
                }
            }
        }
    }

    /// Follows a value reference into the value-log view.
    pub(crate) fn follow_ref(&mut self, key: &[u8], r: ValueRef, back: View) {
        let followed = follow(&self.dir, key, r);
        let seg = self.vlog.as_ref().and_then(|v| v.segments.iter().position(|s| s.id == r.segment));
        let rows = crate::ui::list_rows(self, View::Vlog);
        if let (Some(seg), Some(vlog)) = (seg, &self.vlog) {
            let segs = vlog.segments.len();
            self.vlog_ui.segments.select(seg, segs, rows);
            let record = vlog.segments.get(seg).and_then(|s| {
                s.rows.iter().position(|row| matches!(row, VlogRow::Record(rec) if rec.offset == r.offset))
            });
            let len = vlog.segments.get(seg).map_or(0, |s| s.rows.len());
            self.vlog_ui.records = Cursor::default();
            self.vlog_ui.records.select(record.unwrap_or(0), len, rows);
            self.vlog_ui.focus_records = true;
        }
        if let Err(e) = &followed.result {
            self.say(true, format!("value reference of {}: {e}", text::key(key, 30)));
        }
        self.vlog_ui.followed = Some(followed);
        self.vlog_ui.back = Some(back);
        self.view = View::Vlog;
    }

    /// Enter on the page view's selected entry: open a child or listed
    /// page, or follow a value reference.
    pub(crate) fn page_enter(&mut self) {
        let Some(detail) = &self.page else { return };
        let i = detail.entries.selected;
        match &detail.page.content {
            Content::Branch(children) => {
                if let Some(c) = children.get(i) {
                    let (id, back) = (c.child, detail.back);
                    self.open_page(id, back);
                }
            }
            Content::FreeList { pages, .. } => {
                if let Some(&id) = pages.get(i) {
                    let back = detail.back;
                    self.open_page(id, back);
                }
            }
            Content::Leaf(entries) => {
                if let Some(e) = entries.get(i) {
                    match &e.value {
                        ValueCell::Ref(r) => {
                            let (key, r) = (e.key.clone(), *r);
                            self.follow_ref(&key, r, View::PageDetail);
                        }
                        ValueCell::Inline(v) => {
                            self.say(false, format!("inline value ({} B): nothing to follow", v.len()));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Switches the slot the directory is browsed as of.
    pub(crate) fn switch_slot(&mut self) {
        let Some(current) = self.slot else {
            self.say(true, "no valid superblock in either slot");
            return;
        };
        let other = current.other();
        match self.dir.slot(other).map(|s| &s.decoded) {
            Some(Ok(_)) => {
                self.slot = Some(other);
                self.tree_reset();
                self.own_page = None;
                self.load_own_page();
                let role = match self.dir.slot_role(other) {
                    crate::model::dir::SlotRole::Current(_) => "current",
                    _ => "older: what a repair would fall back to",
                };
                self.say(false, format!("browsing as of slot {} ({role})", other.letter()));
            }
            Some(Err(e)) => self.say(true, format!("slot {} is rejected: {e}", other.letter())),
            None => {}
        }
    }
}
