//! Transaction flows through the client and jubectl.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jubilant_e2e::process::{Server, TempDir, jubectl};
use jubilant_format::wire::{AssertCondition, Op, OpResult};

use crate::client;

#[test]
fn commits_asserts_contention_checkpoint_and_info() {
    let dir = TempDir::new("flows");
    let server = Server::start(&dir.0.join("db"), "");
    let c = client(&server);
    // A commit, then an ASSERT abort that leaves nothing behind.
    let r = c
        .transact(vec![
            Op::Set { key: b"balance:a".to_vec(), value: b"100".to_vec(), ttl_ms: None },
            Op::Set { key: b"balance:b".to_vec(), value: b"0".to_vec(), ttl_ms: None },
        ])
        .unwrap();
    assert!(r.commit_version > 0);
    let err = c
        .transact(vec![
            Op::Set { key: b"balance:a".to_vec(), value: b"0".to_vec(), ttl_ms: None },
            Op::Assert { key: b"balance:a".to_vec(), condition: AssertCondition::ValueEquals(b"100".to_vec()) },
        ])
        .unwrap_err();
    assert!(err.is_assert_failed(), "{err}");
    assert_eq!(c.get(b"balance:a").unwrap().unwrap().value, b"100");

    // Contention: compare-and-set increments from several clients.
    c.set(b"counter", b"0", None).unwrap();
    let successes = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let successes = Arc::clone(&successes);
            let server = &server;
            s.spawn(move || {
                let c = client(server);
                for _ in 0..50 {
                    let kv = c.get(b"counter").unwrap().unwrap();
                    let n: u64 = String::from_utf8(kv.value).unwrap().parse().unwrap();
                    let ops = vec![
                        Op::Assert { key: b"counter".to_vec(), condition: AssertCondition::VersionEquals(kv.version) },
                        Op::Set { key: b"counter".to_vec(), value: (n + 1).to_string().into_bytes(), ttl_ms: None },
                    ];
                    match c.transact(ops) {
                        Ok(_) => {
                            successes.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => assert!(e.is_assert_failed(), "{e}"),
                    }
                }
            });
        }
    });
    let n: u64 = String::from_utf8(c.get(b"counter").unwrap().unwrap().value).unwrap().parse().unwrap();
    assert_eq!(n, successes.load(Ordering::SeqCst));

    let info = c.checkpoint().unwrap();
    assert!(info.generation.get() >= 1);
    let entries = c.info().unwrap();
    assert!(entries.iter().any(|(k, _)| k.contains("uptime")), "{entries:?}");
    assert!(entries.iter().any(|(k, v)| k.contains("commits") && v != "0"), "{entries:?}");
}

#[test]
fn ttl_expiry_through_the_server() {
    let dir = TempDir::new("ttl");
    let server = Server::start(&dir.0.join("db"), "[engine]\n");
    let c = client(&server);
    c.set(b"session", b"s", Some(Duration::from_millis(300))).unwrap();
    c.set(b"forever", b"f", None).unwrap();
    let kv = c.get(b"session").unwrap().expect("not yet expired");
    assert!(kv.expires_at_unix_ms.is_some());
    // Bounded wait (not a timed assertion): the key must be gone after
    // its TTL, whenever that is observed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.get(b"session").unwrap().is_some() {
        assert!(Instant::now() < deadline, "the key never expired");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(c.get(b"forever").unwrap().is_some());
    let r = c.transact(vec![Op::Get { key: b"session".to_vec() }]).unwrap();
    assert!(matches!(r.results[0], OpResult::Get(None)));
}

#[test]
fn jubectl_talks_to_a_live_server() {
    let dir = TempDir::new("jubectl");
    let server = Server::start(&dir.0.join("db"), "");
    let addr = server.addr.to_string();
    let (code, _, err) = jubectl(&["--addr", &addr, "kv", "set", "greeting", "hello"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = jubectl(&["--addr", &addr, "--json", "kv", "get", "greeting"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["value"], "hello");
    let (code, out, _) = jubectl(&["--addr", &addr, "--json", "info"]);
    assert_eq!(code, 0);
    assert!(out.contains("uptime"), "{out}");
    let (code, _, _) = jubectl(&["--addr", &addr, "checkpoint"]);
    assert_eq!(code, 0);
    let status = server.terminate();
    assert!(status.success());
    let (code, _, err) = jubectl(&["--addr", &addr, "ping"]);
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
