//! Why a request failed: the `ErrorCode` enum of `wire.fbs`, owned.

use serde::Serialize;

/// Why a request failed (`wire.fbs` `ErrorCode`, a u16 on the wire).
///
/// A code this build does not know (sent by a newer server) decodes as
/// [`ErrorCode::Unknown`] rather than failing the whole response: the
/// message and the `retryable` flag still reach the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The frame failed FlatBuffers verification or a field was invalid.
    Malformed,
    /// The request names an operation this server does not know.
    Unsupported,
    /// Authentication is required and has not succeeded on this connection.
    Unauthenticated,
    /// The token's role or key prefixes do not allow this request.
    Forbidden,
    /// The server is overloaded; retry after a backoff.
    Busy,
    /// The frame's length prefix exceeds the configured maximum.
    FrameTooLarge,
    /// The server has reached its connection limit.
    TooManyConnections,
    /// An ASSERT in the transaction did not hold; nothing was written.
    AssertFailed,
    /// A lock could not be acquired in time; nothing was written.
    LockTimeout,
    /// A key or value exceeds the engine's limits.
    TooLarge,
    /// The server is shutting down.
    ShuttingDown,
    /// The storage engine failed (I/O error, corruption).
    Storage,
    /// An internal error; the message says more.
    Internal,
    /// A code this build does not know. Only [`ErrorCode::from_u16`]
    /// should build it: it never holds a known code.
    Unknown(u16),
}

impl ErrorCode {
    /// Every known code, in wire order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::Malformed,
        ErrorCode::Unsupported,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::Busy,
        ErrorCode::FrameTooLarge,
        ErrorCode::TooManyConnections,
        ErrorCode::AssertFailed,
        ErrorCode::LockTimeout,
        ErrorCode::TooLarge,
        ErrorCode::ShuttingDown,
        ErrorCode::Storage,
        ErrorCode::Internal,
    ];

    /// The value on the wire.
    #[must_use]
    pub const fn as_u16(self) -> u16 {
        match self {
            ErrorCode::Malformed => 1,
            ErrorCode::Unsupported => 2,
            ErrorCode::Unauthenticated => 3,
            ErrorCode::Forbidden => 4,
            ErrorCode::Busy => 5,
            ErrorCode::FrameTooLarge => 6,
            ErrorCode::TooManyConnections => 7,
            ErrorCode::AssertFailed => 8,
            ErrorCode::LockTimeout => 9,
            ErrorCode::TooLarge => 10,
            ErrorCode::ShuttingDown => 11,
            ErrorCode::Storage => 12,
            ErrorCode::Internal => 13,
            ErrorCode::Unknown(code) => code,
        }
    }

    /// The code for a wire value; [`ErrorCode::Unknown`] for values this
    /// build does not know.
    #[must_use]
    pub const fn from_u16(code: u16) -> ErrorCode {
        match code {
            1 => ErrorCode::Malformed,
            2 => ErrorCode::Unsupported,
            3 => ErrorCode::Unauthenticated,
            4 => ErrorCode::Forbidden,
            5 => ErrorCode::Busy,
            6 => ErrorCode::FrameTooLarge,
            7 => ErrorCode::TooManyConnections,
            8 => ErrorCode::AssertFailed,
            9 => ErrorCode::LockTimeout,
            10 => ErrorCode::TooLarge,
            11 => ErrorCode::ShuttingDown,
            12 => ErrorCode::Storage,
            13 => ErrorCode::Internal,
            other => ErrorCode::Unknown(other),
        }
    }

    /// Upper-case name for command-line output and logs ("MALFORMED",
    /// "LOCK_TIMEOUT"); "UNKNOWN" for codes this build does not know.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "MALFORMED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Busy => "BUSY",
            ErrorCode::FrameTooLarge => "FRAME_TOO_LARGE",
            ErrorCode::TooManyConnections => "TOO_MANY_CONNECTIONS",
            ErrorCode::AssertFailed => "ASSERT_FAILED",
            ErrorCode::LockTimeout => "LOCK_TIMEOUT",
            ErrorCode::TooLarge => "TOO_LARGE",
            ErrorCode::ShuttingDown => "SHUTTING_DOWN",
            ErrorCode::Storage => "STORAGE",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Unknown(_) => "UNKNOWN",
        }
    }

    /// Whether a request that failed with this code may be retried
    /// unchanged, as the schema documents: only `Busy` and `LockTimeout`.
    /// A server sets [`WireError::retryable`](super::WireError::retryable)
    /// from this unless it knows better.
    #[must_use]
    pub const fn default_retryable(self) -> bool {
        matches!(self, ErrorCode::Busy | ErrorCode::LockTimeout)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorCode::Unknown(code) => write!(f, "UNKNOWN({code})"),
            known => f.write_str(known.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use crate::generated::wire as fb;

    #[test]
    fn codes_match_the_schema() {
        assert_eq!(ErrorCode::ALL.len(), fb::ErrorCode::ENUM_VALUES.len());
        for (code, generated) in ErrorCode::ALL.iter().zip(fb::ErrorCode::ENUM_VALUES) {
            assert_eq!(code.as_u16(), generated.0);
            assert_eq!(ErrorCode::from_u16(generated.0), *code);
            let schema_name = generated.variant_name().unwrap();
            assert_eq!(code.name().replace('_', ""), schema_name.to_ascii_uppercase());
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        for raw in [0, 14, 999, u16::MAX] {
            let code = ErrorCode::from_u16(raw);
            assert_eq!(code, ErrorCode::Unknown(raw));
            assert_eq!(code.as_u16(), raw);
            assert_eq!(code.name(), "UNKNOWN");
            assert!(!code.default_retryable());
        }
        assert_eq!(ErrorCode::Unknown(42).to_string(), "UNKNOWN(42)");
        assert_eq!(ErrorCode::LockTimeout.to_string(), "LOCK_TIMEOUT");
    }

    #[test]
    fn only_busy_and_lock_timeout_are_retryable() {
        let retryable: Vec<_> = ErrorCode::ALL.into_iter().filter(|c| c.default_retryable()).collect();
        assert_eq!(retryable, [ErrorCode::Busy, ErrorCode::LockTimeout]);
    }
}
