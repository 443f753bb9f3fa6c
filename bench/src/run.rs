//! `jubilant-bench run`: every selected workload on every selected engine,
//! interleaved, then the Markdown table and the JSON report.
//!
//! Each round opens every engine in a fresh directory and loads the same
//! keys. Then, workload by workload, the engines take turns in an order
//! that rotates with the round and the workload, so slow drift of the
//! machine (page cache, other processes, thermal) does not always favour
//! the same engine. Before each measurement every open engine is settled
//! (fjall's flushes and compactions are waited for), so one engine's
//! background work does not land in another's numbers.
//!
//! After the small-value workloads come, in each round, the disk's
//! physical limits, the large-value workload (one engine open at a time,
//! in rotated order; it reuses this round's sequential bandwidth) and the
//! transaction workload (jubilant alone).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use crate::data::{self, KEY_LEN};
use crate::engines::{Engine, EngineKind};
use crate::machine::Machine;
use crate::physical::{self, PhysicalLimits};
use crate::report::{Better, DISK, JUBILANT, REPORT_FORMAT, Report};
use crate::rss::{self, RssResult};
use crate::space::disk_bytes;
use crate::stats::per_second;
use crate::txn;
use crate::values64k;
use crate::workloads;

/// A workload, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Bulk load in durable batches.
    Bulk,
    /// Single-key durable commit latency.
    Latency,
    /// Concurrent single-key durable commits.
    Group,
    /// Random point reads.
    Reads,
    /// Short range scans.
    Scans,
    /// Raw disk limits (write + fdatasync, bandwidth).
    Physical,
    /// jubilant's cache and WAL counters.
    Counters,
    /// jubilant's bounded-memory load in a child process.
    Rss,
    /// 64 KiB values: write, random reads, disk space, space after
    /// overwrites, deletes and each engine's GC or compaction.
    #[value(name = "values64k")]
    Values64k,
    /// jubilant's transactions: `db.transact` against plain batches, and
    /// read-modify-write latency under key contention.
    Txn,
}

/// Options of `jubilant-bench run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Full profile: 1,000,000 bulk keys and 2,000,000 reads (or set
    /// JUBILANT_BENCH_FULL=1).
    #[arg(long, env = "JUBILANT_BENCH_FULL", value_parser = clap::builder::BoolishValueParser::new())]
    pub full: bool,
    /// Rounds of every workload; tables show the median.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Run only these workloads (the bulk load runs whenever a
    /// small-value workload does: they need its data).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<Workload>,
    /// Engines to run (default: all).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub engines: Vec<EngineKind>,
    /// Engines of the group-commit workload, among `--engines` (default:
    /// all of them).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub group_engines: Vec<EngineKind>,
    /// Directory for the databases (default: `target/bench-tmp`).
    #[arg(long)]
    pub tmp_dir: Option<PathBuf>,
    /// Directory of the reports (default: `target/reports/bench`).
    #[arg(long)]
    pub reports_dir: Option<PathBuf>,
    /// Override the number of bulk-loaded keys.
    #[arg(long)]
    pub bulk_keys: Option<usize>,
    /// Override the number of point reads per thread count.
    #[arg(long)]
    pub read_ops: Option<usize>,
    /// Override the number of commits per thread count of the group-commit
    /// workload (split among the threads).
    #[arg(long)]
    pub group_commits: Option<usize>,
}

/// Sizes and counts of a run.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `quick` or `full`.
    pub name: &'static str,
    /// Keys of the bulk load.
    pub bulk_keys: usize,
    /// Pairs per bulk commit.
    pub bulk_batch: usize,
    /// Single-key commits of the latency workload.
    pub latency_commits: usize,
    /// Thread counts of the group-commit workload.
    pub group_threads: Vec<usize>,
    /// Commits per thread count (split among the threads).
    pub group_commits: usize,
    /// Thread counts of the point-read workload.
    pub read_threads: Vec<usize>,
    /// Point reads per thread count.
    pub read_ops: usize,
    /// Scans.
    pub scans: usize,
    /// Pairs per scan.
    pub scan_len: usize,
    /// Small durable writes of each kind in the physical workload.
    pub physical_syncs: usize,
    /// MiB of sequential writes in the physical workload.
    pub sequential_mib: usize,
    /// Keys of the bounded-memory run.
    pub rss_keys: usize,
    /// 64 KiB values of the large-value workload.
    pub large_values: usize,
    /// Commits per thread of each transaction measurement.
    pub txn_per_thread: usize,
    /// Preloaded keys per thread of the transaction workload.
    pub txn_keys_per_thread: usize,
}

