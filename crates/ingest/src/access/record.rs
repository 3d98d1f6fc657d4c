//! One access-log line split by its format into typed values that borrow from the line.

use std::net::IpAddr;

use crate::access::format::{LogFormat, Token, Variable};

/// The most variables outside the mapping table a record keeps (as `nginx.<name>`).
const MAX_OTHERS: usize = 16;

/// A parsed access-log line. Text values borrow from the line (or, for `nginx-json`, from its
/// parsed object), so parsing allocates nothing. Values logged as `-` are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AccessRecord<'a> {
    /// The whole line, for `event.original`.
    pub line: &'a str,
    /// The request time in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
    /// The peer as logged (`$remote_addr`): the client, or the proxy in front of it.
    pub remote_addr: Option<&'a str>,
    /// `$remote_port`.
    pub remote_port: Option<u16>,
    /// The basic-auth user.
    pub remote_user: Option<&'a str>,
    /// The request method.
    pub method: Option<&'a str>,
    /// The request target as sent (`url.original`): path and query, or an absolute URL.
    pub target: Option<&'a str>,
    /// The path part of the target.
    pub path: Option<&'a str>,
    /// The query part of the target, without `?`.
    pub query: Option<&'a str>,
    /// The host: `$host`, or the authority of an absolute-form target.
    pub domain: Option<&'a str>,
    /// `1.1` from `HTTP/1.1`.
    pub http_version: Option<&'a str>,
    /// The response status.
    pub status: Option<u16>,
    /// Bytes of the response body.
    pub response_bytes: Option<u64>,
    /// Bytes of the request (`$request_length`).
    pub request_bytes: Option<u64>,
    /// The `Referer` header.
    pub referrer: Option<&'a str>,
    /// The `User-Agent` header.
    pub user_agent: Option<&'a str>,
    /// `$rampart_truth`: the ground-truth label of generated traffic.
    pub truth: Option<&'a str>,
    /// The client after applying trusted proxies ([`ClientIpResolver`](crate::ClientIpResolver)):
    /// `source.ip`.
    pub source_ip: Option<IpAddr>,
    /// The proxy the request came through, when `source_ip` was taken from a header: `client.ip`.
    pub proxy_ip: Option<IpAddr>,
    pub(crate) others: Others<'a>,
}

/// Values of variables outside the mapping table, by name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Others<'a> {
    items: [(&'a str, OtherValue<'a>); MAX_OTHERS],
    len: usize,
}

/// A value outside the mapping table: text from a line, or a JSON scalar from `nginx-json`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OtherValue<'a> {
    /// Text as logged.
    Text(&'a str),
    /// A JSON value (`nginx-json` logs numbers unquoted).
    Json(&'a serde_json::Value),
}

impl<'a> OtherValue<'a> {
    /// The value as text, when it is text.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            OtherValue::Text(text) => Some(text),
            OtherValue::Json(value) => value.as_str(),
        }
    }
}

impl Default for Others<'_> {
    fn default() -> Self {
        Others { items: [("", OtherValue::Text("")); MAX_OTHERS], len: 0 }
    }
}

impl<'a> Others<'a> {
    /// Keeps a value; beyond the cap the rest are dropped (they stay in `event.original`).
    pub(crate) fn push(&mut self, name: &'a str, value: OtherValue<'a>) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(&'a str, OtherValue<'a>)> {
        self.items[..self.len].iter()
    }
}

impl<'a> AccessRecord<'a> {
    /// A variable outside the mapping table (`http_x_forwarded_for`, `request_time`, ...) by
    /// name, when it was logged as text.
    pub fn other(&self, name: &str) -> Option<&'a str> {
        self.others.iter().find(|(n, _)| *n == name).and_then(|(_, value)| value.as_str())
    }

    /// Every variable outside the mapping table, in format order.
    pub fn others(&self) -> impl Iterator<Item = (&'a str, OtherValue<'a>)> + '_ {
        self.others.iter().copied()
    }
}

