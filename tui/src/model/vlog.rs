//! Value-log segments and their records, and following a leaf's value
//! reference to the record it names.
//!
//! Values are never kept whole: a record keeps its length, a hash and a
//! short prefix (shown only when values are revealed).

use jubilant_format::hash::fnv1a64;
use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::vlog::{VlogReader, VlogRecordRef, VlogStep, classify_vlog_damage, decode_referenced};
use jubilant_format::{Damage, EndReason, Lsn, SegmentHeader, SegmentId, SegmentKind, ValueRef};

use super::dir::DataDir;
use super::text;

/// Bytes of a value kept for display.
pub const PREVIEW_LEN: usize = 96;

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlogRecordView {
    /// File offset.
    pub offset: u64,
    /// Total length.
    pub length: u32,
    /// Stored CRC32C.
    pub crc: u32,
    /// LSN of the writing transaction.
    pub lsn: Lsn,
    /// The key.
    pub key: Vec<u8>,
    /// Value length.
    pub value_len: usize,
    /// FNV-1a 64 of the value.
    pub value_hash: u64,
    /// The value's first bytes.
    pub preview: Vec<u8>,
}

impl VlogRecordView {
    fn of(r: &VlogRecordRef<'_>) -> VlogRecordView {
        VlogRecordView {
            offset: r.offset,
            length: r.length,
            crc: r.crc,
            lsn: r.lsn,
            key: r.key.to_vec(),
            value_len: r.value.len(),
            value_hash: fnv1a64(r.value),
            preview: r.value.get(..PREVIEW_LEN).unwrap_or(r.value).to_vec(),
        }
    }

    /// The value, redacted: length and hash.
    #[must_use]
    pub fn redacted(&self) -> String {
        format!("‹{} B, fnv {:08x}›", self.value_len, self.value_hash >> 32)
    }
}

/// A row of a segment's record list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VlogRow {
    /// A valid record.
    Record(VlogRecordView),
    /// Damage: offset, the decoder's error, and what it means.
    Damage {
        /// File offset of the first bad byte.
        offset: u64,
        /// The decoder's error.
        error: String,
        /// Torn tail or mid-segment damage, in words.
        verdict: String,
    },
    /// Where the records end.
    End(String),
}

/// One segment.
#[derive(Debug, Clone)]
pub struct VlogSegmentView {
    /// Its number.
    pub id: SegmentId,
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub len: u64,
    /// Header, or why it is invalid.
    pub header: Result<SegmentHeader, String>,
    /// Records, damage and end.
    pub rows: Vec<VlogRow>,
}

impl VlogSegmentView {
    /// Valid records.
    pub fn records(&self) -> impl Iterator<Item = &VlogRecordView> {
        self.rows.iter().filter_map(|r| match r {
            VlogRow::Record(r) => Some(r),
            _ => None,
        })
    }

    /// Whether any row is damage (or the header is invalid).
    #[must_use]
    pub fn damaged(&self) -> bool {
        self.header.is_err() || self.rows.iter().any(|r| matches!(r, VlogRow::Damage { .. }))
    }
}

/// The whole value log.
#[derive(Debug, Clone, Default)]
pub struct VlogModel {
    /// Segments, in number order.
    pub segments: Vec<VlogSegmentView>,
}

impl VlogModel {
    /// Valid records in all segments.
    #[must_use]
    pub fn records(&self) -> usize {
        self.segments.iter().map(|s| s.records().count()).sum()
    }

    /// Bytes of all segment files.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }
}

/// Reads every value-log segment of `dir`.
#[must_use]
pub fn scan(dir: &DataDir) -> VlogModel {
    let mut model = VlogModel::default();
    for file in &dir.vlog_segments {
        let mut view = VlogSegmentView {
            id: file.id,
            name: file.name.clone(),
            len: file.len,
            header: Ok(dummy()),
            rows: Vec::new(),
        };
        let buf = match dir.read_segment(SegmentKind::ValueLog, &file.name) {
            Ok(buf) => buf,
            Err(e) => {
                view.header = Err(e);
                model.segments.push(view);
                continue;
            }
        };
        view.header = SegmentHeader::decode(&buf, SegmentKind::ValueLog).map_err(|e| e.to_string());
        if view.header.is_ok() {
            view.rows = read_records(&buf);
        }
        model.segments.push(view);
    }
    model
}

fn dummy() -> SegmentHeader {
    SegmentHeader { kind: SegmentKind::ValueLog, segment: SegmentId(0), first_lsn: Lsn::ZERO, directory_id: 0 }
}

fn read_records(buf: &[u8]) -> Vec<VlogRow> {
    let mut rows = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN;
    // Each pass ends at the end, a torn tail, or damage followed by a
    // valid record strictly later, where the next pass starts.
    while pos <= buf.len() {
        let mut reader = VlogReader::new(buf.get(pos..).unwrap_or_default(), pos as u64);
        let resume = loop {
            match reader.next_step() {
                Ok(VlogStep::Record(r)) => rows.push(VlogRow::Record(VlogRecordView::of(&r))),
                Ok(VlogStep::End(end)) => {
                    rows.push(VlogRow::End(match end.reason {
                        EndReason::ZeroFill { len } => {
                            format!("end at offset {}: {} of zeros follow", end.offset, text::bytes(len))
                        }
                        _ => format!("end of segment at offset {}", end.offset),
                    }));
                    break None;
                }
                Err(e) => {
                    let bad = reader.offset() as usize;
                    let (verdict, resume) = match classify_vlog_damage(buf, 0, bad) {
                        Damage::TornTail { dropped_bytes, .. } => {
                            (format!("torn tail: nothing valid follows ({dropped_bytes} bytes); opening cuts it"), None)
                        }
                        Damage::MidLog { resume_offset, resume_lsn, .. } => (
                            format!(
                                "mid-segment damage: valid records resume at offset {resume_offset} (LSN {resume_lsn}); kept and reported"
                            ),
                            Some(resume_offset as usize),
                        ),
                    };
                    rows.push(VlogRow::Damage { offset: bad as u64, error: e.to_string(), verdict });
                    break resume;
                }
            }
        };
        match resume {
            Some(offset) if offset > pos => pos = offset,
            _ => break,
        }
    }
    rows
}

/// The outcome of following a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    /// The key of the leaf entry that holds the reference.
    pub key: Vec<u8>,
    /// The reference.
    pub value_ref: ValueRef,
    /// The record it names, or why it cannot be read.
    pub result: Result<VlogRecordView, String>,
}

/// Reads the record `r` names and checks it is the record the reference
/// was made for (length, CRC, and the key of the leaf entry).
#[must_use]
pub fn follow(dir: &DataDir, key: &[u8], r: ValueRef) -> Followed {
    let result = dir
        .read_segment_at(SegmentKind::ValueLog, r.segment, r.offset, r.length as usize)
        .and_then(|bytes| decode_referenced(&bytes, &r).map(|rec| VlogRecordView::of(&rec)).map_err(|e| e.to_string()))
        .and_then(|rec| {
            if rec.key == key {
                Ok(rec)
            } else {
                Err(format!(
                    "the record at offset {} belongs to key {}, not this entry's",
                    r.offset,
                    text::key(&rec.key, 40)
                ))
            }
        });
    Followed { key: key.to_vec(), value_ref: r, result }
}
