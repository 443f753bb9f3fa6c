//! Typed views of single structures for the dump commands and `stat`:
//! raw header fields (read through the format's published layouts, so they
//! show even when a structure fails its checks), decoded contents, and a
//! whole-directory space report.
//!
//! Views carry raw bytes (keys, values); redaction is the printer's job.

use std::collections::BTreeMap;
use std::path::Path;

use jubilant_format::layout::Layout;
use jubilant_format::{Lsn, PAGE_FILE, PageHeader, PageId, PageType, Slot, Superblock, ValueRef};
use serde::Serialize;

use super::dir::DirState;
use super::files::PageReader;
use super::{Progress, ValidateOptions, Validation, validate};
use crate::btree::node::{BranchNode, FreeListPage, LeafNode, ValueView};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// One field of a fixed structure, read raw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawField {
    /// Field name, as in docs/TECH_SPECIFICATION.md.
    pub name: &'static str,
    /// Offset in the structure.
    pub offset: usize,
    /// The value: a number for integer fields, hex for byte fields.
    pub value: String,
}

/// Every field of `layout` read from `bytes` (missing bytes read as
/// absent: the field is left out).
#[must_use]
pub fn raw_fields(layout: &Layout, bytes: &[u8]) -> Vec<RawField> {
    layout
        .fields
        .iter()
        .filter_map(|f| {
            let b = bytes.get(f.offset..f.offset + f.size)?;
            let mut le = [0u8; 8];
            if f.size <= 8
                && let Some(dst) = le.get_mut(..f.size)
            {
                dst.copy_from_slice(b);
            }
            let value = match f.ty {
                "u8" | "u16" | "u32" | "u64" if f.name == "magic" || f.name.starts_with("crc") => {
                    format!("{:#010x}", u64::from_le_bytes(le))
                }
                "u8" | "u16" | "u32" | "u64" => u64::from_le_bytes(le).to_string(),
                _ => b.iter().map(|x| format!("{x:02x}")).collect(),
            };
            Some(RawField { name: f.name, offset: f.offset, value })
        })
        .collect()
}

/// The MANIFEST file, as dumped.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestView {
    /// File length.
    pub len: u64,
    /// The envelope's fields, raw.
    pub envelope: Vec<RawField>,
    /// The decoded body, if the structure is valid.
    pub manifest: Option<jubilant_format::Manifest>,
    /// Why the structure is invalid.
    pub error: Option<String>,
    /// Why this build cannot open it (when the structure is valid).
    pub incompatible: Option<String>,
    /// FNV-1a 64 of the file, which superblocks record.
    pub manifest_hash: String,
}

