//! Server counters, published through INFO.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the served path.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections_total: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections refused at the limit.
    pub connections_refused: AtomicU64,
    /// Requests by kind.
    pub requests_txn: AtomicU64,
    /// AUTH requests.
    pub requests_auth: AtomicU64,
    /// PING requests.
    pub requests_ping: AtomicU64,
    /// INFO requests.
    pub requests_info: AtomicU64,
    /// CHECKPOINT requests.
    pub requests_checkpoint: AtomicU64,
    /// CONFIG RELOAD requests.
    pub requests_config_reload: AtomicU64,
    /// Error responses sent.
    pub errors: AtomicU64,
    /// Requests refused with BUSY.
    pub busy_sheds: AtomicU64,
    /// Failed AUTH attempts.
    pub auth_failures: AtomicU64,
    /// Requests refused with FORBIDDEN.
    pub forbidden: AtomicU64,
    /// Malformed or unsupported frames.
    pub malformed: AtomicU64,
    /// Frame bytes received.
    pub bytes_in: AtomicU64,
    /// Frame bytes sent.
    pub bytes_out: AtomicU64,
}

impl ServerStats {
    /// Adds one.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Every counter with its name.
    pub fn entries(&self) -> Vec<(String, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("server.connections_total".into(), get(&self.connections_total)),
            ("server.connections_open".into(), get(&self.connections_open)),
            ("server.connections_refused".into(), get(&self.connections_refused)),
            ("server.requests.txn".into(), get(&self.requests_txn)),
            ("server.requests.auth".into(), get(&self.requests_auth)),
            ("server.requests.ping".into(), get(&self.requests_ping)),
            ("server.requests.info".into(), get(&self.requests_info)),
            ("server.requests.checkpoint".into(), get(&self.requests_checkpoint)),
            ("server.requests.config_reload".into(), get(&self.requests_config_reload)),
            ("server.errors".into(), get(&self.errors)),
            ("server.busy_sheds".into(), get(&self.busy_sheds)),
            ("server.auth_failures".into(), get(&self.auth_failures)),
            ("server.forbidden".into(), get(&self.forbidden)),
            ("server.malformed".into(), get(&self.malformed)),
            ("server.bytes_in".into(), get(&self.bytes_in)),
            ("server.bytes_out".into(), get(&self.bytes_out)),
        ]
    }
}
