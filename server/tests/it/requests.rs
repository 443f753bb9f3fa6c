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

/// The value a pipelined GET saw, by request id.
fn got(responses: &std::collections::HashMap<u64, ResponseBody>, id: u64) -> Option<Vec<u8>> {
    let Some(ResponseBody::Txn(r)) = responses.get(&id) else { panic!("request {id}: {:?}", responses.get(&id)) };
    let OpResult::Get(found) = &r.results[0] else { panic!("request {id}: {:?}", r.results) };
    found.as_ref().map(|kv| kv.value.clone())
}

/// A connection's pipelined requests take effect in the order sent, across
/// every path a request can take: GETs answered in place, SETs staged for
/// the commit thread, transactions on the worker pool, values in the
/// value log, whether the frames arrive in one write or one by one.
#[test]
fn pipelined_requests_take_effect_in_the_order_sent() {
    let dir = TempDir::new("order");
    let server = ServerProcess::start(&dir.0.join("db"), None);
    let mut c = server.connect();
    // Requests, each with the value its GET must see (if it is one).
    let mut requests: Vec<(RequestBody, Option<Option<String>>)> = Vec::new();
    for i in 0..40 {
        let key = format!("k{}", i % 3);
        let value = if i % 4 == 0 { format!("{i}-{}", "L".repeat(8000)) } else { format!("v{i}") };
        requests.push((RequestBody::Txn(vec![set(&key, &value)]), None));
        requests.push((RequestBody::Txn(vec![get(&key)]), Some(Some(value.clone()))));
        if i % 5 == 0 {
            // A transaction the pool runs (it reads), then a GET.
            requests.push((RequestBody::Txn(vec![Op::Del { key: key.clone().into_bytes() }, get("other")]), None));
            requests.push((RequestBody::Txn(vec![get(&key)]), Some(None)));
            requests.push((RequestBody::Txn(vec![set(&key, &value)]), None));
        }
    }
    for one_write in [false, true] {
        let mut frames = Vec::new();
        let mut expect = Vec::new();
        for (body, seen) in requests.clone() {
            let id = if one_write {
                let id = c.next_id();
                jubilant_format::wire::encode_frame(&jubilant_format::wire::Request { id, body }.encode(), &mut frames);
                id
            } else {
                c.send(body)
            };
            expect.extend(seen.map(|v| (id, v)));
        }
        c.send_raw(&frames);
        let mut responses = std::collections::HashMap::new();
        while responses.len() < requests.len() {
            let r = c.recv().expect("the server closed the connection");
            responses.insert(r.id, r.body);
        }
        for (id, value) in expect {
            assert_eq!(got(&responses, id), value.map(String::into_bytes), "one write: {one_write}, request {id}");
        }
    }
}

/// GETs are answered wherever the value is: the memtable, cached pages,
/// pages not yet read since a restart, the value log.
#[test]
fn gets_are_answered_from_memory_and_from_disk() {
    let dir = TempDir::new("gets");
    let data = dir.0.join("db");
    let value = |i: usize| if i.is_multiple_of(7) { format!("{i}{}", "B".repeat(6000)) } else { format!("value-{i}") };
    {
        let server = ServerProcess::start(&data, None);
        let mut c = server.connect();
        for chunk in 0..30 {
            let ops = (0..100).map(|j| chunk * 100 + j).map(|i| set(&format!("key{i:05}"), &value(i))).collect();
            assert!(matches!(c.txn(ops), ResponseBody::Txn(_)));
        }
        for i in (0..3000).step_by(97) {
            let ResponseBody::Txn(r) = c.txn(vec![get(&format!("key{i:05}"))]) else { panic!() };
            let OpResult::Get(Some(kv)) = &r.results[0] else { panic!("{:?}", r.results) };
            assert_eq!(kv.value, value(i).into_bytes(), "key{i:05} from the memtable");
        }
        assert!(matches!(c.call(RequestBody::Checkpoint), ResponseBody::Checkpoint { .. }));
        assert!(server.terminate().success());
    }
    // Restarted: nothing below the top of the tree is cached.
    let server = ServerProcess::start(&data, None);
    let mut c = server.connect();
    for round in 0..2 {
        for i in (0..3000).step_by(13) {
            let ResponseBody::Txn(r) = c.txn(vec![get(&format!("key{i:05}"))]) else { panic!() };
            let OpResult::Get(Some(kv)) = &r.results[0] else { panic!("{:?}", r.results) };
            assert_eq!(kv.value, value(i).into_bytes(), "key{i:05}, round {round}");
        }
    }
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
