//! The embedded database: [`Db::open`], reads, atomic write batches,
//! checkpoints, and the background thread that triggers them.
//!
//! Reads see a snapshot: the active memtable, the frozen one (while a
//! checkpoint writes it) and the tree, filtered by the *visible LSN*. A
//! commit becomes visible once it is durable (for
//! [`Durability::Buffered`], once it is in the WAL buffer), so a reader
//! never sees data that a crash could take back, unless buffered commits
//! are used.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jubilant_format::superblock::select_superblock;
use jubilant_format::wal::{PutValue, TxnWrite, WalPayload};
use jubilant_format::{Generation, Lsn, Manifest, PageId, Superblock, TxnId};

use crate::batch::{BatchOp, WriteBatch};
use crate::btree::check::{TreeReport, check_tree};
use crate::btree::node::{KEY_MAX, LEAF_HEADER_LEN};
use crate::cache::CacheStats;
use crate::checkpoint::{self, CheckpointInfo};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::freespace::FreeSpace;
use crate::iter::Iter;
use crate::layout;
use crate::memtable::{MemOp, Memtable};
use crate::options::{Durability, Options};
use crate::pager::Pager;
use crate::storage::{LockGuard, Storage};
use crate::sync::{lock, read};
use crate::wal::replay::ReplayOp;
use crate::wal::writer::WalStats;
use crate::wal::{Wal, replay};

/// Adds one logged write of the commit at `lsn` to `active`, moving its
/// key and value (a value-log reference stays a reference; a TTL
/// tombstone is a deletion).
fn insert_write(active: &Memtable, lsn: Lsn, write: TxnWrite) {
    match write {
        TxnWrite::Put { key, value: PutValue::Inline(value), expires_at_unix_ms } => {
            active.insert_owned(key.into_boxed_slice(), lsn, MemOp::Put { value, expires_at_unix_ms });
        }
        TxnWrite::Put { key, value: PutValue::Ref(value_ref), expires_at_unix_ms } => {
            active.insert_owned(key.into_boxed_slice(), lsn, MemOp::PutRef { value_ref, expires_at_unix_ms });
        }
        TxnWrite::Delete { key } | TxnWrite::TtlTombstone { key, .. } => {
            active.insert_owned(key.into_boxed_slice(), lsn, MemOp::Delete);
        }
    }
}

/// The largest key plus value stored inline in a leaf of `page_size`:
/// two entries always fit in one leaf.
#[must_use]
pub fn inline_limit(page_size: jubilant_format::PageSize) -> usize {
    // Per-entry overhead: lengths, kind, flags, version, expiry.
    (page_size.payload_max() - LEAF_HEADER_LEN) / 2 - 24
}

/// The options that can change while the database is open (see
/// [`Db::set_tunables`]); everything else needs a reopen.
#[derive(Debug)]
pub struct Tunables {
    pub(crate) dirty_bytes_max: AtomicUsize,
    checkpoint_wal_bytes: AtomicU64,
    checkpoint_interval_ms: AtomicU64,
    checkpoint_idle_ms: AtomicU64,
    ttl_sweep_interval_ms: AtomicU64,
    lock_timeout_ms: AtomicU64,
}

impl Tunables {
    fn from_options(o: &Options) -> Tunables {
        Tunables {
            dirty_bytes_max: AtomicUsize::new(o.dirty_bytes_max),
            checkpoint_wal_bytes: AtomicU64::new(o.checkpoint_wal_bytes),
            checkpoint_interval_ms: AtomicU64::new(o.checkpoint_interval.as_millis() as u64),
            checkpoint_idle_ms: AtomicU64::new(o.checkpoint_idle.as_millis() as u64),
            ttl_sweep_interval_ms: AtomicU64::new(o.ttl_sweep_interval.as_millis() as u64),
            lock_timeout_ms: AtomicU64::new(o.lock_timeout.as_millis() as u64),
        }
    }

    /// The lock wait limit now.
    pub fn lock_timeout(&self) -> Duration {
        Duration::from_millis(self.lock_timeout_ms.load(Ordering::Relaxed))
    }
}

/// New values for the live tunables; `None` keeps a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TunableChanges {
    /// Page cache budget in bytes.
    pub cache_bytes: Option<usize>,
    /// See [`Options::dirty_bytes_max`].
    pub dirty_bytes_max: Option<usize>,
    /// See [`Options::checkpoint_wal_bytes`].
    pub checkpoint_wal_bytes: Option<u64>,
    /// See [`Options::checkpoint_interval`].
    pub checkpoint_interval: Option<Duration>,
    /// See [`Options::checkpoint_idle`].
    pub checkpoint_idle: Option<Duration>,
    /// See [`Options::ttl_sweep_interval`].
    pub ttl_sweep_interval: Option<Duration>,
    /// See [`Options::lock_timeout`].
    pub lock_timeout: Option<Duration>,
}

/// What readers see: memtables and the tree root of one generation.
#[derive(Debug)]
pub(crate) struct ReadState {
    pub active: Arc<Memtable>,
    pub frozen: Option<Arc<Memtable>>,
    pub root: Option<PageId>,
    /// The top two levels of the tree, kept here so lookups skip the
    /// cache for the pages every lookup reads.
    pub pinned: Option<Arc<crate::btree::read::Pinned>>,
    pub generation: Generation,
}

/// What [`Inner::append_batch`] did.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Appended {
    /// The batch was empty: nothing to publish; the visible LSN then.
    Empty(Lsn),
    /// Logged at this commit LSN, waiting for [`Inner::publish`].
    Pending(Lsn),
}

/// Under the commit lock.
#[derive(Debug)]
pub(crate) struct CommitState {
    pub next_txn_id: TxnId,
}

/// Under the checkpoint lock.
#[derive(Debug)]
pub(crate) struct CheckpointState {
    pub superblock: Superblock,
    pub space: FreeSpace,
}

#[derive(Debug, Default)]
struct Counters {
    commits: crate::striped::Counter,
    sweeps: AtomicU64,
    ttl_expired: AtomicU64,
    checkpoints: AtomicU64,
    last_checkpoint_us: AtomicU64,
    wal_bytes_at_checkpoint: AtomicU64,
}

