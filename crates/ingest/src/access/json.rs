//! `nginx-json`: access logs written by a JSON `log_format` (`escape=json`), one object a line.

use serde_json::{Map, Value};

use crate::access::record::{AccessRecord, LineError, OtherValue, parse_time_local, set_target, split_request};
use crate::error::json_category;

/// Parses one `nginx-json` line into its object. Keys are nginx variable names (`remote_addr`,
/// `request`, `status`, ...), optionally with a leading `$`, or common aliases (`time`, `ip`,
/// `method`, `uri`, `user_agent`, `referer`); see [`record_from_json`].
pub fn parse_json_line(line: &str) -> Result<Map<String, Value>, LineError> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(LineError { reason: "an nginx-json line must be a JSON object".into() }),
        Err(error) => Err(LineError { reason: format!("not JSON: {} at column {}", json_category(&error), error.column()) }),
    }
}

/// Maps an `nginx-json` object onto a record borrowing from it. Unknown keys are kept as
/// `nginx.<key>`; values of the wrong type for a known key are refused.
pub fn record_from_json<'a>(line: &'a str, map: &'a Map<String, Value>) -> Result<AccessRecord<'a>, LineError> {
    let mut record = AccessRecord { line, ..AccessRecord::default() };
    let mut request = None;
    let mut request_uri = None;
    for (key, value) in map {
        let name = key.strip_prefix('$').unwrap_or(key);
        let invalid = |expected: &str| LineError { reason: format!("key `{name}` is not {expected}") };
        let text = || -> Result<Option<&'a str>, LineError> {
            match value {
                Value::String(s) if s.is_empty() || s == "-" => Ok(None),
                Value::String(s) => Ok(Some(s.as_str())),
                Value::Null => Ok(None),
                _ => Err(invalid("a string")),
            }
        };
        let number = || -> Result<Option<u64>, LineError> {
            match value {
                Value::Number(n) => n.as_u64().map(Some).ok_or_else(|| invalid("a whole number")),
                Value::String(s) if s.is_empty() || s == "-" => Ok(None),
                Value::String(s) => s.parse().map(Some).map_err(|_| invalid("a whole number")),
                Value::Null => Ok(None),
                _ => Err(invalid("a whole number")),
            }
        };
        match name {
            "remote_addr" | "ip" | "client_ip" | "remote_ip" => record.remote_addr = text()?,
            "remote_user" => record.remote_user = text()?,
            "remote_port" => record.remote_port = number()?.map(|p| u16::try_from(p).map_err(|_| invalid("a port number"))).transpose()?,
            "time_local" => {
                record.timestamp_ms =
                    text()?.map(|t| parse_time_local(t).ok_or_else(|| invalid("a time like 22/Nov/2026:10:00:03 +0000"))).transpose()?;
            }
            "time_iso8601" | "time" | "timestamp" | "@timestamp" => {
                record.timestamp_ms = text()?
                    .map(|t| {
                        rampart_model::parse_rfc3339(t)
                            .map(|time| i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                            .ok_or_else(|| invalid("an ISO 8601 time"))
                    })
                    .transpose()?;
            }
            "msec" => {
                let seconds = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.parse::<f64>().ok(),
                    _ => None,
                };
                let ms = seconds.filter(|s| (0.0..7_258_118_400.0).contains(s)).ok_or_else(|| invalid("seconds since 1970"))?;
                #[allow(clippy::cast_possible_truncation)] // range checked above
                let ms = (ms * 1000.0).round() as i64;
                record.timestamp_ms = Some(ms);
            }
            "request" => request = text()?,
            "request_method" | "method" => record.method = text()?,
            "request_uri" | "url" => request_uri = text()?,
            "uri" | "path" | "document_uri" => record.path = text()?,
            "args" | "query_string" | "query" => record.query = text()?,
            "server_protocol" | "protocol" => record.http_version = text()?.map(|p| p.strip_prefix("HTTP/").unwrap_or(p)),
            "status" => {
                record.status = number()?
                    .map(|s| u16::try_from(s).ok().filter(|s| (100..=999).contains(s)).ok_or_else(|| invalid("a status code")))
                    .transpose()?;
            }
            "body_bytes_sent" | "bytes_sent" => record.response_bytes = number()?,
            "request_length" => record.request_bytes = number()?,
            "host" | "http_host" | "server_name" => record.domain = text()?,
            "http_referer" | "referer" | "referrer" => record.referrer = text()?,
            "http_user_agent" | "user_agent" => record.user_agent = text()?,
            _ => record.others.push(name, OtherValue::Json(value)),
        }
    }
    // `$request` holds method, target and version; separate keys win where both are logged.
    let (method, path, query, version) = (record.method, record.path, record.query, record.http_version);
    if let Some(request) = request {
        split_request(&mut record, request);
    }
    if let Some(uri) = request_uri {
        set_target(&mut record, uri);
    }
    record.method = method.or(record.method);
    record.path = path.or(record.path);
    record.query = query.or(record.query);
    record.http_version = version.or(record.http_version);
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_json_lines() {
        let line = r#"{"time_iso8601":"2026-11-22T10:00:03+00:00","remote_addr":"203.0.113.7","request":"GET /p?id=1 HTTP/1.1","status":404,"body_bytes_sent":"12","http_user_agent":"curl/8.0","request_time":0.002,"http_x_forwarded_for":"198.51.100.1"}"#;
        let map = parse_json_line(line).unwrap();
        let record = record_from_json(line, &map).unwrap();
        assert_eq!(record.timestamp_ms, Some(1_795_341_603_000));
        assert_eq!((record.method, record.path, record.query), (Some("GET"), Some("/p"), Some("id=1")));
        assert_eq!((record.status, record.response_bytes), (Some(404), Some(12)));
        assert_eq!(record.other("http_x_forwarded_for"), Some("198.51.100.1"));
        assert_eq!(record.others().find(|(n, _)| *n == "request_time").map(|(_, v)| v), Some(OtherValue::Json(&serde_json::json!(0.002))));
    }

    #[test]
    fn separate_keys_and_msec() {
        let line = r#"{"$msec":1795341603.25,"method":"POST","uri":"/login","args":"","status":"401","ip":"2001:db8::1"}"#;
        let map = parse_json_line(line).unwrap();
        let record = record_from_json(line, &map).unwrap();
        assert_eq!(record.timestamp_ms, Some(1_795_341_603_250));
        assert_eq!((record.method, record.path, record.query, record.status), (Some("POST"), Some("/login"), None, Some(401)));
        assert_eq!(record.remote_addr, Some("2001:db8::1"));
    }

    #[test]
    fn bad_json_lines_are_explained() {
        for (line, reason) in [
            ("{", "not JSON"),
            ("[1]", "must be a JSON object"),
            (r#"{"status":"abc"}"#, "`status` is not a whole number"),
            (r#"{"status":42}"#, "`status` is not a status code"),
            (r#"{"remote_addr":{"a":1}}"#, "`remote_addr` is not a string"),
            (r#"{"msec":-5}"#, "seconds since 1970"),
        ] {
            let error = parse_json_line(line).and_then(|map| record_from_json(line, &map).map(|_| ())).unwrap_err();
            assert!(error.reason.contains(reason), "{line}: {}", error.reason);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(line in "\\PC{0,200}") {
            if let Ok(map) = parse_json_line(&line) {
                let _ = record_from_json(&line, &map);
            }
        }
    }
}
