//! Web server access logs: `combined`, `common`, `nginx-json` and custom nginx `log_format`s.

mod field_source;
mod format;
mod json;
mod record;

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};
use thiserror::Error;

use rampart_model::fields;

use crate::client_ip::{ClientIpResolver, ClientIpSource};

pub use format::{BUILTIN_FORMATS, LogFormat, TRUTH_FORMAT, Variable};
pub use json::{parse_json_line, record_from_json};
pub use record::{AccessRecord, LineError, OtherValue};

/// `event.dataset` of events read from access logs.
pub const ACCESS_LOG_DATASET: &str = "access_log";

/// A log format that cannot be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessLogError {
    /// The `log_format` string cannot be compiled.
    #[error("log format `{name}`: {reason}")]
    InvalidFormat {
        /// The format's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A configured format reuses a built-in or another format's name, or is badly named.
    #[error(
        "log format name `{0}` is taken or invalid: use letters, digits, `-` and `_`, other than jsonl, ndjson, nginx-json, auto and the built-in names"
    )]
    BadName(String),
}

/// How the lines of a body or file are read.
#[derive(Debug, Clone)]
pub enum LineFormat {
    /// One Rampart event (JSON object) a line: NDJSON.
    Events,
    /// A JSON `log_format`: one object a line with nginx variable names as keys.
    NginxJson,
    /// A text `log_format`.
    Text(Arc<LogFormat>),
}

impl LineFormat {
    /// The name it is selected by.
    pub fn name(&self) -> &str {
        match self {
            LineFormat::Events => "jsonl",
            LineFormat::NginxJson => "nginx-json",
            LineFormat::Text(format) => format.name(),
        }
    }
}

/// The formats a deployment knows: the built-ins and those named in `rampart.toml`, compiled once.
#[derive(Debug, Clone)]
pub struct LogFormats {
    builtin: Vec<Arc<LogFormat>>,
    custom: Vec<Arc<LogFormat>>,
}

impl Default for LogFormats {
    /// The built-in formats only.
    fn default() -> Self {
        let builtin = BUILTIN_FORMATS.iter().filter_map(|(name, _, _)| LogFormat::builtin(name)).map(Arc::new).collect();
        LogFormats { builtin, custom: Vec::new() }
    }
}

const RESERVED_NAMES: &[&str] = &["jsonl", "ndjson", "nginx-json", "auto"];

impl LogFormats {
    /// The built-ins plus custom formats given as (name, nginx `log_format` string).
    pub fn new(custom: impl IntoIterator<Item = (String, String)>) -> Result<LogFormats, AccessLogError> {
        let mut formats = LogFormats::default();
        for (name, text) in custom {
            let valid_name =
                !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_name || formats.get(&name).is_some() {
                return Err(AccessLogError::BadName(name));
            }
            formats.custom.push(Arc::new(LogFormat::compile(&name, &text)?));
        }
        Ok(formats)
    }

    /// The format called `name`: `jsonl` (or `ndjson`), `nginx-json`, a built-in text format, or
    /// a configured one.
    pub fn get(&self, name: &str) -> Option<LineFormat> {
        match name {
            "jsonl" | "ndjson" => return Some(LineFormat::Events),
            "nginx-json" => return Some(LineFormat::NginxJson),
            _ => {}
        }
        self.builtin.iter().chain(&self.custom).find(|f| f.name() == name).map(|f| LineFormat::Text(Arc::clone(f)))
    }

