//! Timestamps (RFC 3339, UTC, millisecond precision) and human durations (`30s`, `5m`, `7d`).

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The earliest year an event timestamp may have.
pub const MIN_TIMESTAMP_YEAR: i32 = 1970;
/// The year before which every event timestamp must lie (storage keys are built from
/// milliseconds since 1970 and must fit in an `i64` beside a 20-bit discriminator).
pub const MAX_TIMESTAMP_YEAR: i32 = 2200;

/// Parses a timestamp: an RFC 3339 string, or a number of seconds (below 10^11) or
/// milliseconds since the Unix epoch. Returns `None` for anything else, including
/// years outside [`MIN_TIMESTAMP_YEAR`]..[`MAX_TIMESTAMP_YEAR`].
pub fn parse_timestamp(value: &serde_json::Value) -> Option<OffsetDateTime> {
    let parsed = match value {
        serde_json::Value::String(s) => return parse_rfc3339(s),
        serde_json::Value::Number(n) => {
            let millis = if let Some(i) = n.as_i64() {
                if i.abs() < 100_000_000_000 { i.checked_mul(1000)? } else { i }
            } else {
                let f = n.as_f64()?;
                if !f.is_finite() {
                    return None;
                }
                let f = if f.abs() < 1e11 { f * 1000.0 } else { f };
                if f.abs() > 1e16 {
                    return None;
                }
                f as i64
            };
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()?
        }
        _ => return None,
    };
    let utc = parsed.to_offset(UtcOffset::UTC);
    let utc = utc.replace_nanosecond(utc.millisecond() as u32 * 1_000_000).ok()?;
    (MIN_TIMESTAMP_YEAR..MAX_TIMESTAMP_YEAR).contains(&utc.year()).then_some(utc)
}

/// Parses an RFC 3339 timestamp string, with the same rounding and year range as
/// [`parse_timestamp`].
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    let utc = parsed.to_offset(UtcOffset::UTC);
    let utc = utc.replace_nanosecond(utc.millisecond() as u32 * 1_000_000).ok()?;
    (MIN_TIMESTAMP_YEAR..MAX_TIMESTAMP_YEAR).contains(&utc.year()).then_some(utc)
}

/// Formats a timestamp the way Rampart stores and serves it: UTC, milliseconds, `Z`.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses a duration written as a number and a unit: `ms`, `s`, `m`, `h`, `d` (`90s`, `24h`, `7d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration: expected a number and a unit, like 30s, 5m, 24h or 7d"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` has an unknown unit: expected ms, s, m, h or d")),
    };
    n.checked_mul(seconds).map(Duration::from_secs).ok_or_else(|| format!("`{text}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_in_every_accepted_form() {
        let want = "2026-11-22T10:00:00.123Z";
        for input in [
            json!("2026-11-22T10:00:00.123Z"),
            json!("2026-11-22T11:00:00.123456+01:00"),
            json!(1_795_341_600_123_i64),
            json!(1_795_341_600.123),
        ] {
            let t = parse_timestamp(&input).unwrap_or_else(|| panic!("{input} did not parse"));
            assert_eq!(format_timestamp(t), want, "{input}");
        }
    }

    #[test]
    fn absurd_timestamps_are_refused() {
        for input in [
            json!("yesterday"),
            json!("1969-12-31T23:59:59Z"),
            json!("2500-01-01T00:00:00Z"),
            json!(-5),
            json!(1e300),
            json!(true),
            json!(null),
        ] {
            assert_eq!(parse_timestamp(&input), None, "{input}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("7 weeks").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
