//! The WAL scan: every segment, every record, LSN continuity within and
//! across segments, payloads, transaction structure, and — at bad bytes —
//! the torn-tail versus mid-log decision of docs/TECH_SPECIFICATION.md
//! §5.2 (a later `Commit` whose `durable_lsn` reaches the damage, or a
//! later segment, proves the damaged records were durable).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::wal::{WalPayload, WalReader, WalRecordRef, WalStep, resync_wal};
use jubilant_format::{LogEnd, Lsn, SegmentHeader, SegmentId, SegmentKind, TxnId, ValueRef};
use serde::Serialize;

use super::Hints;
use super::files::{SegmentFile, WHOLE_FILE_MAX, read_prefix, read_whole, segments};
use super::finding::{Finding, FindingKind, Severity, expected_found_of};
use crate::error::Result;
use crate::storage::Storage;

/// Why bad bytes are known to hide durable records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "evidence", rename_all = "snake_case")]
pub enum MidLogEvidence {
    /// A later `Commit` says the log was fsynced past the damage.
    DurableLsn {
        /// LSN of that commit.
        commit_lsn: Lsn,
        /// Its `durable_lsn`.
        durable_lsn: Lsn,
    },
    /// A later segment exists (a segment is fsynced whole before the next
    /// one is created).
    LaterSegment {
        /// The later segment.
        segment: SegmentId,
    },
}

/// What bad bytes in a WAL segment mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum WalDamageClass {
    /// Nothing durable follows: safe to truncate at the bad record.
    TornTail {
        /// Bytes from the bad record to the end of the segment.
        dropped_bytes: u64,
    },
    /// Durable records follow: truncating would drop acknowledged commits.
    MidLog {
        /// LSN of the first valid record after the damage.
        resume_lsn: Option<Lsn>,
        /// The highest LSN seen after the damage.
        last_lsn: Option<Lsn>,
        /// Why the damage is known to be in the middle.
        #[serde(flatten)]
        evidence: MidLogEvidence,
    },
}

/// Bad bytes in a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalDamage {
    /// File offset of the first bad byte.
    pub offset: u64,
    /// The LSN that was due there.
    pub expected_lsn: Lsn,
    /// What the reader found.
    pub error: jubilant_format::Error,
    /// Torn tail or mid-log.
    pub class: WalDamageClass,
}

/// One segment as scanned.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentScan {
    /// The number in the file name.
    pub id: SegmentId,
    /// `wal/…`, relative to the data directory.
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
    /// LSN of the first valid record.
    pub first_lsn: Option<Lsn>,
    /// LSN of the last valid record.
    pub last_lsn: Option<Lsn>,
    /// Where the records end, when they end cleanly.
    pub end: Option<LogEnd>,
    /// Bad bytes, if any.
    pub damage: Option<WalDamage>,
}

impl SegmentScan {
    /// File offset just past the last valid record.
    #[must_use]
    pub fn valid_end(&self) -> u64 {
        match (&self.end, &self.damage) {
            (Some(end), _) => end.offset,
            (None, Some(d)) => d.offset,
            (None, None) => SEGMENT_HEADER_LEN as u64,
        }
    }
}

/// A commit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CommitRecord {
    /// The transaction.
    pub txn: TxnId,
    /// The commit's LSN (the version of every key it wrote).
    pub lsn: Lsn,
    /// The segment holding it.
    pub segment: SegmentId,
    /// Its file offset.
    pub offset: u64,
}

/// A value-log reference in a `Put` after the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalValueRef {
    /// The record's LSN.
    pub lsn: Lsn,
    /// The key.
    pub key: Vec<u8>,
    /// The reference.
    pub value_ref: ValueRef,
}

