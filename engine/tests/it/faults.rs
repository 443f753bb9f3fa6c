//! The I/O-error countdown (as SQLite and redb do it): for k = 1, 2, …
//! fail the k-th storage call of a workload — transient and persistent
//! EIO, ENOSPC, short writes, fsync errors — until the workload runs past
//! the fault. Each time: the error reaches the caller, the failed commit is
//! not acknowledged, and reopening gives a consistent store holding every
//! acknowledged commit (also after a crash of the faulted state).

use std::collections::BTreeMap;

use jubilant_engine::storage::sim::{CrashMode, Fault, FaultKind, SimStorage};
use jubilant_engine::{Db, Error, WriteBatch};

use crate::support::{assert_invariants, contents, open_sim};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The workload's commits: small puts, a rollover-sized batch of large
/// values, deletes; with reads and checkpoints in between.
/// A change: a key and its new value, or `None` to delete it.
type Change = (Vec<u8>, Option<Vec<u8>>);

fn batches() -> Vec<Vec<Change>> {
    let small = (0..10u8).map(|i| (format!("a{i}").into_bytes(), Some(vec![i; 50]))).collect();
    let large = (0..40u8).map(|i| (format!("b{i:02}").into_bytes(), Some(vec![i; 1_900]))).collect();
    let deletes = (0..10u8).step_by(2).map(|i| (format!("a{i}").into_bytes(), None)).collect();
    vec![small, large, deletes]
}

struct Outcome {
    acked: Model,
    in_flight: Option<Model>,
    error_seen: bool,
}

fn run_workload(sim: &SimStorage) -> Outcome {
    let mut out = Outcome { acked: Model::new(), in_flight: None, error_seen: false };
    let db = match open_sim(sim) {
        Ok(db) => db,
        Err(_) => {
            out.error_seen = true;
            return out;
        }
    };
    for (i, batch) in batches().into_iter().enumerate() {
        let mut next = out.acked.clone();
        let mut b = WriteBatch::new();
        for (k, v) in batch {
            match v {
                Some(v) => {
                    b.put(k.clone(), v.clone());
                    next.insert(k, v);
                }
                None => {
                    b.delete(k.clone());
                    next.remove(&k);
                }
            }
        }
        match db.write(&b) {
            Ok(_) => out.acked = next,
            Err(e) => {
                assert_fault_error(&e);
                out.in_flight = Some(next);
                out.error_seen = true;
                return out;
            }
        }
        let read = db.get(b"a1").and_then(|_| if i == 1 { db.checkpoint().map(|_| ()) } else { Ok(()) });
        if let Err(e) = read {
            assert_fault_error(&e);
            out.error_seen = true;
            return out;
        }
    }
    if let Err(e) = db.checkpoint().and_then(|_| db.close()) {
        assert_fault_error(&e);
        out.error_seen = true;
    }
    out
}

/// The error names the I/O failure (directly, or as the poisoned state it
/// left behind).
fn assert_fault_error(e: &Error) {
    let text = e.to_string();
    assert!(
        matches!(e, Error::Io { .. } | Error::PreviousIo { .. }),
        "unexpected error kind for an injected fault: {e:?}"
    );
    assert!(!text.is_empty());
}

fn check_consistent(sim: &SimStorage, outcome: &Outcome, what: &str) {
    let db: Db = open_sim(sim).unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    let actual = contents(&db);
    assert!(
        actual == outcome.acked || outcome.in_flight.as_ref() == Some(&actual),
        "{what}: {} keys after reopen; acknowledged state has {}",
        actual.len(),
        outcome.acked.len()
    );
    db.checkpoint().unwrap_or_else(|e| panic!("{what}: checkpoint after reopen: {e}"));
    assert_invariants(&db);
}

