//! Counters of the served path, published through INFO and /metrics (see
//! [`crate::metrics`] for the naming).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jubilant_engine::striped::{Counter, Counters};
use jubilant_format::wire::{ErrorCode, ResponseBody};

use crate::metrics::{Family, Histogram, Kind, Sample, Value};

/// What a request asked for: the `op` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOp {
    /// A transaction (GET, SET, DEL, SCAN, ASSERT).
    Txn,
    /// AUTH.
    Auth,
    /// PING.
    Ping,
    /// INFO.
    Info,
    /// CHECKPOINT.
    Checkpoint,
    /// CONFIG RELOAD.
    ConfigReload,
    /// A frame that did not decode into a request.
    Unknown,
}

impl RequestOp {
    /// Every op, in label order.
    pub const ALL: [RequestOp; 7] = [
        RequestOp::Txn,
        RequestOp::Auth,
        RequestOp::Ping,
        RequestOp::Info,
        RequestOp::Checkpoint,
        RequestOp::ConfigReload,
        RequestOp::Unknown,
    ];

    /// The label value.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            RequestOp::Txn => "txn",
            RequestOp::Auth => "auth",
            RequestOp::Ping => "ping",
            RequestOp::Info => "info",
            RequestOp::Checkpoint => "checkpoint",
            RequestOp::ConfigReload => "config_reload",
            RequestOp::Unknown => "unknown",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// `result` label values: `ok`, then each error code in wire order.
pub const RESULTS: [&str; 14] = [
    "ok",
    "malformed",
    "unsupported",
    "unauthenticated",
    "forbidden",
    "busy",
    "frame_too_large",
    "too_many_connections",
    "assert_failed",
    "lock_timeout",
    "too_large",
    "shutting_down",
    "storage",
    "internal",
];

/// The `result` label of a response.
#[must_use]
pub fn result_name(body: &ResponseBody) -> &'static str {
    RESULTS.get(result_index(body)).copied().unwrap_or("internal")
}

/// The `result` index of a response.
fn result_index(body: &ResponseBody) -> usize {
    match body {
        ResponseBody::Error(e) => match ErrorCode::ALL.iter().position(|c| *c == e.code) {
            Some(i) => i + 1,
            // The server only sends codes it knows.
            None => RESULTS.len() - 1,
        },
        _ => 0,
    }
}

const OPS: usize = RequestOp::ALL.len();

/// Responses by op (row) and result (column), striped by thread: every
/// request on every I/O thread adds here.
#[derive(Debug)]
struct RequestCounts(Counters);

impl Default for RequestCounts {
    fn default() -> RequestCounts {
        RequestCounts(Counters::new(OPS * RESULTS.len()))
    }
}

/// Counters of the served path.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections_accepted: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections refused at the limit.
    pub connections_refused: AtomicU64,
    /// Responses by op and result.
    requests: RequestCounts,
    /// Latency by op.
    latency: [Histogram; OPS],
    /// Error responses sent.
    pub errors: AtomicU64,
    /// Requests refused with BUSY.
    pub busy_sheds: AtomicU64,
    /// Failed AUTH attempts and requests before AUTH.
    pub auth_failures: AtomicU64,
    /// Requests refused with FORBIDDEN.
    pub forbidden: AtomicU64,
    /// Malformed, unsupported or oversized frames.
    pub malformed: AtomicU64,
    /// Frame bytes received (striped, like the request counts: added to
    /// on every frame by every I/O thread).
    pub bytes_in: Counter,
    /// Frame bytes sent.
    pub bytes_out: Counter,
    /// Configuration reloads that were applied.
    pub config_reloads_ok: AtomicU64,
    /// Configuration reloads refused (invalid file); nothing changed.
    pub config_reloads_failed: AtomicU64,
}

impl ServerStats {
    /// Adds one.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response to an `op` request that took `elapsed`.
    pub fn record(&self, op: RequestOp, body: &ResponseBody, elapsed: Duration) {
        self.record_result(op, result_index(body), elapsed);
    }

    /// Counts a successful `op` request that took `elapsed` (answered
    /// without building a [`ResponseBody`]).
    pub fn record_ok(&self, op: RequestOp, elapsed: Duration) {
        self.record_result(op, 0, elapsed);
    }

