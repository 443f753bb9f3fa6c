//! Golden-file helpers.
//!
//! Golden files live in `golden/format/` at the repository root. Tests
//! compare encoder output with them byte for byte; with
//! `JUBILANT_UPDATE_GOLDEN=1` (what `cargo xtask golden` sets) they are
//! rewritten instead.

use std::path::PathBuf;

/// `golden/format/` at the repository root.
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../golden/format")
}

fn updating() -> bool {
    std::env::var_os("JUBILANT_UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `bytes` with `golden/format/NAME.bin` (or rewrites the file
/// when updating). Returns the committed bytes.
pub fn check_golden(name: &str, bytes: &[u8]) -> Vec<u8> {
    let path = golden_dir().join(format!("{name}.bin"));
    if updating() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    let committed = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}; run `cargo xtask golden` to create it", path.display()));
    if committed != bytes {
        let first = committed.iter().zip(bytes).position(|(a, b)| a != b).unwrap_or(committed.len().min(bytes.len()));
        panic!(
            "{name}: encoder output differs from {} at byte {first} (golden {} bytes, encoder {} bytes).\n\
             A format change must be deliberate: bump the version if needed, then run `cargo xtask golden`.",
            path.display(),
            committed.len(),
            bytes.len()
        );
    }
    committed
}

/// Reads a committed golden file.
pub fn read_golden(name: &str) -> Vec<u8> {
    let path = golden_dir().join(format!("{name}.bin"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
