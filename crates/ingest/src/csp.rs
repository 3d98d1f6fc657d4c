//! Browser Content-Security-Policy violation reports (`report-uri` and `report-to` bodies) turned into event JSON.
//!
//! Two wire shapes are read:
//! - `report-uri` (CSP2/CSP3 legacy), `Content-Type: application/csp-report` (some browsers send
//!   `application/json`): one object `{"csp-report": {"document-uri": .., "blocked-uri": .., ..}}`.
//! - `report-to` (Reporting API), `Content-Type: application/reports+json`: an array of
//!   `{"type": "csp-violation", "age", "url", "user_agent", "body": {"documentURL", "blockedURL", ..}}`.
//!   Entries of other types (`deprecation`, `intervention`, ..) are skipped and counted.
//!
//! With `application/json` the shape decides: an array is read as Reporting API reports, anything
//! else as a `report-uri` body.
//!
//! Choices made here, which callers can rely on:
//! - `@timestamp` is never set: the caller's receive time is used. A Reporting API report's `age`
//!   is ignored, because browsers deliver within about a minute and a hostile `age` could move an
//!   event anywhere in time.
//! - A field of the wrong type is skipped, not fatal: a string field given a number or boolean
//!   keeps its text (`42` → `"42"`), given an object, array or null it is left out; line, column
//!   and status numbers accept a non-negative integer or a string of digits and are stored as
//!   JSON integers, anything else is left out. Empty strings are left out (browsers send
//!   `"referrer": ""`). `csp.disposition` keeps only `enforce` or `report`.
//! - Every string is cut to [`CspLimits::max_field_bytes`] on a character boundary.
//! - URLs are copied as sent: card masking of query strings is the caller's job.

use std::borrow::Cow;

use rampart_model::fields;
use serde_json::{Map, Value};
use thiserror::Error;

/// Free-form fields of a CSP event: docs/fields.md has no catalogue field for them yet.
const CSP_SITE: &str = "csp.site";
const CSP_BLOCKED_URI: &str = "csp.blocked_uri";
const CSP_EFFECTIVE_DIRECTIVE: &str = "csp.effective_directive";
const CSP_VIOLATED_DIRECTIVE: &str = "csp.violated_directive";
const CSP_DISPOSITION: &str = "csp.disposition";
const CSP_SAMPLE: &str = "csp.sample";
const CSP_SOURCE_FILE: &str = "csp.source_file";
const CSP_LINE_NUMBER: &str = "csp.line_number";
const CSP_COLUMN_NUMBER: &str = "csp.column_number";
const CSP_STATUS_CODE: &str = "csp.status_code";
const CSP_ORIGINAL_POLICY: &str = "csp.original_policy";

/// The longest site name accepted by [`valid_site`].
const MAX_SITE_LEN: usize = 64;

/// URL schemes of browser extensions: a violation caused by an extension says nothing about the
/// shop's page, and extensions cause most CSP report noise.
const EXTENSION_SCHEMES: &[&str] =
    &["chrome-extension", "moz-extension", "safari-extension", "safari-web-extension", "ms-browser-extension", "edge-extension"];

/// Schemes that only browser internals or in-app WebViews inject (Chrome's `chromenull:` and
/// `chromeinvokeimmediate:`, iOS WebView progress hooks, Maxthon add-ons, Firefox's internal
/// `resource:`). No shop page loads from them, so their reports are noise as well.
const INJECTED_SCHEMES: &[&str] = &["chromenull", "chromeinvokeimmediate", "webviewprogressproxy", "mxaddon-pkg", "resource"];

/// How much of a script sample is searched for an extension URL. Browsers cut samples at 40
/// characters, so this only bounds the work on hostile input.
const SAMPLE_SCAN_BYTES: usize = 256;

/// Caps applied to one report body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CspLimits {
    /// The most reports one Reporting API body may hold.
    pub max_reports: usize,
    /// The deepest JSON nesting accepted (a `report-uri` body nests 2 deep, a Reporting API body 3).
    pub max_depth: usize,
    /// Longer strings (a whole `original-policy`, say) are cut to this many bytes.
    pub max_field_bytes: usize,
}

impl Default for CspLimits {
    fn default() -> Self {
        CspLimits { max_reports: 100, max_depth: 8, max_field_bytes: 4096 }
    }
}

/// What one report body gave.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CspOutcome {
    /// One JSON object per kept violation, with dotted keys, ready for `Event::from_json_at`.
    pub events: Vec<Value>,
    /// Violations dropped as browser-extension or injected-script noise.
    pub dropped_extension: usize,
    /// Reporting API entries of another type than `csp-violation`.
    pub skipped_other_types: usize,
}