    fn record_result(&self, op: RequestOp, result: usize, elapsed: Duration) {
        if result < RESULTS.len() {
            self.requests.0.add(op.index() * RESULTS.len() + result, 1);
        }
        if let Some(h) = self.latency.get(op.index()) {
            h.observe(elapsed);
        }
        if result != 0 {
            ServerStats::inc(&self.errors);
        }
    }

    /// The served path's families. `ok` is always reported for each op;
    /// other results once they happened.
    #[must_use]
    pub fn families(&self) -> Vec<Family> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut requests = Vec::new();
        let mut latency = Vec::new();
        for (op, histogram) in RequestOp::ALL.iter().zip(&self.latency) {
            for (i, result) in RESULTS.iter().enumerate() {
                let n = self.requests.0.get(op.index() * RESULTS.len() + i);
                if n > 0 || *result == "ok" {
                    requests.push(Sample {
                        labels: vec![("op", op.name().to_owned()), ("result", (*result).to_owned())],
                        value: Value::Int(n),
                    });
                }
            }
            latency.push(Sample {
                labels: vec![("op", op.name().to_owned())],
                value: Value::Histogram(histogram.snapshot()),
            });
        }
        let reloads = [("ok", get(&self.config_reloads_ok)), ("error", get(&self.config_reloads_failed))];
        vec![
            Family {
                name: "server.requests",
                help: "Requests answered, by operation and result (ok or the error code).",
                kind: Kind::Counter,
                samples: requests,
            },
            Family {
                name: "server.request_duration_seconds",
                help: "Time from a request's decoding to its response being queued, by operation.",
                kind: Kind::Histogram,
                samples: latency,
            },
            Family::counter("server.connections_accepted", "Connections accepted.", get(&self.connections_accepted)),
            Family::gauge("server.connections_open", "Connections open now.", get(&self.connections_open)),
            Family::counter(
                "server.connections_refused",
                "Connections refused at limits.max_connections.",
                get(&self.connections_refused),
            ),
            Family::counter("server.errors", "Error responses sent.", get(&self.errors)),
            Family::counter("server.busy_sheds", "Requests refused with BUSY (load shedding).", get(&self.busy_sheds)),
            Family::counter(
                "server.auth_failures",
                "AUTH requests with an invalid token, and requests before AUTH.",
                get(&self.auth_failures),
            ),
            Family::counter("server.forbidden", "Requests refused with FORBIDDEN.", get(&self.forbidden)),
            Family::counter("server.malformed", "Malformed, unsupported or oversized frames.", get(&self.malformed)),
            Family::counter("server.bytes_in", "Frame bytes received.", self.bytes_in.get()),
            Family::counter("server.bytes_out", "Frame bytes sent.", self.bytes_out.get()),
            Family {
                name: "server.config_reloads",
                help: "Configuration reloads, by result (error: the file was invalid and nothing changed).",
                kind: Kind::Counter,
                samples: reloads
                    .iter()
                    .map(|(r, n)| Sample { labels: vec![("result", (*r).to_owned())], value: Value::Int(*n) })
                    .collect(),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_labels_follow_the_error_codes() {
        assert_eq!(RESULTS.len(), ErrorCode::ALL.len() + 1);
        for (code, label) in ErrorCode::ALL.iter().zip(&RESULTS[1..]) {
            assert_eq!(code.name().to_lowercase(), *label);
        }
        for (i, op) in RequestOp::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
        }
    }

    #[test]
    fn record_counts_by_op_and_result() {
        let stats = ServerStats::default();
        let busy = ResponseBody::Error(jubilant_format::wire::WireError::new(ErrorCode::Busy, "busy"));
        stats.record(RequestOp::Txn, &busy, Duration::from_millis(1));
        stats.record(RequestOp::Txn, &ResponseBody::Pong { payload: vec![] }, Duration::from_millis(1));
        let info = crate::metrics::info_entries(&stats.families());
        let get = |k: &str| info.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("server.requests.txn.busy"), Some("1"));
        assert_eq!(get("server.requests.txn.ok"), Some("1"));
        assert_eq!(get("server.requests.ping.ok"), Some("0"));
        assert_eq!(get("server.requests.ping.busy"), None);
        assert_eq!(get("server.errors"), Some("1"));
        assert_eq!(get("server.request_duration_seconds.txn.count"), Some("2"));
    }
}
