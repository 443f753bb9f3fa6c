//! Range iteration over the memtables and the tree.
//!
//! An iterator reads one snapshot (a [`ReadView`]): the memtables and tree
//! root current when it was created, and the visible LSN then, pinned
//! while the iterator lives. It refills a buffer in chunks: each source returns its
//! next entries after the last key emitted, and the merge emits keys only
//! up to the smallest last key of any source that had more, so no source
//! can skip a key.

use std::collections::VecDeque;
use std::ops::{Bound, ControlFlow};
use std::sync::Arc;

use crate::btree::node::{EntryRef, ValueView};
use crate::db::{Entry, Inner};
use crate::error::Result;
use crate::memtable::MemOp;
use crate::view::ReadView;

const CHUNK: usize = 128;

/// What `Db::scan_with` calls with each key and value.
pub(crate) type PairVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'a;

/// What an iterator does with entries whose TTL has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Treat them as absent (what readers see).
    Hide,
    /// Yield only them.
    Only,
    /// Yield everything (what the TTL sweeper examines).
    Include,
}

/// An iterator over `(key, value)` pairs; see [`crate::Db::range`].
#[derive(Debug)]
pub struct Iter {
    /// The snapshot read (pinned while the iterator lives).
    view: ReadView,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
    expired: Expired,
    /// Read values from the value log (else leave them empty and report
    /// only the reference: what garbage collection needs).
    resolve: bool,
    buffer: VecDeque<(Vec<u8>, Entry)>,
    done: bool,
    /// Read the memtables too (see [`Iter::skip_memtables_without_expiry`]).
    memtables: bool,
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// One entry from some source, before merging.
struct Candidate {
    key: Vec<u8>,
    /// `None` for a tombstone.
    value: Option<Entry>,
}

impl Iter {
    pub(crate) fn new(
        inner: Arc<Inner>,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        reverse: bool,
        expired: Expired,
    ) -> Iter {
        Iter {
            view: ReadView::new(inner),
            lower,
            upper,
            reverse,
            expired,
            resolve: true,
            buffer: VecDeque::new(),
            done: false,
            memtables: true,
        }
    }

    /// For the TTL sweeper: leaves the snapshot's memtables out when none
    /// holds a version with an expiry. Reading a memtable in order sorts
    /// the keys that arrived since the last ordered read — under a stream
    /// of writes, a sort of a second's worth of keys on every sweep, for
    /// nothing when no write sets a TTL. What the sweeper finds in the tree
    /// alone it checks again against the newest version before deleting,
    /// so a key rewritten in a memtable is not expired by its tree entry.
    pub(crate) fn skip_memtables_without_expiry(mut self) -> Iter {
        let view = &self.view;
        self.memtables = view.active.has_expiring() || view.frozen.as_ref().is_some_and(|f| f.has_expiring());
        self
    }

