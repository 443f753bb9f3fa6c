//! The large-value workload (the value-log issue's benchmark), on one
//! engine at a time: load 64 KiB values in durable batches, read them back
//! in random order, measure the disk space, then overwrite a quarter and
//! delete a quarter of them, let the engine reclaim space, and measure
//! again.
//!
//! Every value is 64 KiB of random (incompressible) bytes derived from its
//! key and generation, so what is read back can be checked. Disk space is
//! the allocated blocks of the engine's directory after its deferred work
//! (jubilant's checkpoint, fjall's flushes and compactions).
//!
//! [`run`] measures one engine; [`round`] runs every engine in turn and
//! records the results, next to the disk's sequential bandwidth.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::data::{self, KEY_LEN};
use crate::engines::{Engine, EngineKind, Write};
use crate::physical::PhysicalLimits;
use crate::report::{Better, DISK, Report};
use crate::space::disk_bytes;

/// Bytes of one value.
pub const VALUE_BYTES: usize = 64 << 10;
/// Values per durable commit.
pub const BATCH: usize = 10;
/// Values read per read snapshot (where the engine has them).
pub const READ_BATCH: usize = 100;
/// Values whose bytes are compared after the reads and after reclaiming.
const CHECKED_VALUES: usize = 64;

/// Generation of the values the load writes.
const LOADED: u64 = 0;
/// Generation of the values the overwrites write.
const OVERWRITTEN: u64 = 1;

/// What [`run`] measured on one engine.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Bytes of values loaded (keys not counted).
    pub loaded_bytes: u64,
    /// Bytes of values still live after the overwrites and deletes.
    pub live_bytes: u64,
    /// Time spent in the load's commits.
    pub write: Duration,
    /// Time of the work the load deferred (checkpoint, flushes).
    pub deferred: Duration,
    /// Time spent reading every value once in random order.
    pub read: Duration,
    /// Disk space after the load and its deferred work.
    pub space_after_load: u64,
    /// Disk space after the overwrites and deletes (and deferred work).
    pub space_after_churn: u64,
    /// Time of [`Engine::reclaim`] and the background work it started.
    pub reclaim: Duration,
    /// Disk space after reclaiming.
    pub space_after_reclaim: u64,
    /// jubilant's value-log bytes after the load.
    pub value_log_after_load: Option<u64>,
    /// jubilant's value-log bytes after reclaiming.
    pub value_log_after_reclaim: Option<u64>,
}

/// Runs the workload with `count` values on `engine`, whose files are in
/// `dir`; `reclaim_detail` receives what reclaiming did.
pub fn run(engine: &mut dyn Engine, dir: &Path, count: usize, reclaim_detail: &mut String) -> Result<Outcome> {
    ensure!(count >= 4, "need at least 4 values, got {count}");
    let keys = data::keys(data::SEED_LARGE, count);
    let value_bytes = u64::try_from(VALUE_BYTES)?;
    let loaded_bytes = u64::try_from(count)? * value_bytes;

    // Load: generating values is not timed.
    let mut values = vec![vec![0_u8; VALUE_BYTES]; BATCH];
    let mut write = Duration::ZERO;
    for chunk in keys.chunks(BATCH) {
        write += commit_puts(engine, chunk, LOADED, &mut values)?;
    }
    let deferred = deferred_work(engine)?;
    let space_after_load = disk_bytes(dir)?;
    let value_log_after_load = engine.value_log_bytes();

    // Reads, every value once in random order.
    let order = data::shuffled(data::SEED_LARGE ^ 1, count);
    let mut batch: Vec<[u8; KEY_LEN]> = Vec::with_capacity(READ_BATCH);
    let mut read = Duration::ZERO;
    let mut bytes_read = 0_u64;
    for indices in order.chunks(READ_BATCH) {
        batch.clear();
        batch.extend(indices.iter().filter_map(|&i| keys.get(i).copied()));
        let start = Instant::now();
        engine.read_values(&batch, &mut |i, value| {
            let Some(value) = value else {
                bail!("value {i} of a read batch is missing");
            };
            ensure!(value.len() == VALUE_BYTES, "read {} bytes instead of {VALUE_BYTES}", value.len());
            bytes_read += value_bytes;
            Ok(())
        })?;
        read += start.elapsed();
    }
    ensure!(bytes_read == loaded_bytes, "read {bytes_read} bytes of {loaded_bytes}");
    check_values(engine, &keys, &order, |_| Some(LOADED)).context("check values after the load")?;

    // Churn: overwrite the first quarter of a random order, delete the
    // second quarter, in durable batches like the load.
    let quarter = count / 4;
    let churn = data::shuffled(data::SEED_LARGE ^ 2, count);
    let mut fates = vec![Some(LOADED); count];
    for (p, &i) in churn.iter().enumerate().take(2 * quarter) {
        if let Some(f) = fates.get_mut(i) {
            *f = if p < quarter { Some(OVERWRITTEN) } else { None };
        }
    }
    let overwritten: Vec<[u8; KEY_LEN]> = churn.iter().take(quarter).filter_map(|&i| keys.get(i).copied()).collect();
    for chunk in overwritten.chunks(BATCH) {
        commit_puts(engine, chunk, OVERWRITTEN, &mut values)?;
    }
    let deleted: Vec<[u8; KEY_LEN]> =
        churn.iter().skip(quarter).take(quarter).filter_map(|&i| keys.get(i).copied()).collect();
    for chunk in deleted.chunks(BATCH) {
        let writes: Vec<Write<'_>> = chunk.iter().map(|k| Write::Delete { key: k.as_slice() }).collect();
        engine.apply(&writes)?;
    }
    deferred_work(engine)?;
    let space_after_churn = disk_bytes(dir)?;

    let start = Instant::now();
    *reclaim_detail = engine.reclaim().context("reclaim space")?;
    engine.settle()?;
    let reclaim = start.elapsed();
    let space_after_reclaim = disk_bytes(dir)?;
    let value_log_after_reclaim = engine.value_log_bytes();
    let sample: Vec<usize> = churn.iter().take(2 * quarter + CHECKED_VALUES).copied().collect();
    check_values(engine, &keys, &sample, |i| fates.get(i).copied().flatten())
        .context("check values after reclaiming")?;

    Ok(Outcome {
        loaded_bytes,
        live_bytes: u64::try_from(count - quarter)? * value_bytes,
        write,
        deferred,
        read,
        space_after_load,
        space_after_churn,
        reclaim,
        space_after_reclaim,
        value_log_after_load,
        value_log_after_reclaim,
    })
}

