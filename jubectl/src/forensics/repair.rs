//! `jubectl repair DIR [--dry-run] [--force-truncate] [--drop-dangling]`.
//!
//! The work is `jubilant_engine::repair`; this prints the plan and the
//! outcome and picks the exit code: 0 nothing needed, 1 corrected, 4
//! problems remain (5 when some were corrected and some remain), 8 locked
//! or unreadable. A dry run exits 4 when it would change anything or
//! finds problems, else 0.
//!
//! JSON: the engine's `repair::RepairReport` — `{"dir","dry_run","outcome",
//! "before":{"errors","warnings","infos"},"plan":{"superblock":{"slot","generation",
//! "checkpoint_lsn","why"},"replay":{"from_lsn","to_lsn"},"actions":[{"action",…}],
//! "cut_bytes","cut_records","dropped_transactions":[{"txn","commit_lsn","file",
//! "may_have_been_acknowledged"}],"unrepaired":[{"kind","file","reason","suggestion"}]},
//! "repair_dir","saved":[{"from","to"}],"reopen","after","changed"}`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use jubilant_engine::repair::{Action, Outcome, RepairOptions, RepairReport, repair};
use jubilant_engine::storage::Storage;

use super::progress::Bar;
use super::validate::write_findings;
use super::{OfflineError, write_json};
use crate::exit::fsck;

/// The flags of `repair`.
#[derive(Debug, Clone, Copy)]
pub struct Flags {
    /// Print the plan only.
    pub dry_run: bool,
    /// Truncate at mid-log corruption too.
    pub force_truncate: bool,
    /// Drop references to missing values.
    pub drop_dangling: bool,
}

/// Runs `repair`.
pub fn run(
    storage: Arc<dyn Storage>,
    dir: &Path,
    flags: Flags,
    json: bool,
    out: &mut dyn Write,
) -> Result<u8, OfflineError> {
    let options = RepairOptions {
        dry_run: flags.dry_run,
        force_truncate: flags.force_truncate,
        drop_dangling: flags.drop_dangling,
        timestamp: utc_timestamp(std::time::SystemTime::now()),
    };
    let mut bar = Bar::new("repair", json);
    let result = repair(storage, dir, &options, &mut |p| bar.update(p), &mut |doc| {
        let mut bytes = serde_json::to_vec_pretty(doc).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    });
    bar.finish();
    let report = result?;
    if json {
        write_json(out, &report)?;
    } else {
        write_report(out, &report)?;
    }
    Ok(exit_code(&report))
}

/// The exit code of a repair report.
#[must_use]
pub fn exit_code(report: &RepairReport) -> u8 {
    let corrected = if report.changed { fsck::CORRECTED } else { fsck::CLEAN };
    match report.outcome {
        Outcome::NothingToDo => fsck::CLEAN,
        Outcome::Planned => fsck::UNCORRECTED,
        Outcome::Corrected => fsck::CORRECTED,
        Outcome::Uncorrected => corrected + fsck::UNCORRECTED,
    }
}

