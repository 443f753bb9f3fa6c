//! Disk space used by a database: the allocated blocks of its files, so
//! sparse files (LMDB's map) count what they hold and preallocated ones
//! (jubilant's WAL segments) count what they reserve.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Bytes of allocated blocks of every file under `dir`.
pub fn disk_bytes(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    let mut visited = 0_usize;
    while let Some(d) = stack.pop() {
        visited += 1;
        if visited > 100_000 {
            bail!("more than 100,000 directories under {}", dir.display());
        }
        for entry in fs::read_dir(&d).with_context(|| format!("list {}", d.display()))? {
            let entry = entry?;
            // An engine's background work (sled's segment cleaner) may
            // delete a file between the listing and its stat: it holds
            // nothing any more.
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("stat {}", entry.path().display())),
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    Ok(total)
}
