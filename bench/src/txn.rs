//! The transaction workloads (the transactions issue's benchmark), on
//! jubilant alone: `db.transact` against plain `WriteBatch` commits of the
//! same writes, and read-modify-write transactions under key contention.
//!
//! Every commit is durable (`Durability::Sync`). Each thread works on its
//! own partition of preloaded keys, so only the shared hot key is ever
//! contended: a transaction picks it with the given probability.
//! [`round`] runs every measurement on a fresh database and records them.

use std::fs;
use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use jubilant_engine::{Condition, Db, OpResult, Options, TxnOp, TxnOutcome, WriteBatch};

use crate::data::{self, KEY_LEN, Rng, VALUE_LEN};
use crate::report::{Better, JUBILANT, Report};
use crate::stats::{self, Latency};

/// Writes of one uncontended transaction (and of one plain batch).
pub const WRITES_PER_TXN: usize = 4;
/// Threads of the uncontended comparison.
pub const UNCONTENDED_THREADS: usize = 2;
/// Threads of the contended read-modify-write runs.
pub const CONTENDED_THREADS: usize = 4;
/// Pairs per commit of the preload.
const PRELOAD_BATCH: usize = 1_000;
/// Attempts of one optimistic increment before the run fails.
const ATTEMPTS_MAX: u64 = 10_000;
/// The key every thread may touch.
const HOT_KEY: [u8; KEY_LEN] = *b"txn-bench-hotkey";

/// How a read-modify-write transaction is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rmw {
    /// `[GET k, SET k v]` in one `db.transact`: the planner locks `k`
    /// exclusively up front, so contending transactions queue on the lock
    /// (held until the commit is durable) and never abort.
    GetSet,
    /// Read `k` outside, then `[ASSERT version(k) = read, SET k v+1]`,
    /// retried until the ASSERT holds: optimistic, an increment.
    AssertSet,
}

impl Rmw {
    /// The name used in metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Rmw::GetSet => "GET+SET",
            Rmw::AssertSet => "ASSERT version+SET (retried)",
        }
    }
}

/// Partitioned keys of one database.
#[derive(Debug)]
pub struct Keys {
    /// One partition per thread.
    pub partitions: Vec<Vec<[u8; KEY_LEN]>>,
}

/// One round of the transaction workload, on a fresh jubilant database.
pub fn round(
    w: (&str, &str),
    per_thread: usize,
    keys_per_thread: usize,
    round: usize,
    run_dir: &Path,
    report: &mut Report,
) -> Result<()> {
    let dir = run_dir.join(format!("txn-r{round}"));
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    let db = Db::open(&dir, Options::default()).context("open jubilant database for transactions")?;
    let result = measure(&db, w, per_thread, keys_per_thread, round, report);
    let closed = db.close().context("close jubilant database");
    let removed = fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()));
    result?;
    closed?;
    removed
}

