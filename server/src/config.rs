//! Server configuration: one TOML file, every key with a default, unknown
//! keys rejected with their name.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Data directory served.
    pub data_dir: PathBuf,
    /// Limits on connections and requests.
    pub limits: Limits,
    /// TLS; plaintext when absent.
    pub tls: Option<TlsConfig>,
    /// API tokens; authentication is on when any is configured.
    pub auth: AuthConfig,
    /// Storage engine tunables.
    pub engine: EngineConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7420".into(),
            data_dir: PathBuf::from("./jubilant-data"),
            limits: Limits::default(),
            tls: None,
            auth: AuthConfig::default(),
            engine: EngineConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// Limits.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request frame in bytes; a larger length prefix gets an
    /// error frame and the connection is closed.
    pub max_frame_bytes: usize,
    /// Connections served at once; more are refused with an error frame.
    pub max_connections: usize,
    /// Once a frame has started, all of it must arrive within this time
    /// (slowloris protection).
    pub read_timeout_ms: u64,
    /// A connection idle between frames for this long is closed.
    pub idle_timeout_ms: u64,
    /// Engine operations running at once (worker pool size).
    pub workers: usize,
    /// Engine requests queued or running beyond which new ones get BUSY.
    pub shed_backlog: usize,
    /// Requests in flight on one connection; the server stops reading
    /// from a connection that has this many.
    pub max_in_flight_per_connection: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_grace_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 16 << 20,
            max_connections: 1024,
            read_timeout_ms: 10_000,
            idle_timeout_ms: 300_000,
            workers: 64,
            shed_backlog: 4096,
            max_in_flight_per_connection: 128,
            shutdown_grace_ms: 10_000,
        }
    }
}

/// TLS settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// CA (PEM) that client certificates must chain to; mutual TLS when
    /// set.
    pub client_ca: Option<PathBuf>,
}

/// A token's role.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// GET, SCAN, ASSERT, PING, INFO.
    Read,
    /// And SET, DEL.
    Write,
    /// And CHECKPOINT, CONFIG RELOAD.
    Admin,
}

impl Role {
    /// Lower-case name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

/// One API token.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The secret.
    pub token: String,
    /// What it may do.
    pub role: Role,
    /// Key prefixes it may touch; empty means every key.
    #[serde(default)]
    pub prefixes: Vec<String>,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("TokenConfig")
            .field("token", &"<redacted>")
            .field("role", &self.role)
            .field("prefixes", &self.prefixes)
            .finish()
    }
}

/// Authentication.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The tokens.
    pub tokens: Vec<TokenConfig>,
}

/// Durability of commits.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityConfig {
    /// fsync before acknowledging (group-committed).
    #[default]
    Sync,
    /// Acknowledge from the WAL buffer; flush every few milliseconds.
    Buffered,
}

/// Engine tunables.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Page cache budget in bytes.
    pub cache_bytes: usize,
    /// Changes held in memory before a checkpoint.
    pub dirty_bytes_max: usize,
    /// WAL segment size in bytes.
    pub wal_segment_bytes: u64,
    /// Transaction lock wait limit.
    pub lock_timeout_ms: u64,
    /// Commit durability.
    pub durability: DurabilityConfig,
    /// Checkpoint at least this often while there are changes.
    pub checkpoint_interval_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let e = jubilant_engine::Options::default();
        EngineConfig {
            cache_bytes: e.cache_bytes,
            dirty_bytes_max: e.dirty_bytes_max,
            wal_segment_bytes: e.wal_segment_bytes,
            lock_timeout_ms: e.lock_timeout.as_millis() as u64,
            durability: DurabilityConfig::Sync,
            checkpoint_interval_ms: e.checkpoint_interval.as_millis() as u64,
        }
    }
}

/// Log format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    #[default]
    Human,
    /// JSON lines.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Level filter (as in `RUST_LOG`), used when `RUST_LOG` is unset.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: LogFormat::Human }
    }
}

/// A configuration error: what and where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is invalid or has an unknown key (the message names it,
    /// with the line).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value is out of range.
    #[error("{key}: {message}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is allowed.
        message: String,
    },
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid("listen", format!("{:?} is not an IP address and port", self.listen));
        }
        let l = &self.limits;
        if !(1024..=1 << 30).contains(&l.max_frame_bytes) {
            return invalid("limits.max_frame_bytes", "must be from 1024 to 1073741824".into());
        }
        if !(1..=1_000_000).contains(&l.max_connections) {
            return invalid("limits.max_connections", "must be from 1 to 1000000".into());
        }
        if !(1..=4096).contains(&l.workers) {
            return invalid("limits.workers", "must be from 1 to 4096".into());
        }
        if l.shed_backlog < l.workers {
            return invalid("limits.shed_backlog", format!("must be at least limits.workers ({})", l.workers));
        }
        if !(1..=65_536).contains(&l.max_in_flight_per_connection) {
            return invalid("limits.max_in_flight_per_connection", "must be from 1 to 65536".into());
        }
        if l.read_timeout_ms == 0 || l.idle_timeout_ms == 0 {
            return invalid("limits.read_timeout_ms", "timeouts must be positive".into());
        }
        for (i, t) in self.auth.tokens.iter().enumerate() {
            if t.token.len() < 16 {
                return invalid("auth.tokens", format!("token {i} is shorter than 16 characters"));
            }
        }
        if self.engine.lock_timeout_ms == 0 {
            return invalid("engine.lock_timeout_ms", "must be positive".into());
        }
        Ok(())
    }

    /// Engine options from this configuration.
    #[must_use]
    pub fn engine_options(&self) -> jubilant_engine::Options {
        jubilant_engine::Options {
            cache_bytes: self.engine.cache_bytes,
            dirty_bytes_max: self.engine.dirty_bytes_max,
            wal_segment_bytes: self.engine.wal_segment_bytes,
            lock_timeout: Duration::from_millis(self.engine.lock_timeout_ms),
            checkpoint_interval: Duration::from_millis(self.engine.checkpoint_interval_ms),
            durability: match self.engine.durability {
                DurabilityConfig::Sync => jubilant_engine::Durability::Sync,
                DurabilityConfig::Buffered => jubilant_engine::Durability::Buffered,
            },
            ..jubilant_engine::Options::default()
        }
    }
}
