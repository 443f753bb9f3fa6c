//! Rendering: [`render`] draws a [`State`] into a frame and reads nothing
//! else: no file, no clock, no channel. The same state always draws the
//! same screen, which is what the snapshot tests rely on.
//!
//! Screen: a title line, the view's body, a status line (which always
//! says the directory is open read-only) and a footer with the view keys.
//! Lists draw only the rows on screen (virtualised).

mod help;
mod overview;
mod ownership;
mod page;
mod pagemap;
pub(crate) mod style;
mod superblocks;
mod tree;
mod vlog;
mod wal;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{Input, State, View};
use style::{ERROR, KEY, TITLE};

/// The four bands of the screen.
pub(crate) struct Screen {
    pub title: Rect,
    pub body: Rect,
    pub status: Rect,
    pub footer: Rect,
}

pub(crate) fn screen(area: Rect) -> Screen {
    let [title, body, status, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1), Constraint::Length(1)])
            .areas(area);
    Screen { title, body, status, footer }
}

fn size_rect(size: (u16, u16)) -> Rect {
    Rect::new(0, 0, size.0, size.1)
}

/// Draws `state`.
pub fn render(state: &State, frame: &mut Frame) {
    let s = screen(frame.area());
    title(state, frame, s.title);
    match state.view {
        View::Overview => overview::render(state, frame, s.body),
        View::PageMap => pagemap::render(state, frame, s.body),
        View::PageDetail => page::render(state, frame, s.body),
        View::Superblocks => superblocks::render(state, frame, s.body),
        View::Tree => tree::render(state, frame, s.body),
        View::Wal => wal::render(state, frame, s.body),
        View::Vlog => vlog::render(state, frame, s.body),
        View::Ownership => ownership::render(state, frame, s.body),
    }
    status(state, frame, s.status);
    footer(state, frame, s.footer);
    if state.show_help {
        help::render(state, frame, frame.area());
    }
}

/// Rows of the main list of `view` on the state's terminal size: what a
/// page movement moves by, and how far lists scroll.
#[must_use]
pub fn list_rows(state: &State, view: View) -> usize {
    let body = screen(size_rect(state.size)).body;
    match view {
        View::Overview | View::Superblocks => 1,
        View::PageMap => pagemap::grid_rows(body),
        View::PageDetail => page::entry_rows(state, body),
        View::Tree => tree::list_rows(body),
        View::Wal => wal::list_rows(body),
        View::Vlog => vlog::record_rows(state, body),
        View::Ownership => ownership::list_rows(body),
    }
}

/// Cells per row of the page map.
#[must_use]
pub fn map_cells_per_row(size: (u16, u16)) -> usize {
    pagemap::cells_per_row(screen(size_rect(size)).body)
}

/// Lines of the page view's hex dump.
#[must_use]
pub fn hex_rows(state: &State) -> usize {
    page::hex_rows(state, screen(size_rect(state.size)).body)
}

fn title(state: &State, frame: &mut Frame, area: Rect) {
    let slot = match state.slot {
        Some(slot) => {
            let current = state.dir.current_slot() == Some(slot);
            format!("as of slot {} ({})", slot.letter(), if current { "current" } else { "older" })
        }
        None => "no valid superblock".into(),
    };
    let line = Line::from(vec![
        Span::styled(" jubilant-tui ", TITLE),
        Span::raw(format!(" {} ", state.label)),
        Span::styled(format!("│ {} ", state.view.title()), Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!("│ {slot} ")),
    ]);
    frame.render_widget(Paragraph::new(line).style(style::BAR), area);
}

fn status(state: &State, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(" READ-ONLY ", style::READ_ONLY), Span::raw(" no lock, no writes ")];
    if state.loading {
        let total = state.page_count().max(1);
        spans.push(Span::styled(
            format!("│ scanning {}/{} pages ({}%) ", state.scanned, state.page_count(), state.scanned * 100 / total),
            style::DIM,
        ));
    }
    match &state.input {
        Some(Input::KeyPrefix(t)) => spans.push(Span::styled(format!("│ jump to key prefix: {t}▏"), KEY)),
        Some(Input::GotoPage(t)) => spans.push(Span::styled(format!("│ go to page: {t}▏"), KEY)),
        None => {
            if let Some(s) = &state.status {
                spans.push(Span::styled(format!("│ {}", s.text), if s.error { ERROR } else { Style::new() }));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer(state: &State, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    for (i, view) in View::ALL.iter().enumerate() {
        let label = Span::raw(format!(" {} ", view.title()));
        spans.push(Span::styled(format!(" {}", i + 1), KEY));
        spans.push(if *view == state.view { label.style(style::ACTIVE) } else { label });
    }
    spans.push(Span::raw("│"));
    for (key, what) in [("?", "help"), ("q", "quit")] {
        spans.push(Span::styled(format!(" {key}"), KEY));
        spans.push(Span::raw(format!(" {what}")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(style::BAR), area);
}

/// A line of `label: value` with the label dimmed to `width`.
pub(crate) fn field<'a>(label: &str, width: usize, value: impl Into<Span<'a>>) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{label:<width$} "), style::DIM), value.into()])
}
