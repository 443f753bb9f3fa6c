//! The offline commands: they open a data directory directly, with no
//! server. The work is `jubilant_engine::validate` (and `repair`); these
//! modules choose the call, print text or JSON, and pick the fsck-style
//! exit code ([`crate::exit::fsck`]).
//!
//! - [`validate`]: the `validate` command, and the findings printer
//!   `repair` shares.
//! - [`dump`]: `dump-manifest`, `dump-superblocks`, `dump-wal`,
//!   `dump-page`, `dump-vlog`.
//! - [`stat`]: the `stat` command.
//! - [`repair`]: the `repair` command.
//! - [`salvage`]: the `salvage` command.
//! - [`values`]: values redacted (length and hash) unless asked for.
//! - [`progress`]: a progress bar on a terminal, never with `--json`.

pub mod args;
mod dump;
mod progress;
mod repair;
mod salvage;
mod stat;
mod validate;
mod values;

use std::io::Write;
use std::sync::Arc;

use jubilant_engine::storage::fs::FsStorage;

use crate::exit::fsck;
use args::OfflineCommand;

/// Why an offline command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// The directory is missing, unreadable, not a data directory, or
    /// locked; or a file could not be read or written.
    #[error(transparent)]
    Engine(#[from] jubilant_engine::Error),
    /// Writing the output failed.
    #[error("write output: {0}")]
    Output(#[from] std::io::Error),
    /// An argument is invalid in a way clap cannot see.
    #[error("{0}")]
    Usage(String),
    /// Another local failure (creating the repair directory, …).
    #[error("{0:#}")]
    Local(anyhow::Error),
}

impl OfflineError {
    /// The exit code: 16 for usage, else 8 (operational).
    #[must_use]
    pub fn code(&self) -> u8 {
        match self {
            OfflineError::Usage(_) => fsck::USAGE,
            _ => fsck::OPERATIONAL,
        }
    }

    /// Whether the error is a closed output pipe (`jubectl dump-wal | head`).
    #[must_use]
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, OfflineError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Runs an offline command, writing its output to `out`; returns the exit
/// code.
///
/// # Errors
///
/// [`OfflineError`] when the command could not do its work.
pub fn run(command: OfflineCommand, json: bool, out: &mut dyn Write) -> Result<u8, OfflineError> {
    let storage = FsStorage::new();
    match command {
        OfflineCommand::Validate { dir, deep } => validate::run(&storage, &dir, deep, json, out),
        OfflineCommand::Repair { dir, dry_run, force_truncate, drop_dangling } => {
            repair::run(Arc::new(storage), &dir, repair::Flags { dry_run, force_truncate, drop_dangling }, json, out)
        }
        OfflineCommand::Salvage { dir, output } => salvage::run(Arc::new(storage), &dir, &output, json, out),
        OfflineCommand::DumpManifest { dir } => dump::manifest(&storage, &dir, json, out),
        OfflineCommand::DumpSuperblocks { dir } => dump::superblocks(&storage, &dir, json, out),
        OfflineCommand::DumpWal { dir, from_lsn, limit, format, show_values } => dump::wal(
            &storage,
            &dir,
            &dump::WalArgs {
                from_lsn,
                limit,
                format: dump::format_of(format, json),
                values: values::Values::new(show_values),
            },
            out,
        ),
        OfflineCommand::DumpPage { dir, page_id, hex, show_values } => {
            dump::page(&storage, &dir, page_id, hex, values::Values::new(show_values), json, out)
        }
        OfflineCommand::DumpVlog { dir, segment, format, show_values } => {
            dump::vlog(&storage, &dir, segment, dump::format_of(format, json), values::Values::new(show_values), out)
        }
        OfflineCommand::Stat { dir } => stat::run(&storage, &dir, json, out),
    }
}

/// Serializes `value` as one line of JSON.
fn write_json<T: serde::Serialize>(out: &mut dyn Write, value: &T) -> Result<(), OfflineError> {
    serde_json::to_writer(&mut *out, value).map_err(|e| OfflineError::Output(e.into()))?;
    out.write_all(b"\n")?;
    Ok(())
}
