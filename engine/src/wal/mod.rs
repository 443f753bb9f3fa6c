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