/// Preloads keys into `db`, runs every transaction measurement and records
/// it.
fn measure(
    db: &Db,
    w: (&str, &str),
    per_thread: usize,
    keys_per_thread: usize,
    round: usize,
    report: &mut Report,
) -> Result<()> {
    let threads = UNCONTENDED_THREADS.max(CONTENDED_THREADS);
    let keys = preload(db, threads, keys_per_thread).context("preload transaction keys")?;
    let u = uncontended(db, &keys, per_thread).context("uncontended transactions")?;
    let ratio = u.transact_per_s / u.batch_per_s.max(1e-9);
    eprintln!(
        "  [r{}] txn      {JUBILANT:<9} transact {:.0}/s vs batch {:.0}/s = {ratio:.2}×",
        round + 1,
        u.transact_per_s,
        u.batch_per_s
    );
    let n = WRITES_PER_TXN;
    let t = UNCONTENDED_THREADS;
    report.record(
        w,
        JUBILANT,
        &format!("db.transact of {n} SETs, {t} threads"),
        "commits/s",
        Better::Higher,
        u.transact_per_s,
    );
    report.record(
        w,
        JUBILANT,
        &format!("WriteBatch of {n} puts, {t} threads"),
        "commits/s",
        Better::Higher,
        u.batch_per_s,
    );
    report.record(w, JUBILANT, "transact / WriteBatch", "×", Better::Higher, ratio);
    let mut styles = [Rmw::GetSet, Rmw::AssertSet];
    styles.rotate_left(round % 2);
    for pct in [0_u32, 10, 50] {
        for rmw in styles {
            let c = contended(db, &keys, rmw, f64::from(pct) / 100.0, per_thread)
                .with_context(|| format!("{} at {pct}% contention", rmw.name()))?;
            eprintln!(
                "  [r{}] txn      {JUBILANT:<9} {}, {pct}% hot: p50 {:.0} µs, p99 {:.0} µs, {:.0}/s",
                round + 1,
                rmw.name(),
                c.latency.p50_us,
                c.latency.p99_us,
                c.per_s
            );
            let label = format!("{}, {pct}% hot", rmw.name());
            report.record(w, JUBILANT, &format!("{label}: p50"), "µs", Better::Lower, c.latency.p50_us);
            report.record(w, JUBILANT, &format!("{label}: p99"), "µs", Better::Lower, c.latency.p99_us);
            report.record(w, JUBILANT, &format!("{label}: throughput"), "txns/s", Better::Higher, c.per_s);
            if rmw == Rmw::AssertSet {
                report.record(
                    w,
                    JUBILANT,
                    &format!("{label}: retries per increment"),
                    "count",
                    Better::Lower,
                    c.retries_per_rmw,
                );
            }
        }
    }
    let stats = db.stats().transactions;
    report.record(w, JUBILANT, "lock waits (whole run)", "count", Better::Lower, stats.locks.waits as f64);
    report.record(w, JUBILANT, "lock wait time (whole run)", "ms", Better::Lower, stats.locks.wait_us as f64 / 1e3);
    report.note(w, &format!("jubilant with default options (Durability::Sync). {threads} partitions of {} preloaded keys, one per thread; only the hot key is shared, and a read-modify-write touches it with the stated probability.", keys_per_thread));
    report.note(w, "GET+SET: [GET k, SET k v] in one db.transact; the planner locks k exclusively up front and holds the lock until the commit is durable, so contenders queue and never abort (a GETSET: the one-shot model cannot derive v from the read).");
    report.note(w, "ASSERT version+SET: read k with db.get_entry, then db.transact([ASSERT version(k) = read, SET k counter+1]), retried until the ASSERT holds; latency includes retries, and the hot counter is checked to have counted every increment.");
    report.note(w, "Uncontended: each thread writes 4 distinct random keys of its own partition per commit; after an untimed warm-up of each kind, plain batches and transactions run in halves ordered batch, transact, transact, batch.");
    Ok(())
}

/// Loads `threads` partitions of `per_partition` keys, and the hot key,
/// with 100-byte values; checkpoints afterwards.
pub fn preload(db: &Db, threads: usize, per_partition: usize) -> Result<Keys> {
    let partitions: Vec<Vec<[u8; KEY_LEN]>> =
        (0..threads).map(|t| data::keys(data::SEED_TXN + u64::try_from(t).unwrap_or(0), per_partition)).collect();
    for chunk in partitions.iter().flatten().collect::<Vec<_>>().chunks(PRELOAD_BATCH) {
        let mut batch = WriteBatch::new();
        for key in chunk {
            batch.put(key.as_slice(), data::value_for(key).as_slice());
        }
        db.write(&batch)?;
    }
    let mut batch = WriteBatch::new();
    batch.put(HOT_KEY.as_slice(), counter_value(0).as_slice());
    db.write(&batch)?;
    db.checkpoint()?;
    Ok(Keys { partitions })
}

/// Throughput of the uncontended comparison, commits per second.
#[derive(Debug, Clone, Copy)]
pub struct Uncontended {
    /// Plain `WriteBatch`es of [`WRITES_PER_TXN`] puts.
    pub batch_per_s: f64,
    /// `db.transact` of [`WRITES_PER_TXN`] SETs.
    pub transact_per_s: f64,
}

/// Whether each phase of [`uncontended`] runs transactions: an untimed
/// warm-up of each kind, then halves in the order A B B A, so that a
/// linear drift of the machine (the write-back of earlier workloads, other
/// load) weighs the same on both kinds.
const UNCONTENDED_PHASES: [bool; 6] = [false, true, false, true, true, false];

