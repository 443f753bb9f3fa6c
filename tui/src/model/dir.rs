//! A data directory opened for inspection: what files it has, the
//! manifest, both superblock slots, and reads of pages and segments.
//!
//! **Invariant:** read-only. Files are opened with
//! [`Storage::open_read_only`]; no lock is taken, so a server using the
//! directory is never blocked (what is read while it writes is a snapshot
//! of that moment, refreshed on demand).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jubilant_engine::storage::{Storage, StorageFile};
use jubilant_format::manifest::{MANIFEST_BODY_MAX, MANIFEST_HEADER_LEN, manifest_hash};
use jubilant_format::superblock::SUPERBLOCK_LEN;
use jubilant_format::{
    Error, MANIFEST_FILE, Manifest, PAGE_FILE, PageId, PageSize, SegmentId, SegmentKind, Slot, Superblock,
};

/// Largest file read whole (a WAL or value-log segment): 1 GiB.
pub const WHOLE_FILE_MAX: u64 = 1 << 30;

/// One entry of the directory's top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Its name.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes: of the file, or of the segments a directory holds.
    pub len: u64,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

/// The MANIFEST file as found.
#[derive(Debug, Clone)]
pub struct ManifestInfo {
    /// Its length, when the file exists.
    pub len: Option<u64>,
    /// The decoded structure (without compatibility checks), or why not.
    pub decoded: Option<Result<Manifest, Error>>,
    /// Why this build could not open the directory, if the manifest
    /// decodes but is incompatible (schema hash, version, checksum).
    pub incompatible: Option<Error>,
    /// FNV-1a 64 of its bytes: what superblocks must record.
    pub hash: Option<u64>,
    /// An I/O error reading it.
    pub read_error: Option<String>,
}

/// One superblock slot as read.
#[derive(Debug, Clone)]
pub struct SlotInfo {
    /// A or B.
    pub slot: Slot,
    /// The slot's 128 bytes (zeros past the end of a short file).
    pub bytes: Vec<u8>,
    /// The decoded superblock (checked against the manifest hash when it is
    /// known), or why the slot is rejected.
    pub decoded: Result<Superblock, Error>,
}

impl SlotInfo {
    /// Whether the slot was never written (all zero).
    #[must_use]
    pub fn is_zeroed(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }
}

/// What a slot is, relative to the other one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotRole {
    /// The current superblock, and why it was chosen.
    Current(String),
    /// Valid but older: what a repair falls back to.
    Older(String),
    /// Rejected, with the decoder's reason.
    Rejected(String),
}

/// A WAL or value-log segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// Its number, from the file name.
    pub id: SegmentId,
    /// File name (`00000000000000000001.wal`).
    pub name: String,
    /// Size in bytes.
    pub len: u64,
}

/// A data directory opened for reading.
#[derive(Debug)]
pub struct DataDir {
    /// The directory, as given.
    pub path: PathBuf,
    storage: Arc<dyn Storage>,
    /// The top-level entries, sorted by name.
    pub files: Vec<FileEntry>,
    /// The manifest.
    pub manifest: ManifestInfo,
    /// The page size used to read pages: the manifest's, else the default.
    pub page_size: PageSize,
    /// Whether the page size came from the manifest.
    pub page_size_from_manifest: bool,
    page_file: Option<Arc<dyn StorageFile>>,
    /// Length of `pages.jdb`, when it opened.
    pub page_file_len: Option<u64>,
    /// Why `pages.jdb` could not be opened.
    pub page_file_error: Option<String>,
    /// Slots A and B.
    pub slots: Vec<SlotInfo>,
    /// WAL segments, in number order.
    pub wal_segments: Vec<SegmentFile>,
    /// Value-log segments, in number order.
    pub vlog_segments: Vec<SegmentFile>,
    /// Other names found in `wal/` and `vlog/` (the engine ignores them).
    pub stray: Vec<String>,
}

