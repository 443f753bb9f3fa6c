//! The manifest: the `MANIFEST` file of a data directory, written once at
//! creation and never rewritten in place.
//!
//! A 16-byte envelope followed by a `disk.fbs` `Manifest` FlatBuffer:
//!
//! | field    | offset | size     | type  | meaning |
//! |----------|--------|----------|-------|---------|
//! | magic    | 0      | 4        | u32   | `JBMF` |
//! | version  | 4      | 2        | u16   | format version |
//! | flags    | 6      | 2        | u16   | reserved, zero |
//! | body_len | 8      | 4        | u32   | length of the FlatBuffer that follows |
//! | crc32c   | 12     | 4        | u32   | CRC32C of bytes 0..12 and the body |
//! | body     | 16     | body_len | bytes | `Manifest` FlatBuffer |
//!
//! The envelope lets a reader reject a foreign or damaged file before the
//! FlatBuffers verifier sees it, and tells format versions apart even if a
//! future version changes the body's schema.

use flatbuffers::{FlatBufferBuilder, VerifierOptions};
use serde::Serialize;

use crate::FORMAT_VERSION;
use crate::codec::{FieldReader, FieldWriter, all_zero, prefix};
use crate::error::{Error, Result, Structure};
use crate::generated::disk as fb;
use crate::hash::{CHECKSUM_ALGORITHM, crc32c_parts, fnv1a64};
use crate::layout::{Field, Layout};
use crate::page::PageSize;
use crate::schema_hash::SCHEMA_HASH;

/// `JBMF`, little-endian.
pub const MANIFEST_MAGIC: u32 = u32::from_le_bytes(*b"JBMF");

const MAGIC_AT: usize = 0;
const VERSION_AT: usize = MAGIC_AT + 4;
const FLAGS_AT: usize = VERSION_AT + 2;
const BODY_LEN_AT: usize = FLAGS_AT + 2;
const CRC_AT: usize = BODY_LEN_AT + 4;
/// Length of the manifest envelope; the body starts here.
pub const MANIFEST_HEADER_LEN: usize = CRC_AT + 4;
const _: () = assert!(MANIFEST_HEADER_LEN == 16);

/// The manifest envelope's layout (the body follows it).
pub const ENVELOPE_LAYOUT: Layout = Layout {
    name: "manifest_envelope",
    fields: &[
        Field { name: "magic", offset: MAGIC_AT, size: 4, ty: "u32" },
        Field { name: "version", offset: VERSION_AT, size: 2, ty: "u16" },
        Field { name: "flags", offset: FLAGS_AT, size: 2, ty: "u16" },
        Field { name: "body_len", offset: BODY_LEN_AT, size: 4, ty: "u32" },
        Field { name: "crc32c", offset: CRC_AT, size: 4, ty: "u32" },
    ],
    len: MANIFEST_HEADER_LEN,
};
const _: () = ENVELOPE_LAYOUT.check();

/// Largest manifest body: 64 KiB, far above any real manifest.
pub const MANIFEST_BODY_MAX: usize = 64 << 10;

/// The TTL clock calibration pair, read at the same instant when the
/// directory was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClockCalibration {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub wall_unix_nanos: u64,
    /// Monotonic clock reading, nanoseconds.
    pub monotonic_nanos: u64,
}

/// A decoded manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// On-disk format version.
    pub format_version: u16,
    /// Schema hash of the build that created the directory.
    pub schema_hash: u64,
    /// Checksum algorithm name (`crc32c`).
    pub checksum_algorithm: String,
    /// Page size of the page file.
    pub page_size: PageSize,
    /// TTL clock calibration pair.
    pub clock: ClockCalibration,
    /// Program and version that created the directory.
    pub created_by: String,
    /// Random identifier of the directory, repeated in segment headers.
    pub directory_id: u64,
}

fn verifier_options() -> VerifierOptions {
    VerifierOptions {
        max_depth: 4,
        max_tables: 4,
        max_apparent_size: MANIFEST_BODY_MAX,
        ignore_missing_null_terminator: false,
    }
}

