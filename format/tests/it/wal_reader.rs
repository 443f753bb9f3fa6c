//! The WAL reader: where the log ends, torn tails, and corruption in the
//! middle of the log.

use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::wal::{WalPayload, WalReader, WalStep, classify_wal_damage, encode_envelope, resync_wal};
use jubilant_format::{Damage, EndReason, Epoch, Error, Lsn, TxnId};

const BASE: u64 = SEGMENT_HEADER_LEN as u64;

/// Records with LSNs `first..first + n`, and the offset (relative to the
/// buffer) where each starts.
fn log(first: u64, n: u64) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut starts = Vec::new();
    for lsn in first..first + n {
        starts.push(out.len());
        let payload = WalPayload::Put {
            txn: TxnId(lsn),
            key: format!("key-{lsn}").into_bytes(),
            value: jubilant_format::wal::PutValue::Inline(vec![lsn as u8; 40]),
            expires_at_unix_ms: None,
        };
        encode_envelope(Lsn(lsn), Epoch::SINGLE_NODE, &payload.encode(), &mut out);
    }
    (out, starts)
}

/// Reads until the end or an error; returns the LSNs read and the outcome.
fn read_all(buf: &[u8], first: u64) -> (Vec<u64>, Result<jubilant_format::LogEnd, Error>) {
    let mut reader = WalReader::new(buf, BASE, Some(Lsn(first)));
    let mut lsns = Vec::new();
    for _ in 0..10_000 {
        match reader.next_step() {
            Ok(WalStep::Record(r)) => {
                WalPayload::decode(r.payload, r.offset).unwrap();
                lsns.push(r.lsn.get());
            }
            Ok(WalStep::End(end)) => return (lsns, Ok(end)),
            Err(e) => return (lsns, Err(e)),
        }
    }
    panic!("reader did not stop");
}

#[test]
fn clean_end_exactly_at_the_end() {
    let (buf, _) = log(10, 5);
    let (lsns, end) = read_all(&buf, 10);
    assert_eq!(lsns, vec![10, 11, 12, 13, 14]);
    let end = end.unwrap();
    assert_eq!(end.reason, EndReason::Exact);
    assert_eq!(end.offset, BASE + buf.len() as u64);
}

#[test]
fn zero_fill_after_the_last_record_is_the_end_of_a_preallocated_segment() {
    let (mut buf, _) = log(1, 3);
    let len = buf.len();
    buf.resize(len + 4096, 0);
    let (lsns, end) = read_all(&buf, 1);
    assert_eq!(lsns, vec![1, 2, 3]);
    assert_eq!(end.unwrap().reason, EndReason::ZeroFill { len: 4096 });
}

#[test]
fn every_cut_inside_the_last_record_is_a_torn_tail() {
    let (buf, starts) = log(1, 4);
    let last = *starts.last().unwrap();
    for cut in last + 1..buf.len() {
        let torn = &buf[..cut];
        let (lsns, result) = read_all(torn, 1);
        assert_eq!(lsns, vec![1, 2, 3], "cut {cut}");
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Truncated { offset, .. } if offset == BASE + last as u64), "cut {cut}: {err:?}");
        let damage = classify_wal_damage(torn, BASE, last, Lsn(4));
        assert_eq!(damage, Damage::TornTail { offset: BASE + last as u64, dropped_bytes: (cut - last) as u64 });
    }
}

/// The disk kept the new length but zeroed (or garbled) the last sectors.
#[test]
fn zeroed_or_garbage_sectors_at_the_end_are_a_torn_tail() {
    let (buf, starts) = log(1, 6);
    let victim = starts[4];
    for fill in [0x00u8, 0xA5] {
        let mut torn = buf.clone();
        for b in &mut torn[victim + 10..] {
            *b = fill;
        }
        let (lsns, result) = read_all(&torn, 1);
        assert_eq!(lsns, vec![1, 2, 3, 4]);
        assert!(result.is_err());
        let damage = classify_wal_damage(&torn, BASE, victim, Lsn(5));
        assert!(matches!(damage, Damage::TornTail { .. }), "{damage:?}");
    }
}

#[test]
fn a_bad_record_followed_by_valid_ones_is_mid_log_corruption() {
    let (mut buf, starts) = log(1, 6);
    buf[starts[2] + 30] ^= 0x01;
    let (lsns, result) = read_all(&buf, 1);
    assert_eq!(lsns, vec![1, 2]);
    assert!(matches!(result, Err(Error::ChecksumMismatch { .. })));
    let damage = classify_wal_damage(&buf, BASE, starts[2], Lsn(3));
    assert_eq!(
        damage,
        Damage::MidLog { offset: BASE + starts[2] as u64, resume_offset: BASE + starts[3] as u64, resume_lsn: 4 }
    );
}

#[test]
fn a_zeroed_record_in_the_middle_is_reported_and_classified_as_mid_log() {
    let (mut buf, starts) = log(1, 5);
    for b in &mut buf[starts[1]..starts[2]] {
        *b = 0;
    }
    let (lsns, result) = read_all(&buf, 1);
    assert_eq!(lsns, vec![1]);
    assert!(matches!(result, Err(Error::Zeroed { .. })), "{result:?}");
    assert!(matches!(classify_wal_damage(&buf, BASE, starts[1], Lsn(2)), Damage::MidLog { resume_lsn: 3, .. }));
}

