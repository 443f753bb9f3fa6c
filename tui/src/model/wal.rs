//! The WAL timeline: every segment's records in LSN order, the
//! checkpoint LSNs of both superblocks, and where and why the log breaks.
//!
//! Damage is classified as the specification says (§5.2): the format's
//! `classify_wal_damage` tells whether valid records follow the bad bytes;
//! when they do, a later `Commit` whose `durable_lsn` reaches the bad LSN
//! (or a later segment) makes it mid-log corruption, otherwise it is a
//! torn write that opening truncates.

use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::wal::{WalPayload, WalReader, WalStep, classify_wal_damage};
use jubilant_format::{Damage, EndReason, Lsn, SegmentHeader, SegmentKind, Slot};

use super::dir::DataDir;
use super::text;

/// One WAL segment file.
#[derive(Debug, Clone)]
pub struct WalSegmentView {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub len: u64,
    /// Its header, or why it is invalid.
    pub header: Result<SegmentHeader, String>,
}

/// One valid record.
#[derive(Debug, Clone)]
pub struct WalRecordView {
    /// Index of its segment.
    pub seg: usize,
    /// File offset.
    pub offset: u64,
    /// LSN.
    pub lsn: Lsn,
    /// Bytes it takes, envelope included.
    pub size: usize,
    /// Its payload, or why it does not decode.
    pub payload: Result<WalPayload, String>,
}

/// Where the log breaks, and what that means.
#[derive(Debug, Clone)]
pub struct WalDamageView {
    /// Index of the segment.
    pub seg: usize,
    /// File offset of the first bad byte.
    pub offset: u64,
    /// The LSN that was due there.
    pub expected_lsn: Lsn,
    /// The decoder's error.
    pub error: String,
    /// What it means (torn tail, mid-log corruption), in words.
    pub verdict: String,
    /// Whether opening would truncate here (a torn tail) rather than refuse.
    pub torn: bool,
}

/// A row of the timeline.
#[derive(Debug, Clone)]
pub enum WalRow {
    /// A segment starts (index into `segments`).
    Segment(usize),
    /// A superblock's checkpoint LSN: every record up to it is in the tree.
    Checkpoint {
        /// The slot.
        slot: Slot,
        /// Its checkpoint LSN.
        lsn: Lsn,
        /// Whether it is the current slot.
        current: bool,
    },
    /// A valid record.
    Record(WalRecordView),
    /// Damage.
    Damage(WalDamageView),
    /// Where a segment's records end, and why.
    End(String),
}

/// The whole WAL.
#[derive(Debug, Clone, Default)]
pub struct WalModel {
    /// Segment files.
    pub segments: Vec<WalSegmentView>,
    /// The timeline.
    pub rows: Vec<WalRow>,
    /// Valid records.
    pub records: u64,
    /// Begin records.
    pub transactions: u64,
    /// Commit records.
    pub commits: u64,
    /// Bytes of the segment files.
    pub bytes: u64,
    /// LSN of the last valid record.
    pub last_lsn: Option<Lsn>,
    /// Errors reading files.
    pub read_errors: Vec<String>,
}

impl WalModel {
    /// Index of the first damage row.
    #[must_use]
    pub fn first_damage(&self) -> Option<usize> {
        self.rows.iter().position(|r| matches!(r, WalRow::Damage(_)))
    }

    /// The damage rows.
    pub fn damages(&self) -> impl Iterator<Item = &WalDamageView> {
        self.rows.iter().filter_map(|r| match r {
            WalRow::Damage(d) => Some(d),
            _ => None,
        })
    }
}

