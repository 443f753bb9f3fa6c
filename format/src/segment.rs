//! The 40-byte header at the start of every WAL and value-log segment file.
//!
//! | field        | offset | size | type  | meaning |
//! |--------------|--------|------|-------|---------|
//! | magic        | 0      | 4    | u32   | `JBWL` (WAL) or `JBVL` (value log) |
//! | version      | 4      | 2    | u16   | format version |
//! | flags        | 6      | 2    | u16   | reserved, zero |
//! | segment      | 8      | 8    | u64   | segment number, equal to the one in the file name |
//! | first_lsn    | 16     | 8    | u64   | WAL: LSN of the first record; value log: LSN current when the segment was started |
//! | directory_id | 24     | 8    | u64   | the manifest's directory id |
//! | reserved     | 32     | 4    | bytes | zero |
//! | crc32c       | 36     | 4    | u32   | CRC32C of bytes 0..36 |
//!
//! The header names its own segment number and directory, so a segment
//! file renamed, copied from another directory or recycled without a new
//! header is detected on open.

use serde::Serialize;

use crate::FORMAT_VERSION;
use crate::codec::{FieldReader, FieldWriter, all_zero, prefix};
use crate::error::{Error, Result, Structure};
use crate::hash::crc32c;
use crate::ids::{Lsn, SegmentId};
use crate::layout::{Field, Layout};

/// `JBWL`, little-endian.
pub const WAL_SEGMENT_MAGIC: u32 = u32::from_le_bytes(*b"JBWL");
/// `JBVL`, little-endian.
pub const VLOG_SEGMENT_MAGIC: u32 = u32::from_le_bytes(*b"JBVL");

const MAGIC_AT: usize = 0;
const VERSION_AT: usize = MAGIC_AT + 4;
const FLAGS_AT: usize = VERSION_AT + 2;
const SEGMENT_AT: usize = FLAGS_AT + 2;
const FIRST_LSN_AT: usize = SEGMENT_AT + 8;
const DIRECTORY_ID_AT: usize = FIRST_LSN_AT + 8;
const RESERVED_AT: usize = DIRECTORY_ID_AT + 8;
const RESERVED_LEN: usize = 4;
const CRC_AT: usize = RESERVED_AT + RESERVED_LEN;
/// Length of a segment header; the first record starts here.
pub const SEGMENT_HEADER_LEN: usize = CRC_AT + 4;
const _: () = assert!(SEGMENT_HEADER_LEN == 40);

/// The segment header's layout.
pub const LAYOUT: Layout = Layout {
    name: "segment_header",
    fields: &[
        Field { name: "magic", offset: MAGIC_AT, size: 4, ty: "u32" },
        Field { name: "version", offset: VERSION_AT, size: 2, ty: "u16" },
        Field { name: "flags", offset: FLAGS_AT, size: 2, ty: "u16" },
        Field { name: "segment", offset: SEGMENT_AT, size: 8, ty: "u64" },
        Field { name: "first_lsn", offset: FIRST_LSN_AT, size: 8, ty: "u64" },
        Field { name: "directory_id", offset: DIRECTORY_ID_AT, size: 8, ty: "u64" },
        Field { name: "reserved", offset: RESERVED_AT, size: RESERVED_LEN, ty: "bytes" },
        Field { name: "crc32c", offset: CRC_AT, size: 4, ty: "u32" },
    ],
    len: SEGMENT_HEADER_LEN,
};
const _: () = LAYOUT.check();

/// Which log a segment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// A write-ahead-log segment (`wal/NNNNNNNNNNNNNNNNNNNN.wal`).
    Wal,
    /// A value-log segment (`vlog/NNNNNNNNNNNNNNNNNNNN.vlog`).
    ValueLog,
}

impl SegmentKind {
    /// The magic number of this kind's segment header.
    #[must_use]
    pub const fn magic(self) -> u32 {
        match self {
            SegmentKind::Wal => WAL_SEGMENT_MAGIC,
            SegmentKind::ValueLog => VLOG_SEGMENT_MAGIC,
        }
    }

    const fn structure(self) -> Structure {
        match self {
            SegmentKind::Wal => Structure::WalSegmentHeader,
            SegmentKind::ValueLog => Structure::VlogSegmentHeader,
        }
    }

