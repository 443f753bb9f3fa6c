//! The fixed sample values behind the golden files. Changing one changes
//! a golden file: do it only together with `cargo xtask golden`.

use jubilant_format::manifest::ClockCalibration;
use jubilant_format::superblock::VlogCursor;
use jubilant_format::wal::{PutValue, TxnWrite, WalPayload, encode_envelope};
use jubilant_format::{
    Epoch, Generation, Lsn, Manifest, PageHeader, PageId, PageSize, PageType, SegmentHeader, SegmentId, SegmentKind,
    Superblock, TxnId, ValueRef,
};

pub const PAGE_ID: PageId = PageId(7);

/// A 4 KiB leaf page whose payload is a recognisable byte pattern.
pub fn page() -> Vec<u8> {
    let size = PageSize::DEFAULT;
    let mut page = vec![0u8; size.bytes()];
    let payload: Vec<u8> = (0..200u32).map(|i| (i * 7 % 251) as u8).collect();
    page[32..32 + payload.len()].copy_from_slice(&payload);
    PageHeader {
        page_type: PageType::Leaf,
        page_id: PAGE_ID,
        page_lsn: Lsn(0x0102_0304),
        payload_len: payload.len() as u32,
    }
    .seal(&mut page);
    page
}

pub fn superblock(generation: u64) -> Superblock {
    Superblock {
        generation: Generation(generation),
        checkpoint_lsn: Lsn(1_000 + generation),
        checkpoint_epoch: Epoch::SINGLE_NODE,
        root_page: Some(PageId(12)),
        free_list_head: Some(PageId(9)),
        page_count: 64,
        manifest_hash: MANIFEST_HASH,
        vlog_head: VlogCursor { segment: SegmentId(2), offset: 40 },
        vlog_tail: VlogCursor { segment: SegmentId(3), offset: 65_576 },
        next_txn_id: TxnId(500),
        key_count: 321,
    }
}

pub const MANIFEST_HASH: u64 = 0x0123_4567_89ab_cdef;

pub fn segment_header(kind: SegmentKind) -> SegmentHeader {
    SegmentHeader { kind, segment: SegmentId(3), first_lsn: Lsn(1_001), directory_id: 0x5eed_0000_0000_0001 }
}

pub fn value_ref() -> ValueRef {
    ValueRef { segment: SegmentId(3), offset: 4_096, length: 1_048, crc: 0xdead_beef }
}

/// One payload of every WAL record kind, plus a Put with a value reference.
pub fn wal_payloads() -> Vec<(&'static str, WalPayload)> {
    let txn = TxnId(77);
    vec![
        ("begin", WalPayload::Begin { txn }),
        (
            "put",
            WalPayload::Put {
                txn,
                key: b"user:42".to_vec(),
                value: PutValue::Inline(b"{\"name\":\"Ada\"}".to_vec()),
                expires_at_unix_ms: None,
            },
        ),
        (
            "put_value_ref_ttl",
            WalPayload::Put {
                txn,
                key: b"blob:1".to_vec(),
                value: PutValue::Ref(value_ref()),
                expires_at_unix_ms: Some(1_767_225_600_000),
            },
        ),
        ("delete", WalPayload::Delete { txn, key: b"user:41".to_vec() }),
        ("commit", WalPayload::Commit { txn, commit_unix_ms: 1_767_225_600_123, durable_lsn: Lsn(999) }),
        ("abort", WalPayload::Abort { txn: TxnId(78) }),
        ("checkpoint", WalPayload::Checkpoint { checkpoint_lsn: Lsn(1_000), generation: Generation(5) }),
        (
            "ttl_tombstone",
            WalPayload::TtlTombstone {
                txn: TxnId(79),
                key: b"session:9".to_vec(),
                expired_at_unix_ms: 1_767_225_600_000,
            },
        ),
        (
            "txn",
            WalPayload::Txn {
                txn: TxnId(80),
                commit_unix_ms: 1_767_225_600_456,
                durable_lsn: Lsn(1_000),
                writes: vec![
                    TxnWrite::Put {
                        key: b"user:43".to_vec(),
                        value: PutValue::Inline(b"{\"name\":\"Grace\"}".to_vec()),
                        expires_at_unix_ms: None,
                    },
                    TxnWrite::Put {
                        key: b"blob:2".to_vec(),
                        value: PutValue::Ref(value_ref()),
                        expires_at_unix_ms: Some(1_767_225_600_000),
                    },
                    TxnWrite::Delete { key: b"user:41".to_vec() },
                    TxnWrite::TtlTombstone { key: b"session:10".to_vec(), expired_at_unix_ms: 1_767_225_600_001 },
                ],
            },
        ),
    ]
}

pub const WAL_LSN: Lsn = Lsn(1_001);

/// A whole WAL record (envelope and payload) at LSN [`WAL_LSN`].
pub fn wal_record(payload: &WalPayload) -> Vec<u8> {
    let mut out = Vec::new();
    encode_envelope(WAL_LSN, Epoch::SINGLE_NODE, &payload.encode(), &mut out);
    out
}

pub const VLOG_KEY: &[u8] = b"blob:1";

pub fn vlog_value() -> Vec<u8> {
    (0..1_000u32).map(|i| (i % 256) as u8).collect()
}

pub fn manifest() -> Manifest {
    Manifest::new(
        PageSize::DEFAULT,
        ClockCalibration { wall_unix_nanos: 1_767_225_600_000_000_000, monotonic_nanos: 12_345_678_901 },
        "jubilant-db 0.1.0",
        0x5eed_0000_0000_0001,
    )
}
