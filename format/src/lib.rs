//! On-disk and on-wire formats of jubilant-db.
//!
//! Bytes in, typed values out: this crate does no I/O. Every decoder takes
//! arbitrary bytes and returns a typed [`Error`] saying what is wrong and
//! where; none panics, allocates more than its input justifies, or loops
//! without bound. Every encoder is deterministic, and golden files pin its
//! output byte for byte (see `golden/` and docs/TECH_SPECIFICATION.md).
//!
//! The structures:
//! - [`page`]: the 32-byte page header, CRC32C over the whole page.
//! - [`superblock`]: the A/B superblock slots and the choice between them.
//! - [`segment`]: the header of WAL and value-log segment files.
//! - [`wal`]: WAL record envelopes, the segment reader and the typed payloads.
//! - [`vlog`]: value-log records; [`value_ref`]: references to them.
//! - [`manifest`]: the MANIFEST file, with the [`schema_hash`] check.
//! - [`wire`]: client/server frames.
//! - [`layout`]: every fixed structure's byte-offset table, as data.

#![deny(missing_docs)]

mod codec;
pub mod error;
pub mod generated;
pub mod hash;
pub mod ids;
pub mod layout;
pub mod manifest;
pub mod page;
pub mod scan;
pub mod schema_hash;
pub mod segment;
pub mod superblock;
pub mod value_ref;
pub mod view;
pub mod vlog;
pub mod wal;
pub mod wire;

pub use error::{Error, Result, Structure};
pub use ids::{Epoch, Generation, Lsn, PageId, SegmentId, TxnId};
pub use manifest::{ClockCalibration, Manifest};
pub use page::{PageHeader, PageSize, PageType};
pub use scan::{Damage, EndReason, LogEnd};
pub use schema_hash::SCHEMA_HASH;
pub use segment::{SegmentHeader, SegmentKind};
pub use superblock::{OtherSlot, Slot, Superblock, SuperblockChoice, select_superblock};
pub use value_ref::ValueRef;

/// The on-disk format version this build reads and writes. Every fixed
/// structure carries it; see docs/TECH_SPECIFICATION.md for what a reader
/// does with another version.
pub const FORMAT_VERSION: u16 = 1;

/// File name of the manifest inside a data directory.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// File name of the page file (superblocks and tree pages).
pub const PAGE_FILE: &str = "pages.jdb";
/// File name of the lock file held by a process that writes the directory.
pub const LOCK_FILE: &str = "LOCK";
