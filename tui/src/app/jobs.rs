//! Background loading: what needs a full scan (every page's class, the
//! ownership walks, the WAL and value-log scans) runs on one thread and
//! reports through a channel, so the first screen shows at once and the
//! figures fill in.
//!
//! The thread stops as soon as its receiver is dropped (on refresh or
//! exit): every send is checked.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use jubilant_format::{PageId, Slot};

use crate::model::dir::DataDir;
use crate::model::ownership::{self, Ownership};
use crate::model::page::{PageClass, classify};
use crate::model::vlog::{self, VlogModel};
use crate::model::wal::{self, WalModel};

/// Pages classified per message (and per read of the page file).
pub const PAGES_PER_CHUNK: u64 = 256;

/// A result of the background loader.
#[derive(Debug)]
pub enum Loaded {
    /// The ownership walk of one slot.
    Ownership(Box<Ownership>),
    /// The WAL timeline.
    Wal(Box<WalModel>),
    /// The value log.
    Vlog(Box<VlogModel>),
    /// Classes of pages `start ..`, each with the decoder's error when
    /// corrupt.
    Pages {
        /// First page of the chunk.
        start: u64,
        /// Class and error of each page.
        classes: Vec<(PageClass, Option<String>)>,
    },
    /// Everything is loaded.
    Done,
    /// The loader panicked (a bug, reported rather than lost).
    Failed(String),
}

/// Starts the loader for `dir`.
#[must_use]
pub fn spawn(dir: Arc<DataDir>) -> Receiver<Loaded> {
    let (tx, rx) = channel();
    // If the thread cannot start, `tx` is dropped with the closure and the
    // receiver reports a disconnected channel, which the state shows.
    let _ = std::thread::Builder::new().name("jubilant-tui-loader".into()).spawn(move || run(&dir, &tx));
    rx
}

/// Runs every job on the calling thread (tests, and `spawn`'s thread).
/// Returns early when `tx`'s receiver is gone.
pub fn run(dir: &DataDir, tx: &Sender<Loaded>) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_jobs(dir, tx)));
    if let Err(panic) = outcome {
        let _ = tx.send(Loaded::Failed(panic_message(&*panic)));
    }
}

/// The message of a panic payload.
#[must_use]
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

fn run_jobs(dir: &DataDir, tx: &Sender<Loaded>) -> Result<(), std::sync::mpsc::SendError<Loaded>> {
    let current = dir.current_slot();
    let slots: Vec<Slot> = current.into_iter().chain(current.map(Slot::other)).collect();
    let pages = dir.shown_pages();
    // The current slot's ownership first: the page map colours free pages.
    if let Some(slot) = current
        && let Some(sb) = dir.superblock(slot)
    {
        tx.send(Loaded::Ownership(Box::new(ownership::walk(dir, slot, &sb, pages))))?;
    }
    let checkpoints: Vec<_> = [jubilant_format::Slot::A, jubilant_format::Slot::B]
        .into_iter()
        .filter_map(|s| dir.superblock(s).map(|sb| (s, sb.checkpoint_lsn, Some(s) == current)))
        .collect();
    tx.send(Loaded::Wal(Box::new(wal::scan(dir, &checkpoints))))?;
    tx.send(Loaded::Vlog(Box::new(vlog::scan(dir))))?;
    for slot in slots.iter().skip(1) {
        if let Some(sb) = dir.superblock(*slot) {
            tx.send(Loaded::Ownership(Box::new(ownership::walk(dir, *slot, &sb, pages))))?;
        }
    }
    let mut start = 0;
    while start < pages {
        let count = PAGES_PER_CHUNK.min(pages - start);
        tx.send(Loaded::Pages { start, classes: classify_chunk(dir, start, count) })?;
        start += count;
    }
    tx.send(Loaded::Done)
}

fn classify_chunk(dir: &DataDir, start: u64, count: u64) -> Vec<(PageClass, Option<String>)> {
    let page_size = dir.page_size;
    let size = page_size.bytes();
    let bytes = dir.read_pages_raw(PageId(start).offset(page_size), size * count as usize);
    (start..start + count)
        .map(|id| {
            if id < 2 {
                return superblock_class(dir, id);
            }
            let at = (id - start) as usize * size;
            match &bytes {
                Ok(bytes) => {
                    let page = bytes.get(at..(at + size).min(bytes.len())).unwrap_or_default();
                    classify(PageId(id), page, page_size)
                }
                Err(e) => (PageClass::Corrupt, Some(e.clone())),
            }
        })
        .collect()
}

fn superblock_class(dir: &DataDir, id: u64) -> (PageClass, Option<String>) {
    let slot = if id == 0 { Slot::A } else { Slot::B };
    match dir.slot(slot) {
        Some(info) => match &info.decoded {
            Ok(_) => (PageClass::Superblock, None),
            Err(_) if info.is_zeroed() => (PageClass::Superblock, Some("slot never written".into())),
            Err(e) => (PageClass::Corrupt, Some(e.to_string())),
        },
        None => (PageClass::Corrupt, Some("not read".into())),
    }
}