impl DataDir {
    /// Opens `path` for reading through `storage`. Fails only when the
    /// directory cannot be listed; everything wrong inside it is part of
    /// the result.
    pub fn open(storage: Arc<dyn Storage>, path: &Path) -> std::io::Result<DataDir> {
        let names = storage.list_dir(path)?;
        let mut files = Vec::new();
        for name in &names {
            files.push(entry(&*storage, path, name));
        }
        let manifest = read_manifest(&*storage, path);
        let (page_size, page_size_from_manifest) = match &manifest.decoded {
            Some(Ok(m)) => (m.page_size, true),
            _ => (PageSize::DEFAULT, false),
        };
        let page_path = path.join(PAGE_FILE);
        let (page_file, page_file_len, page_file_error) = match storage.open_read_only(&page_path) {
            Ok(file) => match file.len() {
                Ok(len) => (Some(file), Some(len), None),
                Err(e) => (Some(file), None, Some(format!("stat {PAGE_FILE}: {e}"))),
            },
            Err(e) => (None, None, Some(format!("open {PAGE_FILE}: {e}"))),
        };
        let mut dir = DataDir {
            path: path.to_path_buf(),
            storage: Arc::clone(&storage),
            files,
            manifest,
            page_size,
            page_size_from_manifest,
            page_file,
            page_file_len,
            page_file_error,
            slots: Vec::new(),
            wal_segments: Vec::new(),
            vlog_segments: Vec::new(),
            stray: Vec::new(),
        };
        dir.slots = [Slot::A, Slot::B].into_iter().map(|slot| dir.read_slot(slot)).collect();
        for kind in [SegmentKind::Wal, SegmentKind::ValueLog] {
            let (segments, stray) = list_segments(&*storage, path, kind);
            dir.stray.extend(stray);
            match kind {
                SegmentKind::Wal => dir.wal_segments = segments,
                SegmentKind::ValueLog => dir.vlog_segments = segments,
            }
        }
        Ok(dir)
    }

    /// The storage the directory is read through.
    #[must_use]
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    fn read_slot(&self, slot: Slot) -> SlotInfo {
        let offset = slot.page().offset(self.page_size);
        let mut bytes = vec![0u8; SUPERBLOCK_LEN];
        let read = match &self.page_file {
            Some(file) => file.read_at(&mut bytes, offset).map_err(|e| e.to_string()),
            None => Err(self.page_file_error.clone().unwrap_or_default()),
        };
        let decoded = match read {
            Ok(n) => {
                bytes.truncate(n);
                let decoded = Superblock::decode(&bytes, slot, offset);
                bytes.resize(SUPERBLOCK_LEN, 0);
                match (decoded, self.manifest.hash) {
                    (Ok(sb), Some(expected)) if sb.manifest_hash != expected => {
                        Err(Error::ForeignSuperblock { offset, expected, found: sb.manifest_hash })
                    }
                    (other, _) => other,
                }
            }
            Err(_) => Err(Error::Truncated {
                structure: jubilant_format::Structure::Superblock,
                offset,
                needed: SUPERBLOCK_LEN as u64,
                available: 0,
            }),
        };
        SlotInfo { slot, bytes, decoded }
    }

    /// The slot info of `slot`.
    #[must_use]
    pub fn slot(&self, slot: Slot) -> Option<&SlotInfo> {
        self.slots.iter().find(|s| s.slot == slot)
    }

    /// The valid superblock of `slot`, if it is valid.
    #[must_use]
    pub fn superblock(&self, slot: Slot) -> Option<Superblock> {
        self.slot(slot).and_then(|s| s.decoded.as_ref().ok().copied())
    }

