//! The one trait every engine under test implements, and how to open each.
//!
//! Every engine is opened with its own default options and its default
//! durable commit: a call to [`Engine::commit`] returns only once the
//! commit would survive a power cut. Read methods take a batch of
//! operations and may serve the whole batch from one read snapshot (one
//! read transaction), which is how an application doing many reads would
//! use redb, LMDB and fjall; jubilant reads a batch of gets at one
//! snapshot with `Db::get_many`, and each scan at its own.
//!
//! The large-value workload uses [`Engine::apply`], [`Engine::read_values`]
//! and [`Engine::reclaim`]: writes of any size, reads that hand each value
//! to the caller once, and each engine's own way of giving space back.

mod fjall;
mod jubilant;
mod lmdb;
mod redb;
mod sled;

use std::path::Path;

use anyhow::Result;
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::data::{KEY_LEN, VALUE_LEN};

/// One key/value pair of the generated data set.
pub type Pair = ([u8; KEY_LEN], [u8; VALUE_LEN]);

/// One write of [`Engine::apply`].
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// Insert or overwrite `key`.
    Put {
        /// The key.
        key: &'a [u8],
        /// The value, of any size.
        value: &'a [u8],
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: &'a [u8],
    },
}

/// Receives the value (or `None` if absent) of the `i`-th key of
/// [`Engine::read_values`].
pub type ValueSink<'a> = dyn FnMut(usize, Option<&[u8]>) -> Result<()> + 'a;

/// An engine under test, shared by the benchmark threads.
pub trait Engine: Send + Sync {
    /// Commits `pairs` as one atomic, durable transaction.
    fn commit(&self, pairs: &[Pair]) -> Result<()>;

    /// Looks up every key (within one read snapshot where the engine has
    /// them); returns how many were found.
    fn get_many(&self, keys: &[[u8; KEY_LEN]]) -> Result<u64>;

    /// For every start key, reads up to `len` pairs in key order from it
    /// (within one read snapshot where the engine has them); returns the
    /// number of pairs read.
    fn scan_many(&self, starts: &[[u8; KEY_LEN]], len: usize) -> Result<u64>;

    /// Applies `writes` as one atomic, durable transaction.
    fn apply(&self, writes: &[Write<'_>]) -> Result<()>;

    /// Reads the value of every key (within one read snapshot where the
    /// engine has them) and hands it to `sink` in memory the caller may
    /// keep: jubilant's and fjall's owned values as returned, redb's and
    /// LMDB's borrowed slices copied once into a buffer, so every engine
    /// delivers each byte once.
    fn read_values(&self, keys: &[[u8; KEY_LEN]], sink: &mut ValueSink<'_>) -> Result<()>;

    /// Gives back the space of deleted and overwritten data with the
    /// engine's own tool (see [`EngineKind::reclaim_note`]); returns what
    /// it did, for the progress output.
    fn reclaim(&mut self) -> Result<String>;

    /// Bytes in jubilant's value log (`None` for other engines).
    fn value_log_bytes(&self) -> Option<u64> {
        None
    }

    /// Moves recent writes out of memory-only structures before the read
    /// workloads, so reads hit the persistent structure. Returns a note for
    /// the report when it did something.
    fn prepare_reads(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Waits (a bounded time) until background work such as flushes and
    /// compactions is idle, so it does not run during another engine's
    /// measurement.
    fn settle(&self) -> Result<()> {
        Ok(())
    }

    /// Engine-specific counters for the report, as `(name, unit, value)`.
    fn counters(&self) -> Vec<(&'static str, &'static str, f64)> {
        Vec::new()
    }

    /// Closes the engine, making everything durable.
    fn close(self: Box<Self>) -> Result<()>;
}

/// The engines this harness knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// jubilant-engine, the engine of this workspace.
    Jubilant,
    /// redb 4.x.
    Redb,
    /// fjall 3.x.
    Fjall,
    /// fjall 3.x with key-value separation (`KvSeparationOptions::default()`:
    /// values of at least 1 KiB go to blob files).
    FjallKv,
    /// LMDB through heed 0.23.
    Lmdb,
    /// sled 0.34.
    Sled,
}

impl EngineKind {
    /// The engines of a default run of the small-value workloads, jubilant
    /// first.
    pub const ALL: [EngineKind; 5] =
        [EngineKind::Jubilant, EngineKind::Redb, EngineKind::Fjall, EngineKind::Lmdb, EngineKind::Sled];

    /// The engines of a default run of the large-value workload: fjall
    /// also with key-value separation, the peer closest to a value log.
    pub const LARGE_VALUES: [EngineKind; 6] = [
        EngineKind::Jubilant,
        EngineKind::Redb,
        EngineKind::Fjall,
        EngineKind::FjallKv,
        EngineKind::Lmdb,
        EngineKind::Sled,
    ];

    /// Position in tables: jubilant first, then the peers.
    pub fn order(self) -> usize {
        match self {
            EngineKind::Jubilant => 0,
            EngineKind::Redb => 1,
            EngineKind::Fjall => 2,
            EngineKind::FjallKv => 3,
            EngineKind::Lmdb => 4,
            EngineKind::Sled => 5,
        }
    }

    /// The name used in tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Jubilant => "jubilant",
            EngineKind::Redb => "redb",
            EngineKind::Fjall => "fjall",
            EngineKind::FjallKv => "fjall-kv",
            EngineKind::Lmdb => "lmdb",
            EngineKind::Sled => "sled",
        }
    }

    /// Opens a new database of this kind in the empty directory `dir`.
    pub fn open(self, dir: &Path) -> Result<Box<dyn Engine>> {
        Ok(match self {
            EngineKind::Jubilant => Box::new(jubilant::JubilantEngine::open(dir)?),
            EngineKind::Redb => Box::new(redb::RedbEngine::open(dir)?),
            EngineKind::Fjall => Box::new(fjall::FjallEngine::open(dir, false)?),
            EngineKind::FjallKv => Box::new(fjall::FjallEngine::open(dir, true)?),
            EngineKind::Lmdb => Box::new(lmdb::LmdbEngine::open(dir)?),
            EngineKind::Sled => Box::new(sled::SledEngine::open(dir)?),
        })
    }

    /// What "durable commit" means for this engine, for the report.
    pub fn durability_note(self) -> &'static str {
        match self {
            EngineKind::Jubilant => "Durability::Sync (WAL fdatasync, group commit)",
            EngineKind::Redb => "Durability::Immediate (default)",
            EngineKind::Fjall | EngineKind::FjallKv => "batch durability PersistMode::SyncData (journal fdatasync)",
            EngineKind::Lmdb => "default flags (sync on commit)",
            EngineKind::Sled => "apply_batch, then Db::flush (write and fsync)",
        }
    }

    /// What [`Engine::reclaim`] runs for this engine, for the report.
    pub fn reclaim_note(self) -> &'static str {
        match self {
            EngineKind::Jubilant => "db.gc_value_log(0.8), then db.checkpoint()",
            EngineKind::Redb => "Database::compact() until it reports nothing left to do",
            EngineKind::Fjall | EngineKind::FjallKv => {
                "memtable flush, Keyspace::major_compact(), then waiting for compactions (blob-file GC included)"
            }
            EngineKind::Lmdb => "nothing: LMDB reuses freed pages but never shrinks its file",
            EngineKind::Sled => "Db::flush only: sled compacts its segments in the background, with no call to run it",
        }
    }
}
