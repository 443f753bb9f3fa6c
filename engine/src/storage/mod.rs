//! The storage layer: the one small I/O interface through which all engine
//! file access goes.
//!
//! - [`Storage`] names files and directories; [`StorageFile`] is an open file
//!   with positional reads and writes.
//! - [`fs::FsStorage`] is the real implementation over `std::fs` (Linux).
//! - [`sim::SimStorage`] is an in-memory implementation that models what a
//!   power loss leaves behind and injects I/O errors, for crash tests.
//!
//! The durability contract both implementations follow, and the engine may
//! rely on nothing stronger:
//! - A file's written bytes and length are durable only after
//!   [`StorageFile::sync`] on it returns `Ok`.
//! - A directory entry (from [`Storage::create`], [`Storage::rename`] or
//!   [`Storage::remove`]) is durable only after [`Storage::sync_dir`] on its
//!   parent directory returns `Ok`. A synced file whose entry was never made
//!   durable does not exist after a crash.
//! - A failed `sync` may have thrown the unsynced writes away (Linux does), so
//!   after one the only safe course is to stop and recover from durable state.
//!
//! **Invariant:** every error is a `std::io::Error`; the engine adds context.

pub mod fs;
pub mod sim;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A filesystem: named files in directories, with explicit durability points.
///
/// Implementations are shared between threads and live as long as the
/// database, hence the `Send + Sync + 'static` bounds.
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// Creates (or truncates to empty) a file and opens it read-write.
    ///
    /// The new directory entry is durable only after `sync_dir(parent)`.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>>;

    /// Opens an existing file read-write (`ErrorKind::NotFound` if missing).
    fn open(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>>;

    /// Opens an existing file read-only: writes and `set_len` on it fail.
    fn open_read_only(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>>;

    /// Renames `from` to `to`, atomically replacing `to` if it exists.
    ///
    /// The new name is durable only after `sync_dir` on the parent directory
    /// (both parents if they differ).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes a file's directory entry; durable only after `sync_dir(parent)`.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Makes the creates, renames and removes of entries in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Creates `dir` and its missing ancestors.
    ///
    /// `FsStorage` makes new directories durable only once their parent is
    /// synced; `SimStorage` treats directories as durable at once.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Lists the names (not paths) of the entries in `dir`, sorted.
    ///
    /// `ErrorKind::NotFound` if `dir` does not exist.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;

    /// Whether a file or directory exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// Takes an exclusive advisory lock on `path`, creating the file if needed.
    ///
    /// Returns `Ok(None)` if another holder has the lock. The lock is
    /// released when the returned guard drops.
    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>>;
}

/// An open file with positional I/O. Handles are shared (`Arc`), so every
/// method takes `&self`; there is no file cursor.
pub trait StorageFile: Send + Sync + fmt::Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns the number read,
    /// fewer than `buf.len()` only at end of file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Writes all of `buf` at `offset`, extending the file if needed.
    ///
    /// A short write is an error (`ErrorKind::WriteZero` or the device's
    /// error), possibly after part of `buf` was written.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// Makes this file's written data and length durable (fdatasync).
    fn sync(&self) -> io::Result<()>;

    /// The file's current length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Truncates or zero-extends the file to `len` bytes; durable after `sync`.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Whether the file is empty (one `len` call).
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// Holds a lock taken by [`Storage::try_lock`]; dropping it releases the lock.
pub struct LockGuard {
    /// Whatever releases the lock when dropped: an open `File` for
    /// `FsStorage`, a token for `SimStorage`. Never read, only dropped.
    _holder: Box<dyn Send + Sync>,
}

impl LockGuard {
    /// Wraps the value whose `Drop` releases the lock.
    ///
    /// Public so that storage implementations outside this module (test
    /// doubles, wrappers) can hand out guards too.
    pub fn new(holder: Box<dyn Send + Sync>) -> Self {
        Self { _holder: holder }
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

/// Fills all of `buf` from `file` at `offset`.
///
/// Returns `ErrorKind::UnexpectedEof` if the file ends first; `buf` is then
/// partly overwritten.
pub fn read_exact_at(file: &dyn StorageFile, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done: usize = 0;
    while done < buf.len() {
        let Some(rest) = buf.get_mut(done..) else {
            break;
        };
        let position = offset
            .checked_add(done as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "read offset overflows u64"))?;
        match file.read_at(rest, position) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "file ends at offset {position}, before the {} bytes asked for at offset {offset}",
                        buf.len()
                    ),
                ));
            }
            Ok(read) => {
                assert!(read <= rest.len(), "read_at returned more bytes than asked for");
                done += read;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
