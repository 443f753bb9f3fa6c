//! sled 0.34 with default options. sled has no per-transaction sync
//! option: a durable commit is `apply_batch` followed by `flush`, which
//! writes and fsyncs everything buffered (concurrent flushes share the
//! work).

use std::path::Path;

use anyhow::{Context, Result};

use super::{Engine, Pair, ValueSink, Write};
use crate::data::KEY_LEN;

/// An open sled database (its default tree).
pub struct SledEngine {
    db: sled::Db,
}

impl SledEngine {
    /// Opens a new database in the directory `dir`.
    pub fn open(dir: &Path) -> Result<SledEngine> {
        let db = sled::open(dir).context("open sled database")?;
        Ok(SledEngine { db })
    }

    fn apply_durably(&self, batch: sled::Batch) -> Result<()> {
        self.db.apply_batch(batch).context("apply sled batch")?;
        self.db.flush().context("flush sled")?;
        Ok(())
    }
}

impl Engine for SledEngine {
    fn commit(&self, pairs: &[Pair]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (key, value) in pairs {
            batch.insert(key.as_slice(), value.as_slice());
        }
        self.apply_durably(batch)
    }

    fn apply(&self, writes: &[Write<'_>]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for w in writes {
            match *w {
                Write::Put { key, value } => batch.insert(key, value),
                Write::Delete { key } => batch.remove(key),
            }
        }
        self.apply_durably(batch)
    }

    fn read_values(&self, keys: &[[u8; KEY_LEN]], sink: &mut ValueSink<'_>) -> Result<()> {
        for (i, key) in keys.iter().enumerate() {
            // `IVec` is owned (reference-counted): handed over as is.
            match self.db.get(key)? {
                Some(value) => sink(i, Some(&value))?,
                None => sink(i, None)?,
            }
        }
        Ok(())
    }

    fn reclaim(&mut self) -> Result<String> {
        // sled rewrites fragmented segments in the background on its own;
        // it has no compaction call.
        self.db.flush().context("flush sled")?;
        Ok("flush (sled has no compaction call)".to_owned())
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
            for pair in self.db.range(start.as_slice()..).take(len) {
                pair?;
                read += 1;
            }
        }
        Ok(read)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.flush().context("flush sled")?;
        Ok(())
    }
}