#[test]
fn every_call_of_a_workload_can_fail_in_every_way() {
    let kinds = [FaultKind::Eio, FaultKind::Enospc, FaultKind::ShortWrite, FaultKind::FsyncError];
    let mut faults_fired = 0;
    for (n, kind) in kinds.iter().enumerate() {
        for persistent in [false, true] {
            for k in 1u64.. {
                assert!(k < 10_000, "the workload never ran past the fault");
                let seed = (n as u64) << 40 | u64::from(persistent) << 32 | k;
                let sim = SimStorage::new(seed);
                let base = sim.call_count();
                let fault =
                    if persistent { Fault::persistent(base + k, *kind) } else { Fault::transient(base + k, *kind) };
                sim.inject(fault);
                let outcome = run_workload(&sim);
                let fired = sim.call_count() >= base + k;
                let what = format!("{kind:?} (persistent: {persistent}) at call {k}");
                if !fired {
                    assert!(!outcome.error_seen, "{what}: an error without a fault");
                    break;
                }
                faults_fired += 1;
                assert!(outcome.error_seen, "{what}: the fault did not reach the caller");
                sim.clear_faults();
                check_consistent(&sim, &outcome, &what);
                sim.crash(CrashMode::KeepPrefix);
                check_consistent(&sim, &outcome, &format!("{what}, then a crash"));
            }
        }
    }
    assert!(faults_fired > 200, "only {faults_fired} faults fired");
}

