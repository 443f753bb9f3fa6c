//! WAL record envelopes and the segment reader.
//!
//! | field   | offset | size | type  | meaning |
//! |---------|--------|------|-------|---------|
//! | len     | 0      | 4    | u32   | payload length in bytes |
//! | crc32c  | 4      | 4    | u32   | CRC32C of bytes 0..4 and 8..24+len |
//! | lsn     | 8      | 8    | u64   | log sequence number |
//! | epoch   | 16     | 8    | u64   | leader term that wrote the record (1 on a single node) |
//! | payload | 24     | len  | bytes | a `wal.fbs` `WalRecord` FlatBuffer |
//!
//! The CRC covers the length too, so a flipped length bit is a checksum
//! mismatch rather than a silently shorter record.
//!
//! LSNs are dense: each record's LSN is the previous one plus one, and the
//! first record of a segment has the header's `first_lsn`. The reader
//! therefore tells apart:
//! - the end of the log: exactly at the end of the input, only zero bytes
//!   left (preallocated space), or a valid record with an *older* LSN (left
//!   over in a recycled segment);
//! - a short read (the input ends inside a record): [`Error::Truncated`];
//! - a zeroed header with data after it: [`Error::Zeroed`];
//! - a length above [`WAL_PAYLOAD_MAX`]: [`Error::WalLengthOutOfBounds`];
//! - a checksum mismatch: [`Error::ChecksumMismatch`];
//! - a valid record with a *later* LSN than expected (records missing):
//!   [`Error::WalLsnDiscontinuity`].
//!
//! After an error, [`classify_wal_damage`] scans on for the next valid
//! record: if none follows the damage is a torn tail, safe to truncate;
//! if one does, it is corruption in the middle of the log.

use serde::Serialize;

use crate::codec::{FieldReader, FieldWriter, all_zero, prefix};
use crate::error::{Error, Result, Structure};
use crate::hash::crc32c_parts;
use crate::ids::{Epoch, Lsn};
use crate::layout::{Field, Layout};
use crate::scan::{Damage, EndReason, LogEnd, rest_is_zero, resync};

const LEN_AT: usize = 0;
const CRC_AT: usize = LEN_AT + 4;
const LSN_AT: usize = CRC_AT + 4;
const EPOCH_AT: usize = LSN_AT + 8;
/// Length of the envelope header; the payload starts here.
pub const WAL_RECORD_HEADER_LEN: usize = EPOCH_AT + 8;
const _: () = assert!(WAL_RECORD_HEADER_LEN == 24);

/// The envelope header's layout (the payload follows it).
pub const LAYOUT: Layout = Layout {
    name: "wal_record",
    fields: &[
        Field { name: "len", offset: LEN_AT, size: 4, ty: "u32" },
        Field { name: "crc32c", offset: CRC_AT, size: 4, ty: "u32" },
        Field { name: "lsn", offset: LSN_AT, size: 8, ty: "u64" },
        Field { name: "epoch", offset: EPOCH_AT, size: 8, ty: "u64" },
    ],
    len: WAL_RECORD_HEADER_LEN,
};
const _: () = LAYOUT.check();

/// Largest payload of one WAL record: 64 MiB. Bounds what a corrupt length
/// can make a reader skip or a writer accept.
pub const WAL_PAYLOAD_MAX: usize = 64 << 20;

/// Appends one envelope holding `payload` to `out`.
///
/// Panics if the payload exceeds [`WAL_PAYLOAD_MAX`]: callers bound
/// transaction sizes before they build records.
pub fn encode_envelope(lsn: Lsn, epoch: Epoch, payload: &[u8], out: &mut Vec<u8>) {
    assert!(payload.len() <= WAL_PAYLOAD_MAX, "WAL payload of {} bytes", payload.len());
    let mut header = [0u8; WAL_RECORD_HEADER_LEN];
    let len = payload.len() as u32;
    let mut w = FieldWriter::new(&mut header);
    w.u32(LEN_AT, len);
    w.u32(CRC_AT, 0);
    w.u64(LSN_AT, lsn.get());
    w.u64(EPOCH_AT, epoch.get());
    w.finish(WAL_RECORD_HEADER_LEN);
    let crc = envelope_crc(&header, payload);
    header.get_mut(CRC_AT..CRC_AT + 4).unwrap_or_default().copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
}

fn envelope_crc(header: &[u8; WAL_RECORD_HEADER_LEN], payload: &[u8]) -> u32 {
    let len = header.get(LEN_AT..LEN_AT + 4).unwrap_or_default();
    let rest = header.get(LSN_AT..).unwrap_or_default();
    crc32c_parts(&[len, rest, payload])
}

/// One valid record, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WalRecordRef<'a> {
    /// File offset of the envelope.
    pub offset: u64,
    /// Its LSN.
    pub lsn: Lsn,
    /// The epoch that wrote it.
    pub epoch: Epoch,
    /// The FlatBuffers payload (not yet verified: see
    /// [`crate::wal::WalPayload::decode`]).
    #[serde(skip)]
    pub payload: &'a [u8],
}

impl WalRecordRef<'_> {
    /// Bytes the record takes in the file, envelope included.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        WAL_RECORD_HEADER_LEN + self.payload.len()
    }
}

