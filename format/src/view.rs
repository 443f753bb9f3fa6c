//! Helpers for the human-readable (serde) views of decoded structures.

use serde::Serializer;

/// Renders bytes as a UTF-8 string when every character is printable, and
/// otherwise as `hex:` followed by lower-case hex digits. Dumps and
/// snapshots stay readable for text keys and unambiguous for binary ones.
#[must_use]
pub fn display_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.starts_with("hex:") && s.chars().all(|c| !c.is_control()) => s.to_owned(),
        _ => {
            let mut out = String::with_capacity(4 + bytes.len() * 2);
            out.push_str("hex:");
            for b in bytes {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

/// Serializes bytes with [`display_bytes`].
pub fn bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&display_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::display_bytes;

    #[test]
    fn printable_text_stays_text_and_the_rest_is_hex() {
        assert_eq!(display_bytes(b"user:42"), "user:42");
        assert_eq!(display_bytes(b""), "");
        assert_eq!(display_bytes(&[0, 1, 0xff]), "hex:0001ff");
        assert_eq!(display_bytes(b"a\nb"), "hex:610a62");
        // Text that looks like the hex prefix is hex-encoded, so the two
        // forms never collide.
        assert_eq!(display_bytes(b"hex:00"), "hex:6865783a3030");
    }
}
