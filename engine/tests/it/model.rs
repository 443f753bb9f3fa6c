//! A proptest state machine against `BTreeMap`: random puts, deletes,
//! gets, ranges (both directions), commits, checkpoints and reopens, with
//! the tree's structural invariants checked after every checkpoint and
//! reopen. Small pages and long keys force many splits and merges.

use std::collections::BTreeMap;
use std::ops::Bound;

use std::sync::Arc;

use jubilant_engine::clock::Clock;
use jubilant_engine::storage::sim::SimStorage;
use jubilant_engine::ttl::FakeClock;
use jubilant_engine::{Db, WriteBatch};
use proptest::prelude::*;

use crate::support::assert_invariants;

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: u16,
        len: u16,
    },
    /// A value large enough for the value log.
    LargePut {
        key: u16,
        len: u16,
    },
    /// A put that expires `ttl` ms from now (fake clock).
    PutTtl {
        key: u16,
        len: u16,
        ttl: u16,
    },
    /// Time passes.
    Advance {
        ms: u16,
    },
    /// Value-log garbage collection.
    Gc,
    Delete {
        key: u16,
    },
    /// Delete a run of keys (drains leaves, forcing merges).
    DeleteRange {
        from: u16,
        count: u16,
    },
    Commit,
    Get {
        key: u16,
    },
    Range {
        from: u16,
        to: u16,
        reverse: bool,
    },
    Checkpoint,
    Reopen,
}

/// Keys vary in length (up to ~300 bytes) so nodes split at varied
/// points, and share long prefixes so separators are long and branches
/// split too.
fn key(k: u16) -> Vec<u8> {
    let mut key = vec![b'.'; (k as usize * 37) % 300];
    key.extend_from_slice(format!("k{k:04}").as_bytes());
    key
}

fn value(k: u16, len: u16, salt: u64) -> Vec<u8> {
    (0..len).map(|i| (u64::from(k) * 31 + u64::from(i) + salt) as u8).collect()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (0u16..400, 0u16..900).prop_map(|(key, len)| Op::Put { key, len }),
        4 => (0u16..400, 1_024u16..20_000).prop_map(|(key, len)| Op::LargePut { key, len }),
        4 => (0u16..400, 0u16..900, 1u16..2_000).prop_map(|(key, len, ttl)| Op::PutTtl { key, len, ttl }),
        3 => (1u16..1_500).prop_map(|ms| Op::Advance { ms }),
        2 => Just(Op::Gc),
        10 => (0u16..400).prop_map(|key| Op::Delete { key }),
        3 => (0u16..400, 1u16..120).prop_map(|(from, count)| Op::DeleteRange { from, count }),
        12 => Just(Op::Commit),
        8 => (0u16..400).prop_map(|key| Op::Get { key }),
        5 => (0u16..400, 0u16..400, any::<bool>()).prop_map(|(from, to, reverse)| Op::Range { from, to, reverse }),
        4 => Just(Op::Checkpoint),
        2 => Just(Op::Reopen),
    ]
}

/// Runs `ops`; returns the deepest tree seen at a checkpoint.
/// A model entry: the value and its absolute expiry.
type Versioned = (Vec<u8>, Option<u64>);

const T0: u64 = 1_800_000_000_000;

