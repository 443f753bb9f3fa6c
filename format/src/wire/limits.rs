//! Bounds on what decoding one frame from an untrusted peer may cost.

use flatbuffers::VerifierOptions;

use crate::error::{Error, Result};
use crate::wire::frame::DEFAULT_MAX_FRAME;

/// How many bytes the verifier may account for per byte of frame.
///
/// The verifier counts every table, vtable, field and vector it visits
/// (an honest message of our schema comes to under twice its length, as
/// vtables are shared but counted at each table). A frame whose offsets
/// point at one vector many times counts that vector each time, so this
/// factor caps the bytes a decoder may copy out of one frame.
const APPARENT_SIZE_PER_FRAME_BYTE: usize = 4;

/// Limits applied to every frame decoded from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WireLimits {
    /// Deepest nesting of tables the verifier accepts. The schema has no
    /// recursive types: its deepest message nests five tables (`Response`
    /// → `TxnResult` → `TxnOpResult` → `GetResult` → `KeyValue`).
    pub max_depth: usize,
    /// Most tables in one message. Each operation of a transaction (and
    /// each result) takes two tables and each scanned pair one, so this
    /// bounds transaction size, scan result size and the verifier's work.
    pub max_tables: usize,
    /// Longest frame body, in bytes; see [`frame_len`](super::frame_len).
    pub max_frame: usize,
}

impl Default for WireLimits {
    /// Depth 8 (the schema needs 5; the slack lets a newer schema nest a
    /// little deeper without breaking older readers), 100,000 tables (a
    /// transaction of up to 49,999 operations, a scan of up to 99,996
    /// pairs; servers cap scans well below that), and 16 MiB frames.
    fn default() -> Self {
        WireLimits { max_depth: 8, max_tables: 100_000, max_frame: DEFAULT_MAX_FRAME }
    }
}

impl WireLimits {
    /// The FlatBuffers verifier options these limits imply.
    #[must_use]
    pub fn verifier_options(&self) -> VerifierOptions {
        VerifierOptions {
            max_depth: self.max_depth,
            max_tables: self.max_tables,
            max_apparent_size: self.max_frame.saturating_mul(APPARENT_SIZE_PER_FRAME_BYTE),
            ignore_missing_null_terminator: false,
        }
    }

    /// Checks a whole frame body against `max_frame` (for callers that did
    /// not get it through [`frame_len`](super::frame_len)).
    pub(crate) fn check_frame(&self, body: &[u8]) -> Result<()> {
        if body.len() > self.max_frame {
            return Err(Error::FrameTooLarge {
                len: u64::try_from(body.len()).unwrap_or(u64::MAX),
                max: u64::try_from(self.max_frame).unwrap_or(u64::MAX),
            });
        }
        Ok(())
    }
}
