//! Data directories for the forensic tests, made with the engine API, and
//! the workload that made them (to check what repair keeps).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jubilant_engine::clock::Clock;
use jubilant_engine::{Db, Options, WriteBatch};

/// A clock frozen at 2026-01-01, so commit times and the manifest's
/// calibration are the same in every run.
#[derive(Debug)]
pub struct FixedClock;

impl Clock for FixedClock {
    fn wall_unix_nanos(&self) -> u64 {
        1_767_225_600_000_000_000
    }

    fn monotonic_nanos(&self) -> u64 {
        1_000_000_000
    }
}

/// Small WAL segments without preallocation, no background thread.
pub fn options() -> Options {
    Options { wal_segment_bytes: 64 << 10, wal_preallocate: false, background: false, ..Options::default() }
}

/// What [`build_with`] makes.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Keys loaded before the first checkpoint.
    pub keys: u32,
    /// Value length.
    pub value_len: usize,
    /// Rounds of commits after it; a checkpoint follows each of the first
    /// `checkpoints - 1` groups of `wal_commits` rounds.
    pub wal_commits: u32,
    /// Checkpoints made (at least 1).
    pub checkpoints: u32,
    /// WAL segment size.
    pub wal_segment_bytes: u64,
}

/// A database's contents.
pub type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

/// The state after each commit, by commit LSN.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// `(commit LSN, contents after it)`, in commit order.
    pub states: Vec<(u64, Contents)>,
    /// The checkpoint's LSN.
    pub checkpoint_lsn: u64,
}

impl History {
    /// The contents after the last commit below `lsn` (every commit that
    /// was durable before a damaged region starting at `lsn`).
    pub fn before(&self, lsn: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.states.iter().rev().find(|(l, _)| *l < lsn).map(|(_, s)| s.clone()).unwrap_or_default()
    }

    /// The final contents.
    pub fn last(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.states.last().map(|(_, s)| s.clone()).unwrap_or_default()
    }
}

/// Builds a directory: `keys` keys in batches of 20, a checkpoint, then
/// `wal_commits` more commits (puts and deletes) left in the WAL.
pub fn build(dir: &Path, keys: u32, value_len: usize, wal_commits: u32) -> History {
    build_with(dir, Spec { keys, value_len, wal_commits, checkpoints: 1, wal_segment_bytes: 64 << 10 })
}

/// Builds a directory as `spec` says.
pub fn build_with(dir: &Path, spec: Spec) -> History {
    let Spec { keys, value_len, wal_commits, checkpoints, wal_segment_bytes } = spec;
    let db = Db::open_with_clock(dir, Options { wal_segment_bytes, ..options() }, Arc::new(FixedClock)).unwrap();
    let mut model = BTreeMap::new();
    let mut history = History::default();
    let mut commit = |db: &Db, batch: &WriteBatch, model: &mut BTreeMap<Vec<u8>, Vec<u8>>| {
        for op in batch.ops() {
            match op {
                jubilant_engine::BatchOp::Put { key, value, .. } => {
                    model.insert(key.clone(), value.clone());
                }
                other => {
                    model.remove(other.key());
                }
            }
        }
        let lsn = db.write(batch).unwrap();
        history.states.push((lsn.get(), model.clone()));
    };
    for chunk in (0..keys).collect::<Vec<_>>().chunks(20) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            batch.put(format!("key{i:05}"), value(i, 0, value_len));
        }
        commit(&db, &batch, &mut model);
    }
    let info = db.checkpoint().unwrap();
    history.checkpoint_lsn = info.map_or(0, |i| i.checkpoint_lsn.get());
    for round in 1..=wal_commits * checkpoints.max(1) {
        if round > 1 && (round - 1) % wal_commits == 0 {
            let info = db.checkpoint().unwrap();
            history.checkpoint_lsn = info.map_or(0, |i| i.checkpoint_lsn.get());
        }
        let mut batch = WriteBatch::new();
        for j in 0..10u32 {
            let i = (round * 37 + j * 11) % keys.max(1);
            if j == 9 {
                batch.delete(format!("key{i:05}"));
            } else {
                batch.put(format!("key{i:05}"), value(i, round, value_len));
            }
        }
        commit(&db, &batch, &mut model);
    }
    db.close().unwrap();
    history
}

fn value(i: u32, round: u32, len: usize) -> Vec<u8> {
    let text = format!("value-{i}-{round}-");
    text.bytes().cycle().take(len.max(text.len())).collect()
}

/// Copies a data directory (files and the wal/ and vlog/ folders).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The WAL segment files of `dir`, oldest first.
pub fn wal_segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    files
}

/// XORs the byte at `offset` of `path` with `mask`.
pub fn flip(path: &Path, offset: u64, mask: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= mask;
    std::fs::write(path, bytes).unwrap();
}

/// The database's contents, read with the engine (read-only).
pub fn contents(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir, Options { read_only: true, background: false, ..Options::default() }).unwrap();
    db.range::<&[u8], _>(..).unwrap().map(|r| r.unwrap()).collect()
}
