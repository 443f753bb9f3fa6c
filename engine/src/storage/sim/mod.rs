//! [`SimStorage`]: an in-memory [`Storage`] that models power loss and
//! injects I/O errors, for crash tests. Modelled on SQLite's crash VFS
//! (`src/test6.c`) and FoundationDB's `AsyncFileNonDurable`.
//!
//! Each file keeps a *durable image* and the ordered ops written since its
//! last `sync`; reads see the volatile state (durable plus pending). Each
//! directory change (create, rename, remove) applies to the volatile names
//! at once and becomes durable on `sync_dir` of its parent. A crash
//! ([`SimStorage::crash`]) rebuilds every file from its durable image plus a
//! [`CrashMode`]-chosen selection of its pending ops, and the names from
//! the durable entries (plus, in `RandomSubset` mode only, a random prefix
//! of the unsynced changes, as a journal might have committed). A file no
//! surviving name refers to is gone.
//!
//! A crash is reached in two steps: a trigger ([`SimStorage::set_crash_after`],
//! [`SimStorage::set_crash_after_op`]) *halts* the storage at a chosen call,
//! which is not performed, and every later call fails with an error whose
//! message contains "simulated crash". Then the test calls `crash(mode)`,
//! which materialises the post-crash disk and resumes service like a freshly
//! mounted disk: every handle opened before it fails from then on, every
//! lock is released, and armed faults and triggers are cleared. The caller
//! reopens its files. Directories (`create_dir_all`) are durable at once.
//!
//! Determinism: all randomness comes from one [`SimRng`] seeded in
//! [`SimStorage::new`], so the same seed and the same sequence of calls give
//! the same results. Calls from several threads interleave as scheduled, so
//! a deterministic test drives the storage from one thread at a time.
//!
//! Memory of removed files is reclaimed at the next crash, not before.

mod crash;
mod fault;
mod file;
mod namespace;
mod rng;

pub use crash::{CrashMode, SECTOR_BYTES};
pub use fault::{Fault, FaultKind};
pub use file::SIM_FILE_BYTES_MAX;
pub use rng::SimRng;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{LockGuard, Storage, StorageFile};
use crash::surviving_image;
use file::SimFile;
use namespace::{DirOp, FileId, Namespace, normalize, parent};

/// `EBADF` on Linux: what writing through a read-only descriptor returns.
const EBADF: i32 = 9;

/// The simulated disk. Clones share one disk.
#[derive(Clone)]
pub struct SimStorage {
    state: Arc<Mutex<State>>,
}

/// Every storage call, as counted and as faults see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Create,
    Open,
    Rename,
    Remove,
    SyncDir,
    CreateDirAll,
    ListDir,
    Exists,
    TryLock,
    ReadAt,
    WriteAt,
    Sync,
    Len,
    SetLen,
}

impl Call {
    /// Sync points are the calls `set_crash_after` counts: the ones after
    /// which durable state may differ.
    fn is_sync_point(self) -> bool {
        matches!(self, Self::Sync | Self::SyncDir | Self::Rename)
    }
}

/// The whole disk, behind one mutex.
#[derive(Debug)]
struct State {
    rng: SimRng,
    /// Every file any name, handle or durable entry may refer to.
    files: BTreeMap<FileId, SimFile>,
    next_file_id: u64,
    namespace: Namespace,
    /// Locked paths, each with the id of the guard holding it.
    locks: BTreeMap<PathBuf, u64>,
    next_lock_id: u64,
    /// Bumped by each crash; handles from an older epoch are dead.
    epoch: u64,
    /// Calls counted so far (the last call's 1-based number).
    calls: u64,
    /// Sync points counted so far.
    sync_points: u64,
    /// Halt at this sync point number, if set.
    halt_at_sync_point: Option<u64>,
    /// Halt at this call number, if set.
    halt_at_call: Option<u64>,
    /// Set when a trigger fires; cleared by `crash`.
    halted: bool,
    faults: fault::Faults,
}

