//! A read view: one snapshot of the database, pinned, that readers use
//! without holding any engine lock.
//!
//! Taking a view clones the memtables and the tree's pinned top out of the
//! read state and registers the tree's generation in `pins` (both under
//! the read-state lock, so no checkpoint publishes in between); while the
//! view lives, a checkpoint does not reuse that tree's pages. Dropping the
//! view unpins it. Because no lock is held, code given values from a view
//! (a caller's closure) may call back into the database.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use jubilant_format::{Generation, Lsn, PageId};

use crate::btree::node::ValueView;
use crate::btree::read::Pinned;
use crate::db::Inner;
use crate::error::Result;
use crate::memtable::{MemOp, Memtable};
use crate::sync::{lock, read};

/// A pinned snapshot.
#[derive(Debug)]
pub(crate) struct ReadView {
    pub inner: Arc<Inner>,
    pub active: Arc<Memtable>,
    pub frozen: Option<Arc<Memtable>>,
    pub root: Option<PageId>,
    /// The top of the tree of `root`, when loaded.
    pub pinned: Option<Arc<Pinned>>,
    pub generation: Generation,
    /// Commits at or below this LSN are visible.
    pub snapshot: Lsn,
}

impl ReadView {
    /// The current snapshot of `inner`.
    pub fn new(inner: Arc<Inner>) -> ReadView {
        let (active, frozen, root, pinned, generation) = {
            let rs = read(&inner.read_state);
            // Pin while holding the read lock, so no checkpoint publishes a
            // newer tree in between and frees this one's pages.
            *lock(&inner.pins).entry(rs.generation.get()).or_insert(0) += 1;
            (Arc::clone(&rs.active), rs.frozen.clone(), rs.root, rs.pinned.clone(), rs.generation)
        };
        let snapshot = Lsn(inner.visible_lsn.load(Ordering::Acquire));
        ReadView { inner, active, frozen, root, pinned, generation, snapshot }
    }

    /// Calls `f` with the value of `key` at this snapshot (`None` if it is
    /// absent or expired at `now_ms`): a value in a cached page in place,
    /// others from a copy (memtable) or a buffer (value log).
    pub fn visit_value(&self, key: &[u8], now_ms: u64, f: &mut dyn FnMut(Option<&[u8]>)) -> Result<()> {
        let live = |expires: Option<u64>| expires.is_none_or(|t| t > now_ms);
        for mem in std::iter::once(&self.active).chain(self.frozen.as_ref()) {
            // A memtable value is passed in place; a reference is read
            // after the skip list's entry is let go.
            let found = mem.with(key, self.snapshot, |_, op| match op {
                MemOp::Put { value, expires_at_unix_ms } if live(*expires_at_unix_ms) => {
                    f(Some(value));
                    None
                }
                MemOp::PutRef { value_ref, expires_at_unix_ms } if live(*expires_at_unix_ms) => Some(*value_ref),
                _ => {
                    f(None);
                    None
                }
            });
            match found {
                None => continue,
                Some(None) => return Ok(()),
                Some(Some(value_ref)) => {
                    f(Some(&self.inner.vlog.read(key, &value_ref)?));
                    return Ok(());
                }
            }
        }
        let Some(root) = self.root else {
            f(None);
            return Ok(());
        };
        let loaded;
        let pinned = match &self.pinned {
            Some(pinned) => pinned,
            None => {
                loaded = Pinned::load(&self.inner.pager, root)?;
                &loaded
            }
        };
        // `f` runs on the leaf with no cache lock held (it may call back
        // into the database); a value-log value is read first. Reading
        // pages as needed, the descent always reaches a leaf.
        let leaf = crate::btree::read::leaf_for(&self.inner.pager, pinned, key, true)?;
        match leaf.as_deref().and_then(|node| crate::btree::read::entry_in(node, key)) {
            Some(e) if live(e.expires_at_unix_ms) => match e.value {
                ValueView::Inline(v) => f(Some(v)),
                ValueView::Ref(r) => f(Some(&self.inner.vlog.read(key, &r)?)),
            },
            _ => f(None),
        }
        Ok(())
    }
}

impl Drop for ReadView {
    fn drop(&mut self) {
        let mut pins = lock(&self.inner.pins);
        let generation = self.generation.get();
        if let Some(count) = pins.get_mut(&generation) {
            *count -= 1;
            if *count == 0 {
                pins.remove(&generation);
            }
        }
    }
}