/// [`UNCONTENDED_THREADS`] threads each committing `per_thread` sets of
/// [`WRITES_PER_TXN`] distinct keys of their own partition, as plain
/// batches and as transactions (see [`UNCONTENDED_PHASES`]).
pub fn uncontended(db: &Db, keys: &Keys, per_thread: usize) -> Result<Uncontended> {
    let half = (per_thread / 2).max(1);
    let warm_up = (per_thread / 10).max(1);
    let (mut batch_time, mut transact_time) = (Duration::ZERO, Duration::ZERO);
    let (mut batches, mut transactions) = (0_u64, 0_u64);
    for (phase, transact) in UNCONTENDED_PHASES.into_iter().enumerate() {
        let phase = u64::try_from(phase)?;
        let count = if phase < 2 { warm_up } else { half };
        let (commits, elapsed) = on_threads(keys, UNCONTENDED_THREADS, |t, part| {
            let mut rng = Rng::new(data::SEED_TXN ^ (phase << 32) ^ u64::try_from(t).unwrap_or(0));
            let value = data::value_for(&HOT_KEY);
            let mut samples = Vec::with_capacity(count);
            for _ in 0..count {
                let picked = distinct(&mut rng, part, WRITES_PER_TXN)?;
                let start = Instant::now();
                if transact {
                    let ops: Vec<TxnOp> = picked
                        .iter()
                        .map(|k| TxnOp::Set { key: k.to_vec(), value: value.to_vec(), ttl_ms: None })
                        .collect();
                    let TxnOutcome::Committed { .. } = db.transact(&ops)? else {
                        bail!("an uncontended transaction aborted");
                    };
                } else {
                    let mut batch = WriteBatch::new();
                    for k in &picked {
                        batch.put(k.as_slice(), value.as_slice());
                    }
                    db.write(&batch)?;
                }
                samples.push(start.elapsed());
            }
            Ok(samples)
        })?;
        let commits = u64::try_from(commits.len())?;
        if phase < 2 {
            continue;
        }
        if transact {
            transact_time += elapsed;
            transactions += commits;
        } else {
            batch_time += elapsed;
            batches += commits;
        }
    }
    Ok(Uncontended {
        batch_per_s: stats::per_second(batches, batch_time),
        transact_per_s: stats::per_second(transactions, transact_time),
    })
}

/// What one contended run measured.
#[derive(Debug, Clone, Copy)]
pub struct Contended {
    /// Latency of one read-modify-write, retries included.
    pub latency: Latency,
    /// Read-modify-writes per second, all threads together.
    pub per_s: f64,
    /// Aborted attempts (failed ASSERTs) per read-modify-write.
    pub retries_per_rmw: f64,
}

/// [`CONTENDED_THREADS`] threads each doing `per_thread` read-modify-writes
/// written as `rmw`, each on the hot key with probability `contention`
/// (0.0–1.0) and otherwise on a random key of the thread's partition.
/// Afterwards checks that the hot key's counter counted every increment
/// (for [`Rmw::AssertSet`]).
pub fn contended(db: &Db, keys: &Keys, rmw: Rmw, contention: f64, per_thread: usize) -> Result<Contended> {
    let hot_before = counter(db.get(&HOT_KEY)?.as_deref());
    let threshold = (contention.clamp(0.0, 1.0) * f64::from(u32::MAX)) as u64;
    let seed = data::SEED_TXN ^ (contention * 1000.0) as u64 ^ if rmw == Rmw::GetSet { 0 } else { 1 << 40 };
    let results = std::sync::Mutex::new((0_u64, 0_u64));
    let (samples, elapsed) = on_threads(keys, CONTENDED_THREADS, |t, part| {
        let mut rng = Rng::new(seed ^ (u64::try_from(t).unwrap_or(0) << 48));
        let mut samples = Vec::with_capacity(per_thread);
        let (mut hot, mut retries) = (0_u64, 0_u64);
        for _ in 0..per_thread {
            let is_hot = rng.next_u64() & u64::from(u32::MAX) < threshold;
            let key = if is_hot { HOT_KEY } else { pick(&mut rng, part)? };
            let start = Instant::now();
            retries += read_modify_write(db, &key, rmw)?;
            samples.push(start.elapsed());
            hot += u64::from(is_hot);
        }
        if let Ok(mut r) = results.lock() {
            r.0 += hot;
            r.1 += retries;
        }
        Ok(samples)
    })?;
    let Ok((hot, retries)) = results.into_inner() else {
        bail!("a thread panicked while counting");
    };
    if rmw == Rmw::AssertSet {
        let hot_after = counter(db.get(&HOT_KEY)?.as_deref());
        ensure!(
            hot_after == hot_before.wrapping_add(hot),
            "hot counter went from {hot_before} to {hot_after} after {hot} increments: an increment was lost"
        );
    }
    let Some(latency) = stats::latency(&samples) else {
        bail!("no read-modify-writes ran");
    };
    let n = u64::try_from(samples.len())?;
    Ok(Contended { latency, per_s: stats::per_second(n, elapsed), retries_per_rmw: retries as f64 / n.max(1) as f64 })
}

