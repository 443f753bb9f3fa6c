//! Client/server messages (`schemas/wire.fbs`): owned, typed requests and
//! responses, their FlatBuffers encoding, and the frames that carry them.
//!
//! # Frames
//!
//! A connection carries a stream of frames in each direction:
//!
//! ```text
//! offset  size  field
//! 0       4     body length, u32 little-endian (not counting these 4 bytes)
//! 4       len   body: one FlatBuffer, a `Request` (client to server) or
//!               a `Response` (server to client), without file identifier
//! ```
//!
//! A reader takes the 4-byte prefix, checks it with [`frame_len`] against
//! its maximum *before* allocating anything for the body, then reads the
//! body and decodes it with [`decode_request`] or [`decode_response`].
//! Frames carry no checksum: the transport (TCP, TLS) protects the bytes.
//!
//! # Limits on untrusted input
//!
//! [`WireLimits`] bounds what one frame may cost the reader: its length,
//! the FlatBuffers verifier's table count and nesting depth, and (derived
//! from the frame length) the verifier's "apparent size", which stops a
//! small frame whose offsets point at the same vector many times from
//! decoding into far more memory than it occupies.
//!
//! # Decoding rules
//!
//! - No decoder panics or reads unverified bytes; every input gets a
//!   [`Request`]/[`Response`] or an [`Error`](crate::Error).
//! - A request that fails verification is
//!   [`MalformedRequest`](crate::Error::MalformedRequest) without an id (an
//!   unverified id cannot be trusted); a verified request with invalid
//!   fields is `MalformedRequest` with its id; a verified request naming a
//!   body or operation this build does not know (a union tag from a newer
//!   schema, which the verifier lets through) is
//!   [`UnsupportedRequest`](crate::Error::UnsupportedRequest) with its id,
//!   so a server can answer it.
//! - A response is decoded by a client, which has no one to answer:
//!   failures are the generic [`InvalidFlatbuffer`](crate::Error::InvalidFlatbuffer),
//!   [`InvalidContent`](crate::Error::InvalidContent) and
//!   [`UnknownUnionTag`](crate::Error::UnknownUnionTag) for
//!   [`Structure::WireResponse`](crate::Structure::WireResponse). An error
//!   code this build does not know is kept as [`ErrorCode::Unknown`], so
//!   the message still reaches the user.
//! - Zero means "absent" for optional numbers on the wire (`ttl_ms`,
//!   `expires_at_unix_ms`) and -1 for `op_index`; the Rust types use
//!   `Option`, and `Some(0)` encodes as absent.

mod error_code;
mod frame;
pub mod laid;
mod limits;
mod request;
mod response;

pub use error_code::ErrorCode;
pub use frame::{DEFAULT_MAX_FRAME, FRAME_PREFIX_LEN, encode_frame, frame_len};
pub use limits::WireLimits;
pub use request::{AssertCondition, Decoded, Op, Request, RequestBody, decode_request, decode_request_or_get};
pub use response::{KeyValue, KeyValueRef, OpResult, Response, ResponseBody, TxnResult, WireError, decode_response};

/// Serializes optional bytes with [`crate::view::display_bytes`].
fn option_bytes<S: serde::Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(bytes) => s.serialize_some(&crate::view::display_bytes(bytes)),
        None => s.serialize_none(),
    }
}
