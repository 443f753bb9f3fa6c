//! Page map: every page as one coloured cell; only the rows on screen are
//! drawn.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::style::{self, DIM, ERROR};
use crate::app::State;
use crate::app::cursor::window_start;
use crate::model::ownership::Owner;
use crate::model::page::PageClass;

const SIDE_WIDTH: u16 = 44;
const LABEL_WIDTH: usize = 9;

fn split(body: Rect) -> (Rect, Rect) {
    let [grid, side] = Layout::horizontal([Constraint::Min(0), Constraint::Length(SIDE_WIDTH)]).areas(body);
    (grid, side)
}

pub(crate) fn cells_per_row(body: Rect) -> usize {
    let (grid, _) = split(body);
    let room = (grid.width as usize).saturating_sub(2 + LABEL_WIDTH);
    [64, 32, 16, 8].into_iter().find(|&n| n <= room).unwrap_or(room.max(1))
}

pub(crate) fn grid_rows(body: Rect) -> usize {
    (body.height as usize).saturating_sub(2).max(1)
}

/// The class shown for a page: its header's, except pages on the free list
/// of the browsed slot, which show as free unless they are corrupt.
fn shown(state: &State, page: u64) -> (char, Style) {
    let class = state.class(page);
    let free = state.ownership().is_some_and(|o| o.owner(page) == Owner::Free);
    if free && !matches!(class, PageClass::Corrupt | PageClass::FreeList) {
        return ('f', DIM);
    }
    (style::class_symbol(class), style::class(class))
}

pub(crate) fn render(state: &State, frame: &mut Frame, body: Rect) {
    let (grid, side) = split(body);
    let per_row = cells_per_row(body) as u64;
    let rows = grid_rows(body);
    let count = state.page_count();
    let selected_row = (state.map.selected / per_row) as usize;
    let start = window_start(state.map.row_offset, selected_row, rows);
    let total_rows = count.div_ceil(per_row) as usize;
    let mut lines = Vec::with_capacity(rows);
    for row in start..total_rows.min(start + rows) {
        let first = row as u64 * per_row;
        let mut spans = vec![Span::styled(format!("{first:>8} "), DIM)];
        for page in first..(first + per_row).min(count) {
            let (symbol, mut style) = shown(state, page);
            if page == state.map.selected {
                style = style.patch(style::ACTIVE);
            }
            spans.push(Span::styled(symbol.to_string(), style));
        }
        lines.push(Line::from(spans));
    }
    let title = format!(" Page map: {count} pages, {per_row} a row ");
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), grid);
    side_panel(state, frame, side);
}

fn side_panel(state: &State, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    let free = state.ownership().map(|o| o.counts().iter().find(|(o, _)| *o == Owner::Free).map_or(0, |c| c.1));
    for (class, count) in state.class_counts() {
        lines.push(Line::from(vec![
            Span::styled(format!(" {} ", style::class_symbol(class)), style::class(class)),
            Span::raw(format!("{:<32}{count:>7}", class.name())),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled(" f ", DIM),
        Span::raw(format!(
            "{:<32}{:>7}",
            "free (on the slot's free list)",
            free.map_or_else(|| "…".into(), |f| f.to_string())
        )),
    ]));
    let unscanned = state.page_count().saturating_sub(state.scanned);
    if unscanned > 0 {
        lines.push(Line::from(vec![
            Span::styled(" · ", DIM),
            Span::raw(format!("{:<32}{unscanned:>7}", "not scanned yet")),
        ]));
    }
    lines.push(Line::raw(""));
    let page = state.map.selected;
    let offset = page.saturating_mul(u64::from(state.dir.page_size.get()));
    lines.push(Line::styled(format!("page {page} at offset {offset}"), style::HEADING));
    let class = state.class(page);
    lines.push(Line::from(vec![Span::styled("type   ", DIM), Span::styled(class.name(), style::class(class))]));
    if let Some(own) = state.ownership() {
        let owner = own.owner(page);
        let mut spans = vec![Span::styled("owner  ", DIM), Span::styled(owner.name(), style::owner(owner))];
        if let Some(parent) = own.parents.get(&page) {
            spans.push(Span::styled(format!(" (child of page {parent})"), DIM));
        }
        spans.push(Span::styled(format!(", as of slot {}", own.slot.letter()), DIM));
        lines.push(Line::from(spans));
    }
    if let Some(e) = state.class_errors.get(&page) {
        lines.push(Line::styled(e.clone(), if class == PageClass::Corrupt { ERROR } else { DIM }));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Enter opens the page · / goes to a page", DIM));
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(" Legend ")),
        area,
    );
}
