//! Key and mouse handling. Global keys first (quit, help, views, refresh,
//! validation, slot, values), then the shown view's keys.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};
use jubilant_format::PageId;

use super::{Cursor, Input, State, View};
use crate::model::page::Content;
use crate::model::tree::TreeNode;
use crate::model::vlog::VlogRow;

/// Rows one mouse-wheel notch scrolls.
const WHEEL_ROWS: isize = 3;

/// A movement, from keys or the mouse wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    By(isize),
    Page(isize),
    Home,
    End,
}

impl State {
    /// Handles one terminal event.
    pub fn handle_event(&mut self, event: &Event) {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.handle_key(*key),
            Event::Mouse(mouse) => match mouse.kind {
                MouseEventKind::ScrollDown => self.movement(Move::By(WHEEL_ROWS)),
                MouseEventKind::ScrollUp => self.movement(Move::By(-WHEEL_ROWS)),
                _ => {}
            },
            Event::Resize(w, h) => self.size = (*w, *h),
            _ => {}
        }
    }

    /// Handles one key press.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.input.is_some() {
            self.input_key(key.code);
            return;
        }
        if self.show_help {
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter) {
                self.show_help = false;
            }
            return;
        }
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.show_help = true,
            KeyCode::Char(c @ '1'..='8') => {
                let i = (c as usize).saturating_sub('1' as usize);
                if let Some(&view) = View::ALL.get(i) {
                    self.switch_view(view);
                }
            }
            KeyCode::Char('r') => {
                if let Err(e) = self.refresh() {
                    self.say(true, format!("refresh failed: {e}"));
                }
            }
            KeyCode::Char('v') => {
                self.start_validation();
                self.say(false, "validation started in the background");
            }
            KeyCode::Char('s') => self.switch_slot(),
            KeyCode::Char('x') => {
                self.show_values = !self.show_values;
                let what = if self.show_values { "values shown" } else { "values redacted to length and hash" };
                self.say(false, what);
            }
            KeyCode::Up | KeyCode::Char('k') => self.movement(Move::By(-1)),
            KeyCode::Down | KeyCode::Char('j') => self.movement(Move::By(1)),
            KeyCode::PageUp => self.movement(Move::Page(-1)),
            KeyCode::PageDown | KeyCode::Char(' ') => self.movement(Move::Page(1)),
            KeyCode::Home | KeyCode::Char('g') => self.movement(Move::Home),
            KeyCode::End | KeyCode::Char('G') => self.movement(Move::End),
            code => self.view_key(code),
        }
    }

    fn switch_view(&mut self, view: View) {
        if view == View::PageDetail && self.page.is_none() {
            let id = PageId(self.map.selected);
            self.open_page(id, self.view);
            return;
        }
        if view == View::Ownership {
            self.load_own_page();
        }
        self.view = view;
    }

    fn input_key(&mut self, code: KeyCode) {
        let Some(input) = &mut self.input else { return };
        let text = match input {
            Input::KeyPrefix(t) | Input::GotoPage(t) => t,
        };
        match code {
            KeyCode::Esc => self.input = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if text.chars().count() < 1024 => text.push(c),
            KeyCode::Enter => {
                let Some(input) = self.input.take() else { return };
                match input {
                    Input::KeyPrefix(prefix) => self.tree_jump(prefix.as_bytes()),
                    Input::GotoPage(number) => match number.trim().parse::<u64>() {
                        Ok(id) if id < self.page_count() => self.goto_page(id),
                        _ => self.say(true, format!("no page {number:?}: pages are 0..{}", self.page_count())),
                    },
                }
            }
            _ => {}
        }
    }

    fn goto_page(&mut self, id: u64) {
        match self.view {
            View::PageDetail => {
                let back = self.page.as_ref().map_or(View::PageMap, |p| p.back);
                self.open_page(PageId(id), back);
            }
            View::Ownership => {
                let rows = self.rows();
                self.own_cursor.select(id as usize, self.page_count() as usize, rows);
                self.load_own_page();
            }
            _ => self.map_select(id),
        }
    }

    fn map_select(&mut self, id: u64) {
        let per_row = crate::ui::map_cells_per_row(self.size) as u64;
        let rows = self.rows();
        self.map.selected = id.min(self.page_count().saturating_sub(1));
        let row = (self.map.selected / per_row.max(1)) as usize;
        self.map.row_offset = super::cursor::window_start(self.map.row_offset, row, rows);
    }

    fn movement(&mut self, m: Move) {
        let rows = self.rows();
        let hex_rows = crate::ui::hex_rows(self);
        let step = |c: &mut Cursor, len: usize| match m {
            Move::By(d) => c.move_by(d, len, rows),
            Move::Page(d) => c.move_by(d * rows.max(1) as isize, len, rows),
            Move::Home => c.home(),
            Move::End => c.end(len, rows),
        };
        match self.view {
            View::Overview | View::Superblocks => {}
            View::PageMap => {
                let per_row = crate::ui::map_cells_per_row(self.size) as i64;
                let last = self.page_count().saturating_sub(1) as i64;
                let target = match m {
                    Move::By(d) => self.map.selected as i64 + d as i64 * per_row,
                    Move::Page(d) => self.map.selected as i64 + d as i64 * per_row * rows as i64,
                    Move::Home => 0,
                    Move::End => last,
                };
                self.map_select(target.clamp(0, last.max(0)) as u64);
            }
            View::PageDetail => {
                let Some(detail) = &mut self.page else { return };
                if detail.focus_hex {
                    let lines = detail.page.raw.len().div_ceil(16);
                    let mut c = Cursor { selected: detail.hex_line, offset: detail.hex_line };
                    step(&mut c, lines);
                    detail.hex_line = c.selected;
                } else {
                    let len = detail.page.entry_count();
                    step(&mut detail.entries, len);
                    // Keep the selected entry's bytes in the hex view.
                    let offset = match &detail.page.content {
                        Content::Leaf(e) => e.get(detail.entries.selected).map(|e| e.offset),
                        Content::Branch(c) => c.get(detail.entries.selected).map(|c| c.offset),
                        _ => None,
                    };
                    if let Some(offset) = offset {
                        let line = offset / 16;
                        detail.hex_line = super::cursor::window_start(detail.hex_line, line, hex_rows);
                    }
                }
            }
            View::Tree => {
                if let Some(frame) = self.tree.path.last_mut() {
                    let len = frame.node.as_ref().map_or(0, |n| n.len());
                    step(&mut frame.cursor, len);
                }
            }
            View::Wal => {
                let len = self.wal.as_ref().map_or(0, |w| w.rows.len());
                step(&mut self.wal_cursor, len);
            }
            View::Vlog => {
                let Some(vlog) = &self.vlog else { return };
                if self.vlog_ui.focus_records {
                    let len = vlog.segments.get(self.vlog_ui.segments.selected).map_or(0, |s| s.rows.len());
                    step(&mut self.vlog_ui.records, len);
                } else {
                    let before = self.vlog_ui.segments.selected;
                    step(&mut self.vlog_ui.segments, vlog.segments.len());
                    if self.vlog_ui.segments.selected != before {
                        self.vlog_ui.records = Cursor::default();
                    }
                }
            }
            View::Ownership => {
                let len = self.page_count() as usize;
                step(&mut self.own_cursor, len);
                self.load_own_page();
            }
        }
    }

    fn view_key(&mut self, code: KeyCode) {
        match (self.view, code) {
            (View::PageMap, KeyCode::Left | KeyCode::Char('h')) => self.map_select(self.map.selected.saturating_sub(1)),
            (View::PageMap, KeyCode::Right | KeyCode::Char('l')) => self.map_select(self.map.selected + 1),
            (View::PageMap, KeyCode::Enter) => self.open_page(PageId(self.map.selected), View::PageMap),
            (View::PageMap | View::PageDetail | View::Ownership, KeyCode::Char('/')) => {
                self.input = Some(Input::GotoPage(String::new()));
            }
            (View::PageDetail, KeyCode::Tab) => {
                if let Some(d) = &mut self.page {
                    d.focus_hex = !d.focus_hex;
                }
            }
            (View::PageDetail, KeyCode::Enter | KeyCode::Right) => self.page_enter(),
            (View::PageDetail, KeyCode::Char(']') | KeyCode::Char('[')) => {
                if let Some(d) = &self.page {
                    let id = d.page.id.get();
                    let next = if code == KeyCode::Char(']') { id + 1 } else { id.saturating_sub(1) };
                    if next < self.page_count() {
                        let back = d.back;
                        self.open_page(PageId(next), back);
                    }
                }
            }
            (View::PageDetail, KeyCode::Esc | KeyCode::Backspace | KeyCode::Left) => {
                let back = self.page.as_ref().map_or(View::PageMap, |p| p.back);
                self.view = if back == View::PageDetail { View::PageMap } else { back };
            }
            (View::Tree, KeyCode::Enter | KeyCode::Right | KeyCode::Char('l')) => self.tree_enter(),
            (View::Tree, KeyCode::Left | KeyCode::Backspace | KeyCode::Esc | KeyCode::Char('h')) => self.tree_up(),
            (View::Tree, KeyCode::Char('n')) => self.tree_sibling(true),
            (View::Tree, KeyCode::Char('p')) => self.tree_sibling(false),
            (View::Tree, KeyCode::Char('/')) => self.input = Some(Input::KeyPrefix(String::new())),
            (View::Tree, KeyCode::Char('o')) => {
                if let Some(f) = self.tree.current() {
                    let page = f.page;
                    self.open_page(page, View::Tree);
                }
            }
            (View::Wal, KeyCode::Char('t')) => {
                let Some(wal) = &self.wal else { return };
                match wal.first_damage() {
                    Some(i) => {
                        let (len, rows) = (wal.rows.len(), self.rows());
                        self.wal_cursor.select(i, len, rows);
                    }
                    None => self.say(false, "the WAL has no damage"),
                }
            }
            (View::Vlog, KeyCode::Enter | KeyCode::Tab | KeyCode::Right) => self.vlog_ui.focus_records = true,
            (View::Vlog, KeyCode::Esc | KeyCode::Backspace | KeyCode::Left) => {
                if self.vlog_ui.focus_records {
                    self.vlog_ui.focus_records = false;
                } else if let Some(back) = self.vlog_ui.back.take() {
                    self.view = back;
                }
            }
            (View::Ownership, KeyCode::Enter) => {
                self.open_page(PageId(self.own_cursor.selected as u64), View::Ownership);
            }
            (View::Ownership, KeyCode::Char('o')) => {
                // The next orphaned or doubly owned page.
                let Some(own) = self.ownership() else { return };
                let from = self.own_cursor.selected + 1;
                let found = (from..own.owners.len()).chain(0..from).find(|&p| {
                    matches!(
                        own.owner(p as u64),
                        crate::model::ownership::Owner::Orphan
                            | crate::model::ownership::Owner::Conflict
                            | crate::model::ownership::Owner::TreeDamaged
                    )
                });
                match found {
                    Some(p) => {
                        let (len, rows) = (self.page_count() as usize, self.rows());
                        self.own_cursor.select(p, len, rows);
                        self.load_own_page();
                    }
                    None => self.say(false, "no orphaned or doubly owned page"),
                }
            }
            _ => {}
        }
    }

    /// The selected value-log row, if any.
    #[must_use]
    pub fn selected_vlog_row(&self) -> Option<&VlogRow> {
        let seg = self.vlog.as_ref()?.segments.get(self.vlog_ui.segments.selected)?;
        seg.rows.get(self.vlog_ui.records.selected)
    }

    /// Whether the tree browser shows a leaf.
    #[must_use]
    pub fn tree_at_leaf(&self) -> bool {
        matches!(self.tree.current().map(|f| &f.node), Some(Ok(n)) if matches!(**n, TreeNode::Leaf(_)))
    }
}
