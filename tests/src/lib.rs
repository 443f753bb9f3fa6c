//! The end-to-end harness: start the real `jubilant-server` and `jubectl`
//! binaries, drive them through `jubilant-client`, generate seeded
//! workloads, record traces and check them against a model.
//!
//! - [`process`]: locating the binaries, starting and stopping servers.
//! - [`workload`]: seed → exact sequence of transactions.
//! - [`model`]: the in-memory model every response is checked against.
//! - [`trace`]: one JSON line per request and response, per run.
#![deny(missing_docs)]

pub mod model;
pub mod process;
pub mod trace;
pub mod workload;
