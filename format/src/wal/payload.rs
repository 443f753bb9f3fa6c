//! Typed WAL record payloads and their FlatBuffers encoding (`wal.fbs`).
//!
//! A transaction is logged as one `Txn` record holding all its writes, or,
//! when that record would be too large, as `Begin`, its
//! `Put`/`Delete`/`TtlTombstone` records, then `Commit` (or `Abort`).
//! Replay applies a transaction's writes only when its `Txn` or `Commit`
//! record is in the log.

use flatbuffers::{FlatBufferBuilder, VerifierOptions, WIPOffset};
use serde::Serialize;

use crate::error::{Error, Result, Structure};
use crate::generated::wal as fb;
use crate::ids::{Generation, Lsn, SegmentId, TxnId};
use crate::value_ref::ValueRef;

/// Where a `Put`'s value is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PutValue {
    /// In the record itself.
    Inline(#[serde(serialize_with = "crate::view::bytes")] Vec<u8>),
    /// In the value log.
    Ref(ValueRef),
}

/// One write of a [`WalPayload::Txn`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TxnWrite {
    /// Writes a key (as [`WalPayload::Put`]).
    Put {
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
        /// The value, inline or in the value log.
        value: PutValue,
        /// Absolute expiry in milliseconds since the Unix epoch; `None`
        /// never expires.
        expires_at_unix_ms: Option<u64>,
    },
    /// Removes a key (as [`WalPayload::Delete`]).
    Delete {
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
    },
    /// Removes a key whose TTL expired (as [`WalPayload::TtlTombstone`]).
    TtlTombstone {
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
        /// When it expired, milliseconds since the Unix epoch.
        expired_at_unix_ms: u64,
    },
}

impl TxnWrite {
    /// The key written.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        match self {
            TxnWrite::Put { key, .. } | TxnWrite::Delete { key } | TxnWrite::TtlTombstone { key, .. } => key,
        }
    }

    /// The record that logs this write on its own, in transaction `txn`
    /// (the separate-records form).
    #[must_use]
    pub fn into_record(self, txn: TxnId) -> WalPayload {
        match self {
            TxnWrite::Put { key, value, expires_at_unix_ms } => WalPayload::Put { txn, key, value, expires_at_unix_ms },
            TxnWrite::Delete { key } => WalPayload::Delete { txn, key },
            TxnWrite::TtlTombstone { key, expired_at_unix_ms } => {
                WalPayload::TtlTombstone { txn, key, expired_at_unix_ms }
            }
        }
    }
}

/// Bytes a `Txn` record may take per write beyond its key and inline
/// value (table, vtable, vector lengths, alignment). See
/// [`txn_payload_bound`].
pub const TXN_WRITE_OVERHEAD: usize = 96;

/// Bytes of a `Txn` record beyond its writes (root, union, header fields).
pub const TXN_RECORD_OVERHEAD: usize = 128;

/// An upper bound of the encoded payload of a `Txn` record whose writes
/// have these `(key length, inline value length)` (0 for a value in the
/// value log, a delete or a tombstone): what a writer checks against its
/// limit before choosing the one-record form.
#[must_use]
pub fn txn_payload_bound(writes: impl IntoIterator<Item = (usize, usize)>) -> usize {
    writes
        .into_iter()
        .fold(TXN_RECORD_OVERHEAD, |sum, (key, inline)| sum.saturating_add(key + inline + TXN_WRITE_OVERHEAD))
}