/// Shared state of an open database.
#[derive(Debug)]
pub(crate) struct Inner {
    pub dir: PathBuf,
    pub opts: Options,
    pub manifest: Manifest,
    pub manifest_hash: u64,
    pub pager: Pager,
    pub wal: Option<Wal>,
    /// The value log (read-only too: reads resolve references).
    pub vlog: Arc<crate::vlog::ValueLog>,
    pub clock: Arc<dyn Clock>,
    /// The TTL clock (see `ttl`).
    pub ttl: crate::ttl::TtlClock,
    pub commit: Mutex<CommitState>,
    pub read_state: RwLock<ReadState>,
    pub visible_lsn: AtomicU64,
    pub checkpoint: Mutex<CheckpointState>,
    pub pins: Mutex<BTreeMap<u64, usize>>,
    poison: Mutex<Option<String>>,
    /// Mirrors `poison.is_some()`, so the hot path checks an atomic.
    poisoned: std::sync::atomic::AtomicBool,
    counters: Counters,
    txns: crate::txn::Transactions,
    /// Value-log segments relocated by GC, waiting for a checkpoint.
    pub gc: Mutex<crate::gc::GcMarkers>,
    /// GC runs (for lock-manager transaction ids).
    pub gc_runs: AtomicU64,
    /// Settings that can change while the database is open.
    pub tunables: Tunables,
    /// Where the TTL sweeper resumes.
    sweep_cursor: Mutex<Option<Vec<u8>>>,
    last_checkpoint_at: Mutex<Instant>,
    shutdown: Mutex<bool>,
    wake: Condvar,
    _lock: Option<LockGuard>,
}

impl Inner {
    /// Logs and applies `batch`; durable per `durability` when it returns.
    pub(crate) fn commit_batch(&self, batch: &WriteBatch, durability: Durability) -> Result<Lsn> {
        match self.append_batch(batch)? {
            Appended::Empty(lsn) => Ok(lsn),
            Appended::Pending(lsn) => {
                self.publish(lsn, durability)?;
                self.count_commits(1);
                Ok(lsn)
            }
        }
    }

    /// Counts `n` published commits.
    pub(crate) fn count_commits(&self, n: u64) {
        self.counters.commits.add(n);
    }

    /// Makes the commits up to `commit_lsn` (appended by
    /// [`Inner::append_batch`]) durable per `durability`, then visible.
    /// A failed sync poisons the database: nothing after it is trusted.
    pub(crate) fn publish(&self, commit_lsn: Lsn, durability: Durability) -> Result<()> {
        let wal = self.wal()?;
        if durability == Durability::Sync
            && let Err(e) = wal.sync_to(commit_lsn)
        {
            self.poison(&e);
            return Err(e);
        }
        self.visible_lsn.fetch_max(commit_lsn.get(), Ordering::AcqRel);
        Ok(())
    }

    /// Logs `batch` and applies it to the memtable, invisible to readers
    /// (and not yet durable) until [`Inner::publish`] reaches its LSN.
    pub(crate) fn append_batch(&self, batch: &WriteBatch) -> Result<Appended> {
        // One copy of the keys and values, which then move into the WAL
        // record and from it into the memtable.
        let mut results = self.append_batches(vec![batch.clone()]);
        // One result per batch.
        results.pop().unwrap_or_else(|| unreachable!("one batch, one result"))
    }

    /// [`Inner::append_batch`] for each of `batches` in order (LSNs
    /// ascending), under one acquisition of the commit lock: staging a
    /// connection's pipelined writes takes it once, not once per write.
    /// One result per batch; a failed one does not stop the others (but a
    /// WAL failure poisons, and fails every later one too).
    pub(crate) fn append_batches(&self, batches: Vec<WriteBatch>) -> Vec<Result<Appended>> {
        let mut out: Vec<Result<Appended>> = Vec::with_capacity(batches.len());
        let ready = || self.check_poison().and_then(|()| self.wal());
        let wal = match ready() {
            Ok(wal) => wal,
            Err(e) => {
                // Lasting (poisoned, or read-only): each batch gets the
                // error again (or, were it gone, its text).
                let text = e.to_string();
                out.push(Err(e));
                for _ in 1..batches.len() {
                    out.push(Err(ready().err().unwrap_or_else(|| Error::PreviousIo { first: text.clone() })));
                }
                return out;
            }
        };
        let mut commit = lock(&self.commit);
        // Invisible until the visible LSN reaches each commit LSN.
        let active = Arc::clone(&read(&self.read_state).active);
        for batch in batches {
            out.push(self.append_locked(&mut commit, wal, &active, batch));
        }
        out
    }

