//! Transactions: overlay semantics, every abort path, locks (upgrade,
//! timeouts, ranges, fairness), serializability with a history checker,
//! and crashes in the middle of concurrent transactions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jubilant_engine::lock::{LockError, LockManager, LockMode, LockRequest};
use jubilant_engine::storage::sim::{CrashMode, Fault, FaultKind, SimStorage};
use jubilant_engine::{AbortReason, Condition, Db, Error, OpResult, Options, TxnOp, TxnOutcome, WriteBatch};
use jubilant_format::{Lsn, TxnId};

use crate::support::{assert_invariants, contents, open_sim, sim_options};

fn get(key: &str) -> TxnOp {
    TxnOp::Get { key: key.into() }
}

fn set(key: &str, value: &str) -> TxnOp {
    TxnOp::Set { key: key.into(), value: value.into(), ttl_ms: None }
}

fn assert_op(key: &str, condition: Condition) -> TxnOp {
    TxnOp::Assert { key: key.into(), condition }
}

fn committed(outcome: TxnOutcome) -> (Vec<OpResult>, Option<Lsn>) {
    match outcome {
        TxnOutcome::Committed { results, commit_lsn } => (results, commit_lsn),
        other => panic!("expected a commit, got {other:?}"),
    }
}

#[test]
fn operations_run_in_order_on_an_overlay() {
    let sim = SimStorage::new(21);
    let db = open_sim(&sim).unwrap();
    let mut b = WriteBatch::new();
    b.put("a", "1").put("c", "3").put("e", "5");
    let v0 = db.write(&b).unwrap();
    let ops = vec![
        get("a"),
        set("a", "10"),
        get("a"),
        TxnOp::Del { key: "c".into() },
        TxnOp::Del { key: "zz".into() },
        set("d", "4"),
        TxnOp::Scan { start: Some(b"a".to_vec()), end: None, limit: 0, reverse: false },
        TxnOp::Scan { start: None, end: Some(b"e".to_vec()), limit: 1, reverse: true },
        assert_op("a", Condition::ValueEquals(b"10".to_vec())),
        assert_op("c", Condition::Absent),
        assert_op("e", Condition::VersionEquals(v0)),
    ];
    let (results, lsn) = committed(db.transact(&ops).unwrap());
    let lsn = lsn.unwrap();
    let OpResult::Get(Some(first)) = &results[0] else { panic!("{:?}", results[0]) };
    assert_eq!((first.value.as_slice(), first.version), (b"1".as_slice(), Some(v0)));
    let OpResult::Get(Some(second)) = &results[2] else { panic!() };
    assert_eq!((second.value.as_slice(), second.version), (b"10".as_slice(), None), "read your own write");
    assert_eq!(results[3], OpResult::Del { existed: true });
    assert_eq!(results[4], OpResult::Del { existed: false });
    let OpResult::Scan { items, truncated: false } = &results[6] else { panic!("{:?}", results[6]) };
    let keys: Vec<&[u8]> = items.iter().map(|i| i.key.as_slice()).collect();
    assert_eq!(keys, vec![b"a".as_slice(), b"d", b"e"]);
    let OpResult::Scan { items, truncated: true } = &results[7] else { panic!("{:?}", results[7]) };
    assert_eq!(items[0].key, b"d");
    assert_eq!(
        contents(&db).into_iter().collect::<Vec<_>>(),
        vec![(b"a".to_vec(), b"10".to_vec()), (b"d".to_vec(), b"4".to_vec()), (b"e".to_vec(), b"5".to_vec()),]
    );
    assert_eq!(db.get_entry(b"a").unwrap().unwrap().version, lsn);
    assert_eq!(db.get_entry(b"e").unwrap().unwrap().version, v0, "untouched keys keep their version");
    // A read-only transaction commits without writing.
    let (_, none) = committed(db.transact(&[get("a")]).unwrap());
    assert_eq!(none, None);
    assert_eq!(db.stats().transactions.commits, 2);
}

#[test]
fn every_failing_assert_aborts_with_its_index_and_leaves_no_trace() {
    let sim = SimStorage::new(22);
    let db = open_sim(&sim).unwrap();
    let mut b = WriteBatch::new();
    b.put("k", "v");
    let v = db.write(&b).unwrap();
    let before = contents(&db);
    let failing = [
        Condition::Exists,
        Condition::Absent,
        Condition::ValueEquals(b"other".to_vec()),
        Condition::VersionEquals(Lsn(v.get() + 1)),
    ];
    for (i, condition) in failing.into_iter().enumerate() {
        let key = if i == 0 { "missing" } else { "k" };
        // A write before the failing assert and writes after it: none stays.
        let ops = vec![set("x", "1"), assert_op(key, condition.clone()), TxnOp::Del { key: "k".into() }, set("y", "2")];
        match db.transact(&ops).unwrap() {
            TxnOutcome::Aborted { op_index: 1, reason: AbortReason::AssertFailed { condition: c, .. } } => {
                assert_eq!(c, condition);
            }
            other => panic!("{condition:?}: {other:?}"),
        }
        assert_eq!(contents(&db), before, "{condition:?} left a trace");
    }
    let stats = db.stats().transactions;
    assert_eq!((stats.aborts_assert, stats.rollbacks, stats.commits), (4, 4, 0));
    // Version 0 asserts absence.
    committed(db.transact(&[assert_op("missing", Condition::VersionEquals(Lsn(0)))]).unwrap());
}

