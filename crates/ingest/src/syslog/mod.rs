//! Syslog: a zero-copy RFC 5424 / RFC 3164 message parser and an RFC 6587 TCP frame decoder.

use memchr::memchr2;
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Facility given to a frame without a PRI: 1 (user-level), as RFC 3164 §4.3.3 tells a relay to assume.
const DEFAULT_FACILITY: u8 = 1;
/// Severity given to a frame without a PRI: 5 (notice), as RFC 3164 §4.3.3 tells a relay to assume.
const DEFAULT_SEVERITY: u8 = 5;
/// The largest PRI: facility 23, severity 7.
const MAX_PRI: u8 = 191;
/// At most this many digits announce an octet-counted frame: more would not fit a `u64`.
const MAX_LEN_DIGITS: usize = 19;

/// Which header layout a message used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyslogFormat {
    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`.
    Rfc5424,
    /// BSD syslog, `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`, read leniently.
    Rfc3164,
}

/// One syslog message, borrowing from the frame it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// Facility, `PRI / 8` (0–23).
    pub facility: u8,
    /// Severity, `PRI % 8` (0 emergency – 7 debug).
    pub severity: u8,
    /// When the sender says the event happened. `None` for the RFC 5424 nil value `-`, or when an
    /// RFC 3164 header is missing or holds an impossible date.
    pub timestamp: Option<OffsetDateTime>,
    /// The sending host, `None` for `-` or when absent.
    pub hostname: Option<&'a str>,
    /// RFC 5424 APP-NAME, or the RFC 3164 TAG up to `[` or `:`.
    pub app_name: Option<&'a str>,
    /// RFC 5424 PROCID, or the RFC 3164 `[PID]`.
    pub proc_id: Option<&'a str>,
    /// RFC 5424 MSGID (RFC 3164 has none).
    pub msg_id: Option<&'a str>,
    /// RFC 5424 structured data as raw text (`[id k="v"][...]`), `None` for `-`.
    pub structured_data: Option<&'a str>,
    /// The free-form message, without a leading UTF-8 BOM or trailing line terminators.
    pub message: &'a str,
    /// The header layout the message used.
    pub format: SyslogFormat,
}

/// Why a frame is not a syslog message. Messages never quote the frame: it may hold personal data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SyslogError {
    /// Nothing but line terminators.
    #[error("the syslog frame is empty")]
    Empty,
    /// A `<` that does not open a valid PRI.
    #[error("expected a priority `<0>` to `<191>` at the start of the syslog frame")]
    InvalidPriority,
    /// Bytes that are not UTF-8.
    #[error("the syslog frame is not valid UTF-8")]
    InvalidUtf8,
    /// An RFC 5424 header that ends before one of its fields.
    #[error("the RFC 5424 header ends before {field}")]
    Truncated {
        /// The missing field, as RFC 5424 names it.
        field: &'static str,
    },
    /// An RFC 5424 header field of the wrong form.
    #[error("invalid RFC 5424 {field}: expected {expected}")]
    InvalidField {
        /// The field, as RFC 5424 names it.
        field: &'static str,
        /// What the field should hold.
        expected: &'static str,
    },
}

/// Parses one syslog frame as RFC 5424 (when `1 ` follows the PRI) or else as RFC 3164.
///
/// RFC 5424 headers are checked strictly; an RFC 3164 header that does not parse leaves the whole
/// text after the PRI as the message, as rsyslog does. A frame that does not start with `<` has no
/// PRI, and as nothing else can mark it as RFC 5424 (VERSION follows PRI) it is read as RFC 3164
/// with facility 1 (user) and severity 5 (notice). RFC 3164 dates carry no year: `now`'s is used,
/// or the one before when that would put the message more than a day in the future, and the time
/// is read in `now`'s offset. Does not allocate.
pub fn parse_syslog(frame: &[u8], now: OffsetDateTime) -> Result<SyslogMessage<'_>, SyslogError> {
    let frame = trim_terminators(frame);
    if frame.is_empty() {
        return Err(SyslogError::Empty);
    }
    let text = std::str::from_utf8(frame).map_err(|_| SyslogError::InvalidUtf8)?;
    match text.strip_prefix('<') {
        Some(after) => {
            let (pri, rest) = parse_pri(after)?;
            match rest.strip_prefix("1 ") {
                Some(header) => parse_5424(pri, header),
                None => Ok(parse_3164(pri, rest, now)),
            }
        }
        None => Ok(parse_3164(DEFAULT_FACILITY * 8 + DEFAULT_SEVERITY, text, now)),
    }
}

/// The frame without trailing LF, CR and NUL bytes.
fn trim_terminators(frame: &[u8]) -> &[u8] {
    let end = frame.iter().rposition(|b| !matches!(b, b'\n' | b'\r' | 0)).map_or(0, |i| i + 1);
    frame.get(..end).unwrap_or_default()
}

/// Reads `N>` (1–3 digits, at most 191) after the `<`; returns the PRI and the text after `>`.
fn parse_pri(after: &str) -> Result<(u8, &str), SyslogError> {
    let digits = after.bytes().take(3).take_while(u8::is_ascii_digit).count();
    let rest = after.get(digits..).and_then(|r| r.strip_prefix('>')).ok_or(SyslogError::InvalidPriority)?;
    let pri: u16 = after.get(..digits).and_then(|d| d.parse().ok()).ok_or(SyslogError::InvalidPriority)?;
    match u8::try_from(pri) {
        Ok(pri) if pri <= MAX_PRI => Ok((pri, rest)),
        _ => Err(SyslogError::InvalidPriority),
    }
}

/// Parses what follows `<PRI>1 `.
fn parse_5424(pri: u8, header: &str) -> Result<SyslogMessage<'_>, SyslogError> {
    let mut rest = header;
    let timestamp = match header_field(&mut rest, "TIMESTAMP")? {
        None => None,
        Some(ts) => Some(
            OffsetDateTime::parse(ts, &Rfc3339)
                .map_err(|_| SyslogError::InvalidField { field: "TIMESTAMP", expected: "an RFC 3339 date-time or `-`" })?,
        ),
    };
    let hostname = header_field(&mut rest, "HOSTNAME")?;
    let app_name = header_field(&mut rest, "APP-NAME")?;
    let proc_id = header_field(&mut rest, "PROCID")?;
    let msg_id = header_field(&mut rest, "MSGID")?;
    let sd_len = structured_data_len(rest.as_bytes())?;
    let (sd, after) = rest.split_at_checked(sd_len).ok_or(SyslogError::Truncated { field: "STRUCTURED-DATA" })?;
    let message = match after.strip_prefix(' ') {
        Some(msg) => msg,
        None if after.is_empty() => after,
        None => {
            return Err(SyslogError::InvalidField {
                field: "STRUCTURED-DATA",
                expected: "`-` or `[...]` elements followed by a space or the end",
            });
        }
    };
    Ok(SyslogMessage {
        facility: pri / 8,
        severity: pri % 8,
        timestamp,
        hostname,
        app_name,
        proc_id,
        msg_id,
        structured_data: (sd != "-").then_some(sd),
        message: strip_bom(message),
        format: SyslogFormat::Rfc5424,
    })
}

/// Takes one space-terminated RFC 5424 header field off `rest`; `None` for the nil value `-`.
///
/// RFC 5424's length limits are not enforced: real senders exceed APP-NAME's 48 characters.
fn header_field<'a>(rest: &mut &'a str, field: &'static str) -> Result<Option<&'a str>, SyslogError> {
    if rest.is_empty() {
        return Err(SyslogError::Truncated { field });
    }
    let (token, after) = rest.split_once(' ').unwrap_or((rest, ""));
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SyslogError::InvalidField { field, expected: "printable US-ASCII or `-`" });
    }
    *rest = after;
    Ok((token != "-").then_some(token))
}

/// The length of the STRUCTURED-DATA at the start of `b`: `-`, or `[...]` elements back to back
/// where quoted values may hold `\]`, `\"` and `\\`.
fn structured_data_len(b: &[u8]) -> Result<usize, SyslogError> {
    const TRUNCATED: SyslogError = SyslogError::Truncated { field: "STRUCTURED-DATA" };
    match b.first() {
        None => return Err(TRUNCATED),
        Some(b'-') => return Ok(1),
        Some(b'[') => {}
        Some(_) => return Err(SyslogError::InvalidField { field: "STRUCTURED-DATA", expected: "`-` or `[`" }),
    }
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        // Outside quotes only `"` and `]` matter; inside, `\` escapes the next byte and `"` closes.
        loop {
            let tail = b.get(i..).ok_or(TRUNCATED)?;
            let at = i + memchr2(b'"', b']', tail).ok_or(TRUNCATED)?;
            i = at + 1;
            if b.get(at) == Some(&b']') {
                break;
            }
            loop {
                let tail = b.get(i..).ok_or(TRUNCATED)?;
                let at = i + memchr2(b'"', b'\\', tail).ok_or(TRUNCATED)?;
                if b.get(at) == Some(&b'"') {
                    i = at + 1;
                    break;
                }
                i = at + 2;
            }
        }
    }
    Ok(i)
}

