//! The audit trail of a repair: the repair directory, what is moved into
//! it, and the list of files (with sizes and hashes) before and after.
//!
//! **Invariant:** repair never deletes a byte. A cut tail is copied under
//! `DIR/repair-<timestamp>/` (as `<file>.cut-at-<offset>`) and fsynced
//! before the file is cut; a whole segment is renamed into it; a replaced
//! superblock slot is saved as `pages.jdb.slot-<X>.bin` first.

use std::path::{Path, PathBuf};

use jubilant_format::hash::{fnv1a64_continue, fnv1a64_start};
use jubilant_format::{LOCK_FILE, SegmentKind};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::storage::{Storage, read_exact_at};
use crate::validate::files::list;

/// One file of the data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// Path relative to the data directory.
    pub file: String,
    /// Length in bytes.
    pub bytes: u64,
    /// FNV-1a 64 of the contents, hex.
    pub fnv1a64: String,
}

/// Every file of the data directory (not the lock file, not earlier
/// repair directories), with its length and hash.
pub fn file_manifest(storage: &dyn Storage, dir: &Path) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for name in list(storage, dir)?.unwrap_or_default() {
        if name == LOCK_FILE || name.starts_with("repair-") {
            continue;
        }
        let path = dir.join(&name);
        if name == SegmentKind::Wal.directory() || name == SegmentKind::ValueLog.directory() {
            for inner in list(storage, &path)?.unwrap_or_default() {
                out.push(entry(storage, &path.join(&inner), format!("{name}/{inner}"))?);
            }
        } else if storage.list_dir(&path).is_err() {
            // Not a directory: a file.
            out.push(entry(storage, &path, name.clone())?);
        }
    }
    Ok(out)
}

fn entry(storage: &dyn Storage, path: &Path, file: String) -> Result<FileEntry> {
    let f = storage.open_read_only(path).map_err(|e| Error::io("open", path, e))?;
    let len = f.len().map_err(|e| Error::io("stat", path, e))?;
    let mut state = fnv1a64_start();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    while offset < len {
        let n = usize::try_from((len - offset).min(buf.len() as u64)).unwrap_or(0);
        let chunk = buf.get_mut(..n).unwrap_or_default();
        read_exact_at(&*f, chunk, offset).map_err(|e| Error::io("read", path, e))?;
        state = fnv1a64_continue(state, chunk);
        offset += n as u64;
    }
    Ok(FileEntry { file, bytes: len, fnv1a64: format!("{state:#018x}") })
}

/// The repair directory being filled.
#[derive(Debug)]
pub struct AuditDir {
    /// Its path.
    pub path: PathBuf,
    /// Its name (`repair-<timestamp>`).
    pub name: String,
    dir: PathBuf,
}

impl AuditDir {
    /// Creates `DIR/repair-<timestamp>` (with a `-N` suffix if taken).
    pub fn create(storage: &dyn Storage, dir: &Path, timestamp: &str) -> Result<AuditDir> {
        let mut name = format!("repair-{timestamp}");
        let mut n = 1;
        while storage.exists(&dir.join(&name)).map_err(|e| Error::io("stat", dir, e))? {
            n += 1;
            name = format!("repair-{timestamp}-{n}");
        }
        let path = dir.join(&name);
        storage.create_dir_all(&path.join("wal")).map_err(|e| Error::io("create directory", &path, e))?;
        storage.create_dir_all(&path.join("vlog")).map_err(|e| Error::io("create directory", &path, e))?;
        storage.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
        Ok(AuditDir { path, name, dir: dir.to_path_buf() })
    }

    /// Writes `bytes` as `name` in the repair directory, durably.
    pub fn write(&self, storage: &dyn Storage, name: &str, bytes: &[u8]) -> Result<String> {
        let path = self.path.join(name);
        let file = storage.create(&path).map_err(|e| Error::io("create", &path, e))?;
        file.write_at(bytes, 0).map_err(|e| Error::io("write", &path, e))?;
        file.sync().map_err(|e| Error::io("fsync", &path, e))?;
        let parent = path.parent().unwrap_or(&self.path);
        storage.sync_dir(parent).map_err(|e| Error::io("fsync directory", parent, e))?;
        Ok(format!("{}/{name}", self.name))
    }

    /// Copies bytes `offset..` of `file` (relative to the data directory)
    /// into the repair directory; returns where.
    pub fn save_tail(&self, storage: &dyn Storage, file: &str, offset: u64) -> Result<String> {
        let path = self.dir.join(file);
        let f = storage.open_read_only(&path).map_err(|e| Error::io("open", &path, e))?;
        let len = f.len().map_err(|e| Error::io("stat", &path, e))?;
        let mut buf = vec![0u8; usize::try_from(len.saturating_sub(offset)).unwrap_or(0)];
        read_exact_at(&*f, &mut buf, offset).map_err(|e| Error::io("read", &path, e))?;
        self.write(storage, &format!("{file}.cut-at-{offset}"), &buf)
    }

    /// Moves `file` (relative to the data directory) into the repair
    /// directory under the same relative name.
    pub fn move_in(&self, storage: &dyn Storage, file: &str) -> Result<String> {
        let from = self.dir.join(file);
        let to = self.path.join(file);
        storage.rename(&from, &to).map_err(|e| Error::io("move", &from, e))?;
        for d in [to.parent(), from.parent()].into_iter().flatten() {
            storage.sync_dir(d).map_err(|e| Error::io("fsync directory", d, e))?;
        }
        Ok(format!("{}/{file}", self.name))
    }
}