#[test]
fn a_gap_in_lsns_is_a_discontinuity() {
    let (mut buf, _) = log(1, 2);
    let (tail, _) = log(5, 2);
    buf.extend_from_slice(&tail);
    let (lsns, result) = read_all(&buf, 1);
    assert_eq!(lsns, vec![1, 2]);
    assert!(matches!(result, Err(Error::WalLsnDiscontinuity { expected: Lsn(3), found: Lsn(5), .. })));
}

#[test]
fn the_first_record_must_have_the_segment_first_lsn() {
    let (buf, _) = log(7, 2);
    let (_, result) = read_all(&buf, 6);
    assert!(matches!(result, Err(Error::WalLsnDiscontinuity { expected: Lsn(6), found: Lsn(7), .. })));
}

/// A recycled segment still holds records of its previous use after the
/// new ones: an older LSN marks the end.
#[test]
fn an_older_record_after_the_last_one_is_the_end_of_a_recycled_segment() {
    let (old, _) = log(1, 20);
    let (new, _) = log(100, 3);
    let mut buf = old.clone();
    buf[..new.len()].copy_from_slice(&new);
    // Make sure the new records end exactly at an old record boundary or
    // inside one; either way the reader must stop without an error.
    let (lsns, result) = read_all(&buf, 100);
    assert_eq!(lsns, vec![100, 101, 102]);
    match result {
        Ok(end) => assert!(matches!(end.reason, EndReason::StaleRecord { .. }), "{end:?}"),
        Err(e) => {
            // The new records ended inside an old record: bad bytes, but no
            // record with LSN >= 103 follows, so this is a torn tail.
            let at = (e_offset(&e) - BASE) as usize;
            assert!(matches!(classify_wal_damage(&buf, BASE, at, Lsn(103)), Damage::TornTail { .. }));
        }
    }
}

fn e_offset(e: &Error) -> u64 {
    match e {
        Error::ChecksumMismatch { offset, .. }
        | Error::Truncated { offset, .. }
        | Error::Zeroed { offset, .. }
        | Error::WalLengthOutOfBounds { offset, .. } => *offset,
        other => panic!("{other:?}"),
    }
}

#[test]
fn resync_skips_garbage_and_older_records() {
    let (mut buf, starts) = log(1, 8);
    for b in &mut buf[starts[1]..starts[5]] {
        *b = 0x5A;
    }
    let next = resync_wal(&buf, BASE, starts[1], Lsn(2)).unwrap();
    assert_eq!(next.lsn, Lsn(6));
    assert_eq!(next.offset, BASE + starts[5] as u64);
    // Records below min_lsn are not a resynchronisation point.
    assert!(resync_wal(&buf, BASE, 0, Lsn(100)).is_none());
}

/// The reader stays put after an error or the end.
#[test]
fn reader_is_idempotent_at_the_end_and_after_errors() {
    let (mut buf, starts) = log(1, 3);
    buf[starts[2] + 1] ^= 1;
    let mut reader = WalReader::new(&buf, BASE, Some(Lsn(1)));
    reader.next_step().unwrap();
    reader.next_step().unwrap();
    let first = reader.next_step().unwrap_err();
    assert_eq!(reader.next_step().unwrap_err(), first);
    assert_eq!(reader.offset(), BASE + starts[2] as u64);
    assert_eq!(reader.next_lsn(), Some(Lsn(3)));
}

/// A `Txn` write that breaks the schema's rules (a put with both or
/// neither value, a delete with a value or a time, an unknown kind) is a
/// typed error naming the write, not a panic and not a silent guess.
#[test]
fn invalid_txn_writes_are_named_errors() {
    use jubilant_format::generated::wal as fb;
    let cases: [(&str, fb::WriteKind, bool, bool, u64); 5] = [
        ("both an inline value and a value reference", fb::WriteKind::Put, true, true, 0),
        ("neither an inline value nor a value reference", fb::WriteKind::Put, false, false, 0),
        ("a delete with a value", fb::WriteKind::Delete, true, false, 0),
        ("a delete with a time", fb::WriteKind::Delete, false, false, 5),
        ("unknown write kind 9", fb::WriteKind(9), false, false, 0),
    ];
    for (reason, kind, inline, by_ref, unix_ms) in cases {
        let mut fbb = flatbuffers::FlatBufferBuilder::new();
        let key = fbb.create_vector(b"k");
        let value = inline.then(|| fbb.create_vector(b"v"));
        let r = fb::ValueRef::new(1, 2, 30, 4);
        let w = fb::TxnWrite::create(
            &mut fbb,
            &fb::TxnWriteArgs { kind, key: Some(key), value, value_ref: by_ref.then_some(&r), unix_ms },
        );
        let writes = fbb.create_vector(&[w]);
        let t = fb::Txn::create(
            &mut fbb,
            &fb::TxnArgs { txn_id: 1, commit_unix_ms: 2, durable_lsn: 3, writes: Some(writes) },
        );
        let root = fb::WalRecord::create(
            &mut fbb,
            &fb::WalRecordArgs { payload_type: fb::Payload::Txn, payload: Some(t.as_union_value()) },
        );
        fbb.finish_minimal(root);
        let err = jubilant_format::wal::WalPayload::decode(fbb.finished_data(), 4096).unwrap_err().to_string();
        assert!(err.contains("Txn write 0") && err.contains(reason) && err.contains("4096"), "{reason}: {err}");
    }
}
