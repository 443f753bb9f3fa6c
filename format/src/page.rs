//! Pages of the page file: a 32-byte header followed by a payload.
//!
//! | field       | offset | size | type | meaning |
//! |-------------|--------|------|------|---------|
//! | magic       | 0      | 4    | u32  | `JBPG` |
//! | version     | 4      | 2    | u16  | format version |
//! | page_type   | 6      | 1    | u8   | [`PageType`] tag |
//! | flags       | 7      | 1    | u8   | reserved, zero |
//! | page_id     | 8      | 8    | u64  | the page's own id |
//! | page_lsn    | 16     | 8    | u64  | LSN of the newest change in the page |
//! | payload_len | 24     | 4    | u32  | bytes of payload after the header |
//! | crc32c      | 28     | 4    | u32  | CRC32C of the whole page, this field zeroed |
//!
//! Invariants:
//! - The CRC covers the whole page (`page_size` bytes), header and unused
//!   space included, so any bit flip anywhere in the page is detected.
//! - A page records its own id: a valid page read from another page's
//!   offset is a misdirected write, reported as [`Error::MisdirectedPage`].

use serde::Serialize;

use crate::FORMAT_VERSION;
use crate::codec::{FieldReader, FieldWriter, all_zero, prefix};
use crate::error::{Error, Result, Structure};
use crate::hash::crc32c_parts;
use crate::ids::{Lsn, PageId};
use crate::layout::{Field, Layout};

/// `JBPG`, little-endian.
pub const PAGE_MAGIC: u32 = u32::from_le_bytes(*b"JBPG");

const MAGIC_AT: usize = 0;
const VERSION_AT: usize = MAGIC_AT + 4;
const PAGE_TYPE_AT: usize = VERSION_AT + 2;
const FLAGS_AT: usize = PAGE_TYPE_AT + 1;
const PAGE_ID_AT: usize = FLAGS_AT + 1;
const PAGE_LSN_AT: usize = PAGE_ID_AT + 8;
const PAYLOAD_LEN_AT: usize = PAGE_LSN_AT + 8;
const CRC_AT: usize = PAYLOAD_LEN_AT + 4;
/// Length of the page header.
pub const PAGE_HEADER_LEN: usize = CRC_AT + 4;
const _: () = assert!(PAGE_HEADER_LEN == 32);

/// The page header's layout.
pub const LAYOUT: Layout = Layout {
    name: "page_header",
    fields: &[
        Field { name: "magic", offset: MAGIC_AT, size: 4, ty: "u32" },
        Field { name: "version", offset: VERSION_AT, size: 2, ty: "u16" },
        Field { name: "page_type", offset: PAGE_TYPE_AT, size: 1, ty: "u8" },
        Field { name: "flags", offset: FLAGS_AT, size: 1, ty: "u8" },
        Field { name: "page_id", offset: PAGE_ID_AT, size: 8, ty: "u64" },
        Field { name: "page_lsn", offset: PAGE_LSN_AT, size: 8, ty: "u64" },
        Field { name: "payload_len", offset: PAYLOAD_LEN_AT, size: 4, ty: "u32" },
        Field { name: "crc32c", offset: CRC_AT, size: 4, ty: "u32" },
    ],
    len: PAGE_HEADER_LEN,
};
const _: () = LAYOUT.check();

/// Byte range of the CRC field, for tests and forensic tools.
pub const CRC_RANGE: std::ops::Range<usize> = CRC_AT..CRC_AT + 4;

/// Size of every page of a data directory, chosen at creation and recorded
/// in the manifest: a power of two from 4 KiB to 64 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PageSize(u32);

impl PageSize {
    /// The smallest page size.
    pub const MIN: PageSize = PageSize(4096);
    /// The largest page size.
    pub const MAX: PageSize = PageSize(65536);
    /// The page size of a new directory unless configured otherwise.
    pub const DEFAULT: PageSize = PageSize(4096);

    /// Validates a page size.
    pub fn new(bytes: u64) -> Result<PageSize> {
        match u32::try_from(bytes) {
            Ok(v) if v.is_power_of_two() && (Self::MIN.0..=Self::MAX.0).contains(&v) => Ok(PageSize(v)),
            _ => Err(Error::InvalidPageSize { found: bytes }),
        }
    }

    /// The size in bytes.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The size in bytes, as `usize`.
    #[must_use]
    pub const fn bytes(self) -> usize {
        self.0 as usize
    }

    /// Largest payload a page of this size can carry.
    #[must_use]
    pub const fn payload_max(self) -> usize {
        self.bytes() - PAGE_HEADER_LEN
    }
}

/// What a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageType {
    /// An interior B+Tree node: separator keys and child page ids.
    Branch = 1,
    /// A B+Tree leaf: keys with inline values or value-log references.
    Leaf = 2,
    /// A continuation of a value or node too large for one page.
    Overflow = 3,
    /// A node of the free list: ids of reusable pages.
    FreeList = 4,
}

impl PageType {
    /// Every page type, in tag order.
    pub const ALL: [PageType; 4] = [PageType::Branch, PageType::Leaf, PageType::Overflow, PageType::FreeList];

    /// The on-disk tag.
    #[must_use]
    pub const fn tag(self) -> u8 {
        self as u8
    }

    /// The page type of an on-disk tag.
    #[must_use]
    pub const fn from_tag(tag: u8) -> Option<PageType> {
        match tag {
            1 => Some(PageType::Branch),
            2 => Some(PageType::Leaf),
            3 => Some(PageType::Overflow),
            4 => Some(PageType::FreeList),
            _ => None,
        }
    }

