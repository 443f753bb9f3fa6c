//! `kill -9` of the server at random moments of a concurrent workload:
//! after each restart every acknowledged transaction is there, none is
//! half applied, and `jubectl validate` finds the directory clean.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jubilant_e2e::process::{Server, TempDir, jubectl};
use jubilant_e2e::workload::Rng;
use jubilant_format::wire::{Op, OpResult};

use crate::client;

/// Whether this build's jubectl has the offline `validate` command.
fn has_validate() -> bool {
    jubectl(&["validate", "--help"]).0 == 0
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_transaction() {
    let kills: u64 = std::env::var("JUBILANT_E2E_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let dir = TempDir::new("e2e-kill9");
    let data = dir.0.join("db");
    let acked: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));
    let mut rng = Rng::new(0xE2E);
    let mut next_txn = 0u64;
    for round in 0..kills {
        let server = Server::start(&data, "[engine]\ndirty_bytes_max = 1048576\n");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..3u64)
            .map(|w| {
                let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
                let c = client(&server);
                let base = next_txn + w * 1_000_000;
                std::thread::spawn(move || {
                    for i in 0..1_000_000u64 {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            return;
                        }
                        let t = base + i;
                        // One transaction writes three keys: all or none.
                        let ops = (0..3)
                            .map(|k| Op::Set {
                                key: format!("t{t}-{k}").into_bytes(),
                                value: format!("{t}").into_bytes(),
                                ttl_ms: None,
                            })
                            .collect();
                        match c.transact(ops) {
                            Ok(_) => acked.lock().unwrap().push(t),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50 + rng.below(400)));
        server.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        next_txn += 10_000_000;
        if has_validate() {
            // Right after a kill -9 a torn WAL tail is expected (a warning,
            // which opening truncates); nothing may be an error.
            let (code, out, err) = jubectl(&["--json", "validate", data.to_str().unwrap()]);
            let report: serde_json::Value = serde_json::from_str(out.trim())
                .unwrap_or_else(|e| panic!("round {round}: validate output ({code}): {e}\n{out}\n{err}"));
            assert_eq!(report["counts"]["errors"], 0, "round {round}: validate after kill -9:\n{out}\n{err}");
        }
        // Every acknowledged transaction is whole; nothing is partial.
        let server = Server::start(&data, "");
        let c = client(&server);
        let all = crate::scan_all(&c);
        let mut counts: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        for kv in &all {
            let key = String::from_utf8(kv.key.clone()).unwrap();
            let t = key.trim_start_matches('t').split('-').next().unwrap().to_owned();
            *counts.entry(t).or_insert(0) += 1;
        }
        for (t, n) in &counts {
            assert_eq!(*n, 3, "round {round}: transaction {t} is half applied");
        }
        for t in acked.lock().unwrap().iter() {
            let r = c.transact(vec![Op::Get { key: format!("t{t}-0").into_bytes() }]).unwrap();
            assert!(
                matches!(&r.results[0], OpResult::Get(Some(_))),
                "round {round}: acknowledged transaction {t} is missing"
            );
        }
        drop(server);
    }
    assert!(!acked.lock().unwrap().is_empty());
}