    /// One batch of [`Inner::append_batches`], under the commit lock.
    fn append_locked(
        &self,
        commit: &mut CommitState,
        wal: &Wal,
        active: &Memtable,
        batch: WriteBatch,
    ) -> Result<Appended> {
        let inner = self;
        let limit = inline_limit(inner.manifest.page_size);
        for op in batch.ops() {
            if op.key().len() > KEY_MAX {
                return Err(Error::KeyTooLarge { len: op.key().len(), max: KEY_MAX });
            }
            if let BatchOp::Put { value, .. } = op
                && value.len() > inner.opts.value_max
            {
                return Err(Error::ValueTooLarge { len: value.len(), max: inner.opts.value_max });
            }
        }
        // Values at or above the threshold (or too big to sit in a leaf)
        // go to the value log.
        let to_vlog =
            |key: &[u8], value: &[u8]| value.len() >= inner.opts.vlog_threshold || key.len() + value.len() > limit;
        if batch.is_empty() {
            return Ok(Appended::Empty(Lsn(inner.visible_lsn.load(Ordering::Acquire))));
        }
        let commit_lsn = {
            let txn = commit.next_txn_id;
            // One `Txn` record when its size bound fits, else Begin, a
            // record per write, Commit. Under the commit lock nothing else
            // appends: the commit record will get exactly this LSN
            // (checked below).
            let bound = jubilant_format::wal::txn_payload_bound(batch.ops().iter().map(|op| match op {
                BatchOp::Put { key, value, .. } if !to_vlog(key, value) => (key.len(), value.len()),
                // Values that go to the value log count as references.
                other => (other.key().len(), 0),
            }));
            let whole = bound <= inner.opts.wal_txn_record_max.min(jubilant_format::wal::WAL_PAYLOAD_MAX);
            let expected_commit = Lsn(wal.next_lsn().get() + if whole { 0 } else { batch.len() as u64 + 1 });
            let mut refs: Vec<Option<jubilant_format::ValueRef>> = Vec::with_capacity(batch.len());
            for op in batch.ops() {
                refs.push(match op {
                    BatchOp::Put { key, value, .. } if to_vlog(key, value) => {
                        Some(inner.vlog.append(expected_commit, key, value)?)
                    }
                    _ => None,
                });
            }
            let writes = batch.into_ops().into_iter().zip(&refs).map(|(op, r)| match op {
                BatchOp::Put { key, value, expires_at_unix_ms } => TxnWrite::Put {
                    key,
                    value: match r {
                        Some(r) => PutValue::Ref(*r),
                        None => PutValue::Inline(value),
                    },
                    expires_at_unix_ms,
                },
                BatchOp::Delete { key } => TxnWrite::Delete { key },
                BatchOp::Expire { key, expired_at_unix_ms } => TxnWrite::TtlTombstone { key, expired_at_unix_ms },
            });
            // The TTL clock, not the raw wall clock: a wall clock stepped far
            // ahead must not become the floor for expiry after a restart.
            let commit_unix_ms = inner.ttl.now_ms(&*inner.clock);
            // The durable LSN is filled in by the WAL under its lock.
            let mut records = if whole {
                vec![WalPayload::Txn { txn, commit_unix_ms, durable_lsn: Lsn::ZERO, writes: writes.collect() }]
            } else {
                let mut records = Vec::with_capacity(refs.len() + 2);
                records.push(WalPayload::Begin { txn });
                records.extend(writes.map(|w| w.into_record(txn)));
                records.push(WalPayload::Commit { txn, commit_unix_ms, durable_lsn: Lsn::ZERO });
                records
            };
            let commit_lsn = wal.append(&mut records)?;
            assert_eq!(commit_lsn, expected_commit, "only committers append to the WAL, under the commit lock");
            commit.next_txn_id = TxnId(txn.get() + 1);
            // The logged keys and values move on into the memtable.
            for record in records {
                match record {
                    WalPayload::Txn { writes, .. } => {
                        for write in writes {
                            insert_write(active, commit_lsn, write);
                        }
                    }
                    WalPayload::Put { key, value, expires_at_unix_ms, .. } => {
                        insert_write(active, commit_lsn, TxnWrite::Put { key, value, expires_at_unix_ms });
                    }
                    WalPayload::Delete { key, .. } => insert_write(active, commit_lsn, TxnWrite::Delete { key }),
                    WalPayload::TtlTombstone { key, expired_at_unix_ms, .. } => {
                        insert_write(active, commit_lsn, TxnWrite::TtlTombstone { key, expired_at_unix_ms });
                    }
                    _ => {}
                }
            }
            commit_lsn
        };
        Ok(Appended::Pending(commit_lsn))
    }

    /// Like [`Db::get_entry`], but returns an expired entry too.
    pub(crate) fn get_entry_raw(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.check_poison()?;
        // Holding the read lock for the whole lookup keeps the tree root
        // valid: a checkpoint cannot publish (and so can never reuse the
        // pages of this root) until it is released.
        let rs = read(&self.read_state);
        let snapshot = Lsn(self.visible_lsn.load(Ordering::Acquire));
        self.lookup(&rs, snapshot, key)
    }

    /// Like [`Inner::get_entry_raw`] for every key of `keys`, all at one
    /// snapshot, under one acquisition of the read state.
    pub(crate) fn get_entries_raw<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Entry>>> {
        self.check_poison()?;
        // As in `get_entry_raw`: the read lock pins the root for the batch.
        let rs = read(&self.read_state);
        let snapshot = Lsn(self.visible_lsn.load(Ordering::Acquire));
        keys.iter().map(|k| self.lookup(&rs, snapshot, k.as_ref())).collect()
    }

