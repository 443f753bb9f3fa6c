//! The transaction file of `jubectl kv txn FILE`: a JSON array of
//! operations, run in order and committed atomically.
//!
//! ```json
//! [
//!   {"op": "set", "key": "a", "value": "1", "ttl": "10s"},
//!   {"op": "assert", "key": "a", "exists": true},
//!   {"op": "assert", "key": "b", "exists": false},
//!   {"op": "assert", "key": "a", "value": "1"},
//!   {"op": "assert", "key": "a", "version": 12},
//!   {"op": "get", "key": "a"},
//!   {"op": "del", "key": "b"},
//!   {"op": "scan", "from": "a", "to": "z", "limit": 10, "reverse": false}
//! ]
//! ```
//!
//! - `op` is one of `get`, `set`, `del`, `assert`, `scan`; unknown fields
//!   are refused, so a typo cannot silently drop a guard.
//! - Keys and values are text, or `hex:` and hex digits for binary data.
//! - `set`: `ttl` is optional, a duration like `10s` (see `duration`).
//! - `assert`: exactly one of `exists` (true: the key exists, false: it is
//!   absent), `value` (the key exists with this value) or `version` (the
//!   key's version equals this; 0 means absent).
//! - `scan`: `from` (inclusive) and `to` (exclusive) are optional, `limit`
//!   defaults to 0 (the server's maximum), `reverse` to false.

use jubilant_format::wire::{AssertCondition, Op};
use serde::Deserialize;

use crate::bytes::parse_bytes;
use crate::duration::parse_duration;

/// Largest transaction file read, in bytes: a transaction must fit one
/// wire frame anyway.
pub const MAX_TXN_FILE_BYTES: usize = jubilant_format::wire::DEFAULT_MAX_FRAME;

/// Most operations in one transaction file.
pub const MAX_TXN_OPS: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum JsonOp {
    Get {
        key: String,
    },
    Set {
        key: String,
        value: String,
        #[serde(default)]
        ttl: Option<String>,
    },
    Del {
        key: String,
    },
    Assert {
        key: String,
        #[serde(default)]
        exists: Option<bool>,
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        version: Option<u64>,
    },
    Scan {
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        to: Option<String>,
        #[serde(default)]
        limit: u32,
        #[serde(default)]
        reverse: bool,
    },
}

/// Parses a transaction file's text into operations.
///
/// # Errors
///
/// A one-line message naming the operation (by index) and what is wrong.
pub fn parse_txn(text: &str) -> Result<Vec<Op>, String> {
    if text.len() > MAX_TXN_FILE_BYTES {
        return Err(format!("transaction file is larger than {MAX_TXN_FILE_BYTES} bytes"));
    }
    let ops: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("transaction file is not a JSON array: {e}"))?;
    if ops.is_empty() {
        return Err("transaction file has no operations".to_owned());
    }
    if ops.len() > MAX_TXN_OPS {
        return Err(format!("transaction file has {} operations, at most {MAX_TXN_OPS} are allowed", ops.len()));
    }
    ops.into_iter()
        .enumerate()
        .map(|(index, value)| {
            let op: JsonOp = serde_json::from_value(value).map_err(|e| format!("op {index}: {e}"))?;
            convert(op).map_err(|e| format!("op {index}: {e}"))
        })
        .collect()
}

