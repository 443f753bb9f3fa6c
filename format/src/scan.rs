//! Shared logic of the two append-only logs (WAL and value log): where a
//! log ends, and whether bad bytes are a torn tail or damage in the middle.

use serde::Serialize;

use crate::codec::all_zero;

/// Why a log reader stopped without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EndReason {
    /// The input ends exactly after the last record.
    Exact,
    /// Only zero bytes follow the last record: preallocated space that was
    /// never written (or a file length made durable without its contents).
    ZeroFill {
        /// How many zero bytes.
        len: u64,
    },
    /// A valid record with an older LSN follows: left over from an earlier
    /// use of a recycled segment.
    StaleRecord {
        /// Its LSN.
        lsn: u64,
    },
}

/// The end of a log: where it is and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LogEnd {
    /// File offset just past the last valid record.
    pub offset: u64,
    /// Why the reader stopped there.
    pub reason: EndReason,
}

/// What bad bytes in a log mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "damage", rename_all = "snake_case")]
pub enum Damage {
    /// Nothing valid follows the bad bytes: an interrupted append. It is
    /// safe to truncate at `offset`, since no record after it was ever
    /// acknowledged.
    TornTail {
        /// File offset of the first bad byte (the truncation point).
        offset: u64,
        /// Bytes from there to the end of the input.
        dropped_bytes: u64,
    },
    /// A valid record follows the bad bytes: corruption in the middle of
    /// the log. Truncating would drop records that may have been
    /// acknowledged.
    MidLog {
        /// File offset of the first bad byte.
        offset: u64,
        /// File offset of the next valid record.
        resume_offset: u64,
        /// LSN of the next valid record.
        resume_lsn: u64,
    },
}

/// Whether the bytes from `pos` to the end are all zero (including when
/// there are none).
pub(crate) fn rest_is_zero(buf: &[u8], pos: usize) -> bool {
    buf.get(pos..).is_none_or(all_zero)
}

/// Scans forward from `from + 1` for the first position where `probe`
/// finds a valid record, returning the position and what `probe` returned.
///
/// `probe` must reject cheaply: callers check the LSN range before the
/// checksum, so that garbage is rejected without hashing.
pub(crate) fn resync<T>(buf: &[u8], from: usize, mut probe: impl FnMut(usize) -> Option<T>) -> Option<(usize, T)> {
    let start = from.checked_add(1)?;
    (start..buf.len()).find_map(|pos| probe(pos).map(|found| (pos, found)))
}
