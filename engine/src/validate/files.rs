//! Reading a data directory's files for inspection: whole small files,
//! directory listings, and single pages, all through [`Storage`] and all
//! read-only (no lock is taken, nothing is written).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jubilant_format::{PageId, PageSize, SegmentId, SegmentKind};

use crate::error::{Error, Result};
use crate::storage::{Storage, StorageFile, read_exact_at};

/// Largest file read whole (a WAL or value-log segment): 2 GiB. A longer
/// segment is read up to this length and reported as such.
pub const WHOLE_FILE_MAX: u64 = 2 << 30;

/// Reads up to `max` bytes of the file at `path`.
pub fn read_whole(storage: &dyn Storage, path: &Path, max: u64) -> Result<Vec<u8>> {
    let file = storage.open_read_only(path).map_err(|e| Error::io("open", path, e))?;
    let len = file.len().map_err(|e| Error::io("stat", path, e))?.min(max);
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    read_exact_at(&*file, &mut buf, 0).map_err(|e| Error::io("read", path, e))?;
    Ok(buf)
}

/// The first `len` bytes of the file at `path` (fewer if it is shorter).
pub fn read_prefix(storage: &dyn Storage, path: &Path, len: usize) -> Result<Vec<u8>> {
    let file = storage.open_read_only(path).map_err(|e| Error::io("open", path, e))?;
    let available = file.len().map_err(|e| Error::io("stat", path, e))?.min(len as u64);
    let mut buf = vec![0u8; usize::try_from(available).unwrap_or(0)];
    read_exact_at(&*file, &mut buf, 0).map_err(|e| Error::io("read", path, e))?;
    Ok(buf)
}

/// The sorted entry names of `dir`, or `None` if it does not exist.
pub fn list(storage: &dyn Storage, dir: &Path) -> Result<Option<Vec<String>>> {
    match storage.list_dir(dir) {
        Ok(mut names) => {
            names.sort();
            Ok(Some(names))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("list", dir, e)),
    }
}

/// A segment file found in `wal/` or `vlog/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// The number in its name.
    pub id: SegmentId,
    /// Its path.
    pub path: PathBuf,
    /// Its path relative to the data directory (`wal/…`).
    pub name: String,
}

/// The segment files of `kind` in `dir/wal` or `dir/vlog`, in number
/// order, and the names of other files there. `None` if the directory is
/// missing.
pub fn segments(
    storage: &dyn Storage,
    dir: &Path,
    kind: SegmentKind,
) -> Result<Option<(Vec<SegmentFile>, Vec<String>)>> {
    let sub = dir.join(kind.directory());
    let Some(names) = list(storage, &sub)? else { return Ok(None) };
    let mut found = Vec::new();
    let mut others = Vec::new();
    for name in names {
        match kind.parse_file_name(&name) {
            Some(id) => {
                found.push(SegmentFile { id, path: sub.join(&name), name: format!("{}/{name}", kind.directory()) })
            }
            // The WAL's next segment, being prepared: not a stranger.
            None if kind == SegmentKind::Wal && name == crate::wal::NEXT_SEGMENT_FILE => {}
            None => others.push(format!("{}/{name}", kind.directory())),
        }
    }
    found.sort_by_key(|s| s.id);
    Ok(Some((found, others)))
}

/// Reads pages of `pages.jdb`.
#[derive(Debug, Clone)]
pub struct PageReader {
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    page_size: PageSize,
    len: u64,
}

impl PageReader {
    /// Opens the page file read-only.
    pub fn open(storage: &dyn Storage, path: &Path, page_size: PageSize) -> Result<PageReader> {
        let file = storage.open_read_only(path).map_err(|e| Error::io("open", path, e))?;
        let len = file.len().map_err(|e| Error::io("stat", path, e))?;
        Ok(PageReader { file, path: path.to_path_buf(), page_size, len })
    }

    /// The page size used.
    #[must_use]
    pub fn page_size(&self) -> PageSize {
        self.page_size
    }

    /// The file's length in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whole pages in the file.
    #[must_use]
    pub fn whole_pages(&self) -> u64 {
        self.len / u64::from(self.page_size.get())
    }

    /// The bytes of `page`: a full page, or fewer at the end of the file.
    pub fn read(&self, page: PageId) -> Result<Vec<u8>> {
        self.read_at(page.offset(self.page_size), self.page_size.bytes())
    }

    /// Up to `len` bytes at `offset` (fewer at the end of the file).
    pub fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let available = self.len.saturating_sub(offset).min(len as u64) as usize;
        let mut buf = vec![0u8; available];
        read_exact_at(&*self.file, &mut buf, offset).map_err(|e| Error::io("read page", &self.path, e))?;
        Ok(buf)
    }
}
