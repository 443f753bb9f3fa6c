//! Keys and values given as text: UTF-8 as written, or `hex:` followed by
//! hex digits for binary data — the same form output uses
//! (`jubilant_format::view::display_bytes`), so printed keys can be
//! pasted back.

/// Bytes parsed from a command-line argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

/// Parses text or `hex:…` into bytes.
///
/// # Errors
///
/// A message for an odd number of hex digits or a non-hex character.
pub fn parse_bytes(text: &str) -> Result<Vec<u8>, String> {
    let Some(hex) = text.strip_prefix("hex:") else { return Ok(text.as_bytes().to_vec()) };
    if hex.len() % 2 != 0 {
        return Err(format!("{text:?}: odd number of hex digits"));
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let digit =
                |d: u8| char::from(d).to_digit(16).ok_or_else(|| format!("{text:?}: {:?} is not hex", char::from(d)));
            match pair {
                [high, low] => Ok(u8::try_from(digit(*high)? * 16 + digit(*low)?).unwrap_or(u8::MAX)),
                _ => Err(format!("{text:?}: odd number of hex digits")),
            }
        })
        .collect()
}

/// The clap value parser for [`Bytes`] arguments.
///
/// # Errors
///
/// As [`parse_bytes`].
pub fn parse_bytes_arg(text: &str) -> Result<Bytes, String> {
    parse_bytes(text).map(Bytes)
}

/// Bytes as text or `hex:…`, for output.
#[must_use]
pub fn show(bytes: &[u8]) -> String {
    jubilant_format::view::display_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_hex_round_trip_through_display() {
        assert_eq!(parse_bytes("user:1"), Ok(b"user:1".to_vec()));
        assert_eq!(parse_bytes("hex:00ff0A"), Ok(vec![0, 0xff, 0x0a]));
        assert_eq!(parse_bytes("hex:"), Ok(Vec::new()));
        for bytes in [&b"plain"[..], &[0, 1, 2], b"hex:00", b"a\nb", b""] {
            assert_eq!(parse_bytes(&show(bytes)).unwrap(), bytes);
        }
        assert!(parse_bytes("hex:0").unwrap_err().contains("odd number"));
        assert!(parse_bytes("hex:zz").unwrap_err().contains("not hex"));
    }
}