    /// [`Db::get_cached_with`], TTL aside: `f` sees the newest version of
    /// `key`, expired or not.
    pub(crate) fn with_entry_cached<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<EntryView<'_>>) -> R,
    ) -> Result<Option<R>> {
        self.check_poison()?;
        // As in `get_entry_raw`: the read lock pins the root.
        let rs = read(&self.read_state);
        let snapshot = Lsn(self.visible_lsn.load(Ordering::Acquire));
        // `f` is called at most once, by whichever source has the key.
        let mut f = Some(f);
        let mut call = |view: Option<EntryView<'_>>| f.take().map(|f| f(view));
        for mem in std::iter::once(&rs.active).chain(rs.frozen.as_ref()) {
            let found = mem.with(key, snapshot, |lsn, op| match op {
                MemOp::Put { value, expires_at_unix_ms } => {
                    Some(call(Some(EntryView { value, version: lsn, expires_at_unix_ms: *expires_at_unix_ms })))
                }
                // The value log is on disk.
                MemOp::PutRef { .. } => None,
                MemOp::Delete => Some(call(None)),
            });
            if let Some(answer) = found {
                return Ok(answer.flatten());
            }
        }
        if rs.root.is_none() {
            return Ok(call(None));
        }
        // Only a read-only open whose root failed to load has no pinned
        // top: that needs the disk.
        let Some(pinned) = &rs.pinned else { return Ok(None) };
        let found = crate::btree::read::get_cached(&self.pager, pinned, key, |e| match e.value {
            crate::btree::node::ValueView::Inline(value) => {
                call(Some(EntryView { value, version: e.version, expires_at_unix_ms: e.expires_at_unix_ms }))
            }
            crate::btree::node::ValueView::Ref(_) => None,
        })?;
        Ok(match found {
            // A page on the way is not cached.
            None => None,
            Some(None) => call(None),
            // `None` inside: the value is in the value log.
            Some(Some(answer)) => answer,
        })
    }

    /// The newest version of `key` at `snapshot`: memtables first, then
    /// the tree of `rs` (which the caller's read lock keeps alive).
    fn lookup(&self, rs: &ReadState, snapshot: Lsn, key: &[u8]) -> Result<Option<Entry>> {
        for mem in std::iter::once(&rs.active).chain(rs.frozen.as_ref()) {
            // Copies only the value (a reference is read after the skip
            // list's guard is gone).
            let found = mem.with(key, snapshot, |lsn, op| match op {
                MemOp::Put { value, expires_at_unix_ms } => Ok(Some(Entry {
                    value: value.clone(),
                    version: lsn,
                    expires_at_unix_ms: *expires_at_unix_ms,
                    value_ref: None,
                })),
                MemOp::PutRef { value_ref, expires_at_unix_ms } => Err((lsn, *value_ref, *expires_at_unix_ms)),
                MemOp::Delete => Ok(None),
            });
            match found {
                None => {}
                Some(Ok(entry)) => return Ok(entry),
                Some(Err((version, value_ref, expires_at_unix_ms))) => {
                    return Ok(Some(Entry {
                        value: self.vlog.read(key, &value_ref)?,
                        version,
                        expires_at_unix_ms,
                        value_ref: Some(value_ref),
                    }));
                }
            }
        }
        let Some(root) = rs.root else { return Ok(None) };
        let map = |e: crate::btree::node::EntryRef<'_>| {
            let value = match e.value {
                crate::btree::node::ValueView::Inline(v) => Ok(v.to_vec()),
                crate::btree::node::ValueView::Ref(r) => Err(r),
            };
            (value, e.version, e.expires_at_unix_ms)
        };
        let found = match &rs.pinned {
            Some(pinned) => crate::btree::read::get_from(&self.pager, pinned, key, map)?,
            // Only a read-only open whose root failed to load has no
            // pinned top: it reads (and reports) the root every time.
            None => crate::btree::read::get_from(
                &self.pager,
                &crate::btree::read::Pinned::load(&self.pager, root)?,
                key,
                map,
            )?,
        };
        match found {
            None => Ok(None),
            Some((Err(r), version, expires_at_unix_ms)) => {
                Ok(Some(Entry { value: self.vlog.read(key, &r)?, version, expires_at_unix_ms, value_ref: Some(r) }))
            }
            Some((Ok(value), version, expires_at_unix_ms)) => {
                Ok(Some(Entry { value, version, expires_at_unix_ms, value_ref: None }))
            }
        }
    }

    /// The transaction machinery (locks and counters).
    pub(crate) fn txns(&self) -> &crate::txn::Transactions {
        &self.txns
    }

    pub(crate) fn check_poison(&self) -> Result<()> {
        if !self.poisoned.load(Ordering::Acquire) {
            return Ok(());
        }
        match &*lock(&self.poison) {
            Some(first) => Err(Error::PreviousIo { first: first.clone() }),
            None => Ok(()),
        }
    }

    pub(crate) fn poison(&self, e: &Error) {
        let mut p = lock(&self.poison);
        if p.is_none() {
            tracing::error!(error = %e, "the database stops accepting operations until it is reopened");
            *p = Some(e.to_string());
            self.poisoned.store(true, Ordering::Release);
        }
    }

    pub(crate) fn note_checkpoint(&self, info: &CheckpointInfo, wal_bytes: u64) {
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.counters.last_checkpoint_us.store(info.duration_us, Ordering::Relaxed);
        self.counters.wal_bytes_at_checkpoint.store(wal_bytes, Ordering::Relaxed);
        *lock(&self.last_checkpoint_at) = Instant::now();
    }

    fn wal(&self) -> Result<&Wal> {
        self.wal.as_ref().ok_or(Error::ReadOnly)
    }

    /// Whether a checkpoint is due by size, age, or a pause in commits
    /// (`idle_for`: how long nothing has committed).
    fn checkpoint_due(&self, idle_for: Duration) -> bool {
        let rs = read(&self.read_state);
        let dirty = rs.active.bytes();
        let empty = rs.active.is_empty();
        drop(rs);
        if empty {
            return false;
        }
        let wal_bytes = self.wal.as_ref().map_or(0, Wal::bytes_appended);
        let t = &self.tunables;
        let dirty_max = t.dirty_bytes_max.load(Ordering::Relaxed);
        let idle_ms = t.checkpoint_idle_ms.load(Ordering::Relaxed);
        dirty >= dirty_max / 2
            || (idle_ms > 0 && idle_for >= Duration::from_millis(idle_ms) && dirty >= dirty_max / 8)
            || wal_bytes.saturating_sub(self.counters.wal_bytes_at_checkpoint.load(Ordering::Relaxed))
                >= t.checkpoint_wal_bytes.load(Ordering::Relaxed)
            || lock(&self.last_checkpoint_at).elapsed()
                >= Duration::from_millis(t.checkpoint_interval_ms.load(Ordering::Relaxed))
    }
}

/// An open database. `Send + Sync`: share it with `Arc`.
#[derive(Debug)]
pub struct Db {
    inner: Arc<Inner>,
    background: Option<JoinHandle<()>>,
}

/// Statistics of an open database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stats {
    /// Page cache counters.
    pub cache: CacheStats,
    /// WAL counters.
    pub wal: WalStats,
    /// Commits since open.
    pub commits: u64,
    /// Checkpoints since open.
    pub checkpoints: u64,
    /// Duration of the last checkpoint, microseconds.
    pub last_checkpoint_us: u64,
    /// Bytes of changes waiting for a checkpoint.
    pub dirty_bytes: u64,
    /// The current superblock.
    pub superblock: Superblock,
    /// WAL bytes appended since the last checkpoint.
    pub wal_bytes_since_checkpoint: u64,
    /// Transaction and lock counters.
    pub transactions: crate::txn::TxnStats,
    /// TTL sweeper runs since open.
    pub ttl_sweeps: u64,
    /// Keys the TTL sweeper deleted since open.
    pub ttl_expired: u64,
    /// Value-log counters.
    pub vlog: crate::vlog::VlogStats,
    /// Value-log GC counters.
    pub gc: crate::gc::GcStats,
    /// Time since the last checkpoint (or since open), milliseconds.
    pub checkpoint_age_ms: u64,
}

/// A value in place in the database's memory, with its version: what
/// [`Db::get_cached_with`] lends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryView<'a> {
    /// The value.
    pub value: &'a [u8],
    /// LSN of the commit that wrote it.
    pub version: Lsn,
    /// Absolute expiry in ms since the Unix epoch.
    pub expires_at_unix_ms: Option<u64>,
}

/// A value read from the database, with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value.
    pub value: Vec<u8>,
    /// LSN of the commit that wrote it.
    pub version: Lsn,
    /// Absolute expiry in ms since the Unix epoch.
    pub expires_at_unix_ms: Option<u64>,
    /// Where the value lives in the value log, if it does.
    pub value_ref: Option<jubilant_format::ValueRef>,
}

