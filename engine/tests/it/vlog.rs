//! The value log: large values written once and read through references;
//! damage to a value is reported with its segment and offset.

use std::path::Path;

use jubilant_engine::storage::Storage;
use jubilant_engine::storage::sim::SimStorage;
use jubilant_engine::{Db, Error, Options, WriteBatch};

use crate::support::{DIR, contents, sim_options};

fn opts(sim: &SimStorage) -> Options {
    Options { vlog_segment_bytes: 256 << 10, ..sim_options(sim) }
}

fn value(i: u32, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i as usize * 31 + j * 7) as u8).collect()
}

fn vlog_files(sim: &SimStorage) -> Vec<std::path::PathBuf> {
    let dir = Path::new(DIR).join("vlog");
    sim.files().into_iter().filter(|f| f.starts_with(&dir)).collect()
}

#[test]
fn large_values_live_in_the_value_log_and_survive_checkpoints_and_reopens() {
    let sim = SimStorage::new(41);
    let db = Db::open(DIR, opts(&sim)).unwrap();
    for batch in 0..10u32 {
        let mut b = WriteBatch::new();
        for i in 0..10u32 {
            let n = batch * 10 + i;
            b.put(format!("big{n:03}"), value(n, 20_000 + n as usize));
            b.put(format!("small{n:03}"), value(n, 10));
        }
        db.write(&b).unwrap();
    }
    assert!(vlog_files(&sim).len() >= 7, "2 MB of values in 256 KiB segments: {:?}", vlog_files(&sim));
    let wal_bytes = db.stats().wal.bytes_appended;
    assert!(wal_bytes < 50_000, "the WAL holds references, not 2 MB of values ({wal_bytes} bytes)");
    let check = |db: &Db| {
        for n in 0..100u32 {
            assert_eq!(db.get(format!("big{n:03}").as_bytes()).unwrap(), Some(value(n, 20_000 + n as usize)), "big{n}");
            assert_eq!(db.get(format!("small{n:03}").as_bytes()).unwrap(), Some(value(n, 10)));
        }
        let all = contents(db);
        assert_eq!(all.len(), 200);
        assert_eq!(all[b"big042".as_slice()], value(42, 20_042));
    };
    check(&db);
    db.checkpoint().unwrap();
    check(&db);
    crate::support::assert_invariants(&db);
    drop(db);
    let db = Db::open(DIR, opts(&sim)).unwrap();
    check(&db);
}

#[test]
fn a_flipped_bit_in_a_value_is_reported_and_its_neighbours_stay_readable() {
    let sim = SimStorage::new(42);
    let db = Db::open(DIR, opts(&sim)).unwrap();
    let mut b = WriteBatch::new();
    for n in 0..5u32 {
        b.put(format!("v{n}"), value(n, 5_000));
    }
    db.write(&b).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    let segment = vlog_files(&sim).into_iter().next().unwrap();
    // The third record: header (40) + two records of 24 + 2 + 5,000 bytes.
    let victim_offset = 40 + 2 * (24 + 2 + 5_000) as u64;
    let f = sim.open(&segment).unwrap();
    let mut byte = [0u8; 1];
    jubilant_engine::storage::read_exact_at(&*f, &mut byte, victim_offset + 1_000).unwrap();
    f.write_at(&[byte[0] ^ 0x20], victim_offset + 1_000).unwrap();
    f.sync().unwrap();
    let db = Db::open(DIR, opts(&sim)).unwrap();
    match db.get(b"v2") {
        Err(Error::CorruptValue { segment: s, offset, reason, .. }) => {
            assert_eq!((s.get(), offset), (1, victim_offset));
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected a corrupt value, got {other:?}"),
    }
    for n in [0u32, 1, 3, 4] {
        assert_eq!(db.get(format!("v{n}").as_bytes()).unwrap(), Some(value(n, 5_000)));
    }
}
