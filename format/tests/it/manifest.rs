//! Manifest validation: schema-hash drift, versions, checksum algorithm.

use jubilant_format::manifest::MANIFEST_HEADER_LEN;
use jubilant_format::{Error, Manifest, PageSize, SCHEMA_HASH};

use crate::samples;

#[test]
fn a_manifest_with_another_schema_hash_is_rejected_with_a_typed_error() {
    let mut manifest = samples::manifest();
    manifest.schema_hash = SCHEMA_HASH ^ 0xFFFF;
    let bytes = manifest.encode();
    let err = Manifest::decode(&bytes).unwrap_err();
    assert_eq!(err, Error::SchemaHashMismatch { expected: SCHEMA_HASH, found: SCHEMA_HASH ^ 0xFFFF });
    assert!(err.to_string().contains("incompatible build"), "{err}");
    // Forensic tools can still read it.
    assert_eq!(Manifest::decode_structure(&bytes).unwrap(), manifest);
}

#[test]
fn a_manifest_from_a_newer_format_is_rejected() {
    let mut manifest = samples::manifest();
    manifest.format_version = 2;
    let err = Manifest::decode(&manifest.encode()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedVersion { found: 2, supported: 1, .. }), "{err:?}");
}

#[test]
fn an_unknown_checksum_algorithm_is_rejected() {
    let mut manifest = samples::manifest();
    manifest.checksum_algorithm = "xxhash64".into();
    let err = Manifest::decode(&manifest.encode()).unwrap_err();
    assert_eq!(err, Error::UnsupportedChecksum { found: "xxhash64".into() });
}

#[test]
fn page_sizes_are_powers_of_two_from_4k_to_64k() {
    for ok in [4096u64, 8192, 16384, 32768, 65536] {
        assert_eq!(PageSize::new(ok).unwrap().get() as u64, ok);
    }
    for bad in [0u64, 512, 2048, 4095, 6000, 131_072, u64::MAX] {
        assert_eq!(PageSize::new(bad), Err(Error::InvalidPageSize { found: bad }));
    }
}

#[test]
fn truncated_and_padded_manifests_are_rejected() {
    let bytes = samples::manifest().encode();
    for cut in 0..bytes.len() {
        assert!(Manifest::decode(&bytes[..cut]).is_err(), "cut {cut}");
    }
    let mut padded = bytes.clone();
    padded.push(0);
    assert!(matches!(Manifest::decode(&padded), Err(Error::InvalidField { field: "body_len", .. })));
    assert!(matches!(Manifest::decode(&[0u8; MANIFEST_HEADER_LEN + 10]), Err(Error::Zeroed { .. })));
}
