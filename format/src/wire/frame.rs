//! The length prefix in front of every message on a connection.
//!
//! The prefix is a u32 little-endian count of the body bytes that follow
//! it. It is checked against the reader's maximum before any buffer is
//! sized from it: a peer's claimed length is input, not a promise.

use crate::error::{Error, Result};

/// Bytes of the length prefix in front of every frame body.
pub const FRAME_PREFIX_LEN: usize = 4;

/// Default maximum body length of a frame: 16 MiB. Large enough for a
/// transaction of big values, small enough that a connection cannot make
/// the reader allocate much on a claim alone.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

const _: () = assert!(FRAME_PREFIX_LEN == size_of::<u32>());
const _: () = assert!(DEFAULT_MAX_FRAME == 16 * 1024 * 1024);

/// The body length a frame prefix announces, if it is at most `max`.
///
/// A zero length is returned as is: the empty body then fails to decode,
/// which gives the peer a proper error instead of a silently skipped frame.
///
/// # Errors
///
/// [`Error::FrameTooLarge`] when the prefix exceeds `max`. The caller must
/// not allocate the claimed length before this check, and should close
/// the connection after answering: the unread body cannot be skipped
/// safely.
pub fn frame_len(prefix: [u8; FRAME_PREFIX_LEN], max: usize) -> Result<usize> {
    let len = u32::from_le_bytes(prefix);
    let too_large = || Error::FrameTooLarge { len: u64::from(len), max: u64::try_from(max).unwrap_or(u64::MAX) };
    let len_usize = usize::try_from(len).map_err(|_| too_large())?;
    if len_usize > max {
        return Err(too_large());
    }
    Ok(len_usize)
}

/// Appends one frame, the length prefix then `body`, to `out`.
///
/// # Panics
///
/// If `body` is longer than `u32::MAX` bytes, which no encoder of this
/// crate produces: callers keep bodies within their configured maximum.
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) {
    let Ok(len) = u32::try_from(body.len()) else {
        panic!("frame body of {} bytes does not fit a u32 length prefix", body.len());
    };
    out.reserve(FRAME_PREFIX_LEN + body.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_little_endian_and_checked_against_the_maximum() {
        assert_eq!(frame_len([5, 1, 0, 0], 1000).unwrap(), 261);
        assert_eq!(frame_len([0, 0, 0, 0], 0).unwrap(), 0);
        assert_eq!(frame_len([0xe8, 3, 0, 0], 1000).unwrap(), 1000);
        assert_eq!(frame_len([0xe9, 3, 0, 0], 1000), Err(Error::FrameTooLarge { len: 1001, max: 1000 }));
    }

    #[test]
    fn encode_frame_appends_prefix_and_body() {
        let mut out = vec![9];
        encode_frame(b"abc", &mut out);
        assert_eq!(out, [9, 3, 0, 0, 0, b'a', b'b', b'c']);
    }
}
