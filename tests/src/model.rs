//! The in-memory model of the database that every response is checked
//! against: operations run in order on an overlay, ASSERTs see the
//! overlay, and a transaction commits whole or not at all.

use std::collections::BTreeMap;
use std::ops::Bound;

use jubilant_format::wire::{AssertCondition, ErrorCode, KeyValue, Op, OpResult, ResponseBody, TxnResult};

/// A key's value and version (the commit that wrote it).
type Stored = (Vec<u8>, u64);

/// The model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    data: BTreeMap<Vec<u8>, Stored>,
}

/// What the model predicts for a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// It commits with these results (versions of this transaction's own
    /// writes are 0, since they are not committed yet when read).
    Commit {
        /// Results per operation.
        results: Vec<OpResult>,
        /// Whether it writes (then the server reports a commit version).
        writes: bool,
        /// The pending writes, applied with the commit version.
        overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    },
    /// The ASSERT at this index fails; nothing is written.
    AssertFailed {
        /// Index of the failing operation.
        op_index: usize,
    },
}

impl Model {
    /// The value and version of a key.
    #[must_use]
    pub fn get(&self, key: &[u8]) -> Option<&Stored> {
        self.data.get(key)
    }

    /// Every key with its value and version.
    #[must_use]
    pub fn data(&self) -> &BTreeMap<Vec<u8>, Stored> {
        &self.data
    }

    /// What `ops` should do.
    #[must_use]
    pub fn predict(&self, ops: &[Op]) -> Expected {
        let mut overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let read = |overlay: &BTreeMap<Vec<u8>, Option<Vec<u8>>>, key: &[u8]| -> Option<(Vec<u8>, u64)> {
            match overlay.get(key) {
                Some(Some(v)) => Some((v.clone(), 0)),
                Some(None) => None,
                None => self.data.get(key).cloned(),
            }
        };
        let mut results = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let result = match op {
                Op::Get { key } => OpResult::Get(read(&overlay, key).map(|(value, version)| KeyValue {
                    key: key.clone(),
                    value,
                    version,
                    expires_at_unix_ms: None,
                })),
                Op::Set { key, value, .. } => {
                    overlay.insert(key.clone(), Some(value.clone()));
                    OpResult::Set
                }
                Op::Del { key } => {
                    let existed = read(&overlay, key).is_some();
                    overlay.insert(key.clone(), None);
                    OpResult::Del { existed }
                }
                Op::Assert { key, condition } => {
                    let found = read(&overlay, key);
                    let holds = match (condition, &found) {
                        (AssertCondition::Exists, f) => f.is_some(),
                        (AssertCondition::Absent, f) => f.is_none(),
                        (AssertCondition::ValueEquals(v), Some((value, _))) => value == v,
                        (AssertCondition::ValueEquals(_), None) => false,
                        (AssertCondition::VersionEquals(v), None) => *v == 0,
                        (AssertCondition::VersionEquals(v), Some((_, version))) => *version != 0 && version == v,
                    };
                    if !holds {
                        return Expected::AssertFailed { op_index: i };
                    }
                    OpResult::Assert
                }
                Op::Scan { start, end, limit, reverse } => {
                    let lower = start.clone().map_or(Bound::Unbounded, Bound::Included);
                    let upper = end.clone().map_or(Bound::Unbounded, Bound::Excluded);
                    let mut keys: Vec<Vec<u8>> =
                        self.data.range((lower.clone(), upper.clone())).map(|(k, _)| k.clone()).collect();
                    keys.extend(overlay.range((lower, upper)).map(|(k, _)| k.clone()));
                    keys.sort();
                    keys.dedup();
                    if *reverse {
                        keys.reverse();
                    }
                    let mut items = Vec::new();
                    let mut truncated = false;
                    for k in keys {
                        if let Some((value, version)) = read(&overlay, &k) {
                            if items.len() == *limit as usize {
                                truncated = true;
                                break;
                            }
                            items.push(KeyValue { key: k, value, version, expires_at_unix_ms: None });
                        }
                    }
                    OpResult::Scan { items, truncated }
                }
            };
            results.push(result);
        }
        let writes = !overlay.is_empty();
        Expected::Commit { results, writes, overlay }
    }

    /// Checks a response against the prediction and, if it committed,
    /// applies it with the commit version the server reported.
    pub fn check_and_apply(&mut self, ops: &[Op], response: &ResponseBody) -> Result<(), String> {
        match (self.predict(ops), response) {
            (Expected::AssertFailed { op_index }, ResponseBody::Error(e)) => {
                if e.code == ErrorCode::AssertFailed && e.op_index == u32::try_from(op_index).ok() {
                    Ok(())
                } else {
                    Err(format!("expected ASSERT_FAILED at op {op_index}, got {e:?}"))
                }
            }
            (
                Expected::Commit { results, writes, overlay },
                ResponseBody::Txn(TxnResult { results: got, commit_version }),
            ) => {
                if *got != results {
                    return Err(format!("results differ:\n  expected {results:?}\n  got      {got:?}"));
                }
                if writes != (*commit_version > 0) {
                    return Err(format!("commit version {commit_version} for a transaction that writes: {writes}"));
                }
                for (k, v) in overlay {
                    match v {
                        Some(v) => {
                            self.data.insert(k, (v, *commit_version));
                        }
                        None => {
                            self.data.remove(&k);
                        }
                    }
                }
                Ok(())
            }
            (expected, got) => Err(format!("expected {expected:?}, got {got:?}")),
        }
    }
}
