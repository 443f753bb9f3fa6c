//! The engine's counters (`Db::stats()`, sampled at scrape or INFO time)
//! as metric families, and the checkpoint age the server tracks itself.
//!
//! The engine does not say when its last checkpoint happened, so
//! [`CheckpointClock`] notes when the server first saw each superblock
//! generation (a background task samples every second; scrapes, INFO and
//! CHECKPOINT requests sample too). The age is therefore exact to about a
//! second, and for the checkpoint found at open it counts from the
//! server's start.
//!
//! Not exported because the engine does not count them yet: fsync latency
//! histogram, group-commit batch size, checkpoint duration histogram (only
//! the last duration is known), value-log bytes and GC, TTL expirations.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jubilant_engine::Stats;

use super::{Family, Kind, Sample, Value};

/// When the current superblock generation was first seen.
#[derive(Debug)]
pub struct CheckpointClock {
    seen: Mutex<(u64, Instant)>,
}

impl CheckpointClock {
    /// Starts at `generation`, seen now.
    #[must_use]
    pub fn new(generation: u64) -> CheckpointClock {
        CheckpointClock { seen: Mutex::new((generation, Instant::now())) }
    }

    /// Notes `generation`; returns the time since the current generation
    /// was first seen.
    pub fn observe(&self, generation: u64) -> Duration {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.0 != generation {
            *seen = (generation, Instant::now());
        }
        seen.1.elapsed()
    }
}

/// The engine families of `stats`; `checkpoint_age` from the
/// [`CheckpointClock`].
#[must_use]
pub fn families(stats: &Stats, checkpoint_age: Duration) -> Vec<Family> {
    let c = &stats.cache;
    let w = &stats.wal;
    let t = &stats.transactions;
    let sb = &stats.superblock;
    let checkpoint_lsn = sb.checkpoint_lsn.get();
    let aborts = [("assert", t.aborts_assert), ("lock_timeout", t.aborts_lock_timeout), ("io", t.aborts_io)];
    vec![
        Family::counter("engine.commits", "Commits (with writes) since the database was opened.", stats.commits),
        Family::counter(
            "engine.transactions.committed",
            "Transactions committed since open, read-only ones included.",
            t.commits,
        ),
        Family {
            name: "engine.transactions.aborts",
            help: "Transactions aborted since open, by reason.",
            kind: Kind::Counter,
            samples: aborts
                .iter()
                .map(|(reason, n)| Sample { labels: vec![("reason", (*reason).to_owned())], value: Value::Int(*n) })
                .collect(),
        },
        Family::counter("engine.transactions.rollbacks", "Aborted transactions that had buffered writes.", t.rollbacks),
        Family::counter("engine.locks.waits", "Lock requests that had to wait.", t.locks.waits),
        Family::single(
            "engine.locks.wait_seconds",
            "Total time spent waiting for locks.",
            Kind::Counter,
            Value::Float(t.locks.wait_us as f64 / 1e6),
        ),
        Family::counter("engine.locks.timeouts", "Lock requests that timed out.", t.locks.timeouts),
        Family::counter("engine.cache.hits", "Page cache lookups that found the node.", c.hits),
        Family::counter("engine.cache.misses", "Page cache lookups that did not.", c.misses),
        Family::counter("engine.cache.evictions", "Nodes evicted to keep the cache within budget.", c.evictions),
        Family::gauge("engine.cache.bytes", "Bytes held by the page cache.", c.bytes),
        Family::gauge("engine.cache.budget_bytes", "Byte budget of the page cache.", c.budget_bytes),
        Family::counter("engine.wal.appended_bytes", "WAL bytes appended since open.", w.bytes_appended),
        Family::counter("engine.wal.appended_records", "WAL records appended since open.", w.records_appended),
        Family::counter("engine.wal.fsyncs", "fsyncs of WAL segments since open.", w.fsyncs),
        Family::gauge("engine.wal.segments", "Live WAL segment files.", w.segments),
        Family::gauge("engine.wal.durable_lsn", "Highest durable LSN.", w.durable_lsn),
        Family::gauge("engine.wal.next_lsn", "LSN of the next WAL record.", w.next_lsn),
        Family::gauge(
            "engine.wal.lag_bytes",
            "WAL bytes appended since the last checkpoint (what recovery would replay).",
            stats.wal_bytes_since_checkpoint,
        ),
        Family::gauge(
            "engine.wal.lag_records",
            "WAL records appended since the last checkpoint.",
            w.next_lsn.saturating_sub(1).saturating_sub(checkpoint_lsn),
        ),
        Family::gauge("engine.dirty_bytes", "Bytes of changes in memory waiting for a checkpoint.", stats.dirty_bytes),
        Family::counter("engine.checkpoints", "Checkpoints since open.", stats.checkpoints),
        Family::gauge_f64(
            "engine.checkpoint.last_duration_seconds",
            "Wall time of the last checkpoint.",
            stats.last_checkpoint_us as f64 / 1e6,
        ),
        Family::gauge_f64(
            "engine.checkpoint.age_seconds",
            "Time since the server first saw the current checkpoint (server start for the one found at open).",
            checkpoint_age.as_secs_f64(),
        ),
        Family::gauge(
            "engine.checkpoint.generation",
            "Superblock generation of the current checkpoint.",
            sb.generation.get(),
        ),
        Family::gauge("engine.checkpoint.lsn", "Every WAL record up to this LSN is in the tree.", checkpoint_lsn),
        Family::gauge("engine.checkpoint.keys", "Keys in the tree at the last checkpoint.", sb.key_count),
        Family::gauge("engine.pages", "Pages in the page file, superblocks included.", sb.page_count),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_restarts_when_the_generation_changes() {
        let clock = CheckpointClock::new(1);
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.observe(1) >= Duration::from_millis(20));
        assert!(clock.observe(2) < Duration::from_millis(20));
    }
}