fn run(ops: &[Op], seed: u64) -> usize {
    let mut deepest = 0;
    let sim = SimStorage::new(seed);
    let clock = Arc::new(FakeClock::new(T0));
    let open = || {
        Db::open_with_clock(
            crate::support::DIR,
            crate::support::sim_options(&sim),
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
    };
    let mut db = open().unwrap();
    let mut stored: BTreeMap<Vec<u8>, Versioned> = BTreeMap::new();
    let mut pending: Vec<(Vec<u8>, Option<Versioned>)> = Vec::new();
    // What readers should see now: unexpired entries.
    let visible = |stored: &BTreeMap<Vec<u8>, Versioned>, now: u64| -> BTreeMap<Vec<u8>, Vec<u8>> {
        stored
            .iter()
            .filter(|(_, (_, exp))| exp.is_none_or(|t| t > now))
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    };
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Put { key: k, len } | Op::LargePut { key: k, len } => {
                pending.push((key(*k), Some((value(*k, *len, step as u64), None))));
            }
            Op::PutTtl { key: k, len, ttl } => {
                let expires = clock.wall_ms() + u64::from(*ttl);
                pending.push((key(*k), Some((value(*k, *len, step as u64), Some(expires)))));
            }
            Op::Advance { ms } => clock.advance_ms(u64::from(*ms)),
            Op::Gc => {
                db.gc_value_log(0.7).unwrap();
            }
            Op::Delete { key: k } => pending.push((key(*k), None)),
            Op::DeleteRange { from, count } => {
                for k in *from..from.saturating_add(*count).min(400) {
                    pending.push((key(k), None));
                }
            }
            Op::Commit => {
                let mut batch = WriteBatch::new();
                for (k, v) in pending.drain(..) {
                    match v {
                        Some((v, None)) => {
                            batch.put(k.clone(), v.clone());
                            stored.insert(k, (v, None));
                        }
                        Some((v, Some(t))) => {
                            batch.put_expiring(k.clone(), v.clone(), t);
                            stored.insert(k, (v, Some(t)));
                        }
                        None => {
                            batch.delete(k.clone());
                            stored.remove(&k);
                        }
                    }
                }
                db.write(&batch).unwrap();
            }
            Op::Get { key: k } => {
                let model = visible(&stored, clock.wall_ms());
                assert_eq!(db.get(&key(*k)).unwrap(), model.get(&key(*k)).cloned(), "step {step}: get {k}");
                // The same keys and some neighbours, borrowed, at one snapshot.
                let keys: Vec<Vec<u8>> = (0..4u16).map(|d| key(k.wrapping_add(d * 37) % 400)).collect();
                let mut seen = vec![None; keys.len()];
                db.get_many_with(&keys, |i, v| seen[i] = Some(v.map(<[u8]>::to_vec))).unwrap();
                let want: Vec<_> = keys.iter().map(|k| Some(model.get(k).cloned())).collect();
                assert_eq!(seen, want, "step {step}: get_many_with");
            }
            Op::Range { from, to, reverse } => {
                let (a, b) = (key(*from), key(*to));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let got: Vec<(Vec<u8>, Vec<u8>)> = if *reverse {
                    db.range_rev(lo.clone()..hi.clone()).unwrap().map(|r| r.unwrap()).collect()
                } else {
                    db.range(lo.clone()..hi.clone()).unwrap().map(|r| r.unwrap()).collect()
                };
                let model = visible(&stored, clock.wall_ms());
                let mut want: Vec<(Vec<u8>, Vec<u8>)> = model
                    .range::<Vec<u8>, _>((Bound::Included(&lo), Bound::Excluded(&hi)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if *reverse {
                    want.reverse();
                }
                assert_eq!(got, want, "step {step}: range");
                // The same through the visitor, in full and stopped early.
                for stop in [usize::MAX, 1 + (*from as usize % 7)] {
                    let mut seen: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                    let mut visit = |k: &[u8], v: &[u8]| {
                        seen.push((k.to_vec(), v.to_vec()));
                        if seen.len() >= stop {
                            std::ops::ControlFlow::Break(())
                        } else {
                            std::ops::ControlFlow::Continue(())
                        }
                    };
                    if *reverse {
                        db.scan_rev_with(lo.clone()..hi.clone(), &mut visit).unwrap();
                    } else {
                        db.scan_with(lo.clone()..hi.clone(), &mut visit).unwrap();
                    }
                    let expect: Vec<_> = want.iter().take(stop).cloned().collect();
                    assert_eq!(seen, expect, "step {step}: scan_with, stopping after {stop}");
                }
            }
            Op::Checkpoint => {
                db.checkpoint().unwrap();
                assert_invariants(&db);
                deepest = deepest.max(db.check_invariants().unwrap().unwrap().depth);
            }
            Op::Reopen => {
                // Uncommitted changes are dropped, as a crash would.
                pending.clear();
                drop(db);
                db = open().unwrap();
                db.checkpoint().unwrap();
                assert_invariants(&db);
            }
        }
    }
    let all: BTreeMap<Vec<u8>, Vec<u8>> = db.range::<&[u8], _>(..).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(all, visible(&stored, clock.wall_ms()));
    db.checkpoint().unwrap();
    assert_invariants(&db);
    let report = db.check_invariants().unwrap().unwrap();
    // The tree holds expired keys until the sweeper removes them.
    assert_eq!(report.keys, stored.len() as u64);
    while db.sweep_expired().unwrap() > 0 {}
    db.checkpoint().unwrap();
    let report = db.check_invariants().unwrap().unwrap();
    assert_eq!(report.keys, visible(&stored, clock.wall_ms()).len() as u64, "the sweeper left expired keys");
    deepest
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..300), seed in any::<u64>()) {
        run(&ops, seed);
    }
}

/// A long fixed sequence that grows a multi-level tree and then shrinks
/// it to nothing, checking invariants at every checkpoint.
#[test]
fn grow_to_three_levels_then_delete_everything() {
    let mut ops = Vec::new();
    for round in 0..6u16 {
        for k in 0..400u16 {
            ops.push(Op::Put { key: k, len: 200 + round * 50 });
            if k % 50 == 49 {
                ops.push(Op::Commit);
            }
        }
        ops.push(Op::Commit);
        ops.push(Op::Checkpoint);
    }
    ops.push(Op::Range { from: 0, to: 399, reverse: true });
    for k in (0..400u16).rev() {
        ops.push(Op::Delete { key: k });
        if k % 37 == 0 {
            ops.push(Op::Commit);
            ops.push(Op::Checkpoint);
        }
    }
    ops.push(Op::Commit);
    ops.push(Op::Reopen);
    let deepest = run(&ops, 7);
    assert!(deepest >= 3, "the tree reached only {deepest} levels");
}
