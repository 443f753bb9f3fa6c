//! `jubilant-bench compare`: the change of every number of the latest
//! report against the previous one (or two given reports).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::report::{Report, format_number};

/// Changes smaller than this fraction are shown as unchanged (noise).
const NOISE: f64 = 0.03;

/// Options of `jubilant-bench compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Directory of the reports (default: `target/reports/bench`).
    #[arg(long)]
    pub reports_dir: Option<PathBuf>,
    /// The newer report (a `report.json` or its directory); default: the
    /// latest in the reports directory.
    pub new: Option<PathBuf>,
    /// The older report; default: the one before `new` in the reports
    /// directory.
    pub old: Option<PathBuf>,
}

/// Prints the comparison as Markdown.
pub fn compare(args: &CompareArgs) -> Result<String> {
    let reports_dir = args.reports_dir.clone().unwrap_or_else(crate::run::default_reports_dir);
    let (new_path, old_path) = match (&args.new, &args.old) {
        (Some(new), Some(old)) => (json_path(new), json_path(old)),
        (new, None) => {
            let all = list_reports(&reports_dir)?;
            let new_path = new.as_ref().map(|n| json_path(n));
            let new_index = match &new_path {
                Some(p) => {
                    let p = fs::canonicalize(p).with_context(|| format!("find {}", p.display()))?;
                    all.iter()
                        .position(|a| fs::canonicalize(a).is_ok_and(|a| a == p))
                        .with_context(|| format!("{} is not in {}", p.display(), reports_dir.display()))?
                }
                None => all.len().checked_sub(1).with_context(|| format!("no reports in {}", reports_dir.display()))?,
            };
            let Some(old_index) = new_index.checked_sub(1) else {
                bail!("need a previous report in {} to compare with (found {})", reports_dir.display(), all.len());
            };
            match (all.get(new_index), all.get(old_index)) {
                (Some(n), Some(o)) => (n.clone(), o.clone()),
                _ => bail!("report index out of range"),
            }
        }
        (None, Some(_)) => bail!("give the newer report too"),
    };
    let new = load(&new_path)?;
    let old = load(&old_path)?;
    Ok(render(&new, &new_path, &old, &old_path))
}

fn json_path(p: &Path) -> PathBuf {
    if p.is_dir() { p.join("report.json") } else { p.to_path_buf() }
}

fn load(path: &Path) -> Result<Report> {
    let text = fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

/// The `report.json` files under `dir`, oldest first (by the Unix time
/// that names their directory).
fn list_reports(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<((u64, String), PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path().join("report.json");
        if !path.is_file() {
            continue;
        }
        let time = name.split('-').next().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        found.push(((time, name), path));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

fn render(new: &Report, new_path: &Path, old: &Report, old_path: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# jubilant-bench compare\n");
    for (which, path, r) in [("new", new_path, new), ("old", old_path, old)] {
        let _ = writeln!(
            out,
            "- {which}: {} ({} profile, rounds: {}, load average at start: {})",
            path.display(),
            r.profile,
            r.rounds,
            r.load_average_start
        );
    }
    if new.profile != old.profile {
        let _ = writeln!(out, "- warning: different profiles; sizes differ");
    }
    if new.machine.line() != old.machine.line() {
        let _ = writeln!(
            out,
            "- warning: different machines or temp dirs:\n  - new: {}\n  - old: {}",
            new.machine.line(),
            old.machine.line()
        );
    }
    let _ = writeln!(
        out,
        "- change = new / old − 1; \"better\"/\"worse\" follow each metric's direction; within ±{:.0}% is shown as \"≈\".\n",
        NOISE * 100.0
    );
    for w in &new.workloads {
        let Some(ow) = old.workloads.iter().find(|o| o.id == w.id) else {
            let _ = writeln!(out, "## {}: not in the old report\n", w.id);
            continue;
        };
        let _ = writeln!(out, "## {}\n", w.id);
        let _ = writeln!(out, "| engine | metric | old | new | change | |");
        let _ = writeln!(out, "|---|---|---:|---:|---:|---|");
        for m in &w.metrics {
            let Some(om) = ow.metrics.iter().find(|o| o.engine == m.engine && o.name == m.name && o.unit == m.unit)
            else {
                let _ = writeln!(out, "| {} | {} | – | {} | new | |", m.engine, m.label(), format_number(m.median));
                continue;
            };
            let (change, verdict) = if om.median.abs() > 0.0 {
                let change = m.median / om.median - 1.0;
                let better = (change > 0.0) == m.higher_is_better;
                let verdict = if change.abs() < NOISE {
                    "≈"
                } else if better {
                    "better"
                } else {
                    "worse"
                };
                (format!("{:+.1}%", change * 100.0), verdict)
            } else {
                ("–".to_owned(), "")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {change} | {verdict} |",
                m.engine,
                m.label(),
                format_number(om.median),
                format_number(m.median)
            );
        }
        out.push('\n');
    }
    out
}
