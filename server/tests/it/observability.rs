//! Logs without secrets, spans that follow a request, the /metrics
//! endpoint parsed as Prometheus text, and INFO carrying every metric.

use jubilant_format::wire::{AssertCondition, ErrorCode, Op, RequestBody, ResponseBody};

use crate::prom;
use crate::support::{Launch, ServerProcess, TempDir, error_code, get, http, http_get, info, set};

const SECRET_KEY: &str = "sekrit-key-7c41d9";
const SECRET_VALUE: &str = "sekrit-value-93ab0e";
const SECRET_TOKEN: &str = "sekrit-token-5f2e88aa01";
const WRONG_TOKEN: &str = "sekrit-wrong-token-11c0ffee";

/// Every way a secret could be spelled in a log line: as text, and as the
/// byte list `Debug` prints for a `Vec<u8>`.
fn spellings(secret: &str) -> Vec<String> {
    vec![secret.to_owned(), format!("{:?}", secret.as_bytes()), secret[..10].to_owned()]
}

/// Stops the server with SIGTERM and returns its whole log (waiting,
/// bounded, for the last line to be read).
pub fn stop_and_read_log(server: ServerProcess) -> String {
    let log = server.log.clone();
    assert!(server.terminate().success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = log.lock().unwrap().join("\n");
        if text.contains("shut down cleanly") {
            return text;
        }
        assert!(std::time::Instant::now() < deadline, "no clean shutdown in the log:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn exercise_secrets(server: &ServerProcess) {
    let mut c = server.connect();
    assert_eq!(error_code(&c.txn(vec![get(SECRET_KEY)])), ErrorCode::Unauthenticated);
    assert_eq!(error_code(&c.call(RequestBody::Auth { token: WRONG_TOKEN.into() })), ErrorCode::Unauthenticated);
    assert!(matches!(c.call(RequestBody::Auth { token: SECRET_TOKEN.into() }), ResponseBody::Auth { .. }));
    assert!(matches!(c.txn(vec![set(SECRET_KEY, SECRET_VALUE), get(SECRET_KEY)]), ResponseBody::Txn(_)));
    let scan = Op::Scan {
        start: Some(SECRET_KEY.as_bytes().to_vec()),
        end: Some(format!("{SECRET_KEY}~").into_bytes()),
        limit: 10,
        reverse: false,
    };
    assert!(matches!(c.txn(vec![scan]), ResponseBody::Txn(_)));
    let failing = Op::Assert {
        key: SECRET_KEY.as_bytes().to_vec(),
        condition: AssertCondition::ValueEquals(format!("{SECRET_VALUE}-not").into_bytes()),
    };
    assert_eq!(error_code(&c.txn(vec![failing])), ErrorCode::AssertFailed);
    assert!(matches!(c.call(RequestBody::Checkpoint), ResponseBody::Checkpoint { .. }));
    assert!(matches!(c.txn(vec![Op::Del { key: SECRET_KEY.as_bytes().to_vec() }]), ResponseBody::Txn(_)));
    assert!(matches!(c.call(RequestBody::Info), ResponseBody::Info(_)));
}

#[test]
fn debug_logs_show_no_secret_key_value_or_token_in_either_format() {
    for format in ["human", "json"] {
        let dir = TempDir::new("redact");
        let config =
            format!("[log]\nspan_durations = true\n\n[[auth.tokens]]\ntoken = \"{SECRET_TOKEN}\"\nrole = \"admin\"\n");
        let server = ServerProcess::launch(
            &dir.0.join("db"),
            Launch { config: Some(&config), rust_log: Some("debug"), args: &["--log-format", format] },
        );
        exercise_secrets(&server);
        let text = stop_and_read_log(server);
        // Debug logging was on and went through the redaction.
        assert!(text.contains("len=") && text.contains("hash="), "{text}");
        for secret in [SECRET_KEY, SECRET_VALUE, SECRET_TOKEN, WRONG_TOKEN] {
            for spelling in spellings(secret) {
                assert!(!text.contains(&spelling), "the {format} log contains {spelling:?}:\n{text}");
            }
        }
        // Spans: a commit closes with its durations, and so does the WAL
        // fsync inside it; the engine's checkpoint event is inside the
        // engine's checkpoint span, inside the server's checkpoint span
        // inside its request span.
        let (commit_closed, fsync_closed, nested) = match format {
            "human" => (
                text.lines().any(|l| l.contains("request{") && l.contains("commit{ops=2}") && l.contains("time.busy")),
                text.lines().any(|l| l.contains("commit{ops=2}:fsync{records=") && l.contains("time.busy")),
                text.lines().any(|l| l.contains("op=\"checkpoint\"}:checkpoint:engine_checkpoint: jubilant_engine")),
            ),
            _ => (
                text.lines().any(|l| l.contains("\"name\":\"commit\"") && l.contains("time.busy")),
                text.lines().any(|l| l.contains("\"name\":\"fsync\"") && l.contains("time.busy")),
                text.lines().any(|l| {
                    l.contains("\"target\":\"jubilant_engine")
                        && l.contains(
                            "\"op\":\"checkpoint\",\"name\":\"request\"},{\"name\":\"checkpoint\"},\
                             {\"name\":\"engine_checkpoint\"}",
                        )
                }),
            ),
        };
        assert!(commit_closed, "no closed commit span:\n{text}");
        assert!(fsync_closed, "no closed fsync span:\n{text}");
        assert!(nested, "no engine event inside request > checkpoint:\n{text}");
    }
}

/// Families /metrics must have (Prometheus names).
const REQUIRED: &[&str] = &[
    "jubilant_server_requests_total",
    "jubilant_server_request_duration_seconds",
    "jubilant_server_connections_accepted_total",
    "jubilant_server_connections_open",
    "jubilant_server_bytes_in_total",
    "jubilant_server_bytes_out_total",
    "jubilant_server_busy_sheds_total",
    "jubilant_server_auth_failures_total",
    "jubilant_server_config_reloads_total",
    "jubilant_engine_cache_hits_total",
    "jubilant_engine_cache_misses_total",
    "jubilant_engine_cache_evictions_total",
    "jubilant_engine_cache_bytes",
    "jubilant_engine_wal_appended_bytes_total",
    "jubilant_engine_wal_appended_records_total",
    "jubilant_engine_wal_segments",
    "jubilant_engine_wal_fsyncs_total",
    "jubilant_engine_wal_lag_bytes",
    "jubilant_engine_wal_lag_records",
    "jubilant_engine_dirty_bytes",
    "jubilant_engine_checkpoint_age_seconds",
    "jubilant_engine_checkpoint_last_duration_seconds",
    "jubilant_engine_locks_waits_total",
    "jubilant_engine_locks_timeouts_total",
    "jubilant_engine_transactions_aborts_total",
    "jubilant_engine_wal_fsync_duration_seconds",
    "jubilant_engine_wal_group_commit_records",
    "jubilant_engine_vlog_segments",
    "jubilant_engine_gc_runs_total",
    "jubilant_engine_ttl_expired_total",
];

/// INFO keys that may change between the scrape and the INFO request
/// (the INFO request itself, bytes, clocks).
fn moves(key: &str) -> bool {
    ["server_requests_info", "server_request_duration_seconds_info", "server_bytes_", "server_uptime"]
        .iter()
        .any(|p| key.starts_with(p))
}

#[test]
fn info_carries_every_metric_of_a_parsed_scrape() {
    let dir = TempDir::new("metrics");
    let config = "[admin]\nlisten = \"127.0.0.1:0\"\n\n[limits]\nworkers = 1\nshed_backlog = 1\n\n\
                  [[auth.tokens]]\ntoken = \"metrics-admin-token-0001\"\nrole = \"admin\"\n";
    let server = ServerProcess::start(&dir.0.join("db"), Some(config));
    let admin = server.admin_addr();
    assert!(admin.ip().is_loopback());
    let mut c = server.connect();
    assert_eq!(
        error_code(&c.call(RequestBody::Auth { token: "wrong-token-0123456789".into() })),
        ErrorCode::Unauthenticated
    );
    c.call(RequestBody::Auth { token: "metrics-admin-token-0001".into() });
    // A burst that sheds (backlog 1), an ASSERT abort, a checkpoint.
    for i in 0..50 {
        c.send(RequestBody::Txn(vec![set(&format!("k{i}"), "v")]));
    }
    let busy = (0..50)
        .filter(|_| matches!(c.recv().unwrap().body, ResponseBody::Error(e) if e.code == ErrorCode::Busy))
        .count();
    let abort = Op::Assert { key: b"nope".to_vec(), condition: AssertCondition::Exists };
    assert_eq!(error_code(&c.txn(vec![abort])), ErrorCode::AssertFailed);
    assert!(matches!(c.call(RequestBody::Checkpoint), ResponseBody::Checkpoint { .. }));

    let (status, text) = http_get(admin, "/metrics");
    assert_eq!(status, 200, "{text}");
    let scrape = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for name in REQUIRED {
        let family = scrape.families.get(*name).unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"));
        assert!(family.help.as_deref().is_some_and(|h| !h.is_empty()), "{name} has no HELP");
    }
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v)))
            .map(|s| s.value)
    };
    assert_eq!(value("jubilant_server_busy_sheds_total", &[]), Some(busy as f64));
    assert!(busy > 0);
    assert_eq!(value("jubilant_server_requests_total", &[("op", "txn"), ("result", "busy")]), Some(busy as f64));
    assert_eq!(value("jubilant_server_auth_failures_total", &[]), Some(1.0));
    assert_eq!(value("jubilant_engine_transactions_aborts_total", &[("reason", "assert")]), Some(1.0));
    assert_eq!(value("jubilant_server_request_duration_seconds_count", &[("op", "txn")]), Some(51.0));
    // Every committed write waited on a WAL fsync the histograms saw.
    let fsyncs = value("jubilant_engine_wal_fsync_duration_seconds_count", &[]).unwrap_or(0.0);
    assert!(fsyncs >= 1.0, "no fsync observed:\n{text}");
    assert_eq!(value("jubilant_engine_wal_group_commit_records_count", &[]), Some(fsyncs));

    // docs/OBSERVABILITY.md lists every family.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/OBSERVABILITY.md")).unwrap();
    for name in scrape.families.keys() {
        assert!(doc.contains(&format!("`{name}`")), "{name} is not listed in docs/OBSERVABILITY.md");
    }

    // INFO carries every sample, under the mapped name, with the same value
    // (but for the few that move between the two requests).
    let info = info(&mut c);
    let normalized: std::collections::BTreeMap<String, &String> =
        info.iter().map(|(k, v)| (prom::normalize(k), v)).collect();
    for sample in &scrape.samples {
        let key = prom::info_key(&scrape, sample);
        let Some(v) = normalized.get(&key) else {
            panic!("{} {:?} ({key}) is not in INFO", sample.name, sample.labels)
        };
        let v: f64 = v.parse().unwrap_or_else(|_| panic!("{key} = {v} is not a number"));
        if scrape.families[&sample.family].kind == "counter" && !moves(&key) {
            assert_eq!(v, sample.value, "{key}: INFO {v}, /metrics {}", sample.value);
        }
    }
    // Besides the metrics: identity and configuration, without secrets.
    for key in ["server.version", "server.uptime_seconds", "server.data_dir", "format.version", "config.limits.workers"]
    {
        assert!(info.contains_key(key), "{key} missing from INFO");
    }
    assert_eq!(info["config.limits.shed_backlog"], "1");
    assert_eq!(info["config.auth.token_count"], "1");
    let all = format!("{info:?}");
    assert!(!all.contains("metrics-admin-token"), "INFO leaks a token");
    assert!(!text.contains("metrics-admin-token"), "/metrics leaks a token");
}