/// The payload of one WAL record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WalPayload {
    /// Opens a transaction.
    Begin {
        /// The transaction.
        txn: TxnId,
    },
    /// Writes a key.
    Put {
        /// The transaction.
        txn: TxnId,
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
        /// The value, inline or in the value log.
        value: PutValue,
        /// Absolute expiry in milliseconds since the Unix epoch; `None`
        /// never expires.
        expires_at_unix_ms: Option<u64>,
    },
    /// Removes a key.
    Delete {
        /// The transaction.
        txn: TxnId,
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
    },
    /// Commits a transaction.
    Commit {
        /// The transaction.
        txn: TxnId,
        /// Wall-clock time of the commit, milliseconds since the Unix epoch.
        commit_unix_ms: u64,
        /// Every record up to this LSN was durable when the commit was
        /// logged (tells mid-log corruption from a torn tail).
        durable_lsn: Lsn,
    },
    /// Abandons a transaction.
    Abort {
        /// The transaction.
        txn: TxnId,
    },
    /// Marks a completed checkpoint.
    Checkpoint {
        /// Every record up to this LSN is in the checkpointed tree.
        checkpoint_lsn: Lsn,
        /// The superblock generation written.
        generation: Generation,
    },
    /// Removes a key whose TTL expired.
    TtlTombstone {
        /// The transaction.
        txn: TxnId,
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
        /// When it expired, milliseconds since the Unix epoch.
        expired_at_unix_ms: u64,
    },
    /// A whole transaction: its writes and its commit, in one record.
    Txn {
        /// The transaction.
        txn: TxnId,
        /// As in [`WalPayload::Commit`].
        commit_unix_ms: u64,
        /// As in [`WalPayload::Commit`].
        durable_lsn: Lsn,
        /// The writes, applied in this order.
        writes: Vec<TxnWrite>,
    },
}

/// The kind of a WAL record, without its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WalRecordKind {
    /// [`WalPayload::Begin`].
    Begin,
    /// [`WalPayload::Put`].
    Put,
    /// [`WalPayload::Delete`].
    Delete,
    /// [`WalPayload::Commit`].
    Commit,
    /// [`WalPayload::Abort`].
    Abort,
    /// [`WalPayload::Checkpoint`].
    Checkpoint,
    /// [`WalPayload::TtlTombstone`].
    TtlTombstone,
    /// [`WalPayload::Txn`].
    Txn,
}

impl WalRecordKind {
    /// Every kind.
    pub const ALL: [WalRecordKind; 8] = [
        WalRecordKind::Begin,
        WalRecordKind::Put,
        WalRecordKind::Delete,
        WalRecordKind::Commit,
        WalRecordKind::Abort,
        WalRecordKind::Checkpoint,
        WalRecordKind::TtlTombstone,
        WalRecordKind::Txn,
    ];

    /// Lower-case name, as in dumps and golden file names.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            WalRecordKind::Begin => "begin",
            WalRecordKind::Put => "put",
            WalRecordKind::Delete => "delete",
            WalRecordKind::Commit => "commit",
            WalRecordKind::Abort => "abort",
            WalRecordKind::Checkpoint => "checkpoint",
            WalRecordKind::TtlTombstone => "ttl_tombstone",
            WalRecordKind::Txn => "txn",
        }
    }
}

/// Verifier limits for WAL payloads: a payload is a flat table or a `Txn`
/// with a vector of flat tables, so a small depth suffices; tables are
/// bounded by what fits in a payload (each takes at least 8 bytes with
/// its offset), which bounds the verifier's work with the size.
fn verifier_options() -> VerifierOptions {
    VerifierOptions {
        max_depth: 8,
        max_tables: crate::wal::WAL_PAYLOAD_MAX / 8,
        max_apparent_size: crate::wal::WAL_PAYLOAD_MAX,
        ignore_missing_null_terminator: false,
    }
}

fn fb_value_ref(r: &ValueRef) -> fb::ValueRef {
    fb::ValueRef::new(r.segment.get(), r.offset, r.length, r.crc)
}

impl WalPayload {
    /// The record kind.
    #[must_use]
    pub const fn kind(&self) -> WalRecordKind {
        match self {
            WalPayload::Begin { .. } => WalRecordKind::Begin,
            WalPayload::Put { .. } => WalRecordKind::Put,
            WalPayload::Delete { .. } => WalRecordKind::Delete,
            WalPayload::Commit { .. } => WalRecordKind::Commit,
            WalPayload::Abort { .. } => WalRecordKind::Abort,
            WalPayload::Checkpoint { .. } => WalRecordKind::Checkpoint,
            WalPayload::TtlTombstone { .. } => WalRecordKind::TtlTombstone,
            WalPayload::Txn { .. } => WalRecordKind::Txn,
        }
    }

    /// The transaction the record belongs to (`None` for checkpoints).
    #[must_use]
    pub const fn txn(&self) -> Option<TxnId> {
        match self {
            WalPayload::Begin { txn }
            | WalPayload::Put { txn, .. }
            | WalPayload::Delete { txn, .. }
            | WalPayload::Commit { txn, .. }
            | WalPayload::Abort { txn }
            | WalPayload::TtlTombstone { txn, .. }
            | WalPayload::Txn { txn, .. } => Some(*txn),
            WalPayload::Checkpoint { .. } => None,
        }
    }

