//! TTL with a fake clock: expiry at the boundary, clock steps, the
//! sweeper's progress and rate limit, and sweeper tombstones across
//! crashes.

use std::sync::Arc;
use std::time::Duration;

use jubilant_engine::storage::sim::{CrashMode, SimStorage};
use jubilant_engine::ttl::FakeClock;
use jubilant_engine::{Db, OpResult, Options, TxnOp, TxnOutcome, WriteBatch};
use jubilant_format::wal::{TxnWrite, WalPayload};

use crate::support::{DIR, contents, sim_options};

const T0: u64 = 1_800_000_000_000;

fn open(_sim: &SimStorage, clock: &Arc<FakeClock>, opts: Options) -> Db {
    Db::open_with_clock(DIR, opts, Arc::clone(clock) as Arc<dyn jubilant_engine::clock::Clock>).unwrap()
}

fn sim_opts(sim: &SimStorage) -> Options {
    Options { ttl_sweep_max_deletes: 10, ttl_sweep_max_scanned: 1_000, ..sim_options(sim) }
}

#[test]
fn a_key_expires_exactly_at_its_time_for_every_reader() {
    let sim = SimStorage::new(31);
    let clock = Arc::new(FakeClock::new(T0));
    let db = open(&sim, &clock, sim_opts(&sim));
    let mut b = WriteBatch::new();
    b.put_expiring("session", "s", T0 + 1_000).put("plain", "p");
    db.write(&b).unwrap();
    // The in-memory reader (an event loop's) lends what `get` returns.
    let lent = |db: &Db| db.get_cached_with(b"session", |e| e.map(|e| e.value.to_vec())).unwrap();
    clock.advance_ms(999);
    assert_eq!(db.get(b"session").unwrap(), Some(b"s".to_vec()));
    assert_eq!(lent(&db), Some(Some(b"s".to_vec())));
    assert_eq!(contents(&db).len(), 2);
    clock.advance_ms(1);
    assert_eq!(db.get(b"session").unwrap(), None, "expired at its time");
    assert_eq!(lent(&db), Some(None));
    assert_eq!(contents(&db).len(), 1);
    let TxnOutcome::Committed { results, .. } = db.transact(&[TxnOp::Get { key: b"session".to_vec() }]).unwrap() else {
        panic!()
    };
    assert_eq!(results[0], OpResult::Get(None));
    // Also after a checkpoint (the entry is in the tree) and a reopen.
    db.checkpoint().unwrap();
    assert_eq!(db.get(b"session").unwrap(), None);
    assert_eq!(lent(&db), Some(None), "expired in a cached leaf too");
    drop(db);
    let db = open(&sim, &clock, sim_opts(&sim));
    assert_eq!(db.get(b"session").unwrap(), None);
    assert_eq!(db.get(b"plain").unwrap(), Some(b"p".to_vec()));
}

#[test]
fn set_with_a_ttl_in_a_transaction_expires_after_the_ttl() {
    let sim = SimStorage::new(32);
    let clock = Arc::new(FakeClock::new(T0));
    let db = open(&sim, &clock, sim_opts(&sim));
    db.transact(&[TxnOp::Set { key: b"k".to_vec(), value: b"v".to_vec(), ttl_ms: Some(500) }]).unwrap();
    assert_eq!(db.get_entry(b"k").unwrap().unwrap().expires_at_unix_ms, Some(T0 + 500));
    clock.advance_ms(499);
    assert!(db.get(b"k").unwrap().is_some());
    clock.advance_ms(1);
    assert!(db.get(b"k").unwrap().is_none());
}

#[test]
fn a_wall_clock_step_backwards_does_not_resurrect_expired_keys() {
    let sim = SimStorage::new(33);
    let clock = Arc::new(FakeClock::new(T0));
    let db = open(&sim, &clock, sim_opts(&sim));
    let mut b = WriteBatch::new();
    b.put_expiring("k", "v", T0 + 10_000);
    db.write(&b).unwrap();
    clock.advance_ms(20_000);
    assert!(db.get(b"k").unwrap().is_none());
    clock.set_wall_ms(T0 - 3_600_000);
    assert!(db.get(b"k").unwrap().is_none(), "a step back resurrected the key");
    // Across a restart in the same boot too (the calibration pair holds).
    drop(db);
    let db = open(&sim, &clock, sim_opts(&sim));
    assert!(db.get(b"k").unwrap().is_none(), "a step back resurrected the key after a restart");
}

