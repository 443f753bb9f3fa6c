//! `jubectl salvage DIR --output NEWDIR`: carve every surviving key into a
//! fresh directory (`jubilant_engine::repair::salvage`). What cannot be
//! placed goes to `NEWDIR/lost+found.ndjson`, one JSON object per line:
//! `{"key","version","origin","reason","value"}` (the value as text, or
//! `hex:…`, or null when unknown).
//!
//! Exit code: 0 every newest version was placed, 4 some are only in
//! lost+found, 8 the source cannot be read or NEWDIR is not empty.
//!
//! JSON: the engine's `SalvageReport` — `{"source","output","leaf_pages",
//! "wal_records","committed_txns","vlog_records","keys_recovered",
//! "keys_deleted","lost":[{"key","version","origin","reason"}]}`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use jubilant_engine::repair::salvage::salvage;
use jubilant_engine::storage::Storage;
use jubilant_format::view::display_bytes;
use serde_json::json;

use super::{OfflineError, write_json};
use crate::exit::fsck;

/// The lost-and-found file in the new directory.
pub const LOST_AND_FOUND: &str = "lost+found.ndjson";

/// Runs `salvage`.
pub fn run(
    storage: Arc<dyn Storage>,
    dir: &Path,
    output: &Path,
    json: bool,
    out: &mut dyn Write,
) -> Result<u8, OfflineError> {
    let report = salvage(Arc::clone(&storage), dir, output)?;
    if !report.lost.is_empty() {
        let mut lines = Vec::new();
        for item in &report.lost {
            let line = json!({
                "key": display_bytes(&item.key),
                "version": item.version,
                "origin": item.origin,
                "reason": item.reason,
                "value": item.value.as_deref().map(display_bytes),
            });
            serde_json::to_writer(&mut lines, &line).map_err(|e| OfflineError::Output(e.into()))?;
            lines.push(b'\n');
        }
        let path = output.join(LOST_AND_FOUND);
        let write = || -> std::io::Result<()> {
            let file = storage.create(&path)?;
            file.write_at(&lines, 0)?;
            file.sync()?;
            storage.sync_dir(output)
        };
        write().map_err(|e| OfflineError::Local(anyhow::anyhow!("write {}: {e}", path.display())))?;
    }
    if json {
        write_json(out, &report)?;
    } else {
        writeln!(out, "salvage {} into {}", report.source, report.output)?;
        writeln!(
            out,
            "found: {} leaf pages, {} WAL records ({} committed transactions), {} value-log records",
            report.leaf_pages, report.wal_records, report.committed_txns, report.vlog_records
        )?;
        writeln!(
            out,
            "recovered {} keys ({} keys' newest version is a delete)",
            report.keys_recovered, report.keys_deleted
        )?;
        if report.lost.is_empty() {
            writeln!(out, "nothing lost")?;
        } else {
            writeln!(
                out,
                "{} version(s) could not be placed: see {}/{LOST_AND_FOUND}",
                report.lost.len(),
                report.output
            )?;
            for item in report.lost.iter().take(20) {
                writeln!(
                    out,
                    "  {} (LSN {}) from {}: {}",
                    display_bytes(&item.key),
                    item.version,
                    item.origin,
                    item.reason
                )?;
            }
        }
    }
    Ok(if report.lost.is_empty() { fsck::CLEAN } else { fsck::UNCORRECTED })
}