impl Profile {
    fn new(args: &RunArgs) -> Profile {
        let full = args.full;
        Profile {
            name: if full { "full" } else { "quick" },
            bulk_keys: args.bulk_keys.unwrap_or(if full { 1_000_000 } else { 200_000 }),
            bulk_batch: 1_000,
            latency_commits: 2_000,
            group_threads: vec![1, 4, 16, 64],
            group_commits: args.group_commits.unwrap_or(4_096),
            read_threads: vec![1, 2],
            read_ops: args.read_ops.unwrap_or(if full { 2_000_000 } else { 1_000_000 }),
            scans: 10_000,
            scan_len: 100,
            physical_syncs: 1_000,
            sequential_mib: if full { 1024 } else { 256 },
            rss_keys: 1_000_000,
            large_values: if full { 10_000 } else { 2_000 },
            txn_per_thread: if full { 10_000 } else { 2_000 },
            txn_keys_per_thread: 10_000,
        }
    }

    fn title(&self, w: Workload) -> (&'static str, String) {
        match w {
            Workload::Bulk => (
                "bulk",
                format!(
                    "{} random {KEY_LEN}-byte keys / {}-byte values, durable commits of {}",
                    self.bulk_keys,
                    data::VALUE_LEN,
                    self.bulk_batch
                ),
            ),
            Workload::Latency => {
                ("latency", format!("{} single-key durable commits on the loaded database", self.latency_commits))
            }
            Workload::Group => {
                ("group", format!("T threads doing single-key durable commits, {} commits per T", self.group_commits))
            }
            Workload::Reads => {
                ("reads", format!("{} random point reads of loaded keys per thread count", self.read_ops))
            }
            Workload::Scans => {
                ("scans", format!("{} range scans of {} pairs from random loaded keys", self.scans, self.scan_len))
            }
            Workload::Physical => (
                "physical",
                format!(
                    "disk limits: {} × 4 KiB write + fdatasync, {} MiB sequential",
                    self.physical_syncs, self.sequential_mib
                ),
            ),
            Workload::Counters => {
                ("counters", "jubilant counters since open, after the workloads above (per round)".to_owned())
            }
            Workload::Rss => (
                "rss",
                format!(
                    "jubilant bounded memory: {} keys, cache_bytes = {} MiB, dirty_bytes_max = {} MiB (child process)",
                    self.rss_keys,
                    rss::CACHE_BYTES >> 20,
                    rss::DIRTY_BYTES_MAX >> 20
                ),
            ),
            Workload::Values64k => (
                "values64k",
                format!(
                    "{} random {} KiB values, durable commits of {}; random reads; space before and after overwriting a quarter, deleting a quarter and reclaiming",
                    self.large_values,
                    values64k::VALUE_BYTES >> 10,
                    values64k::BATCH
                ),
            ),
            Workload::Txn => (
                "txn",
                format!(
                    "jubilant transactions, durable: {} × SET via db.transact vs WriteBatch on {} threads; read-modify-writes on {} threads under 0/10/50% hot-key contention; {} commits per thread each",
                    txn::WRITES_PER_TXN,
                    txn::UNCONTENDED_THREADS,
                    txn::CONTENDED_THREADS,
                    self.txn_per_thread
                ),
            ),
        }
    }
}

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"), PathBuf::from);
    fs::canonicalize(&dir).unwrap_or(dir)
}

/// The default directory of the reports.
pub fn default_reports_dir() -> PathBuf {
    target_dir().join("reports").join("bench")
}

/// The default directory of the databases.
pub fn default_tmp_dir() -> PathBuf {
    target_dir().join("bench-tmp")
}

/// An open engine and its directory.
struct OpenEngine {
    kind: EngineKind,
    engine: Box<dyn Engine>,
    dir: PathBuf,
}

