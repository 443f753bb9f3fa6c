//! Value-log records: large values, written once, referenced from the tree.
//!
//! A value-log segment file is a 40-byte [`crate::segment::SegmentHeader`]
//! followed by records back to back:
//!
//! | field   | offset       | size      | type  | meaning |
//! |---------|--------------|-----------|-------|---------|
//! | len     | 0            | 4         | u32   | bytes after the first 8: 16 + key length + value length |
//! | crc32c  | 4            | 4         | u32   | CRC32C of bytes 0..4 and 8..8+len |
//! | lsn     | 8            | 8         | u64   | LSN of the transaction that wrote the value |
//! | key_len | 16           | 4         | u32   | key length |
//! | flags   | 20           | 4         | u32   | reserved, zero |
//! | key     | 24           | key_len   | bytes | the key (lets GC and salvage find the owner) |
//! | value   | 24 + key_len | the rest  | bytes | the value |
//!
//! The record carries its key and LSN so that garbage collection can ask
//! the tree whether the record is still live, and salvage can keep the
//! newest version of each key without the tree.

use serde::Serialize;

use crate::codec::{FieldReader, FieldWriter, all_zero, prefix};
use crate::error::{Error, Result, Structure};
use crate::hash::crc32c_parts;
use crate::ids::{Lsn, SegmentId};
use crate::layout::{Field, Layout};
use crate::scan::{Damage, EndReason, LogEnd, rest_is_zero, resync};
use crate::value_ref::ValueRef;

const LEN_AT: usize = 0;
const CRC_AT: usize = LEN_AT + 4;
const LSN_AT: usize = CRC_AT + 4;
const KEY_LEN_AT: usize = LSN_AT + 8;
const FLAGS_AT: usize = KEY_LEN_AT + 4;
/// Length of a value-log record header; the key starts here.
pub const VLOG_RECORD_HEADER_LEN: usize = FLAGS_AT + 4;
const _: () = assert!(VLOG_RECORD_HEADER_LEN == 24);
/// Bytes of the header not counted in `len`.
const PREFIX_LEN: usize = CRC_AT + 4;

/// The record header's layout (key and value follow it).
pub const LAYOUT: Layout = Layout {
    name: "vlog_record",
    fields: &[
        Field { name: "len", offset: LEN_AT, size: 4, ty: "u32" },
        Field { name: "crc32c", offset: CRC_AT, size: 4, ty: "u32" },
        Field { name: "lsn", offset: LSN_AT, size: 8, ty: "u64" },
        Field { name: "key_len", offset: KEY_LEN_AT, size: 4, ty: "u32" },
        Field { name: "flags", offset: FLAGS_AT, size: 4, ty: "u32" },
    ],
    len: VLOG_RECORD_HEADER_LEN,
};
const _: () = LAYOUT.check();

/// Largest record (header, key and value): 1 GiB.
pub const VLOG_RECORD_MAX: usize = 1 << 30;

/// Appends a record to `out`, which holds the segment's bytes from file
/// offset `out_base`, and returns the reference to it.
///
/// Panics if the record exceeds [`VLOG_RECORD_MAX`]: callers bound value
/// sizes first.
pub fn encode_vlog_record(
    segment: SegmentId,
    out_base: u64,
    lsn: Lsn,
    key: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) -> ValueRef {
    let total = VLOG_RECORD_HEADER_LEN + key.len() + value.len();
    assert!(total <= VLOG_RECORD_MAX, "value-log record of {total} bytes");
    let offset = out_base + out.len() as u64;
    let mut header = [0u8; VLOG_RECORD_HEADER_LEN];
    let mut w = FieldWriter::new(&mut header);
    w.u32(LEN_AT, (total - PREFIX_LEN) as u32);
    w.u32(CRC_AT, 0);
    w.u64(LSN_AT, lsn.get());
    w.u32(KEY_LEN_AT, key.len() as u32);
    w.u32(FLAGS_AT, 0);
    w.finish(VLOG_RECORD_HEADER_LEN);
    let crc = record_crc(&header, key, value);
    header.get_mut(CRC_AT..CRC_AT + 4).unwrap_or_default().copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    ValueRef { segment, offset, length: total as u32, crc }
}

fn record_crc(header: &[u8; VLOG_RECORD_HEADER_LEN], key: &[u8], value: &[u8]) -> u32 {
    let len = header.get(LEN_AT..LEN_AT + 4).unwrap_or_default();
    let rest = header.get(LSN_AT..).unwrap_or_default();
    crc32c_parts(&[len, rest, key, value])
}

/// One valid value-log record, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VlogRecordRef<'a> {
    /// File offset of the record.
    pub offset: u64,
    /// Total length of the record in bytes.
    pub length: u32,
    /// The stored CRC32C.
    pub crc: u32,
    /// LSN of the transaction that wrote it.
    pub lsn: Lsn,
    /// The key.
    #[serde(serialize_with = "crate::view::bytes")]
    pub key: &'a [u8],
    /// The value.
    #[serde(serialize_with = "crate::view::bytes")]
    pub value: &'a [u8],
}

impl VlogRecordRef<'_> {
    /// The reference that points at this record.
    #[must_use]
    pub fn value_ref(&self, segment: SegmentId) -> ValueRef {
        ValueRef { segment, offset: self.offset, length: self.length, crc: self.crc }
    }
}

