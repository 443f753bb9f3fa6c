//! A write workload for crash tests with real processes: commits numbered
//! batches to a data directory and prints `ACK <batch>` on stdout after
//! each commit is durable, until killed.
//!
//! `jubilant-engine-stress DIR FIRST_BATCH [THREADS]`
//!
//! Batch `n` writes keys `b<n>-0` … `b<n>-9`, all with the value
//! `v<n>`: after a crash every acknowledged batch must be there whole,
//! and no batch may be there in part.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jubilant_engine::{Db, Options, WriteBatch};

/// Keys per batch.
const KEYS: u64 = 10;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(first)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: jubilant-engine-stress DIR FIRST_BATCH [THREADS]");
        return ExitCode::from(2);
    };
    let threads = args.get(3).and_then(|s| s.parse::<u64>().ok()).unwrap_or(2).clamp(1, 64);
    let opts =
        Options { dirty_bytes_max: 256 << 10, wal_segment_bytes: 1 << 20, cache_bytes: 8 << 20, ..Options::default() };
    let db = match Db::open(dir, opts) {
        Ok(db) => Arc::new(db),
        Err(e) => {
            eprintln!("jubilant-engine-stress: open {dir}: {e}");
            return ExitCode::from(1);
        }
    };
    let next = Arc::new(AtomicU64::new(first));
    // Bounded: a test kills it long before this many batches.
    let last = first + 1_000_000;
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (db, next) = (Arc::clone(&db), Arc::clone(&next));
            std::thread::spawn(move || -> Result<(), String> {
                let stdout = std::io::stdout();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= last {
                        return Ok(());
                    }
                    let mut batch = WriteBatch::new();
                    for k in 0..KEYS {
                        batch.put(format!("b{n}-{k}"), format!("v{n}").repeat(1 + (n % 20) as usize));
                    }
                    db.write(&batch).map_err(|e| e.to_string())?;
                    let mut out = stdout.lock();
                    writeln!(out, "ACK {n}").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
                }
            })
        })
        .collect();
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("jubilant-engine-stress: {e}");
                return ExitCode::from(1);
            }
            Err(_) => return ExitCode::from(1),
        }
    }
    ExitCode::SUCCESS
}