fn halted_error() -> io::Error {
    io::Error::other("simulated crash: storage halted until SimStorage::crash")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{}: no such simulated file", path.display()))
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// Counts a call, halts it if a crash trigger fires, and returns the
    /// fault that hits it, if any. Calls while halted are not counted.
    fn begin(&mut self, call: Call) -> io::Result<Option<FaultKind>> {
        if self.halted {
            return Err(halted_error());
        }
        self.calls += 1;
        let mut halt = self.halt_at_call.is_some_and(|target| self.calls >= target);
        if call.is_sync_point() {
            self.sync_points += 1;
            halt |= self.halt_at_sync_point.is_some_and(|target| self.sync_points >= target);
        }
        if halt {
            self.halted = true;
            return Err(halted_error());
        }
        Ok(self.faults.fire(self.calls))
    }

    /// Like `begin`, failing the call with any fault that hits it.
    fn begin_plain(&mut self, call: Call) -> io::Result<()> {
        match self.begin(call)? {
            Some(fault) => Err(fault.error()),
            None => Ok(()),
        }
    }

    fn file_mut(&mut self, id: FileId) -> &mut SimFile {
        let Some(file) = self.files.get_mut(&id) else {
            unreachable!("file {id:?} is referenced but missing");
        };
        file
    }

    /// Fails unless `path` may name a file: its parent is a directory and
    /// it is not one itself.
    fn check_file_path(&self, path: &Path) -> io::Result<()> {
        if !self.namespace.is_dir(parent(path)) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: parent directory does not exist", path.display()),
            ));
        }
        if self.namespace.is_dir(path) {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, format!("{} is a directory", path.display())));
        }
        Ok(())
    }

    /// The file `path` names, creating an empty one if there is none.
    fn lookup_or_create(&mut self, path: &Path) -> FileId {
        if let Some(id) = self.namespace.lookup(path) {
            return id;
        }
        let id = FileId(self.next_file_id);
        self.next_file_id += 1;
        self.files.insert(id, SimFile::default());
        self.namespace.push(DirOp::link(path.to_path_buf(), id));
        id
    }

    fn check_invariants(&self) {
        self.namespace.check_invariants();
        for id in self.namespace.referenced() {
            assert!(self.files.contains_key(&id), "name refers to missing file {id:?}");
        }
        for file in self.files.values() {
            file.check_invariants();
        }
        if self.halted {
            let by_call = self.halt_at_call.is_some();
            let by_sync_point = self.halt_at_sync_point.is_some();
            assert!(by_call || by_sync_point, "halted without a trigger");
        }
    }
}

impl SimStorage {
    /// An empty disk whose every random choice follows from `seed`.
    pub fn new(seed: u64) -> Self {
        let state = State {
            rng: SimRng::new(seed),
            files: BTreeMap::new(),
            next_file_id: 0,
            namespace: Namespace::default(),
            locks: BTreeMap::new(),
            next_lock_id: 0,
            epoch: 0,
            calls: 0,
            sync_points: 0,
            halt_at_sync_point: None,
            halt_at_call: None,
            halted: false,
            faults: fault::Faults::default(),
        };
        Self { state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Simulates power loss and remount; see the module docs. Clears the
    /// halted state, crash triggers and armed faults; keeps the counters.
    pub fn crash(&self, mode: CrashMode) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let kept_dir_ops = if mode.keeps_dir_ops() { state.rng.prefix_len(state.namespace.pending_len()) } else { 0 };
        state.namespace.crash(kept_dir_ops);
        let live = state.namespace.referenced();
        let mut survivors = BTreeMap::new();
        for (id, file) in &state.files {
            if live.contains(id) {
                let image = surviving_image(file, mode, &mut state.rng);
                survivors.insert(*id, SimFile::with_image(image));
            }
        }
        state.files = survivors;
        state.locks.clear();
        state.epoch += 1;
        state.halted = false;
        state.halt_at_call = None;
        state.halt_at_sync_point = None;
        state.faults.clear();
        state.check_invariants();
    }

    /// Crashes in a mode drawn from the disk's generator; returns the mode.
    pub fn crash_random(&self) -> CrashMode {
        let mode = CrashMode::from_rng(&mut self.lock().rng);
        self.crash(mode);
        mode
    }

    /// Halts the storage at the `n`-th sync point (file `sync`, `sync_dir`
    /// or `rename`) counted from now, `n >= 1`; that call is not performed.
    pub fn set_crash_after(&self, n: u64) {
        assert!(n >= 1, "sync points are counted from 1");
        let mut state = self.lock();
        state.halt_at_sync_point = Some(state.sync_points + n);
    }

    /// Halts the storage at the `n`-th call of any kind counted from now,
    /// `n >= 1`; that call is not performed.
    pub fn set_crash_after_op(&self, n: u64) {
        assert!(n >= 1, "calls are counted from 1");
        let mut state = self.lock();
        state.halt_at_call = Some(state.calls + n);
    }

    /// Sync points counted since `new` (never reset).
    pub fn sync_point_count(&self) -> u64 {
        self.lock().sync_points
    }

    /// Calls counted since `new` (never reset): every `Storage` and
    /// `StorageFile` method call, including reads, except those made while
    /// halted. [`Fault::at_call`] refers to this numbering.
    pub fn call_count(&self) -> u64 {
        self.lock().calls
    }

    /// Whether a crash trigger has halted the storage.
    pub fn is_halted(&self) -> bool {
        self.lock().halted
    }

    /// Arms a fault. Faults are checked in injection order; the first that
    /// hits a call decides how it fails.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.inject(fault);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The current (volatile) contents of the file at `path`.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.lock();
        let id = state.namespace.lookup(&normalize(path))?;
        state.files.get(&id).map(|file| file.volatile.clone())
    }

