//! Server configuration: one TOML file, every key with a default, unknown
//! keys and type errors rejected with the key's name and line, values out
//! of range rejected with the range.
//!
//! - this module: the typed structs, loading and validation;
//! - [`keys`]: the table of every key (type, range, live or restart), the
//!   commented default file and the reload plan built from that table.
//!
//! Invariant: a [`Config`] that passed [`Config::validate`] is usable as
//! is; nothing downstream re-checks ranges.

pub mod keys;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Data directory served.
    pub data_dir: PathBuf,
    /// Limits on connections and requests.
    pub limits: Limits,
    /// TLS; plaintext when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// API tokens; authentication is on when any is configured.
    pub auth: AuthConfig,
    /// Storage engine tunables.
    pub engine: EngineConfig,
    /// Logging.
    pub log: LogConfig,
    /// The admin (metrics) listener.
    pub admin: AdminConfig,
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
            admin: AdminConfig::default(),
        }
    }
}

/// Limits.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// CA (PEM) that client certificates must chain to; mutual TLS when
    /// set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<PathBuf>,
}

/// A token's role.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
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
///
/// Serializing it leaves the secret out, so that no serialized
/// configuration (INFO, a reload report) can carry a token.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The secret.
    #[serde(skip_serializing)]
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
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The tokens.
    pub tokens: Vec<TokenConfig>,
}

/// Durability of commits.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityConfig {
    /// fsync before acknowledging (group-committed).
    #[default]
    Sync,
    /// Acknowledge from the WAL buffer; flush every few milliseconds.
    Buffered,
}

/// Engine tunables.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
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
    /// Checkpoint after this long without commits (0: off).
    pub checkpoint_idle_ms: u64,
    /// Checkpoint once this many WAL bytes were written since the last one.
    pub checkpoint_wal_bytes: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let e = jubilant_engine::Options::default();
        EngineConfig {
            cache_bytes: e.cache_bytes,
            dirty_bytes_max: e.dirty_bytes_max,
            wal_segment_bytes: e.wal_segment_bytes,
            lock_timeout_ms: u64::try_from(e.lock_timeout.as_millis()).unwrap_or(u64::MAX),
            durability: DurabilityConfig::Sync,
            checkpoint_interval_ms: u64::try_from(e.checkpoint_interval.as_millis()).unwrap_or(u64::MAX),
            checkpoint_idle_ms: u64::try_from(e.checkpoint_idle.as_millis()).unwrap_or(u64::MAX),
            checkpoint_wal_bytes: e.checkpoint_wal_bytes,
        }
    }
}

/// Log format.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    #[default]
    Human,
    /// JSON lines.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Level filter (as in `RUST_LOG`), used when `RUST_LOG` is unset at
    /// start; a reload that changes it replaces whatever filter is active.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
    /// Log keys and values in clear (truncated) at debug level instead of
    /// their length and hash. Tokens are never logged, even then.
    pub unsafe_show_data: bool,
    /// Log a line when a span (request, commit, checkpoint) closes, with
    /// its busy and idle time.
    pub span_durations: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: LogFormat::Human, unsafe_show_data: false, span_durations: false }
    }
}

/// The admin listener: Prometheus metrics over plain HTTP.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Address of the admin listener (`GET /metrics`); off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Allow `listen` to be an address other than loopback. The endpoint
    /// has no authentication: put it behind a firewall if you set this.
    pub allow_non_loopback: bool,
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
    /// The TOML is invalid, has an unknown key or a value of the wrong
    /// type.
    #[error("{path}: line {line}, column {column}{}: {message}", key_suffix(key.as_deref()))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The dotted key on that line, when there is one.
        key: Option<String>,
        /// The parser's message, without the quoted source line (which
        /// could hold a token).
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

fn key_suffix(key: Option<&str>) -> String {
    key.map(|k| format!(" (key `{k}`)")).unwrap_or_default()
}

/// Command-line flags that override the file; applied again after every
/// reload so that they never show up as changes.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
}

impl Overrides {
    /// Applies the flags to `config`.
    pub fn apply(&self, config: &mut Config) {
        if let Some(d) = &self.data_dir {
            config.data_dir.clone_from(d);
        }
        if let Some(l) = &self.listen {
            config.listen.clone_from(l);
        }
        if let Some(f) = self.log_format {
            config.log.format = f;
        }
    }
}

/// Where the configuration came from, so that a reload can read it again.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// The file given with `--config`; `None` when the server runs on
    /// defaults (a reload then has nothing to read).
    pub path: Option<PathBuf>,
    /// Command-line overrides.
    pub overrides: Overrides,
}