    fn refill(&mut self) -> Result<()> {
        let (lower, upper) = (as_ref(&self.lower), as_ref(&self.upper));
        let mut sources: Vec<(Vec<Candidate>, bool)> = Vec::with_capacity(3);
        let memtables = std::iter::once(&self.view.active).chain(self.view.frozen.as_ref());
        for mem in memtables.filter(|_| self.memtables) {
            let (entries, more) = mem.chunk(lower, upper, self.view.snapshot, CHUNK, self.reverse);
            let mut candidates = Vec::with_capacity(entries.len());
            for e in entries {
                let value = match e.op {
                    MemOp::Put { value, expires_at_unix_ms } => {
                        Some(Entry { value, version: e.lsn, expires_at_unix_ms, value_ref: None })
                    }
                    MemOp::PutRef { value_ref, expires_at_unix_ms } => Some(Entry {
                        value: if self.resolve { self.view.inner.vlog.read(&e.key, &value_ref)? } else { Vec::new() },
                        version: e.lsn,
                        expires_at_unix_ms,
                        value_ref: Some(value_ref),
                    }),
                    MemOp::Delete => None,
                };
                candidates.push(Candidate { key: e.key, value });
            }
            sources.push((candidates, more));
        }
        let (inner, resolve) = (&self.view.inner, self.resolve);
        let mut from_tree = |e: EntryRef<'_>| -> Result<(Vec<u8>, Entry)> {
            let (value, value_ref) = match e.value {
                ValueView::Inline(v) => (v.to_vec(), None),
                ValueView::Ref(r) if resolve => (inner.vlog.read(e.key, &r)?, Some(r)),
                ValueView::Ref(r) => (Vec::new(), Some(r)),
            };
            let entry = Entry { value, version: e.version, expires_at_unix_ms: e.expires_at_unix_ms, value_ref };
            Ok((e.key.to_vec(), entry))
        };
        let (tree, more) =
            crate::btree::read::chunk(&inner.pager, self.view.root, lower, upper, CHUNK, self.reverse, &mut from_tree)?;
        // One TTL "now" per chunk.
        let now_ms = self.view.inner.ttl.now_ms(&*self.view.inner.clock);
        let wanted = |value: &Entry| {
            let is_expired = value.expires_at_unix_ms.is_some_and(|t| t <= now_ms);
            match self.expired {
                Expired::Hide => !is_expired,
                Expired::Only => is_expired,
                Expired::Include => true,
            }
        };
        if sources.iter().all(|(entries, more)| entries.is_empty() && !more) {
            // Only the tree has entries here (the usual case after a
            // checkpoint): its chunk is the buffer, with no merge.
            debug_assert!(self.buffer.is_empty(), "refilled before the buffer drained");
            let last_key = if more { tree.last().map(|(k, _)| k.clone()) } else { None };
            let mut tree = tree;
            tree.retain(|(_, value)| wanted(value));
            self.buffer = VecDeque::from(tree);
            self.advance(last_key);
            return Ok(());
        }
        sources.push((tree.into_iter().map(|(key, value)| Candidate { key, value: Some(value) }).collect(), more));

        // Keys past the last key of a source that had more are not final.
        let before = |a: &[u8], b: &[u8]| if self.reverse { a > b } else { a < b };
        let cut: Option<Vec<u8>> = sources
            .iter()
            .filter(|(entries, more)| *more && !entries.is_empty())
            .filter_map(|(entries, _)| entries.last().map(|c| c.key.clone()))
            .reduce(|a, b| if before(&a, &b) { a } else { b });
        let any_more = sources.iter().any(|(_, more)| *more);

        // Merge: sources are in priority order (newest first); equal keys
        // take the first source's version. Keys move from the sources into
        // the buffer without copies.
        let mut cursors: Vec<std::vec::IntoIter<Candidate>> =
            sources.into_iter().map(|(entries, _)| entries.into_iter()).collect();
        fn head(c: &std::vec::IntoIter<Candidate>) -> Option<&[u8]> {
            c.as_slice().first().map(|cand| cand.key.as_slice())
        }
        // The last key consumed: in the buffer's back entry when
        // `last_in_buffer`, else here (a tombstone or a filtered entry).
        let mut last_key: Option<Vec<u8>> = None;
        let mut last_in_buffer = false;
        loop {
            // The first source holding the smallest key (strict `before`
            // keeps the highest-priority one among equal keys).
            let mut best: Option<(usize, &[u8])> = None;
            for (i, c) in cursors.iter().enumerate() {
                if let Some(key) = head(c)
                    && best.is_none_or(|(_, k)| before(key, k))
                {
                    best = Some((i, key));
                }
            }
            let Some((index, key)) = best else { break };
            if let Some(cut) = &cut
                && before(cut, key)
            {
                break;
            }
            let Some(chosen) = cursors.get_mut(index).and_then(Iterator::next) else { break };
            // Older versions of the same key in lower-priority sources.
            for c in cursors.iter_mut().skip(index + 1) {
                if head(c) == Some(chosen.key.as_slice()) {
                    c.next();
                }
            }
            let Candidate { key, value } = chosen;
            match value {
                Some(value) if wanted(&value) => {
                    self.buffer.push_back((key, value));
                    last_in_buffer = true;
                }
                _ => {
                    last_key = Some(key);
                    last_in_buffer = false;
                }
            }
        }
        if last_in_buffer {
            last_key = self.buffer.back().map(|(k, _)| k.clone());
        }
        self.advance(if any_more { last_key } else { None });
        Ok(())
    }

