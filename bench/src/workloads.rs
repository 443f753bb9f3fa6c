//! The workloads, each run on one engine: they generate their data from
//! fixed seeds, bound every loop by a count, and time with [`Instant`].

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::data::{self, KEY_LEN, Rng};
use crate::engines::Engine;
use crate::stats::{self, Latency};

/// Point reads served from one read snapshot (where the engine has them).
pub const GET_BATCH: usize = 1_000;
/// Scans served from one read snapshot (where the engine has them).
pub const SCAN_BATCH: usize = 100;

/// Loads `keys` with their values in durable commits of `batch` pairs;
/// returns the time spent in commits (generating pairs is not timed).
pub fn bulk(engine: &dyn Engine, keys: &[[u8; KEY_LEN]], batch: usize) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for chunk in keys.chunks(batch.max(1)) {
        let pairs = data::pairs(chunk);
        let start = Instant::now();
        engine.commit(&pairs)?;
        total += start.elapsed();
    }
    Ok(total)
}

/// `count` durable commits of one new key each, timed one by one.
pub fn commit_latency(engine: &dyn Engine, count: usize) -> Result<Latency> {
    let pairs = data::pairs(&data::keys(data::SEED_LATENCY, count));
    let mut samples = Vec::with_capacity(count);
    for pair in pairs.chunks(1) {
        let start = Instant::now();
        engine.commit(pair)?;
        samples.push(start.elapsed());
    }
    stats::latency(&samples).context("no commits")
}

/// `threads` threads each doing `total / threads` durable single-key
/// commits of new keys at the same time; returns the commits done and the
/// wall time from the common start to the last commit.
pub fn group_commit(engine: &dyn Engine, threads: usize, total: usize) -> Result<(u64, Duration)> {
    let threads = threads.max(1);
    let per_thread = total / threads;
    let batches: Vec<_> = (0..threads)
        .map(|t| {
            let seed = data::SEED_GROUP + u64::try_from(threads * 1_000 + t).unwrap_or(0);
            data::pairs(&data::keys(seed, per_thread))
        })
        .collect();
    let barrier = Barrier::new(threads + 1);
    let (elapsed, results) = thread::scope(|s| {
        let handles: Vec<_> = batches
            .iter()
            .map(|pairs| {
                let barrier = &barrier;
                s.spawn(move || -> Result<()> {
                    barrier.wait();
                    for pair in pairs.chunks(1) {
                        engine.commit(pair)?;
                    }
                    Ok(())
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (start.elapsed(), results)
    });
    for r in results {
        match r {
            Ok(r) => r?,
            Err(_) => bail!("a committing thread panicked"),
        }
    }
    Ok((u64::try_from(per_thread * threads)?, elapsed))
}

/// `threads` threads together doing `ops` gets of random loaded keys;
/// returns the gets done and the wall time. Fails if a key is missing.
pub fn point_reads(engine: &dyn Engine, keys: &[[u8; KEY_LEN]], threads: usize, ops: usize) -> Result<(u64, Duration)> {
    if keys.is_empty() {
        bail!("no keys loaded");
    }
    let threads = threads.max(1);
    let per_thread = ops / threads;
    let barrier = Barrier::new(threads + 1);
    let (elapsed, results) = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || -> Result<u64> {
                    let mut rng = Rng::new(data::SEED_READS + u64::try_from(t).unwrap_or(0));
                    let mut batch = Vec::with_capacity(GET_BATCH);
                    let mut done = 0;
                    barrier.wait();
                    while done < per_thread {
                        batch.clear();
                        let n = GET_BATCH.min(per_thread - done);
                        for _ in 0..n {
                            if let Some(k) = keys.get(rng.below(keys.len())) {
                                batch.push(*k);
                            }
                        }
                        let found = engine.get_many(&batch)?;
                        if found != u64::try_from(batch.len())? {
                            bail!("found {found} of {} loaded keys", batch.len());
                        }
                        done += n;
                    }
                    Ok(u64::try_from(done)?)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (start.elapsed(), results)
    });
    let mut done = 0;
    for r in results {
        match r {
            Ok(r) => done += r?,
            Err(_) => bail!("a reading thread panicked"),
        }
    }
    Ok((done, elapsed))
}

/// `count` scans of up to `len` pairs from random loaded keys; returns the
/// pairs read and the time taken.
pub fn scans(engine: &dyn Engine, keys: &[[u8; KEY_LEN]], count: usize, len: usize) -> Result<(u64, Duration)> {
    if keys.is_empty() {
        bail!("no keys loaded");
    }
    let mut rng = Rng::new(data::SEED_SCANS);
    let starts: Vec<[u8; KEY_LEN]> = (0..count).filter_map(|_| keys.get(rng.below(keys.len())).copied()).collect();
    let start = Instant::now();
    let mut read = 0;
    for batch in starts.chunks(SCAN_BATCH) {
        read += engine.scan_many(batch, len)?;
    }
    let elapsed = start.elapsed();
    if read < u64::try_from(count)? {
        bail!("{count} scans read only {read} pairs");
    }
    Ok((read, elapsed))
}
