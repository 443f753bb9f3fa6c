//! Offline validation of a data directory: a walker that checks
//! everything the format protects and reports every finding, not just the
//! first (`jubectl validate`).
//!
//! - [`dir`]: the manifest and both superblock slots, each judged on its
//!   own.
//! - [`tree`]: the B+Tree and free list from the current superblock.
//! - [`wal`]: WAL segments, LSN continuity, torn tail versus mid-log.
//! - [`vlog`]: value-log segments and the references into them.
//! - [`inspect`]: typed views for the dump commands and `stat`.
//! - [`finding`]: what is reported.
//!
//! **Invariant:** the walker only reads, through [`Storage`]: it takes no
//! lock and writes nothing, so it can run next to a live server (what it
//! sees of files being written may then be a moment's torn state).
//! Operational failures (the directory is missing, a file cannot be read)
//! are `Err`; everything wrong *in* the files is a [`Finding`].

pub mod dir;
pub mod files;
pub mod finding;
pub mod inspect;
pub mod tree;
pub mod vlog;
pub mod wal;

use std::path::Path;

use jubilant_format::{LOCK_FILE, Lsn, MANIFEST_FILE, Manifest, PAGE_FILE, Slot, Superblock};
use serde::Serialize;

pub use dir::{DirState, PageSizeSource, SlotState};
pub use finding::{Finding, FindingKind, Severity};
pub use tree::{TreeWalk, walk_tree};
pub use vlog::{VlogScan, scan_vlog};
pub use wal::{WalDamageClass, WalScan, scan_wal};

use crate::error::{Error, Result};
use crate::storage::Storage;
use finding::{expected_found_of, offset_of};
use vlog::RefOrigin;

/// What to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Also read every value-log record a reference points at and check it
    /// is the record the reference was made for.
    pub deep: bool,
}

/// Progress of a walk: bytes read so far out of an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read so far.
    pub done_bytes: u64,
    /// Bytes the walk expects to read.
    pub total_bytes: u64,
}

/// The next commands findings suggest, spelled with the directory.
#[derive(Debug, Clone)]
pub struct Hints {
    dir: String,
}

impl Hints {
    /// Hints for `dir`.
    #[must_use]
    pub fn new(dir: &Path) -> Hints {
        let text = dir.display().to_string();
        let dir = if text.chars().any(|c| c.is_whitespace() || c == '\'') {
            format!("'{}'", text.replace('\'', "'\\''"))
        } else {
            text
        };
        Hints { dir }
    }

    /// `jubectl repair DIR --dry-run`.
    #[must_use]
    pub fn repair(&self) -> String {
        format!("jubectl repair {} --dry-run", self.dir)
    }

    /// `jubectl salvage DIR --output NEWDIR`.
    #[must_use]
    pub fn salvage(&self) -> String {
        format!("jubectl salvage {} --output NEWDIR", self.dir)
    }
}

/// Counts of findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// `error` findings.
    pub errors: u64,
    /// `warning` findings.
    pub warnings: u64,
    /// `info` findings.
    pub infos: u64,
}

/// The manifest's fields, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestSummary {
    /// Format version.
    pub format_version: u16,
    /// Schema hash, hex.
    pub schema_hash: String,
    /// Page size.
    pub page_size: u32,
    /// Directory id, hex.
    pub directory_id: String,
    /// The program that created the directory.
    pub created_by: String,
}

impl ManifestSummary {
    fn of(m: &Manifest) -> ManifestSummary {
        ManifestSummary {
            format_version: m.format_version,
            schema_hash: format!("{:#018x}", m.schema_hash),
            page_size: m.page_size.get(),
            directory_id: format!("{:#018x}", m.directory_id),
            created_by: m.created_by.clone(),
        }
    }
}

/// A superblock, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuperblockSummary {
    /// `A` or `B`.
    pub slot: char,
    /// Generation.
    pub generation: u64,
    /// Checkpoint LSN.
    pub checkpoint_lsn: u64,
    /// Root page (0 = empty tree).
    pub root_page: u64,
    /// First free-list page (0 = none).
    pub free_list_head: u64,
    /// Pages in the page file.
    pub page_count: u64,
    /// Keys at the checkpoint.
    pub key_count: u64,
}

