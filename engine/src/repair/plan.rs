//! Deciding what `repair` does, from a validation: which superblock to
//! keep and why, which bytes of which log to cut (and the transactions
//! behind them), whether the free list is rebuilt, and what it leaves
//! alone because no repair can fix it without losing acknowledged data.

use std::collections::BTreeSet;

use jubilant_format::wal::{WalPayload, resync_wal};
use jubilant_format::{Damage, Generation, Lsn, PAGE_FILE, PageId, Slot, Superblock, TxnId};
use serde::Serialize;

use crate::btree::node::FreeListPage;
use crate::error::Result;
use crate::storage::Storage;
use crate::validate::files::{WHOLE_FILE_MAX, read_whole};
use crate::validate::wal::{SegmentScan, WalDamageClass};
use crate::validate::{FindingKind, Hints, Severity, TreeWalk, Validation, walk_tree};

/// The superblock repair keeps, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuperblockDecision {
    /// `A` or `B`.
    pub slot: char,
    /// Its generation.
    pub generation: u64,
    /// Its checkpoint LSN: replay starts after it.
    pub checkpoint_lsn: u64,
    /// Why this one.
    pub why: String,
}

/// The WAL records replay will apply after the repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplayRange {
    /// First LSN replayed (checkpoint LSN + 1).
    pub from_lsn: u64,
    /// Last LSN left in the log (below `from_lsn` when nothing is left).
    pub to_lsn: u64,
}

/// A committed transaction whose records repair cuts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedTxn {
    /// The transaction id.
    pub txn: TxnId,
    /// Its commit's LSN.
    pub commit_lsn: Lsn,
    /// The segment holding the commit.
    pub file: String,
    /// Whether it may have been acknowledged (mid-log) or certainly was
    /// not (behind a torn tail).
    pub may_have_been_acknowledged: bool,
}

/// One change repair makes. Nothing is deleted: every cut or replaced
/// byte is first copied under the repair directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Cut a WAL segment at `offset`.
    TruncateWal {
        /// The segment, relative to the data directory.
        file: String,
        /// Where the cut is.
        offset: u64,
        /// Bytes cut.
        dropped_bytes: u64,
        /// Why.
        reason: String,
    },
    /// Move a whole WAL segment into the repair directory.
    MoveWalSegment {
        /// The segment.
        file: String,
        /// Why.
        reason: String,
    },
    /// Cut a value-log segment at `offset`.
    TruncateVlog {
        /// The segment.
        file: String,
        /// Where the cut is.
        offset: u64,
        /// Bytes cut.
        dropped_bytes: u64,
        /// Why.
        reason: String,
    },
    /// Zero-extend `pages.jdb` to the pages the superblock counts.
    ExtendPageFile {
        /// Whole pages now.
        from_pages: u64,
        /// Pages after.
        to_pages: u64,
    },
    /// Cut a partial page at the end of `pages.jdb`.
    TruncatePageFile {
        /// Where the cut is.
        offset: u64,
        /// Bytes cut.
        dropped_bytes: u64,
    },
    /// Write a new free list holding every page not in the tree.
    RebuildFreeList {
        /// Free pages listed.
        free_pages: u64,
        /// Pages the new list is written to.
        list_pages: Vec<u64>,
        /// Why.
        reason: String,
    },
    /// Delete keys whose value reference dangles (`--drop-dangling`),
    /// through the engine after the reopen, then checkpoint.
    DropDanglingKeys {
        /// The keys, as text or `hex:…`.
        keys: Vec<String>,
    },
    /// Write a superblock into `slot` (after saving the slot's bytes).
    WriteSuperblock {
        /// `A` or `B`.
        slot: char,
        /// The generation written.
        generation: u64,
        /// The superblock whose tree it names.
        based_on_slot: char,
        /// Its generation.
        based_on_generation: u64,
        /// Checkpoint LSN (replay starts after it).
        checkpoint_lsn: u64,
        /// Keys in its tree.
        key_count: u64,
        /// Why.
        reason: String,
    },
}