/// Committers at once when an fsync fails (transient or persistent, at
/// several points): every committer returns — none is left asleep waiting
/// for a sync that will never come — the failure reaches whoever was not
/// yet acknowledged, and every acknowledged write is there after reopen.
#[test]
fn concurrent_committers_all_return_when_a_sync_fails() {
    let threads = 8;
    let per_thread = 30u32;
    for k in [3u64, 10, 25, 60] {
        for persistent in [false, true] {
            let sim = SimStorage::new(k << 1 | u64::from(persistent));
            let db = std::sync::Arc::new(open_sim(&sim).unwrap());
            let at = sim.call_count() + k;
            sim.inject(if persistent {
                Fault::persistent(at, FaultKind::FsyncError)
            } else {
                Fault::transient(at, FaultKind::FsyncError)
            });
            let (tx, rx) = std::sync::mpsc::channel();
            let mut handles = Vec::new();
            for t in 0..threads {
                let db = std::sync::Arc::clone(&db);
                let tx = tx.clone();
                handles.push(std::thread::spawn(move || {
                    let mut acked = Model::new();
                    let mut failed = None;
                    for i in 0..per_thread {
                        let (key, value) = (format!("t{t}-{i:02}").into_bytes(), vec![t as u8; 20]);
                        let mut b = WriteBatch::new();
                        b.put(key.clone(), value.clone());
                        match db.write(&b) {
                            Ok(_) => {
                                acked.insert(key, value);
                            }
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    let _ = tx.send((acked, failed));
                }));
            }
            drop(tx);
            let what = format!("fsync error at call {k} (persistent: {persistent})");
            let mut acked = Model::new();
            let mut errors = 0;
            for _ in 0..threads {
                let (a, failed) = rx
                    .recv_timeout(std::time::Duration::from_secs(60))
                    .unwrap_or_else(|_| panic!("{what}: a committer never returned"));
                acked.extend(a);
                if let Some(e) = failed {
                    assert_fault_error(&e);
                    errors += 1;
                }
            }
            assert!(errors > 0, "{what}: the failed sync reached nobody");
            for h in handles {
                h.join().unwrap();
            }
            drop(db);
            sim.clear_faults();
            let db = open_sim(&sim).unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
            let actual = contents(&db);
            for (key, value) in &acked {
                assert_eq!(actual.get(key), Some(value), "{what}: an acknowledged write is missing");
            }
        }
    }
}

/// Where [`bare_wal`] keeps its segments.
const BARE_WAL_DIR: &str = "/w";

/// A WAL writer alone (no database) on `sim`, with segments of
/// `segment_bytes`, starting at LSN 1.
fn bare_wal(sim: &SimStorage, segment_bytes: u64) -> std::sync::Arc<jubilant_engine::wal::writer::Wal> {
    use jubilant_engine::storage::Storage;
    use jubilant_engine::wal::writer::{Wal, WalPosition};
    let storage: std::sync::Arc<dyn Storage> = std::sync::Arc::new(sim.clone());
    let dir = std::path::Path::new(BARE_WAL_DIR);
    storage.create_dir_all(dir).unwrap();
    let pos =
        WalPosition { segments: Vec::new(), end_offset: 0, next_lsn: jubilant_format::Lsn(1), fresh_segment: false };
    std::sync::Arc::new(Wal::open(storage, dir, 7, segment_bytes, false, &pos).unwrap())
}

/// A group-commit leader whose own records a sync made durable is told
/// so even when the next sync, which it leads for a committer waiting
/// meanwhile, fails: its commit is on disk and must not be reported as
/// failed (a retry would apply it twice). The waiting committer gets the
/// error.
#[test]
fn a_leaders_durable_commit_stands_when_a_sync_it_leads_for_others_fails() {
    use std::sync::{Arc, Mutex, mpsc};

    use jubilant_format::TxnId;
    use jubilant_format::wal::WalPayload;

    let sim = SimStorage::new(3);
    let wal = bare_wal(&sim, 1 << 20);
    let record = |txn: u64| vec![WalPayload::Abort { txn: TxnId(txn) }];
    let first = wal.append(&mut record(1)).unwrap();

    // Before the first sync writes: let a second committer append and go to
    // sleep waiting for the next sync, and arm a failure of that sync's
    // fsync (the first sync's write and fsync come before it).
    let (go, ready) = mpsc::channel::<()>();
    let hook_threads = Arc::new(Mutex::new(Vec::new()));
    {
        let (wal_for_hook, sim, hook_threads) = (Arc::downgrade(&wal), sim.clone(), Arc::clone(&hook_threads));
        wal.set_pre_sync(Arc::new(move || {
            let mut threads = hook_threads.lock().unwrap();
            threads.push(std::thread::current().id());
            if threads.len() == 1 {
                let before = wal_for_hook.upgrade().map(|w| w.next_lsn());
                sim.inject(Fault::transient(sim.call_count() + 2 + 2, FaultKind::FsyncError));
                go.send(()).unwrap();
                // The second committer appends, then parks waiting.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while wal_for_hook.upgrade().map(|w| w.next_lsn()) == before && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Ok(())
        }));
    }
    let other = {
        let wal = Arc::clone(&wal);
        std::thread::spawn(move || {
            ready.recv().unwrap();
            let lsn = wal.append(&mut record(2)).unwrap();
            wal.sync_to(lsn)
        })
    };
    let leader = wal.sync_to(first);
    let waited = other.join().unwrap();
    let threads = hook_threads.lock().unwrap().clone();
    assert_eq!(threads.len(), 2, "two syncs");
    assert_eq!(threads[1], std::thread::current().id(), "the leader led the second sync too");
    assert!(leader.is_ok(), "the leader's records were durable after the first sync: {leader:?}");
    assert!(waited.is_err(), "the second committer's sync failed");
    assert!(wal.poisoned().is_some());
}

/// An append that must roll the segment over while a sync is in flight
/// waits for that sync; if the sync fails, the append fails too and
/// nothing more is written: no roll-over past the failure (it would write
/// after the lost bytes and start a new segment behind a hole).
#[test]
fn no_roll_over_after_the_sync_it_waited_for_failed() {
    use std::sync::{Arc, Mutex, mpsc};

    use jubilant_format::TxnId;
    use jubilant_format::wal::{PutValue, WalPayload};

    let sim = SimStorage::new(4);
    let wal = bare_wal(&sim, 64 << 10);
    let first = wal.append(&mut [WalPayload::Abort { txn: TxnId(1) }]).unwrap();

    let (go, ready) = mpsc::channel::<()>();
    {
        let (sim, go) = (sim.clone(), Mutex::new(Some(go)));
        wal.set_pre_sync(Arc::new(move || {
            if let Some(go) = go.lock().unwrap().take() {
                // This sync's write, then its fsync, which fails.
                sim.inject(Fault::transient(sim.call_count() + 2, FaultKind::FsyncError));
                go.send(()).unwrap();
                // The appender finds this sync in flight and waits for it.
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Ok(())
        }));
    }
    let appender = {
        let wal = Arc::clone(&wal);
        std::thread::spawn(move || {
            ready.recv().unwrap();
            // Larger than what is left of the 64 KiB segment.
            let big = WalPayload::Put {
                txn: TxnId(2),
                key: b"big".to_vec(),
                value: PutValue::Inline(vec![1; 70 << 10]),
                expires_at_unix_ms: None,
            };
            wal.append(&mut [big])
        })
    };
    assert!(wal.sync_to(first).is_err(), "the sync failed");
    let appended = appender.join().unwrap();
    assert!(
        matches!(appended, Err(jubilant_engine::Error::PreviousIo { .. })),
        "an append after the failure must fail: {appended:?}"
    );
    let segments = sim.files().into_iter().filter(|f| f.starts_with(BARE_WAL_DIR)).count();
    assert_eq!(segments, 1, "no new segment after the failure");
}

/// Committers waiting for a sync first yield for it and then sleep: with
/// syncs that take from nothing to several times the yielding bound (a
/// pre-sync hook that sleeps), every committer returns, each only once
/// its records are durable, and they still share syncs.
#[test]
fn committers_that_yield_or_sleep_for_a_sync_return_once_durable() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use jubilant_format::TxnId;
    use jubilant_format::wal::WalPayload;

    let sim = SimStorage::new(9);
    let wal = bare_wal(&sim, 64 << 20);
    let syncs = Arc::new(AtomicU64::new(0));
    {
        let syncs = Arc::clone(&syncs);
        wal.set_pre_sync(Arc::new(move || {
            // 0, 0.1, 1 and 3 ms in turn: shorter and longer than the
            // time a committer yields before it sleeps.
            let n = syncs.fetch_add(1, Ordering::Relaxed);
            let micros = [0, 100, 1_000, 3_000][(n % 4) as usize];
            std::thread::sleep(std::time::Duration::from_micros(micros));
            Ok(())
        }));
    }
    let (threads, per_thread) = (16u64, 40u64);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let lsn = wal.append(&mut [WalPayload::Abort { txn: TxnId(t * 1_000 + i + 1) }]).unwrap();
                    wal.sync_to(lsn).unwrap();
                    let durable = wal.stats().durable_lsn;
                    assert!(durable >= lsn.get(), "sync_to({lsn:?}) returned with the WAL durable to {durable}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let commits = threads * per_thread;
    assert_eq!(wal.stats().durable_lsn, commits);
    let fsyncs = syncs.load(Ordering::Relaxed);
    assert!(fsyncs < commits / 2, "{fsyncs} syncs for {commits} commits: they were not shared");
}

/// Committers yielding for a sync that fails (a short one, shorter than
/// the yielding bound) get its error, not a success: every `sync_to`
/// returns, an `Ok` only for records that were durable, and the failure
/// reaches those whose records it was to cover.
#[test]
fn committers_yielding_for_a_failing_sync_get_its_error() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use jubilant_format::TxnId;
    use jubilant_format::wal::WalPayload;

    let sim = SimStorage::new(10);
    let wal = bare_wal(&sim, 64 << 20);
    let syncs = Arc::new(AtomicU64::new(0));
    {
        let (syncs, sim) = (Arc::clone(&syncs), sim.clone());
        wal.set_pre_sync(Arc::new(move || {
            // The sixth sync's write (or fsync) and everything after fail.
            if syncs.fetch_add(1, Ordering::Relaxed) == 5 {
                sim.inject(Fault::persistent(sim.call_count() + 1, FaultKind::Eio));
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
            Ok(())
        }));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    for t in 0..16u64 {
        let (wal, tx) = (Arc::clone(&wal), tx.clone());
        std::thread::spawn(move || {
            let mut outcome = (0u64, None);
            for i in 0..40 {
                let Ok(lsn) = wal.append(&mut [WalPayload::Abort { txn: TxnId(t * 1_000 + i + 1) }]) else { break };
                match wal.sync_to(lsn) {
                    Ok(()) => {
                        let durable = wal.stats().durable_lsn;
                        assert!(durable >= lsn.get(), "sync_to({lsn:?}) succeeded with the WAL durable to {durable}");
                        outcome.0 += 1;
                    }
                    Err(e) => {
                        outcome.1 = Some(e.to_string());
                        break;
                    }
                }
            }
            let _ = tx.send(outcome);
        });
    }
    drop(tx);
    let mut errors = 0;
    for _ in 0..16 {
        let (_, failed) = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("a committer never returned");
        errors += usize::from(failed.is_some());
    }
    assert!(errors > 0, "the failed sync reached nobody");
    assert!(wal.poisoned().is_some());
}
