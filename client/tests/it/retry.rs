use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jubilant_client::{Client, ClientError, ErrorCode, RequestBody, ResponseBody};
use jubilant_format::wire::Response;
use tokio::io::AsyncWriteExt;

use crate::mock::{Action, MockServer, answer, config, error, handler, kv_handler};

/// Answers the first `busy` transactions with BUSY, then serves an
/// in-memory store.
fn busy_then_serve(busy: usize) -> crate::mock::Handler {
    let seen = AtomicUsize::new(0);
    let store = Arc::new(std::sync::Mutex::new(jubilant_client::test_util::MemoryStore::default()));
    handler(move |_, request| {
        if matches!(request.body, RequestBody::Txn(_)) && seen.fetch_add(1, Ordering::SeqCst) < busy {
            return Action::Reply(error(ErrorCode::Busy, "overloaded"));
        }
        Action::Reply(answer(&store, &request.body))
    })
}

#[tokio::test]
async fn busy_reads_are_retried() {
    let server = MockServer::start(busy_then_serve(2)).await;
    let client = Client::connect(config(&server.addr())).await.unwrap();
    assert_eq!(client.get(b"a").await.unwrap(), None);
    assert_eq!(server.txn_count(), 3, "two BUSY answers, then success");
    let ids: Vec<u64> = server.requests().iter().map(|(_, r)| r.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "every attempt has a fresh id: {ids:?}");
}

#[tokio::test]
async fn busy_writes_are_not_retried() {
    let server = MockServer::start(busy_then_serve(1)).await;
    let client = Client::connect(config(&server.addr())).await.unwrap();
    let error = client.set(b"a", b"1", None).await.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Busy), "{error}");
    assert_eq!(server.txn_count(), 1);
    // The next write goes through.
    client.set(b"a", b"1", None).await.unwrap();
    assert_eq!(server.txn_count(), 2);
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let server = MockServer::start(busy_then_serve(usize::MAX)).await;
    let mut config = config(&server.addr());
    config.max_retries = 2;
    let client = Client::connect(config).await.unwrap();
    let error = client.scan(None, None, 0, false).await.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Busy));
    assert_eq!(server.txn_count(), 3);
}

#[tokio::test]
async fn assert_failures_are_not_retried() {
    let server = MockServer::start(kv_handler()).await;
    let client = Client::connect(config(&server.addr())).await.unwrap();
    let ops =
        vec![jubilant_client::Op::Assert { key: b"a".to_vec(), condition: jubilant_client::AssertCondition::Exists }];
    assert!(client.transact(ops).await.unwrap_err().is_assert_failed());
    assert_eq!(server.txn_count(), 1);
}

/// Closes connection 0 on its first transaction; serves a store on every
/// other connection.
fn drop_first_connection() -> crate::mock::Handler {
    let store = Arc::new(std::sync::Mutex::new(jubilant_client::test_util::MemoryStore::default()));
    handler(move |conn, request| {
        if conn.index == 0 && matches!(request.body, RequestBody::Txn(_)) {
            return Action::Close;
        }
        Action::Reply(answer(&store, &request.body))
    })
}

#[tokio::test]
async fn dropped_connection_is_reopened_and_reads_retried() {
    let server = MockServer::start(drop_first_connection()).await;
    let client = Client::connect(config(&server.addr())).await.unwrap();
    assert_eq!(client.get(b"a").await.unwrap(), None);
    assert_eq!(server.connections(), 2);
    assert_eq!(server.txn_count(), 2);
}

#[tokio::test]
async fn write_on_a_dropped_connection_fails_and_is_not_resent() {
    let server = MockServer::start(drop_first_connection()).await;
    let client = Client::connect(config(&server.addr())).await.unwrap();
    let error = client.set(b"a", b"1", None).await.unwrap_err();
    assert!(error.is_connection_error(), "{error}");
    assert_eq!(server.txn_count(), 1);
    // The next request reopens the connection.
    client.set(b"a", b"1", None).await.unwrap();
    assert_eq!(client.get(b"a").await.unwrap().unwrap().value, b"1");
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn request_timeout_fails_the_request_but_not_the_connection() {
    let server = MockServer::start(handler(|_, request| match &request.body {
        RequestBody::Ping { .. } => Action::Ignore,
        RequestBody::Info => Action::After(Duration::from_millis(10), ResponseBody::Info(Vec::new())),
        _ => Action::Close,
    }))
    .await;
    let mut config = config(&server.addr());
    config.request_timeout = Duration::from_millis(200);
    let client = Client::connect(config).await.unwrap();
    let started = Instant::now();
    let error = client.ping().await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Timeouts are not retried, and the connection still serves.
    assert_eq!(server.requests().len(), 1);
    assert_eq!(client.info().await.unwrap(), Vec::new());
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn connection_level_error_fails_what_is_in_flight() {
    // A server at its connection limit answers with id 0 and closes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let body = error(ErrorCode::TooManyConnections, "limit of 1 reached");
            let mut out = Vec::new();
            jubilant_format::wire::encode_frame(&Response { id: 0, body }.encode(), &mut out);
            tcp.write_all(&out).await.unwrap();
            // Give the client time to read before the close.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut config = config(&addr);
    config.max_retries = 0;
    let client = Client::connect(config).await.unwrap();
    let error = client.ping().await.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::TooManyConnections), "{error}");
    drop(client);
    server.abort();
}

#[tokio::test]
async fn unreachable_server_fails_connect_after_retries() {
    // Bind then drop a listener: its port is (very likely) closed.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let error = Client::connect(config(&addr)).await.unwrap_err();
    assert!(matches!(&error, ClientError::Io { context, .. } if context.contains(&addr)), "{error}");
}
