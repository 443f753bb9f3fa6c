//! References from the B+Tree (and WAL records) to values in the value log.
//!
//! | field   | offset | size | type | meaning |
//! |---------|--------|------|------|---------|
//! | segment | 0      | 8    | u64  | value-log segment number |
//! | offset  | 8      | 8    | u64  | byte offset of the record in the segment |
//! | length  | 16     | 4    | u32  | total record length (header, key, value) |
//! | crc32c  | 20     | 4    | u32  | the record's stored CRC32C |
//!
//! The reference carries the record's CRC, so a record that was rewritten
//! (or a reference that points at the wrong record) is detected even when
//! the record itself is intact.

use serde::Serialize;

use crate::codec::{FieldReader, FieldWriter, prefix};
use crate::error::{Error, Result, Structure};
use crate::ids::SegmentId;
use crate::layout::{Field, Layout};

const SEGMENT_AT: usize = 0;
const OFFSET_AT: usize = SEGMENT_AT + 8;
const LENGTH_AT: usize = OFFSET_AT + 8;
const CRC_AT: usize = LENGTH_AT + 4;
/// Length of an encoded value reference.
pub const VALUE_REF_LEN: usize = CRC_AT + 4;
const _: () = assert!(VALUE_REF_LEN == 24);

/// The value reference's layout.
pub const LAYOUT: Layout = Layout {
    name: "value_ref",
    fields: &[
        Field { name: "segment", offset: SEGMENT_AT, size: 8, ty: "u64" },
        Field { name: "offset", offset: OFFSET_AT, size: 8, ty: "u64" },
        Field { name: "length", offset: LENGTH_AT, size: 4, ty: "u32" },
        Field { name: "crc32c", offset: CRC_AT, size: 4, ty: "u32" },
    ],
    len: VALUE_REF_LEN,
};
const _: () = LAYOUT.check();

/// Where a value-log record is, and its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ValueRef {
    /// The value-log segment.
    pub segment: SegmentId,
    /// Byte offset of the record within the segment file.
    pub offset: u64,
    /// Total length of the record in bytes.
    pub length: u32,
    /// The record's stored CRC32C.
    pub crc: u32,
}

impl ValueRef {
    /// Encodes the reference.
    #[must_use]
    pub fn encode(&self) -> [u8; VALUE_REF_LEN] {
        let mut out = [0u8; VALUE_REF_LEN];
        let mut w = FieldWriter::new(&mut out);
        w.u64(SEGMENT_AT, self.segment.get());
        w.u64(OFFSET_AT, self.offset);
        w.u32(LENGTH_AT, self.length);
        w.u32(CRC_AT, self.crc);
        w.finish(VALUE_REF_LEN);
        out
    }

    /// Decodes a reference from the first 24 bytes of `bytes` (found at
    /// `offset` in its file or page, for error messages).
    pub fn decode(bytes: &[u8], offset: u64) -> Result<ValueRef> {
        let Some(fixed) = prefix::<VALUE_REF_LEN>(bytes) else {
            return Err(Error::Truncated {
                structure: Structure::ValueRef,
                offset,
                needed: VALUE_REF_LEN as u64,
                available: bytes.len() as u64,
            });
        };
        let mut r = FieldReader::new(&fixed);
        let segment = SegmentId(r.u64(SEGMENT_AT));
        let record_offset = r.u64(OFFSET_AT);
        let length = r.u32(LENGTH_AT);
        let crc = r.u32(CRC_AT);
        r.finish(VALUE_REF_LEN);
        if (length as usize) < crate::vlog::VLOG_RECORD_HEADER_LEN {
            return Err(Error::InvalidField {
                structure: Structure::ValueRef,
                offset,
                field: "length",
                found: length.into(),
                expected: "at least the 24-byte record header",
            });
        }
        Ok(ValueRef { segment, offset: record_offset, length, crc })
    }
}
