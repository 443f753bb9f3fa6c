//! The one error type of the engine.
//!
//! Corruption found while reading is reported with the file and offset
//! (wrapping the format crate's error, which says what and where in the
//! structure); I/O errors say what the engine was doing and on which file.
//! After a failed write or fsync the engine is poisoned: every later
//! operation fails with [`Error::PreviousIo`] until the directory is
//! reopened, because after a failed fsync no write can be trusted.

use std::path::PathBuf;

use jubilant_format::{Lsn, PageId};

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A storage call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What the engine was doing, as a verb ("read", "write", "fsync", …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A structure on disk failed its checks.
    #[error("{path}: {source}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong and where, from the format crate.
        #[source]
        source: jubilant_format::Error,
    },

    /// A page failed its checks (checksum, misdirected write, …).
    #[error("{path}: page {page}: {source}")]
    CorruptPage {
        /// The page file.
        path: PathBuf,
        /// The page that was read.
        page: PageId,
        /// What is wrong and where, from the format crate.
        #[source]
        source: jubilant_format::Error,
    },

    /// A page's header is valid but its payload is not a valid node.
    #[error("{path}: page {page}: {reason}")]
    CorruptNode {
        /// The page file.
        path: PathBuf,
        /// The page.
        page: PageId,
        /// What is wrong.
        reason: String,
    },

    /// A value in the value log is missing or damaged.
    #[error("{path}: value-log segment {segment} offset {offset}: {reason}")]
    CorruptValue {
        /// The segment file.
        path: PathBuf,
        /// The segment.
        segment: jubilant_format::SegmentId,
        /// Offset of the record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// A bad WAL record is followed by valid ones: acknowledged commits may
    /// lie behind the damage, so the log is not truncated.
    #[error(
        "{path}: WAL corruption at offset {offset} in the middle of the log: valid records resume at LSN {resume_lsn}; \
         LSNs {first_lsn_at_risk} to {last_lsn_seen} are at risk. The directory was not changed: \
         run `jubectl validate` and `jubectl repair --dry-run` on it"
    )]
    WalMidLogCorruption {
        /// The damaged segment.
        path: PathBuf,
        /// Offset of the bad record.
        offset: u64,
        /// The LSN the bad record should have had.
        first_lsn_at_risk: Lsn,
        /// LSN of the first valid record after the damage.
        resume_lsn: Lsn,
        /// The highest LSN found after the damage.
        last_lsn_seen: Lsn,
    },

    /// WAL segments are missing or out of order.
    #[error("{path}: {reason}. The directory was not changed: run `jubectl validate` on it")]
    WalGap {
        /// The segment where the gap shows.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },

    /// The directory is damaged in a way that opening cannot safely fix.
    #[error("{reason}. Run `jubectl validate` and `jubectl repair` on the directory; it can still be opened read-only")]
    NeedsRepair {
        /// What is wrong.
        reason: String,
    },

    /// Another process holds the directory's lock file.
    #[error("{path} is locked by another process (is a server running on this directory?)")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// The directory does not exist or is not a jubilant-db directory.
    #[error("{path}: {reason}")]
    NotADatabase {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A key longer than the limit.
    #[error("key of {len} bytes exceeds the limit of {max} bytes")]
    KeyTooLarge {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A value longer than the limit for inline values.
    #[error("key and value of {len} bytes exceed the inline limit of {max} bytes for this page size")]
    ValueTooLarge {
        /// Key plus value length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A batch larger than one WAL record can hold.
    #[error("write batch of {len} bytes exceeds the limit of {max} bytes")]
    BatchTooLarge {
        /// Encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A transaction's lock was not granted in time; nothing was written.
    #[error("lock wait timed out on key {key:?}; the transaction was aborted and may be retried")]
    LockTimeout {
        /// The key (or range start) waited for.
        key: Vec<u8>,
    },

    /// A write on a directory opened read-only.
    #[error("the database was opened read-only")]
    ReadOnly,

    /// An earlier I/O error left the on-disk state unknown.
    #[error("a previous I/O error left the database in an unknown state; reopen it ({first})")]
    PreviousIo {
        /// The first error, as text.
        first: String,
    },

    /// An option is out of range.
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Builds an [`Error::Io`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { op, path: path.into(), source }
    }

    /// Builds an [`Error::Corrupt`].
    pub(crate) fn corrupt(path: impl Into<PathBuf>, source: jubilant_format::Error) -> Error {
        Error::Corrupt { path: path.into(), source }
    }
}

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