/// One round of the large-value workload: each engine in turn, opened in
/// a fresh directory, run, closed and removed before the next one, so only
/// one engine's data is on disk at a time; `engines` in the order to run
/// them. `limits` are this round's physical limits of the disk.
pub fn round(
    w: (&str, &str),
    engines: &[EngineKind],
    count: usize,
    round: usize,
    run_dir: &Path,
    limits: &PhysicalLimits,
    report: &mut Report,
) -> Result<()> {
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    for &kind in engines {
        let name = kind.name();
        let dir = run_dir.join(format!("values64k-{name}-r{round}"));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let mut engine = kind.open(&dir).with_context(|| format!("open {name}"))?;
        let mut detail = String::new();
        let result = run(engine.as_mut(), &dir, count, &mut detail);
        let closed = engine.close().with_context(|| format!("close {name}"));
        let removed = fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()));
        let o = result.with_context(|| format!("{name}: values64k"))?;
        closed?;
        removed?;
        let write = mib(o.loaded_bytes) / o.write.as_secs_f64().max(1e-9);
        let read = mib(o.loaded_bytes) / o.read.as_secs_f64().max(1e-9);
        eprintln!(
            "  [r{}] values64k {name:<9} {}",
            round + 1,
            format_args!(
                "write {write:.0} MiB/s, read {read:.0} MiB/s, space {:.2}× data, {:.2}× live after reclaim ({detail})",
                o.space_after_load as f64 / o.loaded_bytes as f64,
                o.space_after_reclaim as f64 / o.live_bytes as f64
            ),
        );
        report.record(w, name, "write", "MiB/s", Better::Higher, write);
        if kind == EngineKind::Jubilant {
            report.record(
                w,
                name,
                "write / disk sequential bandwidth",
                "×",
                Better::Higher,
                write / limits.sequential_mib_per_s.max(1e-9),
            );
        }
        report.record(
            w,
            name,
            "write incl. deferred work",
            "MiB/s",
            Better::Higher,
            mib(o.loaded_bytes) / (o.write + o.deferred).as_secs_f64().max(1e-9),
        );
        report.record(w, name, "random reads, 1 thread", "MiB/s", Better::Higher, read);
        report.record(w, name, "disk space after load", "MiB", Better::Lower, mib(o.space_after_load));
        report.record(
            w,
            name,
            "space after load / data",
            "×",
            Better::Lower,
            o.space_after_load as f64 / o.loaded_bytes as f64,
        );
        if let Some(v) = o.value_log_after_load {
            report.record(w, name, "value log after load / data", "×", Better::Lower, v as f64 / o.loaded_bytes as f64);
        }
        report.record(w, name, "disk space after overwrite + delete", "MiB", Better::Lower, mib(o.space_after_churn));
        report.record(w, name, "reclaim (GC / compaction)", "s", Better::Lower, o.reclaim.as_secs_f64());
        report.record(w, name, "disk space after reclaim", "MiB", Better::Lower, mib(o.space_after_reclaim));
        report.record(
            w,
            name,
            "space after reclaim / live data",
            "×",
            Better::Lower,
            o.space_after_reclaim as f64 / o.live_bytes as f64,
        );
        if let Some(v) = o.value_log_after_reclaim {
            report.record(
                w,
                name,
                "value log after reclaim / live data",
                "×",
                Better::Lower,
                v as f64 / o.live_bytes as f64,
            );
        }
        report.note(w, &format!("Reclaim on {name}: {}.", kind.reclaim_note()));
    }
    report.record(w, DISK, "write", "MiB/s", Better::Higher, limits.sequential_mib_per_s);
    report.note(w, &format!("Keys {KEY_LEN} random bytes, values {} KiB of random (incompressible) bytes; every commit of {} values is durable; MiB/s counts value bytes.", VALUE_BYTES >> 10, BATCH));
    report.note(w, &format!("Reads: every value once, in random order, {} per read snapshot; each value reaches the caller once (jubilant's and fjall's owned values as returned, redb's and LMDB's borrowed slices copied once).", READ_BATCH));
    report.note(w, "The disk column is this round's sequential 1 MiB writes + fsync (physical workload): \"jubilant vs disk\" on the write row is jubilant's share of the disk's sequential bandwidth.");
    report.note(w, &format!("Disk space: allocated blocks of the engine's directory after its deferred work; jubilant's includes its preallocated {} MiB WAL segment. Live data after a random quarter is overwritten and another quarter deleted (durable batches of 10) is 3/4 of the load.", jubilant_engine::Options::default().wal_segment_bytes >> 20));
    Ok(())
}

