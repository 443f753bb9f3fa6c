//! Page ownership: which pages the browsed slot's tree and free list own,
//! which are orphaned, and a byte map of the selected page.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::style::{self, DIM, ERROR};
use crate::app::State;
use crate::model::page::{ByteKind, PageView};
use crate::model::text;

const MAP_COLUMNS: usize = 64;
const MAP_ROWS: usize = 16;

fn split(body: Rect) -> (Rect, Rect, Rect) {
    let [summary, rest] = Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(body);
    let [list, map] = Layout::horizontal([Constraint::Min(0), Constraint::Length(MAP_COLUMNS as u16 + 4)]).areas(rest);
    (summary, list, map)
}

pub(crate) fn list_rows(body: Rect) -> usize {
    (split(body).1.height as usize).saturating_sub(3).max(1)
}

pub(crate) fn render(state: &State, frame: &mut Frame, body: Rect) {
    let (summary_area, list_area, map_area) = split(body);
    let Some(own) = state.ownership() else {
        let text = if state.slot.is_some() {
            "walking the tree and free list…"
        } else {
            "no valid superblock: nothing owns any page"
        };
        frame
            .render_widget(Paragraph::new(text).style(DIM).block(Block::bordered().title(" Ownership ")), summary_area);
        return;
    };
    let mut spans = vec![Span::styled(format!("as of slot {}: ", own.slot.letter()), style::HEADING)];
    for (owner, count) in own.counts() {
        if count > 0 {
            spans.push(Span::styled(format!("{} {count}", owner.name()), style::owner(owner)));
            spans.push(Span::raw("  "));
        }
    }
    let mut lines = vec![Line::from(spans)];
    match own.problems.first() {
        Some((page, p)) => {
            lines.push(Line::styled(format!("{} problem(s); first, page {page}: {p}", own.problems.len()), ERROR))
        }
        None => lines.push(Line::styled("every page is owned exactly once", style::OK)),
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Ownership · o next orphan · Enter opens ")),
        summary_area,
    );

    let block = Block::bordered().title(" Pages ");
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);
    let [head, rows_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    frame
        .render_widget(Paragraph::new(format!("{:>8} {:<17} {:<10} {}", "page", "owner", "type", "")).style(DIM), head);
    let rows = rows_area.height as usize;
    let width = rows_area.width as usize;
    let start = state.own_cursor.start(rows);
    let mut lines = Vec::with_capacity(rows);
    for page in (start as u64..state.page_count()).take(rows) {
        let owner = own.owner(page);
        let class = state.class(page);
        let extra = match (own.parents.get(&page), own.problems.iter().find(|(p, _)| *p == page)) {
            (_, Some((_, problem))) => problem.clone(),
            (Some(parent), None) => format!("child of {parent}"),
            (None, None) => String::new(),
        };
        let mut line = Line::from(vec![
            Span::raw(format!("{page:>8} ")),
            Span::styled(format!("{:<17} ", owner.name()), style::owner(owner)),
            Span::styled(format!("{:<10} ", class.name()), style::class(class)),
            Span::styled(text::clip(&extra, width.saturating_sub(38)), DIM),
        ]);
        if page as usize == state.own_cursor.selected {
            line = line.patch_style(style::ACTIVE);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), rows_area);
    byte_map(state.own_page.as_ref(), frame, map_area);
}

fn byte_map(page: Option<&PageView>, frame: &mut Frame, area: Rect) {
    let Some(page) = page else {
        frame.render_widget(Block::bordered().title(" Byte map "), area);
        return;
    };
    let len = page.raw.len();
    let per_cell = len.div_ceil(MAP_COLUMNS * MAP_ROWS).max(1);
    let mut lines = Vec::new();
    for row in 0..MAP_ROWS {
        let mut spans = Vec::with_capacity(MAP_COLUMNS);
        for col in 0..MAP_COLUMNS {
            let start = (row * MAP_COLUMNS + col) * per_cell;
            if start >= len {
                spans.push(Span::raw(" "));
                continue;
            }
            let kind = dominant(page, start, (start + per_cell).min(len));
            spans.push(Span::styled(kind.symbol().to_string(), style::byte(kind)));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::styled(format!("one cell = {per_cell} bytes; page {}: {} bytes", page.id, len), DIM));
    for kind in [
        ByteKind::Header,
        ByteKind::Crc,
        ByteKind::Count,
        ByteKind::EntryMeta,
        ByteKind::Key,
        ByteKind::Value,
        ByteKind::ValueRef,
        ByteKind::Pointer,
        ByteKind::Undecoded,
        ByteKind::Free,
    ] {
        let bytes: usize = page.spans.iter().filter(|s| s.kind == kind).map(|s| s.end.saturating_sub(s.start)).sum();
        if bytes > 0 {
            lines.push(Line::from(vec![
                Span::styled(format!(" {} ", kind.symbol()), style::byte(kind)),
                Span::raw(format!(
                    "{:<14}{bytes:>6} B {:>5.1}%",
                    kind.name(),
                    bytes as f64 * 100.0 / len.max(1) as f64
                )),
            ]));
        }
    }
    if let Err(e) = &page.verdict {
        lines.push(Line::styled(e.clone(), ERROR));
    }
    let style = if page.verdict.is_err() { ERROR } else { Style::new() };
    let title = Span::styled(format!(" Byte map of page {} ", page.id), style);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), area);
}

/// The kind of most bytes in `start..end`, preferring anything over free
/// space so small structures stay visible.
fn dominant(page: &PageView, start: usize, end: usize) -> ByteKind {
    let mut best = (ByteKind::Free, 0usize);
    for s in &page.spans {
        let overlap = s.end.min(end).saturating_sub(s.start.max(start));
        if overlap > 0 && s.kind != ByteKind::Free && overlap > best.1 {
            best = (s.kind, overlap);
        }
    }
    best.0
}