/// Reads the manifest for `dump-manifest`.
pub fn manifest_view(storage: &dyn Storage, dir: &Path) -> Result<ManifestView> {
    let state = DirState::load(storage, dir)?;
    let Some(bytes) = &state.manifest_bytes else {
        return Err(Error::NotADatabase { path: dir.to_path_buf(), reason: "no MANIFEST".into() });
    };
    let (manifest, error) = match &state.manifest {
        Some(Ok(m)) => (Some(m.clone()), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    Ok(ManifestView {
        len: bytes.len() as u64,
        envelope: raw_fields(&jubilant_format::manifest::ENVELOPE_LAYOUT, bytes),
        incompatible: manifest.as_ref().and_then(|m| m.check_compatible().err()).map(|e| e.to_string()),
        manifest,
        error,
        manifest_hash: format!("{:#018x}", jubilant_format::manifest::manifest_hash(bytes)),
    })
}

/// One superblock slot, as dumped.
#[derive(Debug, Clone, Serialize)]
pub struct SlotView {
    /// `A` or `B`.
    pub slot: char,
    /// File offset.
    pub offset: u64,
    /// `current`, `older`, `zeroed` (never written) or `invalid`.
    pub state: &'static str,
    /// Why it was rejected.
    pub error: Option<String>,
    /// The decoded superblock.
    pub superblock: Option<Superblock>,
    /// Every field, raw (shown even when the slot is invalid).
    pub fields: Vec<RawField>,
}

/// Both slots, for `dump-superblocks`.
#[derive(Debug, Clone, Serialize)]
pub struct SuperblocksView {
    /// The page size used to find slot B.
    pub page_size: u32,
    /// The slot holding the current superblock, if any.
    pub current: Option<char>,
    /// Slots A and B.
    pub slots: Vec<SlotView>,
}

/// Reads both slots for `dump-superblocks`.
pub fn superblocks_view(storage: &dyn Storage, dir: &Path) -> Result<SuperblocksView> {
    let state = DirState::load(storage, dir)?;
    if state.pages.is_none() {
        return Err(Error::NotADatabase { path: dir.to_path_buf(), reason: format!("no {PAGE_FILE}") });
    }
    let current = state.current().map(|(slot, _)| slot);
    let slots = state
        .slots
        .iter()
        .map(|s| {
            let (state_name, error, superblock) = match &s.decoded {
                Ok(sb) if Some(s.slot) == current => ("current", None, Some(*sb)),
                Ok(sb) => ("older", None, Some(*sb)),
                Err(_) if s.is_zeroed() => ("zeroed", None, None),
                Err(e) => ("invalid", Some(e.to_string()), None),
            };
            SlotView {
                slot: s.slot.letter(),
                offset: s.offset,
                state: state_name,
                error,
                superblock,
                fields: raw_fields(&jubilant_format::superblock::LAYOUT, &s.bytes),
            }
        })
        .collect();
    Ok(SuperblocksView { page_size: state.page_size.get(), current: current.map(Slot::letter), slots })
}

/// A leaf entry, as dumped.
#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    /// The key.
    #[serde(skip)]
    pub key: Vec<u8>,
    /// The inline value.
    #[serde(skip)]
    pub value: Option<Vec<u8>>,
    /// The value-log reference.
    pub value_ref: Option<ValueRef>,
    /// The commit LSN that wrote it.
    pub version: Lsn,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_unix_ms: Option<u64>,
}

/// A page's decoded payload.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PageContent {
    /// A superblock page (0 or 1).
    Superblock,
    /// A leaf.
    Leaf {
        /// Its entries.
        entries: Vec<EntryView>,
    },
    /// A branch.
    Branch {
        /// Child page ids.
        children: Vec<u64>,
        /// Separator keys (the lowest key of child i + 1).
        #[serde(skip)]
        separators: Vec<Vec<u8>>,
    },
    /// A free-list page.
    FreeList {
        /// The next free-list page (0 = none).
        next: u64,
        /// Free page ids.
        pages: Vec<u64>,
    },
    /// An overflow page (not written by this version).
    Overflow,
    /// The header is invalid or the payload does not decode.
    Undecodable {
        /// Why.
        reason: String,
    },
}

/// One page, as dumped.
#[derive(Debug, Clone, Serialize)]
pub struct PageView {
    /// Page id.
    pub page: u64,
    /// File offset.
    pub offset: u64,
    /// The page size.
    pub page_size: u32,
    /// The header's fields, raw.
    pub header_fields: Vec<RawField>,
    /// The verified header.
    pub header: Option<PageHeader>,
    /// The payload, decoded.
    pub content: PageContent,
    /// The whole page.
    #[serde(skip)]
    pub raw: Vec<u8>,
}

/// Reads and decodes one page for `dump-page`; `None` when the page lies
/// past the end of the file.
pub fn page_view(storage: &dyn Storage, dir: &Path, page: PageId) -> Result<Option<PageView>> {
    let state = DirState::load(storage, dir)?;
    let Some(pages) = &state.pages else {
        return Err(Error::NotADatabase { path: dir.to_path_buf(), reason: format!("no {PAGE_FILE}") });
    };
    let raw = pages.read(page)?;
    if raw.is_empty() {
        return Ok(None);
    }
    Ok(Some(decode_page(pages, page, raw)))
}

