//! `jubilant-tui`: a terminal inspector for jubilant-db data directories.
//!
//! It opens a directory **read-only** (no lock, no writes: every file is
//! opened through [`jubilant_engine::storage::Storage::open_read_only`]) and
//! shows what is on disk, damaged structures included: a decoder's error is
//! something to show in red, never a reason to stop.
//!
//! The crate is split so that everything but terminal I/O is testable:
//! - [`model`]: reading the directory and decoding its structures into
//!   views (pages, tree nodes, WAL and value-log records, page ownership).
//!   Only the format's and engine's decoders are used; nothing here writes.
//! - [`app`]: the application [`State`], background loading and validation,
//!   and event handling ([`State::handle_event`]).
//! - [`ui`]: the pure [`render`] function, one module per view.
//!
//! `src/main.rs` only wires these to a real terminal.
#![deny(missing_docs)]

pub mod app;
pub mod model;
pub mod ui;

pub use app::{Options, State, View};
pub use ui::render;
