//! Read-only access to a data directory, and the decoded views the screens
//! show.
//!
//! - [`dir`]: the directory itself: files, manifest, both superblock slots,
//!   page and segment reads.
//! - [`page`]: one page decoded for display, each field with its byte
//!   offset, and a byte map of what every byte is; page classification for
//!   the page map.
//! - [`tree`]: B+Tree nodes for the tree browser.
//! - [`ownership`]: which pages a superblock's tree and free list own.
//! - [`wal`]: the WAL timeline, torn tails and mid-log damage.
//! - [`vlog`]: value-log segments and records; following a reference.
//! - [`text`]: how keys, values and sizes are spelled.
//!
//! **Invariant:** nothing here writes or locks. Files are opened with
//! `Storage::open_read_only`; a decoder's error becomes part of the view.

pub mod dir;
pub mod ownership;
pub mod page;
pub mod text;
pub mod tree;
pub mod vlog;
pub mod wal;

pub use dir::DataDir;
