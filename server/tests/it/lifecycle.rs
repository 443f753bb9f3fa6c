//! Graceful shutdown, and `kill -9` of the server during writes.

use std::sync::{Arc, Mutex};

use jubilant_format::wire::{OpResult, ResponseBody};

use crate::support::{ServerProcess, TempDir, get, set};

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let dir = TempDir::new("sigterm");
    let data = dir.0.join("db");
    let server = ServerProcess::start(&data, Some("[engine]\ndurability = \"buffered\"\n"));
    let mut c = server.connect();
    for i in 0..50 {
        c.send(jubilant_format::wire::RequestBody::Txn(vec![set(&format!("k{i}"), "v")]));
    }
    for _ in 0..50 {
        assert!(matches!(c.recv().unwrap().body, ResponseBody::Txn(_)));
    }
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    // Buffered commits were made durable on the way out.
    let server = ServerProcess::start(&data, None);
    let mut c = server.connect();
    let ResponseBody::Txn(r) = c.txn((0..50).map(|i| get(&format!("k{i}"))).collect()) else { panic!() };
    assert!(r.results.iter().all(|r| matches!(r, OpResult::Get(Some(_)))));
}

#[test]
fn kill_9_during_writes_from_several_clients_loses_no_acknowledged_write() {
    let dir = TempDir::new("srv-kill9");
    let data = dir.0.join("db");
    let mut acked_all: Vec<String> = Vec::new();
    for round in 0..3 {
        let server = ServerProcess::start(&data, None);
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (acked, stop, addr) = (Arc::clone(&acked), Arc::clone(&stop), server.addr);
                std::thread::spawn(move || {
                    let mut c = crate::support::RawClient::connect(addr);
                    for i in 0..100_000 {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            return;
                        }
                        let key = format!("r{round}-w{w}-{i}");
                        let id = c.send(jubilant_format::wire::RequestBody::Txn(vec![set(&key, &key)]));
                        match c.recv() {
                            Some(r) if r.id == id && matches!(r.body, ResponseBody::Txn(_)) => {
                                acked.lock().unwrap().push(key)
                            }
                            _ => return,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(300 + round * 150));
        server.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        acked_all.extend(acked.lock().unwrap().drain(..));
        // Restart and check every acknowledged write.
        let server = ServerProcess::start(&data, None);
        let mut c = server.connect();
        for chunk in acked_all.chunks(500) {
            let ResponseBody::Txn(r) = c.txn(chunk.iter().map(|k| get(k)).collect()) else { panic!() };
            for (k, result) in chunk.iter().zip(&r.results) {
                match result {
                    OpResult::Get(Some(kv)) => assert_eq!(kv.value, k.as_bytes()),
                    other => panic!("round {round}: acknowledged write {k} is missing: {other:?}"),
                }
            }
        }
        drop(server);
    }
    assert!(acked_all.len() > 100, "only {} writes were acknowledged", acked_all.len());
}
