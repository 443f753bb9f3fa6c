use std::time::Duration;

use jubilant_client::{AssertCondition, BlockingClient, Client, ErrorCode, Op, OpResult};
use jubilant_format::{Generation, Lsn};

use crate::mock::{MockServer, config, kv_handler};

#[tokio::test]
async fn typed_methods_round_trip_through_the_mock() {
    let server = MockServer::start(kv_handler()).await;
    let client = Client::connect(config(&server.addr())).await.unwrap();

    assert_eq!(client.get(b"a").await.unwrap(), None);
    assert_eq!(client.set(b"a", b"1", None).await.unwrap(), Lsn(1));
    assert_eq!(client.set(b"b", b"2", Some(Duration::from_secs(10))).await.unwrap(), Lsn(2));
    let a = client.get(b"a").await.unwrap().unwrap();
    assert_eq!((a.key.as_slice(), a.value.as_slice(), a.version), (&b"a"[..], &b"1"[..], 1));

    let page = client.scan(None, None, 0, false).await.unwrap();
    let keys: Vec<_> = page.items.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, [b"a".to_vec(), b"b".to_vec()]);
    assert!(!page.truncated);
    let page = client.scan(Some(b"a"), Some(b"z"), 1, true).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].key, b"b");
    assert!(page.truncated);

    assert!(client.del(b"a").await.unwrap());
    assert!(!client.del(b"a").await.unwrap());

    // The TTL reached the server in milliseconds.
    let set_b = server.requests().into_iter().find_map(|(_, r)| match r.body {
        jubilant_client::RequestBody::Txn(ops) => match ops.first() {
            Some(Op::Set { key, ttl_ms, .. }) if key == b"b" => Some(*ttl_ms),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(set_b, Some(Some(10_000)));

    assert!(client.ping().await.unwrap() < Duration::from_secs(5));
    let info = client.info().await.unwrap();
    assert_eq!(info[0], ("version".to_owned(), "0.1.0".to_owned()));
    let checkpoint = client.checkpoint().await.unwrap();
    assert_eq!((checkpoint.checkpoint_lsn, checkpoint.generation), (Lsn(41), Generation(7)));
    let reload = client.config_reload().await.unwrap();
    assert_eq!(reload.applied, ["log_level"]);
    assert_eq!(reload.needs_restart, ["listen"]);
}

#[tokio::test]
async fn failed_assert_is_a_server_error_with_the_op_index() {
    let server = MockServer::start(kv_handler()).await;
    let client = Client::connect(config(&server.addr())).await.unwrap();
    let ops = vec![
        Op::Set { key: b"a".to_vec(), value: b"1".to_vec(), ttl_ms: None },
        Op::Assert { key: b"a".to_vec(), condition: AssertCondition::Exists },
        Op::Get { key: b"a".to_vec() },
    ];
    let result = client.transact(ops).await.unwrap();
    assert_eq!(result.commit_version, 1);
    assert!(matches!(&result.results[2], OpResult::Get(Some(kv)) if kv.value == b"1"));

    let ops = vec![
        Op::Set { key: b"x".to_vec(), value: b"1".to_vec(), ttl_ms: None },
        Op::Assert { key: b"a".to_vec(), condition: AssertCondition::Absent },
    ];
    let error = client.transact(ops).await.unwrap_err();
    assert!(error.is_assert_failed(), "{error}");
    assert_eq!(error.server_error().unwrap().op_index, Some(1));
    assert_eq!(error.code(), Some(ErrorCode::AssertFailed));
    // Nothing was written.
    assert_eq!(client.get(b"x").await.unwrap(), None);
}

#[test]
fn blocking_client_works_without_a_runtime_of_its_own() {
    // The mock runs on a runtime in another thread; this thread has none.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let server = MockServer::start(kv_handler()).await;
            addr_tx.send(server.addr()).unwrap();
            let _ = tokio::time::timeout(Duration::from_secs(30), stop_rx).await;
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let client = BlockingClient::connect(config(&addr)).unwrap();
    client.set(b"k", b"v", None).unwrap();
    assert_eq!(client.get(b"k").unwrap().unwrap().value, b"v");
    assert_eq!(client.scan(None, None, 10, false).unwrap().items.len(), 1);
    assert!(client.del(b"k").unwrap());
    client.ping().unwrap();
    assert_eq!(client.info().unwrap().len(), 2);
    drop(client);
    stop_tx.send(()).unwrap();
    server_thread.join().unwrap();
}