/// Why a line does not fit its format. Messages name the format's parts, never the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// What was expected where the line went wrong.
    pub reason: String,
}

impl LineError {
    fn new(reason: impl Into<String>) -> LineError {
        LineError { reason: reason.into() }
    }
}

impl LogFormat {
    /// Splits `line` (without its newline) by this format. Allocates nothing unless the line is
    /// refused.
    pub fn parse_line<'a>(&'a self, line: &'a str) -> Result<AccessRecord<'a>, LineError> {
        let bytes = line.as_bytes();
        let mut record = AccessRecord { line, ..AccessRecord::default() };
        let mut pos = 0;
        for (index, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Literal(literal) => {
                    if !bytes[pos..].starts_with(literal.as_bytes()) {
                        return Err(LineError::new(format!("expected {literal:?} at byte {pos} (format `{}`)", self.name)));
                    }
                    pos += literal.len();
                }
                Token::Variable(variable) => {
                    let end = match self.tokens.get(index + 1) {
                        Some(Token::Literal(next)) => {
                            let quoted = index > 0 && matches!(&self.tokens[index - 1], Token::Literal(l) if l.ends_with('"'));
                            find_literal(bytes, pos, next.as_bytes(), quoted).ok_or_else(|| {
                                LineError::new(format!("the line ends before ${} is closed by {next:?}", variable_name(variable)))
                            })?
                        }
                        // The last variable runs to the end, or to the next space when the
                        // format allows trailing fields.
                        _ if self.allow_trailing => memchr::memchr(b' ', &bytes[pos..]).map_or(bytes.len(), |i| pos + i),
                        _ => bytes.len(),
                    };
                    assign(&mut record, variable, &line[pos..end])?;
                    pos = end;
                }
            }
        }
        if pos < bytes.len() && !self.allow_trailing {
            return Err(LineError::new(format!("unexpected text after the last field at byte {pos} (format `{}`)", self.name)));
        }
        Ok(record)
    }
}

/// The end of a variable's value: where `literal` next occurs. Inside quotes, a `"` escaped with
/// a backslash (Apache writes `\"`) does not end the value.
fn find_literal(bytes: &[u8], from: usize, literal: &[u8], quoted: bool) -> Option<usize> {
    let first = *literal.first()?;
    let mut at = from;
    while let Some(offset) = memchr::memchr(first, &bytes[at..]) {
        let candidate = at + offset;
        let escaped = quoted && first == b'"' && bytes[from..candidate].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1;
        if !escaped && bytes[candidate..].starts_with(literal) {
            return Some(candidate);
        }
        at = candidate + 1;
    }
    None
}

fn variable_name(variable: &Variable) -> &str {
    match variable {
        Variable::RemoteAddr => "remote_addr",
        Variable::RemoteIdent => "remote_ident",
        Variable::RemoteUser => "remote_user",
        Variable::RemotePort => "remote_port",
        Variable::TimeLocal => "time_local",
        Variable::TimeIso8601 => "time_iso8601",
        Variable::Msec => "msec",
        Variable::Request => "request",
        Variable::RequestMethod => "request_method",
        Variable::RequestUri => "request_uri",
        Variable::Uri => "uri",
        Variable::Args => "args",
        Variable::ServerProtocol => "server_protocol",
        Variable::Status => "status",
        Variable::BodyBytesSent => "body_bytes_sent",
        Variable::RequestLength => "request_length",
        Variable::Host => "host",
        Variable::Referer => "http_referer",
        Variable::UserAgent => "http_user_agent",
        Variable::Truth => "rampart_truth",
        Variable::Other(name) => name,
    }
}

/// `None` for nginx's and Apache's placeholder of an empty value.
fn present(value: &str) -> Option<&str> {
    (!value.is_empty() && value != "-").then_some(value)
}

