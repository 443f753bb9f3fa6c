//! `kill -9` of a real process in the middle of writes: after each kill,
//! reopening shows every acknowledged batch whole and no batch in part,
//! and the tree's invariants hold. `JUBILANT_KILL9_ROUNDS` (default 20)
//! sets the number of kills.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jubilant_engine::{Db, Options};

use crate::support::{TempDir, assert_invariants};

const KEYS: u64 = 10;

/// Starts the stress writer, lets it run for `run_for`, kills it with
/// SIGKILL, and returns the batches it acknowledged.
fn run_and_kill(dir: &std::path::Path, first: u64, run_for: Duration) -> Vec<u64> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jubilant-engine-stress"))
        .arg(dir)
        .arg(first.to_string())
        .arg("3")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ACK ").and_then(|n| n.parse::<u64>().ok())
                && tx.send(n).is_err()
            {
                break;
            }
        }
    });
    let deadline = Instant::now() + run_for;
    let mut acked = Vec::new();
    while Instant::now() < deadline {
        if let Ok(n) = rx.recv_timeout(Duration::from_millis(5)) {
            acked.push(n);
        }
    }
    // Child::kill sends SIGKILL on Unix: no destructor, no flush runs.
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    // Acknowledgements printed before the kill but read after it count too.
    acked.extend(rx.try_iter());
    acked
}

#[test]
fn kill_9_during_writes_loses_no_acknowledged_batch() {
    let rounds: u64 = std::env::var("JUBILANT_KILL9_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let dir = TempDir::new("kill9");
    let mut all_acked: Vec<u64> = Vec::new();
    let mut total_acked = 0;
    for round in 0..rounds {
        // Kill at varied moments: right after start (during recovery or
        // the first commits) up to a few hundred milliseconds in.
        let run_for = Duration::from_millis(20 + (round * 53) % 400);
        let acked = run_and_kill(dir.path(), round * 1_000_000, run_for);
        total_acked += acked.len();
        all_acked.extend(acked);

        let db = Db::open(dir.path(), Options { background: false, ..Options::default() }).unwrap();
        let mut batches: BTreeMap<u64, u64> = BTreeMap::new();
        for pair in db.range::<&[u8], _>(..).unwrap() {
            let (key, value) = pair.unwrap();
            let key = String::from_utf8(key).unwrap();
            let n: u64 = key.trim_start_matches('b').split('-').next().unwrap().parse().unwrap();
            assert_eq!(value, format!("v{n}").repeat(1 + (n % 20) as usize).into_bytes(), "value of {key}");
            *batches.entry(n).or_insert(0) += 1;
        }
        for (n, count) in &batches {
            assert_eq!(*count, KEYS, "round {round}: batch {n} is partly there");
        }
        for n in &all_acked {
            assert!(batches.contains_key(n), "round {round}: acknowledged batch {n} is missing");
        }
        db.checkpoint().unwrap();
        assert_invariants(&db);
    }
    eprintln!("kill -9: {rounds} kills, {total_acked} acknowledged batches checked");
    assert!(total_acked > 0, "the writer never acknowledged anything");
}
