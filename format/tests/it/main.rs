//! Integration tests of the format crate, one binary (ripgrep's layout).
//!
//! - `support`: golden-file helpers; `samples`: the fixed sample values
//!   behind the golden files.
//! - `golden`: every structure and WAL record kind against its committed
//!   golden file, plus insta snapshots of the decoded form.
//! - `roundtrip`: proptest encode → decode for every structure.
//! - `arbitrary_bytes`: decoders fed arbitrary bytes never panic.
//! - `bitflip`: every single-bit flip in a golden page, superblock and WAL
//!   record is detected with the right error variant.
//! - `superblock_select`: the A/B choice in every combination.
//! - `wal_reader`: ends, torn tails and mid-log corruption.
//! - `manifest`: schema-hash drift and manifest validation.
//! - `spec_tables`: docs/TECH_SPECIFICATION.md agrees with the layouts.
//! - `wire`: frames, requests and responses.

// Test code: a panic is a test failure, which is what these lints guard
// against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod samples;
mod support;

mod arbitrary_bytes;
mod bitflip;
mod golden;
mod manifest;
mod roundtrip;
mod spec_tables;
mod superblock_select;
mod wal_reader;
mod wire;
