//! Write batches: many puts and deletes committed atomically.

/// One change in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// Absolute expiry in ms since the Unix epoch.
        expires_at_unix_ms: Option<u64>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Remove `key` because its TTL expired (logged as a TTL tombstone).
    Expire {
        /// The key.
        key: Vec<u8>,
        /// When it expired, ms since the Unix epoch.
        expired_at_unix_ms: u64,
    },
}

impl BatchOp {
    /// The key.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key } | BatchOp::Expire { key, .. } => key,
        }
    }
}

/// An atomic group of changes: after a crash, either all of them are
/// there or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Adds a put.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Put { key: key.into(), value: value.into(), expires_at_unix_ms: None });
        self
    }

    /// Adds a put that expires at an absolute time.
    pub fn put_expiring(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        expires_at_unix_ms: u64,
    ) -> &mut Self {
        self.ops.push(BatchOp::Put {
            key: key.into(),
            value: value.into(),
            expires_at_unix_ms: Some(expires_at_unix_ms),
        });
        self
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Delete { key: key.into() });
        self
    }

    /// Adds a TTL expiry (a delete logged as a TTL tombstone).
    pub fn expire(&mut self, key: impl Into<Vec<u8>>, expired_at_unix_ms: u64) -> &mut Self {
        self.ops.push(BatchOp::Expire { key: key.into(), expired_at_unix_ms });
        self
    }

    /// The operations, taken out.
    pub(crate) fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }

    /// The changes, in order (a later change of a key wins).
    #[must_use]
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// Number of changes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Removes every change.
    pub fn clear(&mut self) {
        self.ops.clear();
    }
}