    /// The durable LSN a commit (`Commit` or `Txn`) carries.
    #[must_use]
    pub const fn durable_lsn(&self) -> Option<Lsn> {
        match self {
            WalPayload::Commit { durable_lsn, .. } | WalPayload::Txn { durable_lsn, .. } => Some(*durable_lsn),
            _ => None,
        }
    }

    /// The transaction the record commits (`Commit` or `Txn`).
    #[must_use]
    pub const fn committed_txn(&self) -> Option<TxnId> {
        match self {
            WalPayload::Commit { txn, .. } | WalPayload::Txn { txn, .. } => Some(*txn),
            _ => None,
        }
    }

    /// A record of one write (`Put`, `Delete`, `TtlTombstone`) as its
    /// transaction and that write; `None` for the other kinds.
    #[must_use]
    pub fn into_write(self) -> Option<(TxnId, TxnWrite)> {
        match self {
            WalPayload::Put { txn, key, value, expires_at_unix_ms } => {
                Some((txn, TxnWrite::Put { key, value, expires_at_unix_ms }))
            }
            WalPayload::Delete { txn, key } => Some((txn, TxnWrite::Delete { key })),
            WalPayload::TtlTombstone { txn, key, expired_at_unix_ms } => {
                Some((txn, TxnWrite::TtlTombstone { key, expired_at_unix_ms }))
            }
            _ => None,
        }
    }

    /// Calls `f` with the key and value-log reference of every put in the
    /// record that keeps its value in the value log (a `Put`, or the writes
    /// of a `Txn`).
    pub fn for_each_value_ref(&self, mut f: impl FnMut(&[u8], &ValueRef)) {
        match self {
            WalPayload::Put { key, value: PutValue::Ref(r), .. } => f(key, r),
            WalPayload::Txn { writes, .. } => {
                for w in writes {
                    if let TxnWrite::Put { key, value: PutValue::Ref(r), .. } = w {
                        f(key, r);
                    }
                }
            }
            _ => {}
        }
    }