#[test]
fn a_wall_clock_step_forwards_expires_keys_at_most_the_bound_early() {
    let sim = SimStorage::new(34);
    let clock = Arc::new(FakeClock::new(T0));
    let db = open(&sim, &clock, sim_opts(&sim));
    let mut b = WriteBatch::new();
    b.put_expiring("soon", "v", T0 + 1_000).put_expiring("later", "v", T0 + 2 * jubilant_engine::ttl::FORWARD_BOUND_MS);
    db.write(&b).unwrap();
    clock.set_wall_ms(T0 + 365 * 24 * 3_600_000);
    assert!(db.get(b"soon").unwrap().is_none());
    assert!(db.get(b"later").unwrap().is_some(), "a jump forwards expired a key beyond the bound");
}

fn tombstones(sim: &SimStorage) -> usize {
    // Alone, or among the writes of a whole-transaction record.
    crate::support::wal_payloads(sim)
        .into_iter()
        .map(|p| match p {
            WalPayload::Txn { writes, .. } => {
                writes.iter().filter(|w| matches!(w, TxnWrite::TtlTombstone { .. })).count()
            }
            other => usize::from(matches!(other, WalPayload::TtlTombstone { .. })),
        })
        .sum()
}

#[test]
fn the_sweeper_deletes_expired_keys_through_the_wal_at_a_bounded_rate() {
    let sim = SimStorage::new(35);
    let clock = Arc::new(FakeClock::new(T0));
    let db = open(&sim, &clock, sim_opts(&sim));
    let mut b = WriteBatch::new();
    for i in 0..35u32 {
        b.put_expiring(format!("e{i:02}"), "v", T0 + 100);
    }
    for i in 0..20u32 {
        b.put(format!("keep{i:02}"), "v");
    }
    db.write(&b).unwrap();
    assert_eq!(db.sweep_expired().unwrap(), 0, "nothing has expired yet");
    clock.advance_ms(100);
    // A key renewed before the sweeper reaches it stays.
    let mut renew = WriteBatch::new();
    renew.put("e00", "renewed");
    db.write(&renew).unwrap();
    let mut runs = Vec::new();
    for _ in 0..10 {
        runs.push(db.sweep_expired().unwrap());
    }
    assert!(runs.iter().all(|&n| n <= 10), "the rate limit was exceeded: {runs:?}");
    assert_eq!(runs.iter().sum::<usize>(), 34, "{runs:?}");
    assert_eq!(tombstones(&sim), 34);
    assert_eq!(db.stats().ttl_expired, 34);
    assert_eq!(db.get(b"e00").unwrap(), Some(b"renewed".to_vec()));
    // The keys are really gone, not just hidden.
    db.checkpoint().unwrap();
    assert_eq!(db.check_invariants().unwrap().unwrap().keys, 21);
}

/// With no expiring version in the memtables the sweeper reads the tree
/// alone (not observable from outside; what is): it still expires a tree
/// key, a tree key with a TTL that a memtable write renewed without one is
/// checked against that newer version and kept, and once a memtable
/// version has a TTL the memtable is read again and it expires too.
#[test]
fn sweeps_without_memtable_ttls_expire_tree_keys_and_spare_renewed_ones() {
    let sim = SimStorage::new(39);
    let clock = Arc::new(FakeClock::new(T0));
    let db = open(&sim, &clock, sim_opts(&sim));
    let mut b = WriteBatch::new();
    b.put_expiring("gone", "1", T0 + 10).put_expiring("renewed", "1", T0 + 10);
    db.write(&b).unwrap();
    db.checkpoint().unwrap();
    let mut b = WriteBatch::new();
    b.put("renewed", "2").put("plain", "p");
    db.write(&b).unwrap();
    clock.advance_ms(20);
    assert_eq!(db.sweep_expired().unwrap(), 1);
    assert_eq!(db.get(b"renewed").unwrap(), Some(b"2".to_vec()));
    assert_eq!(db.stats().ttl_expired, 1);
    // The tombstone is a memtable version without an expiry: still
    // nothing there to sweep. A memtable write with a TTL is.
    let mut b = WriteBatch::new();
    b.put_expiring("short", "s", T0 + 25);
    db.write(&b).unwrap();
    clock.advance_ms(10);
    assert_eq!(db.sweep_expired().unwrap(), 1, "found in the memtable");
    assert_eq!(contents(&db).keys().map(|k| k.as_slice()).collect::<Vec<_>>(), [&b"plain"[..], b"renewed"]);
}

