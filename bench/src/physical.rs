//! Physical limits of the disk under the temporary directory, measured in
//! the same run as the engines: what one durable 4 KiB write costs when it
//! overwrites allocated blocks and when it appends (which makes fdatasync
//! also write the file size), and sequential write bandwidth.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::stats::{Latency, latency};

/// Bytes of one small durable write.
pub const SMALL_WRITE_BYTES: usize = 4096;
/// Bytes of one sequential write.
pub const SEQUENTIAL_WRITE_BYTES: usize = 1 << 20;

/// What [`measure`] found.
#[derive(Debug, Clone, Copy)]
pub struct PhysicalLimits {
    /// 4 KiB `pwrite` + `fdatasync` into a preallocated, synced file.
    pub overwrite: Latency,
    /// 4 KiB append + `fdatasync`.
    pub append: Latency,
    /// Sequential 1 MiB writes then one `fsync`, MiB/s.
    pub sequential_mib_per_s: f64,
}

/// Measures the limits in `dir` (created, and removed afterwards) with
/// `syncs` small durable writes of each kind and `sequential_mib` MiB of
/// sequential writes.
pub fn measure(dir: &Path, syncs: usize, sequential_mib: usize) -> Result<PhysicalLimits> {
    fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let result = measure_in(dir, syncs, sequential_mib);
    let removed = fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()));
    let limits = result?;
    removed?;
    Ok(limits)
}

fn measure_in(dir: &Path, syncs: usize, sequential_mib: usize) -> Result<PhysicalLimits> {
    let block = [0x5a_u8; SMALL_WRITE_BYTES];

    // Overwrite: allocate and sync the whole file first.
    let path = dir.join("overwrite");
    let mut file = File::create(&path).context("create overwrite file")?;
    let zeros = vec![0_u8; SMALL_WRITE_BYTES * syncs];
    file.write_all(&zeros).context("preallocate overwrite file")?;
    file.sync_all().context("sync overwrite file")?;
    let mut samples = Vec::with_capacity(syncs);
    for i in 0..syncs {
        let offset = u64::try_from(i * SMALL_WRITE_BYTES)?;
        let start = Instant::now();
        file.write_all_at(&block, offset).context("overwrite block")?;
        file.sync_data().context("fdatasync overwrite file")?;
        samples.push(start.elapsed());
    }
    drop(file);
    let overwrite = summary(&samples)?;

    // Append: every write extends the file.
    let path = dir.join("append");
    let mut file = OpenOptions::new().create(true).append(true).open(&path).context("create append file")?;
    file.sync_all().context("sync append file")?;
    samples.clear();
    for _ in 0..syncs {
        let start = Instant::now();
        file.write_all(&block).context("append block")?;
        file.sync_data().context("fdatasync append file")?;
        samples.push(start.elapsed());
    }
    drop(file);
    let append = summary(&samples)?;

    // Sequential bandwidth, the fsync included.
    let path = dir.join("sequential");
    let chunk = vec![0xa5_u8; SEQUENTIAL_WRITE_BYTES];
    let mut file = File::create(&path).context("create sequential file")?;
    let start = Instant::now();
    for _ in 0..sequential_mib {
        file.write_all(&chunk).context("sequential write")?;
    }
    file.sync_all().context("fsync sequential file")?;
    let elapsed = start.elapsed();
    drop(file);
    let sequential_mib_per_s = sequential_mib as f64 / elapsed.as_secs_f64().max(1e-9);

    Ok(PhysicalLimits { overwrite, append, sequential_mib_per_s })
}

fn summary(samples: &[Duration]) -> Result<Latency> {
    latency(samples).context("no samples")
}
