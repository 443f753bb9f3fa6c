//! Integration tests: each starts the real `jubilant-server` binary on an
//! ephemeral loopback port and talks to it over TCP.
//!
//! - `support`: starting and stopping the server, a raw frame client.
//! - `bad_input`: oversized, malformed, unknown and stalled frames; the
//!   connection limit.
//! - `auth`: tokens, roles and prefixes.
//! - `requests`: transactions, pipelining, INFO, CHECKPOINT, shedding.
//! - `lifecycle`: graceful shutdown and `kill -9` during writes.
//! - `observability`: redacted logs and spans, /metrics parsed, INFO
//!   parity with it; `prom`: the Prometheus text-format parser it uses.
//! - `config`: the printed default file, startup errors with key and line.
//! - `reload`: SIGHUP and CONFIG RELOAD, valid and invalid.
//! - `soak`, `tls`: mixed load with and without TLS; TLS and mutual TLS.

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

mod prom;

mod auth;
mod bad_input;
mod config;
mod lifecycle;
mod observability;
mod reload;
mod requests;
mod soak;
mod tls;