/// Runs the benchmark; writes the reports and returns the report and the
/// directory it was written to.
pub fn run(args: &RunArgs) -> Result<(Report, PathBuf)> {
    let started = Instant::now();
    let unix_time = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let profile = Profile::new(args);
    let selected = |w: Workload| args.only.is_empty() || args.only.contains(&w);
    let engines = engine_list(if args.engines.is_empty() { EngineKind::ALL.as_slice() } else { &args.engines });
    let large_engines =
        engine_list(if args.engines.is_empty() { EngineKind::LARGE_VALUES.as_slice() } else { &args.engines });
    let mut reported = engines.clone();
    if selected(Workload::Values64k) {
        reported.extend(large_engines.iter().copied());
    }
    let reported = engine_list(&reported);
    let tmp_root = args.tmp_dir.clone().unwrap_or_else(default_tmp_dir);
    fs::create_dir_all(&tmp_root).with_context(|| format!("create {}", tmp_root.display()))?;
    let tmp_root = fs::canonicalize(&tmp_root)?;
    let run_dir = tmp_root.join(format!("run-{}", std::process::id()));
    let machine = Machine::detect(&tmp_root);
    if machine.fs_type == "tmpfs" {
        eprintln!("warning: {} is on tmpfs: fsync costs nothing there", tmp_root.display());
    }
    let mut report = Report {
        format: REPORT_FORMAT,
        unix_time,
        profile: profile.name.to_owned(),
        rounds: usize::try_from(args.rounds)?,
        engines: reported.iter().map(|e| e.name().to_owned()).collect(),
        machine,
        settings: settings(&profile, &reported),
        notes: vec![
            "Each engine runs with its own default options; every commit is durable when it returns.".to_owned(),
            format!(
                "Reads: redb, LMDB and fjall serve {} gets or {} scans from one read transaction/snapshot; jubilant serves each batch of gets from one snapshot with Db::get_many_with and each scan from its own with Db::scan_with (values borrowed in place, as redb and LMDB hand out guards into their pages).",
                workloads::GET_BATCH,
                workloads::SCAN_BATCH
            ),
            "Engines take turns per workload in an order rotated by round and workload; fjall's flushes and compactions are waited for (up to 30 s) before every measurement.".to_owned(),
        ],
        workloads: Vec::new(),
        wall_seconds: 0.0,
        load_average_start: crate::machine::load_average(),
        load_average_end: String::new(),
    };

    let needs_engines =
        [Workload::Bulk, Workload::Latency, Workload::Group, Workload::Reads, Workload::Scans, Workload::Counters]
            .into_iter()
            .any(selected);
    let keys = if needs_engines { data::keys(data::SEED_BULK, profile.bulk_keys) } else { Vec::new() };
    for round in 0..usize::try_from(args.rounds)? {
        eprintln!("== round {}/{}", round + 1, args.rounds);
        if needs_engines {
            let result = engines_round(&profile, &engines, args, &keys, round, &run_dir, &mut report);
            if run_dir.exists() {
                let _ = fs::remove_dir_all(&run_dir);
            }
            result?;
        }
        let limits = if selected(Workload::Physical) || selected(Workload::Values64k) {
            Some(physical_round(&profile, &run_dir.join("physical"), selected(Workload::Physical), &mut report)?)
        } else {
            None
        };
        if let Some(limits) = limits.filter(|_| selected(Workload::Values64k)) {
            let w = profile.title(Workload::Values64k);
            let order: Vec<EngineKind> = rotated(&large_engines, round).into_iter().copied().collect();
            let result = values64k::round(
                (w.0, w.1.as_str()),
                &order,
                profile.large_values,
                round,
                &run_dir,
                &limits,
                &mut report,
            );
            if run_dir.exists() {
                let _ = fs::remove_dir_all(&run_dir);
            }
            result?;
        }
        if selected(Workload::Txn) {
            let w = profile.title(Workload::Txn);
            let result = txn::round(
                (w.0, w.1.as_str()),
                profile.txn_per_thread,
                profile.txn_keys_per_thread,
                round,
                &run_dir,
                &mut report,
            );
            if run_dir.exists() {
                let _ = fs::remove_dir_all(&run_dir);
            }
            result?;
        }
    }
    if selected(Workload::Rss) {
        rss_child(&profile, &run_dir, &mut report)?;
    }
    if run_dir.exists() {
        fs::remove_dir_all(&run_dir).with_context(|| format!("remove {}", run_dir.display()))?;
    }
    report.wall_seconds = started.elapsed().as_secs_f64();
    report.load_average_end = crate::machine::load_average();
    let reports_dir = args.reports_dir.clone().unwrap_or_else(default_reports_dir);
    let out = write_report(&report, &reports_dir)?;
    Ok((report, out))
}

/// `kinds` without repeats, in table order.
fn engine_list(kinds: &[EngineKind]) -> Vec<EngineKind> {
    let mut list: Vec<EngineKind> = Vec::new();
    for e in kinds {
        if !list.contains(e) {
            list.push(*e);
        }
    }
    list.sort_by_key(|e| e.order());
    list
}

