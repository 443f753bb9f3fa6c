//! [`FsStorage`]: the real [`Storage`], over `std::fs` on Linux.
//!
//! Reads and writes are positional (`pread`/`pwrite` through
//! [`FileExt`]), file sync is `fdatasync`, directory sync opens the
//! directory and calls `fsync` on it, and locks are `flock`-style
//! ([`File::try_lock`]). A lock belongs to an open file description, so two
//! `try_lock` calls on one path conflict even within one process.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::{LockGuard, Storage, StorageFile};

/// The real filesystem. Paths are used as given (relative to the process's
/// working directory if relative).
#[derive(Debug, Clone, Copy, Default)]
pub struct FsStorage;

impl FsStorage {
    /// The real filesystem.
    pub fn new() -> Self {
        Self
    }
}

/// An open file on the real filesystem. (`File`'s `Debug` shows its path.)
#[derive(Debug)]
struct FsFile {
    file: File,
}

impl FsFile {
    fn open(options: &OpenOptions, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        let file = options.open(path)?;
        Ok(Arc::new(Self { file }))
    }
}

impl Storage for FsStorage {
    fn create(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        FsFile::open(OpenOptions::new().read(true).write(true).create(true).truncate(true), path)
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        FsFile::open(OpenOptions::new().read(true).write(true), path)
    }

    fn open_read_only(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        FsFile::open(OpenOptions::new().read(true), path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // An empty parent (of a bare file name) means the working directory.
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        File::open(dir)?.sync_all()
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name().into_string().map_err(|name| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("file name {name:?} in {} is not UTF-8", dir.display()),
                )
            })?;
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        match file.try_lock() {
            // The open `File` is the lock: closing it releases the lock.
            Ok(()) => Ok(Some(LockGuard::new(Box::new(file)))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(error)) => Err(error),
        }
    }
}

impl StorageFile for FsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        // `pread` may return fewer bytes than asked before end of file (on a
        // signal); keep going so that a short count means end of file.
        let mut done: usize = 0;
        while done < buf.len() {
            let Some(rest) = buf.get_mut(done..) else {
                break;
            };
            match self.file.read_at(rest, offset.saturating_add(done as u64)) {
                Ok(0) => break,
                Ok(read) => done += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(done)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}
