//! Property tests: decode(encode(x)) == x for every structure and every
//! WAL record kind.

use jubilant_format::manifest::ClockCalibration;
use jubilant_format::superblock::VlogCursor;
use jubilant_format::vlog::{VlogReader, VlogStep, decode_referenced, encode_vlog_record};
use jubilant_format::wal::{PutValue, TxnWrite, WalPayload, WalReader, WalStep, encode_envelope, txn_payload_bound};
use jubilant_format::{
    Epoch, Generation, Lsn, Manifest, PageHeader, PageId, PageSize, PageType, SegmentHeader, SegmentId, SegmentKind,
    Superblock, TxnId, ValueRef,
};
use proptest::prelude::*;

fn page_size() -> impl Strategy<Value = PageSize> {
    (12u32..=16).prop_map(|shift| PageSize::new(1u64 << shift).unwrap())
}

fn value_ref() -> impl Strategy<Value = ValueRef> {
    (any::<u64>(), any::<u64>(), 24u32.., any::<u32>()).prop_map(|(segment, offset, length, crc)| ValueRef {
        segment: SegmentId(segment),
        offset,
        length,
        crc,
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn wal_payload() -> impl Strategy<Value = WalPayload> {
    let txn = any::<u64>().prop_map(TxnId);
    prop_oneof![
        txn.clone().prop_map(|txn| WalPayload::Begin { txn }),
        (
            txn.clone(),
            bytes(64),
            prop_oneof![bytes(300).prop_map(PutValue::Inline), value_ref().prop_map(PutValue::Ref)],
            proptest::option::of(1u64..),
        )
            .prop_map(|(txn, key, value, expires_at_unix_ms)| WalPayload::Put {
                txn,
                key,
                value,
                expires_at_unix_ms
            }),
        (txn.clone(), bytes(64)).prop_map(|(txn, key)| WalPayload::Delete { txn, key }),
        (txn.clone(), any::<u64>(), any::<u64>())
            .prop_map(|(txn, commit_unix_ms, d)| { WalPayload::Commit { txn, commit_unix_ms, durable_lsn: Lsn(d) } }),
        txn.clone().prop_map(|txn| WalPayload::Abort { txn }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(l, g)| WalPayload::Checkpoint { checkpoint_lsn: Lsn(l), generation: Generation(g) }),
        (txn.clone(), bytes(64), any::<u64>())
            .prop_map(|(txn, key, expired_at_unix_ms)| { WalPayload::TtlTombstone { txn, key, expired_at_unix_ms } }),
        (txn, any::<u64>(), any::<u64>(), proptest::collection::vec(txn_write(), 0..20)).prop_map(
            |(txn, commit_unix_ms, d, writes)| WalPayload::Txn { txn, commit_unix_ms, durable_lsn: Lsn(d), writes }
        ),
    ]
}

fn txn_write() -> impl Strategy<Value = TxnWrite> {
    prop_oneof![
        (
            bytes(64),
            prop_oneof![bytes(300).prop_map(PutValue::Inline), value_ref().prop_map(PutValue::Ref)],
            proptest::option::of(1u64..),
        )
            .prop_map(|(key, value, expires_at_unix_ms)| TxnWrite::Put { key, value, expires_at_unix_ms }),
        bytes(64).prop_map(|key| TxnWrite::Delete { key }),
        (bytes(64), any::<u64>())
            .prop_map(|(key, expired_at_unix_ms)| TxnWrite::TtlTombstone { key, expired_at_unix_ms }),
    ]
}

proptest! {
    /// A write logged on its own and read back as a write is the same
    /// write; the value-log references a record reports are exactly its
    /// puts' references, in order, in either form.
    #[test]
    fn a_write_and_its_own_record_convert_both_ways(writes in proptest::collection::vec(txn_write(), 0..8), t in any::<u64>()) {
        let txn = TxnId(t);
        let refs = |p: &WalPayload| {
            let mut out = Vec::new();
            p.for_each_value_ref(|k, r| out.push((k.to_vec(), *r)));
            out
        };
        let mut from_records = Vec::new();
        for w in &writes {
            let record = w.clone().into_record(txn);
            from_records.extend(refs(&record));
            prop_assert_eq!(record.into_write(), Some((txn, w.clone())));
        }
        let whole = WalPayload::Txn { txn, commit_unix_ms: 0, durable_lsn: Lsn(0), writes };
        prop_assert_eq!(refs(&whole), from_records);
        prop_assert_eq!(whole.committed_txn(), Some(txn));
        prop_assert_eq!(whole.into_write(), None);
    }

    /// The size bound a writer checks before logging a transaction as one
    /// `Txn` record holds for every transaction.
    #[test]
    fn txn_records_stay_within_their_size_bound(writes in proptest::collection::vec(txn_write(), 0..64)) {
        let bound = txn_payload_bound(writes.iter().map(|w| {
            let inline = match w {
                TxnWrite::Put { value: PutValue::Inline(v), .. } => v.len(),
                _ => 0,
            };
            (w.key().len(), inline)
        }));
        let payload = WalPayload::Txn { txn: TxnId(u64::MAX), commit_unix_ms: u64::MAX, durable_lsn: Lsn(u64::MAX), writes };
        let len = payload.encode().len();
        prop_assert!(len <= bound, "{} bytes encoded, bound {}", len, bound);
    }
}

proptest! {
    #[test]
    fn page_header_roundtrip(
        size in page_size(),
        tag in 0usize..4,
        id in 2u64..u64::MAX / 65536,
        lsn in any::<u64>(),
        payload in bytes(4000),
        filler in any::<u8>(),
    ) {
        let mut page = vec![filler; size.bytes()];
        page[32..32 + payload.len()].copy_from_slice(&payload);
        let header = PageHeader {
            page_type: PageType::ALL[tag],
            page_id: PageId(id),
            page_lsn: Lsn(lsn),
            payload_len: payload.len() as u32,
        };
        header.seal(&mut page);
        let decoded = PageHeader::open(&page, PageId(id), size).unwrap();
        prop_assert_eq!(decoded, header);
        prop_assert_eq!(decoded.payload(&page), &payload[..]);
    }

    #[test]
    fn superblock_roundtrip(
        generation in any::<u64>(),
        lsn in any::<u64>(),
        epoch in any::<u64>(),
        page_count in 2u64..,
        root in any::<u64>(),
        free in any::<u64>(),
        hash in any::<u64>(),
        cursors in any::<[u64; 4]>(),
        next_txn in any::<u64>(),
        keys in any::<u64>(),
    ) {
        // A page id is 0 (none) or below the page count.
        let page = |raw: u64| (page_count > 2).then(|| PageId(2 + raw % (page_count - 2)));
        let sb = Superblock {
            generation: Generation(generation),
            checkpoint_lsn: Lsn(lsn),
            checkpoint_epoch: Epoch(epoch),
            root_page: if root % 3 == 0 { None } else { page(root) },
            free_list_head: if free % 3 == 0 { None } else { page(free) },
            page_count,
            manifest_hash: hash,
            vlog_head: VlogCursor { segment: SegmentId(cursors[0]), offset: cursors[1] },
            vlog_tail: VlogCursor { segment: SegmentId(cursors[2]), offset: cursors[3] },
            next_txn_id: TxnId(next_txn),
            key_count: keys,
        };
        let decoded = Superblock::decode(&sb.encode(), sb.slot(), 0).unwrap();
        prop_assert_eq!(decoded, sb);
    }

    #[test]
    fn segment_header_roundtrip(wal in any::<bool>(), segment in any::<u64>(), lsn in any::<u64>(), dir in any::<u64>()) {
        let kind = if wal { SegmentKind::Wal } else { SegmentKind::ValueLog };
        let header = SegmentHeader { kind, segment: SegmentId(segment), first_lsn: Lsn(lsn), directory_id: dir };
        prop_assert_eq!(SegmentHeader::decode(&header.encode(), kind).unwrap(), header);
        prop_assert_eq!(kind.parse_file_name(&kind.file_name(SegmentId(segment))), Some(SegmentId(segment)));
    }

    #[test]
    fn value_ref_roundtrip(r in value_ref()) {
        prop_assert_eq!(ValueRef::decode(&r.encode(), 0).unwrap(), r);
    }

    #[test]
    fn wal_payload_roundtrip(payload in wal_payload()) {
        prop_assert_eq!(WalPayload::decode(&payload.encode(), 0).unwrap(), payload);
    }

    /// Whole segments: envelopes of every kind back to back, read in order.
    #[test]
    fn wal_segment_roundtrip(payloads in proptest::collection::vec(wal_payload(), 0..20), first in 1u64..1 << 60, epoch in any::<u64>()) {
        let mut buf = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            encode_envelope(Lsn(first + i as u64), Epoch(epoch), &p.encode(), &mut buf);
        }
        let mut reader = WalReader::new(&buf, 40, Some(Lsn(first)));
        for (i, p) in payloads.iter().enumerate() {
            let WalStep::Record(r) = reader.next_step().unwrap() else { panic!("early end") };
            prop_assert_eq!(r.lsn, Lsn(first + i as u64));
            prop_assert_eq!(r.epoch, Epoch(epoch));
            prop_assert_eq!(&WalPayload::decode(r.payload, r.offset).unwrap(), p);
        }
        prop_assert!(matches!(reader.next_step().unwrap(), WalStep::End(_)));
    }

    #[test]
    fn vlog_records_roundtrip(records in proptest::collection::vec((bytes(100), bytes(3000), any::<u64>()), 0..10)) {
        let mut buf = Vec::new();
        let refs: Vec<ValueRef> = records
            .iter()
            .map(|(k, v, lsn)| encode_vlog_record(SegmentId(9), 40, Lsn(*lsn), k, v, &mut buf))
            .collect();
        for (r, (k, v, lsn)) in refs.iter().zip(&records) {
            let start = (r.offset - 40) as usize;
            let rec = decode_referenced(&buf[start..start + r.length as usize], r).unwrap();
            prop_assert_eq!((rec.key, rec.value, rec.lsn), (&k[..], &v[..], Lsn(*lsn)));
        }
        let mut reader = VlogReader::new(&buf, 40);
        for r in &refs {
            let VlogStep::Record(rec) = reader.next_step().unwrap() else { panic!("early end") };
            prop_assert_eq!(rec.value_ref(SegmentId(9)), *r);
        }
        prop_assert!(matches!(reader.next_step().unwrap(), VlogStep::End(_)));
    }

    #[test]
    fn manifest_roundtrip(
        size in page_size(),
        wall in any::<u64>(),
        mono in any::<u64>(),
        created_by in "[ -~]{0,40}",
        dir in any::<u64>(),
    ) {
        let m = Manifest::new(size, ClockCalibration { wall_unix_nanos: wall, monotonic_nanos: mono }, created_by, dir);
        prop_assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }
}
