//! Tests of the storage layer: `SimStorage`'s crash and fault model, and
//! `FsStorage` against a real temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use jubilant_engine::storage::fs::FsStorage;
use jubilant_engine::storage::sim::{CrashMode, Fault, FaultKind, SECTOR_BYTES, SimRng, SimStorage};
use jubilant_engine::storage::{Storage, StorageFile, read_exact_at};

fn path(s: &str) -> &Path {
    Path::new(s)
}

/// A simulated disk with `/db` created.
fn sim(seed: u64) -> SimStorage {
    let sim = SimStorage::new(seed);
    sim.create_dir_all(path("/db")).unwrap();
    sim
}

/// Creates `name` with `bytes`, syncs it and its directory.
fn durable_file(storage: &dyn Storage, name: &str, bytes: &[u8]) {
    let file = storage.create(path(name)).unwrap();
    file.write_at(bytes, 0).unwrap();
    file.sync().unwrap();
    storage.sync_dir(path(name).parent().unwrap()).unwrap();
}

fn read_all(file: &dyn StorageFile) -> Vec<u8> {
    let mut buf = vec![0; usize::try_from(file.len().unwrap()).unwrap()];
    read_exact_at(file, &mut buf, 0).unwrap();
    buf
}

fn is_simulated_crash(error: &io::Error) -> bool {
    error.to_string().contains("simulated crash")
}

// ---- durability of file data ----

#[test]
fn unsynced_writes_are_lost_under_keep_nothing() {
    let sim = sim(1);
    durable_file(&sim, "/db/a", b"old");
    let file = sim.open(path("/db/a")).unwrap();
    file.write_at(b"new data", 0).unwrap();
    assert_eq!(sim.contents(path("/db/a")).unwrap(), b"new data");
    assert_eq!(sim.durable_contents(path("/db/a")).unwrap(), b"old");
    sim.crash(CrashMode::KeepNothing);
    assert_eq!(sim.contents(path("/db/a")).unwrap(), b"old");
    assert_eq!(read_all(&*sim.open(path("/db/a")).unwrap()), b"old");
}

#[test]
fn synced_writes_survive_every_mode() {
    for (seed, mode) in CrashMode::ALL.into_iter().enumerate() {
        let sim = sim(seed as u64);
        durable_file(&sim, "/db/a", &[9; 3000]);
        sim.crash(mode);
        assert_eq!(sim.contents(path("/db/a")).unwrap(), vec![9; 3000], "{mode:?}");
        sim.check_invariants();
    }
}

#[test]
fn set_len_is_durable_only_after_sync() {
    let sim = sim(2);
    durable_file(&sim, "/db/a", &[1; 100]);
    let file = sim.open(path("/db/a")).unwrap();
    file.set_len(10).unwrap();
    assert_eq!(file.len().unwrap(), 10);
    sim.crash(CrashMode::KeepNothing);
    assert_eq!(sim.contents(path("/db/a")).unwrap().len(), 100);
    let file = sim.open(path("/db/a")).unwrap();
    file.set_len(10).unwrap();
    file.sync().unwrap();
    sim.crash(CrashMode::KeepNothing);
    assert_eq!(sim.contents(path("/db/a")).unwrap(), vec![1; 10]);
}

// ---- durability of directory entries ----

#[test]
fn created_and_synced_file_without_dir_sync_is_gone_after_crash() {
    let sim = sim(3);
    let file = sim.create(path("/db/new")).unwrap();
    file.write_at(b"data", 0).unwrap();
    file.sync().unwrap();
    assert!(sim.exists(path("/db/new")).unwrap());
    assert_eq!(sim.durable_contents(path("/db/new")), None);
    sim.crash(CrashMode::KeepNothing);
    assert!(!sim.exists(path("/db/new")).unwrap());
    assert_eq!(sim.files(), Vec::<PathBuf>::new());
}

#[test]
fn rename_is_durable_only_after_sync_dir() {
    let sim = sim(4);
    durable_file(&sim, "/db/target", b"old");
    durable_file(&sim, "/db/tmp", b"new");
    sim.rename(path("/db/tmp"), path("/db/target")).unwrap();
    assert_eq!(sim.contents(path("/db/target")).unwrap(), b"new");
    assert!(!sim.exists(path("/db/tmp")).unwrap());
    sim.crash(CrashMode::KeepNothing);
    // The pending rename reverted.
    assert_eq!(sim.contents(path("/db/target")).unwrap(), b"old");
    assert_eq!(sim.contents(path("/db/tmp")).unwrap(), b"new");

    sim.rename(path("/db/tmp"), path("/db/target")).unwrap();
    sim.sync_dir(path("/db")).unwrap();
    sim.crash(CrashMode::KeepNothing);
    assert_eq!(sim.contents(path("/db/target")).unwrap(), b"new");
    assert!(!sim.exists(path("/db/tmp")).unwrap());
    sim.check_invariants();
}