fn decode_page(pages: &PageReader, page: PageId, raw: Vec<u8>) -> PageView {
    let page_size = pages.page_size();
    let header_fields = raw_fields(&jubilant_format::page::LAYOUT, &raw);
    let (header, content) = if page.get() < 2 {
        (None, PageContent::Superblock)
    } else {
        match PageHeader::open(&raw, page, page_size) {
            Err(e) => (None, PageContent::Undecodable { reason: e.to_string() }),
            Ok(h) => (Some(h), decode_payload(h.page_type, h.payload(&raw))),
        }
    };
    PageView {
        page: page.get(),
        offset: page.offset(page_size),
        page_size: page_size.get(),
        header_fields,
        header,
        content,
        raw,
    }
}

/// Decodes a payload of `page_type`.
#[must_use]
pub fn decode_payload(page_type: PageType, payload: &[u8]) -> PageContent {
    let undecodable = |reason: String| PageContent::Undecodable { reason };
    match page_type {
        PageType::Leaf => match LeafNode::decode(payload) {
            Ok(leaf) => PageContent::Leaf {
                entries: (0..leaf.len())
                    .filter_map(|i| leaf.entry(i))
                    .map(|e| EntryView {
                        key: e.key.to_vec(),
                        value: match e.value {
                            ValueView::Inline(v) => Some(v.to_vec()),
                            ValueView::Ref(_) => None,
                        },
                        value_ref: match e.value {
                            ValueView::Ref(r) => Some(r),
                            ValueView::Inline(_) => None,
                        },
                        version: e.version,
                        expires_at_unix_ms: e.expires_at_unix_ms,
                    })
                    .collect(),
            },
            Err(r) => undecodable(r),
        },
        PageType::Branch => match BranchNode::decode(payload) {
            Ok(b) => PageContent::Branch {
                children: b.children().iter().map(|c| c.get()).collect(),
                separators: (0..b.len().saturating_sub(1)).map(|i| b.separator(i).to_vec()).collect(),
            },
            Err(r) => undecodable(r),
        },
        PageType::FreeList => match FreeListPage::decode(payload) {
            Ok(f) => PageContent::FreeList {
                next: f.next.map_or(0, |p| p.get()),
                pages: f.pages.iter().map(|p| p.get()).collect(),
            },
            Err(r) => undecodable(r),
        },
        PageType::Overflow => PageContent::Overflow,
    }
}

/// Space used by one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSpace {
    /// Path relative to the data directory.
    pub file: String,
    /// Bytes.
    pub bytes: u64,
}

/// One value-log segment's space.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VlogSegmentStat {
    /// Segment number.
    pub segment: u64,
    /// File bytes.
    pub bytes: u64,
    /// Valid records.
    pub records: u64,
    /// Bytes referenced from the tree.
    pub live_bytes: u64,
    /// `live_bytes / bytes` (0 for an empty file).
    pub live_ratio: f64,
}

/// The space report of `jubectl stat`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stat {
    /// The data directory.
    pub dir: String,
    /// Page size.
    pub page_size: u32,
    /// Space per file.
    pub files: Vec<FileSpace>,
    /// Bytes of all files.
    pub total_bytes: u64,
    /// Pages in `pages.jdb` by what their header says: `superblock`,
    /// `branch`, `leaf`, `overflow`, `free_list`, `zeroed`, `invalid`.
    pub pages_by_type: BTreeMap<String, u64>,
    /// Pages in the file.
    pub file_pages: u64,
    /// Pages the current superblock counts.
    pub page_count: u64,
    /// Tree levels.
    pub tree_depth: u64,
    /// Keys in the tree.
    pub keys: u64,
    /// Tree pages.
    pub tree_pages: u64,
    /// Payload bytes of tree pages over their capacity.
    pub tree_fill: f64,
    /// Free pages.
    pub free_pages: u64,
    /// WAL segment files and bytes.
    pub wal_segments: u64,
    /// WAL bytes.
    pub wal_bytes: u64,
    /// WAL records.
    pub wal_records: u64,
    /// Value-log segments.
    pub vlog_segments: Vec<VlogSegmentStat>,
    /// Errors and warnings found on the way (run `validate` for details).
    pub problems: u64,
}

