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

/// Why the stream could not be split into a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame longer than the limit; the decoder skipped it and went on with the next one.
    #[error("a syslog frame is longer than {limit} bytes")]
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The stream ended inside an octet-counted frame.
    #[error("the stream ended after {received} of the {expected} bytes an octet-counted syslog frame announced")]
    Truncated {
        /// The announced length.
        expected: usize,
        /// The bytes that arrived.
        received: usize,
    },
}

/// What the decoder is throwing away after a frame that was too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Nothing: reading frames.
    None,
    /// The rest of an octet-counted frame.
    Bytes(u64),
    /// The rest of a line, through its LF or NUL.
    Line,
}

/// How the frame at the start of the buffer is framed.
enum Head {
    /// `LEN SP` of `header` bytes, then `len` bytes.
    Octets { header: usize, len: u64 },
    /// Only digits so far: either framing may follow.
    Undecided,
    /// A line ending at LF (or NUL), with an optional CR before it.
    Line,
}

/// Splits a TCP syslog stream into frames (RFC 6587), each detected on its own: `LEN SP MSG`
/// octet counting when it starts with a digit 1–9, digits and a space, else a line ending at LF
/// (CR LF, and NUL, accepted too). Empty lines are skipped.
///
/// Feed bytes with [`push`](Self::push), then call [`next_frame`](Self::next_frame) until it
/// returns `None`; at EOF call [`finish`](Self::finish) until it returns `None`. A frame longer
/// than `max_frame` yields [`FrameError::TooLong`] and is skipped without being buffered, so the
/// decoder holds at most `max_frame` + 20 bytes between pushes, plus what one push adds.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out; removed on the next push, while no frame borrows them.
    start: usize,
    /// Bytes after `start` known to hold no LF or NUL, so a slowly arriving line is scanned once.
    scanned: usize,
    skip: Skip,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes (terminators not counted).
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder { max_frame, buf: Vec::new(), start: 0, scanned: 0, skip: Skip::None }
    }

    /// Appends bytes received from the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // A skip is only pending once the buffer is empty, so new bytes can be dropped unseen.
        match self.skip {
            Skip::None => {}
            Skip::Bytes(n) => {
                let dropped = usize::try_from(n).unwrap_or(usize::MAX).min(bytes.len());
                bytes = bytes.get(dropped..).unwrap_or_default();
                self.skip = match n - dropped as u64 {
                    0 => Skip::None,
                    left => Skip::Bytes(left),
                };
            }
            Skip::Line => match memchr2(b'\n', 0, bytes) {
                Some(end) => {
                    bytes = bytes.get(end + 1..).unwrap_or_default();
                    self.skip = Skip::None;
                }
                None => bytes = &[],
            },
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, without its length prefix or terminator; `None` when more bytes
    /// are needed.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        self.next(false)
    }

    /// At EOF: like [`next_frame`](Self::next_frame), but a trailing line without a terminator is
    /// a frame, and a partial octet-counted frame is [`FrameError::Truncated`]. Call until `None`.
    pub fn finish(&mut self) -> Option<Result<&[u8], FrameError>> {
        self.next(true)
    }

    /// Bytes held, including those of the last frames returned (dropped on the next call).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn next(&mut self, eof: bool) -> Option<Result<&[u8], FrameError>> {
        // No returned frame is alive here, so a fully handed-out buffer can be dropped cheaply.
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        loop {
            let avail = self.buf.get(self.start..).unwrap_or_default();
            if avail.is_empty() {
                return None;
            }
            match head(avail) {
                Head::Octets { header, len } => {
                    let body = avail.len() - header;
                    let frame_len = usize::try_from(len).ok().filter(|&l| l <= self.max_frame);
                    let Some(frame_len) = frame_len else {
                        let dropped = body.min(usize::try_from(len).unwrap_or(usize::MAX));
                        self.consume(header + dropped);
                        self.skip = if len > dropped as u64 { Skip::Bytes(len - dropped as u64) } else { Skip::None };
                        return Some(Err(FrameError::TooLong { limit: self.max_frame }));
                    };
                    if body >= frame_len {
                        let from = self.start + header;
                        self.consume(header + frame_len);
                        return self.buf.get(from..from + frame_len).map(Ok);
                    }
                    if !eof {
                        return None;
                    }
                    self.consume(avail.len());
                    return Some(Err(FrameError::Truncated { expected: frame_len, received: body }));
                }
                Head::Undecided if !eof => return None,
                Head::Undecided | Head::Line => {}
            }
            let scanned = self.scanned.min(avail.len());
            let (line_len, consumed) = match memchr2(b'\n', 0, avail.get(scanned..).unwrap_or_default()) {
                Some(at) => (scanned + at, scanned + at + 1),
                None if eof => (avail.len(), avail.len()),
                None => {
                    self.scanned = avail.len();
                    // One byte of slack: the line's CR may be all that is still to come.
                    if avail.len() > self.max_frame.saturating_add(1) {
                        self.consume(avail.len());
                        self.skip = Skip::Line;
                        return Some(Err(FrameError::TooLong { limit: self.max_frame }));
                    }
                    return None;
                }
            };
            let line = avail.get(..line_len).unwrap_or_default();
            let line_len = if line.ends_with(b"\r") { line_len - 1 } else { line_len };
            let from = self.start;
            self.consume(consumed);
            if line_len > self.max_frame {
                return Some(Err(FrameError::TooLong { limit: self.max_frame }));
            }
            if line_len > 0 {
                return self.buf.get(from..from + line_len).map(Ok);
            }
        }
    }

    /// Marks `n` more bytes as handed out; the next frame starts unscanned.
    fn consume(&mut self, n: usize) {
        self.start += n;
        self.scanned = 0;
    }
}

