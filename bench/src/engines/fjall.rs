//! fjall with default options; every commit is a write batch persisted with
//! `PersistMode::SyncData` (fdatasync of the journal), the same system call
//! jubilant, redb and LMDB use for their commits. The `fjall-kv` variant
//! turns on key-value separation (`KvSeparationOptions::default()`: values
//! of at least 1 KiB go to blob files), fjall's counterpart of a value log.

use std::path::Path;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, PersistMode, Readable};

use super::{Engine, Pair, ValueSink, Write};
use crate::data::KEY_LEN;

/// Poll interval of [`Engine::settle`].
const SETTLE_POLL: Duration = Duration::from_millis(10);
/// Polls before [`Engine::settle`] gives up waiting (30 s).
const SETTLE_POLLS_MAX: u32 = 3_000;

/// An open fjall database with one keyspace.
pub struct FjallEngine {
    db: Database,
    keyspace: Keyspace,
}

impl FjallEngine {
    /// Opens a new database in `dir` with default options, plus key-value
    /// separation if `kv_separation`.
    pub fn open(dir: &Path, kv_separation: bool) -> Result<FjallEngine> {
        let db = Database::builder(dir).open().context("open fjall database")?;
        let keyspace = db.keyspace("bench", || {
            let options = KeyspaceCreateOptions::default();
            if kv_separation { options.with_kv_separation(Some(KvSeparationOptions::default())) } else { options }
        })?;
        Ok(FjallEngine { db, keyspace })
    }
}

impl Engine for FjallEngine {
    fn commit(&self, pairs: &[Pair]) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncData));
        for (key, value) in pairs {
            batch.insert(&self.keyspace, key.as_slice(), value.as_slice());
        }
        batch.commit().context("commit fjall batch")?;
        Ok(())
    }

    fn apply(&self, writes: &[Write<'_>]) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncData));
        for w in writes {
            match *w {
                Write::Put { key, value } => batch.insert(&self.keyspace, key, value),
                Write::Delete { key } => batch.remove(&self.keyspace, key),
            }
        }
        batch.commit().context("commit fjall batch")?;
        Ok(())
    }

    fn read_values(&self, keys: &[[u8; KEY_LEN]], sink: &mut ValueSink<'_>) -> Result<()> {
        let snapshot = self.db.snapshot();
        for (i, key) in keys.iter().enumerate() {
            sink(i, snapshot.get(&self.keyspace, key)?.as_deref())?;
        }
        Ok(())
    }

    fn reclaim(&mut self) -> Result<String> {
        self.keyspace.rotate_memtable_and_wait().context("flush fjall memtable")?;
        self.keyspace.major_compact().context("major compaction of fjall keyspace")?;
        self.settle()?;
        Ok(format!("{} blob file(s) left", self.keyspace.blob_file_count()))
    }

    fn get_many(&self, keys: &[[u8; KEY_LEN]]) -> Result<u64> {
        let snapshot = self.db.snapshot();
        let mut found = 0;
        for key in keys {
            if snapshot.get(&self.keyspace, key)?.is_some() {
                found += 1;
            }
        }
        Ok(found)
    }

    fn scan_many(&self, starts: &[[u8; KEY_LEN]], len: usize) -> Result<u64> {
        let snapshot = self.db.snapshot();
        let mut read = 0;
        for start in starts {
            for guard in snapshot.range(&self.keyspace, start.as_slice()..).take(len) {
                guard.into_inner()?;
                read += 1;
            }
        }
        Ok(read)
    }

    fn prepare_reads(&self) -> Result<Option<String>> {
        self.keyspace.rotate_memtable_and_wait().context("flush fjall memtable")?;
        Ok(Some("fjall: memtable flushed (rotate_memtable_and_wait) before reads".to_owned()))
    }

    fn settle(&self) -> Result<()> {
        for _ in 0..SETTLE_POLLS_MAX {
            if self.db.outstanding_flushes() == 0 && self.db.active_compactions() == 0 {
                return Ok(());
            }
            thread::sleep(SETTLE_POLL);
        }
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.persist(PersistMode::SyncAll).context("persist fjall database")?;
        Ok(())
    }
}