/// Why a CSP report body was refused. Messages never quote the body.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CspError {
    /// The `{site}` path segment is not a valid site name.
    #[error("the site name must be 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_` or `-`")]
    InvalidSite,
    /// A `Content-Type` that is not a CSP report type.
    #[error("unsupported Content-Type: send application/csp-report, application/json or application/reports+json")]
    UnsupportedContentType,
    /// The body is not UTF-8.
    #[error("the body must be UTF-8; byte {valid_up_to} starts an invalid sequence")]
    NotUtf8 {
        /// The length of the valid prefix in bytes.
        valid_up_to: usize,
    },
    /// The body is not JSON.
    #[error("the body must be JSON: {reason} at line {line} column {column}")]
    InvalidJson {
        /// What went wrong, e.g. "syntax error".
        reason: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The JSON nests deeper than [`CspLimits::max_depth`].
    #[error("the JSON must nest at most {limit} levels deep")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More Reporting API reports than [`CspLimits::max_reports`].
    #[error("a body may hold at most {limit} reports")]
    TooManyReports {
        /// The limit.
        limit: usize,
    },
    /// A `report-uri` body without a `csp-report` object.
    #[error("a report-uri body must be a JSON object holding a `csp-report` object")]
    MissingCspReport,
    /// An `application/reports+json` body that is not an array.
    #[error("an application/reports+json body must be a JSON array of reports")]
    NotReportList,
    /// One Reporting API entry of the wrong shape.
    #[error("report {index} must be {expected}")]
    InvalidReport {
        /// The entry's 0-based index in the array.
        index: usize,
        /// What was expected.
        expected: &'static str,
    },
}

/// Whether `site` can name a site in a report URL: 1 to 64 characters of `A-Za-z0-9._-`.
pub fn valid_site(site: &str) -> bool {
    (1..=MAX_SITE_LEN).contains(&site.len()) && site.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Parses one CSP report body into event JSON objects (see the module doc for the shapes).
///
/// `content_type` is the request's `Content-Type` (parameters such as `charset` are ignored),
/// `site` the `{site}` segment of the report URL, `user_agent` the request's `User-Agent`, used
/// unless a Reporting API report carries its own.
pub fn parse_csp_reports(
    content_type: &str,
    body: &[u8],
    site: &str,
    user_agent: Option<&str>,
    limits: &CspLimits,
) -> Result<CspOutcome, CspError> {
    if !valid_site(site) {
        return Err(CspError::InvalidSite);
    }
    let kind = body_kind(content_type).ok_or(CspError::UnsupportedContentType)?;
    let text = std::str::from_utf8(body).map_err(|error| CspError::NotUtf8 { valid_up_to: error.valid_up_to() })?;
    // Before building any value, so a hostile `[[[[..` costs one pass and no recursion.
    prescan(body, limits)?;
    let value: Value = serde_json::from_str(text).map_err(|error| CspError::InvalidJson {
        reason: match error.classify() {
            serde_json::error::Category::Eof => "unexpected end of input",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data | serde_json::error::Category::Io => "unreadable value",
        },
        line: error.line(),
        column: error.column(),
    })?;
    let context = Context { site, user_agent, max_bytes: limits.max_field_bytes };
    let mut outcome = CspOutcome::default();
    match (kind, value) {
        (BodyKind::ReportList | BodyKind::Either, Value::Array(reports)) => {
            if reports.len() > limits.max_reports {
                return Err(CspError::TooManyReports { limit: limits.max_reports });
            }
            for (index, report) in reports.iter().enumerate() {
                reporting_api_entry(index, report, &context, &mut outcome)?;
            }
        }
        (BodyKind::ReportList, _) => return Err(CspError::NotReportList),
        (BodyKind::Legacy | BodyKind::Either, value) => {
            let report = value.get("csp-report").and_then(Value::as_object).ok_or(CspError::MissingCspReport)?;
            push(&mut outcome, violation(report, &LEGACY, None, &context));
        }
    }
    Ok(outcome)
}

/// Which shape a `Content-Type` announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `application/csp-report`.
    Legacy,
    /// `application/reports+json`.
    ReportList,
    /// `application/json`: decided by the JSON.
    Either,
}

fn body_kind(content_type: &str) -> Option<BodyKind> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/csp-report") {
        Some(BodyKind::Legacy)
    } else if essence.eq_ignore_ascii_case("application/reports+json") {
        Some(BodyKind::ReportList)
    } else if essence.eq_ignore_ascii_case("application/json") {
        Some(BodyKind::Either)
    } else {
        None
    }
}

