//! WAL replay on open.
//!
//! Reads the segments in order from the one holding the record after the
//! checkpoint LSN, checks LSN continuity within and across segments, and
//! hands every *committed* transaction to the caller in commit order.
//! Transactions without a durable `Commit` were never acknowledged and are
//! dropped.
//!
//! Damage handling (the startup guardrails):
//! - A torn tail — bad bytes with no evidence that they were ever durable —
//!   is truncated at the last valid record (unless read-only), with a
//!   warning saying how many bytes were dropped and why. Valid records may
//!   follow the bad bytes when the disk persisted an unsynced write out of
//!   order; they were not acknowledged either.
//! - Bad bytes *with* such evidence — a later `Commit` whose `durable_lsn`
//!   reaches them, or a later segment — are corruption in the middle of
//!   the log: acknowledged commits may lie behind them. Replay fails with
//!   [`Error::WalMidLogCorruption`] naming the LSN range at risk and
//!   changes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jubilant_format::segment::SEGMENT_HEADER_LEN;
use jubilant_format::wal::{TxnWrite, WalPayload, WalReader, WalStep, resync_wal};
use jubilant_format::{Lsn, SegmentHeader, SegmentId, SegmentKind, TxnId};

use super::writer::WalPosition;
use crate::error::{Error, Result};
use crate::storage::{Storage, read_exact_at};

/// One logged change of a committed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOp {
    /// A `Put`.
    Put {
        /// Key.
        key: Vec<u8>,
        /// Value (inline).
        value: jubilant_format::wal::PutValue,
        /// Expiry.
        expires_at_unix_ms: Option<u64>,
    },
    /// A `Delete` or `TtlTombstone`.
    Delete {
        /// Key.
        key: Vec<u8>,
    },
}

/// What replay found.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    /// Where the writer continues.
    pub position: WalPosition,
    /// Committed transactions replayed (after the checkpoint).
    pub transactions: u64,
    /// Highest transaction id seen.
    pub max_txn_id: Option<TxnId>,
    /// Bytes dropped from a torn tail, if there was one.
    pub torn_tail_bytes: u64,
    /// The newest commit time in the log (ms since the Unix epoch), a
    /// floor for the TTL clock.
    pub max_commit_unix_ms: u64,
}

fn segment_path(dir: &Path, segment: SegmentId) -> PathBuf {
    dir.join(SegmentKind::Wal.file_name(segment))
}

fn read_file(storage: &dyn Storage, path: &Path) -> Result<Vec<u8>> {
    let file = storage.open_read_only(path).map_err(|e| Error::io("open WAL segment", path, e))?;
    let len = file.len().map_err(|e| Error::io("stat WAL segment", path, e))?;
    let mut buf = vec![0u8; len as usize];
    read_exact_at(&*file, &mut buf, 0).map_err(|e| Error::io("read WAL segment", path, e))?;
    Ok(buf)
}

