//! Timestamps (RFC 3339, UTC, millisecond precision), human durations (`30s`, `5m`, `7d`) and
//! the times a user may write (absolute, or relative to now: `now`, `-1h`, `now-24h`).

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

/// A time as a user writes it for `--from`/`--to` or the `from`/`to` parameters: absolute
/// (RFC 3339, epoch seconds or milliseconds) or relative to now (`now`, `now-24h`, `now+5m`,
/// `-1h`). Parse it with [`TimeSpec::parse`], turn it into a time with [`TimeSpec::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// This very time.
    At(OffsetDateTime),
    /// Now plus this (negative for the past).
    FromNow(time::Duration),
}

impl TimeSpec {
    /// Parses a time: `now`, `now-<duration>`, `now+<duration>` or `-<duration>` (durations as
    /// [`parse_duration`] reads them: `30m`, `24h`, `7d`), an RFC 3339 time, or epoch seconds
    /// (below 10^11) or milliseconds. The error says what is accepted.
    pub fn parse(text: &str) -> Result<TimeSpec, String> {
        let text = text.trim();
        let expected = || {
            format!(
                "`{text}` is not a time: expected RFC 3339 (2026-11-22T10:00:00Z), epoch seconds or milliseconds, `now`, `now-24h` or `-1h`"
            )
        };
        let relative = |sign: i64, rest: &str| -> Result<TimeSpec, String> {
            let duration = parse_duration(rest).map_err(|_| expected())?;
            let duration = time::Duration::try_from(duration).map_err(|_| expected())?;
            Ok(TimeSpec::FromNow(if sign < 0 { -duration } else { duration }))
        };
        if text == "now" {
            return Ok(TimeSpec::FromNow(time::Duration::ZERO));
        }
        if let Some(rest) = text.strip_prefix("now-") {
            return relative(-1, rest);
        }
        if let Some(rest) = text.strip_prefix("now+") {
            return relative(1, rest);
        }
        if let Some(rest) = text.strip_prefix('-').filter(|rest| rest.ends_with(|c: char| c.is_ascii_alphabetic())) {
            return relative(-1, rest);
        }
        let json = match text.parse::<i64>() {
            Ok(number) => serde_json::Value::from(number),
            Err(_) => serde_json::Value::String(text.to_owned()),
        };
        parse_timestamp(&json).map(TimeSpec::At).ok_or_else(expected)
    }

    /// The time this names when `now` is the clock's time, at millisecond precision; an error
    /// when it falls outside [`MIN_TIMESTAMP_YEAR`]..[`MAX_TIMESTAMP_YEAR`].
    pub fn resolve(self, clock: &dyn crate::Clock) -> Result<OffsetDateTime, String> {
        let out_of_range = || format!("the time is outside the years {MIN_TIMESTAMP_YEAR} to {MAX_TIMESTAMP_YEAR}");
        match self {
            TimeSpec::At(t) => Ok(t),
            TimeSpec::FromNow(offset) => {
                let t = clock.now().checked_add(offset).ok_or_else(out_of_range)?.to_offset(UtcOffset::UTC);
                let t = t.replace_nanosecond(u32::from(t.millisecond()) * 1_000_000).map_err(|_| out_of_range())?;
                (MIN_TIMESTAMP_YEAR..MAX_TIMESTAMP_YEAR).contains(&t.year()).then_some(t).ok_or_else(out_of_range)
            }
        }
    }
}

impl std::str::FromStr for TimeSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<TimeSpec, String> {
        TimeSpec::parse(text)
    }
}

/// Parses and resolves a time as a user writes it (see [`TimeSpec::parse`]).
pub fn parse_time(text: &str, clock: &dyn crate::Clock) -> Result<OffsetDateTime, String> {
    TimeSpec::parse(text)?.resolve(clock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issue_12_relative_and_absolute_times_resolve_against_the_clock() {
        let now = parse_rfc3339("2026-12-07T12:00:00.250Z").expect("a time");
        let clock = crate::FixedClock::new(now);
        for (text, want) in [
            ("now", "2026-12-07T12:00:00.250Z"),
            ("now-24h", "2026-12-06T12:00:00.250Z"),
            ("now-30m", "2026-12-07T11:30:00.250Z"),
            ("now+5m", "2026-12-07T12:05:00.250Z"),
            ("-1h", "2026-12-07T11:00:00.250Z"),
            ("-7d", "2026-11-30T12:00:00.250Z"),
            (" now-1s ", "2026-12-07T11:59:59.250Z"),
            ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00.000Z"),
            ("1795341600", "2026-11-22T10:00:00.000Z"),
            ("1795341600123", "2026-11-22T10:00:00.123Z"),
        ] {
            assert_eq!(parse_time(text, &clock).map(format_timestamp), Ok(want.to_owned()), "{text}");
        }
    }

    #[test]
    fn issue_12_malformed_times_are_refused_with_what_is_accepted() {
        let clock = crate::FixedClock::new(parse_rfc3339("2026-12-07T12:00:00Z").expect("a time"));
        for text in ["", "yesterday", "now-", "now-1", "now-1w", "-1", "now*2h", "-5", "1969-12-31T23:59:59Z", "now+99999999999d"] {
            let error = parse_time(text, &clock).expect_err(text);
            assert!(error.contains("time"), "{text}: {error}");
        }
        assert_eq!(
            parse_time("now-1000000d", &clock),
            Err(format!("the time is outside the years {MIN_TIMESTAMP_YEAR} to {MAX_TIMESTAMP_YEAR}"))
        );
    }

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
