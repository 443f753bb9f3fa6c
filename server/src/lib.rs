//! The jubilant-db server: the engine served over TCP.
//!
//! - [`config`]: the TOML configuration, with defaults and validation.
//! - [`server`]: accept loop, shared state, INFO, graceful shutdown.
//! - [`conn`]: one connection: framing, dispatch, pipelined responses.
//! - [`convert`]: wire messages ⇄ engine transactions.
//! - [`auth`]: tokens, roles, prefix ACLs. [`tls`]: rustls setup.
//! - [`stats`]: counters of the served path.
#![deny(missing_docs)]

pub mod auth;
pub mod config;
pub mod conn;
pub mod convert;
pub mod server;
pub mod stats;
pub mod tls;