/// Replays `dir` (the `wal/` directory) from `checkpoint_lsn + 1`, calling
/// `apply(commit_lsn, ops)` for each committed transaction in order.
pub fn replay(
    storage: &dyn Storage,
    dir: &Path,
    directory_id: u64,
    checkpoint_lsn: Lsn,
    read_only: bool,
    mut apply: impl FnMut(Lsn, Vec<ReplayOp>) -> Result<()>,
) -> Result<ReplayOutcome> {
    let mut names = match storage.list_dir(dir) {
        Ok(names) => names,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    names.sort();
    let mut ids: Vec<SegmentId> = Vec::new();
    for name in &names {
        match SegmentKind::Wal.parse_file_name(name) {
            Some(id) => ids.push(id),
            None if name == super::NEXT_SEGMENT_FILE => {}
            None => {
                tracing::warn!(file = %dir.join(name).display(), "ignoring a file that is not a WAL segment")
            }
        }
    }
    ids.sort();

    // Read every header; a bad header is only acceptable on the last
    // segment with nothing valid in it (a creation torn by a crash).
    let mut segments: Vec<(SegmentId, Lsn)> = Vec::new();
    let mut torn_tail_bytes = 0;
    for (i, &id) in ids.iter().enumerate() {
        let path = segment_path(dir, id);
        let bytes = read_file(storage, &path)?;
        match SegmentHeader::decode(&bytes, SegmentKind::Wal) {
            Ok(h) => {
                if h.segment != id || h.directory_id != directory_id {
                    return Err(Error::NeedsRepair {
                        reason: format!(
                            "{}: header names segment {} of directory {:#x}; expected segment {id} of directory {directory_id:#x}",
                            path.display(),
                            h.segment,
                            h.directory_id
                        ),
                    });
                }
                segments.push((id, h.first_lsn));
            }
            Err(e) if i + 1 == ids.len() && resync_wal(&bytes, 0, 0, Lsn(checkpoint_lsn.get() + 1)).is_none() => {
                tracing::warn!(file = %path.display(), error = %e, "WAL segment with a torn header and no records: removing it");
                torn_tail_bytes += bytes.len() as u64;
                if !read_only {
                    storage.remove(&path).map_err(|e| Error::io("remove WAL segment", &path, e))?;
                    storage.sync_dir(dir).map_err(|e| Error::io("fsync directory", dir, e))?;
                }
            }
            Err(e) => return Err(Error::corrupt(path, e)),
        }
    }

    let wanted = Lsn(checkpoint_lsn.get() + 1);
    // The first segment that may hold `wanted`: the last one starting at or
    // before it.
    let start = segments.iter().rposition(|&(_, first)| first <= wanted);
    let start = match (start, segments.first()) {
        (Some(i), _) => i,
        (None, None) => {
            return Ok(ReplayOutcome {
                position: WalPosition {
                    segments: Vec::new(),
                    end_offset: SEGMENT_HEADER_LEN as u64,
                    next_lsn: wanted,
                    fresh_segment: false,
                },
                transactions: 0,
                max_txn_id: None,
                torn_tail_bytes,
                max_commit_unix_ms: 0,
            });
        }
        (None, Some(&(id, first))) => {
            return Err(Error::WalGap {
                path: segment_path(dir, id),
                reason: format!(
                    "the oldest WAL segment starts at LSN {first}, but replay must start at LSN {wanted}: LSNs {wanted} to {} are missing",
                    first.get() - 1
                ),
            });
        }
    };

    let mut open: HashMap<TxnId, Vec<ReplayOp>> = HashMap::new();
    let mut transactions = 0u64;
    let mut max_txn: Option<TxnId> = None;
    let mut max_commit_unix_ms = 0u64;
    let mut fresh_segment = false;
    let mut expected = segments.get(start).map_or(wanted, |&(_, first)| first);
    let mut end_offset = SEGMENT_HEADER_LEN as u64;
    let mut live: Vec<(SegmentId, Lsn)> = segments.get(..start).unwrap_or_default().to_vec();

    let mut index = start;
    while let Some(&(id, first)) = segments.get(index) {
        let path = segment_path(dir, id);
        if first != expected {
            return Err(Error::WalGap {
                path,
                reason: format!("segment starts at LSN {first} but the previous segment ended before LSN {expected}"),
            });
        }
        live.push((id, first));
        let bytes = read_file(storage, &path)?;
        let body = bytes.get(SEGMENT_HEADER_LEN..).unwrap_or_default();
        let mut reader = WalReader::new(body, SEGMENT_HEADER_LEN as u64, Some(first));
        let failure = loop {
            let step = reader.next_step();
            // Damage in records the checkpoint already covers costs
            // nothing: resume at the first record after the checkpoint.
            if let Err(e) = &step
                && expected <= checkpoint_lsn
            {
                let bad_pos = (reader.offset() - SEGMENT_HEADER_LEN as u64) as usize;
                let after = Lsn(checkpoint_lsn.get() + 1);
                if let Some(r) = resync_wal(body, SEGMENT_HEADER_LEN as u64, bad_pos, after).filter(|r| r.lsn == after)
                {
                    tracing::warn!(
                        file = %path.display(),
                        offset = reader.offset(),
                        resume_offset = r.offset,
                        reason = %e,
                        "WAL damage in records the checkpoint already holds: skipped"
                    );
                    let pos = (r.offset - SEGMENT_HEADER_LEN as u64) as usize;
                    reader = WalReader::new(body.get(pos..).unwrap_or_default(), r.offset, Some(after));
                    expected = after;
                    continue;
                }
            }
            match step {
                Ok(WalStep::Record(record)) => {
                    expected = Lsn(record.lsn.get() + 1);
                    if record.lsn <= checkpoint_lsn {
                        continue;
                    }
                    let payload =
                        WalPayload::decode(record.payload, record.offset).map_err(|e| Error::corrupt(&path, e))?;
                    if let Some(txn) = payload.txn() {
                        max_txn = max_txn.max(Some(txn));
                    }
                    match payload {
                        WalPayload::Begin { txn } => {
                            open.insert(txn, Vec::new());
                        }
                        write @ (WalPayload::Put { .. }
                        | WalPayload::Delete { .. }
                        | WalPayload::TtlTombstone { .. }) => {
                            if let Some((txn, w)) = write.into_write() {
                                txn_ops(&mut open, txn, &path, record.lsn)?.push(w.into());
                            }
                        }
                        WalPayload::Commit { txn, commit_unix_ms, .. } => {
                            max_commit_unix_ms = max_commit_unix_ms.max(commit_unix_ms);
                            let ops = open.remove(&txn).ok_or_else(|| Error::NeedsRepair {
                                reason: format!(
                                    "{}: LSN {}: commit of transaction {txn}, which never began",
                                    path.display(),
                                    record.lsn
                                ),
                            })?;
                            apply(record.lsn, ops)?;
                            transactions += 1;
                        }
                        WalPayload::Txn { commit_unix_ms, writes, .. } => {
                            // Begin, writes and commit in one: applied whole.
                            max_commit_unix_ms = max_commit_unix_ms.max(commit_unix_ms);
                            apply(record.lsn, writes.into_iter().map(ReplayOp::from).collect())?;
                            transactions += 1;
                        }
                        WalPayload::Abort { txn } => {
                            open.remove(&txn);
                        }
                        WalPayload::Checkpoint { .. } => {}
                    }
                }
                Ok(WalStep::End(end)) => {
                    end_offset = end.offset;
                    break None;
                }
                Err(e) => break Some(e),
            }
        };
        let Some(error) = failure else {
            index += 1;
            continue;
        };
        // Bad bytes. Corruption in the middle of the log only with evidence
        // that the bad records were durable: a later commit saying so, or a
        // later segment (the log is fsynced before it rolls over).
        let bad_pos = (reader.offset() - SEGMENT_HEADER_LEN as u64) as usize;
        let offset = reader.offset();
        let later = segments.get(index + 1).copied();
        if expected <= checkpoint_lsn && later.is_none() {
            // Only checkpointed records are damaged and nothing after the
            // checkpoint follows: keep the segment as it is (the next
            // checkpoint removes it) and append to a fresh one.
            tracing::warn!(
                file = %path.display(),
                offset,
                reason = %error,
                "WAL damage in records the checkpoint already holds; new records go to a fresh segment"
            );
            fresh_segment = true;
            expected = Lsn(checkpoint_lsn.get() + 1);
            break;
        }
        let evidence = durable_evidence(body, bad_pos, expected);
        match (evidence, later) {
            (Some(ev), _) => {
                return Err(Error::WalMidLogCorruption {
                    path,
                    offset,
                    first_lsn_at_risk: expected,
                    resume_lsn: ev.resume_lsn,
                    last_lsn_seen: ev.last_lsn,
                });
            }
            (None, Some((later, later_first))) => {
                return Err(Error::WalMidLogCorruption {
                    path: segment_path(dir, later),
                    offset,
                    first_lsn_at_risk: expected,
                    resume_lsn: later_first,
                    last_lsn_seen: later_first,
                });
            }
            (None, None) => {
                let dropped_bytes = body.len().saturating_sub(bad_pos) as u64;
                tracing::warn!(
                    file = %path.display(),
                    offset,
                    dropped_bytes,
                    reason = %error,
                    "WAL torn tail: dropping the bytes after the last valid record (no durable record follows them, so none was acknowledged)"
                );
                torn_tail_bytes += dropped_bytes;
                if !read_only {
                    let file = storage.open(&path).map_err(|e| Error::io("open WAL segment", &path, e))?;
                    file.set_len(offset).map_err(|e| Error::io("truncate WAL segment", &path, e))?;
                    file.sync().map_err(|e| Error::io("fsync WAL segment", &path, e))?;
                }
                end_offset = offset;
                break;
            }
        }
    }
    if !live.is_empty() && expected <= checkpoint_lsn && !fresh_segment {
        // The log ends below the checkpoint: the checkpoint made the WAL
        // durable up to its LSN first, so segments are missing, and with
        // them any commit logged after the checkpoint.
        let (id, _) = live.last().copied().unwrap_or((SegmentId(0), Lsn::ZERO));
        return Err(Error::WalGap {
            path: segment_path(dir, id),
            reason: format!(
                "the WAL ends at LSN {}, below the checkpoint LSN {checkpoint_lsn}: a segment is missing",
                expected.get().saturating_sub(1)
            ),
        });
    }
    Ok(ReplayOutcome {
        position: WalPosition { segments: live, end_offset, next_lsn: expected.max(wanted), fresh_segment },
        transactions,
        max_txn_id: max_txn,
        torn_tail_bytes,
        max_commit_unix_ms,
    })
}

impl From<TxnWrite> for ReplayOp {
    fn from(w: TxnWrite) -> ReplayOp {
        match w {
            TxnWrite::Put { key, value, expires_at_unix_ms } => ReplayOp::Put { key, value, expires_at_unix_ms },
            TxnWrite::Delete { key } | TxnWrite::TtlTombstone { key, .. } => ReplayOp::Delete { key },
        }
    }
}

fn txn_ops<'a>(
    open: &'a mut HashMap<TxnId, Vec<ReplayOp>>,
    txn: TxnId,
    path: &Path,
    lsn: Lsn,
) -> Result<&'a mut Vec<ReplayOp>> {
    open.get_mut(&txn).ok_or_else(|| Error::NeedsRepair {
        reason: format!("{}: LSN {lsn}: change of transaction {txn}, which never began", path.display()),
    })
}