fn assign<'a>(record: &mut AccessRecord<'a>, variable: &'a Variable, value: &'a str) -> Result<(), LineError> {
    let invalid = |expected: &str| LineError::new(format!("${} is not {expected}", variable_name(variable)));
    let Some(value) = present(value) else { return Ok(()) };
    match variable {
        Variable::RemoteAddr => record.remote_addr = Some(value),
        Variable::RemoteIdent => {}
        Variable::RemoteUser => record.remote_user = Some(value),
        Variable::RemotePort => record.remote_port = Some(value.parse().map_err(|_| invalid("a port number"))?),
        Variable::TimeLocal => {
            record.timestamp_ms = Some(parse_time_local(value).ok_or_else(|| invalid("a time like 22/Nov/2026:10:00:03 +0000"))?);
        }
        Variable::TimeIso8601 => {
            let time = rampart_model::parse_rfc3339(value).ok_or_else(|| invalid("an ISO 8601 time"))?;
            record.timestamp_ms = Some(unix_ms(time));
        }
        Variable::Msec => record.timestamp_ms = Some(parse_msec(value).ok_or_else(|| invalid("seconds since 1970 like 1795341603.123"))?),
        Variable::Request => split_request(record, value),
        Variable::RequestMethod => record.method = Some(value),
        Variable::RequestUri => set_target(record, value),
        Variable::Uri => record.path = Some(value),
        Variable::Args => record.query = Some(value),
        Variable::ServerProtocol => record.http_version = value.strip_prefix("HTTP/"),
        Variable::Status => record.status = Some(parse_status(value).ok_or_else(|| invalid("a status code from 100 to 999"))?),
        Variable::BodyBytesSent => record.response_bytes = Some(value.parse().map_err(|_| invalid("a byte count"))?),
        Variable::RequestLength => record.request_bytes = Some(value.parse().map_err(|_| invalid("a byte count"))?),
        Variable::Host => record.domain = Some(value),
        Variable::Referer => record.referrer = Some(value),
        Variable::UserAgent => record.user_agent = Some(value),
        Variable::Truth => record.truth = Some(value),
        Variable::Other(name) => record.others.push(name, OtherValue::Text(value)),
    }
    Ok(())
}

fn parse_status(value: &str) -> Option<u16> {
    let status: u16 = value.parse().ok()?;
    (100..=999).contains(&status).then_some(status)
}

/// `GET /path?query HTTP/1.1` into method, target and version. A request that is not of that
/// shape (TLS bytes sent to a plain port, an empty request) leaves them unset; the line is still
/// an event, since such requests are what scanners send.
pub(crate) fn split_request<'a>(record: &mut AccessRecord<'a>, request: &'a str) {
    let Some((method, rest)) = request.split_once(' ') else { return };
    if method.is_empty() || method.len() > 32 || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_') {
        return;
    }
    record.method = Some(method);
    let target = match rest.rsplit_once(' ') {
        Some((target, version)) if version.starts_with("HTTP/") => {
            record.http_version = Some(&version[5..]);
            target
        }
        _ => rest,
    };
    set_target(record, target);
}

/// Sets `url.original` and splits it into domain, path and query.
pub(crate) fn set_target<'a>(record: &mut AccessRecord<'a>, target: &'a str) {
    if target.is_empty() {
        return;
    }
    record.target = Some(target);
    let mut rest = target;
    for scheme in ["http://", "https://"] {
        if let Some(after) = target.strip_prefix(scheme) {
            let end = after.find(['/', '?']).unwrap_or(after.len());
            record.domain = Some(&after[..end]).filter(|d| !d.is_empty()).or(record.domain);
            rest = &after[end..];
        }
    }
    match rest.split_once('?') {
        Some((path, query)) => {
            record.path = present(path).or(record.path);
            record.query = Some(query).filter(|q| !q.is_empty()).or(record.query);
        }
        None => record.path = present(rest).or(record.path),
    }
}

