//! jubilant-engine with default options (`Durability::Sync`).

use std::path::Path;

use anyhow::{Context, Result};
use jubilant_engine::{Db, Options, WriteBatch};

use super::{Engine, Pair, ValueSink, Write};
use crate::data::KEY_LEN;

/// [`Engine::reclaim`] rewrites value-log segments less live than this.
const RECLAIM_LIVE_RATIO: f64 = 0.8;

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

    fn apply(&self, writes: &[Write<'_>]) -> Result<()> {
        let mut batch = WriteBatch::new();
        for w in writes {
            match *w {
                Write::Put { key, value } => batch.put(key, value),
                Write::Delete { key } => batch.delete(key),
            };
        }
        self.db.write(&batch).context("commit jubilant batch")?;
        Ok(())
    }

    fn read_values(&self, keys: &[[u8; KEY_LEN]], sink: &mut ValueSink<'_>) -> Result<()> {
        for (i, entry) in self.db.get_many(keys)?.into_iter().enumerate() {
            sink(i, entry.as_ref().map(|e| e.value.as_slice()))?;
        }
        Ok(())
    }

    fn reclaim(&mut self) -> Result<String> {
        let gc = self.db.gc_value_log(RECLAIM_LIVE_RATIO).context("jubilant value-log GC")?;
        self.db.checkpoint().context("checkpoint jubilant")?;
        Ok(format!(
            "relocated {} segment(s), moved {} values ({} MiB), deleted {} segment(s)",
            gc.segments_relocated.len(),
            gc.values_moved,
            gc.bytes_moved >> 20,
            gc.segments_deleted.len()
        ))
    }

    fn value_log_bytes(&self) -> Option<u64> {
        Some(self.db.stats().vlog.bytes)
    }

    fn get_many(&self, keys: &[[u8; KEY_LEN]]) -> Result<u64> {
        // Like redb's `get`, which hands out a guard into its page: values
        // borrowed in place, the batch at one snapshot.
        let mut found = 0;
        self.db.get_many_with(keys, |_, value| found += u64::from(value.is_some()))?;
        Ok(found)
    }

    fn scan_many(&self, starts: &[[u8; KEY_LEN]], len: usize) -> Result<u64> {
        let mut read = 0;
        // Like redb's and LMDB's range iterators, which hand out guards
        // into their pages: keys and values visited in place.
        for start in starts {
            let mut n = 0;
            self.db.scan_with(start.as_slice().., |_, _| {
                n += 1;
                if n == len { std::ops::ControlFlow::Break(()) } else { std::ops::ControlFlow::Continue(()) }
            })?;
            read += n as u64;
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
