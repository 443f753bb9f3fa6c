//! Bad input gets a typed error response, never a crash or a hang, and the
//! server keeps serving other connections.

use std::time::Duration;

use jubilant_format::wire::{ErrorCode, Request, RequestBody, ResponseBody};

use crate::support::{ServerProcess, TempDir, error_code, get, set};

const LIMITS: &str = "[limits]\nread_timeout_ms = 300\nmax_frame_bytes = 65536\nmax_connections = 3\n";

#[test]
fn an_oversized_length_prefix_gets_an_error_frame_and_a_close() {
    let dir = TempDir::new("oversized");
    let server = ServerProcess::start(&dir.0.join("db"), Some(LIMITS));
    let mut bystander = server.connect();
    let mut c = server.connect();
    // Claims 4 GiB: the server must answer without allocating it.
    c.send_raw(&u32::MAX.to_le_bytes());
    let r = c.recv().expect("an error frame before the close");
    assert_eq!((r.id, error_code(&r.body)), (0, ErrorCode::FrameTooLarge));
    assert!(c.closed());
    assert!(matches!(bystander.txn(vec![set("k", "v")]), ResponseBody::Txn(_)));
}

#[test]
fn a_malformed_frame_gets_malformed_and_the_connection_stays_in_sync() {
    let dir = TempDir::new("malformed");
    let server = ServerProcess::start(&dir.0.join("db"), Some(LIMITS));
    let mut c = server.connect();
    let garbage = b"this is not a flatbuffer at all";
    let mut frame = (garbage.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(garbage);
    c.send_raw(&frame);
    let r = c.recv().unwrap();
    assert_eq!(error_code(&r.body), ErrorCode::Malformed);
    match &r.body {
        ResponseBody::Error(e) => assert!(!e.message.is_empty()),
        _ => unreachable!(),
    }
    // The same connection still works: the length prefix kept it in sync.
    assert!(matches!(c.txn(vec![set("a", "1"), get("a")]), ResponseBody::Txn(_)));
}

#[test]
fn an_unknown_operation_gets_unsupported_with_its_id() {
    let dir = TempDir::new("unknown");
    let server = ServerProcess::start(&dir.0.join("db"), Some(LIMITS));
    let mut c = server.connect();
    // A valid request whose body union tag is one this server does not
    // know (a newer client): patch the type byte of an encoded PING.
    let request = Request { id: 77, body: RequestBody::Ping { payload: b"zz".to_vec() } }.encode();
    let mut patched = None;
    for i in 0..request.len() {
        let mut candidate = request.clone();
        candidate[i] = 0xEE;
        if let Err(jubilant_format::Error::UnsupportedRequest { id: Some(77), .. }) =
            jubilant_format::wire::decode_request(&candidate, &jubilant_format::wire::WireLimits::default())
        {
            patched = Some(candidate);
            break;
        }
    }
    let patched = patched.expect("found the union type byte");
    let mut frame = (patched.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&patched);
    c.send_raw(&frame);
    let r = c.recv().unwrap();
    assert_eq!((r.id, error_code(&r.body)), (77, ErrorCode::Unsupported));
    assert!(matches!(c.call(RequestBody::Ping { payload: vec![1] }), ResponseBody::Pong { .. }));
}

#[test]
fn a_stalled_partial_frame_is_closed_after_the_read_timeout() {
    let dir = TempDir::new("slowloris");
    let server = ServerProcess::start(&dir.0.join("db"), Some(LIMITS));
    let mut bystander = server.connect();
    let mut c = server.connect();
    c.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Two bytes of a length prefix, then nothing.
    c.send_raw(&[10, 0]);
    assert!(c.closed(), "the stalled connection was not closed");
    assert!(matches!(bystander.call(RequestBody::Ping { payload: vec![] }), ResponseBody::Pong { .. }));
}

/// An idle connection is closed after the idle timeout, counted from its
/// last request: one that keeps talking stays open past it.
#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout_from_its_last_request() {
    let dir = TempDir::new("idle");
    let server = ServerProcess::start(&dir.0.join("db"), Some("[limits]\nidle_timeout_ms = 400\n"));
    let mut c = server.connect();
    c.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    // Twice the timeout, a request every 100 ms: still served.
    while started.elapsed() < Duration::from_millis(800) {
        assert!(matches!(c.call(RequestBody::Ping { payload: vec![] }), ResponseBody::Pong { .. }));
        std::thread::sleep(Duration::from_millis(100));
    }
    // Then silence: closed.
    assert!(c.closed(), "the idle connection was not closed");
}

#[test]
fn connections_over_the_limit_are_refused_with_an_error_frame() {
    let dir = TempDir::new("connlimit");
    let server = ServerProcess::start(&dir.0.join("db"), Some(LIMITS));
    let mut held: Vec<_> = (0..3).map(|_| server.connect()).collect();
    for c in &mut held {
        assert!(matches!(c.call(RequestBody::Ping { payload: vec![] }), ResponseBody::Pong { .. }));
    }
    let mut extra = server.connect();
    let r = extra.recv().expect("an error frame");
    assert_eq!((r.id, error_code(&r.body)), (0, ErrorCode::TooManyConnections));
    assert!(extra.closed());
    // The others are unaffected; after one leaves, a new one is served.
    assert!(matches!(held[0].txn(vec![set("x", "1")]), ResponseBody::Txn(_)));
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(100));
    let mut again = server.connect();
    assert!(matches!(again.call(RequestBody::Ping { payload: vec![] }), ResponseBody::Pong { .. }));
}
