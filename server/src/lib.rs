//! The jubilant-db server: the engine served over TCP.
//!
//! - [`config`]: the TOML configuration, with defaults, validation and the
//!   table of every key.
//! - [`server`]: accept loop, shared state, INFO, graceful shutdown.
//! - [`conn`]: one connection: framing, dispatch, pipelined responses.
//! - [`committer`]: the commit thread: one WAL sync for the writes that
//!   many connections staged.
//! - [`reload`]: live reload (SIGHUP, CONFIG RELOAD).
//! - [`convert`]: wire messages ⇄ engine transactions.
//! - [`auth`]: tokens, roles, prefix ACLs. [`tls`]: rustls setup.
//! - [`stats`]: counters of the served path; [`metrics`]: the metric
//!   families behind both /metrics and INFO; [`admin`]: the metrics
//!   listener.
//! - [`logging`]: the log subscriber; [`redact`]: keys, values and tokens
//!   made safe to log.
#![deny(missing_docs)]

pub mod admin;
pub mod auth;
pub mod committer;
pub mod config;
pub mod conn;
pub mod convert;
pub mod logging;
pub mod metrics;
pub mod redact;
pub mod reload;
pub mod server;
pub mod stats;
pub mod tls;