fn settings(profile: &Profile, engines: &[EngineKind]) -> Vec<(String, String)> {
    let mut s = vec![
        ("bulk keys".to_owned(), profile.bulk_keys.to_string()),
        ("key / value bytes".to_owned(), format!("{KEY_LEN} / {} (random, incompressible)", data::VALUE_LEN)),
    ];
    for e in engines {
        s.push((format!("{} durable commit", e.name()), e.durability_note().to_owned()));
    }
    s
}

/// One round of the engine workloads.
fn engines_round(
    profile: &Profile,
    engines: &[EngineKind],
    args: &RunArgs,
    keys: &[[u8; KEY_LEN]],
    round: usize,
    run_dir: &Path,
    report: &mut Report,
) -> Result<()> {
    let selected = |w: Workload| args.only.is_empty() || args.only.contains(&w);
    let mut open: Vec<OpenEngine> = Vec::new();
    for kind in engines {
        let dir = run_dir.join(format!("{}-r{round}", kind.name()));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let engine = kind.open(&dir).with_context(|| format!("open {}", kind.name()))?;
        open.push(OpenEngine { kind: *kind, engine, dir });
    }
    let mut phase = 0;

    // Bulk load: always, the other workloads read its keys.
    let w = profile.title(Workload::Bulk);
    let w = (w.0, w.1.as_str());
    for o in rotated(&open, round + phase) {
        settle_all(&open)?;
        let elapsed = workloads::bulk(o.engine.as_ref(), keys, profile.bulk_batch)
            .with_context(|| format!("{}: bulk", o.kind.name()))?;
        // What the load deferred: jubilant's checkpoint, fjall's memtable
        // flush and compactions. redb and LMDB have nothing to defer.
        let start = Instant::now();
        o.engine.prepare_reads().with_context(|| format!("{}: checkpoint after bulk", o.kind.name()))?;
        o.engine.settle()?;
        let deferred = start.elapsed();
        let n = u64::try_from(keys.len())?;
        let rate = per_second(n, elapsed);
        progress(round, "bulk", o.kind, &format!("{rate:.0} keys/s, then {} ms deferred work", deferred.as_millis()));
        if selected(Workload::Bulk) {
            report.record(w, o.kind.name(), "load", "keys/s", Better::Higher, rate);
            report.record(
                w,
                o.kind.name(),
                "load incl. deferred work",
                "keys/s",
                Better::Higher,
                per_second(n, elapsed + deferred),
            );
            let mib = disk_bytes(&o.dir)? as f64 / f64::from(1 << 20);
            report.record(w, o.kind.name(), "disk space after load", "MiB", Better::Lower, mib);
        }
    }
    if selected(Workload::Bulk) {
        report.note(w, "\"incl. deferred work\" adds what the load left for later, timed right after it: jubilant's db.checkpoint(), fjall's memtable flush and compactions (redb and LMDB defer nothing).");
        report.note(w, &format!("Disk space (allocated blocks, after the deferred work) includes jubilant's preallocated {} MiB WAL segment (wal_preallocate); LMDB's map is sparse.", jubilant_engine::Options::default().wal_segment_bytes >> 20));
    }
    phase += 1;

    if selected(Workload::Latency) {
        let w = profile.title(Workload::Latency);
        let w = (w.0, w.1.as_str());
        for o in rotated(&open, round + phase) {
            settle_all(&open)?;
            let l = workloads::commit_latency(o.engine.as_ref(), profile.latency_commits)
                .with_context(|| format!("{}: commit latency", o.kind.name()))?;
            progress(round, "latency", o.kind, &format!("p50 {:.0} µs", l.p50_us));
            report.record(w, o.kind.name(), "mean", "µs", Better::Lower, l.mean_us);
            report.record(w, o.kind.name(), "p50", "µs", Better::Lower, l.p50_us);
            report.record(w, o.kind.name(), "p99", "µs", Better::Lower, l.p99_us);
        }
        phase += 1;
    }

    if selected(Workload::Group) {
        let w = profile.title(Workload::Group);
        let w = (w.0, w.1.as_str());
        let group: Vec<&OpenEngine> =
            open.iter().filter(|o| args.group_engines.is_empty() || args.group_engines.contains(&o.kind)).collect();
        for &threads in &profile.group_threads {
            for o in rotated(&group, round + phase) {
                settle_all(&open)?;
                let (commits, elapsed) = workloads::group_commit(o.engine.as_ref(), threads, profile.group_commits)
                    .with_context(|| format!("{}: group commit", o.kind.name()))?;
                let rate = per_second(commits, elapsed);
                progress(round, "group", o.kind, &format!("T={threads}: {rate:.0} commits/s"));
                report.record(w, o.kind.name(), &format!("T={threads}"), "commits/s", Better::Higher, rate);
            }
            phase += 1;
        }
        // Scaling relative to T=1, from this round's samples.
        for o in &group {
            let name = o.kind.name();
            let last = |report: &Report, metric: &str| {
                report
                    .workloads
                    .iter()
                    .find(|x| x.id == w.0)
                    .and_then(|x| x.metrics.iter().find(|m| m.engine == name && m.name == metric))
                    .and_then(|m| m.samples.last().copied())
            };
            let Some(base) = last(report, "T=1") else {
                continue;
            };
            for &threads in profile.group_threads.iter().filter(|t| **t != 1) {
                if let Some(v) = last(report, &format!("T={threads}")) {
                    report.record(w, name, &format!("T={threads} vs T=1"), "×", Better::Higher, v / base.max(1e-9));
                }
            }
        }
    }

    if selected(Workload::Reads) || selected(Workload::Scans) || selected(Workload::Counters) {
        for o in &open {
            if let Some(note) = o.engine.prepare_reads().with_context(|| format!("{}: prepare reads", o.kind.name()))? {
                eprintln!("  {note}");
                let id = if selected(Workload::Reads) {
                    Workload::Reads
                } else if selected(Workload::Scans) {
                    Workload::Scans
                } else {
                    continue;
                };
                let w = profile.title(id);
                let note = note.split(" wrote ").next().unwrap_or_default();
                report.note((w.0, w.1.as_str()), &format!("{note} (untimed)."));
            }
        }
    }

    if selected(Workload::Reads) {
        let w = profile.title(Workload::Reads);
        let w = (w.0, w.1.as_str());
        for &threads in &profile.read_threads {
            for o in rotated(&open, round + phase) {
                settle_all(&open)?;
                let (ops, elapsed) = workloads::point_reads(o.engine.as_ref(), keys, threads, profile.read_ops)
                    .with_context(|| format!("{}: point reads", o.kind.name()))?;
                let rate = per_second(ops, elapsed);
                progress(round, "reads", o.kind, &format!("{threads} thread(s): {rate:.0} ops/s"));
                report.record(
                    w,
                    o.kind.name(),
                    &format!("{threads} thread{}", if threads == 1 { "" } else { "s" }),
                    "gets/s",
                    Better::Higher,
                    rate,
                );
            }
            phase += 1;
        }
    }

    if selected(Workload::Scans) {
        let w = profile.title(Workload::Scans);
        let w = (w.0, w.1.as_str());
        for o in rotated(&open, round + phase) {
            settle_all(&open)?;
            let (read, elapsed) = workloads::scans(o.engine.as_ref(), keys, profile.scans, profile.scan_len)
                .with_context(|| format!("{}: scans", o.kind.name()))?;
            let rate = per_second(read, elapsed);
            progress(round, "scans", o.kind, &format!("{rate:.0} keys/s"));
            report.record(w, o.kind.name(), "scanned", "keys/s", Better::Higher, rate);
            report.record(
                w,
                o.kind.name(),
                "scans",
                "scans/s",
                Better::Higher,
                per_second(u64::try_from(profile.scans)?, elapsed),
            );
        }
    }

    if selected(Workload::Counters) {
        let w = profile.title(Workload::Counters);
        let w = (w.0, w.1.as_str());
        for o in open.iter().filter(|o| o.kind.name() == JUBILANT) {
            for (name, unit, value) in o.engine.counters() {
                report.record(w, o.kind.name(), name, unit, Better::Higher, value);
            }
        }
    }

    for o in open {
        o.engine.close().with_context(|| format!("close {}", o.kind.name()))?;
        fs::remove_dir_all(&o.dir).with_context(|| format!("remove {}", o.dir.display()))?;
    }
    Ok(())
}