    /// The key the record touches, if any (the writes of a `Txn` are in
    /// the record).
    #[must_use]
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            WalPayload::Put { key, .. } | WalPayload::Delete { key, .. } | WalPayload::TtlTombstone { key, .. } => {
                Some(key)
            }
            _ => None,
        }
    }

    /// Encodes the payload into `fbb` (which is reset first) and returns
    /// the finished bytes. Reusing one builder avoids an allocation per
    /// record.
    pub fn encode_with<'b>(&self, fbb: &'b mut FlatBufferBuilder<'_>) -> &'b [u8] {
        fbb.reset();
        let (payload_type, payload) = self.build(fbb);
        let root = fb::WalRecord::create(fbb, &fb::WalRecordArgs { payload_type, payload: Some(payload) });
        fbb.finish_minimal(root);
        fbb.finished_data()
    }

    /// Encodes the payload into a new buffer.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        self.encode_with(&mut fbb).to_vec()
    }

    fn build(&self, fbb: &mut FlatBufferBuilder<'_>) -> (fb::Payload, WIPOffset<flatbuffers::UnionWIPOffset>) {
        match self {
            WalPayload::Begin { txn } => {
                let t = fb::Begin::create(fbb, &fb::BeginArgs { txn_id: txn.get() });
                (fb::Payload::Begin, t.as_union_value())
            }
            WalPayload::Put { txn, key, value, expires_at_unix_ms } => {
                let key = fbb.create_vector(key);
                let (value, value_ref) = match value {
                    PutValue::Inline(v) => (Some(fbb.create_vector(v)), None),
                    PutValue::Ref(r) => (None, Some(fb_value_ref(r))),
                };
                let t = fb::Put::create(
                    fbb,
                    &fb::PutArgs {
                        txn_id: txn.get(),
                        key: Some(key),
                        value,
                        value_ref: value_ref.as_ref(),
                        expires_at_unix_ms: expires_at_unix_ms.unwrap_or(0),
                    },
                );
                (fb::Payload::Put, t.as_union_value())
            }
            WalPayload::Delete { txn, key } => {
                let key = fbb.create_vector(key);
                let t = fb::Delete::create(fbb, &fb::DeleteArgs { txn_id: txn.get(), key: Some(key) });
                (fb::Payload::Delete, t.as_union_value())
            }
            WalPayload::Commit { txn, commit_unix_ms, durable_lsn } => {
                let t = fb::Commit::create(
                    fbb,
                    &fb::CommitArgs {
                        txn_id: txn.get(),
                        commit_unix_ms: *commit_unix_ms,
                        durable_lsn: durable_lsn.get(),
                    },
                );
                (fb::Payload::Commit, t.as_union_value())
            }
            WalPayload::Abort { txn } => {
                let t = fb::Abort::create(fbb, &fb::AbortArgs { txn_id: txn.get() });
                (fb::Payload::Abort, t.as_union_value())
            }
            WalPayload::Checkpoint { checkpoint_lsn, generation } => {
                let t = fb::Checkpoint::create(
                    fbb,
                    &fb::CheckpointArgs { checkpoint_lsn: checkpoint_lsn.get(), generation: generation.get() },
                );
                (fb::Payload::Checkpoint, t.as_union_value())
            }
            WalPayload::TtlTombstone { txn, key, expired_at_unix_ms } => {
                let key = fbb.create_vector(key);
                let t = fb::TtlTombstone::create(
                    fbb,
                    &fb::TtlTombstoneArgs {
                        txn_id: txn.get(),
                        key: Some(key),
                        expired_at_unix_ms: *expired_at_unix_ms,
                    },
                );
                (fb::Payload::TtlTombstone, t.as_union_value())
            }
            WalPayload::Txn { txn, commit_unix_ms, durable_lsn, writes } => {
                let writes: Vec<_> = writes.iter().map(|w| build_write(fbb, w)).collect();
                let writes = fbb.create_vector(&writes);
                let t = fb::Txn::create(
                    fbb,
                    &fb::TxnArgs {
                        txn_id: txn.get(),
                        commit_unix_ms: *commit_unix_ms,
                        durable_lsn: durable_lsn.get(),
                        writes: Some(writes),
                    },
                );
                (fb::Payload::Txn, t.as_union_value())
            }
        }
    }

    /// Verifies and decodes a payload found in the record at file offset
    /// `offset` (for error messages).
    pub fn decode(bytes: &[u8], offset: u64) -> Result<WalPayload> {
        let content = |reason: &str| Error::InvalidContent {
            structure: Structure::WalPayload,
            reason: format!("record at offset {offset}: {reason}"),
        };
        let record = flatbuffers::root_with_opts::<fb::WalRecord>(&verifier_options(), bytes).map_err(|e| {
            Error::InvalidFlatbuffer { structure: Structure::WalPayload, offset, reason: e.to_string() }
        })?;
        let tag = record.payload_type();
        let missing = || content("payload table missing");
        let payload = match tag {
            fb::Payload::Begin => {
                let t = record.payload_as_begin().ok_or_else(missing)?;
                WalPayload::Begin { txn: TxnId(t.txn_id()) }
            }
            fb::Payload::Put => {
                let t = record.payload_as_put().ok_or_else(missing)?;
                let value = put_value(t.value(), t.value_ref()).map_err(|why| content(&format!("Put has {why}")))?;
                let expires = t.expires_at_unix_ms();
                WalPayload::Put {
                    txn: TxnId(t.txn_id()),
                    key: t.key().bytes().to_vec(),
                    value,
                    expires_at_unix_ms: (expires != 0).then_some(expires),
                }
            }
            fb::Payload::Delete => {
                let t = record.payload_as_delete().ok_or_else(missing)?;
                WalPayload::Delete { txn: TxnId(t.txn_id()), key: t.key().bytes().to_vec() }
            }
            fb::Payload::Commit => {
                let t = record.payload_as_commit().ok_or_else(missing)?;
                WalPayload::Commit {
                    txn: TxnId(t.txn_id()),
                    commit_unix_ms: t.commit_unix_ms(),
                    durable_lsn: Lsn(t.durable_lsn()),
                }
            }
            fb::Payload::Abort => {
                let t = record.payload_as_abort().ok_or_else(missing)?;
                WalPayload::Abort { txn: TxnId(t.txn_id()) }
            }
            fb::Payload::Checkpoint => {
                let t = record.payload_as_checkpoint().ok_or_else(missing)?;
                WalPayload::Checkpoint {
                    checkpoint_lsn: Lsn(t.checkpoint_lsn()),
                    generation: Generation(t.generation()),
                }
            }
            fb::Payload::TtlTombstone => {
                let t = record.payload_as_ttl_tombstone().ok_or_else(missing)?;
                WalPayload::TtlTombstone {
                    txn: TxnId(t.txn_id()),
                    key: t.key().bytes().to_vec(),
                    expired_at_unix_ms: t.expired_at_unix_ms(),
                }
            }
            fb::Payload::Txn => {
                let t = record.payload_as_txn().ok_or_else(missing)?;
                let writes = t
                    .writes()
                    .iter()
                    .enumerate()
                    .map(|(i, w)| decode_write(&w).map_err(|reason| content(&format!("Txn write {i}: {reason}"))))
                    .collect::<Result<Vec<_>>>()?;
                WalPayload::Txn {
                    txn: TxnId(t.txn_id()),
                    commit_unix_ms: t.commit_unix_ms(),
                    durable_lsn: Lsn(t.durable_lsn()),
                    writes,
                }
            }
            other => {
                return Err(Error::UnknownUnionTag {
                    structure: Structure::WalPayload,
                    field: "payload",
                    tag: other.0,
                });
            }
        };
        Ok(payload)
    }
}

