//! `jubilant-tui DIR`: the terminal inspector. This file only wires the
//! library to a real terminal: arguments, raw mode and the alternate
//! screen, mouse capture, the event loop, and restoring the terminal on
//! exit, on Ctrl-C and on panic.

use std::io::stdout;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, enable_raw_mode};
use jubilant_tui::{Options, State, render};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// How often the screen refreshes while background work fills it in.
const TICK: Duration = Duration::from_millis(100);

/// Inspect a jubilant-db data directory, read-only (no lock, no writes).
#[derive(Debug, Parser)]
#[command(name = "jubilant-tui", version)]
struct Args {
    /// The data directory.
    dir: PathBuf,
    /// Show values instead of their length and hash (`x` toggles).
    #[arg(long)]
    show_values: bool,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jubilant-tui: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    // Open before touching the terminal, so an error prints normally.
    let mut state = State::open(&args.dir, Options { show_values: args.show_values, label: None })
        .with_context(|| format!("open {}", args.dir.display()))?;
    install_panic_hook();
    enable_raw_mode().context("enable raw mode")?;
    let result = (|| -> anyhow::Result<()> {
        execute!(stdout(), EnterAlternateScreen, EnableMouseCapture).context("set up the terminal")?;
        let mut terminal = Terminal::new(CrosstermBackend::new(stdout())).context("set up the terminal")?;
        let size = terminal.size().context("terminal size")?;
        state.size = (size.width, size.height);
        let mut dirty = true;
        while !state.quit {
            dirty |= state.poll();
            if dirty {
                terminal.draw(|frame| render(&state, frame)).context("draw")?;
                dirty = false;
            }
            if event::poll(TICK).context("poll terminal events")? {
                let ev = event::read().context("read terminal event")?;
                state.handle_event(&ev);
                dirty = true;
            }
        }
        Ok(())
    })();
    restore_terminal();
    result
}

/// Leaves raw mode, the alternate screen and mouse capture.
fn restore_terminal() {
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
}

/// A panic on the main thread restores the terminal before the message
/// is printed. The background threads catch their own panics and report
/// them in the status line, so for them the terminal is left alone (the
/// UI keeps running) and nothing is printed over it.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            restore_terminal();
            default(info);
        }
    }));
}
