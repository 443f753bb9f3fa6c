//! Integration tests: each starts the real `jubilant-server` binary on an
//! ephemeral loopback port and talks to it over TCP.
//!
//! - `support`: starting and stopping the server, a raw frame client.
//! - `bad_input`: oversized, malformed, unknown and stalled frames; the
//!   connection limit.
//! - `auth`: tokens, roles and prefixes.
//! - `requests`: transactions, pipelining, INFO, CHECKPOINT, shedding.
//! - `lifecycle`: graceful shutdown and `kill -9` during writes.

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

mod auth;
mod bad_input;
mod lifecycle;
mod requests;
mod soak;
mod tls;
