//! What jubectl prints: text for people by default, one JSON document per
//! command with `--json`.
//!
//! Bytes (keys, values) print as text when printable and as `hex:…`
//! otherwise, in both forms. JSON shapes, by command (field names are
//! stable; absent values are `null`):
//!
//! ```text
//! kv get         {"key","found","value","version","expires_at_unix_ms"}
//! kv set         {"key","commit_version"}
//! kv del         {"key","existed"}
//! kv scan        {"items":[{"key","value","version","expires_at_unix_ms"}],"truncated"}
//! kv txn         {"commit_version","results":[{"op":"get","key","found","value","version","expires_at_unix_ms"}
//!                 | {"op":"set","key"} | {"op":"del","key","existed"} | {"op":"assert","key"}
//!                 | {"op":"scan","items":[…],"truncated"}]}
//! info           {"info":{NAME: VALUE, …}}   (server order)
//! checkpoint     {"checkpoint_lsn","generation"}
//! ping           {"rtt_us"}
//! config reload  {"applied":[…],"needs_restart":[…]}
//! any failure    {"error":{"kind","code","message","op_index","retryable"}}
//! ```
//!
//! `commit_version` is 0 for a transaction that wrote nothing. An error's
//! `kind` is `server`, `auth`, `io`, `tls`, `timeout`, `closed`,
//! `protocol`, `config`, `usage` or `local`; `code` is the server's error
//! code name (`ASSERT_FAILED`, `BUSY`, …) or `null`.

use std::fmt::Write as _;

use jubilant_client::{ClientError, KeyValue, Op, OpResult};
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::bytes::show;
use crate::exit::Failure;
use crate::run::Outcome;

/// Text for stdout and, for some outcomes, a note for stderr.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The command's output, ending in a newline.
    pub stdout: String,
    /// A remark for people (a truncated scan), not part of the output.
    pub stderr: Option<String>,
}

/// Renders an outcome as text or JSON.
#[must_use]
pub fn render(outcome: &Outcome, json: bool) -> Rendered {
    if json {
        let mut stdout = to_json(&json_value(outcome));
        stdout.push('\n');
        Rendered { stdout, stderr: None }
    } else {
        human(outcome)
    }
}

/// The one stderr line for a failure (without the trailing newline).
#[must_use]
pub fn error_line(failure: &Failure) -> String {
    // A message with a newline would break "one line on stderr".
    let message = failure.to_string().replace(['\n', '\r'], " ");
    format!("jubectl: {message}")
}

/// The JSON document for a failure (with the trailing newline).
#[must_use]
pub fn error_json(failure: &Failure) -> String {
    let server = match failure {
        Failure::Client(error) => error.server_error(),
        _ => None,
    };
    let kind = match failure {
        Failure::Usage(_) => "usage",
        Failure::Local(_) => "local",
        Failure::Client(error) => match error {
            ClientError::Server(_) => "server",
            ClientError::AuthFailed(_) => "auth",
            ClientError::Io { .. } => "io",
            ClientError::Tls(_) => "tls",
            ClientError::Timeout { .. } => "timeout",
            ClientError::Closed(_) => "closed",
            ClientError::Protocol(_) => "protocol",
            _ => "config",
        },
    };
    let error = ErrorJson {
        kind,
        code: server.map(|e| e.code.name()),
        message: server.map_or_else(|| failure.to_string(), |e| e.message.clone()),
        op_index: server.and_then(|e| e.op_index),
        retryable: server.is_some_and(|e| e.retryable),
    };
    let mut out = to_json(&ErrorDocument { error });
    out.push('\n');
    out
}

#[derive(Serialize)]
struct ErrorDocument {
    error: ErrorJson,
}

#[derive(Serialize)]
struct ErrorJson {
    kind: &'static str,
    code: Option<&'static str>,
    message: String,
    op_index: Option<u32>,
    retryable: bool,
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs to a string cannot fail; the
    // fallback keeps output valid JSON should it ever.
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":{{\"message\":{:?}}}}}", e.to_string()))
}

