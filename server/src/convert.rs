//! Between wire messages and engine transactions.

use jubilant_engine::{AbortReason, Condition, Error as EngineError, OpResult, TxnOp, TxnOutcome};
use jubilant_format::Lsn;
use jubilant_format::wire::{self, AssertCondition, ErrorCode, KeyValue, Op, ResponseBody, TxnResult, WireError};

/// The engine operations of a wire transaction (keys and values moved,
/// not copied).
#[must_use]
pub fn to_engine(ops: Vec<Op>) -> Vec<TxnOp> {
    ops.into_iter()
        .map(|op| match op {
            Op::Get { key } => TxnOp::Get { key },
            Op::Set { key, value, ttl_ms } => TxnOp::Set { key, value, ttl_ms },
            Op::Del { key } => TxnOp::Del { key },
            Op::Assert { key, condition } => TxnOp::Assert {
                key,
                condition: match condition {
                    AssertCondition::Exists => Condition::Exists,
                    AssertCondition::Absent => Condition::Absent,
                    AssertCondition::ValueEquals(v) => Condition::ValueEquals(v),
                    AssertCondition::VersionEquals(v) => Condition::VersionEquals(Lsn(v)),
                },
            },
            Op::Scan { start, end, limit, reverse } => TxnOp::Scan { start, end, limit, reverse },
        })
        .collect()
}

fn key_value(item: jubilant_engine::ReadItem) -> KeyValue {
    KeyValue {
        key: item.key,
        value: item.value,
        version: item.version.map_or(0, Lsn::get),
        expires_at_unix_ms: item.expires_at_unix_ms,
    }
}

/// The response body for a transaction's outcome.
#[must_use]
pub fn outcome_to_wire(outcome: TxnOutcome) -> ResponseBody {
    match outcome {
        TxnOutcome::Committed { results, commit_lsn } => ResponseBody::Txn(TxnResult {
            results: results
                .into_iter()
                .map(|r| match r {
                    OpResult::Get(item) => wire::OpResult::Get(item.map(key_value)),
                    OpResult::Set => wire::OpResult::Set,
                    OpResult::Del { existed } => wire::OpResult::Del { existed },
                    OpResult::Scan { items, truncated } => {
                        wire::OpResult::Scan { items: items.into_iter().map(key_value).collect(), truncated }
                    }
                    OpResult::Assert => wire::OpResult::Assert,
                })
                .collect(),
            commit_version: commit_lsn.map_or(0, Lsn::get),
        }),
        TxnOutcome::Aborted {
            op_index,
            reason: AbortReason::AssertFailed { condition, found_version, found_exists, .. },
        } => ResponseBody::Error(WireError {
            code: ErrorCode::AssertFailed,
            message: format!(
                "operation {op_index}: ASSERT {condition:?} failed (key {}, version {found_version}); nothing was written",
                if found_exists { "exists" } else { "absent" }
            ),
            op_index: u32::try_from(op_index).ok(),
            retryable: false,
        }),
    }
}

/// The error response for an engine error.
#[must_use]
pub fn engine_error(e: &EngineError) -> WireError {
    let code = match e {
        EngineError::LockTimeout { .. } => ErrorCode::LockTimeout,
        EngineError::KeyTooLarge { .. } | EngineError::ValueTooLarge { .. } | EngineError::BatchTooLarge { .. } => {
            ErrorCode::TooLarge
        }
        _ => ErrorCode::Storage,
    };
    WireError::new(code, e.to_string())
}
