//! `jubectl stat DIR`: where the space goes.
//!
//! JSON: the engine's `validate::inspect::Stat` — `{"dir","page_size",
//! "files":[{"file","bytes"}],"total_bytes","pages_by_type":{TYPE: N},"file_pages",
//! "page_count","tree_depth","keys","tree_pages","tree_fill","free_pages",
//! "wal_segments","wal_bytes","wal_records",
//! "vlog_segments":[{"segment","bytes","records","live_bytes","live_ratio"}],"problems"}`.

use std::io::Write;
use std::path::Path;

use jubilant_engine::storage::Storage;
use jubilant_engine::validate::inspect::stat;

use super::progress::Bar;
use super::{OfflineError, write_json};
use crate::exit::fsck;

/// Runs `stat`.
pub fn run(storage: &dyn Storage, dir: &Path, json: bool, out: &mut dyn Write) -> Result<u8, OfflineError> {
    let mut bar = Bar::new("stat", json);
    let result = stat(storage, dir, &mut |p| bar.update(p));
    bar.finish();
    let s = result?;
    if json {
        write_json(out, &s)?;
    } else {
        writeln!(out, "data directory {} (page size {})", s.dir, s.page_size)?;
        writeln!(out, "files")?;
        for f in &s.files {
            writeln!(out, "  {:<32} {:>14} bytes", f.file, f.bytes)?;
        }
        writeln!(out, "  {:<32} {:>14} bytes", "total", s.total_bytes)?;
        writeln!(out, "pages: {} in the file, {} counted by the superblock", s.file_pages, s.page_count)?;
        for (kind, n) in &s.pages_by_type {
            writeln!(out, "  {kind:<12} {n:>10}")?;
        }
        writeln!(
            out,
            "tree: depth {}, {} keys, {} pages, {:.1}% full, {} free pages",
            s.tree_depth,
            s.keys,
            s.tree_pages,
            s.tree_fill * 100.0,
            s.free_pages
        )?;
        writeln!(out, "wal: {} segments, {} bytes, {} records", s.wal_segments, s.wal_bytes, s.wal_records)?;
        writeln!(out, "vlog: {} segments", s.vlog_segments.len())?;
        for v in &s.vlog_segments {
            writeln!(
                out,
                "  segment {:<6} {:>14} bytes  {:>8} records  {:>5.1}% live",
                v.segment,
                v.bytes,
                v.records,
                v.live_ratio * 100.0
            )?;
        }
        if s.problems > 0 {
            writeln!(out, "{} problem(s) found: run `jubectl validate {}` for details", s.problems, s.dir)?;
        }
    }
    Ok(if s.problems > 0 { fsck::UNCORRECTED } else { fsck::CLEAN })
}
