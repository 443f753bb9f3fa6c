//! Crash tests on the simulated storage.
//!
//! After every crash, reopening must succeed and show (a) every
//! acknowledged commit, (b) exactly the state after some commit between
//! the last acknowledged and the last attempted (never a partial batch),
//! and (c) a tree whose invariants hold. Plus an acknowledgement audit: when
//! a commit is acknowledged, its record is already in the simulated
//! durable image.
//!
//! - `every_small_workload_at_every_sync_point_in_every_mode`: all
//!   workloads of up to 3 steps from {put, large put, delete, commit,
//!   checkpoint, WAL rollover}, crashed at each of their sync and rename
//!   points under each crash mode.
//! - `random_crash_points`: `JUBILANT_CRASH_POINTS` (default 2,000) seeded
//!   random workloads crashed at a random storage call, 10% of them
//!   crashing again during recovery. A failure prints its seed; rerun one
//!   with `JUBILANT_CRASH_SEED=<seed> cargo test -p jubilant-engine --test it
//!   crash::random_crash_points`. The long run:
//!   `JUBILANT_CRASH_POINTS=100000 cargo test --release -p jubilant-engine
//!   --test it crash::random_crash_points`.

use std::collections::BTreeMap;
use std::path::Path;

use jubilant_engine::storage::sim::{CrashMode, SimRng, SimStorage};
use jubilant_engine::{Db, WriteBatch, inline_limit};
use jubilant_format::manifest::manifest_hash;
use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::superblock::select_superblock;
use jubilant_format::wal::{WalReader, WalStep};
use jubilant_format::{Lsn, PageSize, SegmentHeader, SegmentKind};

use crate::support::{assert_invariants, contents, open_sim};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Put,
    LargePut,
    Delete,
    Commit,
    Checkpoint,
    Rollover,
    /// Value-log garbage collection (relocations and segment deletion).
    Gc,
    /// A put that has already expired (a key of its own: no visible change).
    ExpiredPut,
    /// One run of the TTL sweeper (tombstones through the WAL).
    Sweep,
}

const STEPS: [Step; 6] = [Step::Put, Step::LargePut, Step::Delete, Step::Commit, Step::Checkpoint, Step::Rollover];

/// What a workload did before the crash stopped it.
struct Run {
    /// States after each acknowledged commit; `states[0]` is the start.
    states: Vec<Model>,
    /// The state the commit in flight at the crash would give, if any.
    in_flight: Option<Model>,
}

fn large_value(tag: u64) -> Vec<u8> {
    let len = inline_limit(PageSize::DEFAULT) - 32;
    (0..len).map(|i| (i as u64 * 7 + tag) as u8).collect()
}

/// Creates the directory with some checkpointed keys and some only in
/// the WAL; returns the model.
fn preload(sim: &SimStorage) -> Model {
    let db = open_sim(sim).unwrap();
    let mut model = Model::new();
    let mut b = WriteBatch::new();
    for i in 0..40u32 {
        let (k, v) = (format!("pre{i:03}").into_bytes(), vec![i as u8; 60]);
        b.put(k.clone(), v.clone());
        model.insert(k, v);
    }
    db.write(&b).unwrap();
    db.checkpoint().unwrap();
    let mut b = WriteBatch::new();
    for i in 0..10u32 {
        let (k, v) = (format!("wal{i:03}").into_bytes(), vec![i as u8; 30]);
        b.put(k.clone(), v.clone());
        model.insert(k, v);
    }
    b.delete("pre000");
    model.remove(b"pre000".as_slice());
    db.write(&b).unwrap();
    drop(db);
    model
}