#[test]
fn remove_reverts_without_sync_dir() {
    let sim = sim(5);
    durable_file(&sim, "/db/a", b"keep");
    sim.remove(path("/db/a")).unwrap();
    assert!(!sim.exists(path("/db/a")).unwrap());
    sim.crash(CrashMode::KeepNothing);
    assert_eq!(sim.contents(path("/db/a")).unwrap(), b"keep");
    sim.remove(path("/db/a")).unwrap();
    sim.sync_dir(path("/db")).unwrap();
    sim.crash(CrashMode::KeepNothing);
    assert!(!sim.exists(path("/db/a")).unwrap());
}

#[test]
fn sync_dir_covers_only_its_own_directory() {
    let sim = sim(6);
    sim.create_dir_all(path("/db/sub")).unwrap();
    durable_file(&sim, "/db/sub/x", b"x");
    sim.create(path("/db/y")).unwrap().sync().unwrap();
    sim.sync_dir(path("/db/sub")).unwrap();
    sim.crash(CrashMode::KeepNothing);
    assert_eq!(sim.files(), vec![PathBuf::from("/db/sub/x")]);
    assert_eq!(sim.list_dir(path("/db")).unwrap(), vec!["sub".to_string()]);
}

#[test]
fn removed_file_stays_readable_through_open_handle() {
    let sim = sim(7);
    durable_file(&sim, "/db/a", b"bytes");
    let file = sim.open(path("/db/a")).unwrap();
    sim.remove(path("/db/a")).unwrap();
    assert_eq!(read_all(&*file), b"bytes");
}