impl Manifest {
    /// A manifest for a new directory written by this build.
    #[must_use]
    pub fn new(
        page_size: PageSize,
        clock: ClockCalibration,
        created_by: impl Into<String>,
        directory_id: u64,
    ) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            schema_hash: SCHEMA_HASH,
            checksum_algorithm: CHECKSUM_ALGORITHM.to_owned(),
            page_size,
            clock,
            created_by: created_by.into(),
            directory_id,
        }
    }

    /// Encodes the manifest file.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        let checksum_algorithm = fbb.create_string(&self.checksum_algorithm);
        let created_by = fbb.create_string(&self.created_by);
        let root = fb::Manifest::create(
            &mut fbb,
            &fb::ManifestArgs {
                format_version: self.format_version,
                schema_hash: self.schema_hash,
                checksum_algorithm: Some(checksum_algorithm),
                page_size: self.page_size.get(),
                clock_wall_unix_nanos: self.clock.wall_unix_nanos,
                clock_monotonic_nanos: self.clock.monotonic_nanos,
                created_by: Some(created_by),
                directory_id: self.directory_id,
            },
        );
        fbb.finish_minimal(root);
        let body = fbb.finished_data();
        assert!(body.len() <= MANIFEST_BODY_MAX, "manifest body of {} bytes", body.len());

        let mut header = [0u8; MANIFEST_HEADER_LEN];
        let mut w = FieldWriter::new(&mut header);
        w.u32(MAGIC_AT, MANIFEST_MAGIC);
        w.u16(VERSION_AT, self.format_version);
        w.u16(FLAGS_AT, 0);
        w.u32(BODY_LEN_AT, body.len() as u32);
        w.u32(CRC_AT, 0);
        w.finish(MANIFEST_HEADER_LEN);
        let crc = crc32c_parts(&[header.get(..CRC_AT).unwrap_or_default(), body]);
        header.get_mut(CRC_AT..).unwrap_or_default().copy_from_slice(&crc.to_le_bytes());
        let mut out = Vec::with_capacity(MANIFEST_HEADER_LEN + body.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(body);
        out
    }

    /// Decodes a manifest file and checks that this build can open the
    /// directory: format version, schema hash, checksum algorithm.
    pub fn decode(bytes: &[u8]) -> Result<Manifest> {
        let manifest = Manifest::decode_structure(bytes)?;
        manifest.check_compatible()?;
        Ok(manifest)
    }

    /// Decodes a manifest file without the compatibility checks: for
    /// forensic tools that show a manifest they cannot open.
    pub fn decode_structure(bytes: &[u8]) -> Result<Manifest> {
        let structure = Structure::Manifest;
        let Some(header) = prefix::<MANIFEST_HEADER_LEN>(bytes) else {
            return Err(Error::Truncated {
                structure,
                offset: 0,
                needed: MANIFEST_HEADER_LEN as u64,
                available: bytes.len() as u64,
            });
        };
        if all_zero(bytes) {
            return Err(Error::Zeroed { structure, offset: 0, len: bytes.len() as u64 });
        }
        let mut r = FieldReader::new(&header);
        let magic = r.u32(MAGIC_AT);
        let version = r.u16(VERSION_AT);
        let flags = r.u16(FLAGS_AT);
        let body_len = r.u32(BODY_LEN_AT) as usize;
        let stored = r.u32(CRC_AT);
        r.finish(MANIFEST_HEADER_LEN);
        if magic != MANIFEST_MAGIC {
            return Err(Error::BadMagic { structure, offset: 0, expected: MANIFEST_MAGIC, found: magic });
        }
        if body_len > MANIFEST_BODY_MAX {
            return Err(Error::InvalidField {
                structure,
                offset: 0,
                field: "body_len",
                found: body_len as u64,
                expected: "at most 65536",
            });
        }
        let body = bytes.get(MANIFEST_HEADER_LEN..).unwrap_or_default();
        if body.len() > body_len {
            return Err(Error::InvalidField {
                structure,
                offset: 0,
                field: "body_len",
                found: body_len as u64,
                expected: "the number of bytes after the 16-byte envelope",
            });
        }
        if body.len() < body_len {
            return Err(Error::Truncated {
                structure,
                offset: 0,
                needed: (MANIFEST_HEADER_LEN + body_len) as u64,
                available: bytes.len() as u64,
            });
        }
        let computed = crc32c_parts(&[header.get(..CRC_AT).unwrap_or_default(), body]);
        if stored != computed {
            return Err(Error::ChecksumMismatch { structure, offset: 0, stored, computed });
        }
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion { structure, offset: 0, found: version, supported: FORMAT_VERSION });
        }
        if flags != 0 {
            return Err(Error::InvalidField {
                structure,
                offset: 0,
                field: "flags",
                found: flags.into(),
                expected: "0 (no flags are defined)",
            });
        }
        let table = flatbuffers::root_with_opts::<fb::Manifest>(&verifier_options(), body).map_err(|e| {
            Error::InvalidFlatbuffer { structure, offset: MANIFEST_HEADER_LEN as u64, reason: e.to_string() }
        })?;
        let missing = |field: &str| Error::InvalidContent { structure, reason: format!("field `{field}` is missing") };
        Ok(Manifest {
            format_version: table.format_version(),
            schema_hash: table.schema_hash(),
            checksum_algorithm: table.checksum_algorithm().ok_or_else(|| missing("checksum_algorithm"))?.to_owned(),
            page_size: PageSize::new(table.page_size().into())?,
            clock: ClockCalibration {
                wall_unix_nanos: table.clock_wall_unix_nanos(),
                monotonic_nanos: table.clock_monotonic_nanos(),
            },
            created_by: table.created_by().ok_or_else(|| missing("created_by"))?.to_owned(),
            directory_id: table.directory_id(),
        })
    }

    /// Checks that this build can open a directory with this manifest.
    pub fn check_compatible(&self) -> Result<()> {
        if self.format_version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                structure: Structure::Manifest,
                offset: MANIFEST_HEADER_LEN as u64,
                found: self.format_version,
                supported: FORMAT_VERSION,
            });
        }
        if self.schema_hash != SCHEMA_HASH {
            return Err(Error::SchemaHashMismatch { expected: SCHEMA_HASH, found: self.schema_hash });
        }
        if self.checksum_algorithm != CHECKSUM_ALGORITHM {
            return Err(Error::UnsupportedChecksum { found: self.checksum_algorithm.clone() });
        }
        Ok(())
    }
}

/// The manifest hash that superblocks record: FNV-1a 64 of the MANIFEST
/// file's bytes.
#[must_use]
pub fn manifest_hash(manifest_file: &[u8]) -> u64 {
    fnv1a64(manifest_file)
}