/// A problem repair leaves alone, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unrepaired {
    /// The finding's kind.
    pub kind: FindingKind,
    /// The file.
    pub file: String,
    /// Why repair does not fix it.
    pub reason: String,
    /// What to run instead.
    pub suggestion: String,
}

/// What repair will do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// The superblock kept.
    pub superblock: Option<SuperblockDecision>,
    /// The WAL range replay will apply.
    pub replay: Option<ReplayRange>,
    /// The changes, in the order they are made.
    pub actions: Vec<Action>,
    /// Bytes cut from logs and the page file.
    pub cut_bytes: u64,
    /// Valid records cut (found after bad bytes, or in moved segments).
    pub cut_records: u64,
    /// Committed transactions whose records are cut.
    pub dropped_transactions: Vec<DroppedTxn>,
    /// Problems left as they are.
    pub unrepaired: Vec<Unrepaired>,
    /// The superblock to write, if any.
    #[serde(skip)]
    pub(crate) new_superblock: Option<Superblock>,
    /// The free list to write: `(list pages, free page ids)`.
    #[serde(skip)]
    pub(crate) free_list: Option<(Vec<PageId>, Vec<PageId>)>,
    /// Keys to delete after the reopen (`--drop-dangling`).
    #[serde(skip)]
    pub(crate) drop_keys: Vec<Vec<u8>>,
}

impl Plan {
    /// Whether repair would change anything.
    #[must_use]
    pub fn changes_anything(&self) -> bool {
        !self.actions.is_empty()
    }
}

/// Kinds that mean the tree a superblock names is unusable.
const TREE_DAMAGE: &[FindingKind] = &[
    FindingKind::PageCorrupt,
    FindingKind::PageOutOfRange,
    FindingKind::PageWrongType,
    FindingKind::PageLsnAhead,
    FindingKind::PageReachableTwice,
    FindingKind::NodeInvalid,
    FindingKind::KeyOutsideFences,
    FindingKind::DepthMismatch,
    FindingKind::LeafEmpty,
    FindingKind::EntryVersionAhead,
];

/// Kinds a rebuilt free list (and a rewritten superblock) fix.
const FREE_LIST_DAMAGE: &[FindingKind] = &[
    FindingKind::FreeListInvalid,
    FindingKind::FreeListCycle,
    FindingKind::FreePageOutOfRange,
    FindingKind::FreePageDuplicate,
    FindingKind::FreePageInUse,
    FindingKind::PageLeaked,
];

fn tree_usable(walk: &TreeWalk) -> bool {
    !walk.tree_damaged && !walk.findings.iter().any(|f| f.severity == Severity::Error && TREE_DAMAGE.contains(&f.kind))
}

fn free_list_broken(walk: &TreeWalk) -> bool {
    walk.free_list_damaged || walk.findings.iter().any(|f| FREE_LIST_DAMAGE.contains(&f.kind))
}

