//! Transactions, pipelining, INFO, CHECKPOINT and load shedding.

use std::collections::HashSet;

use jubilant_format::wire::{AssertCondition, ErrorCode, Op, OpResult, RequestBody, ResponseBody};

use crate::support::{ServerProcess, TempDir, get, set};

#[test]
fn transactions_commit_atomically_and_asserts_abort_with_the_index() {
    let dir = TempDir::new("txn");
    let server = ServerProcess::start(&dir.0.join("db"), None);
    let mut c = server.connect();
    let ResponseBody::Txn(first) = c.txn(vec![set("a", "1"), set("b", "2"), get("a")]) else { panic!() };
    let r = first.clone();
    assert!(r.commit_version > 0);
    let OpResult::Get(Some(kv)) = &r.results[2] else { panic!("{:?}", r.results) };
    assert_eq!(kv.value, b"1");
    // A failing ASSERT: nothing of the transaction is written.
    let body = c.txn(vec![
        set("c", "3"),
        Op::Assert { key: b"a".to_vec(), condition: AssertCondition::ValueEquals(b"nope".to_vec()) },
    ]);
    let ResponseBody::Error(e) = &body else { panic!("{body:?}") };
    assert_eq!((e.code, e.op_index, e.retryable), (ErrorCode::AssertFailed, Some(1), false));
    let ResponseBody::Txn(r) = c.txn(vec![get("c")]) else { panic!() };
    assert!(matches!(r.results[0], OpResult::Get(None)));
    // A key's version is the commit that wrote it (a read of the
    // transaction's own write has no version yet).
    assert_eq!(kv.version, 0);
    let ok = c.txn(vec![
        Op::Assert { key: b"a".to_vec(), condition: AssertCondition::VersionEquals(first.commit_version) },
        set("a", "9"),
    ]);
    assert!(matches!(ok, ResponseBody::Txn(_)), "{ok:?}");
    let ResponseBody::Checkpoint { generation, .. } = c.call(RequestBody::Checkpoint) else { panic!() };
    assert!(generation >= 1);
}

#[test]
fn pipelined_requests_are_all_answered_with_their_ids() {
    let dir = TempDir::new("pipeline");
    let server = ServerProcess::start(&dir.0.join("db"), None);
    let mut c = server.connect();
    let mut ids = HashSet::new();
    for i in 0..100 {
        let body = if i % 2 == 0 {
            RequestBody::Txn(vec![set(&format!("k{i}"), "v")])
        } else {
            RequestBody::Ping { payload: vec![i as u8] }
        };
        ids.insert(c.send(body));
    }
    for _ in 0..100 {
        let r = c.recv().unwrap();
        assert!(ids.remove(&r.id), "unexpected or duplicate id {}", r.id);
        assert!(!matches!(r.body, ResponseBody::Error(_)), "{:?}", r.body);
    }
    assert!(ids.is_empty());
}

#[test]
fn info_reports_server_and_engine_counters_and_configuration() {
    let dir = TempDir::new("info");
    let server = ServerProcess::start(&dir.0.join("db"), None);
    let mut c = server.connect();
    c.txn(vec![set("a", "1")]);
    let ResponseBody::Info(entries) = c.call(RequestBody::Info) else { panic!() };
    let get = |k: &str| entries.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("server.requests.txn.ok").as_deref(), Some("1"));
    assert_eq!(get("format.version").as_deref(), Some("1"));
    assert!(get("engine.commits").is_some_and(|v| v != "0"));
    assert!(get("engine.cache.hits").is_some());
    assert!(get("engine.wal.fsyncs").is_some());
    assert!(get("config.limits.max_frame_bytes").is_some());
    assert!(get("server.uptime_seconds").is_some());
}

#[test]
fn an_overloaded_server_sheds_with_busy_and_recovers() {
    let dir = TempDir::new("shed");
    let config = "[limits]\nworkers = 1\nshed_backlog = 1\nmax_in_flight_per_connection = 256\n";
    let server = ServerProcess::start(&dir.0.join("db"), Some(config));
    let mut c = server.connect();
    let n = 200;
    for i in 0..n {
        c.send(RequestBody::Txn(vec![set(&format!("k{i}"), "v")]));
    }
    let (mut busy, mut ok) = (0, 0);
    for _ in 0..n {
        match c.recv().unwrap().body {
            ResponseBody::Txn(_) => ok += 1,
            ResponseBody::Error(e) => {
                assert_eq!(e.code, ErrorCode::Busy);
                assert!(e.retryable);
                busy += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(busy > 0, "nothing was shed");
    assert!(ok > 0, "nothing was served");
    // Recovery: once the burst is over, requests are served again.
    assert!(matches!(c.txn(vec![set("after", "1")]), ResponseBody::Txn(_)));
    let ResponseBody::Info(entries) = c.call(RequestBody::Info) else { panic!() };
    let shed: u64 = entries.iter().find(|(k, _)| k == "server.busy_sheds").unwrap().1.parse().unwrap();
    assert_eq!(shed, busy);
}
