//! The help overlay: every key, global and per view.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::style::{DIM, HEADING, KEY};
use crate::app::State;

const KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "everywhere",
        &[
            ("1-8", "switch view (see the footer)"),
            ("? / Esc", "this help / close it"),
            ("q, Ctrl-C", "quit (the terminal is restored)"),
            ("r", "refresh: re-read the directory (a new snapshot)"),
            ("v", "run validation in the background"),
            ("s", "browse as of the other superblock slot"),
            ("x", "reveal values / redact them to length and hash"),
            ("↑↓ j k, PgUp PgDn, g G", "move; the mouse wheel scrolls"),
        ],
    ),
    ("page map", &[("←→ h l", "previous/next page"), ("Enter", "open the page"), ("/", "go to a page number")]),
    (
        "page",
        &[
            ("Tab", "scroll the hex view / the entries"),
            ("Enter", "open child, follow value ref"),
            ("[ ]", "previous/next page"),
            ("Esc", "back"),
        ],
    ),
    (
        "tree",
        &[
            ("Enter →", "descend / follow a value ref"),
            ("← Esc", "up"),
            ("n p", "next/previous leaf"),
            ("/", "jump to a key prefix"),
            ("o", "open the node's page"),
        ],
    ),
    ("WAL", &[("t", "jump to the first damage (torn tail)")]),
    ("value log", &[("Enter Tab", "into the records"), ("Esc", "back to segments / to the leaf")]),
    ("ownership", &[("o", "next orphaned or doubly owned page"), ("Enter", "open the page")]),
];

pub(crate) fn render(_state: &State, frame: &mut Frame, area: Rect) {
    let mut lines = vec![Line::styled("jubilant-tui opens the directory read-only: no lock, no writes.", DIM)];
    for (section, keys) in KEYS {
        lines.push(Line::styled(*section, HEADING));
        for (key, what) in *keys {
            lines.push(Line::from(vec![Span::styled(format!("  {key:<24}"), KEY), Span::raw(*what)]));
        }
    }
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 76.min(area.width);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Help (Esc closes) ")), popup);
}