/// Plans the repair of the directory `v` describes.
pub fn plan(storage: &dyn Storage, v: &Validation, force_truncate: bool, drop_dangling: bool) -> Result<Plan> {
    let hints = Hints::new(&v.state.dir);
    let mut plan = Plan::default();
    let mut handled: BTreeSet<FindingKind> = BTreeSet::new();
    let unrepaired = |kind: FindingKind, file: &str, reason: String, suggestion: String| Unrepaired {
        kind,
        file: file.to_owned(),
        reason,
        suggestion,
    };

    // The manifest: nothing to rebuild it from.
    for f in &v.report.findings {
        if matches!(
            f.kind,
            FindingKind::ManifestMissing | FindingKind::ManifestInvalid | FindingKind::ManifestIncompatible
        ) {
            plan.unrepaired.push(unrepaired(f.kind, &f.file, f.message.clone(), f.suggestion.clone()));
        }
    }
    if !plan.unrepaired.is_empty() {
        return Ok(plan);
    }
    let Some(pages) = &v.state.pages else {
        plan.unrepaired.push(unrepaired(
            FindingKind::PageFileMissing,
            PAGE_FILE,
            "pages.jdb is missing".into(),
            hints.salvage(),
        ));
        return Ok(plan);
    };

    // Which superblock, and its tree.
    let Some((current_slot, current)) = v.state.current() else {
        plan.unrepaired.push(unrepaired(
            FindingKind::NoValidSuperblock,
            PAGE_FILE,
            "neither superblock slot is valid, so no checkpointed tree can be trusted".into(),
            hints.salvage(),
        ));
        return Ok(plan);
    };
    let Some(current_walk) = &v.tree else { return Ok(plan) };
    let (base_slot, base, walk, why) = if tree_usable(current_walk) {
        let why = match v.state.slots.iter().find(|s| s.slot != current_slot).map(|s| &s.decoded) {
            Some(Err(e)) if current.generation.get() > 0 => format!(
                "the newest valid superblock; its tree is intact (slot {} is rejected: {e})",
                current_slot.other().letter()
            ),
            _ => "the newest valid superblock; its tree is intact".to_owned(),
        };
        (current_slot, current, current_walk.clone(), why)
    } else {
        match v.state.older() {
            Some((older_slot, older)) => {
                let older_walk = walk_tree(pages, &older, &hints)?;
                let from = Lsn(older.checkpoint_lsn.get() + 1);
                match (tree_usable(&older_walk), wal_covers(&v.wal.segments, from)) {
                    (true, Ok(())) => (
                        older_slot,
                        older,
                        older_walk,
                        format!(
                            "the newest superblock (slot {}, generation {}) names a damaged tree; the older one (generation {}) names an intact tree and the WAL still holds every record after its checkpoint LSN {}",
                            current_slot.letter(),
                            current.generation,
                            older.generation,
                            older.checkpoint_lsn
                        ),
                    ),
                    (usable, covered) => {
                        let reason = if usable {
                            format!("the older superblock's tree is intact, but {}", covered.err().unwrap_or_default())
                        } else {
                            "the older superblock's tree is damaged too".to_owned()
                        };
                        plan.unrepaired.push(unrepaired(
                            FindingKind::PageCorrupt,
                            PAGE_FILE,
                            format!("the current superblock's tree is damaged and {reason}: keys in the damaged pages can only be carved out"),
                            hints.salvage(),
                        ));
                        return Ok(plan);
                    }
                }
            }
            None => {
                plan.unrepaired.push(unrepaired(
                    FindingKind::PageCorrupt,
                    PAGE_FILE,
                    "the current superblock's tree is damaged and there is no older valid superblock to fall back to"
                        .into(),
                    hints.salvage(),
                ));
                return Ok(plan);
            }
        }
    };
    handled.extend(TREE_DAMAGE);
    plan.superblock = Some(SuperblockDecision {
        slot: base_slot.letter(),
        generation: base.generation.get(),
        checkpoint_lsn: base.checkpoint_lsn.get(),
        why,
    });

    // The page file's length.
    let whole = pages.whole_pages();
    let page_bytes = u64::from(v.state.page_size.get());
    let mut page_count = base.page_count;
    if whole < base.page_count {
        plan.actions.push(Action::ExtendPageFile { from_pages: whole, to_pages: base.page_count });
    } else if pages.len() % page_bytes != 0 {
        let offset = whole * page_bytes;
        plan.cut_bytes += pages.len() - offset;
        plan.actions.push(Action::TruncatePageFile { offset, dropped_bytes: pages.len() - offset });
    }
    handled.extend([FindingKind::PageFileShort, FindingKind::PageFilePartialPage]);

    // The logs.
    wal_actions(storage, v, base.checkpoint_lsn, force_truncate, &hints, &mut plan, &mut handled)?;
    vlog_actions(v, &mut plan, &mut handled);

    // The superblock and the free list.
    let other_slot_bad = v.state.slots.iter().any(|s| {
        s.slot != base_slot && s.decoded.is_err() && !(s.is_zeroed() && base.generation.get() == 0 && s.slot == Slot::B)
    });
    let mut reasons = Vec::new();
    if base_slot != current_slot {
        reasons.push(format!("fall back to generation {}", base.generation));
    }
    if other_slot_bad {
        reasons.push(format!("slot {} is invalid", base_slot.other().letter()));
    }
    let mut free_list_head = base.free_list_head;
    if free_list_broken(&walk) {
        let (list_pages, ids, grown) = rebuild_free_list(&walk, page_count, v.state.page_size.payload_max());
        if let Some(to) = grown {
            plan.actions.push(Action::ExtendPageFile { from_pages: page_count.max(whole), to_pages: to });
            page_count = to;
        }
        plan.actions.push(Action::RebuildFreeList {
            free_pages: ids.len() as u64,
            list_pages: list_pages.iter().map(|p| p.get()).collect(),
            reason: "the free list is damaged or inconsistent with the tree".into(),
        });
        free_list_head = list_pages.first().copied();
        plan.free_list = Some((list_pages, ids));
        reasons.push("a rebuilt free list".into());
    }
    handled.extend(FREE_LIST_DAMAGE);
    if walk.keys != base.key_count {
        reasons.push(format!("key count {} (was {})", walk.keys, base.key_count));
    }
    handled.extend([FindingKind::KeyCountMismatch, FindingKind::SuperblockInvalid, FindingKind::SuperblockForeign]);
    if !reasons.is_empty() {
        let generation = Generation(base.generation.get() + 1);
        let sb = Superblock { generation, free_list_head, page_count, key_count: walk.keys, ..base };
        plan.actions.push(Action::WriteSuperblock {
            slot: sb.slot().letter(),
            generation: generation.get(),
            based_on_slot: base_slot.letter(),
            based_on_generation: base.generation.get(),
            checkpoint_lsn: base.checkpoint_lsn.get(),
            key_count: walk.keys,
            reason: reasons.join("; "),
        });
        plan.new_superblock = Some(sb);
    }

    if drop_dangling && !v.bad_ref_keys.is_empty() {
        plan.drop_keys = v.bad_ref_keys.iter().cloned().collect();
        plan.actions.push(Action::DropDanglingKeys {
            keys: plan.drop_keys.iter().map(|k| jubilant_format::view::display_bytes(k)).collect(),
        });
        handled.extend([FindingKind::ValueRefDangling, FindingKind::ValueRefMismatch]);
    }

    // Everything else stays as it is.
    for f in &v.report.findings {
        if f.severity == Severity::Info || handled.contains(&f.kind) {
            continue;
        }
        let reason = match f.kind {
            FindingKind::ValueRefDangling | FindingKind::ValueRefMismatch => {
                "a key whose value is missing is only deleted with --drop-dangling".to_owned()
            }
            FindingKind::NodeUnderfull => {
                "harmless: the next checkpoint that changes these keys merges the pages".to_owned()
            }
            _ => format!("repair cannot fix this without losing data: {}", f.message),
        };
        plan.unrepaired.push(unrepaired(f.kind, &f.file, reason, f.suggestion.clone()));
    }
    let to_lsn = last_lsn_kept(&v.wal.segments, &plan);
    plan.replay =
        Some(ReplayRange { from_lsn: base.checkpoint_lsn.get() + 1, to_lsn: to_lsn.max(base.checkpoint_lsn.get()) });
    Ok(plan)
}

