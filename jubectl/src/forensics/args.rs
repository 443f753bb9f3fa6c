//! The offline subcommands' command line. Each takes the data directory
//! first; `--json` is the global flag.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

/// Output forms of the dump commands that stream records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    /// A table for people.
    Human,
    /// One JSON document (the same as `--json`).
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// The offline subcommands.
#[derive(Debug, Subcommand)]
pub enum OfflineCommand {
    /// Check everything in a data directory and report every finding.
    ///
    /// Read-only, takes no lock: safe next to a running server. Exit code
    /// 0 when clean, 4 when any error or warning is found, 8 when the
    /// directory cannot be read.
    Validate {
        /// The data directory.
        dir: PathBuf,
        /// Also read every value-log record a reference points at.
        #[arg(long)]
        deep: bool,
    },
    /// Bring a damaged data directory back to a consistent state.
    ///
    /// Truncates a torn WAL or value-log tail, falls back to the older
    /// superblock, rebuilds the free list, then reopens and validates.
    /// Never deletes: what it removes goes under DIR/repair-<timestamp>/,
    /// with before/after manifests and a JSON report. Exit code 0 when
    /// nothing was needed, 1 when problems were corrected, 4 when some
    /// remain, 8 when the directory is locked by a running server.
    Repair {
        /// The data directory.
        dir: PathBuf,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Truncate the WAL at corruption in the middle of the log too,
        /// dropping the (listed) transactions behind it.
        #[arg(long)]
        force_truncate: bool,
        /// Delete the keys whose value (in the value log) is missing.
        #[arg(long)]
        drop_dangling: bool,
    },
    /// Carve every key that survives anywhere in a damaged directory into
    /// a fresh one. The source is never modified.
    Salvage {
        /// The damaged data directory.
        dir: PathBuf,
        /// The new data directory (must not exist, or be empty).
        #[arg(long, value_name = "NEWDIR")]
        output: PathBuf,
    },
    /// Show the MANIFEST.
    DumpManifest {
        /// The data directory.
        dir: PathBuf,
    },
    /// Show both superblock slots.
    DumpSuperblocks {
        /// The data directory.
        dir: PathBuf,
    },
    /// Show WAL records (values redacted unless --show-values).
    DumpWal {
        /// The data directory.
        dir: PathBuf,
        /// First LSN to show.
        #[arg(long, value_name = "N")]
        from_lsn: Option<u64>,
        /// Most records to show.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Output form [default: human, or json with --json].
        #[arg(long, value_enum)]
        format: Option<DumpFormat>,
        /// Show values instead of their length and hash.
        #[arg(long)]
        show_values: bool,
    },
    /// Show one page of pages.jdb.
    DumpPage {
        /// The data directory.
        dir: PathBuf,
        /// The page id.
        page_id: u64,
        /// Add a hex dump of the whole page.
        #[arg(long)]
        hex: bool,
        /// Show values instead of their length and hash.
        #[arg(long)]
        show_values: bool,
    },
    /// Show value-log records, of every segment or of SEGMENT.
    DumpVlog {
        /// The data directory.
        dir: PathBuf,
        /// Only this segment number.
        segment: Option<u64>,
        /// Output form [default: human, or json with --json].
        #[arg(long, value_enum)]
        format: Option<DumpFormat>,
        /// Show values instead of their length and hash.
        #[arg(long)]
        show_values: bool,
    },
    /// Space per file, pages by type, tree depth and fill, free pages, WAL
    /// and value-log sizes.
    Stat {
        /// The data directory.
        dir: PathBuf,
    },
}