/// `22/Nov/2026:10:00:03 +0000` → milliseconds since the epoch, for years 1970..2200.
pub(crate) fn parse_time_local(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' || b[20] != b' ' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0')))
    };
    let day = num(0..2)?;
    let month = match &b[3..6] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let year = num(7..11)?;
    let (hour, minute, second) = (num(12..14)?, num(15..17)?, num(18..20)?);
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let offset_minutes = sign * (num(22..24)? * 60 + num(24..26)?);
    if !(1970..2200).contains(&year) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000)
}

/// `1795341603.123` → milliseconds since the epoch.
fn parse_msec(text: &str) -> Option<i64> {
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    if seconds.is_empty()
        || seconds.len() > 10
        || !seconds.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let millis = fraction.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let seconds: i64 = seconds.parse().ok()?;
    (seconds < 7_258_118_400).then_some(seconds * 1000 + millis) // before 2200
}

fn unix_ms(time: time::OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX: &str = r#"203.0.113.7 - - [22/Nov/2026:10:00:03 +0000] "GET /search?q=shoes&page=2 HTTP/1.1" 200 5123 "https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64)""#;

    fn combined() -> LogFormat {
        LogFormat::builtin("combined").unwrap()
    }

    #[test]
    fn nginx_combined() {
        let format = combined();
        let record = format.parse_line(NGINX).unwrap();
        assert_eq!(record.remote_addr, Some("203.0.113.7"));
        assert_eq!(record.remote_user, None);
        assert_eq!(record.timestamp_ms, Some(1_795_341_603_000));
        assert_eq!(record.method, Some("GET"));
        assert_eq!(record.target, Some("/search?q=shoes&page=2"));
        assert_eq!(record.path, Some("/search"));
        assert_eq!(record.query, Some("q=shoes&page=2"));
        assert_eq!(record.http_version, Some("1.1"));
        assert_eq!(record.status, Some(200));
        assert_eq!(record.response_bytes, Some(5123));
        assert_eq!(record.referrer, Some("https://shop.example/"));
        assert_eq!(record.user_agent, Some("Mozilla/5.0 (X11; Linux x86_64)"));
    }

    #[test]
    fn apache_combined_with_ident_escapes_and_trailing_fields() {
        let line = r#"192.0.2.1 ident frank [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.0" 304 - "-" "Mozilla \"x\"" "198.51.100.9""#;
        let format = combined();
        let record = format.parse_line(line).unwrap();
        assert_eq!(record.remote_user, Some("frank"));
        assert_eq!(record.timestamp_ms, Some(971_211_336_000));
        assert_eq!(record.target, Some(r#"/a\"b"#));
        assert_eq!(record.response_bytes, None);
        assert_eq!(record.referrer, None);
        assert_eq!(record.user_agent, Some(r#"Mozilla \"x\""#));
    }

    #[test]
    fn common_format_and_strange_requests() {
        let format = LogFormat::builtin("common").unwrap();
        let record = format.parse_line(r#"198.51.100.4 - - [01/Jan/2026:00:00:00 +0100] "\x16\x03\x01\x02" 400 157"#).unwrap();
        assert_eq!((record.method, record.target, record.status), (None, None, Some(400)));
        assert_eq!(record.timestamp_ms, Some(1_767_222_000_000));
        let record = format.parse_line(r#"198.51.100.4 - - [01/Jan/2026:00:00:00 +0000] "-" 400 0"#).unwrap();
        assert_eq!(record.target, None);
        let record = format
            .parse_line(r#"198.51.100.4 - - [01/Jan/2026:00:00:00 +0000] "GET http://evil.example:8080/x?y=1 HTTP/1.1" 200 1"#)
            .unwrap();
        assert_eq!((record.domain, record.path, record.query), (Some("evil.example:8080"), Some("/x"), Some("y=1")));
        // A combined line parses as common too (its extra fields trail).
        assert_eq!(format.parse_line(NGINX).unwrap().status, Some(200));
    }

    #[test]
    fn custom_format_with_other_variables() {
        let format = LogFormat::compile(
            "main",
            r#"$time_iso8601 $remote_addr:$remote_port "$request" $status $request_time "$http_x_forwarded_for" $host"#,
        )
        .unwrap();
        let line = r#"2026-11-22T10:00:03+00:00 10.0.0.2:443 "POST /login HTTP/2.0" 401 0.004 "203.0.113.9, 10.0.0.1" shop.example"#;
        let record = format.parse_line(line).unwrap();
        assert_eq!(record.timestamp_ms, Some(1_795_341_603_000));
        assert_eq!(record.remote_port, Some(443));
        assert_eq!(record.other("request_time"), Some("0.004"));
        assert_eq!(record.other("http_x_forwarded_for"), Some("203.0.113.9, 10.0.0.1"));
        assert_eq!(record.domain, Some("shop.example"));
        assert_eq!(record.http_version, Some("2.0"));
    }

    #[test]
    fn mismatches_are_explained_without_quoting_the_line() {
        let format = combined();
        for (line, reason) in [
            ("", "the line ends before $remote_addr"),
            ("secret-token-x", "the line ends before $remote_addr"),
            (r#"1.2.3.4 - - [22/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" abc 1 "-" "-""#, "$status is not a status code"),
            (r#"1.2.3.4 - - [32/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#, "$time_local is not a time"),
            (r#"1.2.3.4 - - [22/Nov/1900:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#, "$time_local is not a time"),
            (r#"1.2.3.4 - - [22/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-"#, "the line ends before $http_referer"),
        ] {
            let error = format.parse_line(line).unwrap_err();
            assert!(error.reason.contains(reason), "{line}: {}", error.reason);
            assert!(!error.reason.contains("secret"), "{}", error.reason);
        }
        let strict = LogFormat::compile("strict", "$remote_addr [$status]").unwrap();
        assert!(strict.parse_line("1.2.3.4 [200] extra").unwrap_err().reason.contains("unexpected text"));
    }

    #[test]
    fn time_parsing() {
        assert_eq!(parse_time_local("01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(parse_time_local("29/Feb/2024:23:59:59 -0130"), Some((days_from_civil(2024, 2, 29) * 86_400 + 86_399 + 5400) * 1000));
        assert_eq!(parse_time_local("29/Feb/2025:00:00:00 +0000"), None);
        assert_eq!(parse_time_local("22/Foo/2026:10:00:03 +0000"), None);
        assert_eq!(parse_time_local("22/Nov/2026:24:00:03 +0000"), None);
        assert_eq!(parse_msec("1795341603.1"), Some(1_795_341_603_100));
        assert_eq!(parse_msec("99999999999"), None);
        assert_eq!(parse_msec("1.x"), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(line in "\\PC{0,200}") {
            let _ = combined().parse_line(&line);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let line = String::from_utf8_lossy(&bytes);
            let _ = combined().parse_line(&line);
            let _ = LogFormat::compile("f", &line);
        }

        #[test]
        fn combined_lines_round_trip(
            ip in "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
            path in "/[a-z0-9/._-]{0,30}",
            query in "[a-z0-9=&%]{0,30}",
            status in 100u16..1000,
            bytes in 0u64..10_000_000,
            agent in "[ -!#-\\[\\]-~]{1,60}",
        ) {
            let line = format!(r#"{ip} - - [22/Nov/2026:10:00:03 +0000] "GET {path}?{query} HTTP/1.1" {status} {bytes} "-" "{agent}""#);
            let format = combined();
            let record = format.parse_line(&line).unwrap();
            proptest::prop_assert_eq!(record.remote_addr, Some(ip.as_str()));
            proptest::prop_assert_eq!(record.status, Some(status));
            proptest::prop_assert_eq!(record.response_bytes, Some(bytes));
            proptest::prop_assert_eq!(record.path, Some(path.as_str()));
            proptest::prop_assert_eq!(record.user_agent, present(&agent));
        }
    }
}