#[test]
fn a_lock_timeout_aborts_with_a_typed_error_and_changes_nothing() {
    let sim = SimStorage::new(23);
    let db = Db::open(crate::support::DIR, Options { lock_timeout: Duration::from_millis(50), ..sim_options(&sim) })
        .unwrap();
    let blocker = db
        .transactions()
        .locks()
        .acquire_all(
            TxnId(u64::MAX),
            &[LockRequest::Key { key: b"hot".to_vec(), mode: LockMode::Exclusive }],
            Instant::now() + Duration::from_secs(1),
        )
        .unwrap();
    match db.transact(&[set("other", "1"), get("hot")]) {
        Err(Error::LockTimeout { key }) => assert_eq!(key, b"hot"),
        other => panic!("{other:?}"),
    }
    assert_eq!(db.get(b"other").unwrap(), None);
    assert_eq!(db.stats().transactions.aborts_lock_timeout, 1);
    db.transactions().locks().release(blocker);
    committed(db.transact(&[set("other", "1"), get("hot")]).unwrap());
}

#[test]
fn an_io_error_at_commit_aborts_and_the_store_stays_as_before() {
    let sim = SimStorage::new(24);
    let db = open_sim(&sim).unwrap();
    let mut b = WriteBatch::new();
    b.put("a", "1");
    db.write(&b).unwrap();
    let before = contents(&db);
    sim.inject(Fault::persistent(sim.call_count() + 1, FaultKind::Eio));
    assert!(matches!(db.transact(&[set("a", "2"), set("b", "3")]), Err(Error::Io { .. })));
    let stats = db.stats().transactions;
    assert_eq!((stats.aborts_io, stats.commits), (1, 0));
    drop(db);
    sim.clear_faults();
    sim.crash(CrashMode::KeepNothing);
    let db = open_sim(&sim).unwrap();
    assert_eq!(contents(&db), before);
}

#[test]
fn shared_to_exclusive_upgrade_is_rejected_and_releases_everything() {
    let locks = LockManager::new();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut held = locks
        .acquire_all(TxnId(1), &[LockRequest::Key { key: b"k".to_vec(), mode: LockMode::Shared }], deadline)
        .unwrap();
    let err =
        locks.acquire_more(&mut held, &[LockRequest::Key { key: b"k".to_vec(), mode: LockMode::Exclusive }], deadline);
    assert_eq!(err, Err(LockError::UpgradeRejected { key: b"k".to_vec() }));
    assert!(held.is_empty());
    // Everything was released: another transaction gets it at once.
    let other = locks
        .acquire_all(TxnId(2), &[LockRequest::Key { key: b"k".to_vec(), mode: LockMode::Exclusive }], Instant::now())
        .unwrap();
    locks.release(other);
}

#[test]
fn the_plan_takes_the_strongest_mode_and_splits_ranges_around_writes() {
    let plan = LockManager::plan(vec![
        LockRequest::Key { key: b"m".to_vec(), mode: LockMode::Shared },
        LockRequest::Range { start: b"a".to_vec(), end: Some(b"f".to_vec()) },
        LockRequest::Key { key: b"c".to_vec(), mode: LockMode::Exclusive },
        LockRequest::Key { key: b"m".to_vec(), mode: LockMode::Exclusive },
        LockRequest::Range { start: b"e".to_vec(), end: Some(b"h".to_vec()) },
        LockRequest::Key { key: b"b".to_vec(), mode: LockMode::Shared },
    ]);
    assert_eq!(
        plan,
        vec![
            LockRequest::Range { start: b"a".to_vec(), end: Some(b"c".to_vec()) },
            LockRequest::Key { key: b"c".to_vec(), mode: LockMode::Exclusive },
            LockRequest::Range { start: b"c\0".to_vec(), end: Some(b"h".to_vec()) },
            LockRequest::Key { key: b"m".to_vec(), mode: LockMode::Exclusive },
        ]
    );
}

/// A scan's range lock keeps inserts out of its range (no phantoms), and
/// lets inserts elsewhere through.
#[test]
fn a_range_lock_blocks_inserts_into_its_range_only() {
    let locks = LockManager::new();
    let long = Instant::now() + Duration::from_secs(5);
    let scan = locks
        .acquire_all(TxnId(1), &[LockRequest::Range { start: b"a".to_vec(), end: Some(b"c".to_vec()) }], long)
        .unwrap();
    let x = |k: &[u8]| vec![LockRequest::Key { key: k.to_vec(), mode: LockMode::Exclusive }];
    assert!(matches!(
        locks.acquire_all(TxnId(2), &x(b"b"), Instant::now() + Duration::from_millis(30)),
        Err(LockError::Timeout { .. })
    ));
    let outside = locks.acquire_all(TxnId(3), &x(b"c"), Instant::now() + Duration::from_millis(30)).unwrap();
    // Granted at once (nobody in its way), it still keeps a range over it out.
    let over_c = [LockRequest::Range { start: b"c".to_vec(), end: Some(b"d".to_vec()) }];
    assert!(matches!(
        locks.acquire_all(TxnId(6), &over_c, Instant::now() + Duration::from_millis(30)),
        Err(LockError::Timeout { .. })
    ));
    locks.release(outside);
    locks.release(locks.acquire_all(TxnId(6), &over_c, Instant::now() + Duration::from_millis(30)).unwrap());
    // A writer waiting for the range gets the key once the scan ends.
    let waiter = std::thread::scope(|s| {
        let h = s.spawn(|| locks.acquire_all(TxnId(4), &x(b"b"), long));
        std::thread::sleep(Duration::from_millis(20));
        locks.release(scan);
        h.join().unwrap()
    });
    let held = waiter.unwrap();
    // And while it holds "b", a new scan over it waits.
    assert!(matches!(
        locks.acquire_all(
            TxnId(5),
            &[LockRequest::Range { start: b"a".to_vec(), end: None }],
            Instant::now() + Duration::from_millis(30)
        ),
        Err(LockError::Timeout { .. })
    ));
    locks.release(held);
    assert!(locks.stats().waits >= 2);
}

