//! redb with default options (`Durability::Immediate`).

use std::path::Path;

use anyhow::{Context, Result};
use redb::{Database, ReadableDatabase, TableDefinition};

use super::{Engine, Pair, ValueSink, Write};
use crate::data::KEY_LEN;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

/// Most `Database::compact` passes of [`Engine::reclaim`].
const COMPACT_PASSES_MAX: u32 = 100;

/// An open redb database.
pub struct RedbEngine {
    db: Database,
}

impl RedbEngine {
    /// Creates a database file in `dir` with default options and its table.
    pub fn open(dir: &Path) -> Result<RedbEngine> {
        let db = Database::create(dir.join("bench.redb")).context("create redb database")?;
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        Ok(RedbEngine { db })
    }
}

impl Engine for RedbEngine {
    fn commit(&self, pairs: &[Pair]) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TABLE)?;
            for (key, value) in pairs {
                table.insert(key.as_slice(), value.as_slice())?;
            }
        }
        txn.commit().context("commit redb transaction")?;
        Ok(())
    }

    fn apply(&self, writes: &[Write<'_>]) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TABLE)?;
            for w in writes {
                match *w {
                    Write::Put { key, value } => {
                        table.insert(key, value)?;
                    }
                    Write::Delete { key } => {
                        table.remove(key)?;
                    }
                }
            }
        }
        txn.commit().context("commit redb transaction")?;
        Ok(())
    }

    fn read_values(&self, keys: &[[u8; KEY_LEN]], sink: &mut ValueSink<'_>) -> Result<()> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        let mut buffer = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match table.get(key.as_slice())? {
                Some(guard) => {
                    buffer.clear();
                    buffer.extend_from_slice(guard.value());
                    sink(i, Some(&buffer))?;
                }
                None => sink(i, None)?,
            }
        }
        Ok(())
    }

    fn reclaim(&mut self) -> Result<String> {
        let mut passes = 0;
        while passes < COMPACT_PASSES_MAX && self.db.compact().context("compact redb database")? {
            passes += 1;
        }
        Ok(format!("{passes} compaction pass(es)"))
    }

    fn get_many(&self, keys: &[[u8; KEY_LEN]]) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        let mut found = 0;
        for key in keys {
            if table.get(key.as_slice())?.is_some() {
                found += 1;
            }
        }
        Ok(found)
    }

    fn scan_many(&self, starts: &[[u8; KEY_LEN]], len: usize) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        let mut read = 0;
        for start in starts {
            for pair in table.range(start.as_slice()..)?.take(len) {
                pair?;
                read += 1;
            }
        }
        Ok(read)
    }

    fn close(self: Box<Self>) -> Result<()> {
        drop(self.db);
        Ok(())
    }
}