/// One pass over the bytes, outside strings: rejects nesting deeper than the limit and top-level
/// arrays with more elements than the limit. Exact for valid JSON; invalid JSON that passes is
/// refused by the parser afterwards.
fn prescan(body: &[u8], limits: &CspLimits) -> Result<(), CspError> {
    let top_is_array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let mut depth = 0usize;
    let mut separators = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(CspError::TooDeep { limit: limits.max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 && top_is_array => {
                // n separators mean n + 1 elements.
                separators += 1;
                if separators >= limits.max_reports {
                    return Err(CspError::TooManyReports { limit: limits.max_reports });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What every report of one body shares.
struct Context<'a> {
    site: &'a str,
    user_agent: Option<&'a str>,
    max_bytes: usize,
}

/// The member names of one wire shape.
struct Names {
    document: &'static str,
    referrer: &'static str,
    blocked: &'static str,
    effective: &'static str,
    violated: Option<&'static str>,
    policy: &'static str,
    disposition: &'static str,
    sample: &'static str,
    source_file: &'static str,
    line: &'static str,
    column: &'static str,
    status: &'static str,
}

const LEGACY: Names = Names {
    document: "document-uri",
    referrer: "referrer",
    blocked: "blocked-uri",
    effective: "effective-directive",
    violated: Some("violated-directive"),
    policy: "original-policy",
    disposition: "disposition",
    sample: "script-sample",
    source_file: "source-file",
    line: "line-number",
    column: "column-number",
    status: "status-code",
};

const REPORTING_API: Names = Names {
    document: "documentURL",
    referrer: "referrer",
    blocked: "blockedURL",
    effective: "effectiveDirective",
    violated: None,
    policy: "originalPolicy",
    disposition: "disposition",
    sample: "sample",
    source_file: "sourceFile",
    line: "lineNumber",
    column: "columnNumber",
    status: "statusCode",
};

/// One Reporting API entry: skipped when of another type, an event (or noise) when a violation.
fn reporting_api_entry(index: usize, report: &Value, context: &Context<'_>, outcome: &mut CspOutcome) -> Result<(), CspError> {
    let Some(report) = report.as_object() else {
        return Err(CspError::InvalidReport { index, expected: "an object" });
    };
    let Some(kind) = report.get("type").and_then(Value::as_str) else {
        return Err(CspError::InvalidReport { index, expected: "an object with a string `type`" });
    };
    if kind != "csp-violation" {
        outcome.skipped_other_types += 1;
        return Ok(());
    }
    let Some(body) = report.get("body").and_then(Value::as_object) else {
        return Err(CspError::InvalidReport { index, expected: "a csp-violation report with a `body` object" });
    };
    let user_agent = text(report.get("user_agent"));
    let context = Context { user_agent: user_agent.as_deref().or(context.user_agent), ..*context };
    push(outcome, violation(body, &REPORTING_API, report.get("url"), &context));
    Ok(())
}

fn push(outcome: &mut CspOutcome, event: Option<Value>) {
    match event {
        Some(event) => outcome.events.push(event),
        None => outcome.dropped_extension += 1,
    }
}

/// The event of one violation, or `None` when it is extension noise. `fallback_url` is the
/// Reporting API report's `url`, used when the body names no document.
fn violation(report: &Map<String, Value>, names: &Names, fallback_url: Option<&Value>, context: &Context<'_>) -> Option<Value> {
    let blocked = text(report.get(names.blocked));
    let source_file = text(report.get(names.source_file));
    let sample = text(report.get(names.sample));
    if is_noise(blocked.as_deref(), source_file.as_deref(), sample.as_deref()) {
        return None;
    }
    let violated = names.violated.and_then(|name| text(report.get(name)));
    let effective = text(report.get(names.effective))
        .or_else(|| violated.as_deref().and_then(|v| v.split_ascii_whitespace().next()).map(|v| Cow::Owned(v.to_owned())));
    let disposition = text(report.get(names.disposition)).map(|d| d.to_ascii_lowercase()).filter(|d| d == "enforce" || d == "report");

    let mut event = Map::new();
    event.insert(fields::EVENT_KIND.to_owned(), Value::from("event"));
    event.insert(fields::EVENT_CATEGORY.to_owned(), Value::from(vec!["web"]));
    event.insert(fields::EVENT_TYPE.to_owned(), Value::from(vec!["info"]));
    event.insert(fields::EVENT_ACTION.to_owned(), Value::from("csp_violation"));
    event.insert(fields::EVENT_DATASET.to_owned(), Value::from("csp"));
    event.insert(CSP_SITE.to_owned(), Value::from(context.site));
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(value) = value {
            event.insert(key.to_owned(), Value::from(truncate(value, context.max_bytes)));
        }
    };
    let document = text(report.get(names.document)).or_else(|| text(fallback_url));
    put(fields::URL_ORIGINAL, document.as_deref());
    put(fields::HTTP_REFERRER, text(report.get(names.referrer)).as_deref());
    put(fields::USER_AGENT, context.user_agent.filter(|ua| !ua.is_empty()));
    put(CSP_BLOCKED_URI, blocked.as_deref());
    put(CSP_EFFECTIVE_DIRECTIVE, effective.as_deref());
    put(CSP_VIOLATED_DIRECTIVE, violated.as_deref());
    put(CSP_DISPOSITION, disposition.as_deref());
    put(CSP_SAMPLE, sample.as_deref());
    put(CSP_SOURCE_FILE, source_file.as_deref());
    put(CSP_ORIGINAL_POLICY, text(report.get(names.policy)).as_deref());
    for (key, name) in [(CSP_LINE_NUMBER, names.line), (CSP_COLUMN_NUMBER, names.column), (CSP_STATUS_CODE, names.status)] {
        if let Some(number) = integer(report.get(name)) {
            event.insert(key.to_owned(), Value::from(number));
        }
    }
    Some(Value::Object(event))
}

/// The text of a string-typed member: numbers and booleans as text; other types and empty
/// strings as absent.
fn text(value: Option<&Value>) -> Option<Cow<'_, str>> {
    match value? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A non-negative integer member, given as a number or a string of digits.
fn integer(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether a violation was caused by a browser extension or an injected script.
fn is_noise(blocked: Option<&str>, source_file: Option<&str>, sample: Option<&str>) -> bool {
    let noisy_url =
        |url: Option<&str>| url.is_some_and(|url| EXTENSION_SCHEMES.iter().chain(INJECTED_SCHEMES).any(|scheme| has_scheme(url, scheme)));
    noisy_url(blocked) || noisy_url(source_file) || sample.is_some_and(names_extension_url)
}

/// Whether `url` is `scheme` alone (some browsers report only the scheme) or `scheme:...`,
/// ignoring ASCII case.
fn has_scheme(url: &str, scheme: &str) -> bool {
    let url = url.trim_start().as_bytes();
    url.get(..scheme.len()).is_some_and(|head| head.eq_ignore_ascii_case(scheme.as_bytes()))
        && matches!(url.get(scheme.len()), None | Some(b':'))
}

/// Whether the start of a script sample holds an extension URL (`chrome-extension://..`).
fn names_extension_url(sample: &str) -> bool {
    let head = &sample.as_bytes()[..sample.len().min(SAMPLE_SCAN_BYTES)];
    EXTENSION_SCHEMES.iter().any(|scheme| {
        let needle = scheme.len() + 1;
        head.windows(needle).any(|window| {
            window.get(..scheme.len()).is_some_and(|name| name.eq_ignore_ascii_case(scheme.as_bytes())) && window.last() == Some(&b':')
        })
    })
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const LEGACY_TYPE: &str = "application/csp-report";
    const REPORTS_TYPE: &str = "application/reports+json";

    fn parse(content_type: &str, body: &str) -> Result<CspOutcome, CspError> {
        parse_csp_reports(content_type, body.as_bytes(), "shop-1", Some("UA/1.0"), &CspLimits::default())
    }

    fn legacy(report: Value) -> String {
        json!({ "csp-report": report }).to_string()
    }

    #[test]
    fn legacy_mdn_example() {
        // The example of MDN's report-uri page.
        let body = r#"{
          "csp-report": {
            "blocked-uri": "http://example.com/css/style.css",
            "disposition": "report",
            "document-uri": "http://example.com/signup.html",
            "effective-directive": "style-src-elem",
            "original-policy": "default-src 'none'; style-src cdn.example.com; report-uri /_/csp-reports",
            "referrer": "",
            "status-code": 200,
            "violated-directive": "style-src-elem"
          }
        }"#;
        let outcome = parse(LEGACY_TYPE, body).unwrap();
        assert_eq!(outcome.dropped_extension, 0);
        assert_eq!(outcome.skipped_other_types, 0);
        assert_eq!(
            outcome.events,
            vec![json!({
                "event.kind": "event",
                "event.category": ["web"],
                "event.type": ["info"],
                "event.action": "csp_violation",
                "event.dataset": "csp",
                "csp.site": "shop-1",
                "url.original": "http://example.com/signup.html",
                "user_agent.original": "UA/1.0",
                "csp.blocked_uri": "http://example.com/css/style.css",
                "csp.effective_directive": "style-src-elem",
                "csp.violated_directive": "style-src-elem",
                "csp.disposition": "report",
                "csp.original_policy": "default-src 'none'; style-src cdn.example.com; report-uri /_/csp-reports",
                "csp.status_code": 200,
            })]
        );
    }

    #[test]
    fn legacy_csp2_spec_example_with_source_position() {
        // The CSP2 spec's example, with the position members Firefox adds.
        let body = legacy(json!({
            "document-uri": "http://example.org/page.html",
            "referrer": "http://evil.example.com/haxor.html",
            "blocked-uri": "http://evil.example.com/image.png",
            "violated-directive": "default-src 'self'",
            "effective-directive": "img-src",
            "original-policy": "default-src 'self'; report-uri http://example.org/csp-report.cgi",
            "source-file": "http://example.org/app.js",
            "line-number": 12,
            "column-number": "7",
            "script-sample": "",
        }));
        let outcome = parse("application/json", &body).unwrap();
        assert_eq!(
            outcome.events,
            vec![json!({
                "event.kind": "event",
                "event.category": ["web"],
                "event.type": ["info"],
                "event.action": "csp_violation",
                "event.dataset": "csp",
                "csp.site": "shop-1",
                "url.original": "http://example.org/page.html",
                "http.request.referrer": "http://evil.example.com/haxor.html",
                "user_agent.original": "UA/1.0",
                "csp.blocked_uri": "http://evil.example.com/image.png",
                "csp.effective_directive": "img-src",
                "csp.violated_directive": "default-src 'self'",
                "csp.original_policy": "default-src 'self'; report-uri http://example.org/csp-report.cgi",
                "csp.source_file": "http://example.org/app.js",
                "csp.line_number": 12,
                "csp.column_number": 7,
            })]
        );
    }

    #[test]
    fn effective_directive_falls_back_to_first_token_of_violated_directive() {
        let body = legacy(json!({"document-uri": "https://shop.example/", "violated-directive": "script-src 'self' cdn.example"}));
        let events = parse(LEGACY_TYPE, &body).unwrap().events;
        assert_eq!(events[0]["csp.effective_directive"], json!("script-src"));
        assert_eq!(events[0]["csp.violated_directive"], json!("script-src 'self' cdn.example"));
    }

    #[test]
    fn reporting_api_two_violations_and_one_deprecation() {
        // The first entry is MDN's CSPViolationReportBody example.
        let body = json!([
            {
                "age": 53531,
                "body": {
                    "blockedURL": "inline",
                    "columnNumber": 39,
                    "disposition": "enforce",
                    "documentURL": "https://example.com/csp-report",
                    "effectiveDirective": "script-src-elem",
                    "lineNumber": 121,
                    "originalPolicy": "default-src 'self'; report-to csp-endpoint-name",
                    "referrer": "https://www.google.com/",
                    "sample": "console.log(\"lo\")",
                    "sourceFile": "https://example.com/csp-report",
                    "statusCode": 200
                },
                "type": "csp-violation",
                "url": "https://example.com/csp-report",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/127.0.0.0"
            },
            {
                "age": 10,
                "body": {"id": "NavigatorGetUserMedia", "message": "deprecated", "lineNumber": 1},
                "type": "deprecation",
                "url": "https://example.com/",
                "user_agent": "Mozilla/5.0"
            },
            {
                "age": 12,
                "body": {"blockedURL": "https://evil.example/x.js", "effectiveDirective": "script-src-elem", "disposition": "report"},
                "type": "csp-violation",
                "url": "https://example.com/checkout?step=2",
                "user_agent": ""
            }
        ])
        .to_string();
        let outcome = parse(REPORTS_TYPE, &body).unwrap();
        assert_eq!(outcome.skipped_other_types, 1);
        assert_eq!(outcome.dropped_extension, 0);
        assert_eq!(
            outcome.events,
            vec![
                json!({
                    "event.kind": "event",
                    "event.category": ["web"],
                    "event.type": ["info"],
                    "event.action": "csp_violation",
                    "event.dataset": "csp",
                    "csp.site": "shop-1",
                    "url.original": "https://example.com/csp-report",
                    "http.request.referrer": "https://www.google.com/",
                    "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) Chrome/127.0.0.0",
                    "csp.blocked_uri": "inline",
                    "csp.effective_directive": "script-src-elem",
                    "csp.disposition": "enforce",
                    "csp.sample": "console.log(\"lo\")",
                    "csp.source_file": "https://example.com/csp-report",
                    "csp.original_policy": "default-src 'self'; report-to csp-endpoint-name",
                    "csp.line_number": 121,
                    "csp.column_number": 39,
                    "csp.status_code": 200,
                }),
                // No documentURL: the report's url; empty user_agent: the request header.
                json!({
                    "event.kind": "event",
                    "event.category": ["web"],
                    "event.type": ["info"],
                    "event.action": "csp_violation",
                    "event.dataset": "csp",
                    "csp.site": "shop-1",
                    "url.original": "https://example.com/checkout?step=2",
                    "user_agent.original": "UA/1.0",
                    "csp.blocked_uri": "https://evil.example/x.js",
                    "csp.effective_directive": "script-src-elem",
                    "csp.disposition": "report",
                }),
            ]
        );
    }

    #[test]
    fn application_json_is_read_by_shape() {
        let list = json!([{"type": "csp-violation", "body": {"documentURL": "https://a.example/"}}]).to_string();
        let events = parse("application/json; charset=utf-8", &list).unwrap().events;
        assert_eq!(events[0]["url.original"], json!("https://a.example/"));
        let single = legacy(json!({"document-uri": "https://b.example/"}));
        let events = parse("Application/JSON", &single).unwrap().events;
        assert_eq!(events[0]["url.original"], json!("https://b.example/"));
        assert_eq!(parse("application/json", "42").unwrap_err(), CspError::MissingCspReport);
    }

    #[test]
    fn document_uri_query_is_copied_as_sent() {
        let url = "https://shop.example/pay?card=4111111111111111&x=%20";
        let events = parse(LEGACY_TYPE, &legacy(json!({"document-uri": url}))).unwrap().events;
        assert_eq!(events[0]["url.original"], json!(url));
    }

    #[test]
    fn extension_noise_is_dropped_and_counted() {
        let body = json!([
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "chrome-extension://abcdef/inject.js"}},
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "sourceFile": "MOZ-EXTENSION://1234/content.js"}},
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "safari-web-extension"}},
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "Edge-Extension:"}},
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "inline", "sample": "import('ms-browser-extension://x/a.js')"}},
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "chromenull://"}},
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "webviewprogressproxy://progress"}},
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "resource://gre/x.js"}},
            // Kept: the scheme name only appears inside a path, or as a longer scheme.
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "https://cdn.example/chrome-extension:x"}},
            {"type": "csp-violation", "body": {"documentURL": "https://s.example/", "blockedURL": "resources://x"}},
        ])
        .to_string();
        let outcome = parse(REPORTS_TYPE, &body).unwrap();
        assert_eq!(outcome.dropped_extension, 8);
        assert_eq!(outcome.events.len(), 2);
        assert_eq!(outcome.events[0]["csp.blocked_uri"], json!("https://cdn.example/chrome-extension:x"));
        assert_eq!(outcome.events[1]["csp.blocked_uri"], json!("resources://x"));

        let legacy_body = legacy(json!({"document-uri": "https://s.example/", "blocked-uri": "safari-extension://com.x/a.js"}));
        let outcome = parse(LEGACY_TYPE, &legacy_body).unwrap();
        assert_eq!((outcome.events.len(), outcome.dropped_extension), (0, 1));
    }

    #[test]
    fn wrong_content_type_is_refused() {
        let body = legacy(json!({"document-uri": "https://s.example/"}));
        for content_type in ["text/plain", "", "application/csp-reports", "multipart/form-data; boundary=x", "application"] {
            assert_eq!(parse(content_type, &body).unwrap_err(), CspError::UnsupportedContentType, "{content_type}");
        }
        for content_type in ["application/csp-report; charset=utf-8", " APPLICATION/CSP-REPORT ", "application/json;charset=UTF-8"] {
            assert_eq!(parse(content_type, &body).unwrap().events.len(), 1, "{content_type}");
        }
        assert_eq!(parse("application/reports+json", &body).unwrap_err(), CspError::NotReportList);
        let message = parse("text/x-secret-4111", &body).unwrap_err().to_string();
        assert!(!message.contains("4111"));
    }

    #[test]
    fn malformed_json_is_refused_with_its_position() {
        assert_eq!(
            parse(LEGACY_TYPE, "{\"csp-report\": {\"document-uri\": }}").unwrap_err(),
            CspError::InvalidJson { reason: "syntax error", line: 1, column: 33 }
        );
        assert_eq!(
            parse(REPORTS_TYPE, "[{\"type\":").unwrap_err(),
            CspError::InvalidJson { reason: "unexpected end of input", line: 1, column: 9 }
        );
        assert_eq!(parse(LEGACY_TYPE, "").unwrap_err(), CspError::InvalidJson { reason: "unexpected end of input", line: 1, column: 0 });
        let error = parse(LEGACY_TYPE, "{\"csp-report\": secret-value}").unwrap_err();
        assert!(!error.to_string().contains("secret"));
    }

    #[test]
    fn non_utf8_is_refused() {
        let body = b"{\"csp-report\": {\"document-uri\": \"https://s.example/\xff\"}}";
        let error = parse_csp_reports(LEGACY_TYPE, body, "s", None, &CspLimits::default()).unwrap_err();
        assert_eq!(error, CspError::NotUtf8 { valid_up_to: 51 });
    }

    #[test]
    fn nesting_bomb_is_refused_before_parsing() {
        let bomb = "[".repeat(100_000);
        assert_eq!(parse(REPORTS_TYPE, &bomb).unwrap_err(), CspError::TooDeep { limit: 8 });
        assert_eq!(parse(LEGACY_TYPE, &"{\"a\":".repeat(100_000)).unwrap_err(), CspError::TooDeep { limit: 8 });
        // Exactly at the limit is fine (and then fails as the wrong shape).
        let at_limit = format!("{}{}", "[".repeat(8), "]".repeat(8));
        assert_eq!(parse(REPORTS_TYPE, &at_limit).unwrap_err(), CspError::InvalidReport { index: 0, expected: "an object" });
        let nine = format!("{}{}", "[".repeat(9), "]".repeat(9));
        assert_eq!(parse(REPORTS_TYPE, &nine).unwrap_err(), CspError::TooDeep { limit: 8 });
        // Brackets inside strings (with escaped quotes) do not count.
        let sample = format!("\\\"{}", "[{".repeat(50));
        let body = legacy(json!({"document-uri": "https://s.example/", "script-sample": sample}));
        assert_eq!(parse(LEGACY_TYPE, &body).unwrap().events[0]["csp.sample"], json!(sample));
    }

    #[test]
    fn too_many_reports_are_refused() {
        let entry = json!({"type": "deprecation", "body": {}});
        let hundred = Value::from(vec![entry.clone(); 100]).to_string();
        assert_eq!(parse(REPORTS_TYPE, &hundred).unwrap().skipped_other_types, 100);
        let too_many = Value::from(vec![entry.clone(); 101]).to_string();
        assert_eq!(parse(REPORTS_TYPE, &too_many).unwrap_err(), CspError::TooManyReports { limit: 100 });
        let none = CspLimits { max_reports: 0, ..CspLimits::default() };
        let one = Value::from(vec![entry]).to_string();
        assert_eq!(parse_csp_reports(REPORTS_TYPE, one.as_bytes(), "s", None, &none).unwrap_err(), CspError::TooManyReports { limit: 0 });
        assert_eq!(parse_csp_reports(REPORTS_TYPE, b"[]", "s", None, &none).unwrap(), CspOutcome::default());
        // Commas inside nested objects are not reports.
        let wide = json!([{"type": "x", "body": {"a": 1, "b": 2, "c": [1, 2, 3]}}]).to_string();
        let two = CspLimits { max_reports: 1, ..CspLimits::default() };
        assert_eq!(parse_csp_reports(REPORTS_TYPE, wide.as_bytes(), "s", None, &two).unwrap().skipped_other_types, 1);
    }

    #[test]
    fn overlong_fields_are_cut_on_char_boundaries() {
        let limits = CspLimits { max_field_bytes: 4095, ..CspLimits::default() };
        let policy = "é".repeat(3000); // 2 bytes each
        let url = format!("https://s.example/{}", "😀".repeat(2000)); // 4 bytes each
        let body = legacy(json!({"document-uri": url, "original-policy": policy, "script-sample": "short"}));
        let outcome = parse_csp_reports(LEGACY_TYPE, body.as_bytes(), "s", Some(&"u".repeat(5000)), &limits).unwrap();
        let event = &outcome.events[0];
        assert_eq!(event["csp.original_policy"], json!("é".repeat(2047)));
        // 18 ASCII bytes, then whole 4-byte characters up to 4095: (4095 - 18) / 4 = 1019.
        assert_eq!(event["url.original"], json!(format!("https://s.example/{}", "😀".repeat(1019))));
        assert_eq!(event["user_agent.original"], json!("u".repeat(4095)));
        assert_eq!(event["csp.sample"], json!("short"));
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("é", 0), "");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn wrong_field_types_are_skipped_or_converted() {
        let body = legacy(json!({
            "document-uri": {"nested": "x"},
            "referrer": null,
            "blocked-uri": 42,
            "violated-directive": ["script-src"],
            "disposition": "ENFORCE",
            "script-sample": true,
            "line-number": -3,
            "column-number": "12x",
            "status-code": "404",
            "original-policy": 1.5,
        }));
        let outcome = parse(LEGACY_TYPE, &body).unwrap();
        assert_eq!(
            outcome.events,
            vec![json!({
                "event.kind": "event",
                "event.category": ["web"],
                "event.type": ["info"],
                "event.action": "csp_violation",
                "event.dataset": "csp",
                "csp.site": "shop-1",
                "user_agent.original": "UA/1.0",
                "csp.blocked_uri": "42",
                "csp.disposition": "enforce",
                "csp.sample": "true",
                "csp.status_code": 404,
                "csp.original_policy": "1.5",
            })]
        );
        let other = legacy(json!({"disposition": "maybe"}));
        assert_eq!(parse(LEGACY_TYPE, &other).unwrap().events[0].get("csp.disposition"), None);
    }

    #[test]
    fn wrong_shapes_are_refused() {
        assert_eq!(parse(LEGACY_TYPE, "{}").unwrap_err(), CspError::MissingCspReport);
        assert_eq!(parse(LEGACY_TYPE, r#"{"csp-report": "x"}"#).unwrap_err(), CspError::MissingCspReport);
        assert_eq!(parse(LEGACY_TYPE, "[]").unwrap_err(), CspError::MissingCspReport);
        assert_eq!(parse(REPORTS_TYPE, r#"{"csp-report": {}}"#).unwrap_err(), CspError::NotReportList);
        assert_eq!(parse(REPORTS_TYPE, "[1]").unwrap_err(), CspError::InvalidReport { index: 0, expected: "an object" });
        assert_eq!(
            parse(REPORTS_TYPE, r#"[{"type": "deprecation"}, {"type": 3}]"#).unwrap_err(),
            CspError::InvalidReport { index: 1, expected: "an object with a string `type`" }
        );
        assert_eq!(
            parse(REPORTS_TYPE, r#"[{"type": "csp-violation", "body": "x"}]"#).unwrap_err(),
            CspError::InvalidReport { index: 0, expected: "a csp-violation report with a `body` object" }
        );
        assert_eq!(parse(REPORTS_TYPE, "[]").unwrap(), CspOutcome::default());
    }

    #[test]
    fn site_names_are_validated() {
        for good in ["a", "shop-1", "Shop_2.example", &"x".repeat(64)] {
            assert!(valid_site(good), "{good}");
        }
        for bad in ["", &"x".repeat(65), "a/b", "a b", "ünï", "shop%2F", "a\0"] {
            assert!(!valid_site(bad), "{bad}");
        }
        let body = legacy(json!({"document-uri": "https://s.example/"}));
        let error = parse_csp_reports(LEGACY_TYPE, body.as_bytes(), "../etc", None, &CspLimits::default()).unwrap_err();
        assert_eq!(error, CspError::InvalidSite);
    }

    #[test]
    fn events_become_valid_rampart_events() {
        let body = legacy(json!({"document-uri": "https://s.example/a", "referrer": "https://r.example/", "line-number": 3}));
        let value = parse(LEGACY_TYPE, &body).unwrap().events.remove(0);
        let event = rampart_model::Event::from_json(value).unwrap();
        assert_eq!(event.get_str("csp.site"), Some("shop-1"));
        assert_eq!(event.get_str("event.action"), Some("csp_violation"));
        assert_eq!(event.get("csp.line_number"), Some(&json!(3)));
        assert_eq!(event.get_str("http.request.referrer"), Some("https://r.example/"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            prefix in prop::sample::select(vec!["", "{\"csp-report\":", "[{\"type\":\"csp-violation\",\"body\":", "[[[[[[[[[[", "\""]),
            content_type in prop::sample::select(vec![LEGACY_TYPE, REPORTS_TYPE, "application/json", "text/plain"]),
            max_reports in 0usize..4,
            max_depth in 0usize..6,
            max_field_bytes in 0usize..8,
        ) {
            let mut input = prefix.as_bytes().to_vec();
            input.extend_from_slice(&body);
            let limits = CspLimits { max_reports, max_depth, max_field_bytes };
            let _ = parse_csp_reports(content_type, &input, "s", Some("ua"), &limits);
            let _ = parse_csp_reports(content_type, &input, "s", None, &CspLimits::default());
        }

        #[test]
        fn arbitrary_field_strings_never_panic(
            value in ".{0,64}",
            max_field_bytes in 0usize..16,
        ) {
            let body = legacy(json!({"document-uri": value, "blocked-uri": value, "script-sample": value, "line-number": value}));
            let limits = CspLimits { max_field_bytes, ..CspLimits::default() };
            if let Ok(outcome) = parse_csp_reports(LEGACY_TYPE, body.as_bytes(), "s", None, &limits) {
                for event in outcome.events {
                    if let Some(url) = event.get("url.original").and_then(Value::as_str) {
                        prop_assert!(url.len() <= max_field_bytes);
                    }
                }
            }
        }
    }
}
