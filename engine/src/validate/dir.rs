//! The directory-level facts every forensic command starts from: the
//! manifest (and the page size, directory id and manifest hash it gives),
//! and the two superblock slots, decoded one by one so that each slot's
//! own problem can be reported.

use std::path::{Path, PathBuf};

use jubilant_format::superblock::SUPERBLOCK_LEN;
use jubilant_format::{Manifest, PageHeader, PageId, PageSize, Slot, Superblock};

use super::files::{PageReader, read_whole};
use crate::error::{Error, Result};
use crate::layout;
use crate::storage::Storage;

/// Where the page size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageSizeSource {
    /// The manifest.
    Manifest,
    /// Guessed from where a valid superblock or page sits in `pages.jdb`.
    Inferred,
    /// Nothing to go by: the default size.
    Default,
}

/// One superblock slot as read.
#[derive(Debug, Clone)]
pub struct SlotState {
    /// Which slot.
    pub slot: Slot,
    /// File offset of the slot.
    pub offset: u64,
    /// The slot's 128 bytes (zeros past the end of a short file).
    pub bytes: [u8; SUPERBLOCK_LEN],
    /// The decoded superblock, or why it was rejected (including a
    /// foreign manifest hash).
    pub decoded: std::result::Result<Superblock, jubilant_format::Error>,
}

impl SlotState {
    /// Whether the slot was never written (all zero).
    #[must_use]
    pub fn is_zeroed(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }
}

/// The manifest and superblocks of a data directory.
#[derive(Debug)]
pub struct DirState {
    /// The data directory.
    pub dir: PathBuf,
    /// The MANIFEST file's bytes, if it exists.
    pub manifest_bytes: Option<Vec<u8>>,
    /// The decoded manifest (structure only), or why it did not decode.
    pub manifest: Option<std::result::Result<Manifest, jubilant_format::Error>>,
    /// FNV-1a 64 of the MANIFEST file, when it decoded.
    pub manifest_hash: Option<u64>,
    /// The page size in use.
    pub page_size: PageSize,
    /// Where it came from.
    pub page_size_source: PageSizeSource,
    /// The page file, if it exists.
    pub pages: Option<PageReader>,
    /// Slots A and B (empty if there is no page file).
    pub slots: Vec<SlotState>,
}

impl DirState {
    /// Reads the manifest and both superblock slots of `dir`.
    ///
    /// Fails only on operational errors: `dir` missing or not a directory,
    /// a file that cannot be read.
    pub fn load(storage: &dyn Storage, dir: &Path) -> Result<DirState> {
        if !storage.exists(dir).map_err(|e| Error::io("stat", dir, e))? {
            return Err(Error::NotADatabase { path: dir.to_path_buf(), reason: "no such directory".into() });
        }
        if storage.list_dir(dir).is_err() {
            return Err(Error::NotADatabase { path: dir.to_path_buf(), reason: "not a readable directory".into() });
        }
        let manifest_path = layout::manifest_path(dir);
        let manifest_bytes = if storage.exists(&manifest_path).map_err(|e| Error::io("stat", &manifest_path, e))? {
            Some(read_whole(storage, &manifest_path, (jubilant_format::manifest::MANIFEST_BODY_MAX + 4096) as u64)?)
        } else {
            None
        };
        let manifest = manifest_bytes.as_deref().map(Manifest::decode_structure);
        let manifest_hash = match (&manifest, &manifest_bytes) {
            (Some(Ok(_)), Some(bytes)) => Some(jubilant_format::manifest::manifest_hash(bytes)),
            _ => None,
        };
        let page_path = layout::page_file(dir);
        let has_pages = storage.exists(&page_path).map_err(|e| Error::io("stat", &page_path, e))?;
        let (page_size, page_size_source) = match &manifest {
            Some(Ok(m)) => (m.page_size, PageSizeSource::Manifest),
            _ if has_pages => infer_page_size(&PageReader::open(storage, &page_path, PageSize::DEFAULT)?)?,
            _ => (PageSize::DEFAULT, PageSizeSource::Default),
        };
        let pages = if has_pages { Some(PageReader::open(storage, &page_path, page_size)?) } else { None };
        let mut slots = Vec::new();
        if let Some(reader) = &pages {
            for slot in [Slot::A, Slot::B] {
                let offset = slot.page().offset(page_size);
                let mut bytes = [0u8; SUPERBLOCK_LEN];
                let read = reader.read_at(offset, SUPERBLOCK_LEN)?;
                if let Some(dst) = bytes.get_mut(..read.len()) {
                    dst.copy_from_slice(&read);
                }
                let decoded = Superblock::decode(&bytes, slot, offset).and_then(|sb| match manifest_hash {
                    Some(expected) if sb.manifest_hash != expected => {
                        Err(jubilant_format::Error::ForeignSuperblock { offset, expected, found: sb.manifest_hash })
                    }
                    _ => Ok(sb),
                });
                slots.push(SlotState { slot, offset, bytes, decoded });
            }
        }
        Ok(DirState {
            dir: dir.to_path_buf(),
            manifest_bytes,
            manifest,
            manifest_hash,
            page_size,
            page_size_source,
            pages,
            slots,
        })
    }

    /// The manifest, if it decoded.
    #[must_use]
    pub fn manifest(&self) -> Option<&Manifest> {
        match &self.manifest {
            Some(Ok(m)) => Some(m),
            _ => None,
        }
    }

    /// The directory id from the manifest.
    #[must_use]
    pub fn directory_id(&self) -> Option<u64> {
        self.manifest().map(|m| m.directory_id)
    }

    /// The current superblock: the valid slot with the highest generation.
    #[must_use]
    pub fn current(&self) -> Option<(Slot, Superblock)> {
        self.valid_slots().into_iter().max_by_key(|(_, sb)| sb.generation)
    }

    /// The valid slot that is not current, if both are valid.
    #[must_use]
    pub fn older(&self) -> Option<(Slot, Superblock)> {
        let mut valid = self.valid_slots();
        valid.sort_by_key(|(_, sb)| sb.generation);
        if valid.len() == 2 { valid.first().copied() } else { None }
    }

    /// The slots that decoded.
    #[must_use]
    pub fn valid_slots(&self) -> Vec<(Slot, Superblock)> {
        self.slots.iter().filter_map(|s| s.decoded.as_ref().ok().map(|sb| (s.slot, *sb))).collect()
    }
}

/// Guesses the page size from a page file whose manifest is unreadable:
/// the size at whose offset slot B holds a valid superblock, or page 2 a
/// valid page header.
fn infer_page_size(reader: &PageReader) -> Result<(PageSize, PageSizeSource)> {
    let sizes: Vec<PageSize> = (12..=16).filter_map(|shift| PageSize::new(1u64 << shift).ok()).collect();
    for &size in &sizes {
        let offset = u64::from(size.get());
        let bytes = reader.read_at(offset, SUPERBLOCK_LEN)?;
        if Superblock::decode(&bytes, Slot::B, offset).is_ok() {
            return Ok((size, PageSizeSource::Inferred));
        }
    }
    for &size in &sizes {
        let page = reader.read_at(PageId(2).offset(size), size.bytes())?;
        if PageHeader::open(&page, PageId(2), size).is_ok() {
            return Ok((size, PageSizeSource::Inferred));
        }
    }
    Ok((PageSize::DEFAULT, PageSizeSource::Default))
}
