//! Newtypes for every identifier and position stored on disk.
//!
//! Each is a plain `u64` on disk (little-endian), but a distinct type in
//! Rust, so that a page id is never passed where an LSN is expected.

use std::fmt;

use serde::Serialize;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The value as stored on disk.
            #[must_use]
            pub const fn get(self) -> u64 {
                self.0
            }

            /// Little-endian bytes, as stored on disk.
            #[must_use]
            pub const fn to_le_bytes(self) -> [u8; 8] {
                self.0.to_le_bytes()
            }

            /// Reads the value from its on-disk little-endian bytes.
            #[must_use]
            pub const fn from_le_bytes(bytes: [u8; 8]) -> Self {
                Self(u64::from_le_bytes(bytes))
            }

            /// The next value, or `None` on overflow.
            #[must_use]
            pub const fn checked_next(self) -> Option<Self> {
                match self.0.checked_add(1) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "({})"), self.0)
            }
        }

        impl From<$name> for u64 {
            fn from(v: $name) -> u64 {
                v.0
            }
        }
    };
}

id_newtype!(
    /// Number of a page in the page file; byte offset = id × page size.
    /// Pages 0 and 1 hold the superblock slots A and B, so no tree or
    /// free-list page ever has id 0 or 1.
    PageId,
    "PageId"
);
id_newtype!(
    /// Log sequence number: dense, starting at 1, each WAL record takes the
    /// next one. LSN 0 means "nothing yet".
    Lsn,
    "Lsn"
);
id_newtype!(
    /// The leader term that wrote a WAL record; always 1 on a single node.
    /// Replication will use it as a fencing token.
    Epoch,
    "Epoch"
);
id_newtype!(
    /// Superblock generation: each checkpoint writes generation g + 1 into
    /// the other slot. Even generations live in slot A, odd ones in slot B.
    Generation,
    "Generation"
);
id_newtype!(
    /// Number of a WAL or value-log segment file; segment numbers increase
    /// by one per new file.
    SegmentId,
    "SegmentId"
);
id_newtype!(
    /// Transaction identifier, unique within a data directory.
    TxnId,
    "TxnId"
);

impl PageId {
    /// Byte offset of this page in the page file.
    ///
    /// Saturates instead of overflowing, so that a corrupt id read from disk
    /// yields an offset past any real file rather than a panic.
    #[must_use]
    pub const fn offset(self, page_size: crate::PageSize) -> u64 {
        self.0.saturating_mul(page_size.get() as u64)
    }
}

impl Epoch {
    /// The epoch of every record written by a single node.
    pub const SINGLE_NODE: Epoch = Epoch(1);
}

impl Lsn {
    /// "No record yet": the LSN before the first record.
    pub const ZERO: Lsn = Lsn(0);
}
