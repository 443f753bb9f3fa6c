//! Injected I/O faults: which call fails, and how.

use std::io;

/// `EIO` on Linux.
const EIO: i32 = 5;
/// `ENOSPC` on Linux.
const ENOSPC: i32 = 28;

/// How an injected fault fails the call it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The call fails with `EIO` (raw OS error 5) and has no effect.
    Eio,
    /// The call fails with `ENOSPC` (raw OS error 28,
    /// `ErrorKind::StorageFull`) and has no effect.
    Enospc,
    /// `write_at` writes a random prefix (possibly empty, never all) of its
    /// buffer, then fails with `ErrorKind::WriteZero`. Other calls fail as
    /// [`FaultKind::Eio`].
    ShortWrite,
    /// `sync` fails with `EIO` and, as Linux does after failed writeback,
    /// drops the file's unsynced writes: reads then see the durable image,
    /// and the next `sync` succeeds with nothing to write (fsyncgate).
    /// `sync_dir` fails with `EIO`, its pending entries staying pending
    /// (a crash may or may not keep them). Other calls fail as
    /// [`FaultKind::Eio`].
    FsyncError,
}

impl FaultKind {
    /// The error this fault returns, for calls without special behaviour.
    pub(super) fn error(self) -> io::Error {
        match self {
            Self::Enospc => io::Error::from_raw_os_error(ENOSPC),
            Self::Eio | Self::ShortWrite | Self::FsyncError => io::Error::from_raw_os_error(EIO),
        }
    }
}

/// A fault to inject at a given storage call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The 1-based number of the call to fail, counted as
    /// [`SimStorage::call_count`](super::SimStorage::call_count) counts.
    pub at_call: u64,
    /// How the call fails.
    pub kind: FaultKind,
    /// If false the fault fires once, at `at_call`; if true it fails
    /// `at_call` and every later call (a dead disk).
    pub persistent: bool,
}

impl Fault {
    /// A fault that fails call number `at_call` only.
    pub fn transient(at_call: u64, kind: FaultKind) -> Self {
        Self { at_call, kind, persistent: false }
    }

    /// A fault that fails call number `at_call` and every call after it.
    pub fn persistent(at_call: u64, kind: FaultKind) -> Self {
        Self { at_call, kind, persistent: true }
    }
}

/// The armed faults.
#[derive(Debug, Default)]
pub(super) struct Faults {
    armed: Vec<Fault>,
}

impl Faults {
    pub(super) fn inject(&mut self, fault: Fault) {
        assert!(fault.at_call > 0, "calls are numbered from 1");
        self.armed.push(fault);
    }

    pub(super) fn clear(&mut self) {
        self.armed.clear();
    }

    /// The fault that hits call number `call`, if any: the first armed in
    /// injection order. A transient fault is disarmed once it fires.
    pub(super) fn fire(&mut self, call: u64) -> Option<FaultKind> {
        let index =
            self.armed.iter().position(|fault| fault.at_call == call || (fault.persistent && fault.at_call <= call))?;
        let fault = *self.armed.get(index)?;
        if !fault.persistent {
            self.armed.remove(index);
        }
        Some(fault.kind)
    }
}