    /// Every name [`LogFormats::get`] answers, for messages.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = RESERVED_NAMES.iter().filter(|n| **n != "auto" && **n != "ndjson").map(|n| (*n).to_owned()).collect();
        names.extend(BUILTIN_FORMATS.iter().map(|(n, _, _)| (*n).to_owned()));
        names.extend(self.custom.iter().map(|f| f.name().to_owned()));
        names
    }

    /// Guesses the format of a file from its first lines: JSON lines are `nginx-json` when
    /// their keys are nginx variables and events otherwise; text lines take the first format
    /// (configured ones first, then `combined`, `common`) that reads them all. It never answers
    /// [`TRUTH_FORMAT`]: a production line ending in an extra quoted field (`"$http_x_forwarded_for"`)
    /// would have that field read as a ground-truth label. Generated files are named by the caller.
    pub fn detect<'l>(&self, lines: impl IntoIterator<Item = &'l str>) -> Option<LineFormat> {
        let lines: Vec<&str> = lines.into_iter().map(str::trim_end).filter(|l| !l.is_empty()).take(20).collect();
        let first = lines.first()?;
        if first.starts_with('{') {
            return Some(json_kind(first));
        }
        self.text_candidates()
            .find(|format| lines.iter().all(|line| format.parse_line(line).is_ok()))
            .map(|f| LineFormat::Text(Arc::clone(f)))
    }

    /// The format of one line on its own (syslog messages may each carry another kind).
    pub fn detect_line(&self, line: &str) -> Option<LineFormat> {
        if line.starts_with('{') {
            return Some(json_kind(line));
        }
        self.text_candidates().find(|format| format.parse_line(line).is_ok()).map(|f| LineFormat::Text(Arc::clone(f)))
    }

    /// Text formats in the order detection tries them (never [`TRUTH_FORMAT`]).
    fn text_candidates(&self) -> impl Iterator<Item = &Arc<LogFormat>> {
        let builtin = ["combined", "common"].into_iter().filter_map(|name| self.builtin.iter().find(|f| f.name() == name));
        self.custom.iter().chain(builtin)
    }
}

/// A JSON line is an nginx `log_format` when it has nginx variables as keys, else an event.
fn json_kind(line: &str) -> LineFormat {
    let Ok(map) = parse_json_line(line) else { return LineFormat::Events };
    let nginx =
        ["remote_addr", "request", "time_local", "time_iso8601", "status", "$remote_addr", "$request"].iter().any(|k| map.contains_key(*k));
    if nginx { LineFormat::NginxJson } else { LineFormat::Events }
}

impl<'a> AccessRecord<'a> {
    /// Fills `source_ip` and `proxy_ip`: the peer, or the client a trusted proxy logged.
    pub fn resolve_client(&mut self, resolver: &ClientIpResolver) {
        let Some(peer) = self.remote_addr.and_then(|a| a.parse::<IpAddr>().ok()) else { return };
        let others = self.others;
        let resolved = resolver
            .resolve(peer, |source| others.iter().find(|(name, _)| is_log_variable_of(source, name)).and_then(|(_, value)| value.as_str()));
        self.source_ip = Some(resolved.client);
        self.proxy_ip = resolved.proxy;
    }

    /// The event's fields, dotted, per docs/fields.md ("Web request").
    pub fn to_fields(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let mut put = |key: &str, value: Value| {
            map.insert(key.to_owned(), value);
        };
        let text = |s: &str| Value::String(s.to_owned());
        if let Some(ms) = self.timestamp_ms
            && let Ok(time) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        {
            put(fields::TIMESTAMP, text(&rampart_model::format_timestamp(time)));
        }
        put(fields::EVENT_KIND, text("event"));
        put(fields::EVENT_CATEGORY, Value::Array(vec![text("web")]));
        put(fields::EVENT_TYPE, Value::Array(vec![text("access")]));
        put(fields::EVENT_ACTION, text("web_request"));
        put(fields::EVENT_DATASET, text(ACCESS_LOG_DATASET));
        put(fields::EVENT_ORIGINAL, text(self.line));
        if let Some(status) = self.status {
            put(fields::EVENT_OUTCOME, text(if status < 400 { "success" } else { "failure" }));
            put(fields::HTTP_STATUS, Value::from(status));
        }
        match (self.source_ip, self.remote_addr) {
            (Some(ip), _) => put(fields::SOURCE_IP, text(&ip.to_string())),
            (None, Some(address)) => put("source.address", text(address)),
            (None, None) => {}
        }
        if let Some(proxy) = self.proxy_ip {
            put(fields::CLIENT_IP, text(&proxy.to_string()));
        } else if let Some(port) = self.remote_port {
            put(fields::SOURCE_PORT, Value::from(port));
        }
        let strings = [
            (fields::USER_NAME, self.remote_user),
            (fields::HTTP_METHOD, self.method),
            (fields::URL_ORIGINAL, self.target),
            (fields::URL_PATH, self.path),
            (fields::URL_QUERY, self.query),
            (fields::URL_DOMAIN, self.domain),
            ("http.version", self.http_version),
            (fields::HTTP_REFERRER, self.referrer),
            (fields::USER_AGENT, self.user_agent),
            (fields::RAMPART_TRUTH, self.truth),
        ];
        for (key, value) in strings {
            if let Some(value) = value {
                put(key, text(value));
            }
        }
        if let Some(bytes) = self.response_bytes {
            put(fields::HTTP_RESPONSE_BYTES, Value::from(bytes));
        }
        if let Some(bytes) = self.request_bytes {
            put("http.request.bytes", Value::from(bytes));
        }
        for (name, value) in self.others() {
            let value = match value {
                OtherValue::Text(s) => text(s),
                OtherValue::Json(v) => v.clone(),
            };
            put(&format!("nginx.{name}"), value);
        }
        map
    }
}