/// Decodes the record at `pos` of `buf` (which starts at file offset
/// `base`).
pub fn decode_vlog_record_at(buf: &[u8], pos: usize, base: u64) -> Result<VlogRecordRef<'_>> {
    let offset = base + pos as u64;
    let rest = buf.get(pos..).unwrap_or_default();
    let truncated = |needed: usize| Error::Truncated {
        structure: Structure::VlogRecord,
        offset,
        needed: needed as u64,
        available: rest.len() as u64,
    };
    let Some(header) = prefix::<VLOG_RECORD_HEADER_LEN>(rest) else {
        return Err(truncated(VLOG_RECORD_HEADER_LEN));
    };
    if all_zero(&header) {
        return Err(Error::Zeroed { structure: Structure::VlogRecord, offset, len: VLOG_RECORD_HEADER_LEN as u64 });
    }
    let mut r = FieldReader::new(&header);
    let len = r.u32(LEN_AT) as usize;
    let stored = r.u32(CRC_AT);
    let lsn = Lsn(r.u64(LSN_AT));
    let key_len = r.u32(KEY_LEN_AT) as usize;
    let flags = r.u32(FLAGS_AT);
    r.finish(VLOG_RECORD_HEADER_LEN);
    let total = PREFIX_LEN + len;
    if !(VLOG_RECORD_HEADER_LEN..=VLOG_RECORD_MAX).contains(&total) {
        return Err(Error::InvalidField {
            structure: Structure::VlogRecord,
            offset,
            field: "len",
            found: len as u64,
            expected: "from 16 to 1 GiB - 8",
        });
    }
    let Some(record) = rest.get(..total) else {
        return Err(truncated(total));
    };
    let body = record.get(VLOG_RECORD_HEADER_LEN..).unwrap_or_default();
    let computed =
        crc32c_parts(&[header.get(LEN_AT..CRC_AT).unwrap_or_default(), header.get(LSN_AT..).unwrap_or_default(), body]);
    if stored != computed {
        return Err(Error::ChecksumMismatch { structure: Structure::VlogRecord, offset, stored, computed });
    }
    if key_len > body.len() {
        return Err(Error::InvalidField {
            structure: Structure::VlogRecord,
            offset,
            field: "key_len",
            found: key_len as u64,
            expected: "at most len - 16",
        });
    }
    let (key, value) = body.split_at(key_len);
    if flags != 0 {
        return Err(Error::InvalidField {
            structure: Structure::VlogRecord,
            offset,
            field: "flags",
            found: flags.into(),
            expected: "0 (no flags are defined)",
        });
    }
    Ok(VlogRecordRef { offset, length: total as u32, crc: stored, lsn, key, value })
}

/// Decodes the record that `r` points at, given exactly the `r.length`
/// bytes read at `r.offset` of segment `r.segment`, and checks that it is
/// the record the reference was made for.
pub fn decode_referenced<'a>(record: &'a [u8], r: &ValueRef) -> Result<VlogRecordRef<'a>> {
    let mismatch = |reason: String| Error::ValueRefMismatch { segment: r.segment.get(), offset: r.offset, reason };
    if record.len() != r.length as usize {
        return Err(mismatch(format!("read {} bytes, the reference says {}", record.len(), r.length)));
    }
    let decoded = decode_vlog_record_at(record, 0, r.offset)?;
    if decoded.length != r.length {
        return Err(mismatch(format!("record length {} != reference length {}", decoded.length, r.length)));
    }
    if decoded.crc != r.crc {
        return Err(mismatch(format!("record CRC {:#010x} != reference CRC {:#010x}", decoded.crc, r.crc)));
    }
    Ok(decoded)
}

/// What the value-log reader found next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VlogStep<'a> {
    /// A valid record.
    Record(VlogRecordRef<'a>),
    /// The end of the segment.
    End(LogEnd),
}

/// Reads the records of one value-log segment in order.
#[derive(Debug, Clone)]
pub struct VlogReader<'a> {
    buf: &'a [u8],
    base: u64,
    pos: usize,
}

impl<'a> VlogReader<'a> {
    /// A reader over `buf`, which starts at file offset `base`.
    #[must_use]
    pub fn new(buf: &'a [u8], base: u64) -> Self {
        VlogReader { buf, base, pos: 0 }
    }

    /// File offset of the next record.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads the next record. After an `End` or an error the reader stays
    /// where it is.
    pub fn next_step(&mut self) -> Result<VlogStep<'a>> {
        let remaining = self.buf.len().saturating_sub(self.pos);
        if remaining == 0 {
            return Ok(VlogStep::End(LogEnd { offset: self.offset(), reason: EndReason::Exact }));
        }
        if rest_is_zero(self.buf, self.pos) {
            return Ok(VlogStep::End(LogEnd {
                offset: self.offset(),
                reason: EndReason::ZeroFill { len: remaining as u64 },
            }));
        }
        let record = decode_vlog_record_at(self.buf, self.pos, self.base)?;
        self.pos += record.length as usize;
        Ok(VlogStep::Record(record))
    }
}

/// Classifies bad bytes at position `bad_pos` of a value-log segment: a
/// torn tail when no valid record follows, else mid-segment damage.
#[must_use]
pub fn classify_vlog_damage(buf: &[u8], base: u64, bad_pos: usize) -> Damage {
    let offset = base + bad_pos as u64;
    match resync(buf, bad_pos, |pos| decode_vlog_record_at(buf, pos, base).ok()) {
        Some((_, next)) => Damage::MidLog { offset, resume_offset: next.offset, resume_lsn: next.lsn.get() },
        None => Damage::TornTail { offset, dropped_bytes: buf.len().saturating_sub(bad_pos) as u64 },
    }
}