/// Whether the WAL holds every record from `from` on: a segment starting
/// at or before it, and no gap after.
fn wal_covers(segments: &[SegmentScan], from: Lsn) -> std::result::Result<(), String> {
    let valid: Vec<(&SegmentScan, Lsn)> =
        segments.iter().filter_map(|s| s.header.as_ref().ok().map(|h| (s, h.first_lsn))).collect();
    let Some(start) = valid.iter().rposition(|(_, first)| *first <= from) else {
        return Err(format!("the WAL no longer holds LSN {from}"));
    };
    let tail = valid.get(start..).unwrap_or_default();
    for pair in tail.windows(2) {
        if let [(a, _), (_, next_first)] = pair {
            let end = a.last_lsn.map_or(a.header.as_ref().map_or(Lsn::ZERO, |h| h.first_lsn), |l| Lsn(l.get() + 1));
            if a.damage.is_some() || end != *next_first {
                return Err(format!("the WAL has a gap or damage in {}", a.name));
            }
        }
    }
    Ok(())
}

/// Commits found by resyncing `segment` after `offset` (where `expected`
/// was due).
fn commits_after(
    storage: &dyn Storage,
    segment: &SegmentScan,
    offset: u64,
    expected: Lsn,
) -> Result<(Vec<(TxnId, Lsn)>, u64)> {
    let bytes = read_whole(storage, &segment.path, WHOLE_FILE_MAX)?;
    let mut pos = usize::try_from(offset).unwrap_or(usize::MAX);
    let mut commits = Vec::new();
    let mut records = 0u64;
    while let Some(r) = resync_wal(&bytes, 0, pos, expected) {
        records += 1;
        if let Some(txn) = WalPayload::decode(r.payload, r.offset).ok().and_then(|p| p.committed_txn()) {
            commits.push((txn, r.lsn));
        }
        pos = usize::try_from(r.offset).unwrap_or(usize::MAX).saturating_add(r.encoded_len() - 1);
    }
    Ok((commits, records))
}

