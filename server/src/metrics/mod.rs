//! Metrics: one snapshot model, rendered two ways — Prometheus text for
//! `GET /metrics` and (name, value) pairs for INFO — so that INFO carries
//! every metric /metrics has by construction.
//!
//! Naming: a family has a dotted name (`server.busy_sheds`). Its INFO key
//! is that name, plus `.<label value>` for each label in order; a
//! histogram adds `.count`, `.sum` and `.bucket.<le>` (cumulative, as in
//! Prometheus). Its Prometheus name is `jubilant_` + the dotted name with
//! `.` → `_`, plus `_total` for counters:
//! `server.requests.txn.ok` ↔ `jubilant_server_requests_total{op="txn",result="ok"}`.
//!
//! Why `prometheus-client` rather than `metrics` + its exporter: the
//! registry is explicit (no process-global recorder), a [`Collector`]
//! encodes values sampled at scrape time (the engine's counters live in
//! the engine, not in a recorder), and our own atomics stay the one source
//! that both /metrics and INFO read. The crate does the text encoding
//! (escaping, `_total`, histogram buckets) for us.
//!
//! - [`engine`]: the engine's counters as families, and the server-side
//!   checkpoint age.
//! - [`histogram`]: a fixed-bucket latency histogram of atomics.

pub mod engine;
pub mod histogram;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub use histogram::{Histogram, HistogramSnapshot};

/// The `Content-Type` of [`render_prometheus`]'s output.
pub const PROMETHEUS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (until the process restarts).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in buckets.
    Histogram,
}

/// One sample's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A whole number.
    Int(u64),
    /// A real number (seconds, ratios).
    Float(f64),
    /// A histogram.
    Histogram(HistogramSnapshot),
}

/// One sample of a family: its label values and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label names and values, in order.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: Value,
}

/// A metric family: name, help, type and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Dotted name; the INFO key (see the module documentation).
    pub name: &'static str,
    /// One sentence for `# HELP`.
    pub help: &'static str,
    /// The type.
    pub kind: Kind,
    /// The samples.
    pub samples: Vec<Sample>,
}

impl Family {
    /// A family of one unlabeled sample.
    #[must_use]
    pub fn single(name: &'static str, help: &'static str, kind: Kind, value: Value) -> Family {
        Family { name, help, kind, samples: vec![Sample { labels: Vec::new(), value }] }
    }

    /// An unlabeled counter.
    #[must_use]
    pub fn counter(name: &'static str, help: &'static str, value: u64) -> Family {
        Family::single(name, help, Kind::Counter, Value::Int(value))
    }

    /// An unlabeled whole-number gauge.
    #[must_use]
    pub fn gauge(name: &'static str, help: &'static str, value: u64) -> Family {
        Family::single(name, help, Kind::Gauge, Value::Int(value))
    }

    /// An unlabeled real-number gauge.
    #[must_use]
    pub fn gauge_f64(name: &'static str, help: &'static str, value: f64) -> Family {
        Family::single(name, help, Kind::Gauge, Value::Float(value))
    }

    /// The Prometheus family name, without the `_total` that the encoder
    /// adds to counters.
    #[must_use]
    pub fn prometheus_name(&self) -> String {
        format!("jubilant_{}", self.name.replace('.', "_"))
    }
}

/// The INFO entries of `families` (see the module documentation).
#[must_use]
pub fn info_entries(families: &[Family]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for family in families {
        for sample in &family.samples {
            let mut key = family.name.to_owned();
            for (_, value) in &sample.labels {
                key.push('.');
                key.push_str(value);
            }
            match &sample.value {
                Value::Int(v) => out.push((key, v.to_string())),
                Value::Float(v) => out.push((key, format!("{v}"))),
                Value::Histogram(h) => {
                    let mut cumulative = 0u64;
                    for (bound, count) in h.bounds.iter().zip(&h.counts) {
                        cumulative += count;
                        out.push((format!("{key}.bucket.{bound}"), cumulative.to_string()));
                    }
                    out.push((format!("{key}.bucket.+Inf"), h.count().to_string()));
                    out.push((format!("{key}.count"), h.count().to_string()));
                    out.push((format!("{key}.sum"), format!("{}", h.sum)));
                }
            }
        }
    }
    out
}