    /// The current slot: the valid one with the highest generation.
    #[must_use]
    pub fn current_slot(&self) -> Option<Slot> {
        let a = self.superblock(Slot::A);
        let b = self.superblock(Slot::B);
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.generation > b.generation { Slot::A } else { Slot::B }),
            (Some(_), None) => Some(Slot::A),
            (None, Some(_)) => Some(Slot::B),
            (None, None) => None,
        }
    }

    /// What `slot` is and why, as `select_superblock` would decide.
    #[must_use]
    pub fn slot_role(&self, slot: Slot) -> SlotRole {
        let Some(info) = self.slot(slot) else {
            return SlotRole::Rejected("not read".into());
        };
        let sb = match &info.decoded {
            Ok(sb) => sb,
            Err(e) if info.is_zeroed() => return SlotRole::Rejected(format!("never written: {e}")),
            Err(e) => return SlotRole::Rejected(e.to_string()),
        };
        let other = self.superblock(slot.other());
        match (self.current_slot() == Some(slot), other) {
            (true, Some(o)) => SlotRole::Current(format!(
                "current: generation {} is newer than slot {}'s {}",
                sb.generation,
                slot.other().letter(),
                o.generation
            )),
            (true, None) => {
                SlotRole::Current(format!("current: the only valid slot (slot {} is rejected)", slot.other().letter()))
            }
            (false, Some(o)) => SlotRole::Older(format!(
                "older: generation {} < {}; a repair would fall back to it",
                sb.generation, o.generation
            )),
            (false, None) => SlotRole::Older("valid".into()),
        }
    }

    /// Whole pages in `pages.jdb` (0 without the file).
    #[must_use]
    pub fn file_pages(&self) -> u64 {
        self.page_file_len.unwrap_or(0) / u64::from(self.page_size.get())
    }

    /// Pages to show: every page of the file, and any further page a valid
    /// superblock says exists (those read as truncated).
    #[must_use]
    pub fn shown_pages(&self) -> u64 {
        let partial = u64::from(!self.page_file_len.unwrap_or(0).is_multiple_of(u64::from(self.page_size.get())));
        let named = [Slot::A, Slot::B].into_iter().filter_map(|s| self.superblock(s)).map(|sb| sb.page_count).max();
        (self.file_pages() + partial).max(named.unwrap_or(0))
    }

    /// The bytes of page `page`: `page_size` bytes, fewer at the end of the
    /// file (decoders then report `Truncated`).
    pub fn read_page(&self, page: PageId) -> Result<Vec<u8>, String> {
        let Some(file) = &self.page_file else {
            return Err(self.page_file_error.clone().unwrap_or_else(|| format!("{PAGE_FILE} is missing")));
        };
        let mut buf = vec![0u8; self.page_size.bytes()];
        let n = file.read_at(&mut buf, page.offset(self.page_size)).map_err(|e| format!("read page {page}: {e}"))?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Reads `len` bytes at `offset` of `pages.jdb` (for sequential scans
    /// of many pages at once); fewer at the end of the file.
    pub fn read_pages_raw(&self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        let Some(file) = &self.page_file else {
            return Err(self.page_file_error.clone().unwrap_or_default());
        };
        let mut buf = vec![0u8; len];
        let n = file.read_at(&mut buf, offset).map_err(|e| format!("read {PAGE_FILE} at {offset}: {e}"))?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The path of a segment file.
    #[must_use]
    pub fn segment_path(&self, kind: SegmentKind, name: &str) -> PathBuf {
        self.path.join(kind.directory()).join(name)
    }

    /// Reads a whole segment file (at most [`WHOLE_FILE_MAX`] bytes).
    pub fn read_segment(&self, kind: SegmentKind, name: &str) -> Result<Vec<u8>, String> {
        let path = self.segment_path(kind, name);
        let shown = format!("{}/{name}", kind.directory());
        let file = self.storage.open_read_only(&path).map_err(|e| format!("open {shown}: {e}"))?;
        let len = file.len().map_err(|e| format!("stat {shown}: {e}"))?;
        if len > WHOLE_FILE_MAX {
            return Err(format!("{shown} is {len} bytes, more than the {WHOLE_FILE_MAX} bytes read whole"));
        }
        let mut buf = vec![0u8; len as usize];
        let n = file.read_at(&mut buf, 0).map_err(|e| format!("read {shown}: {e}"))?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Reads `len` bytes at `offset` of a segment file; fewer at its end.
    pub fn read_segment_at(
        &self,
        kind: SegmentKind,
        segment: SegmentId,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, String> {
        let name = kind.file_name(segment);
        let path = self.segment_path(kind, &name);
        let shown = format!("{}/{name}", kind.directory());
        let file = self.storage.open_read_only(&path).map_err(|e| format!("open {shown}: {e}"))?;
        let mut buf = vec![0u8; len];
        let n = file.read_at(&mut buf, offset).map_err(|e| format!("read {shown}: {e}"))?;
        buf.truncate(n);
        Ok(buf)
    }
}

fn entry(storage: &dyn Storage, dir: &Path, name: &str) -> FileEntry {
    let path = dir.join(name);
    if let Ok(children) = storage.list_dir(&path) {
        let mut len = 0u64;
        for child in children {
            if let Ok(file) = storage.open_read_only(&path.join(&child)) {
                len = len.saturating_add(file.len().unwrap_or(0));
            }
        }
        return FileEntry { name: name.to_owned(), is_dir: true, len, error: None };
    }
    match storage.open_read_only(&path).and_then(|f| f.len()) {
        Ok(len) => FileEntry { name: name.to_owned(), is_dir: false, len, error: None },
        Err(e) => FileEntry { name: name.to_owned(), is_dir: false, len: 0, error: Some(e.to_string()) },
    }
}

fn read_manifest(storage: &dyn Storage, dir: &Path) -> ManifestInfo {
    let mut info = ManifestInfo { len: None, decoded: None, incompatible: None, hash: None, read_error: None };
    let path = dir.join(MANIFEST_FILE);
    let file = match storage.open_read_only(&path) {
        Ok(file) => file,
        Err(e) => {
            info.read_error = Some(format!("open {MANIFEST_FILE}: {e}"));
            return info;
        }
    };
    let len = match file.len() {
        Ok(len) => len,
        Err(e) => {
            info.read_error = Some(format!("stat {MANIFEST_FILE}: {e}"));
            return info;
        }
    };
    info.len = Some(len);
    // A longer file cannot be a manifest; read enough to show why.
    let cap = (MANIFEST_HEADER_LEN + MANIFEST_BODY_MAX + 1) as u64;
    let mut bytes = vec![0u8; len.min(cap) as usize];
    match file.read_at(&mut bytes, 0) {
        Ok(n) => bytes.truncate(n),
        Err(e) => {
            info.read_error = Some(format!("read {MANIFEST_FILE}: {e}"));
            return info;
        }
    }
    info.hash = Some(manifest_hash(&bytes));
    let decoded = Manifest::decode_structure(&bytes);
    if let Ok(m) = &decoded {
        info.incompatible = m.check_compatible().err();
    }
    info.decoded = Some(decoded);
    info
}

fn list_segments(storage: &dyn Storage, dir: &Path, kind: SegmentKind) -> (Vec<SegmentFile>, Vec<String>) {
    let sub = dir.join(kind.directory());
    let Ok(names) = storage.list_dir(&sub) else {
        return (Vec::new(), Vec::new());
    };
    let mut segments = Vec::new();
    let mut stray = Vec::new();
    for name in names {
        match kind.parse_file_name(&name) {
            Some(id) => {
                let len = storage.open_read_only(&sub.join(&name)).and_then(|f| f.len()).unwrap_or(0);
                segments.push(SegmentFile { id, name, len });
            }
            // The WAL's next segment, being prepared: the engine's own.
            None if kind == SegmentKind::Wal && name == jubilant_engine::wal::NEXT_SEGMENT_FILE => {}
            None => stray.push(format!("{}/{name}", kind.directory())),
        }
    }
    segments.sort_by_key(|s| s.id);
    (segments, stray)
}
