//! Seeded random workloads: a seed gives the exact sequence of
//! transactions; each run writes a trace (`target/<profile>/e2e-traces/`)
//! that is replayed against the model, comparing every response. Rerun a
//! failing seed with `JUBILANT_E2E_SEED=<seed> cargo test -p jubilant-e2e
//! --test e2e random`.

use std::collections::HashMap;

use jubilant_e2e::process::{Server, TempDir};
use jubilant_e2e::trace::Trace;
use jubilant_e2e::workload::Workload;
use jubilant_format::wire::{OpResult, RequestBody, ResponseBody};

use crate::client;

fn run_seed(seed: u64, txns: usize) {
    let dir = TempDir::new(&format!("random-{seed}"));
    let server = Server::start(&dir.0.join("db"), "[engine]\ndirty_bytes_max = 1048576\n");
    let c = client(&server);
    let mut workload = Workload::new(seed, 40);
    let mut trace = Trace::create(&format!("seed-{seed}"));
    let mut versions: HashMap<Vec<u8>, u64> = HashMap::new();
    for i in 0..txns {
        let ops = workload.next_txn(|k| versions.get(k).copied().unwrap_or(0));
        let response = crate::request(&c, RequestBody::Txn(ops.clone()));
        if let ResponseBody::Txn(r) = &response {
            for result in &r.results {
                if let OpResult::Get(Some(kv)) = result
                    && kv.version > 0
                {
                    versions.insert(kv.key.clone(), kv.version);
                }
            }
        }
        trace.record(ops, response);
        if i % 97 == 96 {
            c.checkpoint().unwrap();
        }
    }
    let model = match trace.check() {
        Ok(m) => m,
        Err(e) => panic!("seed {seed}: {e}\nrerun with JUBILANT_E2E_SEED={seed}"),
    };
    // A restart keeps exactly the model's state.
    assert!(server.terminate().success());
    let server = Server::start(&dir.0.join("db"), "");
    let c = client(&server);
    let got: Vec<(Vec<u8>, Vec<u8>, u64)> =
        crate::scan_all(&c).into_iter().map(|kv| (kv.key, kv.value, kv.version)).collect();
    let want: Vec<(Vec<u8>, Vec<u8>, u64)> =
        model.data().iter().map(|(k, (v, version))| (k.clone(), v.clone(), *version)).collect();
    assert_eq!(got, want, "seed {seed}: state after restart\nrerun with JUBILANT_E2E_SEED={seed}");
}

#[test]
fn seeded_random_workloads_match_the_model() {
    if let Some(seed) = std::env::var("JUBILANT_E2E_SEED").ok().and_then(|s| s.parse().ok()) {
        run_seed(seed, 400);
        return;
    }
    let seeds: u64 = std::env::var("JUBILANT_E2E_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    for seed in 0..seeds {
        run_seed(seed, 400);
    }
}
