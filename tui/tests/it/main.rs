//! Integration tests of `jubilant-tui`, one binary (ripgrep's layout):
//! - `fixtures`: healthy and damaged data directories made with the engine.
//! - `support`: drawing a state on a 120×40 `TestBackend`, key scripts.
//! - `screens`: every view on the healthy and the damaged directory,
//!   checked with insta snapshots (text, plus which runs are red).
//! - `navigation`: key scripts through the views.
//! - `damaged`: every view on every kind of damage renders, at several
//!   sizes, without panicking, and the damage shows in red.
//! - `read_only`: the inspector changes no byte and takes no lock.

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod damaged;
mod fixtures;
mod navigation;
mod read_only;
mod screens;
mod support;