/// Commits `keys` with their values of `generation` in one durable
/// transaction; returns the time of the commit alone.
fn commit_puts(
    engine: &dyn Engine,
    keys: &[[u8; KEY_LEN]],
    generation: u64,
    values: &mut [Vec<u8>],
) -> Result<Duration> {
    ensure!(keys.len() <= values.len(), "a batch of {} values needs as many buffers", keys.len());
    for (key, value) in keys.iter().zip(values.iter_mut()) {
        data::fill_value(key, generation, value);
    }
    let writes: Vec<Write<'_>> =
        keys.iter().zip(values.iter()).map(|(k, v)| Write::Put { key: k.as_slice(), value: v }).collect();
    let start = Instant::now();
    engine.apply(&writes)?;
    Ok(start.elapsed())
}

/// The work a load leaves for later, done now: jubilant's checkpoint,
/// fjall's flush and compactions. Returns its time.
fn deferred_work(engine: &dyn Engine) -> Result<Duration> {
    let start = Instant::now();
    engine.prepare_reads().context("deferred work")?;
    engine.settle()?;
    Ok(start.elapsed())
}

/// Checks the keys of `indices` against what `fate` says they hold: the
/// generation of their value, or `None` if deleted. Compares the bytes of
/// about [`CHECKED_VALUES`] of them, spread over `indices`, and the
/// presence and length of the others.
fn check_values(
    engine: &dyn Engine,
    keys: &[[u8; KEY_LEN]],
    indices: &[usize],
    fate: impl Fn(usize) -> Option<u64>,
) -> Result<()> {
    let mut expected = vec![0_u8; VALUE_BYTES];
    let stride = (indices.len() / CHECKED_VALUES).max(1);
    for (n, chunk) in indices.chunks(READ_BATCH).enumerate() {
        let batch: Vec<[u8; KEY_LEN]> = chunk.iter().filter_map(|&i| keys.get(i).copied()).collect();
        engine.read_values(&batch, &mut |i, value| {
            let (Some(&index), Some(key)) = (chunk.get(i), batch.get(i)) else {
                bail!("the engine handed back value {i} of a batch of {}", batch.len());
            };
            match (fate(index), value) {
                (None, None) => Ok(()),
                (None, Some(_)) => bail!("deleted key {index} is still there"),
                (Some(_), None) => bail!("key {index} is missing"),
                (Some(generation), Some(value)) => {
                    ensure!(value.len() == VALUE_BYTES, "key {index}: {} bytes", value.len());
                    if (n * READ_BATCH + i).is_multiple_of(stride) {
                        data::fill_value(key, generation, &mut expected);
                        ensure!(value == expected.as_slice(), "key {index}: wrong value");
                    }
                    Ok(())
                }
            }
        })?;
    }
    Ok(())
}
