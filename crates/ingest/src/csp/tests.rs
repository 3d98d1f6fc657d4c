//! Tests of CSP report parsing.

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

#[test]
fn issue_11_card_numbers_written_as_json_numbers_reach_masking_as_written() {
    // A string field given a number keeps its text; a float would keep only 16 digits of a
    // 19-digit card, or write it in exponent form. Quoted first, the text is the card.
    let body = r#"{"csp-report": {"document-uri": "https://shop.example/", "blocked-uri": 4111111111111111003.0,
        "script-sample": 4.111111111111111e15, "source-file": -5555555555554444}}"#;
    let outcome = parse(LEGACY_TYPE, body).unwrap();
    let event = &outcome.events[0];
    assert_eq!(event["csp.blocked_uri"], json!("4111111111111111003.0"));
    assert_eq!(event["csp.sample"], json!("4111111111111111"));
    assert_eq!(event["csp.source_file"], json!("-5555555555554444"));
    let mut record = event.clone();
    crate::CardProtector::new(b"k").protect(&mut record);
    let text = record.to_string();
    for digits in ["4111111111111111", "5555555555554444"] {
        assert!(!text.contains(digits), "{text}");
    }
}