/// Exclusive keys granted on the fast path (which skips the range table
/// while no range is active) and range locks never overlap: threads of
/// writers (blocking and non-blocking) and of scanners over random ranges
/// race on 16 keys, each marking what it holds and checking the other
/// kind's marks while it holds it (a Dekker pair: with both marks set at
/// once, at least one side sees the other's).
#[test]
fn exclusive_keys_and_ranges_never_overlap_under_races() {
    const KEYS: usize = 16;
    let locks = LockManager::new();
    let writing: Vec<AtomicU64> = (0..KEYS).map(|_| AtomicU64::new(0)).collect();
    let scanning: Vec<AtomicU64> = (0..KEYS).map(|_| AtomicU64::new(0)).collect();
    let (overlaps, writes, scans) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let key = |k: usize| vec![b'k', k as u8];
    let next_txn = AtomicU64::new(1);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (locks, writing, scanning, overlaps, writes, next_txn) =
                (&locks, &writing, &scanning, &overlaps, &writes, &next_txn);
            s.spawn(move || {
                for i in 0..3_000u64 {
                    let k = ((i * 7 + t * 3) % KEYS as u64) as usize;
                    let plan = [LockRequest::Key { key: key(k), mode: LockMode::Exclusive }];
                    let txn = TxnId(next_txn.fetch_add(1, Ordering::Relaxed));
                    let held = if i % 2 == 0 {
                        locks.try_acquire_all(txn, &plan)
                    } else {
                        locks.acquire_all(txn, &plan, Instant::now() + Duration::from_secs(30)).ok()
                    };
                    let Some(held) = held else { continue };
                    writing[k].fetch_add(1, Ordering::SeqCst);
                    if scanning[k].load(Ordering::SeqCst) != 0 {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    std::hint::spin_loop();
                    writing[k].fetch_sub(1, Ordering::SeqCst);
                    writes.fetch_add(1, Ordering::Relaxed);
                    locks.release(held);
                }
            });
        }
        for t in 0..2u64 {
            let (locks, writing, scanning, overlaps, scans, next_txn) =
                (&locks, &writing, &scanning, &overlaps, &scans, &next_txn);
            s.spawn(move || {
                for i in 0..400u64 {
                    let a = ((i * 5 + t) % KEYS as u64) as usize;
                    let b = (a + 1 + (i % 4) as usize).min(KEYS);
                    let plan = [LockRequest::Range { start: key(a), end: Some(key(b)) }];
                    let txn = TxnId(next_txn.fetch_add(1, Ordering::Relaxed));
                    let held = locks.acquire_all(txn, &plan, Instant::now() + Duration::from_secs(30)).unwrap();
                    for mark in &scanning[a..b] {
                        mark.fetch_add(1, Ordering::SeqCst);
                    }
                    if writing[a..b].iter().any(|w| w.load(Ordering::SeqCst) != 0) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    std::thread::yield_now();
                    for mark in &scanning[a..b] {
                        mark.fetch_sub(1, Ordering::SeqCst);
                    }
                    scans.fetch_add(1, Ordering::Relaxed);
                    locks.release(held);
                }
            });
        }
    });
    assert_eq!(overlaps.load(Ordering::SeqCst), 0, "a range and an exclusive key inside it were held at once");
    assert_eq!(scans.load(Ordering::Relaxed), 800);
    // The blocking half always gets through; the non-blocking half only
    // where no range is in the way.
    assert!(writes.load(Ordering::Relaxed) >= 6_000, "too few writes got through: {writes:?}");
    // Everything was released: a range over all keys and every key are free.
    let all = [LockRequest::Range { start: Vec::new(), end: None }];
    locks.release(locks.try_acquire_all(TxnId(u64::MAX), &all).expect("the whole range is free"));
    for k in 0..KEYS {
        let plan = [LockRequest::Key { key: key(k), mode: LockMode::Exclusive }];
        locks.release(locks.try_acquire_all(TxnId(u64::MAX - 1), &plan).expect("every key is free"));
    }
}

