//! The data directory: file names, creation, and the lock file.
//!
//! ```text
//! DIR/MANIFEST     written once, at creation
//! DIR/LOCK         held (flock) by the process that writes DIR
//! DIR/pages.jdb    superblocks A and B (pages 0 and 1), then tree pages
//! DIR/wal/         WAL segments
//! DIR/vlog/        value-log segments
//! ```
//!
//! Creation is crash-safe: the MANIFEST appears (by rename, after the page
//! file and its first superblock are durable) last, so a directory without
//! a MANIFEST was never used and is created again from scratch.

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use jubilant_format::manifest::manifest_hash;
use jubilant_format::superblock::VlogCursor;
use jubilant_format::{
    Epoch, Generation, LOCK_FILE, Lsn, MANIFEST_FILE, Manifest, PAGE_FILE, PageSize, SegmentId, SegmentKind,
    Superblock, TxnId,
};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::storage::Storage;

/// `DIR/wal`.
#[must_use]
pub fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

/// `DIR/vlog`.
#[must_use]
pub fn vlog_dir(dir: &Path) -> PathBuf {
    dir.join("vlog")
}

/// `DIR/MANIFEST`.
#[must_use]
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST_FILE)
}

/// `DIR/pages.jdb`.
#[must_use]
pub fn page_file(dir: &Path) -> PathBuf {
    dir.join(PAGE_FILE)
}

/// `DIR/LOCK`.
#[must_use]
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK_FILE)
}

/// The program name recorded in new manifests.
pub const CREATED_BY: &str = concat!("jubilant-db ", env!("CARGO_PKG_VERSION"));

/// The superblock of a new, empty directory.
#[must_use]
pub fn initial_superblock(manifest_hash: u64) -> Superblock {
    Superblock {
        generation: Generation(0),
        checkpoint_lsn: Lsn::ZERO,
        checkpoint_epoch: Epoch::SINGLE_NODE,
        root_page: None,
        free_list_head: None,
        page_count: 2,
        manifest_hash,
        vlog_head: VlogCursor { segment: SegmentId(0), offset: 0 },
        vlog_tail: VlogCursor { segment: SegmentId(0), offset: 0 },
        next_txn_id: TxnId(1),
        key_count: 0,
    }
}

/// Creates a new data directory in `dir` (which exists and has no
/// MANIFEST).
pub fn create(storage: &dyn Storage, dir: &Path, page_size: PageSize, clock: &dyn Clock) -> Result<()> {
    for sub in [wal_dir(dir), vlog_dir(dir)] {
        storage.create_dir_all(&sub).map_err(|e| Error::io("create directory", &sub, e))?;
        // Segments left by an earlier creation that failed before its
        // MANIFEST was durable belong to no directory: nothing in them was
        // ever acknowledged (opening makes the MANIFEST durable first).
        let names = storage.list_dir(&sub).map_err(|e| Error::io("list", &sub, e))?;
        let stale: Vec<&String> = names
            .iter()
            .filter(|n| {
                SegmentKind::Wal.parse_file_name(n).is_some() || SegmentKind::ValueLog.parse_file_name(n).is_some()
            })
            .collect();
        for name in &stale {
            let path = sub.join(name);
            storage.remove(&path).map_err(|e| Error::io("remove", &path, e))?;
        }
        if !stale.is_empty() {
            storage.sync_dir(&sub).map_err(|e| Error::io("fsync directory", &sub, e))?;
        }
    }
    let directory_id = std::collections::hash_map::RandomState::new().hash_one(clock.wall_unix_nanos());
    let manifest = Manifest::new(
        page_size,
        jubilant_format::ClockCalibration {
            wall_unix_nanos: clock.wall_unix_nanos(),
            monotonic_nanos: clock.monotonic_nanos(),
        },
        CREATED_BY,
        directory_id,
    );
    let bytes = manifest.encode();

    let pages = page_file(dir);
    let file = storage.create(&pages).map_err(|e| Error::io("create", &pages, e))?;
    file.set_len(2 * u64::from(page_size.get())).map_err(|e| Error::io("resize", &pages, e))?;
    file.write_at(&initial_superblock(manifest_hash(&bytes)).encode(), 0)
        .map_err(|e| Error::io("write superblock", &pages, e))?;
    file.sync().map_err(|e| Error::io("fsync", &pages, e))?;
    storage.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;

    let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
    let file = storage.create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    file.write_at(&bytes, 0).map_err(|e| Error::io("write", &tmp, e))?;
    file.sync().map_err(|e| Error::io("fsync", &tmp, e))?;
    let target = manifest_path(dir);
    storage.rename(&tmp, &target).map_err(|e| Error::io("rename", &tmp, e))?;
    storage.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok(())
}

/// Reads and checks the manifest; returns it and its hash.
pub fn read_manifest(storage: &dyn Storage, dir: &Path) -> Result<(Manifest, u64)> {
    let path = manifest_path(dir);
    let file = storage.open_read_only(&path).map_err(|e| Error::io("open", &path, e))?;
    let len = file.len().map_err(|e| Error::io("stat", &path, e))?;
    if len > (jubilant_format::manifest::MANIFEST_BODY_MAX + 16) as u64 {
        return Err(Error::NotADatabase { path, reason: format!("MANIFEST of {len} bytes is too large") });
    }
    let mut bytes = vec![0u8; len as usize];
    crate::storage::read_exact_at(&*file, &mut bytes, 0).map_err(|e| Error::io("read", &path, e))?;
    let manifest = Manifest::decode(&bytes).map_err(|e| Error::corrupt(&path, e))?;
    Ok((manifest, manifest_hash(&bytes)))
}
