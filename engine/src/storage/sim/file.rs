//! One simulated file (an inode, independent of its names): the image that
//! survives power loss, the image reads see, and the operations between them.
//!
//! **Invariant:** `volatile` equals `durable` with every op in `pending`
//! applied in order ([`SimFile::check_invariants`]).

use std::io;

/// The largest file the simulator holds, so that an engine bug writing at a
/// wild offset fails with `FileTooLarge` instead of exhausting memory.
pub const SIM_FILE_BYTES_MAX: u64 = 1 << 30;

/// A modification not yet made durable by `sync`.
#[derive(Debug, Clone)]
pub(super) enum FileOp {
    /// `data` written at `offset`, extending the file if needed.
    Write { offset: usize, data: Vec<u8> },
    /// Truncation or zero-extension to this length.
    SetLen(usize),
}

/// A file's contents as power loss would see them and as reads see them.
#[derive(Debug, Clone, Default)]
pub(super) struct SimFile {
    /// What survives a crash that keeps none of the pending ops.
    pub(super) durable: Vec<u8>,
    /// What reads return: `durable` plus every pending op.
    pub(super) volatile: Vec<u8>,
    /// Ops since the last successful sync, oldest first.
    pub(super) pending: Vec<FileOp>,
}

impl SimFile {
    /// A file that exists only with `image` as both durable and volatile state.
    pub(super) fn with_image(image: Vec<u8>) -> Self {
        Self { durable: image.clone(), volatile: image, pending: Vec::new() }
    }

    /// Reads from the volatile image; returns the bytes read.
    pub(super) fn read(&self, buf: &mut [u8], offset: u64) -> usize {
        let Ok(start) = usize::try_from(offset) else {
            return 0;
        };
        let Some(source) = self.volatile.get(start..) else {
            return 0;
        };
        let count = source.len().min(buf.len());
        match (buf.get_mut(..count), source.get(..count)) {
            (Some(dst), Some(src)) => dst.copy_from_slice(src),
            _ => unreachable!("count is within both slices"),
        }
        count
    }

    /// Records and applies a write of `data` at `offset`.
    pub(super) fn write(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        let offset = checked_range(offset, data.len())?;
        let op = FileOp::Write { offset, data: data.to_vec() };
        apply(&mut self.volatile, &op);
        self.pending.push(op);
        Ok(())
    }

    /// Records and applies a length change.
    pub(super) fn set_len(&mut self, len: u64) -> io::Result<()> {
        let len = checked_range(len, 0)?;
        let op = FileOp::SetLen(len);
        apply(&mut self.volatile, &op);
        self.pending.push(op);
        Ok(())
    }

    /// Makes every pending op durable.
    pub(super) fn sync(&mut self) {
        for op in self.pending.drain(..) {
            apply(&mut self.durable, &op);
        }
        debug_assert_eq!(self.durable, self.volatile);
    }

    /// Throws the pending ops away, as Linux does with the dirty pages of a
    /// file whose writeback failed: later reads see the durable image.
    pub(super) fn drop_pending(&mut self) {
        self.pending.clear();
        self.volatile.clone_from(&self.durable);
    }

    /// Asserts that `volatile` is `durable` plus the pending ops.
    pub(super) fn check_invariants(&self) {
        let mut replayed = self.durable.clone();
        for op in &self.pending {
            apply(&mut replayed, op);
        }
        assert!(replayed == self.volatile, "volatile image differs from durable + pending ops");
        assert!(self.volatile.len() as u64 <= SIM_FILE_BYTES_MAX, "file exceeds SIM_FILE_BYTES_MAX");
    }
}

/// Converts a position and length to a `usize` offset, refusing anything
/// that would end past [`SIM_FILE_BYTES_MAX`].
fn checked_range(offset: u64, len: usize) -> io::Result<usize> {
    let end = offset.checked_add(len as u64);
    match end {
        Some(end) if end <= SIM_FILE_BYTES_MAX => {
            usize::try_from(offset).map_err(|_| io::Error::new(io::ErrorKind::FileTooLarge, "offset exceeds usize"))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("simulated file would exceed {SIM_FILE_BYTES_MAX} bytes"),
        )),
    }
}

/// Applies one op to an image.
pub(super) fn apply(image: &mut Vec<u8>, op: &FileOp) {
    match op {
        FileOp::Write { offset, data } => write_bytes(image, *offset, data),
        FileOp::SetLen(len) => image.resize(*len, 0),
    }
}

/// Copies `data` into `image` at `offset`, zero-extending `image` first if
/// it is too short.
pub(super) fn write_bytes(image: &mut Vec<u8>, offset: usize, data: &[u8]) {
    let end = offset + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    let Some(destination) = image.get_mut(offset..end) else {
        unreachable!("the image was just extended to cover the write");
    };
    destination.copy_from_slice(data);
}
