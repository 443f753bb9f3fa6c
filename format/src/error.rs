//! The one error type of the format crate.
//!
//! Every variant says what is wrong and where: the structure, the byte
//! offset (relative to the start of the file the caller read, as passed to
//! the decoder), and expected versus found values. Decoders return these
//! for any input; none of them panics.

use serde::Serialize;

use crate::ids::{Generation, Lsn, PageId};

/// Which on-disk or on-wire structure an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Structure {
    /// A page of the page file (header and payload).
    Page,
    /// A superblock slot.
    Superblock,
    /// The header of a WAL segment file.
    WalSegmentHeader,
    /// A WAL record envelope.
    WalRecord,
    /// The FlatBuffers payload of a WAL record.
    WalPayload,
    /// The header of a value-log segment file.
    VlogSegmentHeader,
    /// A value-log record.
    VlogRecord,
    /// A reference to a value-log record.
    ValueRef,
    /// The manifest file.
    Manifest,
    /// A length-prefixed frame on the wire.
    WireFrame,
    /// A request frame.
    WireRequest,
    /// A response frame.
    WireResponse,
}

impl std::fmt::Display for Structure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Structure::Page => "page",
            Structure::Superblock => "superblock",
            Structure::WalSegmentHeader => "WAL segment header",
            Structure::WalRecord => "WAL record",
            Structure::WalPayload => "WAL payload",
            Structure::VlogSegmentHeader => "value-log segment header",
            Structure::VlogRecord => "value-log record",
            Structure::ValueRef => "value reference",
            Structure::Manifest => "manifest",
            Structure::WireFrame => "frame",
            Structure::WireRequest => "request",
            Structure::WireResponse => "response",
        })
    }
}

