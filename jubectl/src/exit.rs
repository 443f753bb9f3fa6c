//! How a run ends: the failure kinds and the one mapping from them to exit
//! codes (kept in one place so the codes can change together).
//!
//! Online commands exit 0 (success), 1 (the server, the network or a local
//! file failed) or 16 (usage). Offline commands (`validate`, `repair`,
//! `salvage`, the dumps, `stat`) follow fsck: the code is a sum of
//! [`fsck`] bits. Usage errors are 16 for both, so scripts test one code.

use std::process::ExitCode;

use jubilant_client::ClientError;

/// How a run ended, for [`exit_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The command did what it was asked.
    Success,
    /// The server, the network or a local file failed.
    Failed,
    /// The command line or an input file is invalid.
    Usage,
}

/// The exit code of each [`Status`]: 0, 1 and 16 ([`fsck::USAGE`]).
#[must_use]
pub fn exit_code(status: Status) -> u8 {
    match status {
        Status::Success => 0,
        Status::Failed => 1,
        Status::Usage => fsck::USAGE,
    }
}

/// The exit-code bits of the offline commands, as fsck's: a run's code is
/// the sum of the bits that apply.
pub mod fsck {
    /// No problem found (or, for `repair`, nothing needed doing).
    pub const CLEAN: u8 = 0;
    /// Problems were found and corrected.
    pub const CORRECTED: u8 = 1;
    /// Problems were found and left uncorrected.
    pub const UNCORRECTED: u8 = 4;
    /// Operational error: the directory is missing, unreadable or locked.
    pub const OPERATIONAL: u8 = 8;
    /// Usage error: the command line is invalid.
    pub const USAGE: u8 = 16;
}

/// [`exit_code`] as the process's `ExitCode`.
#[must_use]
pub fn exit(status: Status) -> ExitCode {
    ExitCode::from(exit_code(status))
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// An input (an argument or the transaction file) is invalid.
    #[error("{0}")]
    Usage(String),
    /// Talking to the server failed, or the server refused.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A local file could not be read.
    #[error("{0:#}")]
    Local(anyhow::Error),
}

impl Failure {
    /// The status this failure ends the run with.
    #[must_use]
    pub fn status(&self) -> Status {
        match self {
            Failure::Usage(_) => Status::Usage,
            Failure::Client(_) | Failure::Local(_) => Status::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_zero_one_sixteen() {
        assert_eq!(exit_code(Status::Success), 0);
        assert_eq!(exit_code(Status::Failed), 1);
        assert_eq!(exit_code(Status::Usage), 16);
        assert_eq!(Failure::Usage("x".into()).status(), Status::Usage);
        assert_eq!(Failure::Client(ClientError::Closed("x".into())).status(), Status::Failed);
    }
}