/// Under contention on one key, waiters are served in arrival order: no
/// grant ever overtakes an earlier waiter, and every thread finishes.
#[test]
fn waiters_on_a_hot_key_do_not_starve() {
    let locks = Arc::new(LockManager::new());
    let threads = 8u64;
    let per_thread = 200u64;
    let done = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for t in 0..threads {
            let (locks, done) = (Arc::clone(&locks), Arc::clone(&done));
            s.spawn(move || {
                for i in 0..per_thread {
                    let held = locks
                        .acquire_all(
                            TxnId(t * 1_000_000 + i + 1),
                            &[LockRequest::Key { key: b"hot".to_vec(), mode: LockMode::Exclusive }],
                            Instant::now() + Duration::from_secs(60),
                        )
                        .unwrap();
                    // Hold it long enough for the others to queue up.
                    std::thread::sleep(Duration::from_micros(50));
                    locks.release(held);
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), threads, "a thread starved");
    let stats = locks.stats();
    assert_eq!(stats.overtakes, 0, "a grant overtook an earlier waiter");
    assert!(stats.waits > 0, "there was no contention to be fair about");
}

/// What one committed transaction read and wrote.
#[derive(Debug, Clone)]
struct Record {
    reads: Vec<(Vec<u8>, Lsn)>,
    writes: Vec<Vec<u8>>,
    commit: Option<Lsn>,
}

/// Checks that the committed transactions are conflict-serializable: the
/// precedence graph (write→read, write→write, read→next write) is acyclic.
fn assert_serializable(history: &[Record]) {
    // Versions of each key, in commit order, and who wrote them.
    let mut writers: BTreeMap<Vec<u8>, Vec<(Lsn, usize)>> = BTreeMap::new();
    for (i, r) in history.iter().enumerate() {
        if let Some(lsn) = r.commit {
            for k in &r.writes {
                writers.entry(k.clone()).or_default().push((lsn, i));
            }
        }
    }
    for v in writers.values_mut() {
        v.sort();
    }
    let mut edges: HashMap<usize, HashSet<usize>> = HashMap::new();
    let mut edge = |a: usize, b: usize| {
        if a != b {
            edges.entry(a).or_default().insert(b);
        }
    };
    for list in writers.values() {
        for w in list.windows(2) {
            edge(w[0].1, w[1].1);
        }
    }
    for (i, r) in history.iter().enumerate() {
        for (k, version) in &r.reads {
            let list = writers.get(k).map(Vec::as_slice).unwrap_or_default();
            // Who wrote the version read (none for the initial state).
            if let Some(&(_, w)) = list.iter().find(|(lsn, _)| lsn == version) {
                edge(w, i);
            } else {
                assert!(version.get() <= 1_000_000, "read a version nobody wrote");
            }
            // The next writer after the version read depends on this read.
            if let Some(&(_, next)) = list.iter().find(|(lsn, _)| lsn > version) {
                edge(i, next);
            }
        }
    }
    // Depth-first search for a cycle.
    let mut state = vec![0u8; history.len()];
    fn visit(n: usize, edges: &HashMap<usize, HashSet<usize>>, state: &mut [u8]) -> bool {
        state[n] = 1;
        for &m in edges.get(&n).into_iter().flatten() {
            if state[m] == 1 || (state[m] == 0 && visit(m, edges, state)) {
                return true;
            }
        }
        state[n] = 2;
        false
    }
    for n in 0..history.len() {
        assert!(state[n] != 0 || !visit(n, &edges, &mut state), "the precedence graph has a cycle");
    }
}

const ACCOUNTS: u64 = 8;
const START: i64 = 1_000;

fn account(i: u64) -> String {
    format!("acct{i}")
}

fn balance(item: &Option<jubilant_engine::ReadItem>) -> (i64, Lsn) {
    let item = item.as_ref().unwrap();
    (String::from_utf8(item.value.clone()).unwrap().parse().unwrap(), item.version.unwrap())
}

/// Transfers guarded by version ASSERTs, counter increments, and
/// read-only audits, from many threads; the total is conserved, every
/// audit sees it, the counter equals the committed increments, and the
/// history is serializable.
#[test]
fn concurrent_transfers_are_serializable() {
    let dir = crate::support::TempDir::new("txn-bank");
    let db = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
    let mut b = WriteBatch::new();
    for i in 0..ACCOUNTS {
        b.put(account(i), START.to_string());
    }
    b.put("counter", "0");
    db.write(&b).unwrap();
    let history = Arc::new(Mutex::new(Vec::<Record>::new()));
    let increments = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for t in 0..6u64 {
            let (db, history, increments) = (Arc::clone(&db), Arc::clone(&history), Arc::clone(&increments));
            s.spawn(move || {
                let mut seed = t * 7 + 1;
                let mut next = || {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    seed >> 33
                };
                for _ in 0..150 {
                    match next() % 3 {
                        0 => {
                            // Transfer: read both, then write guarded by versions.
                            let (a, c) = (next() % ACCOUNTS, next() % ACCOUNTS);
                            if a == c {
                                continue;
                            }
                            let (results, _) = committed(db.transact(&[get(&account(a)), get(&account(c))]).unwrap());
                            let (OpResult::Get(ra), OpResult::Get(rc)) = (&results[0], &results[1]) else { panic!() };
                            let ((ba, va), (bc, vc)) = (balance(ra), balance(rc));
                            let amount = (next() % 50) as i64;
                            let ops = vec![
                                assert_op(&account(a), Condition::VersionEquals(va)),
                                assert_op(&account(c), Condition::VersionEquals(vc)),
                                set(&account(a), &(ba - amount).to_string()),
                                set(&account(c), &(bc + amount).to_string()),
                            ];
                            if let TxnOutcome::Committed { commit_lsn, .. } = db.transact(&ops).unwrap() {
                                history.lock().unwrap().push(Record {
                                    reads: vec![(account(a).into_bytes(), va), (account(c).into_bytes(), vc)],
                                    writes: vec![account(a).into_bytes(), account(c).into_bytes()],
                                    commit: commit_lsn,
                                });
                            }
                        }
                        1 => {
                            // Read-modify-write counter.
                            let (results, _) = committed(db.transact(&[get("counter")]).unwrap());
                            let OpResult::Get(r) = &results[0] else { panic!() };
                            let (n, v) = balance(r);
                            let ops = vec![
                                assert_op("counter", Condition::VersionEquals(v)),
                                set("counter", &(n + 1).to_string()),
                            ];
                            if let TxnOutcome::Committed { commit_lsn, .. } = db.transact(&ops).unwrap() {
                                increments.fetch_add(1, Ordering::SeqCst);
                                history.lock().unwrap().push(Record {
                                    reads: vec![(b"counter".to_vec(), v)],
                                    writes: vec![b"counter".to_vec()],
                                    commit: commit_lsn,
                                });
                            }
                        }
                        _ => {
                            // Audit: a scan of every account sees the total.
                            let scan = TxnOp::Scan {
                                start: Some(b"acct".to_vec()),
                                end: Some(b"acctz".to_vec()),
                                limit: 0,
                                reverse: false,
                            };
                            let (results, _) = committed(db.transact(&[scan]).unwrap());
                            let OpResult::Scan { items, .. } = &results[0] else { panic!() };
                            let total: i64 = items
                                .iter()
                                .map(|i| String::from_utf8(i.value.clone()).unwrap().parse::<i64>().unwrap())
                                .sum();
                            assert_eq!(total, START * ACCOUNTS as i64, "an audit saw a partial transfer");
                            history.lock().unwrap().push(Record {
                                reads: items.iter().map(|i| (i.key.clone(), i.version.unwrap())).collect(),
                                writes: Vec::new(),
                                commit: None,
                            });
                        }
                    }
                }
            });
        }
    });
    let final_total: i64 = (0..ACCOUNTS)
        .map(|i| String::from_utf8(db.get(account(i).as_bytes()).unwrap().unwrap()).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(final_total, START * ACCOUNTS as i64);
    let counter: u64 = String::from_utf8(db.get(b"counter").unwrap().unwrap()).unwrap().parse().unwrap();
    assert_eq!(counter, increments.load(Ordering::SeqCst));
    let history = history.lock().unwrap();
    assert!(history.len() > 300, "only {} transactions committed", history.len());
    assert_serializable(&history);
    assert!(db.stats().transactions.aborts_assert > 0, "the test had no contention");
}

/// A crash in the middle of many concurrent transactions never leaves a
/// transfer half applied.
#[test]
fn a_crash_during_concurrent_transactions_exposes_no_partial_transaction() {
    for seed in 0..30u64 {
        let sim = SimStorage::new(seed);
        {
            let db = open_sim(&sim).unwrap();
            let mut b = WriteBatch::new();
            for i in 0..ACCOUNTS {
                b.put(account(i), START.to_string());
            }
            db.write(&b).unwrap();
        }
        sim.set_crash_after_op(50 + seed * 37);
        if let Ok(db) = open_sim(&sim) {
            let db = Arc::new(db);
            std::thread::scope(|s| {
                for t in 0..4u64 {
                    let db = Arc::clone(&db);
                    s.spawn(move || {
                        for i in 0..100u64 {
                            let (a, c) = ((t + i) % ACCOUNTS, (t + 3 * i + 1) % ACCOUNTS);
                            if a == c {
                                continue;
                            }
                            let Ok(TxnOutcome::Committed { results, .. }) =
                                db.transact(&[get(&account(a)), get(&account(c))])
                            else {
                                return;
                            };
                            let (OpResult::Get(ra), OpResult::Get(rc)) = (&results[0], &results[1]) else { return };
                            let ((ba, va), (bc, vc)) = (balance(ra), balance(rc));
                            let ops = vec![
                                assert_op(&account(a), Condition::VersionEquals(va)),
                                assert_op(&account(c), Condition::VersionEquals(vc)),
                                set(&account(a), &(ba - 7).to_string()),
                                set(&account(c), &(bc + 7).to_string()),
                            ];
                            if db.transact(&ops).is_err() {
                                return;
                            }
                            if i % 25 == 0 && db.checkpoint().is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        }
        sim.crash(CrashMode::from_seed(seed));
        let db = open_sim(&sim).unwrap();
        let total: i64 = (0..ACCOUNTS)
            .map(|i| {
                String::from_utf8(db.get(account(i).as_bytes()).unwrap().unwrap()).unwrap().parse::<i64>().unwrap()
            })
            .sum();
        assert_eq!(total, START * ACCOUNTS as i64, "seed {seed}: a transfer is half applied");
        db.checkpoint().unwrap();
        assert_invariants(&db);
    }
}

/// A small transaction over four keys, for the group tests.
fn small_txn() -> impl proptest::strategy::Strategy<Value = Vec<TxnOp>> {
    use proptest::prelude::*;
    let key = prop_oneof![Just("a"), Just("b"), Just("c"), Just("d")];
    let op = (0u8..8, key, 0u8..4).prop_map(|(kind, key, v)| match kind {
        0 | 1 => set(key, &format!("v{v}")),
        2 => get(key),
        3 => TxnOp::Del { key: key.into() },
        4 => assert_op(key, Condition::Exists),
        5 => assert_op(key, Condition::ValueEquals(format!("v{v}").into_bytes())),
        6 => TxnOp::Scan { start: Some(key.as_bytes().to_vec()), end: None, limit: 2, reverse: v % 2 == 0 },
        _ => set(key, "long-value-that-is-not-small"),
    });
    proptest::collection::vec(op, 1..4)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..proptest::prelude::ProptestConfig::default() })]

    /// `transact_group` gives exactly what running its transactions one
    /// after another with `transact` gives: every result (versions and
    /// commit LSNs included) and the final contents.
    #[test]
    fn a_group_runs_like_its_transactions_one_after_another(
        groups in proptest::collection::vec(proptest::collection::vec(small_txn(), 1..10), 1..5),
    ) {
        let (one, many) = (SimStorage::new(31), SimStorage::new(31));
        let (one, many) = (open_sim(&one).unwrap(), open_sim(&many).unwrap());
        for group in &groups {
            let expected: Vec<_> = group.iter().map(|ops| format!("{:?}", one.transact(ops))).collect();
            let refs: Vec<&[TxnOp]> = group.iter().map(Vec::as_slice).collect();
            let got: Vec<_> = many.transact_group(&refs).iter().map(|r| format!("{r:?}")).collect();
            proptest::prop_assert_eq!(got, expected);
            proptest::prop_assert_eq!(contents(&many), contents(&one));
        }
        let (a, b) = (one.stats().transactions, many.stats().transactions);
        proptest::prop_assert_eq!((a.commits, a.aborts_assert), (b.commits, b.aborts_assert));
    }
}

/// A group's writes share one WAL sync: many writes, few fsyncs.
#[test]
fn a_group_of_writes_shares_one_sync() {
    let sim = SimStorage::new(32);
    let db = open_sim(&sim).unwrap();
    let txns: Vec<Vec<TxnOp>> = (0..16).map(|i| vec![set(&format!("k{i:02}"), "v")]).collect();
    let refs: Vec<&[TxnOp]> = txns.iter().map(Vec::as_slice).collect();
    let before = db.stats().wal.fsyncs;
    for r in db.transact_group(&refs) {
        assert!(committed(r.unwrap()).1.is_some());
    }
    assert_eq!(db.stats().wal.fsyncs - before, 1, "16 independent writes, one fsync");
    assert_eq!(db.stats().transactions.commits, 16);
    assert_eq!(contents(&db).len(), 16);
}

/// Fails the k-th storage call of a group for every k until the group
/// completes: every write acknowledged is there after a crash that keeps
/// only what was synced, nothing is half applied, and the store reopens.
#[test]
fn a_failed_group_sync_acknowledges_none_of_its_writes() {
    for kind in [FaultKind::Eio, FaultKind::FsyncError] {
        for k in 1.. {
            let sim = SimStorage::new(33);
            let db = open_sim(&sim).unwrap();
            let mut b = WriteBatch::new();
            b.put("a", "0").put("z", "0");
            db.write(&b).unwrap();
            let group: Vec<Vec<TxnOp>> = vec![
                vec![set("a", "1"), set("b", "1")],
                vec![get("z")],
                vec![set("c", "1")],
                vec![set("a", "2")],
                vec![set("d", "1"), set("e", "1")],
            ];
            let refs: Vec<&[TxnOp]> = group.iter().map(Vec::as_slice).collect();
            sim.inject(Fault::persistent(sim.call_count() + k, kind));
            let results = db.transact_group(&refs);
            let failed = results.iter().any(Result::is_err);
            let acknowledged: Vec<&Vec<TxnOp>> = group
                .iter()
                .zip(&results)
                .filter(|(_, r)| matches!(r, Ok(TxnOutcome::Committed { .. })))
                .map(|(t, _)| t)
                .collect();
            drop(db);
            sim.clear_faults();
            sim.crash(CrashMode::KeepNothing);
            let db = open_sim(&sim).unwrap();
            let now = contents(&db);
            // Each transaction wholly there or wholly absent, in order.
            let at = |key: &str| now.get(key.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned());
            assert_eq!(at("a").is_some_and(|v| v != "0"), at("b").is_some(), "{kind:?} k={k}: half a transaction");
            assert_eq!(at("d").is_some(), at("e").is_some(), "{kind:?} k={k}: half a transaction");
            for txn in acknowledged {
                for op in txn {
                    if let TxnOp::Set { key, .. } = op {
                        assert!(now.contains_key(key), "{kind:?} k={k}: acknowledged {key:?} lost");
                    }
                }
            }
            assert_invariants(&db);
            if !failed {
                assert_eq!(at("a").as_deref(), Some("2"));
                break;
            }
        }
    }
}

/// `transact_cached` answers a single GET from memory exactly as
/// `transact` does, and declines (doing nothing) whatever would read the
/// disk: an uncached leaf, a value in the value log.
#[test]
fn a_cached_get_answers_like_transact_or_declines() {
    let sim = SimStorage::new(34);
    let opts = Options { vlog_threshold: 1024, ..sim_options(&sim) };
    // A three-level tree: leaves below the pinned top, not cached.
    let db = crate::support::reopened_deep_tree(
        &opts,
        |i| (format!("key{i:06}"), vec![b'v'; 100]),
        ("big", vec![b'b'; 4096]),
    );
    let probe = |key: &str| db.transact_cached(&[get(key)]).map(|r| format!("{:?}", r.unwrap()));
    let plain = |key: &str| format!("{:?}", db.transact(&[get(key)]).unwrap());
    // Freshly opened: only the top two levels are in memory.
    assert_eq!(probe("key012345"), None, "a leaf not in the cache needs the disk");
    let expected = plain("key012345");
    assert_eq!(probe("key012345"), Some(expected), "the leaf is cached now");
    assert_eq!(probe("key012346"), Some(plain("key012346")), "same leaf");
    // A key that is not there, in a cached leaf.
    assert_eq!(probe("key012345a"), Some(plain("key012345a")));
    // A value in the value log always needs the disk.
    plain("big");
    assert_eq!(probe("big"), None);
    // Not a single GET: declined.
    assert!(db.transact_cached(&[get("key000001"), get("key000002")]).is_none());
    assert!(db.transact_cached(&[set("key000001", "x")]).is_none());
    // Memtable entries: inline values answer, value-log references decline.
    let mut b = WriteBatch::new();
    b.put("fresh", "1").put("fresh-big", vec![b'f'; 4096]).delete("key012346");
    db.write(&b).unwrap();
    assert_eq!(probe("fresh"), Some(plain("fresh")));
    assert_eq!(probe("key012346"), Some(plain("key012346")), "a deletion in the memtable");
    assert_eq!(probe("fresh-big"), None);
    // The borrowing form lends the same entry (or declines alike) and
    // counts a committed transaction when it answers.
    let lent = |key: &str| {
        db.transact_get_cached_with(key.as_bytes(), |e| e.map(|e| (e.value.to_vec(), e.version))).map(|r| r.unwrap())
    };
    let commits = db.stats().transactions.commits;
    assert_eq!(lent("fresh"), Some(Some((b"1".to_vec(), db.get_entry(b"fresh").unwrap().unwrap().version))));
    assert_eq!(lent("key012345"), Some(Some((vec![b'v'; 100], db.get_entry(b"key012345").unwrap().unwrap().version))));
    assert_eq!(lent("key012346"), Some(None));
    assert_eq!(lent("big"), None);
    assert_eq!(lent("fresh-big"), None);
    assert_eq!(db.stats().transactions.commits, commits + 3);
}

/// `try_stage_writes` logs blind writes without waiting and stops where it
/// would have to; nothing is visible until `publish_writes`, which syncs
/// any number of staged groups at once.
#[test]
fn staged_writes_never_wait_and_show_nothing_before_their_sync() {
    let sim = SimStorage::new(35);
    let db = open_sim(&sim).unwrap();
    let txns = |ops: &[Vec<TxnOp>]| ops.to_vec();
    // Stops at the first transaction that is not a blind write...
    let group = txns(&[vec![set("a", "1"), set("b", "1")], vec![set("c", "1")], vec![get("a")], vec![set("d", "1")]]);
    let refs: Vec<&[TxnOp]> = group.iter().map(Vec::as_slice).collect();
    let first = db.try_stage_writes(&refs);
    assert_eq!(first.len(), 2);
    // ...at a key it already staged...
    let group = txns(&[vec![set("e", "1")], vec![set("e", "2")]]);
    let refs: Vec<&[TxnOp]> = group.iter().map(Vec::as_slice).collect();
    let second = db.try_stage_writes(&refs);
    assert_eq!(second.len(), 1);
    // ...at a key locked by someone else (here: the first group), and at a
    // value bound for the value log.
    let group = txns(&[vec![set("a", "2")]]);
    let refs: Vec<&[TxnOp]> = group.iter().map(Vec::as_slice).collect();
    let started = Instant::now();
    let third = db.try_stage_writes(&refs);
    assert!(third.is_empty());
    assert!(started.elapsed() < db.lock_timeout(), "it waited for the lock");
    assert_eq!(db.stats().transactions.locks.timeouts, 0, "not waiting is not a timeout");
    let big = [TxnOp::Set { key: b"big".to_vec(), value: vec![0; 64 << 10], ttl_ms: None }];
    assert!(db.try_stage_writes(&[&big[..]]).is_empty());
    // Logged, not visible, not acknowledged.
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"e").unwrap(), None);
    let fsyncs = db.stats().wal.fsyncs;
    let results = db.publish_writes(vec![first, second, third]);
    assert_eq!(db.stats().wal.fsyncs - fsyncs, 1, "one sync for every group");
    assert_eq!(results.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1, 0]);
    for r in results.into_iter().flatten() {
        assert!(committed(r.unwrap()).1.is_some());
    }
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"c").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"e").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.stats().transactions.commits, 3);
    // The locks are free again.
    let again = db.try_stage_writes(&[&[set("a", "3")][..]]);
    assert_eq!(again.len(), 1);
    drop(db.publish_writes(vec![again]));
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"3"[..]));
}

