//! A bounded soak: many connections with mixed requests for
//! `JUBILANT_SOAK_SECS` (default 20) seconds in all — half with TLS off,
//! half with TLS on — then a consistency check of everything
//! acknowledged, after a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jubilant_client::{BlockingClient, ClientConfig};
use jubilant_format::wire::{AssertCondition, Op};

use crate::support::{ServerProcess, TempDir};

fn soak_secs() -> u64 {
    std::env::var("JUBILANT_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20) / 2
}

#[test]
fn mixed_load_on_many_plaintext_connections_stays_consistent() {
    soak(false, soak_secs());
}

#[test]
fn mixed_load_on_many_tls_connections_stays_consistent() {
    soak(true, soak_secs());
}

fn soak(tls: bool, secs: u64) {
    let dir = TempDir::new(if tls { "soak-tls" } else { "soak" });
    let mut config = "[engine]\ndirty_bytes_max = 2097152\n".to_owned();
    if tls {
        crate::tls::write_pki(&dir.0);
        config.push_str(&format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            dir.0.join("server.pem").display(),
            dir.0.join("server.key").display()
        ));
    }
    let client_tls = tls.then(|| crate::tls::tls_config(&dir.0, false));
    let server = ServerProcess::start(&dir.0.join("db"), Some(&config));
    let deadline = Instant::now() + Duration::from_secs(secs);
    // The last acknowledged value of every key, per writer (keys are
    // disjoint between writers, so each writer's view is authoritative).
    let acked: Arc<Mutex<HashMap<String, Option<String>>>> = Arc::new(Mutex::new(HashMap::new()));
    let workers: Vec<_> = (0..8u64)
        .map(|w| {
            let (acked, addr, client_tls) = (Arc::clone(&acked), server.addr, client_tls.clone());
            std::thread::spawn(move || {
                let mut config = ClientConfig::new(addr.to_string());
                config.pool_size = 2;
                config.tls = client_tls;
                let c = BlockingClient::connect(config).unwrap();
                let mut ops = 0u64;
                let mut rng = w.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                // Bounded in count as well as time.
                while Instant::now() < deadline && ops < 2_000_000 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let key = format!("w{w}-k{}", rng % 200);
                    match rng % 10 {
                        0..=3 => {
                            let value = format!("{ops}");
                            c.set(key.as_bytes(), value.as_bytes(), None).unwrap();
                            acked.lock().unwrap().insert(key, Some(value));
                        }
                        4 => {
                            c.del(key.as_bytes()).unwrap();
                            acked.lock().unwrap().insert(key, None);
                        }
                        5 => {
                            // A guarded transaction that may abort.
                            let value = format!("{ops}");
                            let txn = vec![
                                Op::Assert { key: key.clone().into_bytes(), condition: AssertCondition::Exists },
                                Op::Set {
                                    key: key.clone().into_bytes(),
                                    value: value.clone().into_bytes(),
                                    ttl_ms: None,
                                },
                            ];
                            match c.transact(txn) {
                                Ok(_) => {
                                    acked.lock().unwrap().insert(key, Some(value));
                                }
                                Err(e) => assert!(e.is_assert_failed(), "{e}"),
                            }
                        }
                        6 => {
                            c.scan(
                                Some(format!("w{w}-").as_bytes()),
                                Some(format!("w{w}.").as_bytes()),
                                50,
                                rng % 2 == 0,
                            )
                            .unwrap();
                        }
                        7 => {
                            c.ping().unwrap();
                        }
                        _ => {
                            let got = c.get(key.as_bytes()).unwrap().map(|kv| String::from_utf8(kv.value).unwrap());
                            assert_eq!(got, acked.lock().unwrap().get(&key).cloned().flatten(), "read of {key}");
                        }
                    }
                    ops += 1;
                }
                ops
            })
        })
        .collect();
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(total > 1_000, "only {total} operations in {secs} s");
    // Restart and check every acknowledged final value.
    let status = server.terminate();
    assert!(status.success());
    let server = ServerProcess::start(&dir.0.join("db"), Some(&config));
    let mut restart = ClientConfig::new(server.addr.to_string());
    restart.tls = client_tls;
    let c = BlockingClient::connect(restart).unwrap();
    for (key, value) in acked.lock().unwrap().iter() {
        let got = c.get(key.as_bytes()).unwrap().map(|kv| String::from_utf8(kv.value).unwrap());
        assert_eq!(&got, value, "{key} after restart");
    }
}