impl Db {
    /// Opens (creating if allowed) the data directory `dir`.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        Db::open_with_clock(dir, opts, Arc::new(SystemClock))
    }

    /// [`Db::open`] with a given clock.
    pub fn open_with_clock(dir: impl AsRef<Path>, opts: Options, clock: Arc<dyn Clock>) -> Result<Db> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let storage: Arc<dyn Storage> = Arc::clone(&opts.storage);
        let exists = storage.exists(&dir).map_err(|e| Error::io("stat", &dir, e))?;
        if !exists {
            if opts.read_only || !opts.create_if_missing {
                return Err(Error::NotADatabase { path: dir, reason: "no such directory".into() });
            }
            storage.create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        }
        let lock_guard = if opts.read_only {
            None
        } else {
            let path = layout::lock_path(&dir);
            match storage.try_lock(&path).map_err(|e| Error::io("lock", &path, e))? {
                Some(g) => Some(g),
                None => return Err(Error::Locked { path }),
            }
        };
        let manifest_path = layout::manifest_path(&dir);
        if !storage.exists(&manifest_path).map_err(|e| Error::io("stat", &manifest_path, e))? {
            if opts.read_only {
                return Err(Error::NotADatabase { path: dir, reason: "no MANIFEST".into() });
            }
            layout::create(&*storage, &dir, opts.page_size, &*clock)?;
        }
        if !opts.read_only {
            // An earlier open may have seen this MANIFEST before its
            // directory entry was durable (a failed fsync of the directory):
            // make sure it is, before anything is acknowledged.
            storage.sync_dir(&dir).map_err(|e| Error::io("fsync directory", &dir, e))?;
        }
        let (manifest, manifest_hash) = layout::read_manifest(&*storage, &dir)?;
        let page_size = manifest.page_size;

        let page_path = layout::page_file(&dir);
        let file = if opts.read_only { storage.open_read_only(&page_path) } else { storage.open(&page_path) }
            .map_err(|e| Error::io("open", &page_path, e))?;
        let pager = Pager::new(file, &page_path, page_size, opts.cache_bytes);
        let (a, b) = pager.read_slots()?;
        let choice = select_superblock(&a, 0, &b, u64::from(page_size.get()), manifest_hash)
            .map_err(|e| Error::NeedsRepair { reason: format!("{}: {e}", page_path.display()) })?;
        if let jubilant_format::OtherSlot::Rejected { reason } = &choice.other
            && choice.superblock.generation.get() > 0
        {
            tracing::warn!(file = %page_path.display(), slot = ?choice.slot.other(), %reason, "superblock slot rejected; using the other one");
        }
        let sb = choice.superblock;
        let file_pages = pager.file_page_count()?;
        if file_pages < sb.page_count {
            return Err(Error::NeedsRepair {
                reason: format!(
                    "{} holds {file_pages} pages, but the superblock names {}",
                    page_path.display(),
                    sb.page_count
                ),
            });
        }
        if opts.verify_on_open && !opts.read_only {
            // The startup guardrail: damage reachable from the only valid
            // superblock must not be written on top of.
            let refuse = |detail: String| Error::NeedsRepair {
                reason: format!(
                    "{}: the tree of superblock generation {} is damaged: {detail}",
                    page_path.display(),
                    sb.generation
                ),
            };
            match check_tree(&pager, &sb) {
                Ok(Ok(_)) => {}
                Ok(Err(problems)) => return Err(refuse(problems.join("; "))),
                Err(e @ (Error::CorruptPage { .. } | Error::CorruptNode { .. })) => return Err(refuse(e.to_string())),
                Err(e) => return Err(e),
            }
        }
        let space = FreeSpace::load(&pager, &sb)?;
        let pinned = match sb.root_page {
            // A read-only open (for inspection) tolerates a damaged root:
            // lookups then report the damage.
            Some(root) if opts.read_only => crate::btree::read::Pinned::load(&pager, root).ok().map(Arc::new),
            Some(root) => Some(Arc::new(crate::btree::read::Pinned::load(&pager, root)?)),
            None => None,
        };

        let vlog = Arc::new(crate::vlog::ValueLog::open(
            Arc::clone(&storage),
            &layout::vlog_dir(&dir),
            manifest.directory_id,
            opts.vlog_segment_bytes,
            opts.read_only,
        )?);
        // Replay the WAL into the memtable.
        let active = Memtable::new();
        let wal_dir = layout::wal_dir(&dir);
        let outcome =
            replay(&*storage, &wal_dir, manifest.directory_id, sb.checkpoint_lsn, opts.read_only, |lsn, ops| {
                for op in ops {
                    match op {
                        ReplayOp::Put { key, value: PutValue::Inline(value), expires_at_unix_ms } => {
                            active.insert(&key, lsn, MemOp::Put { value, expires_at_unix_ms });
                        }
                        ReplayOp::Put { key, value: PutValue::Ref(value_ref), expires_at_unix_ms } => {
                            active.insert(&key, lsn, MemOp::PutRef { value_ref, expires_at_unix_ms });
                        }
                        ReplayOp::Delete { key } => active.insert(&key, lsn, MemOp::Delete),
                    }
                }
                Ok(())
            })?;
        if outcome.transactions > 0 {
            tracing::info!(transactions = outcome.transactions, dir = %dir.display(), "replayed the WAL");
        }
        let last_lsn = Lsn(outcome.position.next_lsn.get() - 1);
        let next_txn_id = TxnId(sb.next_txn_id.get().max(outcome.max_txn_id.map_or(0, |t| t.get() + 1)));
        let wal = if opts.read_only {
            None
        } else {
            Some(Wal::open(
                Arc::clone(&storage),
                &wal_dir,
                manifest.directory_id,
                opts.wal_segment_bytes,
                opts.wal_preallocate,
                &outcome.position,
            )?)
        };
        if let Some(wal) = &wal {
            let vlog = Arc::clone(&vlog);
            wal.set_pre_sync(Arc::new(move || vlog.sync()));
        }
        let ttl = crate::ttl::TtlClock::new(manifest.clock, outcome.max_commit_unix_ms);
        let inner = Arc::new(Inner {
            vlog,
            dir,
            manifest,
            manifest_hash,
            pager,
            wal,
            ttl,
            clock,
            commit: Mutex::new(CommitState { next_txn_id }),
            read_state: RwLock::new(ReadState {
                active: Arc::new(active),
                frozen: None,
                root: sb.root_page,
                pinned,
                generation: sb.generation,
            }),
            visible_lsn: AtomicU64::new(last_lsn.get()),
            checkpoint: Mutex::new(CheckpointState { superblock: sb, space }),
            pins: Mutex::new(BTreeMap::new()),
            poison: Mutex::new(None),
            poisoned: std::sync::atomic::AtomicBool::new(false),
            counters: Counters::default(),
            txns: crate::txn::Transactions::default(),
            tunables: Tunables::from_options(&opts),
            sweep_cursor: Mutex::new(None),
            gc: Mutex::new(crate::gc::GcMarkers::default()),
            gc_runs: AtomicU64::new(0),
            last_checkpoint_at: Mutex::new(Instant::now()),
            shutdown: Mutex::new(false),
            wake: Condvar::new(),
            _lock: lock_guard,
            opts,
        });
        let background = if inner.opts.background && !inner.opts.read_only {
            let bg = Arc::clone(&inner);
            Some(
                std::thread::Builder::new()
                    .name("jubilant-background".into())
                    .spawn(move || background_loop(&bg))
                    .map_err(|e| Error::io("spawn background thread", &inner.dir, e))?,
            )
        } else {
            None
        };
        Ok(Db { inner, background })
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The manifest.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The options the database was opened with.
    #[must_use]
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }

    /// The lock wait limit in effect.
    #[must_use]
    pub fn lock_timeout(&self) -> Duration {
        self.inner.tunables.lock_timeout()
    }

    /// The transaction machinery (locks and counters).
    #[must_use]
    pub fn transactions(&self) -> &crate::txn::Transactions {
        &self.inner.txns
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.get_entry(key)?.map(|e| e.value))
    }

    /// The value of `key` with its version and expiry.
    pub fn get_entry(&self, key: &[u8]) -> Result<Option<Entry>> {
        let entry = self.get_entry_raw(key)?;
        Ok(entry.and_then(|e| self.unexpired(e)))
    }

    /// Like [`Db::get_entry`], but only if the answer is in memory (cached
    /// pages, memtables, inline values), for callers that must not block
    /// (an event loop deciding whether to hand a read to a thread pool):
    /// calls `f` with the entry of `key` (`None` when it is absent or
    /// expired), borrowed in place from a memtable or a cached page, and
    /// returns what `f` returns — if the answer is in memory: `None`, with
    /// `f` not called, when it would read a page or the value log from
    /// disk. Copies nothing: for an event loop that encodes the answer
    /// straight into its output.
    ///
    /// `f` runs while the database holds its read-state lock (a checkpoint
    /// waits to publish until it is released): it must be short and must
    /// not call back into the database.
    pub fn get_cached_with<R>(&self, key: &[u8], f: impl FnOnce(Option<EntryView<'_>>) -> R) -> Result<Option<R>> {
        self.inner.with_entry_cached(key, |view| {
            f(view.filter(|v| !self.inner.ttl.expired(&*self.inner.clock, v.expires_at_unix_ms)))
        })
    }

    /// `e`, unless its TTL has passed.
    fn unexpired(&self, e: Entry) -> Option<Entry> {
        (!self.inner.ttl.expired(&*self.inner.clock, e.expires_at_unix_ms)).then_some(e)
    }

    /// The entries of `keys`, in order, all read at one snapshot (a
    /// consistent view: no commit lands between two of the lookups) and
    /// cheaper than one [`Db::get_entry`] per key. Checkpoints wait for the
    /// batch to finish before publishing, so keep batches to thousands of
    /// keys, not millions.
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Entry>>> {
        // One "now" for the batch, like its one snapshot.
        let now = self.inner.ttl.now_ms(&*self.inner.clock);
        let mut entries = self.inner.get_entries_raw(keys)?;
        for e in &mut entries {
            if e.as_ref().is_some_and(|e| e.expires_at_unix_ms.is_some_and(|t| t <= now)) {
                *e = None;
            }
        }
        Ok(entries)
    }

    /// Calls `f(i, value)` for each key of `keys` in order — `value` is
    /// `None` when the key is absent or expired — all at one snapshot, as
    /// [`Db::get_many`] reads, but without copying values: a value in a
    /// cached page is passed in place (one in the value log is read into a
    /// buffer first). `f` runs with no engine lock held (the snapshot's
    /// pages are pinned instead), so it may call back into the database.
    pub fn get_many_with<K: AsRef<[u8]>>(&self, keys: &[K], mut f: impl FnMut(usize, Option<&[u8]>)) -> Result<()> {
        self.inner.check_poison()?;
        let view = crate::view::ReadView::new(Arc::clone(&self.inner));
        let now = self.inner.ttl.now_ms(&*self.inner.clock);
        for (i, key) in keys.iter().enumerate() {
            view.visit_value(key.as_ref(), now, &mut |value| f(i, value))?;
        }
        Ok(())
    }

    /// "Now" for TTL decisions (see `ttl`), ms since the Unix epoch.
    #[must_use]
    pub fn ttl_now_ms(&self) -> u64 {
        self.inner.ttl.now_ms(&*self.inner.clock)
    }

    /// Like [`Db::get_entry`], but returns an expired entry too.
    pub(crate) fn get_entry_raw(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.inner.get_entry_raw(key)
    }

    /// Iterates over `range` in key order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<Iter> {
        self.iter_inner(range, false)
    }

    /// Iterates over `range` in descending key order.
    pub fn range_rev<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<Iter> {
        self.iter_inner(range, true)
    }

    /// Calls `f` with each key and value in `range`, in key order, until
    /// it returns [`ControlFlow::Break`]: what iterating over
    /// [`Db::range`] gives, at one snapshot, but without copying — keys
    /// and values of cached pages are passed in place (a value in the
    /// value log is read into a buffer first; keys the memtables hold are
    /// merged in as the iterator does, with copies).
    pub fn scan_with<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
        mut f: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        self.iter_inner(range, false)?.visit(&mut f)
    }

    /// [`Db::scan_with`] in descending key order.
    pub fn scan_rev_with<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
        mut f: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        self.iter_inner(range, true)?.visit(&mut f)
    }

    fn iter_inner<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R, reverse: bool) -> Result<Iter> {
        self.inner.check_poison()?;
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        Ok(Iter::new(
            Arc::clone(&self.inner),
            own(range.start_bound()),
            own(range.end_bound()),
            reverse,
            crate::iter::Expired::Hide,
        ))
    }

    /// Commits `batch` atomically with the default durability; returns the
    /// commit's LSN (the version of every key it wrote).
    pub fn write(&self, batch: &WriteBatch) -> Result<Lsn> {
        self.write_with(batch, self.inner.opts.durability)
    }

    /// Commits `batch` atomically with the given durability.
    pub fn write_with(&self, batch: &WriteBatch, durability: Durability) -> Result<Lsn> {
        let commit_lsn = self.inner.commit_batch(batch, durability)?;
        self.after_commit()?;
        Ok(commit_lsn)
    }

    /// The shared state, for the crate's other modules.
    pub(crate) fn shared(&self) -> &Inner {
        &self.inner
    }

    /// The shared state, owned (for values that outlive a borrow of `Db`).
    pub(crate) fn shared_arc(&self) -> Arc<Inner> {
        Arc::clone(&self.inner)
    }

    /// Starts a checkpoint when one is due, and keeps memory bounded: a
    /// checkpoint starts once the active memtable holds half of
    /// `dirty_bytes_max`, and a writer waits while the active and frozen
    /// memtables together hold more than `dirty_bytes_max`.
    pub(crate) fn after_commit(&self) -> Result<()> {
        let inner = &*self.inner;
        let (active, frozen) = {
            let rs = read(&inner.read_state);
            (rs.active.bytes(), rs.frozen.as_ref().map(|f| f.bytes()))
        };
        let dirty_max = inner.tunables.dirty_bytes_max.load(Ordering::Relaxed);
        if active < dirty_max / 2 {
            return Ok(());
        }
        if self.background.is_none() {
            checkpoint::run(inner)?;
            return Ok(());
        }
        inner.wake.notify_all();
        if let Some(frozen) = frozen
            && active + frozen >= dirty_max
        {
            // The running checkpoint holds this lock: taking it waits for
            // the checkpoint to finish and free its memtable.
            drop(lock(&inner.checkpoint));
        }
        inner.check_poison()
    }

    /// One run of the TTL sweeper: examines up to
    /// `ttl_sweep_max_scanned` keys from where the last run stopped and
    /// deletes up to `ttl_sweep_max_deletes` expired ones, through the WAL
    /// as TTL tombstones, under exclusive locks (a key renewed meanwhile is
    /// left alone). Returns how many keys it deleted.
    pub fn sweep_expired(&self) -> Result<usize> {
        sweep_expired(&self.inner)
    }

    /// Changes tunables while the database is open, at once and without
    /// interrupting anything: the cache shrinks or grows as nodes come
    /// and go, the next checkpoint and sweep decisions use the new
    /// triggers, and transactions starting now the new lock timeout.
    pub fn set_tunables(&self, changes: &TunableChanges) -> Result<()> {
        let t = &self.inner.tunables;
        let invalid = |name, reason: &str| Err(Error::InvalidOption { name, reason: reason.into() });
        if let Some(c) = changes.cache_bytes
            && c < 64 * self.inner.manifest.page_size.bytes()
        {
            return invalid("cache_bytes", "must hold at least 64 pages");
        }
        if let Some(d) = changes.dirty_bytes_max
            && d < 64 << 10
        {
            return invalid("dirty_bytes_max", "must be at least 64 KiB");
        }
        if let Some(c) = changes.cache_bytes {
            self.inner.pager.cache().set_budget(c);
        }
        if let Some(d) = changes.dirty_bytes_max {
            t.dirty_bytes_max.store(d, Ordering::Relaxed);
        }
        if let Some(w) = changes.checkpoint_wal_bytes {
            t.checkpoint_wal_bytes.store(w, Ordering::Relaxed);
        }
        if let Some(i) = changes.checkpoint_interval {
            t.checkpoint_interval_ms.store(i.as_millis() as u64, Ordering::Relaxed);
        }
        if let Some(i) = changes.checkpoint_idle {
            t.checkpoint_idle_ms.store(i.as_millis() as u64, Ordering::Relaxed);
        }
        if let Some(i) = changes.ttl_sweep_interval {
            t.ttl_sweep_interval_ms.store(i.as_millis() as u64, Ordering::Relaxed);
        }
        if let Some(l) = changes.lock_timeout {
            t.lock_timeout_ms.store(l.as_millis() as u64, Ordering::Relaxed);
        }
        self.inner.wake.notify_all();
        Ok(())
    }

    /// Value-log garbage collection: rewrites the live values of every
    /// segment whose live share is below `min_live_ratio` (0.0–1.0) and
    /// deletes it once a checkpoint covers the move. Runs a checkpoint
    /// afterwards, so the space comes back before it returns.
    pub fn gc_value_log(&self, min_live_ratio: f64) -> Result<crate::gc::GcReport> {
        self.inner.wal()?;
        let mut report = crate::gc::run(&self.inner, min_live_ratio)?;
        if !report.segments_relocated.is_empty() {
            // The checkpoint deletes the relocated segments it covers.
            checkpoint::run(&self.inner)?;
            let remaining: Vec<u64> = self.inner.vlog.segment_sizes().into_iter().map(|(s, _)| s.get()).collect();
            report.segments_deleted =
                report.segments_relocated.iter().copied().filter(|s| !remaining.contains(s)).collect();
        }
        Ok(report)
    }

    /// Writes every committed change into the tree and flips the
    /// superblock; returns what it did, or `None` if there was nothing to
    /// write.
    pub fn checkpoint(&self) -> Result<Option<CheckpointInfo>> {
        self.inner.wal()?;
        checkpoint::run(&self.inner)
    }

    /// Makes every commit so far durable (for buffered commits).
    pub fn flush(&self) -> Result<()> {
        let wal = self.inner.wal()?;
        let last = wal.last_lsn();
        wal.sync_to(last)?;
        self.inner.visible_lsn.fetch_max(last.get(), Ordering::AcqRel);
        Ok(())
    }

    /// Counters and the current superblock.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let inner = &*self.inner;
        let dirty = {
            let rs = read(&inner.read_state);
            rs.active.bytes() + rs.frozen.as_ref().map_or(0, |f| f.bytes())
        };
        let wal = inner.wal.as_ref().map(Wal::stats).unwrap_or_default();
        Stats {
            cache: inner.pager.cache().stats(),
            commits: inner.counters.commits.get(),
            checkpoints: inner.counters.checkpoints.load(Ordering::Relaxed),
            last_checkpoint_us: inner.counters.last_checkpoint_us.load(Ordering::Relaxed),
            dirty_bytes: dirty as u64,
            superblock: lock(&inner.checkpoint).superblock,
            wal_bytes_since_checkpoint: wal
                .bytes_appended
                .saturating_sub(inner.counters.wal_bytes_at_checkpoint.load(Ordering::Relaxed)),
            wal,
            transactions: inner.txns.stats(),
            ttl_sweeps: inner.counters.sweeps.load(Ordering::Relaxed),
            ttl_expired: inner.counters.ttl_expired.load(Ordering::Relaxed),
            vlog: inner.vlog.stats(),
            gc: lock(&inner.gc).stats(),
            checkpoint_age_ms: lock(&inner.last_checkpoint_at).elapsed().as_millis() as u64,
        }
    }

    /// Checks the durable tree's structural invariants (tests and tools).
    pub fn check_invariants(&self) -> Result<std::result::Result<TreeReport, Vec<String>>> {
        let state = lock(&self.inner.checkpoint);
        check_tree(&self.inner.pager, &state.superblock)
    }

    /// Stops background work and makes every commit durable.
    pub fn close(mut self) -> Result<()> {
        self.stop_background();
        if self.inner.wal.is_some() && self.inner.check_poison().is_ok() {
            self.flush()?;
        }
        Ok(())
    }

    fn stop_background(&mut self) {
        *lock(&self.inner.shutdown) = true;
        self.inner.wake.notify_all();
        if let Some(handle) = self.background.take()
            && handle.join().is_err()
        {
            tracing::error!("the background thread panicked");
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.stop_background();
        if let Some(wal) = &self.inner.wal
            && self.inner.check_poison().is_ok()
            && let Err(e) = wal.sync_to(wal.last_lsn())
        {
            tracing::error!(error = %e, "flushing the WAL on close failed");
        }
    }
}