/// Staged SETs keep what `transact` would write: a TTL becomes an expiry
/// (none for 0), and a key written twice in one transaction keeps its
/// last value.
#[test]
fn staged_sets_write_what_transact_would() {
    let sim = SimStorage::new(37);
    let db = open_sim(&sim).unwrap();
    let ttl_set = |key: &str, ttl_ms| TxnOp::Set { key: key.into(), value: b"v".to_vec(), ttl_ms };
    let group = [vec![ttl_set("t", Some(60_000))], vec![ttl_set("z", Some(0))], vec![set("w", "1"), set("w", "2")]];
    let refs: Vec<&[TxnOp]> = group.iter().map(Vec::as_slice).collect();
    let before = db.ttl_now_ms();
    let staged = db.try_stage_writes(&refs);
    assert_eq!(staged.len(), 3);
    let results: Vec<Vec<OpResult>> =
        db.publish_writes(vec![staged]).into_iter().flatten().map(|r| committed(r.unwrap()).0).collect();
    assert_eq!(results, vec![vec![OpResult::Set], vec![OpResult::Set], vec![OpResult::Set, OpResult::Set]]);
    let after = db.ttl_now_ms();
    let read = |key: &str| {
        let (mut results, _) = committed(db.transact(&[get(key)]).unwrap());
        match results.pop() {
            Some(OpResult::Get(Some(item))) => item,
            other => panic!("{key}: {other:?}"),
        }
    };
    let expires = read("t").expires_at_unix_ms.expect("a TTL gives an expiry");
    assert!((before + 60_000..=after + 60_000).contains(&expires), "{before} {expires} {after}");
    assert_eq!(read("z").expires_at_unix_ms, None, "a TTL of 0 is none");
    assert_eq!(read("w").value, b"2");
}

