//! The bounded-memory run: load keys into jubilant with a small cache and
//! memtable budget and report the peak resident set size (VmHWM).
//!
//! It runs as `jubilant-bench rss` in its own process, so the peak is not
//! raised by other engines or by the data set of the main run; keys are
//! generated batch by batch rather than held in memory.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jubilant_engine::{Db, Options, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::data::{self, Rng};

/// Page-cache budget of the bounded-memory run.
pub const CACHE_BYTES: usize = 16 << 20;
/// Memtable budget of the bounded-memory run.
pub const DIRTY_BYTES_MAX: usize = 8 << 20;
/// Pairs per durable commit.
pub const BATCH: usize = 1_000;

/// What the bounded-memory run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RssResult {
    /// Keys loaded.
    pub keys: u64,
    /// `Options::cache_bytes`.
    pub cache_bytes: u64,
    /// `Options::dirty_bytes_max`.
    pub dirty_bytes_max: u64,
    /// VmHWM before the database was opened, MiB.
    pub baseline_peak_rss_mib: f64,
    /// VmHWM after loading and closing, MiB.
    pub peak_rss_mib: f64,
    /// VmRSS after loading, before closing, MiB.
    pub rss_after_load_mib: f64,
    /// Keys per second of the load (durable commits of [`BATCH`]).
    pub keys_per_s: f64,
    /// Checkpoints during the load.
    pub checkpoints: u64,
    /// Page-cache evictions during the load.
    pub cache_evictions: u64,
    /// Bytes in the page cache after the load.
    pub cache_bytes_used: u64,
}

/// Loads `keys` keys into a new database under `dir` (removed afterwards).
pub fn run(dir: &Path, keys: usize) -> Result<RssResult> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    let result = load(dir, keys);
    let removed = fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()));
    let result = result?;
    removed?;
    Ok(result)
}

fn load(dir: &Path, keys: usize) -> Result<RssResult> {
    let baseline_peak_rss_mib = proc_status_mib("VmHWM")?;
    let opts = Options { cache_bytes: CACHE_BYTES, dirty_bytes_max: DIRTY_BYTES_MAX, ..Options::default() };
    let db = Db::open(dir, opts).context("open jubilant database")?;
    let mut rng = Rng::new(data::SEED_BULK);
    let mut batch = WriteBatch::new();
    let mut elapsed = Duration::ZERO;
    let mut loaded = 0;
    while loaded < keys {
        let n = BATCH.min(keys - loaded);
        batch.clear();
        for _ in 0..n {
            let key = rng.key();
            batch.put(key.as_slice(), data::value_for(&key).as_slice());
        }
        let start = Instant::now();
        db.write(&batch).context("commit batch")?;
        elapsed += start.elapsed();
        loaded += n;
    }
    let stats = db.stats();
    let rss_after_load_mib = proc_status_mib("VmRSS")?;
    db.close().context("close jubilant database")?;
    let peak_rss_mib = proc_status_mib("VmHWM")?;
    let keys = u64::try_from(loaded)?;
    Ok(RssResult {
        keys,
        cache_bytes: u64::try_from(CACHE_BYTES)?,
        dirty_bytes_max: u64::try_from(DIRTY_BYTES_MAX)?,
        baseline_peak_rss_mib,
        peak_rss_mib,
        rss_after_load_mib,
        keys_per_s: crate::stats::per_second(keys, elapsed),
        checkpoints: stats.checkpoints,
        cache_evictions: stats.cache.evictions,
        cache_bytes_used: stats.cache.bytes,
    })
}

/// A `kB` field of /proc/self/status, in MiB.
fn proc_status_mib(field: &str) -> Result<f64> {
    let status = fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))?;
    Ok(kib as f64 / 1024.0)
}
