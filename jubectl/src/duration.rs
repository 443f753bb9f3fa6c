//! Durations on the command line and in transaction files: a positive
//! whole number followed by a unit, `ms`, `s`, `m` or `h` (`500ms`, `10s`,
//! `2m`, `1h`). A bare number is refused: its unit would be a guess.

use std::time::Duration;

/// Longest duration accepted: a week. Longer values are typos (a TTL in
/// milliseconds written with `s`), and it keeps every product in range.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses `10s`, `500ms`, `2m`, `1h`.
///
/// # Errors
///
/// A message naming the problem, for clap or the transaction file parser
/// to show.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err(format!("invalid duration {text:?}: expected a number and a unit, like 10s, 500ms, 2m"));
    }
    let number: u64 = number.parse().map_err(|e| format!("invalid duration {text:?}: {e}"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        "" => return Err(format!("invalid duration {text:?}: missing unit (ms, s, m or h)")),
        other => return Err(format!("invalid duration {text:?}: unknown unit {other:?} (use ms, s, m or h)")),
    };
    if duration.is_zero() {
        return Err(format!("invalid duration {text:?}: must be more than zero"));
    }
    if duration > MAX_DURATION {
        return Err(format!("invalid duration {text:?}: longer than a week"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_milliseconds_seconds_minutes_hours() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration(" 3s "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn malformed_durations_are_refused_with_a_reason() {
        for (text, reason) in [
            ("10", "missing unit"),
            ("s", "expected a number"),
            ("", "expected a number"),
            ("-1s", "expected a number"),
            ("1.5s", "unknown unit"),
            ("10d", "unknown unit"),
            ("10 s", "unknown unit"),
            ("0s", "more than zero"),
            ("8d", "unknown unit"),
            ("200h", "longer than a week"),
            ("99999999999999999999s", "invalid duration"),
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.contains(reason), "{text:?}: {error}");
        }
    }
}
