//! The simulated directory tree: which name refers to which file, durably
//! and volatilely, and the unsynced entry changes between the two.
//!
//! Paths are compared after [`normalize`] (which drops `.` components and
//! repeated or trailing separators, but does not resolve `..`).
//!
//! **Invariant:** `volatile` equals `durable` with every op in `pending`
//! applied in order. `sync_dir(d)` moves the ops touching `d` to `durable`
//! out of order; that keeps the invariant because every op that touches a
//! given path also touches its parent, so per path the order is unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// Identifies a simulated file (an inode); names map to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct FileId(pub(super) u64);

/// One unsynced directory change, applied atomically: a create or remove
/// changes one entry, a rename two.
#[derive(Debug, Clone)]
pub(super) struct DirOp {
    /// Each entry's new target; `None` removes the entry.
    changes: Vec<(PathBuf, Option<FileId>)>,
}

impl DirOp {
    /// Points `path` at `file`.
    pub(super) fn link(path: PathBuf, file: FileId) -> Self {
        Self { changes: vec![(path, Some(file))] }
    }

    /// Removes the entry `path`.
    pub(super) fn unlink(path: PathBuf) -> Self {
        Self { changes: vec![(path, None)] }
    }

    /// Points `to` at `file` and removes `from`, as one change.
    pub(super) fn rename(from: PathBuf, to: PathBuf, file: FileId) -> Self {
        Self { changes: vec![(to, Some(file)), (from, None)] }
    }

    fn touches(&self, dir: &Path) -> bool {
        self.changes.iter().any(|(path, _)| parent(path) == dir)
    }

    fn apply(&self, entries: &mut BTreeMap<PathBuf, FileId>) {
        for (path, target) in &self.changes {
            match target {
                Some(file) => entries.insert(path.clone(), *file),
                None => entries.remove(path),
            };
        }
    }
}

/// The directory tree.
#[derive(Debug, Default)]
pub(super) struct Namespace {
    /// The entries a crash keeps.
    durable: BTreeMap<PathBuf, FileId>,
    /// The entries lookups see.
    volatile: BTreeMap<PathBuf, FileId>,
    /// Entry changes not yet made durable by `sync_dir`, oldest first.
    pending: Vec<DirOp>,
    /// Directories from `create_dir_all`: durable at once and never removed.
    dirs: BTreeSet<PathBuf>,
}

impl Namespace {
    /// The file `path` names now.
    pub(super) fn lookup(&self, path: &Path) -> Option<FileId> {
        self.volatile.get(path).copied()
    }

    /// The file `path` names in durable state.
    pub(super) fn durable_lookup(&self, path: &Path) -> Option<FileId> {
        self.durable.get(path).copied()
    }

    /// Every path naming a file now, sorted.
    pub(super) fn paths(&self) -> Vec<PathBuf> {
        self.volatile.keys().cloned().collect()
    }

    /// Every file named now or in durable state.
    pub(super) fn referenced(&self) -> BTreeSet<FileId> {
        self.volatile.values().chain(self.durable.values()).copied().collect()
    }

    /// Whether `dir` is a directory. The root and the empty path (the
    /// parent of a bare file name) always are.
    pub(super) fn is_dir(&self, dir: &Path) -> bool {
        dir.as_os_str().is_empty() || dir == Path::new("/") || self.dirs.contains(dir)
    }

    /// Records `dir` and its ancestors as directories.
    pub(super) fn create_dir_all(&mut self, dir: &Path) {
        for ancestor in dir.ancestors() {
            if !self.is_dir(ancestor) {
                self.dirs.insert(ancestor.to_path_buf());
            }
        }
    }

    /// Applies `op` to the volatile entries and queues it for `sync_dir`.
    pub(super) fn push(&mut self, op: DirOp) {
        op.apply(&mut self.volatile);
        self.pending.push(op);
    }

    /// Makes every pending change touching `dir` durable.
    pub(super) fn sync_dir(&mut self, dir: &Path) {
        let (synced, rest): (Vec<DirOp>, Vec<DirOp>) = self.pending.drain(..).partition(|op| op.touches(dir));
        for op in &synced {
            op.apply(&mut self.durable);
        }
        self.pending = rest;
    }

    /// The sorted names of the files and directories directly in `dir`.
    pub(super) fn list(&self, dir: &Path) -> Vec<String> {
        let files = self.volatile.keys();
        let children = files.chain(self.dirs.iter()).filter(|path| parent(path) == dir);
        let names: BTreeSet<String> =
            children.filter_map(|path| path.file_name()).map(|name| name.to_string_lossy().into_owned()).collect();
        names.into_iter().collect()
    }

    /// Replaces the volatile entries with durable ones plus the first
    /// `kept` pending changes (clamped), as a crash does.
    pub(super) fn crash(&mut self, kept: usize) {
        for op in self.pending.iter().take(kept) {
            op.apply(&mut self.durable);
        }
        self.pending.clear();
        self.volatile.clone_from(&self.durable);
    }

    /// The number of pending changes.
    pub(super) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Asserts the module invariant.
    pub(super) fn check_invariants(&self) {
        let mut replayed = self.durable.clone();
        for op in &self.pending {
            op.apply(&mut replayed);
        }
        assert!(replayed == self.volatile, "volatile entries differ from durable + pending");
        for path in self.volatile.keys() {
            assert!(!self.dirs.contains(path), "{} is both a file and a directory", path.display());
        }
    }
}

/// `path` with `.` components, repeated and trailing separators removed.
pub(super) fn normalize(path: &Path) -> PathBuf {
    path.components().filter(|component| *component != Component::CurDir).collect()
}

/// The directory holding `path`: the empty path for a bare name.
pub(super) fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}
