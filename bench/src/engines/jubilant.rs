//! jubilant-engine with default options (`Durability::Sync`).

use std::path::Path;

use anyhow::{Context, Result};
use jubilant_engine::{Db, Options, WriteBatch};

use super::{Engine, Pair};
use crate::data::KEY_LEN;

/// An open jubilant database.
pub struct JubilantEngine {
    db: Db,
}

impl JubilantEngine {
    /// Opens a new database in `dir` with default options.
    pub fn open(dir: &Path) -> Result<JubilantEngine> {
        let db = Db::open(dir, Options::default()).context("open jubilant database")?;
        Ok(JubilantEngine { db })
    }
}

impl Engine for JubilantEngine {
    fn commit(&self, pairs: &[Pair]) -> Result<()> {
        let mut batch = WriteBatch::new();
        for (key, value) in pairs {
            batch.put(key.as_slice(), value.as_slice());
        }
        self.db.write(&batch).context("commit jubilant batch")?;
        Ok(())
    }

    fn get_many(&self, keys: &[[u8; KEY_LEN]]) -> Result<u64> {
        let mut found = 0;
        for key in keys {
            if self.db.get(key)?.is_some() {
                found += 1;
            }
        }
        Ok(found)
    }

    fn scan_many(&self, starts: &[[u8; KEY_LEN]], len: usize) -> Result<u64> {
        let mut read = 0;
        for start in starts {
            for pair in self.db.range(start.as_slice()..)?.take(len) {
                pair?;
                read += 1;
            }
        }
        Ok(read)
    }

    fn prepare_reads(&self) -> Result<Option<String>> {
        let info = self.db.checkpoint().context("checkpoint jubilant")?;
        Ok(Some(match info {
            Some(info) => format!(
                "jubilant: db.checkpoint() before reads wrote {} changes, {} pages in {} ms",
                info.changes,
                info.pages_written,
                info.duration_us / 1000
            ),
            None => "jubilant: db.checkpoint() before reads had nothing to write".to_owned(),
        }))
    }

    fn counters(&self) -> Vec<(&'static str, &'static str, f64)> {
        let stats = self.db.stats();
        let f = |v: u64| v as f64;
        vec![
            ("cache hits", "count", f(stats.cache.hits)),
            ("cache misses", "count", f(stats.cache.misses)),
            ("cache evictions", "count", f(stats.cache.evictions)),
            ("cache used", "bytes", f(stats.cache.bytes)),
            ("commits", "count", f(stats.commits)),
            ("WAL fsyncs", "count", f(stats.wal.fsyncs)),
            ("checkpoints", "count", f(stats.checkpoints)),
            ("last checkpoint", "µs", f(stats.last_checkpoint_us)),
        ]
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.close().context("close jubilant database")
    }
}
