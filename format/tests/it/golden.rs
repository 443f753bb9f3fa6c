//! Golden files: every encoder's output is pinned byte for byte, and the
//! committed bytes decode to the sample and to the snapshotted view.

use jubilant_format::Lsn;
use jubilant_format::segment::SegmentKind;
use jubilant_format::superblock::Slot;
use jubilant_format::vlog::{decode_referenced, encode_vlog_record};
use jubilant_format::wal::{WalPayload, WalReader, WalStep};
use jubilant_format::{Manifest, PageHeader, PageSize, SegmentHeader, SegmentId, Superblock, ValueRef};
use serde::Serialize;

use crate::samples;
use crate::support::check_golden;

#[test]
fn golden_page() {
    let page = check_golden("page_leaf", &samples::page());
    let header = PageHeader::open(&page, samples::PAGE_ID, PageSize::DEFAULT).unwrap();
    assert_eq!(header.payload(&page), &samples::page()[32..32 + 200]);
    insta::assert_json_snapshot!("page_leaf", header);
}

#[test]
fn golden_superblocks() {
    for (generation, slot) in [(6, Slot::A), (7, Slot::B)] {
        let sb = samples::superblock(generation);
        let name = format!("superblock_{}", slot.letter().to_ascii_lowercase());
        let bytes = check_golden(&name, &sb.encode());
        let decoded = Superblock::decode(&bytes, slot, 0).unwrap();
        assert_eq!(decoded, sb);
        insta::assert_json_snapshot!(name, decoded);
    }
}

#[test]
fn golden_segment_headers() {
    for (kind, name) in [(SegmentKind::Wal, "wal_segment_header"), (SegmentKind::ValueLog, "vlog_segment_header")] {
        let header = samples::segment_header(kind);
        let bytes = check_golden(name, &header.encode());
        let decoded = SegmentHeader::decode(&bytes, kind).unwrap();
        assert_eq!(decoded, header);
        insta::assert_json_snapshot!(name, decoded);
    }
}

#[test]
fn golden_value_ref() {
    let r = samples::value_ref();
    let bytes = check_golden("value_ref", &r.encode());
    let decoded = ValueRef::decode(&bytes, 0).unwrap();
    assert_eq!(decoded, r);
    insta::assert_json_snapshot!("value_ref", decoded);
}

/// The decoded, human-readable view of one WAL record.
#[derive(Serialize)]
struct WalRecordView {
    offset: u64,
    lsn: u64,
    epoch: u64,
    payload_len: usize,
    payload: WalPayload,
}

#[test]
fn golden_wal_records() {
    for (name, payload) in samples::wal_payloads() {
        let golden_name = format!("wal_record_{name}");
        let bytes = check_golden(&golden_name, &samples::wal_record(&payload));
        let mut reader = WalReader::new(&bytes, 0, Some(samples::WAL_LSN));
        let WalStep::Record(record) = reader.next_step().unwrap() else {
            panic!("{name}: no record");
        };
        assert!(matches!(reader.next_step().unwrap(), WalStep::End(_)), "{name}: one record");
        let decoded = WalPayload::decode(record.payload, record.offset).unwrap();
        assert_eq!(decoded, payload, "{name}");
        insta::assert_json_snapshot!(
            golden_name,
            WalRecordView {
                offset: record.offset,
                lsn: record.lsn.get(),
                epoch: record.epoch.get(),
                payload_len: record.payload.len(),
                payload: decoded,
            }
        );
    }
}

#[test]
fn golden_vlog_record() {
    let mut bytes = Vec::new();
    let r = encode_vlog_record(SegmentId(3), 40, Lsn(1_001), samples::VLOG_KEY, &samples::vlog_value(), &mut bytes);
    let bytes = check_golden("vlog_record", &bytes);
    let decoded = decode_referenced(&bytes, &ValueRef { offset: 40, ..r }).unwrap();
    assert_eq!(decoded.key, samples::VLOG_KEY);
    assert_eq!(decoded.value, samples::vlog_value());
    assert_eq!(decoded.lsn, Lsn(1_001));
    // The value is long: the snapshot shows the header fields and the key.
    insta::assert_json_snapshot!(
        "vlog_record",
        serde_json::json!({
            "offset": decoded.offset,
            "length": decoded.length,
            "crc": format!("{:#010x}", decoded.crc),
            "lsn": decoded.lsn,
            "key": String::from_utf8_lossy(decoded.key),
            "value_len": decoded.value.len(),
            "reference": r,
        })
    );
}

#[test]
fn golden_manifest() {
    let manifest = samples::manifest();
    let bytes = check_golden("manifest", &manifest.encode());
    let decoded = Manifest::decode(&bytes).unwrap();
    assert_eq!(decoded, manifest);
    insta::assert_json_snapshot!("manifest", decoded);
}

/// The schema hash is part of every manifest; pin it so that a schema edit
/// that changes it is noticed (and is a deliberate format change).
#[test]
fn golden_schema_hash() {
    let bytes = check_golden("schema_hash", &jubilant_format::SCHEMA_HASH.to_le_bytes());
    assert_eq!(u64::from_le_bytes(bytes.try_into().unwrap()), jubilant_format::SCHEMA_HASH);
}
