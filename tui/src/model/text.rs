//! How bytes are spelled on screen: keys as UTF-8 when printable, else hex;
//! values redacted to their length and a hash; sizes in binary units.

use jubilant_format::hash::fnv1a64;

/// A key (or any short byte string): UTF-8 when every character is
/// printable, else lower-case hex with a `0x` prefix. At most `max` chars.
#[must_use]
pub fn key(bytes: &[u8], max: usize) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_owned(),
        _ => format!("0x{}", hex(bytes)),
    };
    clip(&text, max)
}

/// A value as shown when values are revealed: like [`key`], but quoted.
#[must_use]
pub fn value(bytes: &[u8], max: usize) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => clip(&format!("{s:?}"), max),
        _ => clip(&format!("0x{}", hex(bytes)), max),
    }
}

/// A value redacted to its length and a short hash (FNV-1a 64, top 32
/// bits), enough to tell two values apart without showing them.
#[must_use]
pub fn redacted(bytes: &[u8]) -> String {
    format!("‹{} B, fnv {:08x}›", bytes.len(), fnv1a64(bytes) >> 32)
}

/// Lower-case hex, no separators.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
#[must_use]
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A byte count: `512 B`, `4.0 KiB`, `1.5 MiB`, `2.0 GiB`.
#[must_use]
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = "KiB";
    for next in UNITS.iter().skip(1) {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// A milliseconds-since-epoch time as `YYYY-MM-DD HH:MM:SS.mmm UTC`.
#[must_use]
pub fn unix_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03} UTC", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_text_when_printable_else_hex() {
        assert_eq!(key(b"user:1", 20), "user:1");
        assert_eq!(key(b"a\x00b", 20), "0x610062");
        assert_eq!(key(b"abcdefghij", 5), "abcd…");
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(4096), "4.0 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(unix_ms(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(unix_ms(1_700_000_000_123), "2023-11-14 22:13:20.123 UTC");
    }

    #[test]
    fn redaction_hides_the_value() {
        let r = redacted(b"secret");
        assert!(r.starts_with("‹6 B, fnv "));
        assert!(!r.contains("secret"));
    }
}
