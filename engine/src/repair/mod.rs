//! Offline repair of a data directory (`jubectl repair`): plan from a
//! validation, then make the smallest changes that bring the directory
//! back to a state the engine opens and `validate` passes, without losing
//! anything that was acknowledged — unless told to (`force_truncate`).
//!
//! - [`plan`]: what to do and why (the superblock kept, the WAL range
//!   replayed, the bytes and transactions cut, what is left alone).
//! - [`audit`]: the repair directory, before/after file lists.
//! - [`salvage`]: carve mode, for directories too damaged to repair.
//!
//! Protocol: take the directory's lock (refuse if a server holds it);
//! validate and plan under it; create `DIR/repair-<timestamp>/` and write
//! the before-manifest; for each action, save what it removes, fsync,
//! then change; release the lock, reopen the directory read-write with
//! the engine (replay, tree check), close; validate again; write the
//! after-manifest and the report.
//!
//! **Invariant:** a page or superblock is only written where the
//! superblock kept does not reach: a new free list goes to free pages
//! (never the old list's own pages), and the new superblock to the other
//! slot, so a crash during repair leaves the kept state intact.

pub mod audit;
pub mod plan;
pub mod salvage;

use std::path::Path;
use std::sync::Arc;

use jubilant_format::{PAGE_FILE, PageType};
use serde::Serialize;

pub use audit::{AuditDir, FileEntry, file_manifest};
pub use plan::{Action, DroppedTxn, Plan, ReplayRange, SuperblockDecision, Unrepaired};

use crate::error::{Error, Result};
use crate::layout;
use crate::options::Options;
use crate::pager::Pager;
use crate::storage::Storage;
use crate::validate::{Counts, Progress, Report, ValidateOptions, validate};

/// What to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairOptions {
    /// Plan only: change nothing, take no lock.
    pub dry_run: bool,
    /// Cut the WAL at corruption in the middle of the log too.
    pub force_truncate: bool,
    /// Delete the keys whose value reference dangles (their values are
    /// gone; the keys are listed in the report).
    pub drop_dangling: bool,
    /// Names the repair directory: `repair-<timestamp>`.
    pub timestamp: String,
}

/// How a repair ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing was wrong.
    NothingToDo,
    /// A dry run: the plan was made, nothing changed.
    Planned,
    /// Changes were made and the directory now validates clean.
    Corrected,
    /// Problems remain (some may have been corrected).
    Uncorrected,
}

/// A file moved or a tail saved into the repair directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Saved {
    /// What was saved, relative to the data directory.
    pub from: String,
    /// Where it is now, relative to the data directory.
    pub to: String,
}

/// The report of `jubectl repair` (also written as `report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    /// The data directory.
    pub dir: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// Findings before.
    pub before: Counts,
    /// The plan (carried out unless a dry run).
    pub plan: Plan,
    /// The repair directory, relative to the data directory.
    pub repair_dir: Option<String>,
    /// What was saved there.
    pub saved: Vec<Saved>,
    /// The read-write reopen: `ok`, or the engine's error.
    pub reopen: Option<String>,
    /// Validation after the repair.
    pub after: Option<Report>,
    /// Whether any change was made.
    pub changed: bool,
}

