//! Decoders fed arbitrary bytes return `Ok` or `Err`, never panic, and
//! readers always stop. (The cargo-fuzz targets in `format/fuzz/` drive the
//! same decoders for longer; see docs/TECH_SPECIFICATION.md.)

use jubilant_format::segment::SegmentKind;
use jubilant_format::superblock::{Slot, select_superblock};
use jubilant_format::vlog::{VlogReader, VlogStep, classify_vlog_damage, decode_vlog_record_at};
use jubilant_format::wal::{WalPayload, WalReader, WalStep, classify_wal_damage};
use jubilant_format::{Lsn, Manifest, PageHeader, PageId, PageSize, SegmentHeader, Superblock, ValueRef};
use proptest::prelude::*;

use crate::samples;

/// Reads a WAL buffer to its end, classifying the damage if any; returns
/// how many records were read. Bounded by the input length.
fn drain_wal(buf: &[u8]) -> usize {
    let mut reader = WalReader::new(buf, 40, None);
    let mut n = 0;
    loop {
        match reader.next_step() {
            Ok(WalStep::Record(r)) => {
                let _ = WalPayload::decode(r.payload, r.offset);
                n += 1;
                assert!(n <= buf.len(), "reader made no progress");
            }
            Ok(WalStep::End(_)) => return n,
            Err(_) => {
                let pos = (reader.offset() - 40) as usize;
                let _ = classify_wal_damage(buf, 40, pos, reader.next_lsn().unwrap_or(Lsn(1)));
                return n;
            }
        }
    }
}

fn drain_vlog(buf: &[u8]) {
    let mut reader = VlogReader::new(buf, 40);
    for _ in 0..=buf.len() {
        match reader.next_step() {
            Ok(VlogStep::Record(_)) => {}
            Ok(VlogStep::End(_)) => return,
            Err(_) => {
                let _ = classify_vlog_damage(buf, 40, (reader.offset() - 40) as usize);
                return;
            }
        }
    }
    panic!("value-log reader made no progress");
}

fn all_decoders(data: &[u8]) {
    let _ = PageHeader::open(data, PageId(2), PageSize::DEFAULT);
    let _ = Superblock::decode(data, Slot::A, 0);
    let _ = select_superblock(data, 0, data.get(64..).unwrap_or_default(), 4096, 0);
    let _ = SegmentHeader::decode(data, SegmentKind::Wal);
    let _ = SegmentHeader::decode(data, SegmentKind::ValueLog);
    let _ = ValueRef::decode(data, 0);
    let _ = WalPayload::decode(data, 0);
    let _ = decode_vlog_record_at(data, 0, 0);
    let _ = Manifest::decode(data);
    drain_wal(data);
    drain_vlog(data);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2_048)) {
        all_decoders(&data);
    }

    /// Arbitrary pages of the exact page size get past the length check.
    #[test]
    fn arbitrary_pages_never_panic(data in proptest::collection::vec(any::<u8>(), 4096)) {
        prop_assert!(PageHeader::open(&data, PageId(2), PageSize::DEFAULT).is_err());
    }

    /// Valid encodings with a few bytes overwritten reach deeper code paths
    /// than random bytes do.
    #[test]
    fn mutated_valid_encodings_never_panic(
        which in 0usize..5,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut data = match which {
            0 => samples::page(),
            1 => samples::superblock(6).encode().to_vec(),
            2 => samples::manifest().encode(),
            3 => {
                let mut log = Vec::new();
                for (_, p) in samples::wal_payloads() {
                    log.extend(samples::wal_record(&p));
                }
                log
            }
            _ => WalPayload::encode(&samples::wal_payloads()[2].1),
        };
        for (index, byte) in edits {
            let i = index.index(data.len());
            data[i] = byte;
        }
        all_decoders(&data);
        if which == 0 {
            let _ = PageHeader::open(&data, samples::PAGE_ID, PageSize::DEFAULT);
        }
    }
}
