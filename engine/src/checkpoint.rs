//! Checkpoints: the memtable's changes written into the tree, and the A/B
//! superblock flip.
//!
//! Protocol (why a crash at any moment loses nothing acknowledged):
//! 1. Under the commit lock, freeze the active memtable (new commits go to
//!    a fresh one) and take `checkpoint_lsn`, the last appended LSN: every
//!    change up to it is in the frozen memtable.
//! 2. Make the WAL durable up to `checkpoint_lsn`, so the WAL never ends
//!    below a checkpoint.
//! 3. Apply the frozen changes to the tree copy-on-write, writing only to
//!    pages the durable superblock does not reach (see `freespace`), then
//!    the new free list; fsync the page file.
//! 4. Write the superblock of generation g + 1 into the *other* slot and
//!    fsync. Until this write is durable the previous superblock, its tree
//!    and the WAL from its checkpoint LSN are intact; a torn superblock
//!    write fails its CRC and the previous slot is chosen.
//! 5. Publish the new root to readers, drop the frozen memtable, and only
//!    then delete WAL segments wholly at or below `checkpoint_lsn`.
//!
//! Commits continue during 2–5 (they go to the new memtable).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use jubilant_format::{Epoch, Generation, Lsn, Superblock};

use crate::btree::apply::{Change, Put, apply_changes};
use crate::btree::node::StoredValue;
use crate::db::Inner;
use crate::error::Result;
use crate::freespace::CheckpointAllocator;
use crate::memtable::{MemOp, Memtable};
use crate::sync::{lock, write};

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointInfo {
    /// The new superblock's generation.
    pub generation: Generation,
    /// Every commit up to this LSN is in the tree.
    pub checkpoint_lsn: Lsn,
    /// Keys changed.
    pub changes: u64,
    /// Pages written (nodes and free list).
    pub pages_written: u64,
    /// WAL segments removed.
    pub wal_segments_removed: u64,
    /// Wall time taken, microseconds.
    pub duration_us: u64,
}

/// Runs one checkpoint if there is anything to write; `None` otherwise.
pub(crate) fn run(inner: &Inner) -> Result<Option<CheckpointInfo>> {
    let _span = tracing::debug_span!("engine_checkpoint").entered();
    let started = Instant::now();
    let mut state = lock(&inner.checkpoint);
    let Some(wal) = inner.wal.as_ref() else {
        return Ok(None);
    };
    inner.check_poison()?;

    // 1. Freeze.
    let (frozen, checkpoint_lsn, next_txn_id) = {
        let commit = lock(&inner.commit);
        let mut rs = write(&inner.read_state);
        let frozen: Arc<Memtable> = match &rs.frozen {
            // A failed checkpoint poisons the database, so a frozen
            // memtable is never left behind by an earlier one.
            Some(_) => unreachable!("one checkpoint at a time, and failures poison"),
            None => {
                if rs.active.is_empty() {
                    return Ok(None);
                }
                let frozen = std::mem::replace(&mut rs.active, Arc::new(Memtable::new()));
                rs.frozen = Some(Arc::clone(&frozen));
                frozen
            }
        };
        (frozen, wal.last_lsn(), commit.next_txn_id)
    };
    let result = write_checkpoint(inner, &mut state, &frozen, checkpoint_lsn, next_txn_id, started);
    if let Err(e) = &result {
        inner.poison(e);
    }
    result.map(Some)
}