#[test]
fn the_admin_listener_answers_only_get_metrics_with_bounded_requests() {
    let dir = TempDir::new("admin-http");
    let server = ServerProcess::start(&dir.0.join("db"), Some("[admin]\nlisten = \"127.0.0.1:0\"\n"));
    let admin = server.admin_addr();
    assert_eq!(http_get(admin, "/").0, 404);
    assert_eq!(http_get(admin, "/metrics?x=1").0, 200);
    assert_eq!(http(admin, b"POST /metrics HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(http(admin, b"nonsense\r\n\r\n").0, 400);
    let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 20_000));
    assert_eq!(http(admin, &huge).0, 431);
    let (status, body) = http(admin, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, ""));
    // The client protocol is unaffected.
    let mut c = server.connect();
    assert!(matches!(c.txn(vec![set("a", "1")]), ResponseBody::Txn(_)));
    // No admin listener unless configured.
    let plain = ServerProcess::start(&dir.0.join("db2"), None);
    assert!(!plain.log_text().contains("metrics endpoint"));
    assert_eq!(info(&mut plain.connect())["server.admin_listen"], "off");
}

#[test]
fn a_non_loopback_admin_listener_is_refused_unless_allowed() {
    let dir = TempDir::new("admin-public");
    let path = dir.0.join("c.toml");
    std::fs::write(&path, "[admin]\nlisten = \"0.0.0.0:0\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jubilant-server"))
        .arg("--data-dir")
        .arg(dir.0.join("db"))
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("admin.listen") && stderr.contains("allow_non_loopback"), "{stderr}");
}
