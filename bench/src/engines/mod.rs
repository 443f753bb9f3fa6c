//! The one trait every engine under test implements, and how to open each.
//!
//! Every engine is opened with its own default options and its default
//! durable commit: a call to [`Engine::commit`] returns only once the
//! commit would survive a power cut. Read methods take a batch of
//! operations and may serve the whole batch from one read snapshot (one
//! read transaction), which is how an application doing many reads would
//! use redb, LMDB and fjall; jubilant has no read transaction, so each of
//! its reads takes its own snapshot.

mod fjall;
mod jubilant;
mod lmdb;
mod redb;

use std::path::Path;

use anyhow::Result;
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::data::{KEY_LEN, VALUE_LEN};

/// One key/value pair of the generated data set.
pub type Pair = ([u8; KEY_LEN], [u8; VALUE_LEN]);

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
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// jubilant-engine, the engine of this workspace.
    Jubilant,
    /// redb 4.x.
    Redb,
    /// fjall 3.x.
    Fjall,
    /// LMDB through heed 0.23.
    Lmdb,
}

impl EngineKind {
    /// Every engine, jubilant first.
    pub const ALL: [EngineKind; 4] = [EngineKind::Jubilant, EngineKind::Redb, EngineKind::Fjall, EngineKind::Lmdb];

    /// The name used in tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Jubilant => "jubilant",
            EngineKind::Redb => "redb",
            EngineKind::Fjall => "fjall",
            EngineKind::Lmdb => "lmdb",
        }
    }

    /// Opens a new database of this kind in the empty directory `dir`.
    pub fn open(self, dir: &Path) -> Result<Box<dyn Engine>> {
        Ok(match self {
            EngineKind::Jubilant => Box::new(jubilant::JubilantEngine::open(dir)?),
            EngineKind::Redb => Box::new(redb::RedbEngine::open(dir)?),
            EngineKind::Fjall => Box::new(fjall::FjallEngine::open(dir)?),
            EngineKind::Lmdb => Box::new(lmdb::LmdbEngine::open(dir)?),
        })
    }

    /// What "durable commit" means for this engine, for the report.
    pub fn durability_note(self) -> &'static str {
        match self {
            EngineKind::Jubilant => "Durability::Sync (WAL fdatasync, group commit)",
            EngineKind::Redb => "Durability::Immediate (default)",
            EngineKind::Fjall => "batch durability PersistMode::SyncData (journal fdatasync)",
            EngineKind::Lmdb => "default flags (sync on commit)",
        }
    }
}