    /// The contents a `KeepNothing` crash would leave at `path`: the durable
    /// image of the file the durable entry names.
    pub fn durable_contents(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.lock();
        let id = state.namespace.durable_lookup(&normalize(path))?;
        state.files.get(&id).map(|file| file.durable.clone())
    }

    /// The paths of every file now, sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        self.lock().namespace.paths()
    }

    /// Asserts the simulator's internal invariants (for tests and fuzzers).
    pub fn check_invariants(&self) {
        self.lock().check_invariants();
    }

    fn handle(&self, state: &State, id: FileId, path: PathBuf, writable: bool) -> Arc<dyn StorageFile> {
        Arc::new(SimHandle { state: Arc::clone(&self.state), id, epoch: state.epoch, writable, path })
    }

    fn open_with(&self, path: &Path, writable: bool) -> io::Result<Arc<dyn StorageFile>> {
        let path = normalize(path);
        let mut state = self.lock();
        state.begin_plain(Call::Open)?;
        state.check_file_path(&path)?;
        let id = state.namespace.lookup(&path).ok_or_else(|| not_found(&path))?;
        Ok(self.handle(&state, id, path, writable))
    }
}

impl fmt::Debug for SimStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("SimStorage");
        // `try_lock` so that formatting can never deadlock.
        if let Ok(state) = self.state.try_lock() {
            out.field("calls", &state.calls)
                .field("sync_points", &state.sync_points)
                .field("files", &state.files.len())
                .field("halted", &state.halted);
        }
        out.finish_non_exhaustive()
    }
}

impl Storage for SimStorage {
    fn create(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        let path = normalize(path);
        let mut state = self.lock();
        state.begin_plain(Call::Create)?;
        state.check_file_path(&path)?;
        let id = match state.namespace.lookup(&path) {
            // Truncation keeps the file; the entry needs no change.
            Some(id) => {
                state.file_mut(id).set_len(0)?;
                id
            }
            None => state.lookup_or_create(&path),
        };
        Ok(self.handle(&state, id, path, true))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        self.open_with(path, true)
    }

    fn open_read_only(&self, path: &Path) -> io::Result<Arc<dyn StorageFile>> {
        self.open_with(path, false)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (normalize(from), normalize(to));
        let mut state = self.lock();
        state.begin_plain(Call::Rename)?;
        let id = state.namespace.lookup(&from).ok_or_else(|| not_found(&from))?;
        state.check_file_path(&to)?;
        if from != to {
            state.namespace.push(DirOp::rename(from, to, id));
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut state = self.lock();
        state.begin_plain(Call::Remove)?;
        state.namespace.lookup(&path).ok_or_else(|| not_found(&path))?;
        state.namespace.push(DirOp::unlink(path));
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let dir = normalize(dir);
        let mut state = self.lock();
        state.begin_plain(Call::SyncDir)?;
        if !state.namespace.is_dir(&dir) {
            return Err(not_found(&dir));
        }
        state.namespace.sync_dir(&dir);
        Ok(())
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let dir = normalize(dir);
        let mut state = self.lock();
        state.begin_plain(Call::CreateDirAll)?;
        if let Some(file) = dir.ancestors().find(|path| state.namespace.lookup(path).is_some()) {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, format!("{} is a file", file.display())));
        }
        state.namespace.create_dir_all(&dir);
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let dir = normalize(dir);
        let mut state = self.lock();
        state.begin_plain(Call::ListDir)?;
        if !state.namespace.is_dir(&dir) {
            return Err(not_found(&dir));
        }
        Ok(state.namespace.list(&dir))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let path = normalize(path);
        let mut state = self.lock();
        state.begin_plain(Call::Exists)?;
        Ok(state.namespace.lookup(&path).is_some() || state.namespace.is_dir(&path))
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        let path = normalize(path);
        let mut state = self.lock();
        state.begin_plain(Call::TryLock)?;
        state.check_file_path(&path)?;
        state.lookup_or_create(&path);
        if state.locks.contains_key(&path) {
            return Ok(None);
        }
        let id = state.next_lock_id;
        state.next_lock_id += 1;
        state.locks.insert(path.clone(), id);
        let token = SimLockToken { state: Arc::clone(&self.state), path, id };
        Ok(Some(LockGuard::new(Box::new(token))))
    }
}

