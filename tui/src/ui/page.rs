//! Page detail: the header field by field with byte offsets, the decoded
//! entries, a hex view with the header highlighted, and the selected
//! entry.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::style::{self, DIM, ERROR, OK, WARN};
use crate::app::{PageDetail, State};
use crate::model::page::{ByteKind, Content, PageView, ValueCell};
use crate::model::text;

const HEADER_WIDTH: u16 = 58;
const HEX_WIDTH: u16 = 76;

struct Areas {
    header: Rect,
    entries: Rect,
    hex: Rect,
    detail: Rect,
}

fn areas(state: &State, body: Rect) -> Areas {
    let fields = state.page.as_ref().map_or(8, |p| p.page.fields.len()) as u16;
    let top = (fields + 5).min(body.height.saturating_mul(2) / 3);
    let [top, bottom] = Layout::vertical([Constraint::Length(top), Constraint::Min(0)]).areas(body);
    let [header, entries] = Layout::horizontal([Constraint::Length(HEADER_WIDTH), Constraint::Min(0)]).areas(top);
    let [hex, detail] = Layout::horizontal([Constraint::Length(HEX_WIDTH), Constraint::Min(0)]).areas(bottom);
    Areas { header, entries, hex, detail }
}

pub(crate) fn entry_rows(state: &State, body: Rect) -> usize {
    (areas(state, body).entries.height as usize).saturating_sub(3).max(1)
}

pub(crate) fn hex_rows(state: &State, body: Rect) -> usize {
    (areas(state, body).hex.height as usize).saturating_sub(2).max(1)
}

pub(crate) fn render(state: &State, frame: &mut Frame, body: Rect) {
    let Some(detail) = &state.page else {
        let text = "no page open: select one in the page map (2) and press Enter";
        frame.render_widget(Paragraph::new(text).style(DIM).block(Block::bordered()), body);
        return;
    };
    let a = areas(state, body);
    header(&detail.page, frame, a.header);
    entries(state, detail, frame, a.entries);
    hex(detail, frame, a.hex);
    selected(state, detail, frame, a.detail);
}

fn header(page: &PageView, frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = page
        .fields
        .iter()
        .map(|f| {
            let style = if f.bad { ERROR } else { Style::new() };
            Line::from(vec![
                Span::styled(format!("{:>3} ", f.offset), DIM),
                Span::styled(format!("{:<17} ", f.name), DIM),
                Span::styled(format!("{:<16} ", text::clip(&f.raw, 16)), style::WARN),
                Span::styled(f.value.clone(), style),
            ])
        })
        .collect();
    if let Some((stored, computed)) = page.crc {
        lines.push(if stored == computed {
            Line::styled(format!("CRC32C stored {stored:#010x} = computed {computed:#010x} ✓"), OK)
        } else {
            Line::styled(format!("CRC32C stored {stored:#010x} ≠ computed {computed:#010x} ✗"), ERROR)
        });
    }
    lines.push(match &page.verdict {
        Ok(v) => Line::styled(v.clone(), OK),
        Err(e) => Line::styled(e.clone(), ERROR),
    });
    let title = format!(" Page {} at offset {} · header ", page.id, page.id.get() * page.raw.len().max(1) as u64);
    let title = if page.raw.is_empty() { format!(" Page {} · header ", page.id) } else { title };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), area);
}

