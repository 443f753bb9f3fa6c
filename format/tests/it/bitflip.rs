//! Every single-bit flip in a golden structure is detected, with the
//! variant that names what went wrong.

use jubilant_format::segment::SegmentKind;
use jubilant_format::superblock::Slot;
use jubilant_format::vlog::decode_vlog_record_at;
use jubilant_format::wal::{WAL_PAYLOAD_MAX, WAL_RECORD_HEADER_LEN, WalReader};
use jubilant_format::{Error, Lsn, Manifest, PageHeader, PageSize, SegmentHeader, Superblock};

use crate::samples;
use crate::support::read_golden;

/// Flips every bit of `bytes` in turn and checks `decode` rejects it with
/// the variant `expected(byte_index, flipped_bytes)` names.
fn flip_every_bit<T: std::fmt::Debug>(
    name: &str,
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, Error>,
    expected: impl Fn(usize, &[u8]) -> &'static str,
) {
    let mut flipped = bytes.to_vec();
    let mut checked = 0;
    for byte in 0..bytes.len() {
        for bit in 0..8 {
            flipped[byte] ^= 1 << bit;
            let result = decode(&flipped);
            let want = expected(byte, &flipped);
            match &result {
                Err(e) if variant(e) == want => {}
                other => {
                    panic!("{name}: flip of byte {byte} bit {bit}: expected {want}, got {other:?}")
                }
            }
            flipped[byte] ^= 1 << bit;
            checked += 1;
        }
    }
    assert_eq!(checked, bytes.len() * 8);
    decode(&flipped).expect("the unflipped bytes decode");
}

fn variant(e: &Error) -> &'static str {
    match e {
        Error::BadMagic { .. } => "BadMagic",
        Error::ChecksumMismatch { .. } => "ChecksumMismatch",
        Error::Truncated { .. } => "Truncated",
        Error::WalLengthOutOfBounds { .. } => "WalLengthOutOfBounds",
        Error::InvalidField { .. } => "InvalidField",
        _ => "other",
    }
}

fn magic_or_checksum(byte: usize, _: &[u8]) -> &'static str {
    if byte < 4 { "BadMagic" } else { "ChecksumMismatch" }
}

#[test]
fn page_bit_flips_are_checksum_or_magic_errors() {
    let page = read_golden("page_leaf");
    assert_eq!(page, samples::page());
    flip_every_bit("page", &page, |p| PageHeader::open(p, samples::PAGE_ID, PageSize::DEFAULT), magic_or_checksum);
}

#[test]
fn superblock_bit_flips_are_checksum_or_magic_errors() {
    for (name, slot) in [("superblock_a", Slot::A), ("superblock_b", Slot::B)] {
        let bytes = read_golden(name);
        flip_every_bit(name, &bytes, |b| Superblock::decode(b, slot, 0), magic_or_checksum);
    }
}

#[test]
fn segment_header_bit_flips_are_checksum_or_magic_errors() {
    for (name, kind) in [("wal_segment_header", SegmentKind::Wal), ("vlog_segment_header", SegmentKind::ValueLog)] {
        let bytes = read_golden(name);
        flip_every_bit(name, &bytes, |b| SegmentHeader::decode(b, kind), magic_or_checksum);
    }
}

/// A flipped length bit makes the record look longer (past the input:
/// truncated, or past the limit: out of bounds) or shorter (the CRC then
/// covers other bytes: mismatch). Every other bit is covered by the CRC.
fn wal_expected(byte: usize, flipped: &[u8]) -> &'static str {
    if byte < 4 {
        let len = u32::from_le_bytes(flipped[..4].try_into().unwrap()) as usize;
        if len > WAL_PAYLOAD_MAX {
            return "WalLengthOutOfBounds";
        }
        if WAL_RECORD_HEADER_LEN + len > flipped.len() {
            return "Truncated";
        }
    }
    "ChecksumMismatch"
}

#[test]
fn wal_record_bit_flips_are_detected_for_every_kind() {
    for (name, _) in samples::wal_payloads() {
        let bytes = read_golden(&format!("wal_record_{name}"));
        flip_every_bit(
            &format!("wal_record_{name}"),
            &bytes,
            |b| WalReader::new(b, 0, Some(samples::WAL_LSN)).next_step().map(|_| ()),
            wal_expected,
        );
    }
}

#[test]
fn vlog_record_bit_flips_are_detected() {
    let bytes = read_golden("vlog_record");
    flip_every_bit(
        "vlog_record",
        &bytes,
        |b| decode_vlog_record_at(b, 0, 40).map(|_| ()),
        |byte, flipped| {
            if byte < 4 {
                let len = u32::from_le_bytes(flipped[..4].try_into().unwrap()) as usize;
                if len + 8 < 24 || len + 8 > (1 << 30) {
                    return "InvalidField";
                }
                if len + 8 > flipped.len() {
                    return "Truncated";
                }
            }
            "ChecksumMismatch"
        },
    );
}

#[test]
fn manifest_bit_flips_are_detected() {
    let bytes = read_golden("manifest");
    flip_every_bit("manifest", &bytes, Manifest::decode, |byte, flipped| {
        if byte < 4 {
            return "BadMagic";
        }
        if (8..12).contains(&byte) {
            let len = u32::from_le_bytes(flipped[8..12].try_into().unwrap()) as usize;
            let actual = flipped.len() - 16;
            if len > 65_536 || len < actual {
                return "InvalidField";
            }
            return "Truncated";
        }
        "ChecksumMismatch"
    });
}

/// Flips in the LSN field are caught by the CRC before continuity is
/// checked, so a damaged LSN is never mistaken for a gap in the log.
#[test]
fn wal_lsn_flip_is_a_checksum_error_not_a_gap() {
    let bytes = read_golden("wal_record_commit");
    let mut flipped = bytes.clone();
    flipped[8] ^= 0x04;
    let err = WalReader::new(&flipped, 0, Some(Lsn(samples::WAL_LSN.get()))).next_step().unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { offset: 0, .. }), "{err:?}");
}