fn wal_actions(
    storage: &dyn Storage,
    v: &Validation,
    checkpoint_lsn: Lsn,
    force_truncate: bool,
    hints: &Hints,
    plan: &mut Plan,
    handled: &mut BTreeSet<FindingKind>,
) -> Result<()> {
    let wanted = Lsn(checkpoint_lsn.get() + 1);
    let segments = &v.wal.segments;
    // The segment replay starts in: everything before it is obsolete.
    let start = segments.iter().rposition(|s| s.header.as_ref().is_ok_and(|h| h.first_lsn <= wanted)).unwrap_or(0);
    let obsolete_trouble = segments.iter().take(start).any(|s| s.damage.is_some() || s.header.is_err())
        || v.wal.findings.iter().any(|f| f.kind == FindingKind::WalGap && f.severity == Severity::Warning);
    if obsolete_trouble {
        for s in segments.iter().take(start) {
            plan.cut_records += s.records;
            plan.actions.push(Action::MoveWalSegment {
                file: s.name.clone(),
                reason: format!("every record is at or below the checkpoint LSN {checkpoint_lsn}, and the segment is damaged or behind a gap"),
            });
        }
        handled.extend([FindingKind::WalObsoleteSegmentDamaged]);
    }
    let mut cut_from: Option<usize> = None;
    for (i, s) in segments.iter().enumerate().skip(start) {
        if cut_from.is_some() {
            break;
        }
        if let Err(e) = &s.header {
            if i + 1 == segments.len() && s.records == 0 {
                plan.actions.push(Action::MoveWalSegment {
                    file: s.name.clone(),
                    reason: format!("the newest segment's header is torn and it holds no record ({e})"),
                });
                handled.insert(FindingKind::WalTornHeader);
            }
            continue;
        }
        let Some(damage) = &s.damage else { continue };
        let may_have_been_acknowledged = matches!(damage.class, WalDamageClass::MidLog { .. });
        if may_have_been_acknowledged && !force_truncate {
            plan.unrepaired.push(Unrepaired {
                kind: FindingKind::WalMidLogCorruption,
                file: s.name.clone(),
                reason: format!(
                    "corruption at offset {} where LSN {} was due, with durable records after it: cutting there would drop commits that may have been acknowledged. Rerun with --force-truncate to cut anyway (the transactions dropped are listed)",
                    damage.offset, damage.expected_lsn
                ),
                suggestion: hints.salvage(),
            });
            break;
        }
        let dropped_bytes = s.len.saturating_sub(damage.offset);
        plan.cut_bytes += dropped_bytes;
        let (commits, records) = commits_after(storage, s, damage.offset, damage.expected_lsn)?;
        plan.cut_records += records;
        plan.dropped_transactions.extend(commits.into_iter().map(|(txn, lsn)| DroppedTxn {
            txn,
            commit_lsn: lsn,
            file: s.name.clone(),
            may_have_been_acknowledged,
        }));
        plan.actions.push(Action::TruncateWal {
            file: s.name.clone(),
            offset: damage.offset,
            dropped_bytes,
            reason: if may_have_been_acknowledged {
                format!(
                    "--force-truncate: corruption in the middle of the log where LSN {} was due",
                    damage.expected_lsn
                )
            } else {
                format!("torn tail where LSN {} was due: nothing durable follows", damage.expected_lsn)
            },
        });
        handled.extend([FindingKind::WalTornTail, FindingKind::WalMidLogCorruption]);
        cut_from = Some(i);
    }
    if let Some(i) = cut_from {
        for later in segments.iter().skip(i + 1) {
            plan.cut_bytes += later.len;
            plan.cut_records += later.records;
            plan.dropped_transactions.extend(v.wal.commits.iter().filter(|c| c.segment == later.id).map(|c| {
                DroppedTxn { txn: c.txn, commit_lsn: c.lsn, file: later.name.clone(), may_have_been_acknowledged: true }
            }));
            plan.actions.push(Action::MoveWalSegment {
                file: later.name.clone(),
                reason: "it follows the cut: its records would not be contiguous with the log".into(),
            });
        }
    }
    Ok(())
}

