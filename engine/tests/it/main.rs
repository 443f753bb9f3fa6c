//! Integration tests of the engine, one binary.
//!
//! - `support`: opening databases on simulated or real storage, the model.
//! - `basic`: the embedded API (get, range both ways, batches, reopen).
//! - `model`: proptest state machine against `BTreeMap`, with tree
//!   invariants after every checkpoint and reopen.
//! - `crash`: crash points and modes of the simulated storage.
//! - `faults`: the I/O-error countdown.
//! - `corruption`: CRC rejection, misdirected writes, torn and mid-log WAL
//!   damage, torn superblocks.
//! - `kill9`: a real child process killed with SIGKILL mid-writes.
//! - `storage_sim`: the simulated storage itself, and the real one.

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

mod basic;
mod corruption;
mod crash;
mod faults;
mod kill9;
mod model;
mod storage_sim;
mod ttl;
mod txn;
mod vlog;
