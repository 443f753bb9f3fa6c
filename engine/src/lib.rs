//! The jubilant-db storage engine: an embedded, crash-safe, ordered
//! key-value store.
//!
//! ```no_run
//! use jubilant_engine::{Db, Options, WriteBatch};
//! let db = Db::open("/tmp/example-db", Options::default())?;
//! let mut batch = WriteBatch::new();
//! batch.put("user:1", "Ada").delete("user:0");
//! db.write(&batch)?; // durable when it returns
//! assert_eq!(db.get(b"user:1")?, Some(b"Ada".to_vec()));
//! for pair in db.range::<&[u8], _>(..)? {
//!     let (key, value) = pair?;
//!     println!("{key:?} = {value:?}");
//! }
//! # Ok::<(), jubilant_engine::Error>(())
//! ```
//!
//! Module map, bottom to top (each imports only what is below it):
//! `storage` (the I/O trait, real and simulated) → `cache` → `pager` →
//! `btree` (node, read, apply, check) → `memtable` → `wal` (writer,
//! replay) → `freespace` → `checkpoint` → `view` → `iter` → `db`.
#![deny(missing_docs)]

pub mod batch;
pub mod btree;
pub mod cache;
pub mod checkpoint;
pub mod clock;
pub mod db;
pub mod error;
pub mod freespace;
pub mod gc;
pub mod histogram;
pub mod iter;
pub mod layout;
pub mod lock;
pub mod memtable;
pub mod options;
pub mod pager;
pub mod repair;
pub mod storage;
pub mod striped;
mod sync;
pub mod ttl;
pub mod txn;
pub mod validate;
mod view;
pub mod vlog;
pub mod wal;

pub use batch::{BatchOp, WriteBatch};
pub use checkpoint::CheckpointInfo;
pub use db::{Db, Entry, EntryView, Stats, TunableChanges, inline_limit};
pub use error::{Error, Result};
pub use iter::Iter;
pub use options::{Durability, Options};
pub use txn::{AbortReason, Condition, OpResult, ReadItem, StagedWrites, TxnOp, TxnOutcome};