/// A failed sync of staged writes acknowledges none of them, and a crash
/// then leaves none of them behind.
#[test]
fn staged_writes_whose_sync_fails_are_not_acknowledged() {
    for kind in [FaultKind::Eio, FaultKind::FsyncError] {
        let sim = SimStorage::new(36);
        let db = open_sim(&sim).unwrap();
        let mut b = WriteBatch::new();
        b.put("a", "0");
        db.write(&b).unwrap();
        let before = contents(&db);
        let group: Vec<Vec<TxnOp>> = vec![vec![set("a", "1"), set("b", "1")], vec![set("c", "1")]];
        let refs: Vec<&[TxnOp]> = group.iter().map(Vec::as_slice).collect();
        let staged = db.try_stage_writes(&refs);
        assert_eq!(staged.len(), 2);
        sim.inject(Fault::persistent(sim.call_count() + 1, kind));
        let results = db.publish_writes(vec![staged]);
        assert!(results[0].iter().all(Result::is_err), "{kind:?}: {results:?}");
        assert!(db.get(b"c").is_err(), "{kind:?}: the database is poisoned");
        // Staged after the failure, every transaction of a group fails
        // (none is logged), and their locks go back: staging them again
        // fails the same way instead of finding the keys locked.
        let later: Vec<Vec<TxnOp>> = vec![vec![set("d", "1")], vec![set("e", "1")], vec![set("d", "2")]];
        let refs: Vec<&[TxnOp]> = later.iter().map(Vec::as_slice).collect();
        for attempt in 0..2 {
            let staged = db.try_stage_writes(&refs);
            assert_eq!(staged.len(), 2, "{kind:?}, attempt {attempt}: up to the key staged twice");
            let results = db.publish_writes(vec![staged]);
            assert!(
                results[0].iter().all(|r| matches!(r, Err(Error::PreviousIo { .. }))),
                "{kind:?}, attempt {attempt}: {results:?}"
            );
        }
        drop(db);
        sim.clear_faults();
        sim.crash(CrashMode::KeepNothing);
        let db = open_sim(&sim).unwrap();
        assert_eq!(contents(&db), before, "{kind:?}");
        assert_invariants(&db);
    }
}