/// A document of the audit trail, for the caller to encode.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AuditDoc<'a> {
    /// `manifest-before.json` or `manifest-after.json`.
    Files(&'a [FileEntry]),
    /// `report.json`.
    Report(&'a RepairReport),
}

/// Plans and (unless `dry_run`) carries out the repair of `dir`.
/// `encode` turns audit documents into bytes (JSON).
///
/// # Errors
///
/// Operational failures: the directory is missing or locked
/// ([`Error::Locked`]), a file cannot be read or written.
pub fn repair(
    storage: Arc<dyn Storage>,
    dir: &Path,
    options: &RepairOptions,
    progress: &mut dyn FnMut(Progress),
    encode: &mut dyn FnMut(&AuditDoc<'_>) -> Vec<u8>,
) -> Result<RepairReport> {
    let lock_path = layout::lock_path(dir);
    // A dry run only reads, so it takes no lock (like validate).
    let guard = if options.dry_run {
        None
    } else {
        if !storage.exists(dir).map_err(|e| Error::io("stat", dir, e))? {
            return Err(Error::NotADatabase { path: dir.to_path_buf(), reason: "no such directory".into() });
        }
        match storage.try_lock(&lock_path).map_err(|e| Error::io("lock", &lock_path, e))? {
            Some(g) => Some(g),
            None => return Err(Error::Locked { path: lock_path }),
        }
    };
    let v = validate(&*storage, dir, ValidateOptions { deep: true }, progress)?;
    let plan = plan::plan(&*storage, &v, options.force_truncate, options.drop_dangling)?;
    let mut report = RepairReport {
        dir: dir.display().to_string(),
        dry_run: options.dry_run,
        outcome: Outcome::NothingToDo,
        before: v.report.counts,
        plan,
        repair_dir: None,
        saved: Vec::new(),
        reopen: None,
        after: None,
        changed: false,
    };
    let problems = v.report.has_problems();
    if options.dry_run || !report.plan.changes_anything() {
        report.outcome = match (options.dry_run, problems) {
            (_, false) => Outcome::NothingToDo,
            (true, true) => Outcome::Planned,
            (false, true) => Outcome::Uncorrected,
        };
        return Ok(report);
    }

    let audit = AuditDir::create(&*storage, dir, &options.timestamp)?;
    report.repair_dir = Some(audit.name.clone());
    let before = file_manifest(&*storage, dir)?;
    audit.write(&*storage, "manifest-before.json", &encode(&AuditDoc::Files(&before)))?;
    report.changed = true;
    execute(&*storage, dir, &v, &audit, &mut report)?;
    drop(guard);

    // Reopen read-write: replay, and check the tree as the engine sees it.
    let opts =
        Options { storage: Arc::clone(&storage), background: false, wal_preallocate: false, ..Options::default() };
    report.reopen = Some(match crate::Db::open(dir, opts) {
        Ok(db) => {
            if !report.plan.drop_keys.is_empty() {
                let mut batch = crate::WriteBatch::new();
                for key in &report.plan.drop_keys {
                    batch.delete(key.clone());
                }
                db.write(&batch)?;
                db.checkpoint()?;
            }
            let checked = match db.check_invariants() {
                Ok(Ok(_)) => "ok".to_owned(),
                Ok(Err(problems)) => format!("tree check failed: {}", problems.join("; ")),
                Err(e) => format!("tree check failed: {e}"),
            };
            match db.close() {
                Ok(()) => checked,
                Err(e) => format!("close failed: {e}"),
            }
        }
        Err(e) => e.to_string(),
    });
    let after = validate(&*storage, dir, ValidateOptions { deep: true }, &mut |_| {})?.report;
    report.outcome = if after.has_problems() || report.reopen.as_deref() != Some("ok") {
        Outcome::Uncorrected
    } else {
        Outcome::Corrected
    };
    report.after = Some(after);
    let after_files = file_manifest(&*storage, dir)?;
    audit.write(&*storage, "manifest-after.json", &encode(&AuditDoc::Files(&after_files)))?;
    audit.write(&*storage, "report.json", &encode(&AuditDoc::Report(&report)))?;
    Ok(report)
}

/// Carries out the plan's actions in order, saving first what each
/// removes.
fn execute(
    storage: &dyn Storage,
    dir: &Path,
    v: &crate::validate::Validation,
    audit: &AuditDir,
    report: &mut RepairReport,
) -> Result<()> {
    let page_path = layout::page_file(dir);
    let page_size = v.state.page_size;
    let open_pages = || storage.open(&page_path).map_err(|e| Error::io("open", &page_path, e));
    for action in report.plan.actions.clone() {
        match action {
            Action::TruncateWal { file, offset, .. } | Action::TruncateVlog { file, offset, .. } => {
                let to = audit.save_tail(storage, &file, offset)?;
                report.saved.push(Saved { from: format!("{file} from offset {offset}"), to });
                let path = dir.join(&file);
                let f = storage.open(&path).map_err(|e| Error::io("open", &path, e))?;
                f.set_len(offset).map_err(|e| Error::io("truncate", &path, e))?;
                f.sync().map_err(|e| Error::io("fsync", &path, e))?;
            }
            Action::MoveWalSegment { file, .. } => {
                let to = audit.move_in(storage, &file)?;
                report.saved.push(Saved { from: file, to });
            }
            Action::ExtendPageFile { to_pages, .. } => {
                let f = open_pages()?;
                f.set_len(to_pages * u64::from(page_size.get())).map_err(|e| Error::io("resize", &page_path, e))?;
                f.sync().map_err(|e| Error::io("fsync", &page_path, e))?;
            }
            Action::TruncatePageFile { offset, .. } => {
                let to = audit.save_tail(storage, PAGE_FILE, offset)?;
                report.saved.push(Saved { from: format!("{PAGE_FILE} from offset {offset}"), to });
                let f = open_pages()?;
                f.set_len(offset).map_err(|e| Error::io("truncate", &page_path, e))?;
                f.sync().map_err(|e| Error::io("fsync", &page_path, e))?;
            }
            Action::RebuildFreeList { .. } => {
                let Some((list_pages, ids)) = report.plan.free_list.clone() else { continue };
                let Some(sb) = report.plan.new_superblock else { continue };
                let pager = Pager::new(open_pages()?, &page_path, page_size, 64 * page_size.bytes());
                let per_page = crate::btree::node::FreeListPage::capacity(page_size.payload_max()).max(1);
                let mut chunks: Vec<&[jubilant_format::PageId]> = ids.chunks(per_page).collect();
                chunks.resize(list_pages.len(), &[]);
                let mut payload = Vec::new();
                for (i, (&page, chunk)) in list_pages.iter().zip(&chunks).enumerate() {
                    payload.clear();
                    crate::btree::node::FreeListPage { next: list_pages.get(i + 1).copied(), pages: chunk.to_vec() }
                        .encode(&mut payload);
                    pager.write_page(page, PageType::FreeList, sb.checkpoint_lsn, &payload)?;
                }
                pager.sync()?;
            }
            // Done through the engine after the reopen.
            Action::DropDanglingKeys { .. } => {}
            Action::WriteSuperblock { .. } => {
                let Some(sb) = report.plan.new_superblock else { continue };
                let slot = sb.slot();
                if let Some(state) = v.state.slots.iter().find(|s| s.slot == slot) {
                    let to = audit.write(storage, &format!("{PAGE_FILE}.slot-{}.bin", slot.letter()), &state.bytes)?;
                    report.saved.push(Saved { from: format!("{PAGE_FILE} superblock slot {}", slot.letter()), to });
                }
                let pager = Pager::new(open_pages()?, &page_path, page_size, 64 * page_size.bytes());
                pager.write_superblock(&sb)?;
                pager.sync()?;
            }
        }
    }
    Ok(())
}
