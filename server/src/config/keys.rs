//! The table of every configuration key: type, range, whether a reload
//! applies it, and what it does. From it come the commented default file
//! (`--print-default-config`) and the reload plan (which changed keys are
//! applied, which need a restart). docs/CONFIGURATION.md lists the same
//! keys; a test checks that it names every one.
//!
//! Invariant: every leaf of a serialized [`Config`] is in [`KEYS`] (a test
//! builds a configuration with every optional key set and checks).

use std::collections::BTreeMap;

use super::Config;

/// When a changed key takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// Applied by a reload (SIGHUP or CONFIG RELOAD).
    Live,
    /// Re-read by every reload while TLS stays on; turning TLS on or off
    /// needs a restart.
    TlsFile,
    /// Needs a restart; a reload keeps the old value and reports the key.
    Restart,
}

impl Reload {
    /// How docs and comments say it.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Reload::Live => "live",
            Reload::TlsFile => "re-read on reload",
            Reload::Restart => "restart",
        }
    }
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// Dotted name, e.g. `limits.workers`.
    pub key: &'static str,
    /// Type as written in TOML.
    pub kind: &'static str,
    /// Allowed values; empty when any value of the type is.
    pub range: &'static str,
    /// When a change takes effect.
    pub reload: Reload,
    /// What it does.
    pub help: &'static str,
    /// For keys absent by default: an example value (TOML).
    pub example: Option<&'static str>,
}

const fn key(key: &'static str, kind: &'static str, range: &'static str, reload: Reload, help: &'static str) -> KeyDoc {
    KeyDoc { key, kind, range, reload, help, example: None }
}

const fn optional(
    key: &'static str,
    kind: &'static str,
    reload: Reload,
    help: &'static str,
    ex: &'static str,
) -> KeyDoc {
    KeyDoc { key, kind, range: "", reload, help, example: Some(ex) }
}

use Reload::{Live, Restart, TlsFile};

