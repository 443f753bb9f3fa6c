//! Byte-offset tables of the fixed binary structures, as data.
//!
//! Each structure's module builds its offsets one from the previous and
//! publishes a [`Layout`] built from the same constants; a test compares
//! every layout with the tables in docs/TECH_SPECIFICATION.md, so the
//! document cannot drift from the code.

use serde::Serialize;

/// One field of a fixed binary structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Field name, as in docs/TECH_SPECIFICATION.md.
    pub name: &'static str,
    /// Byte offset from the start of the structure.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Type: `u8`, `u16`, `u32`, `u64` (little-endian) or `bytes`.
    pub ty: &'static str,
}

/// The layout of a fixed binary structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Layout {
    /// The structure's name; the docs table is marked `<!-- layout: NAME -->`.
    pub name: &'static str,
    /// Fields in offset order, contiguous, starting at 0.
    pub fields: &'static [Field],
    /// Total length in bytes.
    pub len: usize,
}

impl Layout {
    /// Checks at compile time that the fields are contiguous and add up to
    /// `len`; use it in a `const _: () = ...;` next to each layout.
    #[expect(clippy::indexing_slicing, reason = "const fn cannot use iterators; the loop bounds i below len")]
    pub const fn check(&self) {
        let mut next = 0;
        let mut i = 0;
        while i < self.fields.len() {
            let field = &self.fields[i];
            assert!(field.offset == next, "layout fields are not contiguous");
            next += field.size;
            i += 1;
        }
        assert!(next == self.len, "layout fields do not add up to its length");
    }
}

/// Every fixed binary structure of the format.
pub const ALL: &[&Layout] = &[
    &crate::page::LAYOUT,
    &crate::superblock::LAYOUT,
    &crate::segment::LAYOUT,
    &crate::wal::envelope::LAYOUT,
    &crate::vlog::LAYOUT,
    &crate::value_ref::LAYOUT,
    &crate::manifest::ENVELOPE_LAYOUT,
];