fn write_checkpoint(
    inner: &Inner,
    state: &mut crate::db::CheckpointState,
    frozen: &Memtable,
    checkpoint_lsn: Lsn,
    next_txn_id: jubilant_format::TxnId,
    started: Instant,
) -> Result<CheckpointInfo> {
    let Some(wal) = inner.wal.as_ref() else { unreachable!("checked by run") };
    // 2. The WAL never ends below a checkpoint (and the value log, synced
    // before the WAL, holds every value it refers to).
    let vlog_tail = inner.vlog.tail();
    let vlog_head = inner.vlog.head();
    wal.sync_to(checkpoint_lsn)?;
    inner.vlog.sync()?;

    // 3. The tree, copy-on-write.
    // Borrowed from the frozen memtable: each key and value is copied
    // once, into its leaf page.
    let changes: Vec<Change<'_>> = frozen.latest_map(|key, lsn, op| Change {
        key,
        put: match op {
            MemOp::Put { value, expires_at_unix_ms } => Some(Put {
                value: StoredValue::Inline(Cow::Borrowed(value)),
                version: lsn,
                expires_at_unix_ms: *expires_at_unix_ms,
            }),
            MemOp::PutRef { value_ref, expires_at_unix_ms } => {
                Some(Put { value: StoredValue::Ref(*value_ref), version: lsn, expires_at_unix_ms: *expires_at_unix_ms })
            }
            MemOp::Delete => None,
        },
    });
    let oldest_pinned = lock(&inner.pins).keys().next().copied().map(Generation);
    state.space.release_deferred(oldest_pinned);
    let old = state.superblock;
    let outcome = {
        let mut alloc = CheckpointAllocator { space: &mut state.space, pager: &inner.pager };
        apply_changes(&inner.pager, &mut alloc, old.root_page, &changes, checkpoint_lsn)?
    };
    let (free_list_head, list_pages) = state.space.write_free_list(&inner.pager, &outcome.freed, checkpoint_lsn)?;
    inner.pager.sync()?;

    // 4. The superblock flip.
    let key_count = old.key_count.checked_add_signed(outcome.key_delta);
    assert!(key_count.is_some(), "key count went negative: the tree and its count disagree");
    let sb = Superblock {
        generation: Generation(old.generation.get() + 1),
        checkpoint_lsn,
        checkpoint_epoch: Epoch::SINGLE_NODE,
        root_page: outcome.root,
        free_list_head,
        page_count: state.space.page_count,
        manifest_hash: inner.manifest_hash,
        vlog_head: jubilant_format::superblock::VlogCursor { segment: vlog_head.0, offset: vlog_head.1 },
        vlog_tail: jubilant_format::superblock::VlogCursor { segment: vlog_tail.0, offset: vlog_tail.1 },
        next_txn_id,
        key_count: key_count.unwrap_or(0),
    };
    inner.pager.write_superblock(&sb)?;
    inner.pager.sync()?;

    // 5. Publish, then reclaim.
    let pinned = match sb.root_page {
        Some(root) => Some(Arc::new(crate::btree::read::Pinned::load(&inner.pager, root)?)),
        None => None,
    };
    {
        let mut rs = write(&inner.read_state);
        rs.pinned = pinned;
        rs.frozen = None;
        rs.root = sb.root_page;
        rs.generation = sb.generation;
    }
    // The old tree's pages are unreachable from the new root: their
    // cached nodes would only take budget from live ones. A reader still
    // pinned to the old tree reads them from disk (they stay intact until
    // the pin goes).
    for &page in &outcome.freed {
        inner.pager.forget(page);
    }
    state.space.defer(old.generation, outcome.freed);
    state.space.committed(list_pages.clone());
    state.superblock = sb;
    let removed = wal.remove_through(checkpoint_lsn)?;
    // Value-log segments GC emptied before this checkpoint can go now.
    crate::gc::after_checkpoint(inner, checkpoint_lsn)?;
    let info = CheckpointInfo {
        generation: sb.generation,
        checkpoint_lsn,
        changes: changes.len() as u64,
        pages_written: outcome.written + list_pages.len() as u64,
        wal_segments_removed: removed as u64,
        duration_us: started.elapsed().as_micros() as u64,
    };
    inner.note_checkpoint(&info, wal.bytes_appended());
    tracing::debug!(?info, "checkpoint");
    Ok(info)
}
