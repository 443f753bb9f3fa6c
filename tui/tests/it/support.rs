//! Helpers: the shared fixture directories, opening a state, key scripts,
//! and drawing a state into text.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use jubilant_tui::{Options, State, View, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use crate::fixtures;

pub struct Dirs {
    _root: tempfile::TempDir,
    pub healthy: PathBuf,
    pub damaged: PathBuf,
}

/// The healthy and damaged fixture directories, made once per test run.
pub fn dirs() -> &'static Dirs {
    static DIRS: OnceLock<Dirs> = OnceLock::new();
    DIRS.get_or_init(|| {
        remove_stale_fixtures();
        let root = tempfile::Builder::new().prefix("tui-fixtures-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let healthy = root.path().join("healthy");
        let damaged = root.path().join("damaged");
        fixtures::healthy(&healthy);
        fixtures::damaged(&healthy, &damaged);
        Dirs { _root: root, healthy, damaged }
    })
}

/// The fixture directories live as long as the test process (a static is
/// never dropped), so each run removes those older runs left: any more than
/// an hour old, which no running test can still be using.
fn remove_stale_fixtures() {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > std::time::Duration::from_secs(3600)));
        if (name.starts_with("tui-fixtures-") || name.starts_with("tui-scratch-")) && old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A scratch copy of the healthy directory.
pub fn scratch_copy() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::Builder::new().prefix("tui-scratch-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = root.path().join("dir");
    fixtures::copy_dir(&dirs().healthy, &dir);
    (root, dir)
}

/// Opens `dir` labelled `label`, with every background job finished.
pub fn open(dir: &Path, label: &str) -> State {
    let mut state = State::open(dir, Options { show_values: false, label: Some(label.into()) }).unwrap();
    state.wait_idle();
    state
}

/// Presses the keys of `script`: each char is a key, except `{Enter}`,
/// `{Esc}`, `{Tab}`, `{Up}`, `{Down}`, `{Left}`, `{Right}`, `{PgDn}`,
/// `{PgUp}`, `{End}`, `{Home}`, `{Bksp}`.
pub fn keys(state: &mut State, script: &str) {
    let mut rest = script;
    while let Some(c) = rest.chars().next() {
        let (code, len) = if c == '{' {
            let end = rest.find('}').unwrap();
            let code = match &rest[1..end] {
                "Enter" => KeyCode::Enter,
                "Esc" => KeyCode::Esc,
                "Tab" => KeyCode::Tab,
                "Up" => KeyCode::Up,
                "Down" => KeyCode::Down,
                "Left" => KeyCode::Left,
                "Right" => KeyCode::Right,
                "PgDn" => KeyCode::PageDown,
                "PgUp" => KeyCode::PageUp,
                "End" => KeyCode::End,
                "Home" => KeyCode::Home,
                "Bksp" => KeyCode::Backspace,
                other => panic!("unknown key {other}"),
            };
            (code, end + 1)
        } else {
            (KeyCode::Char(c), c.len_utf8())
        };
        state.handle_event(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        // Anything a key started in the background (validation) finishes.
        state.wait_idle();
        rest = &rest[len..];
    }
}

/// Draws `state` on a `width`×`height` test terminal.
pub fn draw(state: &mut State, width: u16, height: u16) -> ratatui::buffer::Buffer {
    state.handle_event(&Event::Resize(width, height));
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| render(state, frame)).unwrap();
    terminal.backend().buffer().clone()
}

/// The screen as text, then every run of red cells by row: what the
/// snapshots pin (red means damage, so it is part of the contract).
pub fn screen(state: &mut State) -> String {
    let buffer = draw(state, 120, 40);
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let line: String = (0..area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let red = red_runs(&buffer);
    if !red.is_empty() {
        out.push_str("--- red ---\n");
        for (y, text) in red {
            out.push_str(&format!("{y:>2}: {text}\n"));
        }
    }
    out
}

/// Runs of red text, by row.
pub fn red_runs(buffer: &ratatui::buffer::Buffer) -> Vec<(u16, String)> {
    let mut runs = Vec::new();
    for y in 0..buffer.area.height {
        let mut run = String::new();
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            if cell.fg == Color::Red || cell.bg == Color::Red {
                run.push_str(cell.symbol());
            } else if !run.is_empty() {
                runs.push((y, std::mem::take(&mut run).trim().to_string()));
            }
        }
        if !run.is_empty() {
            runs.push((y, run.trim().to_string()));
        }
    }
    runs.retain(|(_, t)| !t.is_empty());
    runs
}

/// The view a digit key selects.
pub fn digit(view: View) -> char {
    let i = View::ALL.iter().position(|&v| v == view).unwrap();
    char::from(b'1' + i as u8)
}