/// `publish_writes` in its two halves (what the server's commit thread
/// does): after `sync_writes` the writes are visible but each group keeps
/// its locks until `finish_writes` (or its drop) releases them; a failed
/// sync gives the first group the error and the others its text.
#[test]
fn synced_groups_keep_their_locks_until_finished() {
    let sim = SimStorage::new(38);
    let db = open_sim(&sim).unwrap();
    let groups = vec![db.try_stage_writes(&[&[set("a", "1")][..]]), db.try_stage_writes(&[&[set("b", "1")][..]])];
    let errors = db.sync_writes(&groups);
    assert!(errors.iter().all(Option::is_none), "{errors:?}");
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]), "visible after the sync");
    assert!(db.try_stage_writes(&[&[set("a", "2")][..]]).is_empty(), "locked until finished");
    let mut groups = groups.into_iter();
    let results = db.finish_writes(groups.next().unwrap(), None);
    assert!(matches!(results.as_slice(), [Ok(TxnOutcome::Committed { .. })]), "{results:?}");
    let a = db.try_stage_writes(&[&[set("a", "2")][..]]);
    assert_eq!(a.len(), 1, "finishing released the lock");
    assert!(db.try_stage_writes(&[&[set("b", "2")][..]]).is_empty(), "the unfinished group holds its lock");
    drop(groups);
    let b = db.try_stage_writes(&[&[set("b", "2")][..]]);
    assert_eq!(b.len(), 1, "dropping the synced group released its lock");

    sim.inject(Fault::persistent(sim.call_count() + 1, FaultKind::FsyncError));
    let groups = vec![a, b];
    let errors = db.sync_writes(&groups);
    let [Some(first), Some(Error::PreviousIo { first: text })] = errors.as_slice() else {
        panic!("the first group gets the error, the second its text: {errors:?}");
    };
    assert!(!matches!(first, Error::PreviousIo { .. }), "{first:?}");
    assert_eq!(*text, first.to_string());
    let mut errors = errors.into_iter();
    for group in groups {
        let results = db.finish_writes(group, errors.next().flatten());
        assert!(matches!(results.as_slice(), [Err(_)]), "not acknowledged: {results:?}");
    }
}