/// Decodes the envelope at `pos` of `buf` (which starts at file offset
/// `base`), checking length and checksum but not LSN continuity.
pub fn decode_envelope_at(buf: &[u8], pos: usize, base: u64) -> Result<WalRecordRef<'_>> {
    let offset = base + pos as u64;
    let rest = buf.get(pos..).unwrap_or_default();
    let Some(header) = prefix::<WAL_RECORD_HEADER_LEN>(rest) else {
        return Err(Error::Truncated {
            structure: Structure::WalRecord,
            offset,
            needed: WAL_RECORD_HEADER_LEN as u64,
            available: rest.len() as u64,
        });
    };
    if all_zero(&header) {
        return Err(Error::Zeroed { structure: Structure::WalRecord, offset, len: WAL_RECORD_HEADER_LEN as u64 });
    }
    let mut r = FieldReader::new(&header);
    let len = r.u32(LEN_AT) as usize;
    let stored = r.u32(CRC_AT);
    let lsn = Lsn(r.u64(LSN_AT));
    let epoch = Epoch(r.u64(EPOCH_AT));
    r.finish(WAL_RECORD_HEADER_LEN);
    if len > WAL_PAYLOAD_MAX {
        return Err(Error::WalLengthOutOfBounds { offset, len: len as u64, max: WAL_PAYLOAD_MAX as u64 });
    }
    let Some(payload) = rest.get(WAL_RECORD_HEADER_LEN..WAL_RECORD_HEADER_LEN + len) else {
        return Err(Error::Truncated {
            structure: Structure::WalRecord,
            offset,
            needed: (WAL_RECORD_HEADER_LEN + len) as u64,
            available: rest.len() as u64,
        });
    };
    let computed = envelope_crc(&header, payload);
    if stored != computed {
        return Err(Error::ChecksumMismatch { structure: Structure::WalRecord, offset, stored, computed });
    }
    Ok(WalRecordRef { offset, lsn, epoch, payload })
}

/// What the reader found next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalStep<'a> {
    /// A valid record with the expected LSN.
    Record(WalRecordRef<'a>),
    /// The end of the log.
    End(LogEnd),
}

/// Reads the records of one WAL segment (or any run of envelopes) in
/// order, checking LSN continuity.
#[derive(Debug, Clone)]
pub struct WalReader<'a> {
    buf: &'a [u8],
    base: u64,
    pos: usize,
    next_lsn: Option<Lsn>,
}

impl<'a> WalReader<'a> {
    /// A reader over `buf`, which starts at file offset `base` (40 for the
    /// records of a segment read whole, after its header). `first_lsn` is
    /// the LSN the first record must have, or `None` to accept any.
    #[must_use]
    pub fn new(buf: &'a [u8], base: u64, first_lsn: Option<Lsn>) -> Self {
        WalReader { buf, base, pos: 0, next_lsn: first_lsn }
    }

    /// File offset of the next record to read (after the last valid one).
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The LSN the next record must have, once known.
    #[must_use]
    pub fn next_lsn(&self) -> Option<Lsn> {
        self.next_lsn
    }

    /// Reads the next record. After an `End` or an error the reader stays
    /// where it is: calling again returns the same answer.
    pub fn next_step(&mut self) -> Result<WalStep<'a>> {
        let remaining = self.buf.len().saturating_sub(self.pos);
        if remaining == 0 {
            return Ok(WalStep::End(LogEnd { offset: self.offset(), reason: EndReason::Exact }));
        }
        if rest_is_zero(self.buf, self.pos) {
            return Ok(WalStep::End(LogEnd {
                offset: self.offset(),
                reason: EndReason::ZeroFill { len: remaining as u64 },
            }));
        }
        let record = decode_envelope_at(self.buf, self.pos, self.base)?;
        if let Some(expected) = self.next_lsn {
            if record.lsn < expected {
                return Ok(WalStep::End(LogEnd {
                    offset: self.offset(),
                    reason: EndReason::StaleRecord { lsn: record.lsn.get() },
                }));
            }
            if record.lsn > expected {
                return Err(Error::WalLsnDiscontinuity { offset: record.offset, expected, found: record.lsn });
            }
        }
        self.next_lsn = Some(record.lsn.checked_next().ok_or(Error::InvalidField {
            structure: Structure::WalRecord,
            offset: record.offset,
            field: "lsn",
            found: record.lsn.get(),
            expected: "below u64::MAX",
        })?);
        self.pos += record.encoded_len();
        Ok(WalStep::Record(record))
    }
}

/// The first valid record after position `from` of `buf` whose LSN is at
/// least `min_lsn` (and plausibly close to it: below `min_lsn + 2^32`).
/// Used to tell a torn tail from corruption in the middle of the log.
#[must_use]
pub fn resync_wal(buf: &[u8], base: u64, from: usize, min_lsn: Lsn) -> Option<WalRecordRef<'_>> {
    let upper = min_lsn.get().saturating_add(1 << 32);
    resync(buf, from, |pos| {
        // Check the LSN before the checksum so garbage is rejected cheaply.
        let lsn = buf
            .get(pos + LSN_AT..pos + LSN_AT + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)?;
        if lsn < min_lsn.get() || lsn >= upper {
            return None;
        }
        decode_envelope_at(buf, pos, base).ok()
    })
    .map(|(_, record)| record)
}

/// Classifies bad bytes at position `bad_pos` of `buf`, where a record with
/// LSN `expected_lsn` was due: a torn tail when no valid record with that
/// LSN or a later one follows, else corruption in the middle of the log.
///
/// This looks only inside `buf`: a caller reading several segments must
/// also treat a valid record in a *later segment* as mid-log corruption.
#[must_use]
pub fn classify_wal_damage(buf: &[u8], base: u64, bad_pos: usize, expected_lsn: Lsn) -> Damage {
    let offset = base + bad_pos as u64;
    match resync_wal(buf, base, bad_pos, expected_lsn) {
        Some(next) => Damage::MidLog { offset, resume_offset: next.offset, resume_lsn: next.lsn.get() },
        None => Damage::TornTail { offset, dropped_bytes: buf.len().saturating_sub(bad_pos) as u64 },
    }
}