fn build_write<'b>(fbb: &mut FlatBufferBuilder<'b>, w: &TxnWrite) -> WIPOffset<fb::TxnWrite<'b>> {
    let (kind, key, value, unix_ms) = match w {
        TxnWrite::Put { key, value, expires_at_unix_ms } => {
            (fb::WriteKind::Put, key, Some(value), expires_at_unix_ms.unwrap_or(0))
        }
        TxnWrite::Delete { key } => (fb::WriteKind::Delete, key, None, 0),
        TxnWrite::TtlTombstone { key, expired_at_unix_ms } => {
            (fb::WriteKind::TtlTombstone, key, None, *expired_at_unix_ms)
        }
    };
    let key = fbb.create_vector(key);
    let (value, value_ref) = match value {
        Some(PutValue::Inline(v)) => (Some(fbb.create_vector(v)), None),
        Some(PutValue::Ref(r)) => (None, Some(fb_value_ref(r))),
        None => (None, None),
    };
    fb::TxnWrite::create(fbb, &fb::TxnWriteArgs { kind, key: Some(key), value, value_ref: value_ref.as_ref(), unix_ms })
}

/// A put's value from its two optional fields, exactly one of which must
/// be present (`Put` records and `Txn` writes alike), or what is wrong.
fn put_value(
    inline: Option<flatbuffers::Vector<'_, u8>>,
    by_ref: Option<&fb::ValueRef>,
) -> std::result::Result<PutValue, &'static str> {
    match (inline, by_ref) {
        (Some(v), None) => Ok(PutValue::Inline(v.bytes().to_vec())),
        (None, Some(r)) => Ok(PutValue::Ref(ValueRef {
            segment: SegmentId(r.segment()),
            offset: r.offset(),
            length: r.length(),
            crc: r.crc(),
        })),
        (Some(_), Some(_)) => Err("both an inline value and a value reference"),
        (None, None) => Err("neither an inline value nor a value reference"),
    }
}

/// One write of a verified `Txn`, or why it is invalid.
fn decode_write(w: &fb::TxnWrite<'_>) -> std::result::Result<TxnWrite, String> {
    let key = w.key().bytes().to_vec();
    let unix_ms = w.unix_ms();
    let valueless = || {
        if w.value().is_some() || w.value_ref().is_some() { Err("a delete with a value".to_owned()) } else { Ok(()) }
    };
    match w.kind() {
        fb::WriteKind::Put => {
            let value = put_value(w.value(), w.value_ref()).map_err(|why| format!("a put with {why}"))?;
            Ok(TxnWrite::Put { key, value, expires_at_unix_ms: (unix_ms != 0).then_some(unix_ms) })
        }
        fb::WriteKind::Delete => {
            valueless()?;
            if unix_ms != 0 {
                return Err(format!("a delete with a time ({unix_ms})"));
            }
            Ok(TxnWrite::Delete { key })
        }
        fb::WriteKind::TtlTombstone => {
            valueless().map(|()| TxnWrite::TtlTombstone { key, expired_at_unix_ms: unix_ms })
        }
        other => Err(format!("unknown write kind {}", other.0)),
    }
}
