//! The write-ahead log: segment files of `format` envelopes under `wal/`.
//!
//! - [`writer`]: appends records, group-commits fsyncs, rolls segments
//!   over and removes segments a checkpoint made unnecessary.
//! - [`replay`]: reads the log on open from the checkpoint LSN, applies
//!   committed transactions, truncates a torn tail, and refuses to open on
//!   corruption in the middle of the log.

pub mod replay;
mod sleepers;
pub mod writer;

pub use replay::{ReplayOutcome, replay};
pub use writer::{Wal, WalPosition};

/// The next WAL segment while it is prepared ahead of the roll-over that
/// will use it (zero-filled and synced off the commit path; renamed to its
/// segment name once its header is written). Not a segment: replay and the
/// validator pass over it, and opening the log removes a leftover one.
pub const NEXT_SEGMENT_FILE: &str = "next-segment.wal.tmp";
