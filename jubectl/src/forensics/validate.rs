//! `jubectl validate DIR [--deep]`: every finding, as text or JSON.
//!
//! JSON: the engine's `validate::Report` —
//! `{"dir","status","counts":{"errors","warnings","infos"},"manifest","page_size",
//! "page_size_source","superblock","older_superblock","tree","wal","vlog",
//! "findings":[{"severity","kind","file","offset","page","lsn","expected","found","message","suggestion"}]}`.

use std::io::Write;
use std::path::Path;

use jubilant_engine::storage::Storage;
use jubilant_engine::validate::{Finding, Report, ValidateOptions, validate};

use super::progress::Bar;
use super::{OfflineError, write_json};
use crate::exit::fsck;

/// Runs `validate`.
pub fn run(storage: &dyn Storage, dir: &Path, deep: bool, json: bool, out: &mut dyn Write) -> Result<u8, OfflineError> {
    let mut bar = Bar::new("validate", json);
    let validation = validate(storage, dir, ValidateOptions { deep }, &mut |p| bar.update(p));
    bar.finish();
    let report = validation?.report;
    if json {
        write_json(out, &report)?;
    } else {
        write_report(out, &report)?;
    }
    Ok(if report.has_problems() { fsck::UNCORRECTED } else { fsck::CLEAN })
}

/// The text form of a report: what was checked, then every finding.
pub fn write_report(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "data directory {}", report.dir)?;
    match &report.manifest {
        Some(m) => writeln!(
            out,
            "  manifest     format {}, page size {}, directory {}, created by {}",
            m.format_version, m.page_size, m.directory_id, m.created_by
        )?,
        None => {
            writeln!(out, "  manifest     unreadable (page size {} {:?})", report.page_size, report.page_size_source)?
        }
    }
    match &report.superblock {
        Some(sb) => writeln!(
            out,
            "  superblock   slot {}, generation {}, checkpoint LSN {}, root page {}, {} pages, {} keys",
            sb.slot, sb.generation, sb.checkpoint_lsn, sb.root_page, sb.page_count, sb.key_count
        )?,
        None => writeln!(out, "  superblock   none valid")?,
    }
    if let Some(sb) = &report.older_superblock {
        writeln!(
            out,
            "  older slot   {}, generation {}, checkpoint LSN {}",
            sb.slot, sb.generation, sb.checkpoint_lsn
        )?;
    }
    if let Some(t) = &report.tree {
        writeln!(
            out,
            "  tree         depth {}, {} keys, {} leaves, {} branches, {} free pages ({} free-list pages)",
            t.depth, t.keys, t.leaves, t.branches, t.free_pages, t.free_list_pages
        )?;
    }
    let last = report.wal.last_lsn.map_or_else(|| "none".to_owned(), |l| l.to_string());
    writeln!(
        out,
        "  wal          {} segments, {} records, {} commits, {} bytes, last LSN {last}",
        report.wal.segments, report.wal.records, report.wal.commits, report.wal.bytes
    )?;
    writeln!(
        out,
        "  vlog         {} segments, {} records, {} bytes",
        report.vlog.segments, report.vlog.records, report.vlog.bytes
    )?;
    if !report.findings.is_empty() {
        writeln!(out)?;
        write_findings(out, &report.findings)?;
    }
    writeln!(out)?;
    let c = report.counts;
    writeln!(
        out,
        "{} error(s), {} warning(s), {} note(s): {}",
        c.errors,
        c.warnings,
        c.infos,
        if report.has_problems() { "problems found" } else { "clean" }
    )
}

/// Findings, one block each.
pub fn write_findings(out: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    for f in findings {
        let mut place = f.file.clone();
        if let Some(page) = f.page {
            place.push_str(&format!(" page {page}"));
        }
        if let Some(offset) = f.offset {
            place.push_str(&format!(" offset {offset}"));
        }
        if let Some(lsn) = f.lsn {
            place.push_str(&format!(" LSN {lsn}"));
        }
        writeln!(out, "{:<7} {} at {place}", f.severity.name().to_uppercase(), f.kind)?;
        writeln!(out, "        {}", f.message)?;
        if !f.expected.is_empty() || !f.found.is_empty() {
            writeln!(out, "        expected: {}", f.expected)?;
            writeln!(out, "        found:    {}", f.found)?;
        }
        if !f.suggestion.is_empty() {
            writeln!(out, "        next:     {}", f.suggestion)?;
        }
    }
    Ok(())
}
