//! The one error type of the client crate.
//!
//! A caller tells three kinds of failure apart: the server answered with
//! an error ([`ClientError::Server`], carrying the wire's code, message and
//! failing operation), the server could not be reached or the connection
//! broke (`Io`, `Tls`, `Timeout`, `Closed`), or something is wrong on this
//! side (`Config`, `Protocol`).

use std::time::Duration;

use jubilant_format::wire::{ErrorCode, WireError};

/// Results of the client crate.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Errors of the client crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, as verb and object ("connect to 127.0.0.1:7420").
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// TLS could not be set up: bad certificates or keys, an invalid
    /// server name, or a failed handshake.
    #[error("TLS: {0}")]
    Tls(String),
    /// No answer within the configured time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What timed out ("connect to 127.0.0.1:7420", "request").
        what: String,
        /// The limit that was reached.
        after: Duration,
    },
    /// The server sent something that is not a valid answer: an
    /// undecodable frame, or a response of the wrong kind.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered with an error. An ASSERT that did not hold is
    /// `Server` with [`ErrorCode::AssertFailed`] and the assert's index in
    /// [`WireError::op_index`]; nothing was written.
    #[error("server error {}{}: {}", .0.code, op_suffix(.0.op_index), .0.message)]
    Server(WireError),
    /// The server rejected the token sent when the connection opened.
    #[error("authentication failed: {}: {}", .0.code, .0.message)]
    AuthFailed(WireError),
    /// The connection closed before the answer arrived.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The configuration is unusable; the message names the setting.
    #[error("configuration: {0}")]
    Config(String),
}

fn op_suffix(op_index: Option<u32>) -> String {
    op_index.map(|i| format!(" at op {i}")).unwrap_or_default()
}

impl ClientError {
    /// The server's error, if the server answered with one (including a
    /// rejected token).
    #[must_use]
    pub fn server_error(&self) -> Option<&WireError> {
        match self {
            ClientError::Server(e) | ClientError::AuthFailed(e) => Some(e),
            _ => None,
        }
    }

    /// The server's error code, if the server answered with an error.
    #[must_use]
    pub fn code(&self) -> Option<ErrorCode> {
        self.server_error().map(|e| e.code)
    }

    /// Whether a transaction was aborted because an ASSERT did not hold;
    /// [`WireError::op_index`] of [`ClientError::server_error`] says which.
    #[must_use]
    pub fn is_assert_failed(&self) -> bool {
        self.code() == Some(ErrorCode::AssertFailed)
    }

    /// Whether the failure is about reaching the server or keeping the
    /// connection, rather than an answer from it.
    #[must_use]
    pub fn is_connection_error(&self) -> bool {
        matches!(self, ClientError::Io { .. } | ClientError::Closed(_) | ClientError::Timeout { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> ClientError {
        ClientError::Io { context: context.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_name_code_op_and_message() {
        let mut error = WireError::new(ErrorCode::AssertFailed, "key a is absent");
        error.op_index = Some(1);
        let error = ClientError::Server(error);
        assert_eq!(error.to_string(), "server error ASSERT_FAILED at op 1: key a is absent");
        assert!(error.is_assert_failed());
        assert!(!error.is_connection_error());
        let busy = ClientError::Server(WireError::new(ErrorCode::Busy, "overloaded"));
        assert_eq!(busy.to_string(), "server error BUSY: overloaded");
        assert_eq!(busy.code(), Some(ErrorCode::Busy));
    }
}