#[test]
fn namespace_calls_report_not_found_and_list_sorted() {
    let sim = sim(8);
    assert_eq!(sim.open(path("/db/missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(sim.create(path("/nodir/a")).unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(sim.list_dir(path("/nodir")).unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(sim.remove(path("/db/missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
    for name in ["c", "a", "b"] {
        sim.create(&Path::new("/db").join(name)).unwrap();
    }
    assert_eq!(sim.list_dir(path("/db/")).unwrap(), vec!["a", "b", "c"]);
    let read_only = sim.open_read_only(path("/db/a")).unwrap();
    assert!(read_only.write_at(b"x", 0).is_err());
    assert!(read_only.set_len(1).is_err());
}

// ---- crash modes ----

#[test]
fn keep_prefix_keeps_an_ordered_prefix() {
    let mut kept_lengths = BTreeSet::new();
    for seed in 0..40 {
        let sim = sim(seed);
        durable_file(&sim, "/db/log", b"");
        let file = sim.open(path("/db/log")).unwrap();
        for i in 0..8u8 {
            file.write_at(&[i + 1], u64::from(i)).unwrap();
        }
        sim.crash(CrashMode::KeepPrefix);
        let image = sim.contents(path("/db/log")).unwrap();
        let expected: Vec<u8> = (1..=image.len() as u8).collect();
        assert_eq!(image, expected, "seed {seed}");
        kept_lengths.insert(image.len());
    }
    assert!(kept_lengths.len() >= 5, "prefixes seen: {kept_lengths:?}");
}

#[test]
fn random_subset_keeps_ops_independently() {
    let mut saw_gap = false;
    for seed in 0..20 {
        let sim = sim(seed);
        durable_file(&sim, "/db/f", &[0; 8]);
        let file = sim.open(path("/db/f")).unwrap();
        for i in 0..8u8 {
            file.write_at(&[i + 1], u64::from(i)).unwrap();
        }
        sim.crash(CrashMode::RandomSubset);
        let image = sim.contents(path("/db/f")).unwrap();
        assert_eq!(image.len(), 8);
        for (i, &byte) in image.iter().enumerate() {
            assert!(byte == 0 || usize::from(byte) == i + 1, "seed {seed}: {image:?}");
        }
        // A gap: a later write survived while an earlier one did not.
        saw_gap |= image.windows(2).any(|pair| pair[0] == 0 && pair[1] != 0);
    }
    assert!(saw_gap);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Sector {
    New,
    Old,
    Zero,
    Garbage,
}

#[test]
fn torn_write_tears_at_sector_granularity() {
    const OLD: u8 = 0xAA;
    const NEW: u8 = 0x55;
    let mut seen = BTreeSet::new();
    let mut mixed_images = 0;
    for seed in 0..64 {
        let sim = sim(seed);
        durable_file(&sim, "/db/page", &[OLD; 4096]);
        sim.open(path("/db/page")).unwrap().write_at(&[NEW; 4096], 0).unwrap();
        sim.crash(CrashMode::TornWrite);
        let image = sim.contents(path("/db/page")).unwrap();
        assert_eq!(image.len(), 4096);
        let sectors: Vec<Sector> = image
            .chunks(SECTOR_BYTES)
            .map(|sector| match sector {
                s if s.iter().all(|&b| b == NEW) => Sector::New,
                s if s.iter().all(|&b| b == OLD) => Sector::Old,
                s if s.iter().all(|&b| b == 0) => Sector::Zero,
                _ => Sector::Garbage,
            })
            .collect();
        assert_eq!(sectors.len(), 8);
        let kinds: BTreeSet<Sector> = sectors.iter().copied().collect();
        if kinds.len() > 1 {
            mixed_images += 1;
        }
        seen.extend(kinds);
    }
    let all = [Sector::New, Sector::Old, Sector::Zero, Sector::Garbage];
    assert_eq!(seen, all.into_iter().collect(), "sector outcomes seen");
    assert!(mixed_images >= 10, "only {mixed_images} torn images");
}

#[test]
fn torn_write_damages_only_the_written_range() {
    for seed in 0..32 {
        let sim = sim(seed);
        durable_file(&sim, "/db/f", &[7; 8192]);
        sim.open(path("/db/f")).unwrap().write_at(&[1; 4096], 256).unwrap();
        sim.crash(CrashMode::TornWrite);
        let image = sim.contents(path("/db/f")).unwrap();
        assert!(image[..256].iter().all(|&b| b == 7), "seed {seed}");
        assert!(image[4352..].iter().all(|&b| b == 7), "seed {seed}");
        // Each sector the write touches (the first and last only partly)
        // is one unit: exactly new, old or zero, or garbage, never a mix.
        let bounds = [256, 512, 1024, 1536, 2048, 2560, 3072, 3584, 4096, 4352];
        for range in bounds.windows(2) {
            let sector = &image[range[0]..range[1]];
            let count = |value: u8| sector.iter().filter(|&&b| b == value).count();
            let (new, old, zero) = (count(1), count(7), count(0));
            let whole = [new, old, zero].contains(&sector.len());
            let garbage = new < sector.len() / 2 && old < sector.len() / 2 && zero < sector.len() / 2;
            assert!(whole || garbage, "seed {seed}, bytes {range:?}: {new} new, {old} old, {zero} zero");
        }
    }
}

#[test]
fn length_without_contents_gives_zeros() {
    let sim = sim(9);
    durable_file(&sim, "/db/f", &[1; 100]);
    sim.open(path("/db/f")).unwrap().write_at(&[2; 200], 50).unwrap();
    sim.crash(CrashMode::LengthWithoutContents);
    let image = sim.contents(path("/db/f")).unwrap();
    assert_eq!(image.len(), 250);
    assert!(image[..100].iter().all(|&b| b == 1));
    assert!(image[100..].iter().all(|&b| b == 0));
}

#[test]
fn crash_random_picks_modes_from_the_seed() {
    let modes: BTreeSet<String> = (0..100).map(|seed| format!("{:?}", SimStorage::new(seed).crash_random())).collect();
    assert_eq!(modes.len(), CrashMode::ALL.len());
}

// ---- crash points ----

#[test]
fn crash_after_n_sync_points_halts_at_that_call() {
    let sim = sim(10);
    let file = sim.create(path("/db/a")).unwrap();
    file.write_at(b"one", 0).unwrap();
    sim.set_crash_after(3);
    file.sync().unwrap(); // sync point 1
    sim.sync_dir(path("/db")).unwrap(); // sync point 2
    file.write_at(b"two", 0).unwrap(); // not a sync point
    let error = file.sync().unwrap_err(); // sync point 3: halts
    assert!(is_simulated_crash(&error), "{error}");
    assert!(sim.is_halted());
    assert_eq!(sim.sync_point_count(), 3);
    let calls = sim.call_count();
    let mut buf = [0; 3];
    assert!(is_simulated_crash(&file.read_at(&mut buf, 0).unwrap_err()));
    assert!(is_simulated_crash(&sim.exists(path("/db/a")).unwrap_err()));
    assert_eq!(sim.call_count(), calls, "calls while halted are not counted");

    sim.crash(CrashMode::KeepNothing);
    assert!(!sim.is_halted());
    assert_eq!(sim.contents(path("/db/a")).unwrap(), b"one");
}

#[test]
fn sync_point_count_counts_sync_sync_dir_and_rename() {
    let sim = sim(11);
    let file = sim.create(path("/db/a")).unwrap();
    file.write_at(b"x", 0).unwrap();
    assert_eq!(sim.sync_point_count(), 0);
    file.sync().unwrap();
    sim.rename(path("/db/a"), path("/db/b")).unwrap();
    sim.sync_dir(path("/db")).unwrap();
    assert_eq!(sim.sync_point_count(), 3);
}

#[test]
fn every_sync_point_of_a_workload_can_be_crashed_at() {
    fn workload(sim: &SimStorage) -> io::Result<()> {
        let file = sim.create(path("/db/tmp"))?;
        file.write_at(b"payload", 0)?;
        file.sync()?;
        sim.rename(path("/db/tmp"), path("/db/final"))?;
        sim.sync_dir(path("/db"))
    }
    let total = {
        let sim = sim(12);
        workload(&sim).unwrap();
        sim.sync_point_count()
    };
    assert_eq!(total, 3);
    for n in 1..=total {
        let sim = sim(12);
        sim.set_crash_after(n);
        assert!(is_simulated_crash(&workload(&sim).unwrap_err()));
        sim.crash(CrashMode::KeepNothing);
        // Before the final sync_dir nothing is durable; the file is all or nothing.
        assert_eq!(sim.files(), Vec::<PathBuf>::new(), "crash at point {n}");
    }
}

#[test]
fn crash_after_op_halts_at_that_call() {
    let sim = sim(13);
    let file = sim.create(path("/db/a")).unwrap();
    let start = sim.call_count();
    sim.set_crash_after_op(3);
    file.write_at(b"a", 0).unwrap();
    file.write_at(b"b", 1).unwrap();
    assert!(is_simulated_crash(&file.write_at(b"c", 2).unwrap_err()));
    assert_eq!(sim.call_count(), start + 3);
    assert_eq!(sim.contents(path("/db/a")).unwrap(), b"ab");
}

#[test]
fn handles_opened_before_a_crash_fail_after_it() {
    let sim = sim(14);
    durable_file(&sim, "/db/a", b"data");
    let old = sim.open(path("/db/a")).unwrap();
    sim.crash(CrashMode::KeepNothing);
    let mut buf = [0; 4];
    assert!(is_simulated_crash(&old.read_at(&mut buf, 0).unwrap_err()));
    assert!(is_simulated_crash(&old.write_at(b"x", 0).unwrap_err()));
    let new = sim.open(path("/db/a")).unwrap();
    read_exact_at(&*new, &mut buf, 0).unwrap();
    assert_eq!(&buf, b"data");
}

// ---- fault injection ----

/// A small workload of 8 calls, numbered from 1 on a fresh `sim`: create_dir_all,
/// create, write, sync, sync_dir, read, len, remove.
fn fault_workload(sim: &SimStorage) -> io::Result<()> {
    sim.create_dir_all(path("/db"))?;
    let file = sim.create(path("/db/f"))?;
    file.write_at(&[3; 1000], 0)?;
    file.sync()?;
    sim.sync_dir(path("/db"))?;
    let mut buf = [0; 10];
    read_exact_at(&*file, &mut buf, 0)?;
    file.len()?;
    sim.remove(path("/db/f"))
}

#[test]
fn io_error_countdown_fails_exactly_the_kth_call() {
    let total = {
        let sim = SimStorage::new(15);
        fault_workload(&sim).unwrap();
        sim.call_count()
    };
    assert_eq!(total, 8);
    for k in 1..=total {
        let sim = SimStorage::new(15);
        sim.inject(Fault::transient(k, FaultKind::Eio));
        let error = fault_workload(&sim).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(5), "call {k}");
        assert_eq!(sim.call_count(), k, "the workload stops at the failed call");
    }
    let sim = SimStorage::new(15);
    sim.inject(Fault::transient(total + 1, FaultKind::Eio));
    fault_workload(&sim).unwrap();
}

#[test]
fn transient_fault_fires_once_persistent_fault_keeps_firing() {
    let sim = sim(16);
    let file = sim.create(path("/db/f")).unwrap();
    let next = sim.call_count() + 1;
    sim.inject(Fault::transient(next, FaultKind::Enospc));
    let error = file.write_at(b"x", 0).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::StorageFull);
    assert_eq!(error.raw_os_error(), Some(28));
    file.write_at(b"x", 0).unwrap();

    let next = sim.call_count() + 2;
    sim.inject(Fault::persistent(next, FaultKind::Eio));
    file.len().unwrap();
    for _ in 0..5 {
        assert_eq!(file.len().unwrap_err().raw_os_error(), Some(5));
    }
    assert_eq!(sim.exists(path("/db/f")).unwrap_err().raw_os_error(), Some(5));
    sim.clear_faults();
    assert!(sim.exists(path("/db/f")).unwrap());
}

#[test]
fn faulted_call_has_no_effect() {
    let sim = sim(17);
    sim.inject(Fault::transient(sim.call_count() + 1, FaultKind::Eio));
    assert!(sim.create(path("/db/f")).is_err());
    assert!(!sim.exists(path("/db/f")).unwrap());
}

#[test]
fn short_write_writes_a_proper_prefix_then_fails() {
    let mut lengths = BTreeSet::new();
    for seed in 0..30 {
        let sim = sim(seed);
        let file = sim.create(path("/db/f")).unwrap();
        sim.inject(Fault::transient(sim.call_count() + 1, FaultKind::ShortWrite));
        let error = file.write_at(&[5; 100], 0).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
        let image = sim.contents(path("/db/f")).unwrap();
        assert!(image.len() < 100 && image.iter().all(|&b| b == 5), "seed {seed}");
        lengths.insert(image.len());
    }
    assert!(lengths.len() > 5, "prefix lengths seen: {lengths:?}");
    // On other calls a short-write fault is plain EIO.
    let sim = sim(0);
    sim.inject(Fault::transient(sim.call_count() + 1, FaultKind::ShortWrite));
    assert_eq!(sim.exists(path("/db")).unwrap_err().raw_os_error(), Some(5));
}

#[test]
fn fsync_error_drops_pending_writes() {
    let sim = sim(18);
    durable_file(&sim, "/db/f", b"durable");
    let file = sim.open(path("/db/f")).unwrap();
    file.write_at(b"volatile-and-longer", 0).unwrap();
    sim.inject(Fault::transient(sim.call_count() + 1, FaultKind::FsyncError));
    assert_eq!(file.sync().unwrap_err().raw_os_error(), Some(5));
    // The writes are gone from the page cache too, and the next sync
    // "succeeds" with nothing to write (fsyncgate).
    assert_eq!(read_all(&*file), b"durable");
    file.sync().unwrap();
    sim.crash(CrashMode::RandomSubset);
    assert_eq!(sim.contents(path("/db/f")).unwrap(), b"durable");
}

#[test]
fn fsync_error_on_sync_dir_fails_and_leaves_entries_pending() {
    let sim = sim(19);
    sim.create(path("/db/f")).unwrap();
    sim.inject(Fault::transient(sim.call_count() + 1, FaultKind::FsyncError));
    assert_eq!(sim.sync_dir(path("/db")).unwrap_err().raw_os_error(), Some(5));
    assert!(sim.exists(path("/db/f")).unwrap());
    sim.sync_dir(path("/db")).unwrap();
    sim.crash(CrashMode::KeepNothing);
    assert!(sim.exists(path("/db/f")).unwrap());
}

#[test]
fn crash_clears_faults_and_triggers() {
    let sim = sim(20);
    sim.inject(Fault::persistent(1, FaultKind::Eio));
    sim.set_crash_after(1);
    sim.crash(CrashMode::KeepNothing);
    sim.sync_dir(path("/db")).unwrap();
    assert!(!sim.is_halted());
}

// ---- determinism ----

/// A scripted workload mixing writes, syncs, faults and random crashes;
/// returns everything it observed.
fn scripted_run(seed: u64) -> Vec<String> {
    let sim = sim(seed);
    let mut rng = SimRng::new(seed ^ 0xDEAD_BEEF);
    let mut log = Vec::new();
    for round in 0..6 {
        sim.inject(Fault::transient(sim.call_count() + 1 + rng.below(20), FaultKind::ShortWrite));
        for i in 0..10u64 {
            let name = format!("/db/f{}", rng.below(3));
            let result = (|| -> io::Result<()> {
                let file = match sim.open(path(&name)) {
                    Ok(file) => file,
                    Err(_) => sim.create(path(&name))?,
                };
                let mut data = vec![0; usize::try_from(rng.below(2000)).unwrap()];
                rng.fill(&mut data);
                file.write_at(&data, rng.below(3000))?;
                if rng.coin() {
                    file.sync()?;
                }
                if i % 4 == 3 {
                    sim.sync_dir(path("/db"))?;
                }
                Ok(())
            })();
            log.push(format!("{round}.{i}: {result:?}"));
        }
        let mode = sim.crash_random();
        log.push(format!("{mode:?}"));
        for file in sim.files() {
            log.push(format!("{}: {:?}", file.display(), sim.contents(&file)));
        }
        sim.check_invariants();
    }
    log
}

#[test]
fn same_seed_gives_identical_results() {
    for seed in 0..5 {
        assert_eq!(scripted_run(seed), scripted_run(seed));
    }
    assert_ne!(scripted_run(1), scripted_run(2));
}

// ---- locks ----

#[test]
fn sim_try_lock_conflicts_until_dropped_or_crashed() {
    let sim = sim(21);
    let guard = sim.try_lock(path("/db/LOCK")).unwrap().unwrap();
    assert!(sim.exists(path("/db/LOCK")).unwrap());
    assert!(sim.try_lock(path("/db/LOCK")).unwrap().is_none());
    drop(guard);
    let guard = sim.try_lock(path("/db/LOCK")).unwrap().unwrap();
    sim.sync_dir(path("/db")).unwrap();
    sim.crash(CrashMode::KeepNothing);
    // The crash killed the holder; its guard dropping later is harmless.
    let after = sim.try_lock(path("/db/LOCK")).unwrap().unwrap();
    drop(guard);
    assert!(sim.try_lock(path("/db/LOCK")).unwrap().is_none());
    drop(after);
}

// ---- FsStorage ----

/// A fresh directory under the system temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("jubilant-storage-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn fs_storage_round_trip() {
    let temp = TempDir::new("round-trip");
    let fs = FsStorage::new();
    let dir = temp.0.join("db");
    fs.create_dir_all(&dir).unwrap();
    let a = dir.join("a");
    let file = fs.create(&a).unwrap();
    file.write_at(b"hello world", 0).unwrap();
    file.write_at(b"HELLO", 0).unwrap();
    file.sync().unwrap();
    fs.sync_dir(&dir).unwrap();
    assert_eq!(file.len().unwrap(), 11);
    let mut buf = [0; 20];
    assert_eq!(file.read_at(&mut buf, 6).unwrap(), 5);
    assert_eq!(&buf[..5], b"world");
    let error = read_exact_at(&*file, &mut buf, 0).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    file.set_len(5).unwrap();
    assert_eq!(read_all(&*fs.open_read_only(&a).unwrap()), b"HELLO");
    assert!(fs.open_read_only(&a).unwrap().write_at(b"x", 0).is_err());

    let b = dir.join("b");
    fs.rename(&a, &b).unwrap();
    fs.sync_dir(&dir).unwrap();
    assert!(!fs.exists(&a).unwrap());
    assert!(fs.exists(&b).unwrap());
    fs.create(&dir.join("c")).unwrap();
    assert_eq!(fs.list_dir(&dir).unwrap(), vec!["b", "c"]);
    fs.remove(&b).unwrap();
    assert_eq!(fs.open(&b).unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(fs.list_dir(&dir.join("missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
    // create truncates an existing file.
    let c = fs.create(&dir.join("c")).unwrap();
    c.write_at(b"xyz", 0).unwrap();
    assert_eq!(read_all(&*fs.create(&dir.join("c")).unwrap()), b"");
}

#[test]
fn fs_try_lock_conflicts_while_the_guard_lives() {
    let temp = TempDir::new("lock");
    let fs = FsStorage::new();
    let lock_path = temp.0.join("LOCK");
    let guard = fs.try_lock(&lock_path).unwrap().unwrap();
    assert!(fs.exists(&lock_path).unwrap());
    // flock locks belong to open file descriptions: a second open conflicts.
    assert!(fs.try_lock(&lock_path).unwrap().is_none());
    drop(guard);
    assert!(fs.try_lock(&lock_path).unwrap().is_some());
}