/// Reads every WAL segment of `dir`. `checkpoints` are the valid slots'
/// checkpoint LSNs (slot, LSN, whether current), marked in the timeline.
#[must_use]
pub fn scan(dir: &DataDir, checkpoints: &[(Slot, Lsn, bool)]) -> WalModel {
    let mut model = WalModel::default();
    let count = dir.wal_segments.len();
    let mut expected: Option<Lsn> = None;
    for (seg, file) in dir.wal_segments.iter().enumerate() {
        model.bytes += file.len;
        let later_segment = seg + 1 < count;
        let buf = match dir.read_segment(SegmentKind::Wal, &file.name) {
            Ok(buf) => buf,
            Err(e) => {
                model.read_errors.push(e.clone());
                model.segments.push(WalSegmentView { name: file.name.clone(), len: file.len, header: Err(e) });
                model.rows.push(WalRow::Segment(seg));
                continue;
            }
        };
        let header = SegmentHeader::decode(&buf, SegmentKind::Wal).map_err(|e| e.to_string());
        model.segments.push(WalSegmentView { name: file.name.clone(), len: file.len, header: header.clone() });
        model.rows.push(WalRow::Segment(seg));
        let Ok(header) = header else { continue };
        let mut next = header.first_lsn;
        let mut pos = SEGMENT_HEADER_LEN;
        // Each pass reads from `pos` to the end or the next damage; a
        // mid-log damage resumes strictly after itself, so this ends.
        while pos <= buf.len() {
            let mut reader = WalReader::new(buf.get(pos..).unwrap_or_default(), pos as u64, Some(next));
            let resume = loop {
                match reader.next_step() {
                    Ok(WalStep::Record(r)) => {
                        let payload = WalPayload::decode(r.payload, r.offset).map_err(|e| e.to_string());
                        if let Ok(p) = &payload {
                            match p {
                                WalPayload::Begin { .. } => model.transactions += 1,
                                WalPayload::Commit { .. } => model.commits += 1,
                                WalPayload::Txn { .. } => {
                                    model.transactions += 1;
                                    model.commits += 1;
                                }
                                _ => {}
                            }
                        }
                        model.records += 1;
                        model.last_lsn = Some(r.lsn);
                        next = Lsn(r.lsn.get().saturating_add(1));
                        model.rows.push(WalRow::Record(WalRecordView {
                            seg,
                            offset: r.offset,
                            lsn: r.lsn,
                            size: r.encoded_len(),
                            payload,
                        }));
                    }
                    Ok(WalStep::End(end)) => {
                        model.rows.push(WalRow::End(end_text(end.offset, end.reason)));
                        break None;
                    }
                    Err(e) => {
                        let bad = reader.offset() as usize;
                        let (verdict, torn, resume) = match classify_wal_damage(&buf, 0, bad, next) {
                            Damage::TornTail { dropped_bytes, .. } if later_segment => (
                                format!(
                                    "mid-log: nothing valid follows in this segment ({dropped_bytes} bytes), but a later segment exists"
                                ),
                                false,
                                None,
                            ),
                            Damage::TornTail { dropped_bytes, .. } => (
                                format!(
                                    "torn tail: nothing valid follows ({dropped_bytes} bytes); opening truncates the log here"
                                ),
                                true,
                                None,
                            ),
                            Damage::MidLog { resume_offset, resume_lsn, .. } => (
                                format!("valid records resume at offset {resume_offset} (LSN {resume_lsn})"),
                                false,
                                Some((resume_offset as usize, Lsn(resume_lsn))),
                            ),
                        };
                        model.rows.push(WalRow::Damage(WalDamageView {
                            seg,
                            offset: bad as u64,
                            expected_lsn: next,
                            error: e.to_string(),
                            verdict,
                            torn,
                        }));
                        break resume;
                    }
                }
            };
            match resume {
                Some((offset, lsn)) if offset > pos => {
                    pos = offset;
                    next = lsn;
                }
                _ => break,
            }
        }
        if let Some(e) = expected
            && e != header.first_lsn
        {
            model.read_errors.push(format!("{}: first LSN {} but LSN {e} was due", file.name, header.first_lsn));
        }
        expected = Some(next);
    }
    refine_mid_log(&mut model, count);
    insert_checkpoints(&mut model, checkpoints);
    model
}

/// Applies the `durable_lsn` evidence rule to damage followed by valid
/// records in the same segment.
fn refine_mid_log(model: &mut WalModel, segments: usize) {
    let commits: Vec<(usize, Lsn)> = model
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            WalRow::Record(WalRecordView { payload: Ok(p), .. }) => p.durable_lsn().map(|d| (i, d)),
            _ => None,
        })
        .collect();
    for (i, row) in model.rows.iter_mut().enumerate() {
        let WalRow::Damage(d) = row else { continue };
        if d.torn || !d.verdict.starts_with("valid records resume") {
            continue;
        }
        let evidence = commits.iter().any(|&(j, durable)| j > i && durable >= d.expected_lsn);
        let later_segment = d.seg + 1 < segments;
        if evidence || later_segment {
            d.verdict = format!(
                "MID-LOG corruption: {}; a later commit says LSN {} was durable, so acknowledged records may follow (opening refuses)",
                d.verdict, d.expected_lsn
            );
        } else {
            d.torn = true;
            d.verdict = format!(
                "torn write: {}, but no later commit says LSN {} was durable; opening truncates here",
                d.verdict, d.expected_lsn
            );
        }
    }
}

fn insert_checkpoints(model: &mut WalModel, checkpoints: &[(Slot, Lsn, bool)]) {
    let mut marks: Vec<&(Slot, Lsn, bool)> = checkpoints.iter().collect();
    // Insert from the highest position down so indexes stay valid.
    marks.sort_by_key(|(slot, lsn, _)| (std::cmp::Reverse(*lsn), std::cmp::Reverse(slot.tag())));
    for &&(slot, lsn, current) in &marks {
        let at = model
            .rows
            .iter()
            .position(|r| matches!(r, WalRow::Record(rec) if rec.lsn > lsn))
            .unwrap_or(model.rows.len());
        model.rows.insert(at, WalRow::Checkpoint { slot, lsn, current });
    }
}

fn end_text(offset: u64, reason: EndReason) -> String {
    match reason {
        EndReason::Exact => format!("end of segment at offset {offset}"),
        EndReason::ZeroFill { len } => {
            format!("end at offset {offset}: {} of preallocated zeros follow", text::bytes(len))
        }
        EndReason::StaleRecord { lsn } => {
            format!("end at offset {offset}: a stale record (LSN {lsn}) of a recycled segment follows")
        }
    }
}