/// Measures the disk's limits; records them if `record`.
fn physical_round(profile: &Profile, dir: &Path, record: bool, report: &mut Report) -> Result<PhysicalLimits> {
    let w = profile.title(Workload::Physical);
    let w = (w.0, w.1.as_str());
    let limits =
        physical::measure(dir, profile.physical_syncs, profile.sequential_mib).context("measure physical limits")?;
    eprintln!(
        "  physical: overwrite p50 {:.0} µs, append p50 {:.0} µs, sequential {:.0} MiB/s",
        limits.overwrite.p50_us, limits.append.p50_us, limits.sequential_mib_per_s
    );
    if !record {
        return Ok(limits);
    }
    let disk = DISK;
    report.record(w, disk, "4 KiB overwrite + fdatasync p50", "µs", Better::Lower, limits.overwrite.p50_us);
    report.record(w, disk, "4 KiB overwrite + fdatasync p99", "µs", Better::Lower, limits.overwrite.p99_us);
    report.record(w, disk, "4 KiB append + fdatasync p50", "µs", Better::Lower, limits.append.p50_us);
    report.record(w, disk, "4 KiB append + fdatasync p99", "µs", Better::Lower, limits.append.p99_us);
    report.record(
        w,
        disk,
        "serial durable commits at overwrite p50",
        "commits/s",
        Better::Higher,
        1e6 / limits.overwrite.p50_us.max(1e-9),
    );
    report.record(w, disk, "sequential 1 MiB writes + fsync", "MiB/s", Better::Higher, limits.sequential_mib_per_s);
    Ok(limits)
}

