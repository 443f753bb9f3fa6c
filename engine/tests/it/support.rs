//! Shared helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jubilant_engine::storage::sim::SimStorage;
use jubilant_engine::{Db, Options};

/// The directory used on simulated storage.
pub const DIR: &str = "/db";

/// Small pages, caches and segments, so a few hundred keys exercise
/// splits, merges, checkpoints and WAL rollover. No background thread.
/// Transactions above 2 KiB of WAL payload are logged as separate records
/// (Begin, writes, Commit), smaller ones as one `Txn` record: every
/// simulated workload (crash points, faults, models) mixes both forms.
pub fn sim_options(sim: &SimStorage) -> Options {
    Options {
        storage: Arc::new(sim.clone()),
        cache_bytes: 512 << 10,
        dirty_bytes_max: 64 << 10,
        wal_segment_bytes: 64 << 10,
        wal_preallocate: false,
        wal_txn_record_max: 2 << 10,
        vlog_segment_bytes: 64 << 10,
        background: false,
        ..Options::default()
    }
}

/// Opens `/db` on `sim`.
pub fn open_sim(sim: &SimStorage) -> jubilant_engine::Result<Db> {
    Db::open(DIR, sim_options(sim))
}

/// Every pair in the database, in order.
pub fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.range::<&[u8], _>(..).unwrap().map(|r| r.unwrap()).collect()
}

/// Asserts the durable tree's invariants.
pub fn assert_invariants(db: &Db) {
    if let Err(problems) = db.check_invariants().unwrap() {
        panic!("tree invariants violated:\n  {}", problems.join("\n  "));
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("jubilant-{name}-{}-{}", std::process::id(), unique()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Opens a database at [`DIR`] with `opts`, writes 20,000 pairs
/// (`pair(i)`, in batches of 1,000: enough for a tree three levels deep)
/// and `extra`, checkpoints, and reopens it: below the pinned top two
/// levels nothing is cached then.
pub fn reopened_deep_tree(opts: &Options, pair: impl Fn(u32) -> (String, Vec<u8>), extra: (&str, Vec<u8>)) -> Db {
    let db = Db::open(DIR, opts.clone()).unwrap();
    for chunk in 0..20u32 {
        let mut b = jubilant_engine::WriteBatch::new();
        for i in 0..1000 {
            let (key, value) = pair(chunk * 1000 + i);
            b.put(key, value);
        }
        db.write(&b).unwrap();
    }
    let mut b = jubilant_engine::WriteBatch::new();
    b.put(extra.0, extra.1);
    db.write(&b).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    Db::open(DIR, opts.clone()).unwrap()
}

/// Every record payload in the WAL segments of `/db` on `sim`, in file
/// and log order (the valid prefix of each segment).
pub fn wal_payloads(sim: &SimStorage) -> Vec<jubilant_format::wal::WalPayload> {
    use jubilant_format::segment::SEGMENT_HEADER_LEN;
    use jubilant_format::wal::{WalPayload, WalReader, WalStep};
    use jubilant_format::{SegmentHeader, SegmentKind};
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> =
        sim.files().into_iter().filter(|f| f.starts_with(Path::new(DIR).join("wal"))).collect();
    files.sort();
    for file in files {
        let bytes = sim.contents(&file).unwrap();
        let Ok(h) = SegmentHeader::decode(&bytes, SegmentKind::Wal) else { continue };
        let mut r = WalReader::new(&bytes[SEGMENT_HEADER_LEN..], SEGMENT_HEADER_LEN as u64, Some(h.first_lsn));
        while let Ok(WalStep::Record(rec)) = r.next_step() {
            out.push(WalPayload::decode(rec.payload, rec.offset).unwrap());
        }
    }
    out
}