fn vlog_actions(v: &Validation, plan: &mut Plan, handled: &mut BTreeSet<FindingKind>) {
    for s in &v.vlog.segments {
        if let Some(Damage::TornTail { offset, dropped_bytes }) = s.damage {
            plan.cut_bytes += dropped_bytes;
            plan.actions.push(Action::TruncateVlog {
                file: s.name.clone(),
                offset,
                dropped_bytes,
                reason: "torn tail: nothing valid follows".into(),
            });
            handled.insert(FindingKind::VlogTornTail);
        }
    }
}

/// The new free list: every page of `2..page_count` not in the tree,
/// written to pages taken from those (never the old list's own pages,
/// which the current superblock still names). Returns the list pages,
/// the ids they hold, and the new page count if the file must grow.
fn rebuild_free_list(walk: &TreeWalk, page_count: u64, payload_max: usize) -> (Vec<PageId>, Vec<PageId>, Option<u64>) {
    let per_page = FreeListPage::capacity(payload_max).max(1);
    let old_list: BTreeSet<PageId> = walk.free_list_pages.iter().copied().collect();
    let mut candidates: Vec<PageId> = (2..page_count).map(PageId).filter(|p| !walk.tree_pages.contains(p)).collect();
    let mut own: Vec<PageId> = Vec::new();
    let mut count = page_count;
    loop {
        let rest = candidates.len();
        if own.len() >= rest.div_ceil(per_page) {
            break;
        }
        match candidates.iter().position(|p| !old_list.contains(p)) {
            Some(i) => own.push(candidates.remove(i)),
            None => {
                // Every free page holds the old list: grow by one page.
                own.push(PageId(count));
                count += 1;
            }
        }
    }
    (own, candidates, (count > page_count).then_some(count))
}

/// The last LSN the log keeps after the plan's cuts.
fn last_lsn_kept(segments: &[SegmentScan], plan: &Plan) -> u64 {
    let cut: BTreeSet<&str> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::MoveWalSegment { file, .. } => Some(file.as_str()),
            _ => None,
        })
        .collect();
    segments
        .iter()
        .filter(|s| !cut.contains(s.name.as_str()))
        .filter_map(|s| s.last_lsn)
        .map(Lsn::get)
        .max()
        .unwrap_or(0)
}