/// One run of the TTL sweeper; see [`Db::sweep_expired`].
fn sweep_expired(arc: &Arc<Inner>) -> Result<usize> {
    let inner = &**arc;
    inner.wal()?;
    let opts = &inner.opts;
    let start = lock(&inner.sweep_cursor).clone();
    let mut it = Iter::new(
        Arc::clone(arc),
        start.map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Unbounded,
        false,
        crate::iter::Expired::Include,
    )
    .skip_memtables_without_expiry();
    let now = inner.ttl.now_ms(&*inner.clock);
    let mut expired: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut last: Option<Vec<u8>> = None;
    let mut scanned = 0usize;
    while scanned < opts.ttl_sweep_max_scanned && expired.len() < opts.ttl_sweep_max_deletes {
        let Some(item) = it.next_entry() else {
            last = None;
            break;
        };
        let (key, entry) = item?;
        scanned += 1;
        if let Some(t) = entry.expires_at_unix_ms.filter(|&t| t <= now) {
            expired.push((key.clone(), t));
        }
        last = Some(key);
    }
    drop(it);
    // Resume after the last key examined; start over at the end.
    *lock(&inner.sweep_cursor) = last;
    if expired.is_empty() {
        return Ok(0);
    }
    let plan = crate::lock::LockManager::plan(
        expired
            .iter()
            .map(|(k, _)| crate::lock::LockRequest::Key { key: k.clone(), mode: crate::lock::LockMode::Exclusive })
            .collect(),
    );
    let txns = &inner.txns;
    let id = jubilant_format::TxnId(u64::MAX - inner.counters.sweeps.fetch_add(1, Ordering::Relaxed));
    let held = match txns.locks().acquire_all(id, &plan, std::time::Instant::now() + inner.tunables.lock_timeout()) {
        Ok(held) => held,
        // Busy keys are retried on a later run.
        Err(_) => return Ok(0),
    };
    let mut batch = WriteBatch::new();
    for (key, expired_at) in &expired {
        // Still the same expired version? (A write may have renewed it.)
        if inner.get_entry_raw(key)?.is_some_and(|e| e.expires_at_unix_ms == Some(*expired_at)) {
            batch.expire(key.clone(), *expired_at);
        }
    }
    let result = if batch.is_empty() { Ok(()) } else { inner.commit_batch(&batch, inner.opts.durability).map(|_| ()) };
    txns.locks().release(held);
    result?;
    inner.counters.ttl_expired.fetch_add(batch.len() as u64, Ordering::Relaxed);
    Ok(batch.len())
}

