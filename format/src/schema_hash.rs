//! The schema hash: which on-disk FlatBuffers schemas this build speaks.
//!
//! It is FNV-1a 64 over `schemas/disk.fbs` and `schemas/wal.fbs` after
//! removing `//` comments and folding each run of white space into one
//! space, so editing a comment or re-indenting does not change it, while
//! any change to a table, field, type or default does. Every manifest
//! records the hash of the build that created the directory, and opening a
//! directory with another hash fails with
//! [`crate::Error::SchemaHashMismatch`].
//!
//! `wire.fbs` is deliberately left out: the client protocol may gain
//! requests without making existing data directories unreadable.

use crate::hash::{fnv1a64_continue, fnv1a64_start};

/// `schemas/disk.fbs`, compiled in.
pub const DISK_FBS: &str = include_str!("../../schemas/disk.fbs");
/// `schemas/wal.fbs`, compiled in.
pub const WAL_FBS: &str = include_str!("../../schemas/wal.fbs");

/// The schema hash of this build.
pub const SCHEMA_HASH: u64 = schema_hash(&[DISK_FBS.as_bytes(), WAL_FBS.as_bytes()]);

/// Hashes schema sources as described in the module documentation; each
/// source is followed by a 0xFF byte (which never occurs in UTF-8), so
/// moving text from one file to the next changes the hash.
#[must_use]
pub const fn schema_hash(mut sources: &[&[u8]]) -> u64 {
    let mut state = fnv1a64_start();
    while let Some((source, rest)) = sources.split_first() {
        state = hash_normalized(state, source);
        state = fnv1a64_continue(state, &[0xFF]);
        sources = rest;
    }
    state
}

const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Feeds `source` into `state` without comments, with white space folded.
const fn hash_normalized(mut state: u64, mut rest: &[u8]) -> u64 {
    // Whether a space is owed before the next token byte.
    let mut space = false;
    // Whether any token byte has been hashed (no leading space).
    let mut started = false;
    while let Some((&b, tail)) = rest.split_first() {
        if let (b'/', Some((&b'/', after))) = (b, tail.split_first()) {
            // Skip the comment up to (not including) the newline.
            rest = after;
            while let Some((&c, more)) = rest.split_first() {
                if c == b'\n' {
                    break;
                }
                rest = more;
            }
            space = true;
            continue;
        }
        if is_space(b) {
            space = true;
        } else {
            if space && started {
                state = fnv1a64_continue(state, b" ");
            }
            state = fnv1a64_continue(state, &[b]);
            space = false;
            started = true;
        }
        rest = tail;
    }
    state
}

#[cfg(test)]
mod tests {
    use super::schema_hash;

    #[test]
    fn comments_and_white_space_do_not_change_the_hash() {
        let a = schema_hash(&[b"table A {\n  x: int;\n}\n"]);
        let b = schema_hash(&[b"// A table.\ntable   A {   x: int; // the x\n}"]);
        assert_eq!(a, b);
    }

    #[test]
    fn a_field_change_changes_the_hash() {
        let a = schema_hash(&[b"table A { x: int; }"]);
        assert_ne!(a, schema_hash(&[b"table A { x: long; }"]));
        assert_ne!(a, schema_hash(&[b"table A { x: int; y: int; }"]));
        assert_ne!(a, schema_hash(&[b"table A { x: int = 1; }"]));
    }

    #[test]
    fn moving_text_between_sources_changes_the_hash() {
        assert_ne!(schema_hash(&[b"table A {}", b"table B {}"]), schema_hash(&[b"table A {} table B {}", b""]));
    }
}