/// Every key, in file order.
pub const KEYS: &[KeyDoc] = &[
    key("listen", "string", "IP:port", Restart, "Address of the client protocol listener."),
    key("data_dir", "string (path)", "", Restart, "Data directory served (created if missing)."),
    key(
        "limits.max_frame_bytes",
        "integer",
        "1024 to 1073741824",
        Live,
        "Largest request frame; a larger length prefix gets an error frame and the connection is closed.",
    ),
    key(
        "limits.max_connections",
        "integer",
        "1 to 1000000",
        Live,
        "Connections served at once; more are refused with an error frame.",
    ),
    key(
        "limits.read_timeout_ms",
        "integer",
        "1 to 3600000",
        Live,
        "Once a frame has started, all of it must arrive within this time (slowloris protection).",
    ),
    key(
        "limits.idle_timeout_ms",
        "integer",
        "1 to 86400000",
        Live,
        "A connection idle between frames for this long is closed.",
    ),
    key(
        "limits.workers",
        "integer",
        "1 to 4096",
        Live,
        "Engine operations running at once (worker pool size). Shrinking waits for running work.",
    ),
    key(
        "limits.shed_backlog",
        "integer",
        "limits.workers to 16777216",
        Live,
        "Engine requests queued or running beyond which new ones are answered BUSY.",
    ),
    key(
        "limits.max_in_flight_per_connection",
        "integer",
        "1 to 65536",
        Live,
        "Requests in flight on one connection (applies to connections opened after a reload).",
    ),
    key(
        "limits.shutdown_grace_ms",
        "integer",
        "0 to 3600000",
        Live,
        "How long a graceful shutdown waits for in-flight requests.",
    ),
    optional(
        "tls.cert",
        "string (path)",
        TlsFile,
        "Certificate chain (PEM). TLS is on when [tls] is present.",
        "\"/etc/jubilant/server.pem\"",
    ),
    optional("tls.key", "string (path)", TlsFile, "Private key (PEM).", "\"/etc/jubilant/server.key\""),
    optional(
        "tls.client_ca",
        "string (path)",
        TlsFile,
        "CA (PEM) that client certificates must chain to; mutual TLS when set.",
        "\"/etc/jubilant/clients-ca.pem\"",
    ),
    key(
        "auth.tokens",
        "array of tables {token, role, prefixes}",
        "token: 16 to 4096 bytes, unique; role: \"read\", \"write\" or \"admin\"; prefixes: strings",
        Live,
        "API tokens; authentication is on when any is configured. A reload affects later AUTH requests; \
         connections keep the role they authenticated with.",
    ),
    key("engine.cache_bytes", "integer", "262144 to 1099511627776", Live, "Page cache budget."),
    key(
        "engine.dirty_bytes_max",
        "integer",
        "65536 to 1099511627776",
        Live,
        "Most bytes of changes held in memory waiting for a checkpoint.",
    ),
    key("engine.wal_segment_bytes", "integer", "65536 to 1099511627776", Restart, "Size of one WAL segment file."),
    key(
        "engine.lock_timeout_ms",
        "integer",
        "1 to 3600000",
        Live,
        "How long a transaction waits for its locks before it aborts with LOCK_TIMEOUT.",
    ),
    key(
        "engine.durability",
        "string",
        "\"sync\" or \"buffered\"",
        Restart,
        "sync: fsync before acknowledging (group commit); buffered: acknowledge from the WAL buffer.",
    ),
    key(
        "engine.checkpoint_interval_ms",
        "integer",
        "10 to 86400000",
        Live,
        "Checkpoint at least this often while there are changes.",
    ),
    key(
        "engine.checkpoint_idle_ms",
        "integer",
        "0 (off) to 86400000",
        Live,
        "Checkpoint once nothing has committed for this long and the changes in memory reach an eighth of \
         dirty_bytes_max.",
    ),
    key(
        "engine.checkpoint_wal_bytes",
        "integer",
        "65536 to 1099511627776",
        Live,
        "Checkpoint once this many WAL bytes were written since the last one.",
    ),
    key(
        "log.level",
        "string",
        "a RUST_LOG-style filter",
        Live,
        "Level filter; RUST_LOG wins at start, a reload that changes this key replaces the filter.",
    ),
    key("log.format", "string", "\"human\" or \"json\"", Restart, "Log line format (--log-format overrides)."),
    key(
        "log.unsafe_show_data",
        "boolean",
        "",
        Live,
        "Log keys and values (truncated) at debug level instead of their length and hash. Tokens never.",
    ),
    key(
        "log.span_durations",
        "boolean",
        "",
        Restart,
        "Log a line when a request, commit or checkpoint span closes, with its busy and idle time.",
    ),
    optional(
        "admin.listen",
        "string",
        Restart,
        "Address of the admin listener serving GET /metrics (Prometheus text); off when absent. \
         Loopback only unless admin.allow_non_loopback.",
        "\"127.0.0.1:9420\"",
    ),
    key(
        "admin.allow_non_loopback",
        "boolean",
        "",
        Restart,
        "Allow admin.listen to be a non-loopback address (the endpoint has no authentication).",
    ),
];

/// The key's entry.
#[must_use]
pub fn find(name: &str) -> Option<&'static KeyDoc> {
    KEYS.iter().find(|k| k.key == name)
}

/// Every leaf of `config` as dotted key and TOML text; arrays are leaves.
/// Token secrets are not serialized, so they never appear here.
#[must_use]
pub fn flatten(config: &Config) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(value) = toml::Value::try_from(config) {
        flatten_value("", &value, &mut out);
    }
    out
}