impl ConfigSource {
    /// Reads the file (or the defaults), applies the overrides and
    /// validates the result.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.path {
            Some(path) => Config::load_unvalidated(path)?,
            None => Config::default(),
        };
        self.overrides.apply(&mut config);
        config.validate()?;
        Ok(config)
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The dotted key written on line `line` (1-based): the nearest table
/// header above it, plus the key before `=` on the line itself.
fn key_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    let header = |l: &str| -> Option<String> {
        let l = l.trim();
        let l = l.strip_prefix('[')?;
        let end = l.find(']')?;
        Some(l.get(..end)?.trim_start_matches('[').trim().to_owned())
    };
    if let Some(h) = header(this) {
        return Some(h);
    }
    let key = this.split_once('=')?.0.trim().trim_matches('"').to_owned();
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let table = lines.iter().take(line - 1).rev().find_map(|l| header(l));
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key,
    })
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let config = Config::load_unvalidated(path)?;
        config.validate()?;
        Ok(config)
    }

    fn load_unvalidated(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(&text, path)
    }

    /// Parses TOML text (`path` names it in errors); does not validate.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |span| line_column(text, span.start));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                key: key_at_line(text, line),
                message: e.message().trim().to_owned(),
            }
        })
    }

    /// Checks every range; the error names the key, the value and what is
    /// allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid("listen", format!("{:?} is not an IP address and port, e.g. 127.0.0.1:7420", self.listen));
        }
        let l = &self.limits;
        in_range("limits.max_frame_bytes", l.max_frame_bytes as u64, 1024, 1 << 30)?;
        in_range("limits.max_connections", l.max_connections as u64, 1, 1_000_000)?;
        in_range("limits.read_timeout_ms", l.read_timeout_ms, 1, 3_600_000)?;
        in_range("limits.idle_timeout_ms", l.idle_timeout_ms, 1, 86_400_000)?;
        in_range("limits.workers", l.workers as u64, 1, 4096)?;
        if !(l.workers..=1 << 24).contains(&l.shed_backlog) {
            return invalid(
                "limits.shed_backlog",
                format!("{} is out of range: must be from limits.workers ({}) to 16777216", l.shed_backlog, l.workers),
            );
        }
        in_range("limits.max_in_flight_per_connection", l.max_in_flight_per_connection as u64, 1, 65_536)?;
        in_range("limits.shutdown_grace_ms", l.shutdown_grace_ms, 0, 3_600_000)?;
        for (i, t) in self.auth.tokens.iter().enumerate() {
            // The message never includes the token.
            if !(16..=4096).contains(&t.token.len()) {
                return invalid("auth.tokens", format!("token {i} must be from 16 to 4096 bytes long"));
            }
            if let Some(j) = self.auth.tokens.iter().take(i).position(|o| o.token == t.token) {
                return invalid("auth.tokens", format!("token {i} is the same as token {j}"));
            }
        }
        let e = &self.engine;
        let min_cache = 64 * jubilant_format::PageSize::DEFAULT.bytes() as u64;
        in_range("engine.cache_bytes", e.cache_bytes as u64, min_cache, 1 << 40)?;
        in_range("engine.dirty_bytes_max", e.dirty_bytes_max as u64, 64 << 10, 1 << 40)?;
        in_range("engine.wal_segment_bytes", e.wal_segment_bytes, 64 << 10, 1 << 40)?;
        in_range("engine.lock_timeout_ms", e.lock_timeout_ms, 1, 3_600_000)?;
        in_range("engine.checkpoint_interval_ms", e.checkpoint_interval_ms, 10, 86_400_000)?;
        in_range("engine.checkpoint_idle_ms", e.checkpoint_idle_ms, 0, 86_400_000)?;
        in_range("engine.checkpoint_wal_bytes", e.checkpoint_wal_bytes, 64 << 10, 1 << 40)?;
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return invalid("log.level", format!("{:?} is not a level filter ({err}); e.g. \"info\"", self.log.level));
        }
        if let Some(listen) = &self.admin.listen {
            let Ok(addr) = listen.parse::<SocketAddr>() else {
                return invalid("admin.listen", format!("{listen:?} is not an IP address and port"));
            };
            if !addr.ip().is_loopback() && !self.admin.allow_non_loopback {
                return invalid(
                    "admin.listen",
                    format!(
                        "{addr} is not a loopback address; the metrics endpoint has no authentication, so set \
                         admin.allow_non_loopback = true to expose it"
                    ),
                );
            }
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
            checkpoint_idle: Duration::from_millis(self.engine.checkpoint_idle_ms),
            checkpoint_wal_bytes: self.engine.checkpoint_wal_bytes,
            durability: match self.engine.durability {
                DurabilityConfig::Sync => jubilant_engine::Durability::Sync,
                DurabilityConfig::Buffered => jubilant_engine::Durability::Buffered,
            },
            ..jubilant_engine::Options::default()
        }
    }
}

fn invalid(key: &'static str, message: String) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid { key, message })
}

fn in_range(key: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        invalid(key, format!("{value} is out of range: must be from {min} to {max}"))
    }
}

#[cfg(test)]
mod tests;
