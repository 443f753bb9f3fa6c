//! The results of a run: collected samples, the JSON report and its
//! Markdown rendering.
//!
//! A metric is identified by (workload, engine, name); it holds one sample
//! per round and their median. Tables show medians and, for each peer, the
//! ratio of jubilant to that peer oriented so that a ratio above 1 means
//! jubilant did better (for throughput jubilant/peer, for latency
//! peer/jubilant).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::machine::Machine;
use crate::stats::median;

/// Version of the report's JSON layout.
pub const REPORT_FORMAT: u32 = 1;

/// The name of jubilant in reports.
pub const JUBILANT: &str = "jubilant";

/// The "engine" name of the disk's own limits in reports.
pub const DISK: &str = "disk";

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_FORMAT`] of the writer.
    pub format: u32,
    /// When the run started, seconds since the Unix epoch.
    pub unix_time: u64,
    /// `quick` or `full`.
    pub profile: String,
    /// Rounds of every workload.
    pub rounds: usize,
    /// Engines in the run, jubilant first.
    pub engines: Vec<String>,
    /// Where it ran.
    pub machine: Machine,
    /// Settings of the run as `(name, value)`: sizes, counts, durability.
    pub settings: Vec<(String, String)>,
    /// Notes that apply to the whole run.
    pub notes: Vec<String>,
    /// Results by workload, in run order.
    pub workloads: Vec<WorkloadResult>,
    /// Wall time of the whole run, seconds.
    pub wall_seconds: f64,
    /// Load averages (1, 5, 15 min) when the run started.
    #[serde(default)]
    pub load_average_start: String,
    /// Load averages (1, 5, 15 min) when the run ended.
    #[serde(default)]
    pub load_average_end: String,
}

/// The results of one workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// Short id, as given to `--only`.
    pub id: String,
    /// One-line description.
    pub title: String,
    /// Notes, such as preparations before the measurement.
    pub notes: Vec<String>,
    /// The metrics, in first-recorded order.
    pub metrics: Vec<Metric>,
}

/// One number measured once per round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metric {
    /// Engine (or `disk` for the physical limits).
    pub engine: String,
    /// What was measured, such as `p50`.
    pub name: String,
    /// Unit, such as `µs` or `keys/s`.
    pub unit: String,
    /// Whether a larger number is better.
    pub higher_is_better: bool,
    /// One sample per round.
    pub samples: Vec<f64>,
    /// Median of the samples.
    pub median: f64,
}

impl Metric {
    /// The label of this metric's table row.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.unit)
    }
}

/// Whether larger numbers are better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Throughput and the like.
    Higher,
    /// Latency, memory and the like.
    Lower,
}

impl Report {
    /// Adds one sample, creating the workload and metric on first use.
    pub fn record(
        &mut self,
        (workload, title): (&str, &str),
        engine: &str,
        name: &str,
        unit: &str,
        better: Better,
        value: f64,
    ) {
        let w = self.workload_mut(workload, title);
        if let Some(m) = w.metrics.iter_mut().find(|m| m.engine == engine && m.name == name) {
            m.samples.push(value);
            m.median = median(&m.samples).unwrap_or(value);
            return;
        }
        w.metrics.push(Metric {
            engine: engine.to_owned(),
            name: name.to_owned(),
            unit: unit.to_owned(),
            higher_is_better: better == Better::Higher,
            samples: vec![value],
            median: value,
        });
    }

    /// Adds a note to a workload, once.
    pub fn note(&mut self, (workload, title): (&str, &str), note: &str) {
        let w = self.workload_mut(workload, title);
        if !w.notes.iter().any(|n| n == note) {
            w.notes.push(note.to_owned());
        }
    }

    fn workload_mut(&mut self, id: &str, title: &str) -> &mut WorkloadResult {
        let index = match self.workloads.iter().position(|w| w.id == id) {
            Some(i) => i,
            None => {
                self.workloads.push(WorkloadResult {
                    id: id.to_owned(),
                    title: title.to_owned(),
                    notes: Vec::new(),
                    metrics: Vec::new(),
                });
                self.workloads.len() - 1
            }
        };
        let len = self.workloads.len();
        let Some(w) = self.workloads.get_mut(index) else {
            unreachable!("index {index} < {len}");
        };
        w
    }

    /// The whole report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# jubilant-bench ({} profile, {} round{}, median per cell)\n",
            self.profile,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" }
        );
        let _ = writeln!(out, "Machine: {}\n", self.machine.line());
        for (name, value) in &self.settings {
            let _ = writeln!(out, "- {name}: {value}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        out.push('\n');
        for w in &self.workloads {
            out.push_str(&self.workload_markdown(w));
        }
        let _ = writeln!(
            out,
            "Wall time of the run: {:.0} s; load average at start: {}, at end: {}",
            self.wall_seconds, self.load_average_start, self.load_average_end
        );
        out
    }

    fn workload_markdown(&self, w: &WorkloadResult) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## {}: {}\n", w.id, w.title);
        for note in &w.notes {
            let _ = writeln!(out, "- {note}");
        }
        if !w.notes.is_empty() {
            out.push('\n');
        }
        let mut engines: Vec<&str> =
            self.engines.iter().map(String::as_str).filter(|e| w.metrics.iter().any(|m| m.engine == *e)).collect();
        for m in &w.metrics {
            if !engines.contains(&m.engine.as_str()) {
                engines.push(&m.engine);
            }
        }
        let peers: Vec<&str> = if engines.contains(&JUBILANT) {
            engines.iter().copied().filter(|e| *e != JUBILANT).collect()
        } else {
            Vec::new()
        };
        let mut rows: Vec<String> = Vec::new();
        for m in &w.metrics {
            if !rows.contains(&m.label()) {
                rows.push(m.label());
            }
        }
        let _ = write!(out, "| metric |");
        for e in &engines {
            let _ = write!(out, " {e} |");
        }
        for p in &peers {
            let _ = write!(out, " jubilant vs {p} |");
        }
        out.push_str("\n|---|");
        for _ in 0..engines.len() + peers.len() {
            out.push_str("---:|");
        }
        out.push('\n');
        for row in &rows {
            let cell = |engine: &str| w.metrics.iter().find(|m| m.engine == engine && m.label() == *row);
            let _ = write!(out, "| {row} |");
            for e in &engines {
                let _ = write!(out, " {} |", cell(e).map_or_else(|| "–".to_owned(), |m| format_number(m.median)));
            }
            for p in &peers {
                let ratio = match (cell(JUBILANT), cell(p)) {
                    (Some(j), Some(p)) => ratio(j, p).map_or_else(|| "–".to_owned(), format_ratio),
                    _ => "–".to_owned(),
                };
                let _ = write!(out, " {ratio} |");
            }
            out.push('\n');
        }
        if !peers.is_empty() {
            out.push_str("\nRatios: >1× means jubilant is better (faster or lower latency).\n");
        }
        out.push('\n');
        out
    }
}

/// How much better `j` is than `p` (>1 means `j` is better).
pub fn ratio(j: &Metric, p: &Metric) -> Option<f64> {
    let (num, den) = if j.higher_is_better { (j.median, p.median) } else { (p.median, j.median) };
    (den > 0.0 && num.is_finite()).then(|| num / den)
}

/// Formats a ratio as `1.23×`.
pub fn format_ratio(r: f64) -> String {
    format!("{r:.2}×")
}

/// Formats a number with thousands separators and a precision that suits
/// its size.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v.abs() >= 999.5 {
        let n = v.round() as i64;
        let digits = n.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if n < 0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(format_number(1_234_567.4), "1,234,567");
        assert_eq!(format_number(999.6), "1,000");
        assert_eq!(format_number(123.4), "123");
        assert_eq!(format_number(12.34), "12.3");
        assert_eq!(format_number(1.234), "1.23");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-4321.0), "-4,321");
    }

    #[test]
    fn ratio_is_oriented_so_bigger_is_better_for_jubilant() {
        let m = |higher_is_better, median| Metric {
            engine: String::new(),
            name: String::new(),
            unit: String::new(),
            higher_is_better,
            samples: vec![median],
            median,
        };
        assert_eq!(ratio(&m(true, 200.0), &m(true, 100.0)), Some(2.0));
        assert_eq!(ratio(&m(false, 50.0), &m(false, 100.0)), Some(2.0));
        assert_eq!(ratio(&m(false, 0.0), &m(false, 100.0)), None);
    }
}