/// Staged writes dropped without publishing release their locks and are
/// never acknowledged.
#[test]
fn dropped_staged_writes_release_their_locks() {
    let sim = SimStorage::new(37);
    let db = open_sim(&sim).unwrap();
    let first = db.try_stage_writes(&[&[set("a", "1")][..]]);
    assert_eq!(first.len(), 1);
    assert!(db.try_stage_writes(&[&[set("a", "2")][..]]).is_empty(), "locked while staged");
    drop(first);
    let second = db.try_stage_writes(&[&[set("a", "2")][..]]);
    assert_eq!(second.len(), 1, "the drop released the lock");
    let results = db.publish_writes(vec![second]);
    assert!(results[0][0].is_ok());
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"2"[..]));
}

/// A transaction of a group that fails its checks gets the error
/// `transact` gives it; the others of the group commit.
#[test]
fn an_invalid_transaction_fails_alone_in_its_group() {
    let sim = SimStorage::new(38);
    let db = open_sim(&sim).unwrap();
    let too_long = TxnOp::Set { key: vec![b'k'; 2000], value: b"v".to_vec(), ttl_ms: None };
    let group: Vec<Vec<TxnOp>> = vec![vec![set("a", "1")], vec![too_long], vec![set("b", "1")]];
    let refs: Vec<&[TxnOp]> = group.iter().map(Vec::as_slice).collect();
    let results = db.transact_group(&refs);
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(matches!(results[1], Err(Error::KeyTooLarge { .. })), "{:?}", results[1]);
    assert_eq!(contents(&db).len(), 2);
    // Staging stops at it: blind writes only.
    let staged = db.try_stage_writes(&refs[1..]);
    assert!(staged.is_empty());
    drop(db.publish_writes(vec![staged]));
}
