//! Transaction operations and results.

use jubilant_format::Lsn;

/// An ASSERT condition on a key, evaluated against the transaction's view
/// (its own earlier writes included).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Condition {
    /// The key exists.
    Exists,
    /// The key does not exist.
    Absent,
    /// The key exists with exactly this value.
    ValueEquals(Vec<u8>),
    /// The key's version (the LSN of the commit that last wrote it) is
    /// this; 0 means "absent".
    VersionEquals(Lsn),
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    /// Read a key.
    Get {
        /// The key.
        key: Vec<u8>,
    },
    /// Write a key; it expires `ttl_ms` after the commit if given.
    Set {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// Time to live in milliseconds.
        ttl_ms: Option<u64>,
    },
    /// Remove a key.
    Del {
        /// The key.
        key: Vec<u8>,
    },
    /// Read keys in `[start, end)` (unbounded where `None`), at most
    /// `limit` of them (0 = the engine's maximum), in ascending order or
    /// descending when `reverse`.
    Scan {
        /// First key.
        start: Option<Vec<u8>>,
        /// End (exclusive).
        end: Option<Vec<u8>>,
        /// Maximum pairs.
        limit: u32,
        /// Descending order.
        reverse: bool,
    },
    /// A guard: the transaction aborts if it does not hold.
    Assert {
        /// The key.
        key: Vec<u8>,
        /// The condition.
        condition: Condition,
    },
}

/// A key's value as read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadItem {
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// LSN of the commit that wrote it; `None` for this transaction's own
    /// uncommitted write.
    pub version: Option<Lsn>,
    /// Absolute expiry in ms since the Unix epoch.
    pub expires_at_unix_ms: Option<u64>,
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum OpResult {
    /// `Get`: the item, or `None` if absent.
    Get(Option<ReadItem>),
    /// `Set`.
    Set,
    /// `Del`: whether the key existed.
    Del {
        /// Whether the key existed before.
        existed: bool,
    },
    /// `Scan`: the items, and whether the limit cut it short.
    Scan {
        /// The items in order.
        items: Vec<ReadItem>,
        /// Whether more items were in range.
        truncated: bool,
    },
    /// `Assert`: it held.
    Assert,
}

/// Why a transaction aborted (without an error: nothing was wrong with the
/// database).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum AbortReason {
    /// An ASSERT did not hold.
    AssertFailed {
        /// The key.
        key: Vec<u8>,
        /// The condition.
        condition: Condition,
        /// What was found: the version (0 if absent).
        found_version: Lsn,
        /// Whether the key existed.
        found_exists: bool,
    },
}

/// What happened to a transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum TxnOutcome {
    /// Everything was applied atomically.
    Committed {
        /// One result per operation.
        results: Vec<OpResult>,
        /// The commit's LSN (the new version of every key written), or
        /// `None` for a transaction that wrote nothing.
        commit_lsn: Option<Lsn>,
    },
    /// Nothing was applied.
    Aborted {
        /// Index of the operation that failed.
        op_index: usize,
        /// Why.
        reason: AbortReason,
    },
}