fn convert(op: JsonOp) -> Result<Op, String> {
    let op = match op {
        JsonOp::Get { key } => Op::Get { key: parse_bytes(&key)? },
        JsonOp::Set { key, value, ttl } => {
            let ttl_ms = ttl
                .map(|ttl| {
                    let ttl = parse_duration(&ttl).map_err(|e| format!("ttl: {e}"))?;
                    Ok::<_, String>(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
                })
                .transpose()?;
            Op::Set { key: parse_bytes(&key)?, value: parse_bytes(&value)?, ttl_ms }
        }
        JsonOp::Del { key } => Op::Del { key: parse_bytes(&key)? },
        JsonOp::Assert { key, exists, value, version } => {
            let condition = match (exists, value, version) {
                (Some(true), None, None) => AssertCondition::Exists,
                (Some(false), None, None) => AssertCondition::Absent,
                (None, Some(value), None) => AssertCondition::ValueEquals(parse_bytes(&value)?),
                (None, None, Some(version)) => AssertCondition::VersionEquals(version),
                _ => return Err("assert needs exactly one of \"exists\", \"value\", \"version\"".to_owned()),
            };
            Op::Assert { key: parse_bytes(&key)?, condition }
        }
        JsonOp::Scan { from, to, limit, reverse } => Op::Scan {
            start: from.as_deref().map(parse_bytes).transpose()?,
            end: to.as_deref().map(parse_bytes).transpose()?,
            limit,
            reverse,
        },
    };
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_kind_parses() {
        let ops = parse_txn(
            r#"[
                {"op":"set","key":"a","value":"1"},
                {"op":"set","key":"hex:00ff","value":"v","ttl":"10s"},
                {"op":"assert","key":"a","exists":true},
                {"op":"assert","key":"b","exists":false},
                {"op":"assert","key":"a","value":"1"},
                {"op":"assert","key":"a","version":0},
                {"op":"get","key":"a"},
                {"op":"del","key":"a"},
                {"op":"scan"},
                {"op":"scan","from":"a","to":"z","limit":5,"reverse":true}
            ]"#,
        )
        .unwrap();
        assert_eq!(
            ops,
            [
                Op::Set { key: b"a".to_vec(), value: b"1".to_vec(), ttl_ms: None },
                Op::Set { key: vec![0, 0xff], value: b"v".to_vec(), ttl_ms: Some(10_000) },
                Op::Assert { key: b"a".to_vec(), condition: AssertCondition::Exists },
                Op::Assert { key: b"b".to_vec(), condition: AssertCondition::Absent },
                Op::Assert { key: b"a".to_vec(), condition: AssertCondition::ValueEquals(b"1".to_vec()) },
                Op::Assert { key: b"a".to_vec(), condition: AssertCondition::VersionEquals(0) },
                Op::Get { key: b"a".to_vec() },
                Op::Del { key: b"a".to_vec() },
                Op::Scan { start: None, end: None, limit: 0, reverse: false },
                Op::Scan { start: Some(b"a".to_vec()), end: Some(b"z".to_vec()), limit: 5, reverse: true },
            ]
        );
    }

    #[test]
    fn mistakes_are_reported_with_the_op_index() {
        for (text, expected) in [
            ("{}", "not a JSON array"),
            ("[", "not a JSON array"),
            ("[]", "no operations"),
            (r#"[{"op":"get","key":"a"},{"op":"put","key":"a"}]"#, "op 1: unknown variant `put`"),
            (r#"[{"key":"a"}]"#, "op 0: missing field `op`"),
            (r#"[{"op":"get"}]"#, "op 0: missing field `key`"),
            (r#"[{"op":"get","key":"a","value":"x"}]"#, "op 0: unknown field `value`"),
            (r#"[{"op":"set","key":"a","value":"1","ttl":"10"}]"#, "op 0: ttl: invalid duration"),
            (r#"[{"op":"assert","key":"a"}]"#, "op 0: assert needs exactly one"),
            (r#"[{"op":"assert","key":"a","exists":true,"version":3}]"#, "op 0: assert needs exactly one"),
            (r#"[{"op":"get","key":"hex:0"}]"#, "op 0: \"hex:0\": odd number of hex digits"),
            (r#"[{"op":"scan","limit":-1}]"#, "op 0: invalid value"),
        ] {
            let error = parse_txn(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn oversized_transactions_are_refused() {
        let op = r#"{"op":"get","key":"a"}"#;
        let text = format!("[{}]", vec![op; MAX_TXN_OPS + 1].join(","));
        assert!(parse_txn(&text).unwrap_err().contains("at most 10000"));
        let text = format!("[{}]", vec![op; MAX_TXN_OPS].join(","));
        assert_eq!(parse_txn(&text).unwrap().len(), MAX_TXN_OPS);
    }
}
