use serde_json::json;

use crate::mock::{Mock, jubectl, jubectl_with, write_file};

/// An address nothing listens on: a port bound and released.
fn closed_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn unreachable_server_exits_1_with_one_line() {
    let addr = closed_address();
    let run = jubectl(&["--addr", &addr, "kv", "get", "a"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with(&format!("jubectl: connect to {addr}: ")), "{}", run.stderr);

    let run = jubectl(&["--addr", &addr, "--json", "ping"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["error"]["kind"], "io");
    assert_eq!(run.stderr.lines().count(), 1);
}

#[test]
fn failed_assert_exits_1_and_writes_nothing() {
    let mock = Mock::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "txn.json",
        r#"[{"op":"set","key":"a","value":"1"},{"op":"assert","key":"b","exists":true}]"#,
    );
    let run = jubectl(&["--addr", &mock.addr, "kv", "txn", &file]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "jubectl: server error ASSERT_FAILED at op 1: assert did not hold\n");

    let run = jubectl(&["--addr", &mock.addr, "--json", "kv", "txn", &file]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.json(),
        json!({"error": {"kind": "server", "code": "ASSERT_FAILED", "message": "assert did not hold", "op_index": 1, "retryable": false}})
    );
    let run = jubectl(&["--addr", &mock.addr, "kv", "get", "a"]);
    assert_eq!(run.stdout, "(not found)\n");
}

#[test]
fn usage_errors_exit_16_without_contacting_the_server() {
    let addr = closed_address();
    let run = jubectl(&["--addr", &addr, "kv", "set", "k", "v", "--ttl", "10"]);
    assert_eq!(run.code, 16);
    assert!(run.stderr.contains("missing unit"), "{}", run.stderr);
    assert_eq!(jubectl(&["kv", "frobnicate"]).code, 16);
    assert_eq!(jubectl(&["--tls-cert", "c.pem", "ping"]).code, 16);

    // A malformed transaction file is a usage error, found before connecting.
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "bad.json", r#"[{"op":"assert","key":"a"}]"#);
    let run = jubectl(&["--addr", &addr, "kv", "txn", &file]);
    assert_eq!(run.code, 16);
    assert_eq!(
        run.stderr,
        format!("jubectl: {file}: op 0: assert needs exactly one of \"exists\", \"value\", \"version\"\n")
    );
    let run = jubectl_with(&["--addr", &addr, "kv", "txn", "-"], &[], Some("not json"));
    assert_eq!(run.code, 16);
    assert_eq!(run.stderr.lines().count(), 1);

    // A missing file is a local I/O failure.
    let missing = dir.path().join("missing.json");
    let run = jubectl(&["--addr", &addr, "kv", "txn", missing.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("jubectl: open "), "{}", run.stderr);

    let run = jubectl(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Usage: jubectl"));
}

#[test]
fn rejected_token_exits_1() {
    let mock = Mock::start_with_token(Some("right"));
    let run = jubectl(&["--addr", &mock.addr, "--token", "wrong", "ping"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "jubectl: authentication failed: UNAUTHENTICATED: unknown token\n");
    let run = jubectl(&["--addr", &mock.addr, "ping"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "jubectl: server error UNAUTHENTICATED: authenticate first\n");
}