    /// Lower-case name, as in dumps.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            PageType::Branch => "branch",
            PageType::Leaf => "leaf",
            PageType::Overflow => "overflow",
            PageType::FreeList => "free_list",
        }
    }
}

/// The decoded header of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageHeader {
    /// What the page holds.
    pub page_type: PageType,
    /// The page's own id (protects against misdirected writes).
    pub page_id: PageId,
    /// LSN of the newest change reflected in the page.
    pub page_lsn: Lsn,
    /// Bytes of payload after the header.
    pub payload_len: u32,
}

impl PageHeader {
    /// Writes this header into `page` and seals it with the CRC32C of the
    /// whole page. The payload must already be in `page[32..]`.
    ///
    /// Panics if `page` is not a valid page size or the payload length does
    /// not fit: both are bugs in the caller, never input.
    pub fn seal(&self, page: &mut [u8]) {
        let size = PageSize::new(page.len() as u64);
        assert!(size.is_ok(), "sealing a buffer of {} bytes", page.len());
        assert!(
            self.payload_len as usize <= page.len() - PAGE_HEADER_LEN,
            "payload of {} bytes does not fit a {}-byte page",
            self.payload_len,
            page.len()
        );
        self.write_fields(page, 0);
        let crc = page_crc(page);
        self.write_fields(page, crc);
    }

    fn write_fields(&self, page: &mut [u8], crc: u32) {
        let mut w = FieldWriter::new(page);
        w.u32(MAGIC_AT, PAGE_MAGIC);
        w.u16(VERSION_AT, FORMAT_VERSION);
        w.u8(PAGE_TYPE_AT, self.page_type.tag());
        w.u8(FLAGS_AT, 0);
        w.u64(PAGE_ID_AT, self.page_id.get());
        w.u64(PAGE_LSN_AT, self.page_lsn.get());
        w.u32(PAYLOAD_LEN_AT, self.payload_len);
        w.u32(CRC_AT, crc);
        w.finish(PAGE_HEADER_LEN);
    }

    /// Decodes and verifies the page read for page id `expected`.
    ///
    /// Checks, in order: length, all-zero (never written), magic, CRC32C,
    /// version, page type, flags, payload length, and finally that the page
    /// is the one expected (else [`Error::MisdirectedPage`]).
    pub fn open(page: &[u8], expected: PageId, page_size: PageSize) -> Result<PageHeader> {
        let offset = expected.offset(page_size);
        let err_field =
            |field, found, expected| Error::InvalidField { structure: Structure::Page, offset, field, found, expected };
        if page.len() != page_size.bytes() {
            return Err(Error::Truncated {
                structure: Structure::Page,
                offset,
                needed: page_size.get().into(),
                available: page.len() as u64,
            });
        }
        let Some(fixed) = prefix::<PAGE_HEADER_LEN>(page) else {
            unreachable!("a valid page size exceeds the header length");
        };
        if all_zero(page) {
            return Err(Error::Zeroed { structure: Structure::Page, offset, len: page.len() as u64 });
        }
        let mut r = FieldReader::new(&fixed);
        let magic = r.u32(MAGIC_AT);
        let version = r.u16(VERSION_AT);
        let type_tag = r.u8(PAGE_TYPE_AT);
        let flags = r.u8(FLAGS_AT);
        let page_id = PageId(r.u64(PAGE_ID_AT));
        let page_lsn = Lsn(r.u64(PAGE_LSN_AT));
        let payload_len = r.u32(PAYLOAD_LEN_AT);
        let stored = r.u32(CRC_AT);
        r.finish(PAGE_HEADER_LEN);

        if magic != PAGE_MAGIC {
            return Err(Error::BadMagic { structure: Structure::Page, offset, expected: PAGE_MAGIC, found: magic });
        }
        let computed = page_crc(page);
        if stored != computed {
            return Err(Error::ChecksumMismatch { structure: Structure::Page, offset, stored, computed });
        }
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                structure: Structure::Page,
                offset,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let Some(page_type) = PageType::from_tag(type_tag) else {
            return Err(err_field("page_type", type_tag.into(), "1 (branch), 2 (leaf), 3 (overflow) or 4 (free_list)"));
        };
        if flags != 0 {
            return Err(err_field("flags", flags.into(), "0 (no flags are defined)"));
        }
        if payload_len as usize > page_size.payload_max() {
            return Err(err_field("payload_len", payload_len.into(), "at most page size - 32"));
        }
        if page_id != expected {
            return Err(Error::MisdirectedPage { offset, expected, found: page_id });
        }
        Ok(PageHeader { page_type, page_id, page_lsn, payload_len })
    }

    /// The payload of a page whose header [`PageHeader::open`] accepted.
    #[must_use]
    pub fn payload<'a>(&self, page: &'a [u8]) -> &'a [u8] {
        page.get(PAGE_HEADER_LEN..PAGE_HEADER_LEN + self.payload_len as usize).unwrap_or_default()
    }
}

/// CRC32C of a whole page with its CRC field taken as zero.
///
/// Invariant: `page` is at least [`PAGE_HEADER_LEN`] long (every caller
/// checks the page size first).
#[must_use]
pub fn page_crc(page: &[u8]) -> u32 {
    let head = page.get(..CRC_AT).unwrap_or_default();
    let tail = page.get(CRC_AT + 4..).unwrap_or_default();
    crc32c_parts(&[head, &[0u8; 4], tail])
}

/// The CRC32C stored in a page's header, if the page is long enough.
#[must_use]
pub fn stored_crc(page: &[u8]) -> Option<u32> {
    crate::codec::u32_at(page, CRC_AT)
}
