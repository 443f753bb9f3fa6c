//! The value-log scan: segment headers, record CRCs and structure, torn
//! tail versus damage in the middle, and the references into it (from
//! leaves and from WAL `Put`s): always that the segment and byte range
//! exist, and with `deep` that the record there decodes, matches the
//! reference's length and CRC, and carries the same key.
//!
//! Only the format (`jubilant_format::vlog`) is used, never the engine's
//! value-log code, so the check stays independent of the writer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::vlog::{VlogReader, VlogRecordRef, VlogStep, classify_vlog_damage, decode_referenced};
use jubilant_format::{Damage, LogEnd, SegmentHeader, SegmentId, SegmentKind, ValueRef};
use serde::Serialize;

use super::Hints;
use super::files::{WHOLE_FILE_MAX, read_whole, segments};
use super::finding::{Finding, FindingKind, Severity, expected_found_of};
use crate::error::{Error, Result};
use crate::storage::{Storage, read_exact_at};

/// One value-log segment as scanned.
#[derive(Debug, Clone, Serialize)]
pub struct VlogSegmentScan {
    /// The number in the file name.
    pub id: SegmentId,
    /// `vlog/…`, relative to the data directory.
    pub name: String,
    /// The full path.
    #[serde(skip)]
    pub path: PathBuf,
    /// File length.
    pub len: u64,
    /// The header, or why it was rejected.
    pub header: std::result::Result<SegmentHeader, jubilant_format::Error>,
    /// Valid records read in order.
    pub records: u64,
    /// Bytes of those records.
    pub record_bytes: u64,
    /// Where the records end, when they end cleanly.
    pub end: Option<LogEnd>,
    /// Bad bytes: where and what they mean.
    pub damage: Option<Damage>,
    /// Bytes referenced from the tree (live), once references are checked.
    pub live_bytes: u64,
}

impl VlogSegmentScan {
    /// File offset just past the last valid record.
    #[must_use]
    pub fn valid_end(&self) -> u64 {
        match (&self.end, &self.damage) {
            (Some(end), _) => end.offset,
            (None, Some(Damage::TornTail { offset, .. } | Damage::MidLog { offset, .. })) => *offset,
            (None, None) => SEGMENT_HEADER_LEN as u64,
        }
    }
}

/// What the value-log scan saw.
#[derive(Debug, Clone, Default)]
pub struct VlogScan {
    /// Whether `vlog/` exists.
    pub present: bool,
    /// Every segment, in number order.
    pub segments: Vec<VlogSegmentScan>,
    /// Valid records.
    pub records: u64,
    /// Bytes of all segment files.
    pub bytes: u64,
    /// What is wrong.
    pub findings: Vec<Finding>,
}

/// What the scan tells its visitor about each valid record.
pub type VlogVisitor<'v> = dyn FnMut(&VlogSegmentScan, &VlogRecordRef<'_>) + 'v;

/// Scans `dir/vlog`.
pub fn scan_vlog(
    storage: &dyn Storage,
    dir: &Path,
    directory_id: Option<u64>,
    hints: &Hints,
    progress: &mut dyn FnMut(u64),
    visit: &mut VlogVisitor<'_>,
) -> Result<VlogScan> {
    let mut scan = VlogScan::default();
    let Some((files, others)) = segments(storage, dir, SegmentKind::ValueLog)? else { return Ok(scan) };
    scan.present = true;
    for name in others {
        scan.findings.push(
            Finding::new(
                Severity::Info,
                FindingKind::UnknownFile,
                name.clone(),
                format!("{name} is not a value-log segment; the engine ignores it"),
            )
            .expected_found("NNNNNNNNNNNNNNNNNNNN.vlog", name),
        );
    }
    for file in &files {
        let bytes = read_whole(storage, &file.path, WHOLE_FILE_MAX)?;
        progress(bytes.len() as u64);
        scan.bytes += bytes.len() as u64;
        let header = SegmentHeader::decode(&bytes, SegmentKind::ValueLog);
        let mut seg = VlogSegmentScan {
            id: file.id,
            name: file.name.clone(),
            path: file.path.clone(),
            len: bytes.len() as u64,
            header: header.clone(),
            records: 0,
            record_bytes: 0,
            end: None,
            damage: None,
            live_bytes: 0,
        };
        match header {
            Err(e) => {
                let (exp, found) = expected_found_of(&e);
                scan.findings.push(
                    Finding::new(
                        Severity::Error,
                        FindingKind::VlogSegmentHeaderInvalid,
                        file.name.clone(),
                        format!("{}: {e}", file.name),
                    )
                    .at(0)
                    .expected_found(exp, found)
                    .suggest(hints.salvage()),
                );
                scan.segments.push(seg);
                continue;
            }
            Ok(h) => {
                let foreign = directory_id.is_some_and(|id| id != h.directory_id);
                if h.segment != file.id || foreign {
                    scan.findings.push(
                        Finding::new(
                            Severity::Error,
                            FindingKind::VlogSegmentHeaderInvalid,
                            file.name.clone(),
                            format!(
                                "{}: the header names segment {} of directory {:#x}",
                                file.name, h.segment, h.directory_id
                            ),
                        )
                        .at(0)
                        .expected_found(
                            format!("segment {} of directory {:#x}", file.id, directory_id.unwrap_or(h.directory_id)),
                            format!("segment {} of directory {:#x}", h.segment, h.directory_id),
                        )
                        .suggest(hints.salvage()),
                    );
                }
            }
        }
        let body = bytes.get(SEGMENT_HEADER_LEN..).unwrap_or_default();
        let mut reader = VlogReader::new(body, SEGMENT_HEADER_LEN as u64);
        let failure = loop {
            match reader.next_step() {
                Ok(VlogStep::Record(record)) => {
                    seg.records += 1;
                    seg.record_bytes += u64::from(record.length);
                    scan.records += 1;
                    visit(&seg, &record);
                }
                Ok(VlogStep::End(end)) => {
                    seg.end = Some(end);
                    break None;
                }
                Err(e) => break Some(e),
            }
        };
        if let Some(error) = failure {
            let bad_pos = usize::try_from(reader.offset() - SEGMENT_HEADER_LEN as u64).unwrap_or(usize::MAX);
            let damage = classify_vlog_damage(body, SEGMENT_HEADER_LEN as u64, bad_pos);
            let (exp, found) = expected_found_of(&error);
            let finding = match damage {
                Damage::TornTail { offset, dropped_bytes } => Finding::new(
                    Severity::Warning,
                    FindingKind::VlogTornTail,
                    file.name.clone(),
                    format!("torn tail: {dropped_bytes} bytes after the last valid record are not a valid record ({error})"),
                )
                .at(offset)
                .suggest(hints.repair()),
                Damage::MidLog { offset, resume_offset, .. } => Finding::new(
                    Severity::Error,
                    FindingKind::VlogCorruptRecord,
                    file.name.clone(),
                    format!("bad record in the middle of the segment ({error}); valid records resume at offset {resume_offset}"),
                )
                .at(offset)
                .suggest(hints.salvage()),
            };
            scan.findings.push(finding.expected_found(exp, found));
            seg.damage = Some(damage);
        }
        scan.segments.push(seg);
    }
    Ok(scan)
}