/// Parses what follows the PRI (or the whole frame when it has none) leniently.
fn parse_3164(pri: u8, text: &str, now: OffsetDateTime) -> SyslogMessage<'_> {
    let mut msg = SyslogMessage {
        facility: pri / 8,
        severity: pri % 8,
        timestamp: None,
        hostname: None,
        app_name: None,
        proc_id: None,
        msg_id: None,
        structured_data: None,
        message: strip_bom(text),
        format: SyslogFormat::Rfc3164,
    };
    let Some((timestamp, rest)) = bsd_timestamp(text, now).or_else(|| rfc3339_timestamp(text)) else {
        return msg;
    };
    msg.timestamp = timestamp;
    let (first, after_first) = rest.split_once(' ').unwrap_or((rest, ""));
    let body = if let Some((app, pid, body)) = tag(rest) {
        (msg.app_name, msg.proc_id) = (Some(app), pid);
        body
    } else if is_hostname(first) {
        msg.hostname = Some(first);
        match tag(after_first) {
            Some((app, pid, body)) => {
                (msg.app_name, msg.proc_id) = (Some(app), pid);
                body
            }
            None => after_first,
        }
    } else {
        rest
    };
    msg.message = strip_bom(body);
    msg
}

/// Reads `Mmm dd hh:mm:ss` (day space-padded or not) and the space after it. The outer `None`
/// means the text does not have that shape; the inner one that the date is impossible.
fn bsd_timestamp(text: &str, now: OffsetDateTime) -> Option<(Option<OffsetDateTime>, &str)> {
    const MONTHS: [&[u8; 3]; 12] = [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];
    let b = text.as_bytes();
    let name = b.get(..3)?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))?;
    let mut cur = ByteCursor { b, i: 3 };
    cur.eat(b' ')?;
    cur.eat(b' ');
    let day = cur.number(1, 2)?;
    cur.eat(b' ')?;
    let hour = cur.number(2, 2)?;
    cur.eat(b':')?;
    let minute = cur.number(2, 2)?;
    cur.eat(b':')?;
    let second = cur.number(2, 2)?;
    let rest = match text.get(cur.i..)? {
        "" => "",
        r => r.strip_prefix(' ')?,
    };
    let month = Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let time = Time::from_hms(u8::try_from(hour).ok()?, u8::try_from(minute).ok()?, u8::try_from(second).ok()?).ok();
    let latest = now.checked_add(Duration::DAY).unwrap_or(now);
    let timestamp = time.and_then(|time| {
        [now.year(), now.year() - 1].into_iter().find_map(|year| {
            let date = Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
            let at = PrimitiveDateTime::new(date, time).assume_offset(now.offset());
            (at <= latest).then_some(at)
        })
    });
    Some((timestamp, rest))
}

