//! `jubilant-bench`: runs the same workloads on jubilant-engine and on peer
//! engines (redb, fjall, LMDB through heed, sled) behind one small trait, in one
//! process, interleaved; prints Markdown tables and writes a JSON report.
//!
//! - `jubilant-bench [run] [--full] [--rounds N] [--only W,...] [--engines E,...]`:
//!   the small-value workloads, the disk's limits, 64 KiB values
//!   (`values64k`) and jubilant's transactions (`txn`).
//! - `jubilant-bench rss [--keys N] [--json]`: the bounded-memory run alone.
//! - `jubilant-bench compare [NEW [OLD]]`: changes against the previous report.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error.

mod compare;
mod data;
mod engines;
mod machine;
mod physical;
mod report;
mod rss;
mod run;
mod space;
mod stats;
mod txn;
mod values64k;
mod workloads;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

/// Benchmarks jubilant-engine against redb, fjall, LMDB and sled.
#[derive(Debug, Parser)]
#[command(name = "jubilant-bench", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: run::RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the workloads (the default).
    Run(run::RunArgs),
    /// Bounded-memory load of jubilant; prints the peak RSS.
    Rss(RssArgs),
    /// Compare the latest report with the previous one.
    Compare(compare::CompareArgs),
}

/// Options of `jubilant-bench rss`.
#[derive(Debug, Args)]
struct RssArgs {
    /// Keys to load.
    #[arg(long, default_value_t = 1_000_000)]
    keys: usize,
    /// Print one JSON line instead of text (used by `run`).
    #[arg(long)]
    json: bool,
    /// Directory for the database (default: `target/bench-tmp`).
    #[arg(long)]
    tmp_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("jubilant-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        None => run_and_print(&cli.run),
        Some(Command::Run(args)) => run_and_print(&args),
        Some(Command::Rss(args)) => rss_command(&args),
        Some(Command::Compare(args)) => {
            let text = compare::compare(&args)?;
            std::io::stdout().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

fn run_and_print(args: &run::RunArgs) -> Result<()> {
    let (report, dir) = run::run(args)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(report.to_markdown().as_bytes())?;
    writeln!(stdout, "Report: {}/report.json (and report.md)", dir.display())?;
    Ok(())
}

fn rss_command(args: &RssArgs) -> Result<()> {
    let tmp = args.tmp_dir.clone().unwrap_or_else(run::default_tmp_dir);
    let dir = tmp.join(format!("rss-{}", std::process::id()));
    let r = rss::run(&dir, args.keys)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string(&r)?)?;
    } else {
        writeln!(
            stdout,
            "bounded-memory load of {} keys (cache_bytes = {} MiB, dirty_bytes_max = {} MiB):",
            r.keys,
            r.cache_bytes >> 20,
            r.dirty_bytes_max >> 20
        )?;
        writeln!(
            stdout,
            "  peak RSS (VmHWM): {:.1} MiB (before open: {:.1} MiB)",
            r.peak_rss_mib, r.baseline_peak_rss_mib
        )?;
        writeln!(stdout, "  RSS after load:   {:.1} MiB", r.rss_after_load_mib)?;
        writeln!(stdout, "  load:             {:.0} keys/s", r.keys_per_s)?;
        writeln!(
            stdout,
            "  checkpoints: {}, cache evictions: {}, cache bytes: {}",
            r.checkpoints, r.cache_evictions, r.cache_bytes_used
        )?;
    }
    Ok(())
}