/// One read-modify-write of `key`; returns the attempts that aborted.
fn read_modify_write(db: &Db, key: &[u8; KEY_LEN], rmw: Rmw) -> Result<u64> {
    match rmw {
        Rmw::GetSet => {
            // The one-shot model cannot compute the written value from the
            // read, so this is a GETSET: what it measures is the locking.
            let ops = [
                TxnOp::Get { key: key.to_vec() },
                TxnOp::Set { key: key.to_vec(), value: data::value_for(key).to_vec(), ttl_ms: None },
            ];
            let TxnOutcome::Committed { results, .. } = db.transact(&ops)? else {
                bail!("a GET+SET transaction aborted");
            };
            ensure!(matches!(results.first(), Some(OpResult::Get(Some(_)))), "the GET of a loaded key found nothing");
            Ok(0)
        }
        Rmw::AssertSet => {
            for attempt in 0..ATTEMPTS_MAX {
                let Some(entry) = db.get_entry(key)? else {
                    bail!("a loaded key is missing");
                };
                let next = counter(Some(&entry.value)).wrapping_add(1);
                let ops = [
                    TxnOp::Assert { key: key.to_vec(), condition: Condition::VersionEquals(entry.version) },
                    TxnOp::Set { key: key.to_vec(), value: counter_value(next).to_vec(), ttl_ms: None },
                ];
                if let TxnOutcome::Committed { .. } = db.transact(&ops)? {
                    return Ok(attempt);
                }
            }
            bail!("an increment failed {ATTEMPTS_MAX} times")
        }
    }
}

/// Runs `work(thread, partition)` on `threads` threads from a common start;
/// returns every thread's samples (one per commit) and the wall time to
/// the last one.
fn on_threads<F>(keys: &Keys, threads: usize, work: F) -> Result<(Vec<Duration>, Duration)>
where
    F: Fn(usize, &[[u8; KEY_LEN]]) -> Result<Vec<Duration>> + Sync,
{
    ensure!(keys.partitions.len() >= threads, "{threads} threads need as many key partitions");
    let barrier = Barrier::new(threads + 1);
    let (elapsed, results) = thread::scope(|s| {
        let handles: Vec<_> = keys
            .partitions
            .iter()
            .take(threads)
            .enumerate()
            .map(|(t, part)| {
                let (barrier, work) = (&barrier, &work);
                s.spawn(move || {
                    barrier.wait();
                    work(t, part)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (start.elapsed(), results)
    });
    let mut samples = Vec::new();
    for r in results {
        match r {
            Ok(r) => samples.extend(r?),
            Err(_) => bail!("a transaction thread panicked"),
        }
    }
    Ok((samples, elapsed))
}

/// A random key of `part`.
fn pick(rng: &mut Rng, part: &[[u8; KEY_LEN]]) -> Result<[u8; KEY_LEN]> {
    ensure!(!part.is_empty(), "empty key partition");
    part.get(rng.below(part.len())).copied().ok_or_else(|| anyhow::anyhow!("key index out of range"))
}

/// `n` distinct random keys of `part`.
fn distinct(rng: &mut Rng, part: &[[u8; KEY_LEN]], n: usize) -> Result<Vec<[u8; KEY_LEN]>> {
    ensure!(part.len() >= 2 * n, "a partition of {} keys is too small for {n} distinct picks", part.len());
    let mut picked = Vec::with_capacity(n);
    // Bounded: with at least 2n keys, each draw repeats with chance < 1/2.
    for _ in 0..64 * n {
        if picked.len() == n {
            break;
        }
        let key = pick(rng, part)?;
        if !picked.contains(&key) {
            picked.push(key);
        }
    }
    ensure!(picked.len() == n, "could not pick {n} distinct keys");
    Ok(picked)
}

/// The counter in the first 8 bytes of a value (0 if shorter or absent).
fn counter(value: Option<&[u8]>) -> u64 {
    value.and_then(|v| v.first_chunk::<8>()).map_or(0, |b| u64::from_le_bytes(*b))
}

/// A 100-byte value holding `n` in its first 8 bytes.
fn counter_value(n: u64) -> [u8; VALUE_LEN] {
    let mut value = [0_u8; VALUE_LEN];
    for (v, b) in value.iter_mut().zip(n.to_le_bytes()) {
        *v = b;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_round_trips() {
        assert_eq!(counter(Some(&counter_value(42))), 42);
        assert_eq!(counter(None), 0);
        assert_eq!(counter(Some(&[1, 2])), 0);
    }

    #[test]
    fn distinct_picks_are_distinct() {
        let part = data::keys(1, 8);
        let picked = distinct(&mut Rng::new(2), &part, 4).unwrap();
        assert_eq!(picked.len(), 4);
        for (i, k) in picked.iter().enumerate() {
            assert!(!picked.iter().skip(i + 1).any(|o| o == k));
        }
    }
}
