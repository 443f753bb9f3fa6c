//! Test support (feature `test-util`): an in-memory stand-in for the
//! server's transaction semantics, for mock servers in tests of programs
//! that use the client (this crate's tests and jubectl's use it).
//!
//! It is a model, not the engine: no TTL, no locks (one caller at a time
//! through `&mut self`), versions are a counter bumped by every
//! transaction that writes.

use std::collections::BTreeMap;

use jubilant_format::wire::{AssertCondition, ErrorCode, KeyValue, Op, OpResult, ResponseBody, TxnResult, WireError};

/// The scan limit the server applies to a `limit` of 0.
const DEFAULT_SCAN_LIMIT: usize = 1000;

/// Keys with their value and the version that wrote it.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    map: BTreeMap<Vec<u8>, (Vec<u8>, u64)>,
    version: u64,
}

impl MemoryStore {
    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Runs `ops` as one transaction, answering as the server would: all
    /// results and the commit version (0 for read-only transactions), or
    /// `ASSERT_FAILED` naming the failed op, with nothing applied.
    pub fn run(&mut self, ops: &[Op]) -> ResponseBody {
        let mut view = self.map.clone();
        let version = self.version + 1;
        let mut wrote = false;
        let mut results = Vec::with_capacity(ops.len());
        let pair = |key: &[u8], (value, version): &(Vec<u8>, u64)| KeyValue {
            key: key.to_vec(),
            value: value.clone(),
            version: *version,
            expires_at_unix_ms: None,
        };
        for (index, op) in ops.iter().enumerate() {
            results.push(match op {
                Op::Get { key } => OpResult::Get(view.get(key).map(|v| pair(key, v))),
                Op::Set { key, value, .. } => {
                    view.insert(key.clone(), (value.clone(), version));
                    wrote = true;
                    OpResult::Set
                }
                Op::Del { key } => {
                    wrote = true;
                    OpResult::Del { existed: view.remove(key).is_some() }
                }
                Op::Assert { key, condition } => {
                    let current = view.get(key);
                    let holds = match condition {
                        AssertCondition::Exists => current.is_some(),
                        AssertCondition::Absent => current.is_none(),
                        AssertCondition::ValueEquals(v) => current.is_some_and(|(value, _)| value == v),
                        AssertCondition::VersionEquals(v) => current.map_or(0, |(_, version)| *version) == *v,
                    };
                    if !holds {
                        let mut error = WireError::new(ErrorCode::AssertFailed, "assert did not hold");
                        error.op_index = Some(u32::try_from(index).unwrap_or(u32::MAX));
                        return ResponseBody::Error(error);
                    }
                    OpResult::Assert
                }
                Op::Scan { start, end, limit, reverse } => {
                    let in_range =
                        |k: &Vec<u8>| start.as_ref().is_none_or(|s| k >= s) && end.as_ref().is_none_or(|e| k < e);
                    let mut items: Vec<KeyValue> =
                        view.iter().filter(|(k, _)| in_range(k)).map(|(k, v)| pair(k, v)).collect();
                    if *reverse {
                        items.reverse();
                    }
                    let limit = if *limit == 0 { DEFAULT_SCAN_LIMIT } else { *limit as usize };
                    let truncated = items.len() > limit;
                    items.truncate(limit);
                    OpResult::Scan { items, truncated }
                }
            });
        }
        let commit_version = if wrote {
            self.map = view;
            self.version = version;
            version
        } else {
            0
        };
        ResponseBody::Txn(TxnResult { results, commit_version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> Op {
        Op::Set { key: key.into(), value: value.into(), ttl_ms: None }
    }

    #[test]
    fn a_failed_assert_applies_nothing_and_names_its_op() {
        let mut store = MemoryStore::default();
        let absent = Op::Assert { key: b"a".to_vec(), condition: AssertCondition::Exists };
        let ResponseBody::Error(e) = store.run(&[set("b", "1"), absent]) else { panic!("assert held") };
        assert_eq!((e.code, e.op_index), (ErrorCode::AssertFailed, Some(1)));
        assert!(store.is_empty());
        let ResponseBody::Txn(t) = store.run(&[set("a", "1"), Op::Get { key: b"a".to_vec() }]) else { panic!() };
        assert_eq!(t.commit_version, 1);
        assert!(matches!(&t.results[1], OpResult::Get(Some(kv)) if kv.value == b"1" && kv.version == 1));
        let ResponseBody::Txn(t) = store.run(&[Op::Get { key: b"a".to_vec() }]) else { panic!() };
        assert_eq!(t.commit_version, 0, "read-only");
    }
}