/// What the scan saw.
#[derive(Debug, Clone, Default)]
pub struct WalScan {
    /// Whether `wal/` exists.
    pub present: bool,
    /// Every segment, in number order.
    pub segments: Vec<SegmentScan>,
    /// Files in `wal/` that are not segments.
    pub other_files: Vec<String>,
    /// Valid records.
    pub records: u64,
    /// Bytes of all segment files.
    pub bytes: u64,
    /// Every commit record read (before and after the checkpoint).
    pub commits: Vec<CommitRecord>,
    /// The LSN after the last record of the unbroken log from the start.
    pub next_lsn: Option<Lsn>,
    /// Value references of `Put`s after the checkpoint.
    pub value_refs: Vec<WalValueRef>,
    /// What is wrong.
    pub findings: Vec<Finding>,
}

/// What the scan tells its visitor about each valid record.
pub type WalVisitor<'v> =
    dyn FnMut(&SegmentScan, &WalRecordRef<'_>, &std::result::Result<WalPayload, jubilant_format::Error>) + 'v;

/// Scans `dir/wal`. `checkpoint_lsn` (`None` without a valid superblock)
/// and `checkpointed` (whether the directory ever checkpointed) come from
/// the current superblock; `directory_id` from the manifest.
#[expect(clippy::too_many_arguments, reason = "one scan, its context and its visitor")]
pub fn scan_wal(
    storage: &dyn Storage,
    dir: &Path,
    directory_id: Option<u64>,
    checkpoint_lsn: Option<Lsn>,
    checkpointed: bool,
    hints: &Hints,
    progress: &mut dyn FnMut(u64),
    visit: &mut WalVisitor<'_>,
) -> Result<WalScan> {
    let mut scan = WalScan::default();
    let Some((files, others)) = segments(storage, dir, SegmentKind::Wal)? else {
        if checkpointed {
            scan.findings.push(
                Finding::new(Severity::Error, FindingKind::WalMissing, "wal", "the wal/ directory is missing, but the superblock has checkpointed: commits after the checkpoint are lost")
                    .expected_found("a wal/ directory", "none")
                    .suggest(hints.salvage()),
            );
        }
        return Ok(scan);
    };
    scan.present = true;
    for name in others {
        scan.findings.push(
            Finding::new(
                Severity::Info,
                FindingKind::UnknownFile,
                name.clone(),
                format!("{name} is not a WAL segment; the engine ignores it"),
            )
            .expected_found("NNNNNNNNNNNNNNNNNNNN.wal", name),
        );
    }
    if files.is_empty() && checkpointed {
        scan.findings.push(
            Finding::new(
                Severity::Error,
                FindingKind::WalMissing,
                "wal",
                "wal/ holds no segment, but the engine always keeps the one it appends to",
            )
            .expected_found("at least one WAL segment", "none")
            .suggest(hints.salvage()),
        );
    }
    let known = checkpoint_lsn.is_some();
    let checkpoint_lsn = checkpoint_lsn.unwrap_or(Lsn::ZERO);
    let wanted = Lsn(checkpoint_lsn.get().saturating_add(1));
    let mut txns = Txns::default();
    // The LSN the next segment must start at; `None` right after damage
    // (already reported) or before the first segment.
    let mut expected: Option<Lsn> = None;
    let count = files.len();
    for (i, file) in files.iter().enumerate() {
        let bytes = read_whole(storage, &file.path, WHOLE_FILE_MAX)?;
        progress(bytes.len() as u64);
        scan.bytes += bytes.len() as u64;
        let later = files.get(i + 1).map(|f| f.id);
        let header = SegmentHeader::decode(&bytes, SegmentKind::Wal);
        let mut seg = SegmentScan {
            id: file.id,
            name: file.name.clone(),
            path: file.path.clone(),
            len: bytes.len() as u64,
            header: header.clone(),
            records: 0,
            first_lsn: None,
            last_lsn: None,
            end: None,
            damage: None,
        };
        let header = match header {
            Ok(h) => h,
            Err(e) => {
                let (exp, found) = expected_found_of(&e);
                let torn = i + 1 == count && resync_wal(&bytes, 0, 0, wanted).is_none();
                let finding = if torn {
                    Finding::new(
                        Severity::Warning,
                        FindingKind::WalTornHeader,
                        file.name.clone(),
                        format!(
                            "{}: the newest segment's header is torn and it holds no record (an interrupted segment creation): {e}",
                            file.name
                        ),
                    )
                } else {
                    Finding::new(
                        Severity::Error,
                        FindingKind::WalSegmentHeaderInvalid,
                        file.name.clone(),
                        format!("{}: {e}", file.name),
                    )
                };
                scan.findings.push(finding.at(0).expected_found(exp, found).suggest(hints.repair()));
                scan.segments.push(seg);
                expected = None;
                continue;
            }
        };
        check_header(&mut scan, file, &header, directory_id, hints);
        if i == 0 && known && header.first_lsn > wanted {
            scan.findings.push(
                Finding::new(
                    Severity::Error,
                    FindingKind::WalGap,
                    file.name.clone(),
                    format!("the oldest WAL segment starts at LSN {}, but replay starts at LSN {wanted}: LSNs {wanted} to {} are missing", header.first_lsn, header.first_lsn.get() - 1),
                )
                .at(0)
                .lsn(wanted.get())
                .expected_found(format!("first_lsn <= {wanted}"), format!("first_lsn = {}", header.first_lsn))
                .suggest(hints.salvage()),
            );
        }
        if let Some(exp) = expected
            && header.first_lsn != exp
        {
            // Missing LSNs the checkpoint already holds only cost nothing.
            let obsolete = header.first_lsn <= wanted;
            scan.findings.push(
                Finding::new(
                    if obsolete { Severity::Warning } else { Severity::Error },
                    FindingKind::WalGap,
                    file.name.clone(),
                    format!(
                        "segment starts at LSN {}, but the previous segment ended before LSN {exp}",
                        header.first_lsn
                    ),
                )
                .at(0)
                .lsn(exp.get())
                .expected_found(format!("first_lsn = {exp}"), format!("first_lsn = {}", header.first_lsn))
                .suggest(if obsolete { hints.repair() } else { hints.salvage() }),
            );
        }
        let body = bytes.get(SEGMENT_HEADER_LEN..).unwrap_or_default();
        let mut reader = WalReader::new(body, SEGMENT_HEADER_LEN as u64, Some(header.first_lsn));
        let failure = loop {
            match reader.next_step() {
                Ok(WalStep::Record(record)) => {
                    seg.records += 1;
                    seg.first_lsn.get_or_insert(record.lsn);
                    seg.last_lsn = Some(record.lsn);
                    scan.records += 1;
                    let payload = WalPayload::decode(record.payload, record.offset);
                    visit(&seg, &record, &payload);
                    match &payload {
                        Ok(p) => {
                            if let Some(txn) = p.committed_txn() {
                                scan.commits.push(CommitRecord {
                                    txn,
                                    lsn: record.lsn,
                                    segment: file.id,
                                    offset: record.offset,
                                });
                            }
                            if record.lsn > checkpoint_lsn {
                                txns.record(&mut scan, file, &record, p, hints);
                            }
                        }
                        Err(e) => {
                            let (exp, found) = expected_found_of(e);
                            scan.findings.push(
                                Finding::new(
                                    if record.lsn > checkpoint_lsn { Severity::Error } else { Severity::Warning },
                                    FindingKind::WalPayloadInvalid,
                                    file.name.clone(),
                                    format!("LSN {}: the envelope is intact but the payload is not: {e}", record.lsn),
                                )
                                .at(record.offset)
                                .lsn(record.lsn.get())
                                .expected_found(exp, found)
                                .suggest(hints.salvage()),
                            );
                        }
                    }
                }
                Ok(WalStep::End(end)) => {
                    seg.end = Some(end);
                    break None;
                }
                Err(e) => break Some(e),
            }
        };
        let next = reader.next_lsn().unwrap_or(header.first_lsn);
        if let Some(error) = failure {
            let bad_pos = usize::try_from(reader.offset() - SEGMENT_HEADER_LEN as u64).unwrap_or(usize::MAX);
            let damage = classify(body, bad_pos, reader.offset(), next, error, later);
            let next_first = match files.get(i + 1) {
                Some(next) => read_prefix(storage, &next.path, SEGMENT_HEADER_LEN)
                    .ok()
                    .and_then(|h| SegmentHeader::decode(&h, SegmentKind::Wal).ok())
                    .map(|h| h.first_lsn),
                None => None,
            };
            report_damage(&mut scan, file, &damage, wanted, next_first, hints);
            seg.damage = Some(damage);
            expected = None;
        } else {
            expected = Some(next);
        }
        if scan.next_lsn.is_none_or(|n| n < next) {
            scan.next_lsn = Some(next);
        }
        scan.segments.push(seg);
    }
    if let Some(next) = scan.next_lsn
        && checkpointed
        && next.get() <= checkpoint_lsn.get()
    {
        let last = scan.segments.last().map_or_else(|| "wal".to_owned(), |s| s.name.clone());
        scan.findings.push(
            Finding::new(
                Severity::Error,
                FindingKind::WalBehindCheckpoint,
                last,
                format!("the WAL ends at LSN {}, below the checkpoint LSN {checkpoint_lsn}: the newest segments are missing", next.get().saturating_sub(1)),
            )
            .lsn(next.get())
            .expected_found(format!("records up to LSN {checkpoint_lsn} at least"), format!("last LSN {}", next.get().saturating_sub(1)))
            .suggest(hints.salvage()),
        );
    }
    Ok(scan)
}

fn check_header(
    scan: &mut WalScan,
    file: &SegmentFile,
    header: &SegmentHeader,
    directory_id: Option<u64>,
    hints: &Hints,
) {
    if header.segment != file.id {
        scan.findings.push(
            Finding::new(
                Severity::Error,
                FindingKind::WalSegmentMismatch,
                file.name.clone(),
                format!("{} holds the header of segment {}", file.name, header.segment),
            )
            .at(8)
            .expected_found(format!("segment {}", file.id), format!("segment {}", header.segment))
            .suggest(hints.repair()),
        );
    }
    if let Some(id) = directory_id
        && header.directory_id != id
    {
        scan.findings.push(
            Finding::new(
                Severity::Error,
                FindingKind::WalSegmentMismatch,
                file.name.clone(),
                format!("{} belongs to another directory", file.name),
            )
            .at(24)
            .expected_found(format!("directory_id {id:#x}"), format!("directory_id {:#x}", header.directory_id))
            .suggest(hints.repair()),
        );
    }
}

/// Applies the §5.2 rule to bad bytes at `bad_pos` of `body` (file offset
/// `offset`), where LSN `expected` was due.
fn classify(
    body: &[u8],
    bad_pos: usize,
    offset: u64,
    expected: Lsn,
    error: jubilant_format::Error,
    later: Option<SegmentId>,
) -> WalDamage {
    let base = SEGMENT_HEADER_LEN as u64;
    let mut pos = bad_pos;
    let mut resume: Option<Lsn> = None;
    let mut last: Option<Lsn> = None;
    let mut proof: Option<MidLogEvidence> = None;
    while let Some(r) = resync_wal(body, base, pos, expected) {
        resume.get_or_insert(r.lsn);
        last = last.max(Some(r.lsn));
        if proof.is_none()
            && let Some(durable_lsn) = WalPayload::decode(r.payload, r.offset).ok().and_then(|p| p.durable_lsn())
            && durable_lsn >= expected
        {
            proof = Some(MidLogEvidence::DurableLsn { commit_lsn: r.lsn, durable_lsn });
        }
        pos = usize::try_from(r.offset - base).unwrap_or(usize::MAX).saturating_add(r.encoded_len() - 1);
    }
    let proof = proof.or(later.map(|segment| MidLogEvidence::LaterSegment { segment }));
    let class = match proof {
        Some(evidence) => WalDamageClass::MidLog { resume_lsn: resume, last_lsn: last, evidence },
        None => WalDamageClass::TornTail { dropped_bytes: body.len().saturating_sub(bad_pos) as u64 },
    };
    WalDamage { offset, expected_lsn: expected, error, class }
}

fn report_damage(
    scan: &mut WalScan,
    file: &SegmentFile,
    damage: &WalDamage,
    wanted: Lsn,
    next_first: Option<Lsn>,
    hints: &Hints,
) {
    let (exp, found) = expected_found_of(&damage.error);
    let e = &damage.error;
    let finding = match damage.class {
        WalDamageClass::TornTail { dropped_bytes } => Finding::new(
            Severity::Warning,
            FindingKind::WalTornTail,
            file.name.clone(),
            format!(
                "torn tail at LSN {}: {dropped_bytes} bytes after the last valid record are not a valid record ({e}); nothing durable follows them, so no acknowledged commit is lost by truncating",
                damage.expected_lsn
            ),
        ),
        // Every record of this segment and the missing ones are already
        // in the checkpoint when the next segment starts at or below it.
        WalDamageClass::MidLog { .. } if next_first.is_some_and(|first| first <= wanted) => Finding::new(
            Severity::Warning,
            FindingKind::WalObsoleteSegmentDamaged,
            file.name.clone(),
            format!("damage at LSN {} in a segment the checkpoint already holds ({e})", damage.expected_lsn),
        ),
        WalDamageClass::MidLog { resume_lsn, last_lsn, evidence } => {
            let why = match evidence {
                MidLogEvidence::DurableLsn { commit_lsn, durable_lsn } => {
                    format!("the commit at LSN {commit_lsn} says the log was durable up to LSN {durable_lsn}")
                }
                MidLogEvidence::LaterSegment { segment } => format!("segment {segment} follows"),
            };
            let range = match (resume_lsn, last_lsn) {
                (Some(r), Some(l)) => format!("; valid records resume at LSN {r}, up to LSN {l}"),
                _ => String::new(),
            };
            Finding::new(
                Severity::Error,
                FindingKind::WalMidLogCorruption,
                file.name.clone(),
                format!(
                    "corruption in the middle of the log at LSN {} ({e}): {why}, so acknowledged commits may lie behind it{range}",
                    damage.expected_lsn
                ),
            )
        }
    };
    scan.findings.push(
        finding.at(damage.offset).lsn(damage.expected_lsn.get()).expected_found(exp, found).suggest(hints.repair()),
    );
}

/// Transaction structure after the checkpoint, as replay checks it.
/// Transactions still open at the end never committed: replay drops them,
/// as it should (they were never acknowledged).
#[derive(Default)]
struct Txns {
    open: HashSet<TxnId>,
}

impl Txns {
    fn record(
        &mut self,
        scan: &mut WalScan,
        file: &SegmentFile,
        record: &WalRecordRef<'_>,
        payload: &WalPayload,
        hints: &Hints,
    ) {
        payload.for_each_value_ref(|key, value_ref| {
            scan.value_refs.push(WalValueRef { lsn: record.lsn, key: key.to_vec(), value_ref: *value_ref });
        });
        let problem = match payload {
            WalPayload::Begin { txn } => {
                self.open.insert(*txn);
                None
            }
            WalPayload::Put { txn, .. } | WalPayload::Delete { txn, .. } | WalPayload::TtlTombstone { txn, .. } => {
                (!self.open.contains(txn)).then(|| format!("change of transaction {txn}, which never began"))
            }
            WalPayload::Commit { txn, .. } => {
                (!self.open.remove(txn)).then(|| format!("commit of transaction {txn}, which never began"))
            }
            // Whole in itself, as replay takes it.
            WalPayload::Txn { .. } => None,
            WalPayload::Abort { txn } => {
                self.open.remove(txn);
                None
            }
            WalPayload::Checkpoint { .. } => None,
        };
        if let Some(message) = problem {
            scan.findings.push(
                Finding::new(
                    Severity::Error,
                    FindingKind::WalTxnInvalid,
                    file.name.clone(),
                    format!("LSN {}: {message}", record.lsn),
                )
                .at(record.offset)
                .lsn(record.lsn.get())
                .expected_found("a Begin before the transaction's other records", "none")
                .suggest(hints.salvage()),
            );
        }
    }
}