/// Runs `jubilant-bench rss --json` as a child and records its result.
fn rss_child(profile: &Profile, run_dir: &Path, report: &mut Report) -> Result<()> {
    let w = profile.title(Workload::Rss);
    let w = (w.0, w.1.as_str());
    eprintln!("== rss child: {} keys", profile.rss_keys);
    let exe = std::env::current_exe().context("find own executable")?;
    let output = Command::new(exe)
        .arg("rss")
        .arg("--json")
        .arg("--keys")
        .arg(profile.rss_keys.to_string())
        .arg("--tmp-dir")
        .arg(run_dir)
        .stderr(Stdio::inherit())
        .output()
        .context("run `jubilant-bench rss`")?;
    if !output.status.success() {
        bail!("`jubilant-bench rss` failed: {}", output.status);
    }
    let stdout = String::from_utf8(output.stdout)?;
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty()).context("`jubilant-bench rss` printed nothing")?;
    let r: RssResult = serde_json::from_str(line).context("parse `jubilant-bench rss` output")?;
    eprintln!("  peak RSS {:.1} MiB", r.peak_rss_mib);
    record_rss(report, w, &r);
    Ok(())
}

/// Records a bounded-memory result.
fn record_rss(report: &mut Report, w: (&str, &str), r: &RssResult) {
    let j = JUBILANT;
    report.record(w, j, "peak RSS (VmHWM)", "MiB", Better::Lower, r.peak_rss_mib);
    report.record(w, j, "peak RSS before open", "MiB", Better::Lower, r.baseline_peak_rss_mib);
    report.record(w, j, "RSS after load", "MiB", Better::Lower, r.rss_after_load_mib);
    report.record(w, j, "load", "keys/s", Better::Higher, r.keys_per_s);
    report.record(w, j, "checkpoints", "count", Better::Lower, r.checkpoints as f64);
    report.record(w, j, "cache evictions", "count", Better::Lower, r.cache_evictions as f64);
}

fn settle_all(open: &[OpenEngine]) -> Result<()> {
    for o in open {
        o.engine.settle().with_context(|| format!("settle {}", o.kind.name()))?;
    }
    Ok(())
}

/// `items` rotated left by `by`.
fn rotated<T>(items: &[T], by: usize) -> Vec<&T> {
    let n = items.len();
    (0..n).filter_map(|i| items.get((i + by) % n)).collect()
}

fn progress(round: usize, workload: &str, kind: EngineKind, what: &str) {
    eprintln!("  [r{}] {workload:<8} {:<9} {what}", round + 1, kind.name());
}

/// Writes `report.json` and `report.md` under `reports_dir/<unix time>/`.
fn write_report(report: &Report, reports_dir: &Path) -> Result<PathBuf> {
    let mut dir = reports_dir.join(report.unix_time.to_string());
    for i in 2..100 {
        if !dir.exists() {
            break;
        }
        dir = reports_dir.join(format!("{}-{i}", report.unix_time));
    }
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    fs::write(dir.join("report.json"), serde_json::to_string_pretty(report)?).context("write report.json")?;
    fs::write(dir.join("report.md"), report.to_markdown()).context("write report.md")?;
    Ok(dir)
}