/// The space report of `dir`, built on a validation run.
pub fn stat(storage: &dyn Storage, dir: &Path, progress: &mut dyn FnMut(Progress)) -> Result<Stat> {
    let v = validate(storage, dir, ValidateOptions::default(), progress)?;
    stat_of(storage, dir, &v)
}

fn stat_of(storage: &dyn Storage, dir: &Path, v: &Validation) -> Result<Stat> {
    let page_size = v.state.page_size;
    let mut files = Vec::new();
    for name in [jubilant_format::MANIFEST_FILE, PAGE_FILE] {
        let path = dir.join(name);
        if storage.exists(&path).map_err(|e| Error::io("stat", &path, e))? {
            let f = storage.open_read_only(&path).map_err(|e| Error::io("open", &path, e))?;
            files.push(FileSpace { file: name.into(), bytes: f.len().map_err(|e| Error::io("stat", &path, e))? });
        }
    }
    for s in &v.wal.segments {
        files.push(FileSpace { file: s.name.clone(), bytes: s.len });
    }
    for s in &v.vlog.segments {
        files.push(FileSpace { file: s.name.clone(), bytes: s.len });
    }
    let mut pages_by_type: BTreeMap<String, u64> = BTreeMap::new();
    let file_pages = v.state.pages.as_ref().map_or(0, PageReader::whole_pages);
    if let Some(pages) = &v.state.pages {
        for id in 0..file_pages {
            let name = if id < 2 {
                "superblock"
            } else {
                let raw = pages.read(PageId(id))?;
                if raw.iter().all(|&b| b == 0) {
                    "zeroed"
                } else {
                    match PageHeader::open(&raw, PageId(id), page_size) {
                        Ok(h) => h.page_type.name(),
                        Err(_) => "invalid",
                    }
                }
            };
            *pages_by_type.entry(name.to_owned()).or_default() += 1;
        }
    }
    let tree = v.tree.as_ref();
    let tree_pages = tree.map_or(0, |t| t.leaves + t.branches);
    let capacity = tree_pages * page_size.payload_max() as u64;
    Ok(Stat {
        dir: dir.display().to_string(),
        page_size: page_size.get(),
        total_bytes: files.iter().map(|f| f.bytes).sum(),
        files,
        pages_by_type,
        file_pages,
        page_count: v.state.current().map_or(0, |(_, sb)| sb.page_count),
        tree_depth: tree.map_or(0, |t| t.depth as u64),
        keys: tree.map_or(0, |t| t.keys),
        tree_pages,
        tree_fill: if capacity == 0 { 0.0 } else { ratio(tree.map_or(0, |t| t.payload_bytes), capacity) },
        free_pages: tree.map_or(0, |t| t.free_pages.len() as u64),
        wal_segments: v.wal.segments.len() as u64,
        wal_bytes: v.wal.bytes,
        wal_records: v.wal.records,
        vlog_segments: v
            .vlog
            .segments
            .iter()
            .map(|s| VlogSegmentStat {
                segment: s.id.get(),
                bytes: s.len,
                records: s.records,
                live_bytes: s.live_bytes,
                live_ratio: if s.len == 0 { 0.0 } else { ratio(s.live_bytes, s.len) },
            })
            .collect(),
        problems: v.report.counts.errors + v.report.counts.warnings,
    })
}

/// `part / whole`, rounded to 4 decimals so reports are stable.
fn ratio(part: u64, whole: u64) -> f64 {
    let r = part as f64 / whole as f64;
    (r * 10_000.0).round() / 10_000.0
}