/// Whether the durable image holds commit `lsn`: in a durable WAL
/// segment, or covered by the durable superblock's checkpoint.
fn durable_has(sim: &SimStorage, lsn: Lsn) -> bool {
    let dir = Path::new(crate::support::DIR);
    if let (Some(manifest), Some(pages)) =
        (sim.durable_contents(&dir.join("MANIFEST")), sim.durable_contents(&dir.join("pages.jdb")))
    {
        let hash = manifest_hash(&manifest);
        let slot = |i: usize| pages.get(i * 4096..i * 4096 + 128).unwrap_or_default().to_vec();
        if let Ok(choice) = select_superblock(&slot(0), 0, &slot(1), 4096, hash)
            && choice.superblock.checkpoint_lsn >= lsn
        {
            return true;
        }
    }
    for file in sim.files() {
        if !file.starts_with(dir.join("wal")) {
            continue;
        }
        let Some(bytes) = sim.durable_contents(&file) else {
            continue;
        };
        let Ok(header) = SegmentHeader::decode(&bytes, SegmentKind::Wal) else {
            continue;
        };
        let mut reader =
            WalReader::new(&bytes[SEGMENT_HEADER_LEN..], SEGMENT_HEADER_LEN as u64, Some(header.first_lsn));
        while let Ok(WalStep::Record(r)) = reader.next_step() {
            if r.lsn == lsn {
                return true;
            }
        }
    }
    false
}

/// Runs `steps` until the end or the first error (the crash).
fn run_steps(db: &Db, sim: &SimStorage, steps: &[Step], start: &Model, audit: bool) -> Run {
    let mut run = Run { states: vec![start.clone()], in_flight: None };
    let mut current = start.clone();
    let mut pending: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let tag = i as u64;
        let commit = |pending: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>, current: &Model, run: &mut Run| {
            let mut next = current.clone();
            let mut batch = WriteBatch::new();
            for (k, v) in pending.drain(..) {
                match v {
                    Some(v) => {
                        batch.put(k.clone(), v.clone());
                        next.insert(k, v);
                    }
                    None => {
                        batch.delete(k.clone());
                        next.remove(&k);
                    }
                }
            }
            match db.write(&batch) {
                Ok(lsn) => {
                    if audit && !batch.is_empty() {
                        assert!(durable_has(sim, lsn), "commit {lsn} acknowledged but not in the durable image");
                    }
                    run.states.push(next.clone());
                    Some(next)
                }
                Err(_) => {
                    run.in_flight = Some(next);
                    None
                }
            }
        };
        match step {
            Step::Put => pending.push((format!("key{tag:03}").into_bytes(), Some(vec![tag as u8; 40]))),
            Step::LargePut => pending.push((format!("big{tag:03}").into_bytes(), Some(large_value(tag)))),
            Step::Delete => {
                let victim = current.keys().nth(tag as usize % current.len().max(1)).cloned();
                if let Some(k) = victim {
                    pending.push((k, None));
                }
            }
            Step::Commit => match commit(&mut pending, &current, &mut run) {
                Some(next) => current = next,
                None => return run,
            },
            Step::Rollover => {
                // More than one 64 KiB segment of large values.
                for j in 0..40u64 {
                    pending.push((format!("roll{tag:03}-{j:02}").into_bytes(), Some(large_value(j))));
                }
                match commit(&mut pending, &current, &mut run) {
                    Some(next) => current = next,
                    None => return run,
                }
            }
            Step::Checkpoint => {
                if db.checkpoint().is_err() {
                    return run;
                }
            }
            Step::Gc => {
                // Relocations change no value: the state stays `current`.
                if db.gc_value_log(0.9).is_err() {
                    return run;
                }
            }
            Step::ExpiredPut => {
                // Expired at once: invisible, and gone after a sweep.
                let mut batch = WriteBatch::new();
                batch.put_expiring(format!("exp{tag:03}"), vec![tag as u8; 30], 1);
                if db.write(&batch).is_err() {
                    return run;
                }
            }
            Step::Sweep => {
                if db.sweep_expired().is_err() {
                    return run;
                }
            }
        }
    }
    run
}

/// Reopens after a crash (optionally crashing again during recovery) and
/// checks (a), (b) and (c).
fn recover_and_check(sim: &SimStorage, run: &Run, recovery_crash: Option<(u64, CrashMode)>, what: &str) {
    if let Some((after, mode)) = recovery_crash {
        sim.set_crash_after_op(after);
        if let Ok(db) = open_sim(sim) {
            // Recovery finished before the crash point: use the database
            // until the crash hits, then drop it.
            let _ = db.checkpoint();
            drop(db);
        }
        sim.crash(mode);
    }
    let db = open_sim(sim).unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    let actual = contents(&db);
    let acked = run.states.last().unwrap();
    let ok = actual == *acked || run.in_flight.as_ref() == Some(&actual);
    if !ok {
        let missing: Vec<_> = acked.keys().filter(|k| !actual.contains_key(*k)).take(5).collect();
        panic!(
            "{what}: state after recovery is neither the last acknowledged commit nor the one in flight \
             ({} keys, acknowledged state has {}; first missing: {missing:?})",
            actual.len(),
            acked.len()
        );
    }
    db.checkpoint().unwrap_or_else(|e| panic!("{what}: checkpoint after recovery failed: {e}"));
    assert_invariants(&db);
}