impl SuperblockSummary {
    /// The summary of `sb` read from `slot`.
    #[must_use]
    pub fn of(slot: Slot, sb: &Superblock) -> SuperblockSummary {
        SuperblockSummary {
            slot: slot.letter(),
            generation: sb.generation.get(),
            checkpoint_lsn: sb.checkpoint_lsn.get(),
            root_page: sb.root_page.map_or(0, |p| p.get()),
            free_list_head: sb.free_list_head.map_or(0, |p| p.get()),
            page_count: sb.page_count,
            key_count: sb.key_count,
        }
    }
}

/// The tree walk, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeSummary {
    /// Levels.
    pub depth: u64,
    /// Keys.
    pub keys: u64,
    /// Leaf pages.
    pub leaves: u64,
    /// Branch pages.
    pub branches: u64,
    /// Free pages.
    pub free_pages: u64,
    /// Pages holding the free list.
    pub free_list_pages: u64,
    /// Value-log references.
    pub value_refs: u64,
}

/// The WAL, as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WalSummary {
    /// Segment files.
    pub segments: u64,
    /// Valid records.
    pub records: u64,
    /// Commit records.
    pub commits: u64,
    /// Bytes of the segment files.
    pub bytes: u64,
    /// LSN of the last record of the unbroken log, if any.
    pub last_lsn: Option<u64>,
}

/// The value log, as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VlogSummary {
    /// Segment files.
    pub segments: u64,
    /// Valid records.
    pub records: u64,
    /// Bytes of the segment files.
    pub bytes: u64,
}

/// The outcome of `validate`: what was checked and every finding.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The data directory, as given.
    pub dir: String,
    /// `clean` when no finding is an error or a warning, else `problems`.
    pub status: &'static str,
    /// Findings by severity.
    pub counts: Counts,
    /// The manifest, if it decoded.
    pub manifest: Option<ManifestSummary>,
    /// The page size used.
    pub page_size: u32,
    /// Where the page size came from.
    pub page_size_source: PageSizeSource,
    /// The current superblock.
    pub superblock: Option<SuperblockSummary>,
    /// The other slot, when it is valid too.
    pub older_superblock: Option<SuperblockSummary>,
    /// The tree walk.
    pub tree: Option<TreeSummary>,
    /// The WAL.
    pub wal: WalSummary,
    /// The value log.
    pub vlog: VlogSummary,
    /// Every finding, in the order found.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding is an error or a warning.
    #[must_use]
    pub fn has_problems(&self) -> bool {
        self.counts.errors + self.counts.warnings > 0
    }
}

/// Everything the walker learned, for `repair` and `stat` to build on.
#[derive(Debug)]
pub struct Validation {
    /// Manifest and superblocks.
    pub state: DirState,
    /// The walk of the current superblock's tree, if there is one.
    pub tree: Option<TreeWalk>,
    /// The WAL scan.
    pub wal: WalScan,
    /// The value-log scan.
    pub vlog: VlogScan,
    /// Keys whose value reference dangles or points at the wrong record.
    pub bad_ref_keys: std::collections::BTreeSet<Vec<u8>>,
    /// The report.
    pub report: Report,
}

