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
    // Card numbers written as numbers become strings, so masking sees them as written.
    let value: Value = serde_json::from_str(&crate::json_numbers::quote_card_numbers_str(text)).map_err(|error| CspError::InvalidJson {
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
mod tests;
