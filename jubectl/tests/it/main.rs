//! Runs the `jubectl` binary against an in-test mock server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

// A blocking mock server: an in-memory store behind the wire protocol.
mod mock;

// get/set/del/scan/txn/info/ping/checkpoint/config reload, text and JSON.
mod commands;
// Exit codes and the one-line errors: unreachable server, failed assert,
// usage errors, authentication.
mod failures;
// Offline forensics: validate, dumps, stat, repair, salvage.
mod forensics;