fn flatten_value(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_value(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The commented default configuration file. Parsing it gives
/// [`Config::default`].
#[must_use]
pub fn default_file() -> String {
    let defaults = flatten(&Config::default());
    let mut out = String::from(
        "# jubilant-server configuration (TOML). Every key is optional; this file\n\
         # lists each one with its default value. Keys marked \"live\" take effect on\n\
         # SIGHUP or `jubectl config reload`; \"restart\" keys keep their value until\n\
         # the server restarts. See docs/CONFIGURATION.md.\n\n",
    );
    let mut section = "";
    for k in KEYS {
        let (table, name) = k.key.rsplit_once('.').unwrap_or(("", k.key));
        let value = defaults.get(k.key);
        if table != section {
            section = table;
            let present = defaults.keys().any(|d| d.starts_with(&format!("{table}.")));
            match (table, present) {
                ("tls", false) => out.push_str("# TLS is off by default; uncomment to turn it on.\n# [tls]\n"),
                ("auth", _) => out.push_str("[auth]\n"),
                (t, _) => out.push_str(&format!("[{t}]\n")),
            }
        }
        let range = if k.range.is_empty() { String::new() } else { format!("; {}", k.range) };
        comment(&mut out, k.help);
        comment(&mut out, &format!("[{}{range}; {}]", k.kind, k.reload.describe()));
        if k.key == "auth.tokens" {
            out.push_str(
                "# [[auth.tokens]]\n# token = \"a-secret-of-16-or-more-bytes\"\n# role = \"admin\"\n# prefixes = []\n",
            );
        }
        match (value, k.example) {
            (Some(v), _) => out.push_str(&format!("{name} = {v}\n")),
            (None, Some(example)) => out.push_str(&format!("# {name} = {example}\n")),
            (None, None) => {}
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// Appends `text` as `# ` comment lines of at most 78 columns.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > 78 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// What a reload does: the configuration to put in effect and the keys
/// that changed.
#[derive(Debug, Clone)]
pub struct ReloadPlan {
    /// The new configuration, with every restart-only key at its old value.
    pub effective: Config,
    /// Keys whose new value takes effect now (TLS files are listed on every
    /// reload while TLS is on: they are re-read).
    pub applied: Vec<String>,
    /// Keys that changed but need a restart; they keep their old value.
    pub needs_restart: Vec<String>,
}

/// Compares the configuration in effect with a newly loaded one.
#[must_use]
pub fn plan_reload(old: &Config, new: Config) -> ReloadPlan {
    let (before, after) = (flatten(old), flatten(&new));
    let mut changed: Vec<String> =
        before.keys().chain(after.keys()).filter(|k| before.get(*k) != after.get(*k)).cloned().collect();
    changed.sort();
    changed.dedup();
    // Secrets are not serialized: compare the tokens themselves.
    if old.auth.tokens != new.auth.tokens && !changed.iter().any(|k| k == "auth.tokens") {
        changed.push("auth.tokens".into());
    }
    let tls_toggled = old.tls.is_some() != new.tls.is_some();
    let (mut applied, mut needs_restart) = (Vec::new(), Vec::new());
    for k in changed {
        let reload = find(&k).map_or(Reload::Restart, |d| d.reload);
        match reload {
            Reload::Live => applied.push(k),
            Reload::TlsFile if !tls_toggled => {}
            Reload::TlsFile => {
                if !needs_restart.iter().any(|n| n == "tls") {
                    needs_restart.push("tls".to_owned());
                }
            }
            Reload::Restart => needs_restart.push(k),
        }
    }
    let mut effective = new;
    keep_restart_only(&mut effective, old);
    if let Some(tls) = &effective.tls {
        applied.push("tls.cert".into());
        applied.push("tls.key".into());
        if tls.client_ca.is_some() {
            applied.push("tls.client_ca".into());
        }
    }
    ReloadPlan { effective, applied, needs_restart }
}

/// Puts back the old value of every key a reload cannot apply (the
/// [`Reload::Restart`] rows of [`KEYS`], and TLS on/off).
fn keep_restart_only(new: &mut Config, old: &Config) {
    new.listen.clone_from(&old.listen);
    new.data_dir.clone_from(&old.data_dir);
    // The engine's live tunables change through `Db::set_tunables`; the
    // rest needs a reopen.
    new.engine.wal_segment_bytes = old.engine.wal_segment_bytes;
    new.engine.durability = old.engine.durability;
    new.admin = old.admin.clone();
    new.log.format = old.log.format;
    new.log.span_durations = old.log.span_durations;
    if new.tls.is_some() != old.tls.is_some() {
        new.tls.clone_from(&old.tls);
    }
}
