//! LMDB through heed with default flags: each write transaction's commit
//! syncs the data file (fdatasync on Linux).

use std::ops::Bound;
use std::path::Path;

use anyhow::{Context, Result};
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions};

use super::{Engine, Pair, ValueSink, Write};
use crate::data::KEY_LEN;

/// Size of the memory map: LMDB needs an upper bound on the file size.
/// The mapping is sparse, so a large bound costs nothing.
const MAP_BYTES: usize = 16 << 30;

/// An open LMDB environment with one unnamed database.
pub struct LmdbEngine {
    env: Env,
    db: Database<'static, Bytes, Bytes>,
}

impl LmdbEngine {
    /// Opens a new environment in the directory `dir`.
    pub fn open(dir: &Path) -> Result<LmdbEngine> {
        let mut options = EnvOpenOptions::new();
        options.map_size(MAP_BYTES);
        #[expect(unsafe_code, reason = "heed marks opening an environment unsafe")]
        // SAFETY: heed requires that the environment is not opened twice in
        // one process and that nothing else truncates or rewrites its files
        // while it is open; `dir` is a fresh directory only this engine uses.
        let env = unsafe { options.open(dir) }.context("open LMDB environment")?;
        let txn = env.write_txn()?;
        // Databases created through a committed transaction outlive it.
        let db = env
            .create_databases_and_commit(txn, |opener, txn| -> heed::Result<_> {
                opener.create_database::<Bytes, Bytes>(txn, None).map(CommitOrAbort::<_, ()>::Commit)
            })?
            .commit()
            .context("create LMDB database")?;
        Ok(LmdbEngine { env, db })
    }
}

impl Engine for LmdbEngine {
    fn commit(&self, pairs: &[Pair]) -> Result<()> {
        let mut txn = self.env.write_txn()?;
        for (key, value) in pairs {
            self.db.put(&mut txn, key.as_slice(), value.as_slice())?;
        }
        txn.commit().context("commit LMDB transaction")?;
        Ok(())
    }

    fn apply(&self, writes: &[Write<'_>]) -> Result<()> {
        let mut txn = self.env.write_txn()?;
        for w in writes {
            match *w {
                Write::Put { key, value } => self.db.put(&mut txn, key, value)?,
                Write::Delete { key } => {
                    self.db.delete(&mut txn, key)?;
                }
            }
        }
        txn.commit().context("commit LMDB transaction")?;
        Ok(())
    }

    fn read_values(&self, keys: &[[u8; KEY_LEN]], sink: &mut ValueSink<'_>) -> Result<()> {
        let txn = self.env.read_txn()?;
        let mut buffer = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match self.db.get(&txn, key.as_slice())? {
                Some(value) => {
                    buffer.clear();
                    buffer.extend_from_slice(value);
                    sink(i, Some(&buffer))?;
                }
                None => sink(i, None)?,
            }
        }
        Ok(())
    }

    fn reclaim(&mut self) -> Result<String> {
        Ok("nothing to run".to_owned())
    }

    fn get_many(&self, keys: &[[u8; KEY_LEN]]) -> Result<u64> {
        let txn = self.env.read_txn()?;
        let mut found = 0;
        for key in keys {
            if self.db.get(&txn, key.as_slice())?.is_some() {
                found += 1;
            }
        }
        Ok(found)
    }

    fn scan_many(&self, starts: &[[u8; KEY_LEN]], len: usize) -> Result<u64> {
        let txn = self.env.read_txn()?;
        let mut read = 0;
        for start in starts {
            let range = (Bound::Included(start.as_slice()), Bound::Unbounded);
            for pair in self.db.range(&txn, &range)?.take(len) {
                pair?;
                read += 1;
            }
        }
        Ok(read)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.env.force_sync().context("sync LMDB environment")?;
        Ok(())
    }
}