/// Where a reference was found, for findings.
#[derive(Debug, Clone)]
pub struct RefOrigin {
    /// The file holding the reference (`pages.jdb`, `wal/…`).
    pub file: String,
    /// Page id (for leaves).
    pub page: Option<u64>,
    /// LSN (for WAL records).
    pub lsn: Option<u64>,
    /// The key the reference belongs to.
    pub key: Vec<u8>,
}

/// Checks references into the value log; adds each segment's live bytes.
/// Returns each problem with the key whose reference it is.
pub fn check_refs(
    storage: &dyn Storage,
    scan: &mut VlogScan,
    refs: &[(RefOrigin, ValueRef)],
    deep: bool,
    page_size: u32,
    hints: &Hints,
) -> Result<Vec<(Finding, Vec<u8>)>> {
    let mut findings: Vec<(Finding, Vec<u8>)> = Vec::new();
    let index: BTreeMap<SegmentId, usize> = scan.segments.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let mut files: BTreeMap<SegmentId, std::sync::Arc<dyn crate::storage::StorageFile>> = BTreeMap::new();
    for (origin, r) in refs {
        let dangling = |found: String| {
            let mut f = Finding::new(
                Severity::Error,
                FindingKind::ValueRefDangling,
                origin.file.clone(),
                format!(
                    "the value of key {} refers to value-log segment {} offset {} ({} bytes): {found}",
                    jubilant_format::view::display_bytes(&origin.key),
                    r.segment,
                    r.offset,
                    r.length
                ),
            )
            .expected_found(format!("a record at segment {} offset {}", r.segment, r.offset), found)
            .suggest(hints.repair());
            if let Some(p) = origin.page {
                f = f.page(p, page_size);
            }
            if let Some(l) = origin.lsn {
                f = f.lsn(l);
            }
            f
        };
        let Some(seg) = index.get(&r.segment).and_then(|&i| scan.segments.get_mut(i)) else {
            findings.push((dangling("no such segment".into()), origin.key.clone()));
            continue;
        };
        let end = r.offset.checked_add(u64::from(r.length));
        // Records after damage in the middle are still valid; after a torn
        // tail there are none.
        let limit = if matches!(seg.damage, Some(Damage::MidLog { .. })) { seg.len } else { seg.valid_end() };
        if r.offset < SEGMENT_HEADER_LEN as u64 || end.is_none_or(|e| e > limit) {
            findings.push((dangling(format!("the segment's valid records end at offset {limit}")), origin.key.clone()));
            continue;
        }
        seg.live_bytes += u64::from(r.length);
        if !deep {
            continue;
        }
        let file = match files.get(&r.segment) {
            Some(f) => std::sync::Arc::clone(f),
            None => {
                let f = storage.open_read_only(&seg.path).map_err(|e| Error::io("open", &seg.path, e))?;
                files.insert(r.segment, std::sync::Arc::clone(&f));
                f
            }
        };
        let mut buf = vec![0u8; r.length as usize];
        read_exact_at(&*file, &mut buf, r.offset).map_err(|e| Error::io("read", &seg.path, e))?;
        let problem = match decode_referenced(&buf, r) {
            Ok(record) if record.key == origin.key.as_slice() => None,
            Ok(record) => Some((
                format!("key {}", jubilant_format::view::display_bytes(&origin.key)),
                format!("a record of key {}", jubilant_format::view::display_bytes(record.key)),
            )),
            Err(e) => Some(expected_found_of(&e)),
        };
        if let Some((expected, found)) = problem {
            let mut f = Finding::new(
                Severity::Error,
                FindingKind::ValueRefMismatch,
                origin.file.clone(),
                format!(
                    "the value of key {} refers to segment {} offset {}, which holds another record or a damaged one",
                    jubilant_format::view::display_bytes(&origin.key),
                    r.segment,
                    r.offset
                ),
            )
            .expected_found(expected, found)
            .suggest(hints.repair());
            if let Some(p) = origin.page {
                f = f.page(p, page_size);
            }
            if let Some(l) = origin.lsn {
                f = f.lsn(l);
            }
            findings.push((f, origin.key.clone()));
        }
    }
    Ok(findings)
}
