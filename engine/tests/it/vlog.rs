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

fn vlog_bytes(sim: &SimStorage) -> u64 {
    vlog_files(sim).iter().map(|f| sim.contents(f).map_or(0, |c| c.len() as u64)).sum()
}

/// After overwriting or deleting half of 64 KiB values, GC brings the
/// value log to within 1.3× of the live bytes, and every value still reads.
#[test]
fn gc_reclaims_the_space_of_dead_values() {
    let sim = SimStorage::new(43);
    let opts = Options { vlog_segment_bytes: 1 << 20, dirty_bytes_max: 4 << 20, ..sim_options(&sim) };
    let db = Db::open(DIR, opts.clone()).unwrap();
    let n = 120u32;
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let mut b = WriteBatch::new();
        for &i in chunk {
            b.put(format!("k{i:03}"), value(i, 64 << 10));
        }
        db.write(&b).unwrap();
    }
    // Overwrite a quarter, delete a quarter.
    let mut expected: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = std::collections::BTreeMap::new();
    for i in 0..n {
        let key = format!("k{i:03}").into_bytes();
        let mut b = WriteBatch::new();
        match i % 4 {
            0 => {
                b.put(key.clone(), value(i + 1_000, 64 << 10));
                expected.insert(key, value(i + 1_000, 64 << 10));
            }
            1 => {
                b.delete(key);
            }
            _ => {
                expected.insert(key, value(i, 64 << 10));
                continue;
            }
        }
        db.write(&b).unwrap();
    }
    db.checkpoint().unwrap();
    let before = vlog_bytes(&sim);
    let report = db.gc_value_log(0.8).unwrap();
    assert!(!report.segments_relocated.is_empty(), "{report:?}");
    assert!(!report.segments_deleted.is_empty(), "{report:?}");
    let live: u64 = expected.values().map(|v| v.len() as u64).sum();
    let after = vlog_bytes(&sim);
    assert!(after < before, "GC freed nothing ({before} → {after})");
    assert!((after as f64) <= 1.3 * live as f64, "value log {after} bytes for {live} live bytes");
    assert_eq!(contents(&db), expected);
    drop(db);
    let db = Db::open(DIR, opts).unwrap();
    assert_eq!(contents(&db), expected);
    crate::support::assert_invariants(&db);
}

/// A crash at any point of GC and the checkpoint after it loses no value
/// and leaves no reference to a missing or damaged record.
#[test]
fn a_crash_during_gc_loses_no_value() {
    for seed in 0..30u64 {
        let sim = SimStorage::new(seed);
        let opts = Options { vlog_segment_bytes: 128 << 10, ..sim_options(&sim) };
        let mut expected: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = std::collections::BTreeMap::new();
        {
            let db = Db::open(DIR, opts.clone()).unwrap();
            for i in 0..24u32 {
                let mut b = WriteBatch::new();
                b.put(format!("k{i:02}"), value(i, 20_000));
                db.write(&b).unwrap();
                expected.insert(format!("k{i:02}").into_bytes(), value(i, 20_000));
            }
            for i in (0..24u32).step_by(2) {
                let mut b = WriteBatch::new();
                b.delete(format!("k{i:02}"));
                db.write(&b).unwrap();
                expected.remove(format!("k{i:02}").as_bytes());
            }
        }
        sim.set_crash_after_op(5 + seed * 11);
        if let Ok(db) = Db::open(DIR, opts.clone()) {
            let _ = db.gc_value_log(0.9);
        }
        sim.crash(jubilant_engine::storage::sim::CrashMode::from_seed(seed));
        let db = Db::open(DIR, opts.clone()).unwrap();
        assert_eq!(contents(&db), expected, "seed {seed}");
        // And GC can finish afterwards.
        db.gc_value_log(0.9).unwrap();
        assert_eq!(contents(&db), expected, "seed {seed}, after a second GC");
    }
}