    /// The directory (relative to the data directory) holding the segments.
    #[must_use]
    pub const fn directory(self) -> &'static str {
        match self {
            SegmentKind::Wal => "wal",
            SegmentKind::ValueLog => "vlog",
        }
    }

    /// The file name extension, without the dot.
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            SegmentKind::Wal => "wal",
            SegmentKind::ValueLog => "vlog",
        }
    }

    /// The file name of a segment: its number in 20 decimal digits (so that
    /// names sort like numbers) and the extension.
    #[must_use]
    pub fn file_name(self, segment: SegmentId) -> String {
        format!("{:020}.{}", segment.get(), self.extension())
    }

    /// The segment number of a file name made by [`SegmentKind::file_name`],
    /// or `None` for any other name.
    #[must_use]
    pub fn parse_file_name(self, name: &str) -> Option<SegmentId> {
        let digits = name.strip_suffix(self.extension())?.strip_suffix('.')?;
        if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(SegmentId)
    }
}

/// A decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SegmentHeader {
    /// WAL or value log.
    pub kind: SegmentKind,
    /// The segment number.
    pub segment: SegmentId,
    /// WAL: LSN of the first record. Value log: LSN current at creation.
    pub first_lsn: Lsn,
    /// The manifest's directory id.
    pub directory_id: u64,
}

impl SegmentHeader {
    /// Encodes the header.
    #[must_use]
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_LEN];
        self.write_fields(&mut out, 0);
        let crc = crc32c(out.get(..CRC_AT).unwrap_or_default());
        self.write_fields(&mut out, crc);
        out
    }

    fn write_fields(&self, out: &mut [u8; SEGMENT_HEADER_LEN], crc: u32) {
        let mut w = FieldWriter::new(out);
        w.u32(MAGIC_AT, self.kind.magic());
        w.u16(VERSION_AT, FORMAT_VERSION);
        w.u16(FLAGS_AT, 0);
        w.u64(SEGMENT_AT, self.segment.get());
        w.u64(FIRST_LSN_AT, self.first_lsn.get());
        w.u64(DIRECTORY_ID_AT, self.directory_id);
        w.reserved(RESERVED_AT, RESERVED_LEN);
        w.u32(CRC_AT, crc);
        w.finish(SEGMENT_HEADER_LEN);
    }

    /// Decodes the header at the start of a segment file of `kind`.
    /// `bytes` may be the whole file; only the first 40 bytes are read.
    pub fn decode(bytes: &[u8], kind: SegmentKind) -> Result<SegmentHeader> {
        let structure = kind.structure();
        let invalid = |field, found, expected| Error::InvalidField { structure, offset: 0, field, found, expected };
        let Some(fixed) = prefix::<SEGMENT_HEADER_LEN>(bytes) else {
            return Err(Error::Truncated {
                structure,
                offset: 0,
                needed: SEGMENT_HEADER_LEN as u64,
                available: bytes.len() as u64,
            });
        };
        if all_zero(&fixed) {
            return Err(Error::Zeroed { structure, offset: 0, len: SEGMENT_HEADER_LEN as u64 });
        }
        let mut r = FieldReader::new(&fixed);
        let magic = r.u32(MAGIC_AT);
        let version = r.u16(VERSION_AT);
        let flags = r.u16(FLAGS_AT);
        let segment = SegmentId(r.u64(SEGMENT_AT));
        let first_lsn = Lsn(r.u64(FIRST_LSN_AT));
        let directory_id = r.u64(DIRECTORY_ID_AT);
        let reserved_zero = r.reserved(RESERVED_AT, RESERVED_LEN);
        let stored = r.u32(CRC_AT);
        r.finish(SEGMENT_HEADER_LEN);

        if magic != kind.magic() {
            return Err(Error::BadMagic { structure, offset: 0, expected: kind.magic(), found: magic });
        }
        let computed = crc32c(fixed.get(..CRC_AT).unwrap_or_default());
        if stored != computed {
            return Err(Error::ChecksumMismatch { structure, offset: 0, stored, computed });
        }
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion { structure, offset: 0, found: version, supported: FORMAT_VERSION });
        }
        if flags != 0 {
            return Err(invalid("flags", flags.into(), "0 (no flags are defined)"));
        }
        if !reserved_zero {
            return Err(invalid("reserved", 1, "all zero"));
        }
        Ok(SegmentHeader { kind, segment, first_lsn, directory_id })
    }
}