/// The families in the Prometheus text format (version 0.0.4).
#[must_use]
pub fn render_prometheus(families: Vec<Family>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(families)));
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
        // Writing to a String does not fail; an encoder error is a bug.
        tracing::error!(error = %e, "encoding metrics failed");
    }
    out
}

/// Families sampled for one scrape.
#[derive(Debug)]
struct Snapshot(Vec<Family>);

fn encode_value(encoder: &mut MetricEncoder<'_>, kind: Kind, value: &Value) -> Result<(), std::fmt::Error> {
    match (kind, value) {
        (Kind::Counter, Value::Int(v)) => encoder.encode_counter::<NoLabelSet, u64, u64>(v, None),
        (Kind::Counter, Value::Float(v)) => encoder.encode_counter::<NoLabelSet, f64, f64>(v, None),
        (_, Value::Int(v)) => encoder.encode_gauge(v),
        (_, Value::Float(v)) => encoder.encode_gauge(v),
        (_, Value::Histogram(h)) => {
            let buckets: Vec<(f64, u64)> = h.bounds.iter().copied().zip(h.counts.iter().copied()).collect();
            encoder.encode_histogram::<NoLabelSet>(h.sum, h.count(), &buckets, None)
        }
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for family in self.0.iter().filter(|f| !f.samples.is_empty()) {
            let name = family.prometheus_name();
            let metric_type = match family.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(&name, family.help, None, metric_type)?;
            for sample in &family.samples {
                if sample.labels.is_empty() {
                    encode_value(&mut metric, family.kind, &sample.value)?;
                } else {
                    let labels: Vec<(&str, &str)> = sample.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    let mut labeled = metric.encode_family(&labels)?;
                    encode_value(&mut labeled, family.kind, &sample.value)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_and_info_name_the_same_samples() {
        let h = Histogram::default();
        h.observe(std::time::Duration::from_micros(700));
        let families = vec![
            Family::counter("server.busy_sheds", "Requests shed.", 3),
            Family {
                name: "server.requests",
                help: "Requests.",
                kind: Kind::Counter,
                samples: vec![Sample {
                    labels: vec![("op", "txn".into()), ("result", "ok".into())],
                    value: Value::Int(2),
                }],
            },
            Family::gauge_f64("server.uptime_seconds", "Uptime.", 1.5),
            Family {
                name: "server.request_duration_seconds",
                help: "Latency.",
                kind: Kind::Histogram,
                samples: vec![Sample { labels: vec![("op", "txn".into())], value: Value::Histogram(h.snapshot()) }],
            },
        ];
        let text = render_prometheus(families.clone());
        assert!(text.contains("# TYPE jubilant_server_busy_sheds_total counter\njubilant_server_busy_sheds_total 3\n"));
        assert!(text.contains("jubilant_server_requests_total{op=\"txn\",result=\"ok\"} 2\n"), "{text}");
        assert!(text.contains("jubilant_server_uptime_seconds 1.5\n"), "{text}");
        assert!(
            text.contains("jubilant_server_request_duration_seconds_bucket{op=\"txn\",le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("jubilant_server_request_duration_seconds_count{op=\"txn\"} 1\n"), "{text}");
        let info = info_entries(&families);
        let get = |k: &str| info.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("server.busy_sheds"), Some("3"));
        assert_eq!(get("server.requests.txn.ok"), Some("2"));
        assert_eq!(get("server.request_duration_seconds.txn.bucket.0.001"), Some("1"));
        assert_eq!(get("server.request_duration_seconds.txn.bucket.0.0005"), Some("0"));
        assert_eq!(get("server.request_duration_seconds.txn.count"), Some("1"));
    }
}