/// Classifies the frame at the start of `avail` (which is not empty).
fn head(avail: &[u8]) -> Head {
    if !matches!(avail.first(), Some(b'1'..=b'9')) {
        return Head::Line;
    }
    let digits = avail.iter().take(MAX_LEN_DIGITS + 1).take_while(|b| b.is_ascii_digit()).count();
    if digits > MAX_LEN_DIGITS {
        return Head::Line;
    }
    match avail.get(digits) {
        None => Head::Undecided,
        Some(b' ') => {
            let len = avail.iter().take(digits).fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
            Head::Octets { header: digits + 1, len }
        }
        Some(_) => Head::Line,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-15 12:00:00 UTC);

    fn parse(frame: &str) -> SyslogMessage<'_> {
        parse_syslog(frame.as_bytes(), NOW).unwrap()
    }

    fn err(frame: &[u8]) -> SyslogError {
        parse_syslog(frame, NOW).unwrap_err()
    }

    #[test]
    fn rfc5424_example_1_with_bom() {
        let frame = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8";
        assert_eq!(
            parse(frame),
            SyslogMessage {
                facility: 4,
                severity: 2,
                timestamp: Some(datetime!(2003-10-11 22:14:15.003 UTC)),
                hostname: Some("mymachine.example.com"),
                app_name: Some("su"),
                proc_id: None,
                msg_id: Some("ID47"),
                structured_data: None,
                message: "'su root' failed for lonvick on /dev/pts/8",
                format: SyslogFormat::Rfc5424,
            }
        );
    }

    #[test]
    fn rfc5424_example_2_offset_and_microseconds() {
        let m = parse("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.");
        assert_eq!((m.facility, m.severity), (20, 5));
        assert_eq!(m.timestamp, Some(datetime!(2003-08-24 05:14:15.000003 -07:00)));
        assert_eq!((m.hostname, m.app_name, m.proc_id, m.msg_id), (Some("192.0.2.1"), Some("myproc"), Some("8710"), None));
        assert_eq!(m.structured_data, None);
        assert_eq!(m.message, "%% It's time to make the do-nuts.");
    }

    #[test]
    fn rfc5424_example_3_structured_data_and_bom() {
        let m = parse(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
             [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \u{feff}An application event log entry...",
        );
        assert_eq!(m.app_name, Some("evntslog"));
        assert_eq!(m.msg_id, Some("ID47"));
        assert_eq!(m.structured_data, Some("[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"));
        assert_eq!(m.message, "An application event log entry...");
    }

    #[test]
    fn rfc5424_example_4_two_elements_and_no_msg() {
        let m = parse(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
             [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]\r\n",
        );
        assert_eq!(
            m.structured_data,
            Some("[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]")
        );
        assert_eq!(m.message, "");
    }

    #[test]
    fn rfc5424_structured_data_escapes() {
        let m = parse(r#"<13>1 - h a p m [id@1 a="x\]y" b="q\"]" c="back\\"][id2 k="[v]"] after ] and ["#);
        assert_eq!(m.structured_data, Some(r#"[id@1 a="x\]y" b="q\"]" c="back\\"][id2 k="[v]"]"#));
        assert_eq!(m.message, "after ] and [");
    }

    #[test]
    fn rfc5424_nil_values() {
        assert_eq!(
            parse("<0>1 - - - - - -"),
            SyslogMessage {
                facility: 0,
                severity: 0,
                timestamp: None,
                hostname: None,
                app_name: None,
                proc_id: None,
                msg_id: None,
                structured_data: None,
                message: "",
                format: SyslogFormat::Rfc5424,
            }
        );
        assert_eq!(parse("<191>1 - - - - - - -\n").message, "-");
    }

    #[test]
    fn rfc5424_access_log_msg() {
        let line = r#"203.0.113.7 - - [01/Mar/2026:10:00:00 +0000] "GET /cart?id=[1] HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11)""#;
        let frame = format!("<134>1 2026-03-01T10:00:00Z web01 nginx 812 access - {line}\n");
        let m = parse(&frame);
        assert_eq!((m.facility, m.severity), (16, 6));
        assert_eq!(m.timestamp, Some(datetime!(2026-03-01 10:00:00 UTC)));
        assert_eq!((m.hostname, m.app_name, m.proc_id, m.msg_id), (Some("web01"), Some("nginx"), Some("812"), Some("access")));
        assert_eq!(m.message, line);
    }

    #[test]
    fn rfc5424_json_msg() {
        let json = r#"{"event.action":"payment_attempt","payment":{"amount":19.99,"currency":"EUR"},"tags":["a b","c]"]}"#;
        let frame = format!("<14>1 2026-03-01T10:00:00.123+01:00 shop01 checkout 4242 payment - {json}");
        let m = parse(&frame);
        assert_eq!(m.timestamp, Some(datetime!(2026-03-01 10:00:00.123 +01:00)));
        assert_eq!(m.message, json);
        assert_eq!(serde_json::from_str::<serde_json::Value>(m.message).unwrap()["payment"]["currency"], "EUR");
    }

    #[test]
    fn rfc5424_header_errors() {
        let field = |field, expected| SyslogError::InvalidField { field, expected };
        let cases: &[(&str, SyslogError)] = &[
            ("<13>1 ", SyslogError::Truncated { field: "TIMESTAMP" }),
            ("<13>1 2003-13-11T22:14:15Z h a p m -", field("TIMESTAMP", "an RFC 3339 date-time or `-`")),
            ("<13>1 2003-10-11 h a p m -", field("TIMESTAMP", "an RFC 3339 date-time or `-`")),
            ("<13>1 - host", SyslogError::Truncated { field: "APP-NAME" }),
            ("<13>1 -  a p m -", field("HOSTNAME", "printable US-ASCII or `-`")),
            ("<13>1 - h\u{e9} a p m -", field("HOSTNAME", "printable US-ASCII or `-`")),
            ("<13>1 - h a p m", SyslogError::Truncated { field: "STRUCTURED-DATA" }),
            ("<13>1 - h a p m [x", SyslogError::Truncated { field: "STRUCTURED-DATA" }),
            ("<13>1 - h a p m [x a=\"]\"", SyslogError::Truncated { field: "STRUCTURED-DATA" }),
            ("<13>1 - h a p m [x a=\"\\", SyslogError::Truncated { field: "STRUCTURED-DATA" }),
            ("<13>1 - h a p m msg", field("STRUCTURED-DATA", "`-` or `[`")),
            ("<13>1 - h a p m [x]msg", field("STRUCTURED-DATA", "`-` or `[...]` elements followed by a space or the end")),
            ("<13>1 - h a p m -msg", field("STRUCTURED-DATA", "`-` or `[...]` elements followed by a space or the end")),
        ];
        for (frame, expected) in cases {
            assert_eq!(&err(frame.as_bytes()), expected, "{frame}");
        }
    }

    #[test]
    fn priority_and_frame_errors() {
        for frame in ["<192>1 - - - - - -", "<>x", "<1a>x", "<1234>x", "<", "<-1>x", "<13 x"] {
            assert_eq!(err(frame.as_bytes()), SyslogError::InvalidPriority, "{frame}");
        }
        assert_eq!(err(b""), SyslogError::Empty);
        assert_eq!(err(b"\r\n\0"), SyslogError::Empty);
        assert_eq!(err(b"<13>1 - - - - - - caf\xc3"), SyslogError::InvalidUtf8);
        assert_eq!(err(b"\xff<13>x"), SyslogError::InvalidUtf8);
        assert_eq!(parse("<007>x").severity, 7);
        assert_eq!((parse("<191>x").facility, parse("<191>x").severity), (23, 7));
    }

    #[test]
    fn error_messages_do_not_quote_the_frame() {
        assert_eq!(SyslogError::InvalidPriority.to_string(), "expected a priority `<0>` to `<191>` at the start of the syslog frame");
        assert_eq!(SyslogError::Truncated { field: "APP-NAME" }.to_string(), "the RFC 5424 header ends before APP-NAME");
        for frame in ["<999>secret", "<13>1 secret h a p m -", "<13>1 - secret a p m secret", "<13>1 - h a p m [secret"] {
            assert!(!err(frame.as_bytes()).to_string().contains("secret"), "{frame}");
        }
        assert_eq!(
            FrameError::Truncated { expected: 10, received: 3 }.to_string(),
            "the stream ended after 3 of the 10 bytes an octet-counted syslog frame announced"
        );
    }

    #[test]
    fn rfc3164_example_1() {
        assert_eq!(
            parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"),
            SyslogMessage {
                facility: 4,
                severity: 2,
                timestamp: Some(datetime!(2025-10-11 22:14:15 UTC)),
                hostname: Some("mymachine"),
                app_name: Some("su"),
                proc_id: None,
                msg_id: None,
                structured_data: None,
                message: "'su root' failed for lonvick on /dev/pts/8",
                format: SyslogFormat::Rfc3164,
            }
        );
    }

    #[test]
    fn rfc3164_example_2_ip_host_no_tag() {
        let m = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
        assert_eq!(m.timestamp, Some(datetime!(2026-02-05 17:32:18 UTC)));
        assert_eq!((m.hostname, m.app_name, m.proc_id), (Some("10.0.0.99"), None, None));
        assert_eq!(m.message, "Use the BFG!");
    }

    #[test]
    fn rfc3164_example_3_and_4_read_leniently() {
        // The RFC's own reading: "CST" sits where HOSTNAME goes.
        let m = parse("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.");
        assert_eq!(m.timestamp, Some(datetime!(2025-08-24 05:34:00 UTC)));
        assert_eq!((m.hostname, m.app_name), (Some("CST"), None));
        assert_eq!(m.message, "1987 mymachine myproc[10]: %% It's time to make the do-nuts.");
        let m = parse("<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!");
        assert_eq!((m.timestamp, m.hostname, m.app_name), (None, None, None));
        assert_eq!(m.message, "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!");
        assert_eq!(m.format, SyslogFormat::Rfc3164);
    }

    #[test]
    fn rfc3164_tags_and_pids() {
        let m = parse("<30>Mar  3 04:05:06 web01 sshd[4242]: Accepted publickey for deploy");
        assert_eq!(m.timestamp, Some(datetime!(2026-03-03 04:05:06 UTC)));
        assert_eq!((m.hostname, m.app_name, m.proc_id), (Some("web01"), Some("sshd"), Some("4242")));
        assert_eq!(m.message, "Accepted publickey for deploy");

        let m = parse("<30>Mar 3 04:05:06 web01 postfix/smtpd[77] connect from unknown");
        assert_eq!(m.timestamp, Some(datetime!(2026-03-03 04:05:06 UTC)));
        assert_eq!((m.app_name, m.proc_id, m.message), (Some("postfix/smtpd"), Some("77"), "connect from unknown"));

        let m = parse("<6>Mar 14 23:00:00 kernel: [ 1.0] usb 1-1: new device");
        assert_eq!((m.hostname, m.app_name, m.proc_id), (None, Some("kernel"), None));
        assert_eq!(m.message, "[ 1.0] usb 1-1: new device");

        let m = parse("<6>mar 14 23:00:00 2001:db8::1 app:");
        assert_eq!((m.hostname, m.app_name, m.message), (Some("2001:db8::1"), Some("app"), ""));

        let m = parse("<6>Mar 14 23:00:00 host");
        assert_eq!((m.hostname, m.app_name, m.message), (Some("host"), None, ""));
    }

    #[test]
    fn rfc3164_year_rollover() {
        let at = |frame: &str, now| parse_syslog(frame.as_bytes(), now).unwrap().timestamp;
        let new_year = datetime!(2026-01-01 00:10:00 UTC);
        assert_eq!(at("<13>Dec 31 23:59:00 h t: m", new_year), Some(datetime!(2025-12-31 23:59:00 UTC)));
        assert_eq!(at("<13>Jan  1 00:30:00 h t: m", new_year), Some(datetime!(2026-01-01 00:30:00 UTC)));
        assert_eq!(at("<13>Mar 16 11:00:00 h t: m", NOW), Some(datetime!(2026-03-16 11:00:00 UTC)));
        assert_eq!(at("<13>Mar 16 13:00:00 h t: m", NOW), Some(datetime!(2025-03-16 13:00:00 UTC)));
        // February 29 read in a year without one belongs to the last leap year, if that was the year before.
        assert_eq!(at("<13>Feb 29 12:00:00 h t: m", datetime!(2025-03-01 00:00:00 UTC)), Some(datetime!(2024-02-29 12:00:00 UTC)));
        assert_eq!(at("<13>Feb 29 12:00:00 h t: m", datetime!(2027-03-01 00:00:00 UTC)), None);
        // The sender's zone is unknown: the time is read in `now`'s offset.
        assert_eq!(at("<13>Mar  1 08:00:00 h t: m", datetime!(2026-03-15 12:00:00 +02:00)), Some(datetime!(2026-03-01 08:00:00 +02:00)));
    }

    #[test]
    fn rfc3164_impossible_or_missing_header() {
        let m = parse("<13>Feb 30 25:00:00 host app: text");
        assert_eq!((m.timestamp, m.hostname, m.app_name, m.message), (None, Some("host"), Some("app"), "text"));
        let m = parse("<13>hello world: text");
        assert_eq!((m.timestamp, m.hostname, m.app_name, m.message), (None, None, None, "hello world: text"));
        let m = parse("<13>Oct 11 22:14:15x host");
        assert_eq!((m.timestamp, m.hostname, m.message), (None, None, "Oct 11 22:14:15x host"));
        let m = parse("<13>2 2003-10-11T22:14:15Z h a p m - msg");
        assert_eq!((m.format, m.timestamp, m.message), (SyslogFormat::Rfc3164, None, "2 2003-10-11T22:14:15Z h a p m - msg"));
        assert_eq!(parse("<13>\u{feff}text").message, "text");
    }

    #[test]
    fn rfc3164_with_rfc3339_timestamp() {
        let m = parse("<86>2026-03-01T10:00:00.5+01:00 web01 sudo[9]: deploy : COMMAND=/bin/true");
        assert_eq!(m.timestamp, Some(datetime!(2026-03-01 10:00:00.5 +01:00)));
        assert_eq!((m.hostname, m.app_name, m.proc_id), (Some("web01"), Some("sudo"), Some("9")));
        assert_eq!(m.message, "deploy : COMMAND=/bin/true");
    }

    #[test]
    fn missing_pri_defaults_to_user_notice() {
        let m = parse("Oct 11 22:14:15 mymachine su: hi");
        assert_eq!((m.facility, m.severity, m.format), (1, 5, SyslogFormat::Rfc3164));
        assert_eq!((m.hostname, m.app_name, m.message), (Some("mymachine"), Some("su"), "hi"));
        let m = parse("1 2003-10-11T22:14:15Z h a p m - msg");
        assert_eq!((m.facility, m.severity, m.timestamp, m.message), (1, 5, None, "1 2003-10-11T22:14:15Z h a p m - msg"));
    }

    type Decoded = Vec<Result<Vec<u8>, FrameError>>;

    /// Pushes `stream` in chunks cycling through `chunks` (0 counts as 1), draining after each push.
    fn decode(max_frame: usize, stream: &[u8], chunks: &[usize]) -> Decoded {
        let mut dec = FrameDecoder::new(max_frame);
        let mut out = Vec::new();
        let mut rest = stream;
        for &n in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(n.clamp(1, rest.len()));
            rest = tail;
            dec.push(chunk);
            while let Some(frame) = dec.next_frame() {
                out.push(frame.map(<[u8]>::to_vec));
            }
        }
        while let Some(frame) = dec.finish() {
            out.push(frame.map(<[u8]>::to_vec));
        }
        out
    }

    /// The same stream fed whole, byte by byte and in uneven chunks.
    fn decode_all_ways(max_frame: usize, stream: &[u8]) -> Decoded {
        let whole = decode(max_frame, stream, &[usize::MAX]);
        assert_eq!(decode(max_frame, stream, &[1]), whole, "byte by byte");
        assert_eq!(decode(max_frame, stream, &[3, 1, 7, 2, 13, 5]), whole, "uneven chunks");
        assert_eq!(decode(max_frame, stream, &[64, 9]), whole, "larger chunks");
        whole
    }

    fn frames(list: &[&[u8]]) -> Decoded {
        list.iter().map(|f| Ok(f.to_vec())).collect()
    }

    #[test]
    fn mixed_framing() {
        let stream = b"18 <13>1 - - - - - a\n<13>b\n\n10 two\nlines!<14>c\r\n0 zero\n\r\n2026-03-01 d\n5 <1>e\n\x00<13>f\x00<13>g";
        assert_eq!(
            decode_all_ways(64, stream),
            frames(&[
                b"<13>1 - - - - - a\n",
                b"<13>b",
                b"two\nlines!",
                b"<14>c",
                b"0 zero",
                b"2026-03-01 d",
                b"<1>e\n",
                b"<13>f",
                b"<13>g"
            ])
        );
    }

    #[test]
    fn crlf_nul_and_trailing_frames() {
        assert_eq!(decode_all_ways(8, b"a\r\nb\0c\n\r\r\nd\r"), frames(&[b"a", b"b", b"c", b"\r", b"d"]));
        assert_eq!(decode_all_ways(8, b"123"), frames(&[b"123"]));
        assert_eq!(decode_all_ways(64, b"12345678901234567890 x\n"), frames(&[b"12345678901234567890 x"]));
        assert_eq!(decode_all_ways(64, b"ok\n10 abc"), vec![Ok(b"ok".to_vec()), Err(FrameError::Truncated { expected: 10, received: 3 })]);
    }

    #[test]
    fn oversize_line_resyncs_at_next_lf() {
        let mut stream = b"short\n".to_vec();
        stream.extend_from_slice(&[b'x'; 30]);
        stream.extend_from_slice(b"\nok\r\nhello\r\nhello!\r\n12345678\n123456789");
        assert_eq!(
            decode_all_ways(8, &stream),
            vec![
                Ok(b"short".to_vec()),
                Err(FrameError::TooLong { limit: 8 }),
                Ok(b"ok".to_vec()),
                Ok(b"hello".to_vec()),
                Ok(b"hello!".to_vec()),
                Ok(b"12345678".to_vec()),
                Err(FrameError::TooLong { limit: 8 }),
            ]
        );
        assert_eq!(decode_all_ways(5, b"hello!\r\nok\n"), vec![Err(FrameError::TooLong { limit: 5 }), Ok(b"ok".to_vec())]);
    }

    #[test]
    fn oversize_octet_frame_skips_announced_bytes() {
        let mut stream = b"30 ".to_vec();
        stream.extend_from_slice(&[b'\n'; 30]);
        stream.extend_from_slice(b"5 hello9999999999999999999 x");
        assert_eq!(
            decode_all_ways(8, &stream),
            vec![Err(FrameError::TooLong { limit: 8 }), Ok(b"hello".to_vec()), Err(FrameError::TooLong { limit: 8 })]
        );
    }

    #[test]
    fn frames_parse_as_syslog() {
        let mut dec = FrameDecoder::new(1024);
        dec.push(b"<34>Oct 11 22:14:15 mymachine su: hi\n43 <165>1 2003-10-11T22:14:15.003Z h a - - - x");
        let mut messages = Vec::new();
        while let Some(frame) = dec.next_frame() {
            let m = parse_syslog(frame.unwrap(), NOW).unwrap();
            messages.push((m.format, m.hostname.map(str::to_owned), m.message.to_owned()));
        }
        assert_eq!(
            messages,
            vec![
                (SyslogFormat::Rfc3164, Some("mymachine".to_owned()), "hi".to_owned()),
                (SyslogFormat::Rfc5424, Some("h".to_owned()), "x".to_owned())
            ]
        );
    }

    #[test]
    fn memory_stays_bounded_by_max_frame() {
        let mut dec = FrameDecoder::new(100);
        let mut errors = Vec::new();
        for _ in 0..1000 {
            dec.push(&[b'x'; 100]);
            assert!(dec.buffered() <= 200, "{}", dec.buffered());
            while let Some(frame) = dec.next_frame() {
                errors.push(frame.unwrap_err());
            }
            assert!(dec.buffered() <= 100, "{}", dec.buffered());
        }
        assert_eq!(errors, vec![FrameError::TooLong { limit: 100 }]);
        dec.push(b"\nok\n");
        assert_eq!(dec.next_frame(), Some(Ok(&b"ok"[..])));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_syslog(&bytes, NOW);
        }

        #[test]
        fn parse_never_panics_on_syslog_like_text(
            prefix in "(<[0-9]{1,3}>)?(1 )?",
            text in "[<>0-9a-zA-Z :.\\[\\]\"\\\\-]{0,60}",
        ) {
            let _ = parse_syslog(format!("{prefix}{text}").as_bytes(), NOW);
            let _ = parse_syslog(format!("{prefix}Mar  1 10:00:00 {text}").as_bytes(), NOW);
            let _ = parse_syslog(format!("<13>1 - h a p m [{text}").as_bytes(), NOW);
        }

        #[test]
        fn decoder_never_panics_and_stays_bounded(
            max_frame in 0usize..64,
            bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b' '), b'0'..=b'9'], 0..600),
            chunks in proptest::collection::vec(1usize..64, 1..16),
        ) {
            let mut dec = FrameDecoder::new(max_frame);
            let mut rest = &bytes[..];
            for &n in chunks.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (chunk, tail) = rest.split_at(n.min(max_frame.max(1)).min(rest.len()));
                rest = tail;
                dec.push(chunk);
                prop_assert!(dec.buffered() <= 2 * max_frame.max(1) + MAX_LEN_DIGITS + 1, "{} buffered", dec.buffered());
                while let Some(frame) = dec.next_frame() {
                    if let Ok(frame) = frame {
                        prop_assert!(!frame.is_empty() && frame.len() <= max_frame);
                    }
                }
            }
            while dec.finish().is_some() {}
        }

        #[test]
        fn octet_counting_round_trips(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..80), 0..20),
            chunks in proptest::collection::vec(1usize..200, 1..8),
        ) {
            let mut stream = Vec::new();
            for m in &messages {
                stream.extend_from_slice(format!("{} ", m.len()).as_bytes());
                stream.extend_from_slice(m);
            }
            let expected: Decoded = messages.into_iter().map(Ok).collect();
            prop_assert_eq!(decode(80, &stream, &chunks), expected);
        }
    }
}