/// Validates the data directory `dir`.
///
/// # Errors
///
/// Only operational failures: `dir` is missing or is not a data
/// directory at all, or a file cannot be read.
pub fn validate(
    storage: &dyn Storage,
    dir: &Path,
    options: ValidateOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Validation> {
    let hints = Hints::new(dir);
    let state = DirState::load(storage, dir)?;
    if state.manifest_bytes.is_none() && state.pages.is_none() {
        return Err(Error::NotADatabase {
            path: dir.to_path_buf(),
            reason: format!("neither {MANIFEST_FILE} nor {PAGE_FILE} exists: not a jubilant-db data directory"),
        });
    }
    let total_bytes = estimate_bytes(storage, dir, &state)?;
    let mut done_bytes = 0u64;
    let mut advance = |bytes: u64| {
        done_bytes = done_bytes.saturating_add(bytes).min(total_bytes);
        progress(Progress { done_bytes, total_bytes });
    };
    let mut findings = top_level_files(storage, dir)?;
    findings.extend(manifest_findings(&state, &hints));
    findings.extend(superblock_findings(&state, &hints));
    let current = state.current();
    let page_size = state.page_size;

    let tree = match (&state.pages, current) {
        (Some(pages), Some((_, sb))) => {
            let walk = walk_tree(pages, &sb, &hints)?;
            advance((walk.tree_pages.len() + walk.free_list_pages.len() + 2) as u64 * u64::from(page_size.get()));
            findings.extend(walk.findings.iter().cloned());
            Some(walk)
        }
        _ => None,
    };
    let checkpointed = current.is_some_and(|(_, sb)| sb.generation.get() > 0 || sb.checkpoint_lsn > Lsn::ZERO);
    let wal = scan_wal(
        storage,
        dir,
        state.directory_id(),
        current.map(|(_, sb)| sb.checkpoint_lsn),
        checkpointed,
        &hints,
        &mut advance,
        &mut |_, _, _| {},
    )?;
    findings.extend(wal.findings.iter().cloned());
    let mut vlog = scan_vlog(storage, dir, state.directory_id(), &hints, &mut advance, &mut |_, _| {})?;
    findings.extend(vlog.findings.iter().cloned());

    let mut refs: Vec<(RefOrigin, jubilant_format::ValueRef)> = Vec::new();
    if let Some(walk) = &tree {
        refs.extend(walk.value_refs.iter().map(|r| {
            (RefOrigin { file: PAGE_FILE.into(), page: Some(r.page.get()), lsn: None, key: r.key.clone() }, r.value_ref)
        }));
    }
    for r in &wal.value_refs {
        let file = wal
            .segments
            .iter()
            .rev()
            .find(|s| s.first_lsn.is_some_and(|f| f <= r.lsn))
            .map_or_else(|| "wal".to_owned(), |s| s.name.clone());
        refs.push((RefOrigin { file, page: None, lsn: Some(r.lsn.get()), key: r.key.clone() }, r.value_ref));
    }
    let mut bad_ref_keys = std::collections::BTreeSet::new();
    for (finding, key) in vlog::check_refs(storage, &mut vlog, &refs, options.deep, page_size.get(), &hints)? {
        findings.push(finding);
        bad_ref_keys.insert(key);
    }

    let mut counts = Counts::default();
    for f in &findings {
        match f.severity {
            Severity::Error => counts.errors += 1,
            Severity::Warning => counts.warnings += 1,
            Severity::Info => counts.infos += 1,
        }
    }
    let report = Report {
        dir: dir.display().to_string(),
        status: if counts.errors + counts.warnings > 0 { "problems" } else { "clean" },
        counts,
        manifest: state.manifest().map(ManifestSummary::of),
        page_size: page_size.get(),
        page_size_source: state.page_size_source,
        superblock: current.map(|(slot, sb)| SuperblockSummary::of(slot, &sb)),
        older_superblock: state.older().map(|(slot, sb)| SuperblockSummary::of(slot, &sb)),
        tree: tree.as_ref().map(|w| TreeSummary {
            depth: w.depth as u64,
            keys: w.keys,
            leaves: w.leaves,
            branches: w.branches,
            free_pages: w.free_pages.len() as u64,
            free_list_pages: w.free_list_pages.len() as u64,
            value_refs: w.value_refs.len() as u64,
        }),
        wal: WalSummary {
            segments: wal.segments.len() as u64,
            records: wal.records,
            commits: wal.commits.len() as u64,
            bytes: wal.bytes,
            last_lsn: wal.next_lsn.map(|n| n.get().saturating_sub(1)).filter(|&l| l > 0),
        },
        vlog: VlogSummary { segments: vlog.segments.len() as u64, records: vlog.records, bytes: vlog.bytes },
        findings,
    };
    Ok(Validation { state, tree, wal, vlog, bad_ref_keys, report })
}

/// Bytes the walk will read, roughly: the page file and every segment.
fn estimate_bytes(storage: &dyn Storage, dir: &Path, state: &DirState) -> Result<u64> {
    let mut total = state.pages.as_ref().map_or(0, files::PageReader::len);
    for kind in [jubilant_format::SegmentKind::Wal, jubilant_format::SegmentKind::ValueLog] {
        if let Some((segments, _)) = files::segments(storage, dir, kind)? {
            for s in segments {
                let file = storage.open_read_only(&s.path).map_err(|e| Error::io("open", &s.path, e))?;
                total += file.len().map_err(|e| Error::io("stat", &s.path, e))?;
            }
        }
    }
    Ok(total.max(1))
}

fn top_level_files(storage: &dyn Storage, dir: &Path) -> Result<Vec<Finding>> {
    let names = files::list(storage, dir)?.unwrap_or_default();
    Ok(names
        .into_iter()
        .filter(|n| {
            ![MANIFEST_FILE, LOCK_FILE, PAGE_FILE, "wal", "vlog"].contains(&n.as_str()) && !n.starts_with("repair-")
        })
        .map(|n| {
            Finding::new(
                Severity::Info,
                FindingKind::UnknownFile,
                n.clone(),
                format!("{n} is not part of a data directory; the engine ignores it"),
            )
            .expected_found("MANIFEST, LOCK, pages.jdb, wal/, vlog/ or repair-*/", n)
        })
        .collect())
}

fn manifest_findings(state: &DirState, hints: &Hints) -> Vec<Finding> {
    let mut out = Vec::new();
    match &state.manifest {
        None => out.push(
            Finding::new(
                Severity::Error,
                FindingKind::ManifestMissing,
                MANIFEST_FILE,
                "MANIFEST is missing: page size and directory id are unknown",
            )
            .expected_found("a MANIFEST file", "none")
            .suggest(hints.salvage()),
        ),
        Some(Err(e)) => {
            let (expected, found) = expected_found_of(e);
            let mut f =
                Finding::new(Severity::Error, FindingKind::ManifestInvalid, MANIFEST_FILE, format!("MANIFEST: {e}"))
                    .expected_found(expected, found)
                    .suggest(hints.salvage());
            f.offset = offset_of(e).or(Some(0));
            out.push(f);
        }
        Some(Ok(m)) => {
            if let Err(e) = m.check_compatible() {
                let (expected, found) = expected_found_of(&e);
                out.push(
                    Finding::new(
                        Severity::Error,
                        FindingKind::ManifestIncompatible,
                        MANIFEST_FILE,
                        format!("MANIFEST: {e}"),
                    )
                    .at(offset_of(&e).unwrap_or(0))
                    .expected_found(expected, found)
                    .suggest("open it with the jubilant-db build that wrote it".to_owned()),
                );
            }
        }
    }
    out
}

fn superblock_findings(state: &DirState, hints: &Hints) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(pages) = &state.pages else {
        out.push(
            Finding::new(
                Severity::Error,
                FindingKind::PageFileMissing,
                PAGE_FILE,
                "pages.jdb is missing: the checkpointed tree is lost",
            )
            .expected_found("a page file", "none")
            .suggest(hints.salvage()),
        );
        return out;
    };
    let page_size = state.page_size.get();
    if pages.len() % u64::from(page_size) != 0 {
        out.push(
            Finding::new(
                Severity::Warning,
                FindingKind::PageFilePartialPage,
                PAGE_FILE,
                format!("pages.jdb is {} bytes, not a whole number of {page_size}-byte pages", pages.len()),
            )
            .at(pages.len() - pages.len() % u64::from(page_size))
            .expected_found(format!("a multiple of {page_size} bytes"), format!("{} bytes", pages.len()))
            .suggest(hints.repair()),
        );
    }
    let current = state.current();
    let generation = current.map_or(0, |(_, sb)| sb.generation.get());
    for slot in &state.slots {
        let Err(e) = &slot.decoded else { continue };
        // Before the first checkpoint slot B was never written.
        if slot.is_zeroed() && slot.slot == Slot::B && generation == 0 && current.is_some() {
            continue;
        }
        let (expected, found) = expected_found_of(e);
        let kind = if matches!(e, jubilant_format::Error::ForeignSuperblock { .. }) {
            FindingKind::SuperblockForeign
        } else {
            FindingKind::SuperblockInvalid
        };
        out.push(
            Finding::new(Severity::Error, kind, PAGE_FILE, format!("superblock slot {}: {e}", slot.slot.letter()))
                .page(slot.slot.page().get(), page_size)
                .expected_found(expected, found)
                .suggest(if current.is_some() { hints.repair() } else { hints.salvage() }),
        );
    }
    match current {
        None => out.push(
            Finding::new(
                Severity::Error,
                FindingKind::NoValidSuperblock,
                PAGE_FILE,
                "neither superblock slot is valid: the checkpointed tree cannot be found",
            )
            .at(0)
            .expected_found("a valid superblock in slot A or B", "none")
            .suggest(hints.salvage()),
        ),
        Some((slot, sb)) if pages.whole_pages() < sb.page_count => out.push(
            Finding::new(
                Severity::Error,
                FindingKind::PageFileShort,
                PAGE_FILE,
                format!(
                    "pages.jdb holds {} pages, but the superblock in slot {} names {}",
                    pages.whole_pages(),
                    slot.letter(),
                    sb.page_count
                ),
            )
            .at(pages.len())
            .expected_found(format!("{} pages", sb.page_count), format!("{} pages", pages.whole_pages()))
            .suggest(hints.repair()),
        ),
        Some(_) => {}
    }
    out
}