#[test]
fn the_background_sweeper_runs_on_its_interval() {
    let dir = crate::support::TempDir::new("ttl-bg");
    let clock = Arc::new(FakeClock::new(T0));
    let opts = Options { ttl_sweep_interval: Duration::from_millis(20), ..Options::default() };
    let db =
        Db::open_with_clock(dir.path(), opts, Arc::clone(&clock) as Arc<dyn jubilant_engine::clock::Clock>).unwrap();
    let mut b = WriteBatch::new();
    b.put_expiring("gone", "v", T0 + 1);
    db.write(&b).unwrap();
    clock.advance_ms(10);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while db.stats().ttl_expired == 0 {
        assert!(std::time::Instant::now() < deadline, "the background sweeper never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sweeper_tombstones_survive_crashes_consistently() {
    for seed in 0..40u64 {
        let sim = SimStorage::new(seed);
        let clock = Arc::new(FakeClock::new(T0));
        {
            let db = open(&sim, &clock, sim_opts(&sim));
            let mut b = WriteBatch::new();
            for i in 0..30u32 {
                b.put_expiring(format!("e{i:02}"), "v", T0 + 50);
                b.put(format!("k{i:02}"), "v");
            }
            db.write(&b).unwrap();
        }
        clock.advance_ms(100);
        sim.set_crash_after_op(1 + seed * 3);
        if let Ok(db) =
            Db::open_with_clock(DIR, sim_opts(&sim), Arc::clone(&clock) as Arc<dyn jubilant_engine::clock::Clock>)
        {
            for _ in 0..5 {
                if db.sweep_expired().is_err() || db.checkpoint().is_err() {
                    break;
                }
            }
        }
        sim.crash(CrashMode::from_seed(seed));
        let db = open(&sim, &clock, sim_opts(&sim));
        let all = contents(&db);
        assert_eq!(all.len(), 30, "seed {seed}: expired keys visible or live keys lost");
        assert!(all.keys().all(|k| k.starts_with(b"k")));
        db.checkpoint().unwrap();
        crate::support::assert_invariants(&db);
    }
}

#[test]
fn get_many_agrees_with_one_get_per_key_across_tree_memtable_value_log_and_expiry() {
    let sim = SimStorage::new(37);
    let clock = Arc::new(FakeClock::new(T0));
    let db = open(&sim, &clock, sim_opts(&sim));
    let big = vec![7u8; 4096];
    let mut b = WriteBatch::new();
    b.put("a", "1").put("b", "2").put("c", "3");
    db.write(&b).unwrap();
    db.checkpoint().unwrap();
    let mut b = WriteBatch::new();
    b.put("b", "2'").delete("c").put("d", big.as_slice()).put_expiring("e", "5", T0 + 1_000);
    db.write(&b).unwrap();
    let keys: [&[u8]; 6] = [b"a", b"b", b"c", b"d", b"e", b"missing"];
    let values = |db: &Db| -> Vec<Option<Vec<u8>>> {
        db.get_many(&keys).unwrap().into_iter().map(|e| e.map(|e| e.value)).collect()
    };
    let expected = |e: Option<&[u8]>| -> Vec<Option<Vec<u8>>> {
        [Some(&b"1"[..]), Some(b"2'"), None, Some(&big[..]), e, None].iter().map(|v| v.map(<[u8]>::to_vec)).collect()
    };
    assert_eq!(values(&db), expected(Some(b"5")));
    clock.advance_ms(1_000);
    assert_eq!(values(&db), expected(None), "e expired at its time");
    // Versions too, and after everything moved into the tree.
    db.checkpoint().unwrap();
    let many = db.get_many(&keys).unwrap();
    let one: Vec<_> = keys.iter().map(|k| db.get_entry(k).unwrap()).collect();
    assert_eq!(many, one);
    assert_eq!(values(&db), expected(None));
}
