//! The write-ahead log: record envelopes, the segment reader, and the
//! typed record payloads.
//!
//! A WAL segment file is a 40-byte [`crate::segment::SegmentHeader`]
//! followed by envelopes back to back. See [`envelope`] for the envelope
//! layout and [`payload`] for what a record says.

pub mod envelope;
pub mod payload;

pub use envelope::{
    WAL_PAYLOAD_MAX, WAL_RECORD_HEADER_LEN, WalReader, WalRecordRef, WalStep, classify_wal_damage, decode_envelope_at,
    encode_envelope, resync_wal,
};
pub use payload::{
    PutValue, TXN_RECORD_OVERHEAD, TXN_WRITE_OVERHEAD, TxnWrite, WalPayload, WalRecordKind, txn_payload_bound,
};
