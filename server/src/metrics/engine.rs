//! The engine's counters (`Db::stats()`, sampled at scrape or INFO time)
//! as metric families.

use jubilant_engine::Stats;

use super::{Family, HistogramSnapshot, Kind, Sample, Value};

/// The engine families of `stats`.
#[must_use]
pub fn families(stats: &Stats) -> Vec<Family> {
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
            "Time since the last checkpoint (or since the database was opened).",
            stats.checkpoint_age_ms as f64 / 1e3,
        ),
        Family::single(
            "engine.wal.fsync_duration_seconds",
            "fsync latency of the WAL's group-commit leader.",
            Kind::Histogram,
            Value::Histogram(HistogramSnapshot::from_micros(&w.fsync_latency_us)),
        ),
        Family::single(
            "engine.wal.group_commit_records",
            "WAL records made durable by one fsync (the group-commit batch); bucket bounds are record counts.",
            Kind::Histogram,
            Value::Histogram(HistogramSnapshot::from_counts(&w.group_commit_records)),
        ),
        Family::gauge("engine.vlog.segments", "Value-log segment files.", stats.vlog.segments),
        Family::gauge("engine.vlog.bytes", "Bytes in value-log segments.", stats.vlog.bytes),
        Family::counter("engine.vlog.fsyncs", "fsyncs of value-log segments since open.", stats.vlog.fsyncs),
        Family::gauge(
            "engine.vlog.live_bytes",
            "Live value-log bytes found by the last GC run (0 before the first).",
            stats.gc.live_bytes_at_last_run,
        ),
        Family::gauge(
            "engine.vlog.dead_bytes",
            "Value-log bytes not live as of the last GC run (headers included).",
            if stats.gc.runs == 0 { 0 } else { stats.vlog.bytes.saturating_sub(stats.gc.live_bytes_at_last_run) },
        ),
        Family::counter("engine.gc.runs", "Value-log GC runs since open.", stats.gc.runs),
        Family::counter("engine.gc.values_moved", "Values relocated by GC since open.", stats.gc.values_moved),
        Family::counter(
            "engine.gc.segments_deleted",
            "Value-log segments deleted by GC since open.",
            stats.gc.segments_deleted,
        ),
        Family::counter("engine.ttl.sweeps", "TTL sweeper runs that deleted keys, since open.", stats.ttl_sweeps),
        Family::counter("engine.ttl.expired", "Expired keys the TTL sweeper deleted since open.", stats.ttl_expired),
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