/// Releases a simulated lock when dropped, unless a crash already did.
struct SimLockToken {
    state: Arc<Mutex<State>>,
    path: PathBuf,
    id: u64,
}

impl Drop for SimLockToken {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        if state.locks.get(&self.path) == Some(&self.id) {
            state.locks.remove(&self.path);
        }
    }
}

/// An open simulated file. It refers to the file, not the name, so it keeps
/// working after the name is renamed or removed, until the next crash.
struct SimHandle {
    state: Arc<Mutex<State>>,
    id: FileId,
    /// The crash epoch the handle was opened in.
    epoch: u64,
    writable: bool,
    /// The name it was opened by, for `Debug`.
    path: PathBuf,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle").field("path", &self.path).field("writable", &self.writable).finish_non_exhaustive()
    }
}

impl SimHandle {
    /// Counts the call and checks the handle survived every crash.
    fn begin(&self, call: Call) -> io::Result<(MutexGuard<'_, State>, Option<FaultKind>)> {
        let mut state = lock(&self.state);
        let fault = state.begin(call)?;
        if state.epoch != self.epoch {
            return Err(io::Error::other(format!("{}: handle opened before a simulated crash", self.path.display())));
        }
        Ok((state, fault))
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.writable { Ok(()) } else { Err(io::Error::from_raw_os_error(EBADF)) }
    }
}

impl StorageFile for SimHandle {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let (mut state, fault) = self.begin(Call::ReadAt)?;
        if let Some(fault) = fault {
            return Err(fault.error());
        }
        Ok(state.file_mut(self.id).read(buf, offset))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let (mut state, fault) = self.begin(Call::WriteAt)?;
        match fault {
            Some(FaultKind::ShortWrite) => {
                self.check_writable()?;
                // A random proper prefix: possibly empty, never all of `buf`.
                let written = match buf.len() as u64 {
                    0 => 0,
                    len => state.rng.below(len),
                };
                let prefix = buf.get(..usize::try_from(written).unwrap_or(0)).unwrap_or_default();
                if !prefix.is_empty() {
                    state.file_mut(self.id).write(prefix, offset)?;
                }
                Err(io::Error::new(io::ErrorKind::WriteZero, "simulated short write"))
            }
            Some(fault) => Err(fault.error()),
            None => {
                self.check_writable()?;
                state.file_mut(self.id).write(buf, offset)
            }
        }
    }

    fn sync(&self) -> io::Result<()> {
        let (mut state, fault) = self.begin(Call::Sync)?;
        match fault {
            Some(FaultKind::FsyncError) => {
                let file = state.file_mut(self.id);
                file.drop_pending();
                Err(FaultKind::FsyncError.error())
            }
            Some(fault) => Err(fault.error()),
            None => {
                state.file_mut(self.id).sync();
                Ok(())
            }
        }
    }

    fn len(&self) -> io::Result<u64> {
        let (mut state, fault) = self.begin(Call::Len)?;
        if let Some(fault) = fault {
            return Err(fault.error());
        }
        Ok(state.file_mut(self.id).volatile.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let (mut state, fault) = self.begin(Call::SetLen)?;
        if let Some(fault) = fault {
            return Err(fault.error());
        }
        self.check_writable()?;
        state.file_mut(self.id).set_len(len)
    }
}
