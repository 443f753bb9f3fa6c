//! Which failed attempts are tried again, and how long to wait first.
//!
//! The rule: a request the server cannot have seen (the connection could
//! not be opened, or broke before the request was handed to it) may always
//! be sent again. A request that may have reached the server is sent again
//! only if it is idempotent — PING, INFO, and transactions made only of
//! GET, SCAN and ASSERT — and the failure is transient: a broken
//! connection, or a server error marked retryable (BUSY, LOCK_TIMEOUT). A
//! timeout is never retried: the caller's time budget is spent.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use jubilant_format::wire::{Op, RequestBody};

use crate::connection::AttemptError;
use crate::error::ClientError;

/// Whether sending `body` twice has the same effect as sending it once.
#[must_use]
pub(crate) fn is_idempotent(body: &RequestBody) -> bool {
    match body {
        RequestBody::Ping { .. } | RequestBody::Info => true,
        RequestBody::Txn(ops) => {
            ops.iter().all(|op| matches!(op, Op::Get { .. } | Op::Scan { .. } | Op::Assert { .. }))
        }
        RequestBody::Auth { .. } | RequestBody::Checkpoint | RequestBody::ConfigReload => false,
    }
}

/// Whether a failed attempt of a request may be tried again, and the
/// error to report if not.
pub(crate) fn should_retry(error: AttemptError, idempotent: bool) -> (bool, ClientError) {
    match error {
        AttemptError::NotSent(error) => (matches!(error, ClientError::Io { .. } | ClientError::Closed(_)), error),
        AttemptError::MaybeSent(error) => {
            let transient = match &error {
                ClientError::Io { .. } | ClientError::Closed(_) => true,
                ClientError::Server(wire) => wire.retryable,
                _ => false,
            };
            (idempotent && transient, error)
        }
    }
}

/// The wait before retry number `retry` (0 for the first): `base`
/// doubled `retry` times, capped at `max`, then jittered to between half
/// and all of that ("equal jitter"), so clients that failed together do
/// not retry together.
#[must_use]
pub(crate) fn backoff(retry: u32, base: Duration, max: Duration) -> Duration {
    let doubled = base.saturating_mul(1u32 << retry.min(20)).min(max);
    let half = doubled / 2;
    let half_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let jitter = random_u64().checked_rem(half_nanos.saturating_add(1)).unwrap_or(0);
    half + Duration::from_nanos(jitter)
}

/// A random number from the standard library's per-process random hash
/// keys: enough for jitter, without a dependency.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x6a75_6269_6c61_6e74);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use jubilant_format::wire::{AssertCondition, ErrorCode, WireError};

    use super::*;

    #[test]
    fn only_reads_pings_and_info_are_idempotent() {
        let get = Op::Get { key: b"a".to_vec() };
        let scan = Op::Scan { start: None, end: None, limit: 0, reverse: false };
        let assert = Op::Assert { key: b"a".to_vec(), condition: AssertCondition::Exists };
        let set = Op::Set { key: b"a".to_vec(), value: b"1".to_vec(), ttl_ms: None };
        assert!(is_idempotent(&RequestBody::Ping { payload: Vec::new() }));
        assert!(is_idempotent(&RequestBody::Info));
        assert!(is_idempotent(&RequestBody::Txn(vec![get.clone(), scan, assert])));
        assert!(!is_idempotent(&RequestBody::Txn(vec![get, set])));
        assert!(!is_idempotent(&RequestBody::Txn(vec![Op::Del { key: b"a".to_vec() }])));
        assert!(!is_idempotent(&RequestBody::Checkpoint));
        assert!(!is_idempotent(&RequestBody::ConfigReload));
    }

    #[test]
    fn writes_are_retried_only_when_not_sent() {
        let closed = || ClientError::Closed("x".to_owned());
        let busy = || ClientError::Server(WireError::new(ErrorCode::Busy, "busy"));
        assert!(should_retry(AttemptError::NotSent(closed()), false).0);
        assert!(!should_retry(AttemptError::MaybeSent(closed()), false).0);
        assert!(!should_retry(AttemptError::MaybeSent(busy()), false).0);
        assert!(should_retry(AttemptError::MaybeSent(closed()), true).0);
        assert!(should_retry(AttemptError::MaybeSent(busy()), true).0);
        let assert_failed = ClientError::Server(WireError::new(ErrorCode::AssertFailed, "no"));
        assert!(!should_retry(AttemptError::MaybeSent(assert_failed), true).0);
        let timeout = ClientError::Timeout { what: "request".to_owned(), after: Duration::from_secs(1) };
        assert!(!should_retry(AttemptError::MaybeSent(timeout), true).0);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let base = Duration::from_millis(10);
        let max = Duration::from_millis(100);
        for _ in 0..100 {
            let first = backoff(0, base, max);
            assert!(first >= Duration::from_millis(5) && first <= base, "{first:?}");
            let third = backoff(2, base, max);
            assert!(third >= Duration::from_millis(20) && third <= Duration::from_millis(40), "{third:?}");
            let capped = backoff(30, base, max);
            assert!(capped >= max / 2 && capped <= max, "{capped:?}");
        }
        assert_eq!(backoff(3, Duration::ZERO, Duration::ZERO), Duration::ZERO);
    }
}