#[derive(Serialize)]
struct Pair {
    key: String,
    value: String,
    version: u64,
    expires_at_unix_ms: Option<u64>,
}

impl Pair {
    fn new(kv: &KeyValue) -> Pair {
        Pair {
            key: show(&kv.key),
            value: show(&kv.value),
            version: kv.version,
            expires_at_unix_ms: kv.expires_at_unix_ms,
        }
    }
}

#[derive(Serialize)]
struct Lookup {
    key: String,
    found: bool,
    value: Option<String>,
    version: Option<u64>,
    expires_at_unix_ms: Option<u64>,
}

impl Lookup {
    fn new(key: &[u8], item: Option<&KeyValue>) -> Lookup {
        Lookup {
            key: show(key),
            found: item.is_some(),
            value: item.map(|kv| show(&kv.value)),
            version: item.map(|kv| kv.version),
            expires_at_unix_ms: item.and_then(|kv| kv.expires_at_unix_ms),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum TxnResultJson {
    Get(Lookup),
    Set { key: String },
    Del { key: String, existed: bool },
    Assert { key: String },
    Scan { items: Vec<Pair>, truncated: bool },
}

/// (name, value) pairs as one JSON object, in their order.
struct Ordered<'a>(&'a [(String, String)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum Document<'a> {
    Lookup(Lookup),
    Set { key: String, commit_version: u64 },
    Del { key: String, existed: bool },
    Scan { items: Vec<Pair>, truncated: bool },
    Txn { commit_version: u64, results: Vec<TxnResultJson> },
    Info { info: Ordered<'a> },
    Checkpoint { checkpoint_lsn: u64, generation: u64 },
    Ping { rtt_us: u64 },
    ConfigReload { applied: &'a [String], needs_restart: &'a [String] },
}

fn op_key(op: Option<&Op>) -> String {
    match op {
        Some(Op::Get { key } | Op::Set { key, .. } | Op::Del { key } | Op::Assert { key, .. }) => show(key),
        Some(Op::Scan { .. }) | None => String::new(),
    }
}

fn json_value(outcome: &Outcome) -> Document<'_> {
    match outcome {
        Outcome::Get { key, item } => Document::Lookup(Lookup::new(key, item.as_ref())),
        Outcome::Set { key, commit_version } => Document::Set { key: show(key), commit_version: commit_version.0 },
        Outcome::Del { key, existed } => Document::Del { key: show(key), existed: *existed },
        Outcome::Scan(page) => {
            Document::Scan { items: page.items.iter().map(Pair::new).collect(), truncated: page.truncated }
        }
        Outcome::Txn { ops, result } => Document::Txn {
            commit_version: result.commit_version,
            results: result
                .results
                .iter()
                .enumerate()
                .map(|(index, r)| {
                    let op = ops.get(index);
                    match r {
                        OpResult::Get(item) => {
                            let key = match op {
                                Some(Op::Get { key }) => key.as_slice(),
                                _ => &[],
                            };
                            TxnResultJson::Get(Lookup::new(key, item.as_ref()))
                        }
                        OpResult::Set => TxnResultJson::Set { key: op_key(op) },
                        OpResult::Del { existed } => TxnResultJson::Del { key: op_key(op), existed: *existed },
                        OpResult::Assert => TxnResultJson::Assert { key: op_key(op) },
                        OpResult::Scan { items, truncated } => {
                            TxnResultJson::Scan { items: items.iter().map(Pair::new).collect(), truncated: *truncated }
                        }
                    }
                })
                .collect(),
        },
        Outcome::Info(entries) => Document::Info { info: Ordered(entries) },
        Outcome::Checkpoint(c) => {
            Document::Checkpoint { checkpoint_lsn: c.checkpoint_lsn.0, generation: c.generation.0 }
        }
        Outcome::Ping(rtt) => Document::Ping { rtt_us: u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX) },
        Outcome::ConfigReload(r) => Document::ConfigReload { applied: &r.applied, needs_restart: &r.needs_restart },
    }
}

const NOT_FOUND: &str = "(not found)";

fn human(outcome: &Outcome) -> Rendered {
    let mut out = String::new();
    let mut note = None;
    // Writing to a String cannot fail.
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    match outcome {
        Outcome::Get { item, .. } => line(item.as_ref().map_or_else(|| NOT_FOUND.to_owned(), |kv| show(&kv.value))),
        Outcome::Set { commit_version, .. } => line(format!("OK (commit version {commit_version})")),
        Outcome::Del { existed, .. } => line(if *existed { "deleted" } else { NOT_FOUND }.to_owned()),
        Outcome::Scan(page) => {
            for kv in &page.items {
                line(format!("{}\t{}", show(&kv.key), show(&kv.value)));
            }
            if page.truncated {
                note = Some(truncated_note(&page.items));
            }
        }
        Outcome::Txn { ops, result } => {
            for (index, r) in result.results.iter().enumerate() {
                let key = op_key(ops.get(index));
                match r {
                    OpResult::Get(item) => line(format!(
                        "{index} get {key}: {}",
                        item.as_ref().map_or_else(|| NOT_FOUND.to_owned(), |kv| show(&kv.value))
                    )),
                    OpResult::Set => line(format!("{index} set {key}: OK")),
                    OpResult::Del { existed } => {
                        line(format!("{index} del {key}: {}", if *existed { "deleted" } else { NOT_FOUND }));
                    }
                    OpResult::Assert => line(format!("{index} assert {key}: OK")),
                    OpResult::Scan { items, truncated } => {
                        let more = if *truncated { ", truncated" } else { "" };
                        line(format!("{index} scan: {} pairs{more}", items.len()));
                        for kv in items {
                            line(format!("  {}\t{}", show(&kv.key), show(&kv.value)));
                        }
                    }
                }
            }
            if result.commit_version == 0 {
                line("nothing written".to_owned());
            } else {
                line(format!("committed at version {}", result.commit_version));
            }
        }
        Outcome::Info(entries) => {
            let width = entries.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0);
            for (name, value) in entries {
                line(format!("{name:<width$}  {value}"));
            }
        }
        Outcome::Checkpoint(c) => {
            line(format!("checkpoint complete: LSN {}, generation {}", c.checkpoint_lsn, c.generation));
        }
        Outcome::Ping(rtt) => line(format!("PONG in {:.2} ms", rtt.as_secs_f64() * 1000.0)),
        Outcome::ConfigReload(r) => {
            if r.applied.is_empty() && r.needs_restart.is_empty() {
                line("no setting changed".to_owned());
            }
            if !r.applied.is_empty() {
                line(format!("applied: {}", r.applied.join(", ")));
            }
            if !r.needs_restart.is_empty() {
                line(format!("needs restart: {}", r.needs_restart.join(", ")));
            }
        }
    }
    Rendered { stdout: out, stderr: note }
}

fn truncated_note(items: &[KeyValue]) -> String {
    let mut note = format!("(truncated after {} pairs", items.len());
    if let Some(last) = items.last() {
        let _ = write!(note, "; the last key was {}", show(&last.key));
    }
    note.push(')');
    note
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jubilant_client::{ErrorCode, ScanPage, TxnResult, WireError};
    use jubilant_format::Lsn;

    use super::*;

    fn kv(key: &str, value: &str, version: u64) -> KeyValue {
        KeyValue { key: key.into(), value: value.into(), version, expires_at_unix_ms: None }
    }

    #[test]
    fn get_renders_value_or_not_found() {
        let found = Outcome::Get { key: b"a".to_vec(), item: Some(kv("a", "1", 3)) };
        assert_eq!(render(&found, false).stdout, "1\n");
        assert_eq!(
            render(&found, true).stdout,
            "{\"key\":\"a\",\"found\":true,\"value\":\"1\",\"version\":3,\"expires_at_unix_ms\":null}\n"
        );
        let missing = Outcome::Get { key: vec![0], item: None };
        assert_eq!(render(&missing, false).stdout, "(not found)\n");
        assert_eq!(
            render(&missing, true).stdout,
            "{\"key\":\"hex:00\",\"found\":false,\"value\":null,\"version\":null,\"expires_at_unix_ms\":null}\n"
        );
    }

    #[test]
    fn txn_results_are_labelled_with_their_ops() {
        let ops = vec![
            Op::Set { key: b"a".to_vec(), value: b"1".to_vec(), ttl_ms: None },
            Op::Assert { key: b"a".to_vec(), condition: jubilant_client::AssertCondition::Exists },
            Op::Get { key: b"a".to_vec() },
            Op::Del { key: b"b".to_vec() },
            Op::Scan { start: None, end: None, limit: 1, reverse: false },
        ];
        let result = TxnResult {
            results: vec![
                OpResult::Set,
                OpResult::Assert,
                OpResult::Get(Some(kv("a", "1", 9))),
                OpResult::Del { existed: false },
                OpResult::Scan { items: vec![kv("a", "1", 9)], truncated: true },
            ],
            commit_version: 9,
        };
        let outcome = Outcome::Txn { ops, result };
        assert_eq!(
            render(&outcome, false).stdout,
            "0 set a: OK\n1 assert a: OK\n2 get a: 1\n3 del b: (not found)\n4 scan: 1 pairs, truncated\n  a\t1\ncommitted at version 9\n"
        );
        let json: serde_json::Value = serde_json::from_str(&render(&outcome, true).stdout).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "commit_version": 9,
                "results": [
                    {"op": "set", "key": "a"},
                    {"op": "assert", "key": "a"},
                    {"op": "get", "key": "a", "found": true, "value": "1", "version": 9, "expires_at_unix_ms": null},
                    {"op": "del", "key": "b", "existed": false},
                    {"op": "scan", "items": [{"key": "a", "value": "1", "version": 9, "expires_at_unix_ms": null}], "truncated": true},
                ]
            })
        );
    }

    #[test]
    fn info_keeps_server_order_and_scan_notes_truncation() {
        let info = Outcome::Info(vec![("z".into(), "1".into()), ("alpha".into(), "2".into())]);
        assert_eq!(render(&info, false).stdout, "z      1\nalpha  2\n");
        assert_eq!(render(&info, true).stdout, "{\"info\":{\"z\":\"1\",\"alpha\":\"2\"}}\n");
        let scan = Outcome::Scan(ScanPage { items: vec![kv("k", "v", 1)], truncated: true });
        let rendered = render(&scan, false);
        assert_eq!(rendered.stdout, "k\tv\n");
        assert_eq!(rendered.stderr.as_deref(), Some("(truncated after 1 pairs; the last key was k)"));
        let set = Outcome::Set { key: b"k".to_vec(), commit_version: Lsn(4) };
        assert_eq!(render(&set, true).stdout, "{\"key\":\"k\",\"commit_version\":4}\n");
        let ping = Outcome::Ping(Duration::from_micros(1500));
        assert_eq!(render(&ping, true).stdout, "{\"rtt_us\":1500}\n");
    }

    #[test]
    fn errors_are_one_line_and_json_names_the_code() {
        let mut wire = WireError::new(ErrorCode::AssertFailed, "key a is absent");
        wire.op_index = Some(1);
        let failure = Failure::Client(ClientError::Server(wire));
        assert_eq!(error_line(&failure), "jubectl: server error ASSERT_FAILED at op 1: key a is absent");
        assert_eq!(
            error_json(&failure),
            "{\"error\":{\"kind\":\"server\",\"code\":\"ASSERT_FAILED\",\"message\":\"key a is absent\",\"op_index\":1,\"retryable\":false}}\n"
        );
        let usage = Failure::Usage("bad\nfile".into());
        assert_eq!(error_line(&usage), "jubectl: bad file");
    }
}