    /// Moves the range past `last_key`, the last key a refill consumed, or
    /// ends the iteration when there is none (no source has more).
    fn advance(&mut self, last_key: Option<Vec<u8>>) {
        match last_key {
            Some(k) if self.reverse => self.upper = Bound::Excluded(k),
            Some(k) => self.lower = Bound::Excluded(k),
            None => self.done = true,
        }
    }
}

impl Iter {
    /// Calls `f` with each key and value in order until it breaks (see
    /// `Db::scan_with`). The tree alone answers the range up to the first
    /// key any memtable holds (a version or a deletion visible at the
    /// snapshot): there `f` gets keys and values straight from the cached
    /// pages. From that key on, this iterator (merging, copying) goes on,
    /// at the same snapshot.
    pub(crate) fn visit(mut self, f: &mut PairVisitor<'_>) -> Result<()> {
        self.view.inner.check_poison()?;
        let boundary = {
            let (lower, upper) = (as_ref(&self.lower), as_ref(&self.upper));
            let firsts = std::iter::once(&self.view.active)
                .chain(self.view.frozen.as_ref())
                .filter_map(|mem| mem.chunk(lower, upper, self.view.snapshot, 1, self.reverse).0.into_iter().next())
                .map(|e| e.key);
            if self.reverse { firsts.max() } else { firsts.min() }
        };
        let (from, to) = match (&boundary, self.reverse) {
            (Some(b), false) => (as_ref(&self.lower), Bound::Excluded(b.as_slice())),
            (Some(b), true) => (Bound::Excluded(b.as_slice()), as_ref(&self.upper)),
            (None, _) => (as_ref(&self.lower), as_ref(&self.upper)),
        };
        let now_ms = self.view.inner.ttl.now_ms(&*self.view.inner.clock);
        let inner = &self.view.inner;
        let mut in_place = |e: EntryRef<'_>| -> Result<ControlFlow<()>> {
            if e.expires_at_unix_ms.is_some_and(|t| t <= now_ms) {
                return Ok(ControlFlow::Continue(()));
            }
            Ok(match e.value {
                ValueView::Inline(v) => f(e.key, v),
                ValueView::Ref(r) => f(e.key, &inner.vlog.read(e.key, &r)?),
            })
        };
        let flow = crate::btree::read::for_each(&inner.pager, self.view.root, from, to, self.reverse, &mut in_place)?;
        let Some(boundary) = boundary else { return Ok(()) };
        if flow.is_break() {
            return Ok(());
        }
        // The rest merges the memtables in: from the boundary on.
        if self.reverse {
            self.upper = Bound::Included(boundary);
        } else {
            self.lower = Bound::Included(boundary);
        }
        for pair in self {
            let (key, value) = pair?;
            if f(&key, &value).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// Stops reading values from the value log: entries stored there come
    /// with an empty value and their reference.
    pub(crate) fn without_values(mut self) -> Iter {
        self.resolve = false;
        self
    }

    /// The next key with its value, version and expiry.
    pub fn next_entry(&mut self) -> Option<Result<(Vec<u8>, Entry)>> {
        loop {
            if let Some(pair) = self.buffer.pop_front() {
                return Some(Ok(pair));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.view.inner.check_poison().and_then(|()| self.refill()) {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().map(|r| r.map(|(k, e)| (k, e.value)))
    }
}