/// Whether log variable `name` carries `source` (`http_x_forwarded_for` for `X-Forwarded-For`),
/// compared without allocating.
fn is_log_variable_of(source: &ClientIpSource, name: &str) -> bool {
    let header = match source {
        ClientIpSource::LogField(field) => return field == name,
        ClientIpSource::XForwardedFor => "x-forwarded-for",
        ClientIpSource::Forwarded => "forwarded",
        ClientIpSource::Header(header) => header,
    };
    name.strip_prefix("http_").is_some_and(|rest| {
        rest.len() == header.len() && rest.bytes().zip(header.bytes()).all(|(a, b)| a == if b == b'-' { b'_' } else { b })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_and_names() {
        let formats = LogFormats::new([("main".to_owned(), "$remote_addr [$time_local] $status".to_owned())]).unwrap();
        assert!(matches!(formats.get("jsonl"), Some(LineFormat::Events)));
        assert!(matches!(formats.get("nginx-json"), Some(LineFormat::NginxJson)));
        assert_eq!(formats.get("combined").unwrap().name(), "combined");
        assert_eq!(formats.get("main").unwrap().name(), "main");
        assert!(formats.get("nope").is_none());
        assert!(formats.names().contains(&"main".to_owned()));
        assert!(matches!(LogFormats::new([("combined".to_owned(), "$status".to_owned())]), Err(AccessLogError::BadName(_))));
        assert!(matches!(LogFormats::new([("a b".to_owned(), "$status".to_owned())]), Err(AccessLogError::BadName(_))));
        assert!(matches!(LogFormats::new([("x".to_owned(), "$a$b".to_owned())]), Err(AccessLogError::InvalidFormat { .. })));
    }

    #[test]
    fn detection() {
        let formats = LogFormats::default();
        let combined = r#"1.2.3.4 - - [22/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8""#;
        let common = r#"1.2.3.4 - - [22/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1"#;
        let truth = r#"1.2.3.4 - - [22/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8" "sqli""#;
        assert_eq!(formats.detect([combined, combined]).unwrap().name(), "combined");
        assert_eq!(formats.detect([common]).unwrap().name(), "common");
        assert_eq!(formats.detect([truth, "", truth]).unwrap().name(), "combined");
        assert_eq!(formats.detect([r#"{"remote_addr":"1.2.3.4","status":200}"#]).unwrap().name(), "nginx-json");
        assert_eq!(formats.detect([r#"{"event.action":"login"}"#]).unwrap().name(), "jsonl");
        assert!(formats.detect(["garbage"]).is_none());
        assert!(formats.detect(Vec::<&str>::new()).is_none());
        assert_eq!(formats.detect_line(common).unwrap().name(), "common");
        assert_eq!(formats.detect_line(r#"{"request":"GET / HTTP/1.1"}"#).unwrap().name(), "nginx-json");
        assert!(formats.detect_line("<34>garbage").is_none());
    }

    #[test]
    fn issue_12_auto_detection_never_reads_ground_truth() {
        let formats = LogFormats::default();
        // A production line with "$http_x_forwarded_for" appended, and a generated one.
        let forwarded = r#"10.0.0.5 - - [22/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8" "203.0.113.9""#;
        let generated = r#"1.2.3.4 - - [22/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8" "sql_injection""#;
        for line in [forwarded, generated] {
            let detected = formats.detect([line]).unwrap();
            assert_eq!(detected.name(), "combined");
            assert_eq!(formats.detect_line(line).unwrap().name(), "combined");
            let LineFormat::Text(format) = detected else { panic!("a text format") };
            let record = format.parse_line(line).unwrap();
            assert_eq!(record.truth, None);
            assert!(!record.to_fields().contains_key("rampart.truth"), "{line}");
        }
        // Asked for by name, combined-truth still reads the label.
        let LineFormat::Text(truth) = formats.get(TRUTH_FORMAT).unwrap() else { panic!("a text format") };
        assert_eq!(truth.parse_line(generated).unwrap().to_fields()["rampart.truth"], "sql_injection");
        // nginx-json and custom formats keep the variable as an ordinary nginx field.
        let json = parse_json_line(r#"{"remote_addr":"1.2.3.4","status":200,"rampart_truth":"xss"}"#).unwrap();
        let record = record_from_json(r#"{"remote_addr":"1.2.3.4","status":200,"rampart_truth":"xss"}"#, &json).unwrap();
        assert_eq!(record.truth, None);
        assert_eq!(record.to_fields()["nginx.rampart_truth"], "xss");
        let custom = LogFormats::new([("mine".to_owned(), "$remote_addr $status $rampart_truth".to_owned())]).unwrap();
        let LineFormat::Text(mine) = custom.get("mine").unwrap() else { panic!("a text format") };
        let fields = mine.parse_line("1.2.3.4 200 xss").unwrap().to_fields();
        assert_eq!((fields.get("rampart.truth"), &fields["nginx.rampart_truth"]), (None, &Value::from("xss")));
    }

    #[test]
    fn proxies_and_event_fields() {
        let format =
            LogFormat::compile("cdn", r#"$remote_addr [$time_local] "$request" $status "$http_x_forwarded_for" "$http_cf_connecting_ip""#)
                .unwrap();
        let resolver = ClientIpResolver::new(
            vec!["10.0.0.0/8".parse().unwrap()],
            vec![ClientIpSource::parse("cf-connecting-ip").unwrap(), ClientIpSource::XForwardedFor],
        );
        let line = r#"10.0.0.5 [22/Nov/2026:10:00:03 +0000] "POST /login?next=%2F HTTP/1.1" 401 "203.0.113.9, 10.0.0.9" "-""#;
        let mut record = format.parse_line(line).unwrap();
        record.resolve_client(&resolver);
        assert_eq!(record.source_ip, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(record.proxy_ip, Some("10.0.0.5".parse().unwrap()));
        let fields = record.to_fields();
        assert_eq!(fields["source.ip"], "203.0.113.9");
        assert_eq!(fields["client.ip"], "10.0.0.5");
        assert_eq!(fields["event.outcome"], "failure");
        assert_eq!(fields["url.query"], "next=%2F");
        assert_eq!(fields["nginx.http_x_forwarded_for"], "203.0.113.9, 10.0.0.9");
        assert_eq!(fields["@timestamp"], "2026-11-22T10:00:03.000Z");
        // The same line from an untrusted peer keeps the peer.
        let spoofed = line.replacen("10.0.0.5", "198.51.100.3", 1);
        let mut record = format.parse_line(&spoofed).unwrap();
        record.resolve_client(&resolver);
        assert_eq!((record.source_ip, record.proxy_ip), (Some("198.51.100.3".parse().unwrap()), None));
    }

    #[test]
    fn log_variable_names() {
        assert!(is_log_variable_of(&ClientIpSource::XForwardedFor, "http_x_forwarded_for"));
        assert!(is_log_variable_of(&ClientIpSource::Header("true-client-ip".into()), "http_true_client_ip"));
        assert!(!is_log_variable_of(&ClientIpSource::Forwarded, "http_x_forwarded_for"));
        assert!(is_log_variable_of(&ClientIpSource::LogField("realip".into()), "realip"));
    }
}
