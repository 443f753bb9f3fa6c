//! The validation summary: the engine's offline walker
//! (`jubilant_engine::validate`, the one `jubectl validate` runs), started
//! on demand on its own thread, reporting progress, never blocking the UI.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use jubilant_engine::validate::{Progress, Severity, ValidateOptions, validate};

use crate::model::dir::DataDir;

/// One finding, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingLine {
    /// How bad.
    pub severity: Severity,
    /// Its kind's stable name.
    pub kind: &'static str,
    /// Where: file, page or offset, LSN.
    pub place: String,
    /// What.
    pub message: String,
}

/// What the walker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationSummary {
    /// Error findings.
    pub errors: u64,
    /// Warning findings.
    pub warnings: u64,
    /// Info findings.
    pub infos: u64,
    /// Every finding, errors first.
    pub findings: Vec<FindingLine>,
}

/// Where validation stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Validation {
    /// Not run yet.
    #[default]
    Idle,
    /// Running: bytes read so far out of an estimate.
    Running {
        /// Bytes read.
        done: u64,
        /// Bytes expected.
        total: u64,
    },
    /// Finished.
    Done(ValidationSummary),
    /// The walker could not run (the directory is not a data directory, a
    /// file could not be read).
    Failed(String),
}

/// A message from the validation thread.
#[derive(Debug)]
pub enum ValidationMsg {
    /// Progress.
    Progress(Progress),
    /// The outcome.
    Done(Result<ValidationSummary, String>),
}

/// Starts the walker on `dir`. Absolute paths in its messages are shown
/// as `label`, so screens do not depend on where the directory is.
#[must_use]
pub fn spawn(dir: Arc<DataDir>, label: String) -> Receiver<ValidationMsg> {
    let (tx, rx) = channel();
    // If the thread cannot start, the receiver reports a disconnected
    // channel, which the state shows as a failure.
    let _ = std::thread::Builder::new().name("jubilant-tui-validate".into()).spawn(move || run(&dir, &label, &tx));
    rx
}

/// Runs the walker on the calling thread, sending progress and the outcome.
pub fn run(dir: &DataDir, label: &str, tx: &Sender<ValidationMsg>) {
    let mut progress = |p: Progress| {
        let _ = tx.send(ValidationMsg::Progress(p));
    };
    let walked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        validate(&**dir.storage(), &dir.path, ValidateOptions::default(), &mut progress)
    }));
    let outcome = match walked {
        Ok(result) => result
            .map(|v| summarize(&v.report, &dir.path, label))
            .map_err(|e| relabel(&e.to_string(), &dir.path, label)),
        Err(panic) => Err(format!("the validator panicked: {}", super::jobs::panic_message(&*panic))),
    };
    let _ = tx.send(ValidationMsg::Done(outcome));
}

fn relabel(text: &str, path: &Path, label: &str) -> String {
    let shown = path.display().to_string();
    if shown.is_empty() { text.to_owned() } else { text.replace(&shown, label) }
}

fn summarize(report: &jubilant_engine::validate::Report, path: &Path, label: &str) -> ValidationSummary {
    let mut findings: Vec<FindingLine> = report
        .findings
        .iter()
        .map(|f| {
            let mut place = f.file.clone();
            if let Some(page) = f.page {
                place.push_str(&format!(" page {page}"));
            } else if let Some(offset) = f.offset {
                place.push_str(&format!(" @{offset}"));
            }
            if let Some(lsn) = f.lsn {
                place.push_str(&format!(" LSN {lsn}"));
            }
            FindingLine {
                severity: f.severity,
                kind: f.kind.name(),
                place: relabel(&place, path, label),
                message: relabel(&f.message, path, label),
            }
        })
        .collect();
    // Errors first, then warnings, then infos; stable within a severity.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    ValidationSummary {
        errors: report.counts.errors,
        warnings: report.counts.warnings,
        infos: report.counts.infos,
        findings,
    }
}