fn entries(state: &State, detail: &PageDetail, frame: &mut Frame, area: Rect) {
    let page = &detail.page;
    let focus = if detail.focus_hex { "" } else { " ◀" };
    let block = Block::bordered().title(format!(" Entries ({}){focus} ", page.entry_count()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [note_area, list_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let note = match (&page.content, &page.note) {
        (Content::Undecodable(e), _) => Line::styled(format!("payload does not decode: {e}"), ERROR),
        (_, Some(n)) => Line::styled(n.clone(), if page.verdict.is_err() { WARN } else { DIM }),
        (Content::Leaf(_), None) => Line::styled("Enter on a value ref follows it · x reveals values", DIM),
        (Content::Branch(_), None) => Line::styled("child i holds keys ≥ its separator · Enter opens it", DIM),
        _ => Line::raw(""),
    };
    frame.render_widget(Paragraph::new(note), note_area);
    let rows = list_area.height as usize;
    let start = detail.entries.start(rows);
    let width = list_area.width as usize;
    let mut lines = Vec::with_capacity(rows);
    for i in start..page.entry_count().min(start + rows) {
        let text = match &page.content {
            Content::Leaf(entries) => entries.get(i).map(|e| {
                let value = match &e.value {
                    ValueCell::Inline(v) if state.show_values => text::value(v, 24),
                    ValueCell::Inline(v) => text::redacted(v),
                    ValueCell::Ref(r) => format!("→ vlog {}@{} ({} B)", r.segment, r.offset, r.length),
                };
                let ttl = if e.expires_at_unix_ms.is_some() { " ttl" } else { "" };
                format!("{i:>3} @{:<5} {:<18} v{:<5} {value}{ttl}", e.offset, text::key(&e.key, 18), e.version.get())
            }),
            Content::Branch(children) => children.get(i).map(|c| {
                let sep =
                    c.separator.as_deref().map_or_else(|| "(−∞)".to_owned(), |s| format!("≥ {}", text::key(s, 22)));
                format!("{i:>3} @{:<5} {sep:<25} → page {}", c.offset, c.child)
            }),
            Content::FreeList { pages, .. } => pages.get(i).map(|p| format!("{i:>4}  free page {p}")),
            _ => None,
        };
        let Some(text) = text else { break };
        let style = if i == detail.entries.selected && !detail.focus_hex { style::ACTIVE } else { Style::new() };
        lines.push(Line::styled(text::clip(&text, width), style));
    }
    if let Content::FreeList { next, .. } = &page.content
        && lines.is_empty()
    {
        lines.push(Line::styled(
            format!("no ids; next free-list page: {}", next.map_or("none".into(), |n| n.to_string())),
            DIM,
        ));
    }
    frame.render_widget(Paragraph::new(lines), list_area);
}

fn hex(detail: &PageDetail, frame: &mut Frame, area: Rect) {
    let page = &detail.page;
    let focus = if detail.focus_hex { " ◀" } else { " (Tab scrolls it)" };
    let block = Block::bordered().title(format!(" Hex: header highlighted, CRC in magenta{focus} "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = inner.height as usize;
    let lines_total = page.raw.len().div_ceil(16);
    let start = detail.hex_line.min(lines_total.saturating_sub(1));
    let selected = selected_range(detail);
    let crc_bad = page.crc.is_some_and(|(s, c)| s != c);
    let mut lines = Vec::with_capacity(rows);
    for line in start..lines_total.min(start + rows) {
        let base = line * 16;
        let mut spans = vec![Span::styled(format!("{base:06x}  "), DIM)];
        let mut ascii = String::with_capacity(16);
        for i in base..base + 16 {
            let Some(&b) = page.raw.get(i) else {
                spans.push(Span::raw("   "));
                continue;
            };
            let kind = page.kind_at(i);
            let mut style = if kind == ByteKind::Crc && crc_bad { ERROR } else { style::byte(kind) };
            if selected.as_ref().is_some_and(|r| r.contains(&i)) {
                style = style.add_modifier(Modifier::REVERSED);
            }
            spans.push(Span::styled(format!("{b:02x}"), style));
            spans.push(Span::raw(" "));
            ascii.push(if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' });
        }
        spans.push(Span::styled(ascii, DIM));
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn selected_range(detail: &PageDetail) -> Option<std::ops::Range<usize>> {
    let i = detail.entries.selected;
    match &detail.page.content {
        Content::Leaf(e) => e.get(i).map(|e| e.offset..e.offset + e.len),
        Content::Branch(c) => c.get(i).map(|c| {
            let len = c.separator.as_ref().map_or(10, |s| 2 + s.len() + 8);
            c.offset..c.offset + len
        }),
        _ => None,
    }
}

fn selected(state: &State, detail: &PageDetail, frame: &mut Frame, area: Rect) {
    let i = detail.entries.selected;
    let w = 9;
    let mut lines = Vec::new();
    match &detail.page.content {
        Content::Leaf(entries) => {
            if let Some(e) = entries.get(i) {
                lines.push(super::field("key", w, text::key(&e.key, 200)));
                lines.push(super::field("key bytes", w, format!("{} B", e.key.len())));
                lines.push(super::field("version", w, format!("LSN {}", e.version)));
                if let Some(t) = e.expires_at_unix_ms {
                    lines.push(super::field("expires", w, text::unix_ms(t)));
                }
                match &e.value {
                    ValueCell::Inline(v) => {
                        let shown = if state.show_values { text::value(v, 400) } else { text::redacted(v) };
                        lines.push(super::field("value", w, shown));
                        if !state.show_values {
                            lines.push(Line::styled("x reveals values", DIM));
                        }
                    }
                    ValueCell::Ref(r) => {
                        lines.push(super::field("value", w, "in the value log"));
                        lines.push(super::field("segment", w, r.segment.to_string()));
                        lines.push(super::field("offset", w, r.offset.to_string()));
                        lines.push(super::field("length", w, format!("{} B", r.length)));
                        lines.push(super::field("crc", w, format!("{:#010x}", r.crc)));
                        lines.push(Line::styled("Enter follows it into the value log", style::KEY));
                    }
                }
            }
        }
        Content::Branch(children) => {
            if let Some(c) = children.get(i) {
                let sep = c
                    .separator
                    .as_deref()
                    .map_or_else(|| "none (the branch's low fence)".to_owned(), |s| text::key(s, 200));
                lines.push(super::field("separator", w, sep));
                lines.push(super::field("child", w, format!("page {}", c.child)));
                lines.push(Line::styled("Enter opens the child", style::KEY));
            }
        }
        Content::FreeList { next, pages } => {
            lines.push(super::field("next", w, next.map_or("none".into(), |n| format!("page {n}"))));
            lines.push(super::field("ids", w, pages.len().to_string()));
        }
        Content::Superblock(slot) => {
            lines.push(Line::raw(format!("slot {}: 4 compares it with the other slot", slot.letter())));
        }
        _ => {}
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("[ ] previous/next page · / go to page · Esc back", DIM));
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(" Selected ")),
        area,
    );
}
