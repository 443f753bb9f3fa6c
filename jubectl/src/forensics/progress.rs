//! A progress bar for long walks: drawn on stderr only when stderr is a
//! terminal, never with `--json`, and only once the walk is large enough
//! to take a moment.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use jubilant_engine::validate::Progress;

/// Walks smaller than this finish before a bar would be worth drawing.
const LARGE_BYTES: u64 = 64 << 20;

/// A bar that may never appear.
pub struct Bar {
    enabled: bool,
    label: &'static str,
    bar: Option<ProgressBar>,
}

impl Bar {
    /// A bar labelled `label`; `json` disables it.
    #[must_use]
    pub fn new(label: &'static str, json: bool) -> Bar {
        Bar { enabled: !json && std::io::stderr().is_terminal(), label, bar: None }
    }

    /// Moves the bar.
    pub fn update(&mut self, progress: Progress) {
        if !self.enabled || progress.total_bytes < LARGE_BYTES {
            return;
        }
        let label = self.label;
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(progress.total_bytes);
            if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label);
            bar
        });
        bar.set_position(progress.done_bytes);
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
