//! Options of [`crate::Db::open`].

use std::sync::Arc;
use std::time::Duration;

use jubilant_format::PageSize;

use crate::storage::Storage;
use crate::storage::fs::FsStorage;

/// When a commit is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `commit` returns after the commit's WAL record is fsynced (grouped
    /// with concurrent commits into one fsync). Nothing acknowledged is
    /// ever lost.
    #[default]
    Sync,
    /// `commit` returns once the record is in the WAL buffer; a background
    /// flusher fsyncs every [`Options::buffered_flush_interval`]. A crash
    /// loses at most the commits of the last interval (plus the time of
    /// one fsync). Readers see a buffered commit at once.
    Buffered,
}

/// Options of [`crate::Db::open`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the files are. Default: the real file system.
    pub storage: Arc<dyn Storage>,
    /// Page size of a *new* directory (an existing one keeps its own).
    pub page_size: PageSize,
    /// Byte budget of the page cache.
    pub cache_bytes: usize,
    /// Most bytes of changes held in memory (memtables) waiting for a
    /// checkpoint: one starts at half of this, and writers stall while a
    /// checkpoint runs and the memtables hold this much, so memory stays
    /// bounded.
    pub dirty_bytes_max: usize,
    /// Size of one WAL segment file.
    pub wal_segment_bytes: u64,
    /// Fill new WAL segments with zeros when they are created, so appends
    /// overwrite allocated blocks and fdatasync does not update metadata.
    pub wal_preallocate: bool,
    /// A transaction whose writes fit in this many bytes of WAL payload
    /// (an upper bound: `jubilant_format::wal::txn_payload_bound`) is
    /// logged as one `Txn` record; a larger one as `Begin`, a record per
    /// write and `Commit`. Default 1 MiB: the writer's encoding buffer
    /// grows to the largest record (and a larger transaction gains nothing
    /// from one record). Capped at the payload limit (64 MiB); 0 logs
    /// every transaction in separate records.
    pub wal_txn_record_max: usize,
    /// Default durability of commits.
    pub durability: Durability,
    /// Flush interval for [`Durability::Buffered`].
    pub buffered_flush_interval: Duration,
    /// Start a checkpoint when this many WAL bytes were written since the
    /// last one.
    pub checkpoint_wal_bytes: u64,
    /// Start a checkpoint at least this often while there are changes.
    pub checkpoint_interval: Duration,
    /// Start a checkpoint once nothing has committed for this long while
    /// the active memtable holds at least an eighth of `dirty_bytes_max`:
    /// a pause in writes is used to write the changes to the tree, so the
    /// next burst starts with the whole memory budget (no checkpoint in
    /// the middle of it), reads skip an empty memtable, and a crash
    /// replays less WAL. The floor keeps idle checkpoints big enough to
    /// be worth their page writes (a checkpoint rewrites whole leaves).
    /// Zero turns this trigger off.
    pub checkpoint_idle: Duration,
    /// Run checkpoints and buffered flushes on background threads. Tests
    /// that need full control turn this off and call
    /// [`crate::Db::checkpoint`].
    pub background: bool,
    /// Open without writing anything (no lock file, no recovery writes:
    /// a torn WAL tail is ignored in memory instead of truncated).
    pub read_only: bool,
    /// Create the directory if it does not exist.
    pub create_if_missing: bool,
    /// Verify every page reachable from the superblock (checksums and
    /// tree structure) when opening read-write, and refuse to open a
    /// directory with damage that writing could spread. Costs a read of
    /// the tree (about 1 GB/s); read-only opens never verify.
    pub verify_on_open: bool,
    /// How long a transaction waits for its locks before it aborts with
    /// `LockTimeout`.
    pub lock_timeout: Duration,
    /// Values of at least this many bytes go to the value log (written
    /// once; the WAL and the tree hold a 24-byte reference).
    pub vlog_threshold: usize,
    /// Size of one value-log segment file.
    pub vlog_segment_bytes: u64,
    /// Largest value accepted.
    pub value_max: usize,
    /// Background value-log GC relocates segments whose live share is
    /// below this (0.0 turns background GC off).
    pub vlog_gc_live_ratio: f64,
    /// How often background value-log GC looks for work.
    pub vlog_gc_interval: Duration,
    /// How often the background TTL sweeper runs.
    pub ttl_sweep_interval: Duration,
    /// Most expired keys the sweeper deletes per run (its rate limit, so
    /// that it cannot starve foreground writes).
    pub ttl_sweep_max_deletes: usize,
    /// Most keys the sweeper examines per run; it resumes where it stopped.
    pub ttl_sweep_max_scanned: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            storage: Arc::new(FsStorage),
            page_size: PageSize::DEFAULT,
            cache_bytes: 256 << 20,
            dirty_bytes_max: 128 << 20,
            wal_segment_bytes: 16 << 20,
            wal_preallocate: true,
            wal_txn_record_max: 1 << 20,
            durability: Durability::Sync,
            buffered_flush_interval: Duration::from_millis(10),
            checkpoint_wal_bytes: 256 << 20,
            checkpoint_interval: Duration::from_secs(60),
            checkpoint_idle: Duration::from_secs(1),
            background: true,
            read_only: false,
            create_if_missing: true,
            verify_on_open: true,
            lock_timeout: Duration::from_secs(5),
            vlog_threshold: 1 << 10,
            vlog_segment_bytes: 256 << 20,
            value_max: 256 << 20,
            vlog_gc_live_ratio: 0.5,
            vlog_gc_interval: Duration::from_secs(60),
            ttl_sweep_interval: Duration::from_secs(1),
            ttl_sweep_max_deletes: 1_000,
            ttl_sweep_max_scanned: 10_000,
        }
    }
}

impl Options {
    /// Checks that the options are usable.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        let invalid = |name, reason: String| Err(crate::Error::InvalidOption { name, reason });
        if self.cache_bytes < 64 * self.page_size.bytes() {
            return invalid(
                "cache_bytes",
                format!("must hold at least 64 pages ({} bytes)", 64 * self.page_size.bytes()),
            );
        }
        if self.dirty_bytes_max < 64 << 10 {
            return invalid("dirty_bytes_max", "must be at least 64 KiB".into());
        }
        if self.wal_segment_bytes < 64 << 10 || self.wal_segment_bytes > 1 << 40 {
            return invalid("wal_segment_bytes", "must be from 64 KiB to 1 TiB".into());
        }
        Ok(())
    }
}