fn action_line(action: &Action) -> String {
    match action {
        Action::TruncateWal { file, offset, dropped_bytes, reason } => {
            format!("cut {file} at offset {offset} ({dropped_bytes} bytes): {reason}")
        }
        Action::MoveWalSegment { file, reason } => format!("move {file} into the repair directory: {reason}"),
        Action::TruncateVlog { file, offset, dropped_bytes, reason } => {
            format!("cut {file} at offset {offset} ({dropped_bytes} bytes): {reason}")
        }
        Action::ExtendPageFile { from_pages, to_pages } => {
            format!("extend pages.jdb from {from_pages} to {to_pages} pages with zeros")
        }
        Action::TruncatePageFile { offset, dropped_bytes } => {
            format!("cut a partial page off pages.jdb at offset {offset} ({dropped_bytes} bytes)")
        }
        Action::RebuildFreeList { free_pages, list_pages, reason } => format!(
            "rebuild the free list: {free_pages} free pages, written to page(s) {}: {reason}",
            list_pages.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
        Action::DropDanglingKeys { keys } => format!(
            "delete {} key(s) whose value is missing (--drop-dangling): {}",
            keys.len(),
            keys.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        ),
        Action::WriteSuperblock {
            slot,
            generation,
            based_on_slot,
            based_on_generation,
            checkpoint_lsn,
            key_count,
            reason,
        } => {
            format!(
                "write generation {generation} into slot {slot} (the tree of slot {based_on_slot} generation {based_on_generation}, checkpoint LSN {checkpoint_lsn}, {key_count} keys): {reason}"
            )
        }
    }
}

/// The text form of a repair report.
pub fn write_report(out: &mut dyn Write, report: &RepairReport) -> std::io::Result<()> {
    let plan = &report.plan;
    writeln!(out, "repair {}{}", report.dir, if report.dry_run { " (dry run: nothing is changed)" } else { "" })?;
    writeln!(
        out,
        "before: {} error(s), {} warning(s), {} note(s)",
        report.before.errors, report.before.warnings, report.before.infos
    )?;
    if let Some(sb) = &plan.superblock {
        writeln!(
            out,
            "superblock: slot {}, generation {}, checkpoint LSN {}: {}",
            sb.slot, sb.generation, sb.checkpoint_lsn, sb.why
        )?;
    }
    if let Some(r) = &plan.replay {
        if r.to_lsn >= r.from_lsn {
            writeln!(out, "replay: LSN {} to {}", r.from_lsn, r.to_lsn)?;
        } else {
            writeln!(out, "replay: nothing after the checkpoint (from LSN {})", r.from_lsn)?;
        }
    }
    if plan.actions.is_empty() {
        writeln!(out, "actions: none")?;
    } else {
        writeln!(out, "actions{}:", if report.dry_run { " (planned)" } else { "" })?;
        for (i, a) in plan.actions.iter().enumerate() {
            writeln!(out, "  {}. {}", i + 1, action_line(a))?;
        }
        if plan.cut_bytes + plan.cut_records > 0 {
            writeln!(out, "cut: {} bytes, {} valid records", plan.cut_bytes, plan.cut_records)?;
        }
    }
    if !plan.dropped_transactions.is_empty() {
        writeln!(out, "transactions dropped:")?;
        for t in &plan.dropped_transactions {
            let note = if t.may_have_been_acknowledged { "may have been acknowledged" } else { "never acknowledged" };
            writeln!(out, "  txn {} committed at LSN {} in {} ({note})", t.txn, t.commit_lsn, t.file)?;
        }
    }
    if !plan.unrepaired.is_empty() {
        writeln!(out, "left as they are:")?;
        for u in &plan.unrepaired {
            writeln!(out, "  {} in {}: {}", u.kind, u.file, u.reason)?;
            if !u.suggestion.is_empty() {
                writeln!(out, "    next: {}", u.suggestion)?;
            }
        }
    }
    if let Some(d) = &report.repair_dir {
        writeln!(out, "repair directory: {}/{d} (manifest-before.json, manifest-after.json, report.json)", report.dir)?;
        for s in &report.saved {
            writeln!(out, "  saved {} as {}", s.from, s.to)?;
        }
    }
    if let Some(r) = &report.reopen {
        writeln!(out, "reopen read-write: {r}")?;
    }
    if let Some(after) = &report.after {
        let c = after.counts;
        writeln!(out, "after: {} error(s), {} warning(s), {} note(s)", c.errors, c.warnings, c.infos)?;
        let problems: Vec<_> = after.findings.iter().filter(|f| f.severity.name() != "info").cloned().collect();
        write_findings(out, &problems)?;
    }
    let outcome = match report.outcome {
        Outcome::NothingToDo => "nothing to do",
        Outcome::Planned => "planned: rerun without --dry-run to carry it out",
        Outcome::Corrected => "corrected",
        Outcome::Uncorrected => "problems remain",
    };
    writeln!(out, "result: {outcome}")
}

/// `YYYYMMDDTHHMMSSZ` in UTC.
#[must_use]
pub fn utc_timestamp(now: std::time::SystemTime) -> String {
    let secs = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(utc_timestamp(UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 3_723)), "20260101T010203Z");
        assert_eq!(utc_timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)), "20000229T000000Z");
    }
}