/// Proof that damaged records were durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    /// LSN of the first valid record after the damage.
    pub resume_lsn: Lsn,
    /// The highest LSN of a valid record after the damage.
    pub last_lsn: Lsn,
}

/// Scans the valid records after bad bytes at `bad_pos` (where LSN
/// `expected` was due) for a commit whose `durable_lsn` reaches
/// `expected`: then the bad records had been fsynced before that commit
/// was logged.
pub fn durable_evidence(body: &[u8], bad_pos: usize, expected: Lsn) -> Option<Evidence> {
    let base = SEGMENT_HEADER_LEN as u64;
    let mut pos = bad_pos;
    let mut resume: Option<Lsn> = None;
    let mut proven = false;
    let mut last = expected;
    while let Some(r) = resync_wal(body, base, pos, expected) {
        resume.get_or_insert(r.lsn);
        last = last.max(r.lsn);
        if let Some(durable_lsn) = WalPayload::decode(r.payload, r.offset).ok().and_then(|p| p.durable_lsn()) {
            proven |= durable_lsn >= expected;
        }
        pos = (r.offset - base) as usize + r.encoded_len() - 1;
    }
    match (proven, resume) {
        (true, Some(resume_lsn)) => Some(Evidence { resume_lsn, last_lsn: last }),
        _ => None,
    }
}
