use serde_json::json;

use crate::mock::{Mock, jubectl, jubectl_with, write_file};

#[test]
fn set_get_del_in_text() {
    let mock = Mock::start();
    let addr = ["--addr", mock.addr.as_str()];
    let run = jubectl(&[&addr[..], &["kv", "set", "greeting", "hello world"]].concat());
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (0, "OK (commit version 1)\n", ""));
    let run = jubectl(&[&addr[..], &["kv", "get", "greeting"]].concat());
    assert_eq!((run.code, run.stdout.as_str()), (0, "hello world\n"));
    let run = jubectl(&[&addr[..], &["kv", "get", "missing"]].concat());
    assert_eq!((run.code, run.stdout.as_str()), (0, "(not found)\n"));
    let run = jubectl(&[&addr[..], &["kv", "del", "greeting"]].concat());
    assert_eq!((run.code, run.stdout.as_str()), (0, "deleted\n"));
    let run = jubectl(&[&addr[..], &["kv", "del", "greeting"]].concat());
    assert_eq!((run.code, run.stdout.as_str()), (0, "(not found)\n"));
}

#[test]
fn set_get_del_in_json() {
    let mock = Mock::start();
    let addr = ["--addr", mock.addr.as_str(), "--json"];
    let run = jubectl(&[&addr[..], &["kv", "set", "hex:00ff", "v", "--ttl", "10s"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"key": "hex:00ff", "commit_version": 1}));
    let run = jubectl(&[&addr[..], &["kv", "get", "hex:00ff"]].concat());
    assert_eq!(
        run.json(),
        json!({"key": "hex:00ff", "found": true, "value": "v", "version": 1, "expires_at_unix_ms": null})
    );
    let run = jubectl(&[&addr[..], &["kv", "get", "nope"]].concat());
    assert_eq!(
        run.json(),
        json!({"key": "nope", "found": false, "value": null, "version": null, "expires_at_unix_ms": null})
    );
    let run = jubectl(&[&addr[..], &["kv", "del", "hex:00ff"]].concat());
    assert_eq!(run.json(), json!({"key": "hex:00ff", "existed": true}));
    assert_eq!(run.stdout.lines().count(), 1, "one JSON document on one line");
}

#[test]
fn scan_in_text_and_json() {
    let mock = Mock::start();
    let addr = ["--addr", mock.addr.as_str()];
    for (key, value) in [("a", "1"), ("b", "2"), ("c", "3")] {
        assert_eq!(jubectl(&[&addr[..], &["kv", "set", key, value]].concat()).code, 0);
    }
    let run = jubectl(&[&addr[..], &["kv", "scan"]].concat());
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (0, "a\t1\nb\t2\nc\t3\n", ""));
    let run = jubectl(&[&addr[..], &["kv", "scan", "--from", "b", "--reverse"]].concat());
    assert_eq!(run.stdout, "c\t3\nb\t2\n");
    let run = jubectl(&[&addr[..], &["kv", "scan", "--to", "c", "--limit", "1"]].concat());
    assert_eq!(run.stdout, "a\t1\n");
    assert_eq!(run.stderr, "(truncated after 1 pairs; the last key was a)\n");
    let run = jubectl(&[&addr[..], &["--json", "kv", "scan", "--limit", "2"]].concat());
    assert_eq!(
        run.json(),
        json!({"items": [
            {"key": "a", "value": "1", "version": 1, "expires_at_unix_ms": null},
            {"key": "b", "value": "2", "version": 2, "expires_at_unix_ms": null},
        ], "truncated": true})
    );
}

#[test]
fn txn_from_a_file_and_from_stdin() {
    let mock = Mock::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "txn.json",
        r#"[{"op":"set","key":"a","value":"1"},{"op":"assert","key":"a","exists":true},{"op":"get","key":"a"}]"#,
    );
    let run = jubectl(&["--addr", &mock.addr, "kv", "txn", &file]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "0 set a: OK\n1 assert a: OK\n2 get a: 1\ncommitted at version 1\n");

    let stdin = r#"[{"op":"assert","key":"a","value":"1"},{"op":"del","key":"a"},{"op":"scan"}]"#;
    let run = jubectl_with(&["--addr", &mock.addr, "--json", "kv", "txn", "-"], &[], Some(stdin));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json(),
        json!({"commit_version": 2, "results": [
            {"op": "assert", "key": "a"},
            {"op": "del", "key": "a", "existed": true},
            {"op": "scan", "items": [], "truncated": false},
        ]})
    );
}

#[test]
fn info_ping_checkpoint_and_config_reload() {
    let mock = Mock::start();
    let addr = ["--addr", mock.addr.as_str()];
    let run = jubectl(&[&addr[..], &["info"]].concat());
    assert_eq!((run.code, run.stdout.as_str()), (0, "version  0.1.0\nkeys     0\n"));
    let run = jubectl(&[&addr[..], &["info", "--json"]].concat());
    assert_eq!(run.stdout, "{\"info\":{\"version\":\"0.1.0\",\"keys\":\"0\"}}\n");

    let run = jubectl(&[&addr[..], &["ping"]].concat());
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("PONG in ") && run.stdout.ends_with(" ms\n"), "{}", run.stdout);
    let run = jubectl(&[&addr[..], &["--json", "ping"]].concat());
    assert!(run.json()["rtt_us"].is_u64());

    let run = jubectl(&[&addr[..], &["checkpoint"]].concat());
    assert_eq!(run.stdout, "checkpoint complete: LSN 41, generation 7\n");
    let run = jubectl(&[&addr[..], &["--json", "checkpoint"]].concat());
    assert_eq!(run.json(), json!({"checkpoint_lsn": 41, "generation": 7}));

    let run = jubectl(&[&addr[..], &["config", "reload"]].concat());
    assert_eq!(run.stdout, "applied: log_level\nneeds restart: listen\n");
    let run = jubectl(&[&addr[..], &["--json", "config", "reload"]].concat());
    assert_eq!(run.json(), json!({"applied": ["log_level"], "needs_restart": ["listen"]}));
}

#[test]
fn address_and_token_come_from_the_environment() {
    let mock = Mock::start_with_token(Some("s3cret"));
    let env = [("JUBILANT_ADDR", mock.addr.as_str()), ("JUBILANT_TOKEN", "s3cret")];
    let run = jubectl_with(&["kv", "set", "k", "v"], &env, None);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (0, "OK (commit version 1)\n", ""));
}