fn workloads(max_len: usize) -> Vec<Vec<Step>> {
    let mut all: Vec<Vec<Step>> = vec![Vec::new()];
    let mut out = Vec::new();
    for _ in 0..max_len {
        let mut next = Vec::new();
        for w in &all {
            for s in STEPS {
                let mut w = w.clone();
                w.push(s);
                out.push(w.clone());
                next.push(w);
            }
        }
        all = next;
    }
    out
}

#[test]
fn every_small_workload_at_every_sync_point_in_every_mode() {
    let mut cases = 0u64;
    for (w, steps) in workloads(3).iter().enumerate() {
        // Count the workload's sync points on a crash-free run.
        let sim = SimStorage::new(w as u64);
        let start = preload(&sim);
        let before = sim.sync_point_count();
        {
            let db = open_sim(&sim).unwrap();
            let run = run_steps(&db, &sim, steps, &start, true);
            assert!(run.in_flight.is_none(), "{steps:?}: failed without a crash");
        }
        let points = sim.sync_point_count() - before;
        for point in 1..=points {
            for (m, mode) in CrashMode::ALL.iter().enumerate() {
                let seed = (w as u64) << 32 | point << 8 | m as u64;
                let sim = SimStorage::new(seed);
                let start = preload(&sim);
                sim.set_crash_after(point);
                let run = match open_sim(&sim) {
                    Ok(db) => run_steps(&db, &sim, steps, &start, false),
                    // The crash hit while opening.
                    Err(_) => Run { states: vec![start], in_flight: None },
                };
                sim.crash(*mode);
                recover_and_check(&sim, &run, None, &format!("workload {steps:?}, sync point {point}, {mode:?}"));
                cases += 1;
            }
        }
    }
    assert!(cases > 1_000, "only {cases} crash cases ran");
}

/// Prints the seed of a failing case.
struct SeedGuard(u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "crash test failed with seed {0}: rerun with JUBILANT_CRASH_SEED={0} cargo test -p jubilant-engine --test it crash::random_crash_points",
                self.0
            );
        }
    }
}

fn random_case(seed: u64) {
    let _guard = SeedGuard(seed);
    let mut rng = SimRng::new(seed);
    let sim = SimStorage::new(seed);
    let start = preload(&sim);
    let len = 1 + rng.below(40) as usize;
    let steps: Vec<Step> = (0..len)
        .map(|_| match rng.below(20) {
            0..=6 => Step::Put,
            7..=8 => Step::LargePut,
            9..=10 => Step::Delete,
            11..=15 => Step::Commit,
            16 => Step::Checkpoint,
            17 => Step::Gc,
            18 => match rng.below(2) {
                0 => Step::ExpiredPut,
                _ => Step::Sweep,
            },
            _ => Step::Rollover,
        })
        .collect();
    // Crash at a random storage call; if the workload ends first, the
    // power fails right after it.
    sim.set_crash_after_op(1 + rng.below(600));
    let run = match open_sim(&sim) {
        Ok(db) => run_steps(&db, &sim, &steps, &start, true),
        // The crash hit while opening.
        Err(_) => Run { states: vec![start], in_flight: None },
    };
    let mode = sim.crash_random();
    let again = (rng.below(10) == 0).then(|| (1 + rng.below(60), CrashMode::from_rng(&mut rng)));
    recover_and_check(&sim, &run, again, &format!("seed {seed} ({mode:?}, steps {steps:?})"));
}

#[test]
fn random_crash_points() {
    if let Some(seed) = std::env::var("JUBILANT_CRASH_SEED").ok().and_then(|s| s.parse().ok()) {
        random_case(seed);
        return;
    }
    let points: u64 = std::env::var("JUBILANT_CRASH_POINTS").ok().and_then(|s| s.parse().ok()).unwrap_or(2_000);
    for seed in 0..points {
        random_case(0xC0FFEE ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}
