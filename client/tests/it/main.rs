//! Integration tests of the client against an in-test mock server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

// The mock server: speaks the protocol with `jubilant_format`, each test
// choosing its answers.
mod mock;

// Typed methods against an in-memory key-value mock, blocking wrapper.
mod api;
// Token sent on connect; rejected token fails connect.
mod auth;
// Many requests in flight on one connection, answered out of order.
mod pipelining;
// BUSY retried for reads only; dropped connections reopened; timeouts.
mod retry;
// TLS and mutual TLS with certificates made by rcgen.
mod tls;
