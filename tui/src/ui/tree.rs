//! Tree browser: the path from the root, the shown node's entries, and the
//! node's fences and selected entry.

use jubilant_engine::btree::node::ValueView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::style::{self, DIM, ERROR};
use crate::app::State;
use crate::model::text;
use crate::model::tree::TreeNode;

const SIDE_WIDTH: u16 = 48;

fn split(body: Rect) -> (Rect, Rect, Rect) {
    let [crumbs, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(body);
    let [list, side] = Layout::horizontal([Constraint::Min(0), Constraint::Length(SIDE_WIDTH)]).areas(rest);
    (crumbs, list, side)
}

pub(crate) fn list_rows(body: Rect) -> usize {
    (split(body).1.height as usize).saturating_sub(2).max(1)
}

pub(crate) fn render(state: &State, frame: &mut Frame, body: Rect) {
    let (crumbs, list, side) = split(body);
    let tree = &state.tree;
    let mut spans = vec![Span::styled(format!(" slot {} ", state.slot.map_or('-', |s| s.letter())), style::HEADING)];
    for (i, f) in tree.path.iter().enumerate() {
        let last = i + 1 == tree.path.len();
        let style = if f.node.is_err() {
            ERROR
        } else if last {
            Style::new()
        } else {
            DIM
        };
        let text =
            if last { format!("› page {}", f.page) } else { format!("› page {} [{}] ", f.page, f.cursor.selected) };
        spans.push(Span::styled(text, style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), crumbs);

    let Some(frame_shown) = tree.current() else {
        let msg = tree.message.as_ref().map_or("no tree", |m| m.text.as_str());
        frame.render_widget(Paragraph::new(msg).style(DIM).block(Block::bordered().title(" Tree ")), list);
        return;
    };
    let rows = list.height.saturating_sub(2) as usize;
    let width = list.width.saturating_sub(2) as usize;
    let (title, lines) = match &frame_shown.node {
        Err(e) => (
            format!(" page {}: unreadable ", frame_shown.page),
            vec![Line::styled(e.clone(), ERROR), Line::styled("← goes back up", DIM)],
        ),
        Ok(node) => {
            let start = frame_shown.cursor.start(rows);
            let mut lines = Vec::with_capacity(rows);
            for i in start..node.len().min(start + rows) {
                let text = match &**node {
                    TreeNode::Leaf(l) => l.entry(i).map(|e| {
                        let value = match e.value {
                            ValueView::Inline(v) if state.show_values => text::value(v, 30),
                            ValueView::Inline(v) => text::redacted(v),
                            ValueView::Ref(r) => format!("→ vlog {}@{}", r.segment, r.offset),
                        };
                        format!("{i:>4} {:<28} v{:<6} {value}", text::key(e.key, 28), e.version.get())
                    }),
                    TreeNode::Branch(b) => {
                        let sep = if i == 0 {
                            "(low fence)".to_owned()
                        } else {
                            format!("≥ {}", text::key(b.separator(i - 1), 30))
                        };
                        b.child(i).map(|c| format!("{i:>4} {sep:<34} → page {c}"))
                    }
                };
                let Some(text) = text else { break };
                let style = if i == frame_shown.cursor.selected { style::ACTIVE } else { Style::new() };
                lines.push(Line::styled(text::clip(&text, width), style));
            }
            let kind = match &**node {
                TreeNode::Leaf(_) => format!("leaf page {}: {} entries", frame_shown.page, node.len()),
                TreeNode::Branch(_) => format!("branch page {}: {} children", frame_shown.page, node.len()),
            };
            (format!(" {kind}, depth {} ", tree.path.len()), lines)
        }
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), list);
    side_panel(state, frame, side);
}

fn side_panel(state: &State, frame: &mut Frame, area: Rect) {
    let tree = &state.tree;
    let w = 10;
    let mut lines = Vec::new();
    let (low, high) = tree.fences();
    lines.push(super::field("low fence", w, if low.is_empty() { "−∞".to_owned() } else { text::key(&low, 34) }));
    lines.push(super::field("high fence", w, high.map_or_else(|| "+∞".to_owned(), |h| text::key(&h, 34))));
    if let Some(f) = tree.current()
        && let Ok(node) = &f.node
    {
        let i = f.cursor.selected;
        lines.push(Line::raw(""));
        match &**node {
            TreeNode::Leaf(l) => {
                if let Some(e) = l.entry(i) {
                    lines.push(super::field("key", w, text::key(e.key, 200)));
                    lines.push(super::field("version", w, format!("LSN {}", e.version)));
                    if let Some(t) = e.expires_at_unix_ms {
                        lines.push(super::field("expires", w, text::unix_ms(t)));
                    }
                    match e.value {
                        ValueView::Inline(v) => {
                            let shown = if state.show_values { text::value(v, 200) } else { text::redacted(v) };
                            lines.push(super::field("value", w, shown));
                        }
                        ValueView::Ref(r) => {
                            lines.push(super::field(
                                "value",
                                w,
                                format!("vlog segment {} @{}, {} B", r.segment, r.offset, r.length),
                            ));
                            lines.push(Line::styled("Enter follows the reference", style::KEY));
                        }
                    }
                }
            }
            TreeNode::Branch(b) => {
                if let Some(c) = b.child(i) {
                    lines.push(super::field("child", w, format!("page {c}")));
                    lines.push(Line::styled("Enter descends", style::KEY));
                }
            }
        }
    }
    if let Some(m) = &tree.message {
        lines.push(Line::raw(""));
        lines.push(Line::styled(m.text.clone(), if m.error { ERROR } else { style::OK }));
    }
    lines.push(Line::raw(""));
    for hint in
        ["Enter descend / follow value ref", "← up · n/p next/previous leaf", "/ jump to a key prefix · o open page"]
    {
        lines.push(Line::styled(hint, DIM));
    }
    frame
        .render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(" Node ")), area);
}
