//! What power loss leaves of a file: its durable image plus a
//! [`CrashMode`]-dependent selection of its pending ops.

use super::file::{FileOp, SimFile, apply, write_bytes};
use super::rng::SimRng;

/// The unit a disk writes atomically. A torn write tears at these
/// boundaries, counted from the start of the file.
pub const SECTOR_BYTES: usize = 512;

/// Which of a file's unsynced operations survive a simulated crash.
///
/// Every op that survives is applied in its original order. The choices are
/// made per file, from the simulator's seeded generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashMode {
    /// Only durable state survives: no pending op, no unsynced entry.
    KeepNothing,
    /// A random prefix of each file's pending ops survives (an in-order
    /// writeback interrupted).
    KeepPrefix,
    /// Each pending op survives independently with probability 1/2 (an
    /// elevator reordering writes). Unsynced directory changes survive as a
    /// random prefix in this mode only (a journal that committed some of
    /// them).
    RandomSubset,
    /// A random prefix survives and, if the next pending op is a write, it
    /// is torn: each [`SECTOR_BYTES`] sector it touches is written with
    /// probability 1/2; a torn-off sector keeps its old bytes, or reads as
    /// zeros, or as garbage (1/6 each). Only the written range is damaged:
    /// bytes outside it are safe ("powersafe overwrite", as SQLite assumes).
    TornWrite,
    /// Every pending length change survives but no written byte does: the
    /// file grows to where pending writes would extend it, with zeros (ext4
    /// `data=writeback` after a metadata commit).
    LengthWithoutContents,
}

impl CrashMode {
    /// Every mode, in declaration order.
    pub const ALL: [Self; 5] =
        [Self::KeepNothing, Self::KeepPrefix, Self::RandomSubset, Self::TornWrite, Self::LengthWithoutContents];

    /// A mode chosen from `seed` (uniformly, deterministically).
    pub fn from_seed(seed: u64) -> Self {
        Self::from_rng(&mut SimRng::new(seed))
    }

    /// A mode chosen with `rng`.
    pub fn from_rng(rng: &mut SimRng) -> Self {
        let count = Self::ALL.len() as u64;
        let index = usize::try_from(rng.below(count)).unwrap_or(0);
        Self::ALL.get(index).copied().unwrap_or(Self::KeepNothing)
    }

    /// Whether unsynced directory changes may survive in this mode.
    pub(super) fn keeps_dir_ops(self) -> bool {
        self == Self::RandomSubset
    }
}

/// The image `file` has after a crash in `mode`.
pub(super) fn surviving_image(file: &SimFile, mode: CrashMode, rng: &mut SimRng) -> Vec<u8> {
    let mut image = file.durable.clone();
    let ops = &file.pending;
    match mode {
        CrashMode::KeepNothing => {}
        CrashMode::KeepPrefix => {
            let kept = rng.prefix_len(ops.len());
            for op in ops.iter().take(kept) {
                apply(&mut image, op);
            }
        }
        CrashMode::RandomSubset => {
            for op in ops {
                if rng.coin() {
                    apply(&mut image, op);
                }
            }
        }
        CrashMode::TornWrite => {
            let kept = rng.prefix_len(ops.len());
            for op in ops.iter().take(kept) {
                apply(&mut image, op);
            }
            if let Some(FileOp::Write { offset, data }) = ops.get(kept) {
                tear(&mut image, *offset, data, rng);
            }
        }
        CrashMode::LengthWithoutContents => {
            for op in ops {
                match op {
                    FileOp::Write { offset, data } => {
                        let end = offset + data.len();
                        if image.len() < end {
                            image.resize(end, 0);
                        }
                    }
                    FileOp::SetLen(_) => apply(&mut image, op),
                }
            }
        }
    }
    image
}

/// Applies a write of `data` at `offset` sector by sector, each sector
/// written, kept old, zeroed or filled with garbage at random. The file's
/// length grows to cover the write whatever happens to its sectors.
fn tear(image: &mut Vec<u8>, offset: usize, data: &[u8], rng: &mut SimRng) {
    let end = offset + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    let mut sector_start = offset - offset % SECTOR_BYTES;
    while sector_start < end {
        let low = sector_start.max(offset);
        let high = (sector_start + SECTOR_BYTES).min(end);
        match rng.below(6) {
            0..=2 => {
                if let Some(new) = data.get(low - offset..high - offset) {
                    write_bytes(image, low, new);
                }
            }
            3 => {}
            4 => write_bytes(image, low, &vec![0; high - low]),
            _ => {
                let mut garbage = vec![0; high - low];
                rng.fill(&mut garbage);
                write_bytes(image, low, &garbage);
            }
        }
        sector_start += SECTOR_BYTES;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_seed_reaches_every_mode() {
        for mode in CrashMode::ALL {
            assert!((0..200).any(|seed| CrashMode::from_seed(seed) == mode), "{mode:?} never chosen");
        }
    }

    #[test]
    fn tear_damages_only_the_written_range() {
        for seed in 0..50 {
            let mut image = vec![7u8; 2048];
            tear(&mut image, 100, &[1u8; 1000], &mut SimRng::new(seed));
            assert_eq!(image.len(), 2048);
            assert!(image.get(..100).unwrap().iter().all(|&b| b == 7));
            assert!(image.get(1100..).unwrap().iter().all(|&b| b == 7));
        }
    }
}