/// Flushes buffered commits and runs checkpoints when due.
fn background_loop(arc: &Arc<Inner>) {
    let inner = &**arc;
    let mut last_sweep = Instant::now();
    let mut last_gc = Instant::now();
    let tick = inner.opts.buffered_flush_interval.min(Duration::from_millis(100)).max(Duration::from_millis(1));
    // When the WAL's last LSN last moved: commits are noticed here, at
    // the tick, so the commit path pays nothing for the idle trigger.
    let mut last_lsn = inner.wal.as_ref().map(Wal::last_lsn);
    let mut lsn_moved_at = Instant::now();
    loop {
        {
            let stop = lock(&inner.shutdown);
            if *stop {
                return;
            }
            let (stop, _) = inner.wake.wait_timeout(stop, tick).unwrap_or_else(std::sync::PoisonError::into_inner);
            if *stop {
                return;
            }
        }
        if inner.check_poison().is_err() {
            continue;
        }
        if let Some(wal) = &inner.wal {
            let last = wal.last_lsn();
            if wal.durable_lsn() < last {
                match wal.sync_to(last) {
                    Ok(()) => {
                        inner.visible_lsn.fetch_max(last.get(), Ordering::AcqRel);
                    }
                    Err(e) => {
                        inner.poison(&e);
                        continue;
                    }
                }
            }
        }
        let lsn = inner.wal.as_ref().map(Wal::last_lsn);
        if lsn != last_lsn {
            (last_lsn, lsn_moved_at) = (lsn, Instant::now());
        }
        if inner.checkpoint_due(lsn_moved_at.elapsed())
            && let Err(e) = checkpoint::run(inner)
        {
            tracing::error!(error = %e, "background checkpoint failed");
        }
        if inner.opts.vlog_gc_live_ratio > 0.0
            && last_gc.elapsed() >= inner.opts.vlog_gc_interval
            && inner.vlog.segment_sizes().len() >= 2
        {
            last_gc = Instant::now();
            if let Err(e) = crate::gc::run(arc, inner.opts.vlog_gc_live_ratio) {
                tracing::warn!(error = %e, "value-log GC failed");
            }
        }
        if last_sweep.elapsed() >= Duration::from_millis(inner.tunables.ttl_sweep_interval_ms.load(Ordering::Relaxed)) {
            last_sweep = Instant::now();
            match sweep_expired(arc) {
                Ok(0) => {}
                Ok(n) => tracing::debug!(expired = n, "TTL sweep"),
                Err(e) => tracing::warn!(error = %e, "TTL sweep failed"),
            }
        }
    }
}