/// Errors of the format crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than the structure needs (a short read, or a record whose
    /// declared length runs past the end of the input).
    #[error("{structure} at offset {offset}: truncated: need {needed} bytes, have {available}")]
    Truncated {
        /// What was being decoded.
        structure: Structure,
        /// Where it starts.
        offset: u64,
        /// Bytes the structure needs.
        needed: u64,
        /// Bytes that were available.
        available: u64,
    },

    /// The bytes are all zero: the structure was never written, or a
    /// length was made durable without its contents.
    #[error("{structure} at offset {offset}: all {len} bytes are zero (never written)")]
    Zeroed {
        /// What was being decoded.
        structure: Structure,
        /// Where it starts.
        offset: u64,
        /// How many zero bytes.
        len: u64,
    },

    /// The magic number does not identify this structure.
    #[error("{structure} at offset {offset}: bad magic: expected {expected:#010x}, found {found:#010x}")]
    BadMagic {
        /// What was being decoded.
        structure: Structure,
        /// Where it starts.
        offset: u64,
        /// The magic of this structure.
        expected: u32,
        /// What the bytes hold.
        found: u32,
    },

    /// The stored CRC32C does not match the bytes it covers.
    #[error("{structure} at offset {offset}: checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// What was being decoded.
        structure: Structure,
        /// Where it starts.
        offset: u64,
        /// The CRC32C stored in the structure.
        stored: u32,
        /// The CRC32C of the bytes as read.
        computed: u32,
    },

    /// Written by a format version this build cannot read.
    #[error(
        "{structure} at offset {offset}: format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// What was being decoded.
        structure: Structure,
        /// Where it starts.
        offset: u64,
        /// The version in the structure.
        found: u16,
        /// The version this build reads and writes.
        supported: u16,
    },

    /// A field holds a value outside its documented range.
    #[error("{structure} at offset {offset}: field `{field}` is {found}, expected {expected}")]
    InvalidField {
        /// What was being decoded.
        structure: Structure,
        /// Where the structure starts.
        offset: u64,
        /// The field's name, as in docs/TECH_SPECIFICATION.md.
        field: &'static str,
        /// The value found.
        found: u64,
        /// The allowed values, in words.
        expected: &'static str,
    },

    /// A page with a valid checksum sits at another page's offset: a
    /// misdirected write (or a page copied over another).
    #[error("page at offset {offset}: expected page {expected}, found page {found} (misdirected write)")]
    MisdirectedPage {
        /// Offset of the page in the page file.
        offset: u64,
        /// The page id the caller read.
        expected: PageId,
        /// The page id stored in the header.
        found: PageId,
    },

    /// A valid superblock sits in the wrong slot.
    #[error(
        "superblock at offset {offset}: slot {slot} holds generation {generation}, which belongs in slot {belongs_in}"
    )]
    SuperblockMisplaced {
        /// Offset of the slot.
        offset: u64,
        /// The slot that was read.
        slot: char,
        /// The generation found.
        generation: Generation,
        /// The slot this generation belongs to.
        belongs_in: char,
    },

    /// A valid superblock of another data directory (its manifest hash
    /// does not match this directory's manifest).
    #[error(
        "superblock at offset {offset}: belongs to another manifest (hash {found:#018x}, expected {expected:#018x})"
    )]
    ForeignSuperblock {
        /// Offset of the slot.
        offset: u64,
        /// Hash of this directory's manifest.
        expected: u64,
        /// Manifest hash stored in the superblock.
        found: u64,
    },

    /// Neither superblock slot is valid.
    #[error("no valid superblock: slot A: {a}; slot B: {b}")]
    NoValidSuperblock {
        /// Why slot A was rejected.
        a: Box<Error>,
        /// Why slot B was rejected.
        b: Box<Error>,
    },

    /// A WAL record declares a payload longer than any valid record.
    #[error("WAL record at offset {offset}: payload length {len} out of bounds (maximum {max})")]
    WalLengthOutOfBounds {
        /// Where the record starts.
        offset: u64,
        /// The declared payload length.
        len: u64,
        /// The largest valid payload length.
        max: u64,
    },

    /// A valid WAL record whose LSN is not the next one: records are
    /// missing between the previous record and this one.
    #[error("WAL record at offset {offset}: LSN discontinuity: expected LSN {expected}, found {found}")]
    WalLsnDiscontinuity {
        /// Where the record starts.
        offset: u64,
        /// The LSN that should come next.
        expected: Lsn,
        /// The LSN of the record.
        found: Lsn,
    },

    /// A FlatBuffers buffer failed verification.
    #[error("{structure} at offset {offset}: invalid FlatBuffer: {reason}")]
    InvalidFlatbuffer {
        /// What was being decoded.
        structure: Structure,
        /// Where the buffer starts.
        offset: u64,
        /// The verifier's message.
        reason: String,
    },

    /// A verified FlatBuffer lacks a field this structure requires, or
    /// holds a combination of fields that is not allowed.
    #[error("{structure}: {reason}")]
    InvalidContent {
        /// What was being decoded.
        structure: Structure,
        /// What is wrong, in words.
        reason: String,
    },

    /// A union tag this build does not know (written by a newer version).
    #[error("{structure}: unknown {field} tag {tag}")]
    UnknownUnionTag {
        /// What was being decoded.
        structure: Structure,
        /// The union's name.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },

    /// The manifest was written with other on-disk schemas.
    #[error(
        "manifest: schema hash {found:#018x} does not match this build's {expected:#018x}: the directory was written by an incompatible build"
    )]
    SchemaHashMismatch {
        /// This build's schema hash.
        expected: u64,
        /// The schema hash in the manifest.
        found: u64,
    },

    /// The manifest names a checksum algorithm this build does not have.
    #[error("manifest: checksum algorithm {found:?} is not supported (expected \"crc32c\")")]
    UnsupportedChecksum {
        /// The algorithm's name in the manifest.
        found: String,
    },

    /// A page size that is not a power of two from 4 KiB to 64 KiB.
    #[error("page size {found} is invalid: must be a power of two from 4096 to 65536")]
    InvalidPageSize {
        /// The size found.
        found: u64,
    },

    /// A value-log record does not match the reference that points at it.
    #[error("value-log segment {segment} offset {offset}: record does not match its reference: {reason}")]
    ValueRefMismatch {
        /// The segment the reference names.
        segment: u64,
        /// The offset the reference names.
        offset: u64,
        /// What differs.
        reason: String,
    },

    /// A frame length prefix above the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The declared length.
        len: u64,
        /// The configured maximum.
        max: u64,
    },

    /// A request that failed verification or holds invalid fields.
    #[error("malformed request{}: {reason}", id_suffix(*.id))]
    MalformedRequest {
        /// The request id, if it could be read.
        id: Option<u64>,
        /// What is wrong.
        reason: String,
    },

    /// A well-formed request for an operation this build does not know.
    #[error("unsupported request{}: {what}", id_suffix(*.id))]
    UnsupportedRequest {
        /// The request id.
        id: Option<u64>,
        /// The unknown operation.
        what: String,
    },
}

fn id_suffix(id: Option<u64>) -> String {
    id.map(|id| format!(" {id}")).unwrap_or_default()
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