/// Reads an RFC 3339 timestamp and the space after it, as rsyslog's forwarding format sends.
fn rfc3339_timestamp(text: &str) -> Option<(Option<OffsetDateTime>, &str)> {
    if !text.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    let (token, rest) = text.split_once(' ').unwrap_or((text, ""));
    let at = OffsetDateTime::parse(token, &Rfc3339).ok()?;
    Some((Some(at), rest))
}

/// Reads `TAG:`, `TAG[PID]:` or `TAG[PID]` ending the first word; returns the tag, the PID and
/// the message after the word and one space.
fn tag(text: &str) -> Option<(&str, Option<&str>, &str)> {
    let (word, body) = text.split_once(' ').unwrap_or((text, ""));
    let name_len = word.bytes().take_while(|&b| b.is_ascii_graphic() && !matches!(b, b'[' | b']' | b':')).count();
    let (name, after) = word.split_at_checked(name_len)?;
    if name.is_empty() {
        return None;
    }
    let (pid, after) = match after.strip_prefix('[') {
        Some(p) => {
            let (pid, after) = p.split_once(']')?;
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_graphic()) {
                return None;
            }
            (Some(pid), after)
        }
        None => (None, after),
    };
    match after {
        ":" => Some((name, pid, body)),
        "" if pid.is_some() => Some((name, pid, body)),
        _ => None,
    }
}

/// Whether a word can be an RFC 3164 HOSTNAME: a name, an IPv4 or an IPv6 address.
fn is_hostname(word: &str) -> bool {
    !word.is_empty() && !word.ends_with(':') && word.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// The text without a leading UTF-8 byte order mark.
fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A bounds-checked reader over ASCII header bytes.
struct ByteCursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl ByteCursor<'_> {
    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&byte)).then(|| self.i += 1)
    }

    /// Consumes `min..=max` decimal digits.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let digits = self.b.get(self.i..)?.iter().take(max).take_while(|b| b.is_ascii_digit());
        let (count, value) = digits.fold((0, 0u32), |(n, v), d| (n + 1, v * 10 + u32::from(d - b'0')));
        self.i += count;
        (count >= min).then_some(value)
    }
}

mod frame;
#[cfg(test)]
mod tests;

pub use frame::{FrameDecoder, FrameError};
