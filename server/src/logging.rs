//! The process's log subscriber: human lines (colored on a terminal) or
//! JSON lines, on stderr, with a level filter that a reload can replace.
//!
//! Spans: `request` (fields `conn`, `id`, `op`; never keys) around every
//! request, `commit` around a transaction's engine work and `checkpoint`
//! around a requested checkpoint, both children of their request, so a
//! subscriber can follow one request from frame to response; the engine's
//! `fsync`, `engine_checkpoint` and `gc` spans nest inside them. They are at
//! debug level; `log.span_durations` logs their busy and idle time when
//! they close.

use std::io::IsTerminal;

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::{LogConfig, LogFormat};

/// Changes the level filter of the running subscriber.
#[derive(Clone)]
pub struct LogHandle {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogHandle")
    }
}

impl LogHandle {
    /// Replaces the filter with `level` (a `RUST_LOG`-style directive).
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
        self.handle.reload(filter).map_err(|e| e.to_string())
    }
}

/// Installs the global subscriber: the filter is `RUST_LOG` when set,
/// else `log.level`. Returns `None` if a subscriber was already installed.
#[must_use]
pub fn init(config: &LogConfig) -> Option<LogHandle> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let (filter, handle) = reload::Layer::new(filter);
    let spans = if config.span_durations { FmtSpan::CLOSE } else { FmtSpan::NONE };
    let json = (config.format == LogFormat::Json)
        .then(|| tracing_subscriber::fmt::layer().json().with_span_events(spans.clone()).with_writer(std::io::stderr));
    let human = (config.format == LogFormat::Human).then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_span_events(spans.clone())
            .with_writer(std::io::stderr)
    });
    tracing_subscriber::registry().with(filter).with(json).with(human).try_init().ok()?;
    crate::redact::set_show_data(config.unsafe_show_data);
    Some(LogHandle { handle })
}
