//! The ingestion pipeline: records → masked, validated events, with the live-time window.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use rampart_model::{Event, FieldError, fields, format_timestamp};

use crate::access::{LineFormat, parse_json_line, record_from_json};
use crate::body::Format;
use crate::client_ip::ClientIpResolver;
use crate::error::{BodyError, ErrorCode, RecordError, json_category};
use crate::json::split_records;
use crate::json_numbers::{quote_card_numbers, quote_card_numbers_str};
use crate::pan::{CardProtector, mask_pans, may_contain_pan};
use crate::syslog::SyslogMessage;

/// Limits and windows of ingestion; `[ingest]` in `rampart.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// The longest NDJSON line accepted.
    pub max_line_bytes: usize,
    /// How far in the past a live event's `@timestamp` may lie.
    pub max_event_age: Duration,
    /// How far in the future a live event's `@timestamp` may lie (clock skew).
    pub max_event_future: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_line_bytes: 64 * 1024,
            max_event_age: Duration::from_secs(7 * 86_400),
            max_event_future: Duration::from_secs(300),
        }
    }
}

/// What one body became: the events to store and the records refused.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events ready to store, card numbers masked.
    pub events: Vec<Event>,
    /// Records refused, in input order.
    pub errors: Vec<RecordError>,
}

/// Turns bodies into events. Cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Ingestor {
    config: IngestConfig,
    cards: CardProtector,
    client_ip: ClientIpResolver,
}

impl Ingestor {
    /// An ingestor with these limits, masking cards with `cards`. Log lines take the peer as
    /// the client until [`Ingestor::with_client_ip`] names trusted proxies.
    pub fn new(config: IngestConfig, cards: CardProtector) -> Ingestor {
        Ingestor { config, cards, client_ip: ClientIpResolver::default() }
    }

    /// Resolves the client of log lines (and of CSP reports) behind these trusted proxies.
    pub fn with_client_ip(mut self, client_ip: ClientIpResolver) -> Ingestor {
        self.client_ip = client_ip;
        self
    }

    /// How the client address is found behind proxies.
    pub fn client_ip(&self) -> &ClientIpResolver {
        &self.client_ip
    }

    /// The limits in force.
    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    /// Reads a body of log lines in `format`: each line becomes an event or an error, and one
    /// bad line never stops the rest. With `ids`, the line starting at byte `b` of the body gets
    /// the event id [`derived_event_id`]`(ids.key, ids.offset + b)`: a line keeps its id however
    /// the source is cut into bodies, so a resend is recognized as a duplicate.
    pub fn ingest_lines(&self, format: &LineFormat, body: &[u8], now: OffsetDateTime, live: bool, ids: Option<LineIds>) -> Batch {
        let mut batch = Batch::default();
        for BodyLine { number, offset, bytes } in body_lines(body) {
            let id = ids.map(|ids| derived_event_id(ids.key, ids.offset.saturating_add(offset)));
            match self.ingest_line(format, number, bytes, now, live, id) {
                Ok(event) => batch.events.push(event),
                Err(error) => batch.errors.push(error),
            }
        }
        batch
    }

    /// Reads one log line (without its newline). `line` numbers it in errors; `id`, when given,
    /// becomes the event id unless the line carries one. Invalid UTF-8 is replaced by U+FFFD
    /// rather than refused: attack payloads often carry raw bytes, and the line is evidence.
    pub fn ingest_line(
        &self,
        format: &LineFormat,
        line: usize,
        raw: &[u8],
        now: OffsetDateTime,
        live: bool,
        id: Option<String>,
    ) -> Result<Event, RecordError> {
        if raw.len() > self.config.max_line_bytes {
            return Err(RecordError {
                line,
                code: ErrorCode::LineTooLong,
                message: format!("the line is longer than {} bytes (ingest.max_line_bytes)", self.config.max_line_bytes),
            });
        }
        let invalid = |reason: String| RecordError { line, code: ErrorCode::InvalidLine, message: reason };
        let lossy = String::from_utf8_lossy(raw);
        // In JSON lines, card numbers written as numbers become strings first, so that masking
        // sees them as written (and `event.original` keeps them masked).
        let quoted;
        let text: &str = if matches!(format, LineFormat::NginxJson) {
            quoted = quote_card_numbers_str(&lossy);
            &quoted
        } else {
            &lossy
        };
        // Masking comes first, so no later step (nor an error message) can see a card number.
        let masked = if may_contain_pan(text.as_bytes()) { mask_pans(text) } else { None };
        let (safe_line, first_pan) = match &masked {
            Some((masked, pans)) => (masked.as_str(), pans.first()),
            None => (text, None),
        };
        let mut record = match format {
            LineFormat::Events => {
                let mut record: Value = serde_json::from_slice(&quote_card_numbers(text.as_bytes())).map_err(|error| RecordError {
                    line,
                    code: ErrorCode::InvalidJson,
                    message: format!("not a JSON object: {} at column {}", json_category(&error), error.column()),
                })?;
                if let (Some(id), Value::Object(map)) = (id, &mut record)
                    && !map.contains_key(fields::EVENT_ID)
                    && map.get("event").and_then(|e| e.get("id")).is_none()
                {
                    map.insert(fields::EVENT_ID.to_owned(), Value::String(id));
                }
                return self.record_to_event(line, record, now, live);
            }
            LineFormat::NginxJson => {
                // Parsed before masking: a card number logged as a bare JSON number would not
                // survive masking of the text. The fields are masked below instead.
                let map = parse_json_line(text).map_err(|error| invalid(error.reason))?;
                let mut record = record_from_json(safe_line, &map).map_err(|error| invalid(error.reason))?;
                record.resolve_client(&self.client_ip);
                Value::Object(record.to_fields())
            }
            LineFormat::Text(format) => {
                let mut record = format.parse_line(safe_line).map_err(|error| invalid(error.reason))?;
                record.resolve_client(&self.client_ip);
                Value::Object(record.to_fields())
            }
        };
        self.cards.protect(&mut record);
        if let Some(pan) = first_pan {
            self.cards.add_card_fields(&mut record, pan);
        }
        if let (Some(id), Value::Object(map)) = (id, &mut record) {
            map.insert(fields::EVENT_ID.to_owned(), Value::String(id));
        }
        let event = Event::from_json_at(record, now).map_err(|error| field_error(line, &error))?;
        self.finish(line, event, now, live)
    }

    /// Reads the body of a live syslog message in `format` and adds its header fields
    /// (`log.syslog.*`), card numbers masked in each of them as in the body.
    pub fn ingest_syslog(
        &self,
        format: &LineFormat,
        message: &SyslogMessage<'_>,
        number: usize,
        now: OffsetDateTime,
    ) -> Result<Event, RecordError> {
        let mut event = self.ingest_line(format, number, message.message.as_bytes(), now, true, None)?;
        event.set("log.syslog.facility.code", Value::from(message.facility));
        event.set("log.syslog.severity.code", Value::from(message.severity));
        let texts = [
            ("log.syslog.hostname", message.hostname),
            ("log.syslog.appname", message.app_name),
            ("log.syslog.procid", message.proc_id),
            ("log.syslog.msgid", message.msg_id),
        ];
        for (path, value) in texts {
            let Some(value) = value else { continue };
            let value = match mask_pans(value) {
                Some((masked, pans)) => {
                    if let Some(pan) = pans.first() {
                        self.cards.add_card_fields_to_event(&mut event, pan);
                    }
                    masked
                }
                None => value.to_owned(),
            };
            event.set(path, Value::String(value));
        }
        Ok(event)
    }

    /// Parses a live body received at `now`: every record is masked, validated and checked
    /// against the live-time window.
    pub fn ingest(&self, format: Format, body: &[u8], now: OffsetDateTime) -> Batch {
        self.ingest_body(format, body, now, true).unwrap_or_else(|error| Batch {
            events: Vec::new(),
            errors: vec![RecordError { line: 1, code: ErrorCode::NotAnObject, message: error.to_string() }],
        })
    }

    /// Like [`Ingestor::ingest`]; `live: false` (replays of old logs) skips the time window.
    pub fn ingest_body(&self, format: Format, body: &[u8], now: OffsetDateTime, live: bool) -> Result<Batch, BodyError> {
        let mut batch = Batch::default();
        split_records(format, body, self.config.max_line_bytes, |line, record| {
            match record.and_then(|record| self.record_to_event(line, record, now, live)) {
                Ok(event) => batch.events.push(event),
                Err(error) => batch.errors.push(error),
            }
        })?;
        Ok(batch)
    }

    /// Masks, validates and stamps one parsed record.
    pub fn record_to_event(&self, line: usize, mut record: Value, now: OffsetDateTime, live: bool) -> Result<Event, RecordError> {
        if !record.is_object() {
            return Err(RecordError { line, code: ErrorCode::NotAnObject, message: "a record must be a JSON object".into() });
        }
        // Masking comes first, so no later step (nor an error message) can see a card number.
        self.cards.protect(&mut record);
        let event = Event::from_json_at(record, now).map_err(|error| field_error(line, &error))?;
        self.finish(line, event, now, live)
    }

    /// The live-time window and the ingest time, common to every source.
    fn finish(&self, line: usize, mut event: Event, now: OffsetDateTime, live: bool) -> Result<Event, RecordError> {
        if live {
            let t = event.timestamp();
            if t < now - self.config.max_event_age || t > now + self.config.max_event_future {
                return Err(RecordError {
                    line,
                    code: ErrorCode::TimestampOutOfRange,
                    message: format!(
                        "@timestamp {} is outside the live window [now - {}s, now + {}s] (ingest.max_event_age, ingest.max_event_future)",
                        format_timestamp(t),
                        self.config.max_event_age.as_secs(),
                        self.config.max_event_future.as_secs()
                    ),
                });
            }
        }
        event.set(fields::EVENT_INGESTED, Value::String(format_timestamp(now)));
        Ok(event)
    }
}

/// Where the lines of a body sit in their source, for stable event ids: the source's key and
/// the byte offset of the body's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineIds {
    /// Names the source: a file's fingerprint, a client's `Idempotency-Key`.
    pub key: u64,
    /// Byte offset of the body in the source.
    pub offset: u64,
}

/// One non-blank line of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLine<'a> {
    /// Its 1-based line number in the body (blank lines count).
    pub number: usize,
    /// The byte offset of its first byte in the body.
    pub offset: u64,
    /// The line without its `\n` or `\r\n`.
    pub bytes: &'a [u8],
}

/// The non-blank lines of a body, numbered as ingestion numbers them in errors.
pub fn body_lines(body: &[u8]) -> impl Iterator<Item = BodyLine<'_>> {
    let mut offset = 0u64;
    body.split(|&b| b == b'\n').enumerate().filter_map(move |(index, line)| {
        let start = offset;
        offset += line.len() as u64 + 1;
        let bytes = line.strip_suffix(b"\r").unwrap_or(line);
        (!bytes.iter().all(u8::is_ascii_whitespace)).then_some(BodyLine { number: index + 1, offset: start, bytes })
    })
}

/// A stable event id for the record at `position` of a source identified by `key` (a file's
/// identity and byte offset, a request's `Idempotency-Key` and line number): reading the same
/// record again gives the same id, which the store recognizes as a duplicate.
pub fn derived_event_id(key: u64, position: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&key.to_le_bytes());
    bytes[8..].copy_from_slice(&position.to_le_bytes());
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// Refused records of a long-running source: counts by code and the first few, with reasons,
/// for the operator (no record content is kept).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RejectSample {
    /// Refused records by code.
    pub counts: std::collections::BTreeMap<&'static str, u64>,
    /// The first refused records.
    pub samples: Vec<RecordError>,
}

impl RejectSample {
    /// How many refused records keep their reason.
    pub const KEEP: usize = 20;

    /// Counts a refused record, keeping it while there is room.
    pub fn add(&mut self, error: RecordError) {
        *self.counts.entry(error.code.as_str()).or_default() += 1;
        if self.samples.len() < Self::KEEP {
            self.samples.push(error);
        }
    }

    /// All refused records.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

fn field_error(line: usize, error: &FieldError) -> RecordError {
    let code = match error {
        FieldError::NotAnObject => ErrorCode::NotAnObject,
        _ => ErrorCode::InvalidField,
    };
    RecordError { line, code, message: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingestor() -> Ingestor {
        Ingestor::new(IngestConfig { max_line_bytes: 200, ..IngestConfig::default() }, CardProtector::new(b"test key"))
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_341_600).unwrap()
    }

    fn codes(batch: &Batch) -> Vec<(usize, &'static str)> {
        batch.errors.iter().map(|e| (e.line, e.code.as_str())).collect()
    }

    #[test]
    fn ndjson_with_good_and_bad_lines() {
        let long = format!("{{\"x\":\"{}\"}}", "a".repeat(300));
        let body = format!(
            "{{\"event.action\":\"login\"}}\n\nnot json\n[1]\n{{\"source.ip\":\"nope\"}}\n{long}\n{{\"@timestamp\":\"2020-01-01T00:00:00Z\"}}\r\n{{\"event.action\":\"logout\"}}\r\n"
        );
        let batch = ingestor().ingest(Format::Ndjson, body.as_bytes(), now());
        assert_eq!(batch.events.len(), 2);
        assert_eq!(
            codes(&batch),
            vec![(3, "invalid_json"), (4, "not_an_object"), (5, "invalid_field"), (6, "line_too_long"), (7, "timestamp_out_of_range")]
        );
        assert_eq!(batch.events[0].get_str(fields::EVENT_INGESTED), Some("2026-11-22T10:00:00.000Z"));
    }

    #[test]
    fn json_object_and_array() {
        let batch = ingestor().ingest(Format::Json, br#"{"event.action":"login"}"#, now());
        assert_eq!((batch.events.len(), batch.errors.len()), (1, 0));
        let batch = ingestor().ingest(Format::Json, br#"[{"a":1}, 2, {"source.port": -1}]"#, now());
        assert_eq!(batch.events.len(), 1);
        assert_eq!(codes(&batch), vec![(1, "not_an_object"), (2, "invalid_field")]);
        let batch = ingestor().ingest(Format::Json, b"{\"a\":", now());
        assert_eq!(codes(&batch), vec![(1, "invalid_json")]);
        assert!(ingestor().ingest_body(Format::Json, b"42", now(), true).is_err());
    }

    #[test]
    fn invalid_utf8_is_a_clear_error() {
        let batch = ingestor().ingest(Format::Ndjson, b"{\"a\":\"\xff\xfe\"}\n{\"b\":1}", now());
        assert_eq!(batch.events.len(), 1);
        assert_eq!(codes(&batch), vec![(1, "invalid_json")]);
    }

    #[test]
    fn replays_skip_the_live_window() {
        let body = br#"{"@timestamp":"2020-01-01T00:00:00Z"}"#;
        let batch = ingestor().ingest_body(Format::Json, body, now(), false).unwrap();
        assert_eq!(batch.events.len(), 1);
    }

    #[test]
    fn future_events_beyond_skew_are_refused() {
        let ok = ingestor().ingest(Format::Json, br#"{"@timestamp":"2026-11-22T10:04:00Z"}"#, now());
        assert_eq!(ok.events.len(), 1);
        let late = ingestor().ingest(Format::Json, br#"{"@timestamp":"2026-11-22T10:06:00Z"}"#, now());
        assert_eq!(codes(&late), vec![(1, "timestamp_out_of_range")]);
    }

    fn combined() -> LineFormat {
        crate::LogFormats::default().get("combined").unwrap()
    }

    #[test]
    fn access_lines_become_web_request_events() {
        let body: Vec<u8> = [
            &b"203.0.113.7 - - [22/Nov/2026:09:59:58 +0000] \"GET /pay?card=4111-1111-1111-1111 HTTP/1.1\" 200 12 \"-\" \"curl/8\"\r\n"[..],
            &b"\n"[..],
            &b"garbage line\n"[..],
            &b"203.0.113.8 - - [22/Nov/2026:09:59:59 +0000] \"GET /\xff HTTP/1.1\" 404 0 \"-\" \"-\"\n"[..],
            &b"203.0.113.9 - - [01/Jan/2020:00:00:00 +0000] \"GET / HTTP/1.1\" 200 0 \"-\" \"-\""[..],
        ]
        .concat();
        let batch = ingestor().ingest_lines(&combined(), &body, now(), true, None);
        assert_eq!(codes(&batch), vec![(3, "invalid_line"), (5, "timestamp_out_of_range")]);
        assert_eq!(batch.events.len(), 2);
        let event = &batch.events[0];
        assert_eq!(event.get_str("url.query"), Some("card=411111******1111"));
        assert!(!event.to_json_string().contains("4111-1111-1111-1111"));
        assert_eq!(event.get_str("payment.card.last4"), Some("1111"));
        assert_eq!(event.get_str("event.action"), Some("web_request"));
        assert_eq!(event.get_str("@timestamp"), Some("2026-11-22T09:59:58.000Z"));
        // Invalid UTF-8 is kept as U+FFFD: the line is evidence.
        assert_eq!(batch.events[1].get_str("url.path"), Some("/\u{fffd}"));
        // Replays skip the live window.
        assert_eq!(ingestor().ingest_lines(&combined(), &body, now(), false, None).events.len(), 3);
    }

    #[test]
    fn derived_ids_make_resends_recognizable() {
        let body = b"{\"event.action\":\"login\"}\n{\"event.id\":\"mine\"}\n";
        let ids = |key, offset| Some(LineIds { key, offset });
        let first = ingestor().ingest_lines(&LineFormat::Events, body, now(), true, ids(7, 0));
        let again = ingestor().ingest_lines(&LineFormat::Events, body, now(), true, ids(7, 0));
        let other = ingestor().ingest_lines(&LineFormat::Events, body, now(), true, ids(8, 0));
        assert_eq!(first.events[0].id(), again.events[0].id());
        assert_ne!(first.events[0].id(), other.events[0].id());
        assert_eq!(first.events[0].id(), derived_event_id(7, 0));
        // The second line sent on its own, at its offset, keeps its id.
        let second = br#"{"event.action":"x"}"#;
        let alone = ingestor().ingest_lines(&LineFormat::Events, second, now(), true, ids(7, 25));
        let together = ingestor().ingest_lines(&LineFormat::Events, &[&body[..25], &second[..]].concat(), now(), true, ids(7, 0));
        assert_eq!(alone.events[0].id(), together.events[1].id());
        assert_eq!(first.events[1].id(), "mine");
        let random = ingestor().ingest_lines(&LineFormat::Events, body, now(), true, None);
        assert_ne!(random.events[0].id(), first.events[0].id());
    }

    #[test]
    fn nginx_json_cards_are_masked_even_as_numbers() {
        let line = br#"{"time_iso8601":"2026-11-22T09:59:00+00:00","remote_addr":"203.0.113.7","request":"GET /?c=4111111111111111 HTTP/1.1","status":200,"card":4242424242424242}"#;
        let event = ingestor().ingest_line(&LineFormat::NginxJson, 1, line, now(), true, None).unwrap();
        let text = event.to_json_string();
        assert!(!text.contains("4111111111111111") && !text.contains("4242424242424242"), "{text}");
        assert_eq!(event.get_str("nginx.card"), Some("424242******4242"));
        // Either card may come first; its details are filled in.
        assert!(matches!(event.get_str("payment.card.bin"), Some("411111" | "424242")));
    }

    /// The number forms of issue 11, each with the card it writes.
    const NUMBER_FORMS: &[(&str, &str)] = &[
        ("4111111111111111.0", "4111111111111111"),
        ("4.111111111111111e15", "4111111111111111"),
        ("-5555555555554444", "5555555555554444"),
        ("3.782822463100050E14", "378282246310005"),
        ("4111111111111111003.0", "4111111111111111003"),
        ("4.111111111111111003e18", "4111111111111111003"),
    ];

    fn assert_no_digits_of(text: &str, pan: &str) {
        // The 16 digits a float keeps of a 19-digit card must not remain either.
        assert!(!text.contains(&pan[..pan.len().min(16)]), "{text}");
        assert!(!text.contains(&pan[1..]), "{text}");
    }

    #[test]
    fn issue_11_json_numbers_that_are_not_plain_integers_are_masked() {
        let ingestor = Ingestor::new(IngestConfig::default(), CardProtector::new(b"test key"));
        for (number, pan) in NUMBER_FORMS {
            let record = format!(r#"{{"note":{number},"list":[{number}]}}"#);
            let batches = [
                ingestor.ingest(Format::Ndjson, record.as_bytes(), now()),
                ingestor.ingest(Format::Json, format!("[{record}]").as_bytes(), now()),
                ingestor.ingest_lines(&LineFormat::Events, record.as_bytes(), now(), true, None),
            ];
            for batch in batches {
                assert_eq!(batch.errors.len(), 0, "{number}");
                let event = &batch.events[0];
                assert_no_digits_of(&event.to_json_string(), pan);
                assert_eq!(event.get_str("payment.card.last4"), Some(&pan[pan.len() - 4..]), "{number}");
                assert_eq!(event.get_str("payment.card.bin"), Some(&pan[..6]), "{number}");
            }
            let line =
                format!(r#"{{"time_iso8601":"2026-11-22T09:59:00+00:00","remote_addr":"203.0.113.7","status":200,"card":{number}}}"#);
            let event = ingestor.ingest_line(&LineFormat::NginxJson, 1, line.as_bytes(), now(), true, None).unwrap();
            assert_no_digits_of(&event.to_json_string(), pan);
            assert_eq!(event.get_str("payment.card.last4"), Some(&pan[pan.len() - 4..]), "{number}");
        }
        // Other numbers keep their type and value.
        let batch = ingestor.ingest(Format::Json, br#"{"http.response.status_code":200,"x":1.5,"y":4111111111111112.0}"#, now());
        let event = &batch.events[0];
        assert_eq!((event.get("x"), event.get("y")), (Some(&Value::from(1.5)), Some(&Value::from(4_111_111_111_111_112.0))));
    }

    #[test]
    fn issue_11_url_encoded_card_numbers_in_access_lines_are_masked() {
        for written in
            ["4111+1111+1111+1111", "4111%201111%201111%201111", "%34111111111111111", "%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31"]
        {
            let line =
                format!("203.0.113.7 - - [22/Nov/2026:09:59:58 +0000] \"GET /pay?card={written}&x=1 HTTP/1.1\" 200 12 \"-\" \"curl/8\"");
            let event = ingestor().ingest_line(&combined(), 1, line.as_bytes(), now(), true, None).unwrap();
            assert_eq!(event.get_str("url.query"), Some("card=411111******1111&x=1"), "{written}");
            assert_eq!(event.get_str("url.original"), Some("/pay?card=411111******1111&x=1"), "{written}");
            let original = event.get_str("event.original").unwrap();
            assert!(original.contains("GET /pay?card=411111******1111&x=1 HTTP"), "{original}");
            assert!(!event.to_json_string().contains(&written[..8]), "{written}");
            assert_eq!(event.get_str("payment.card.last4"), Some("1111"));
            // Sent as event JSON, the same.
            let record = format!(r#"{{"url.original":"/pay?card={written}","event.original":"GET /pay?card={written}"}}"#);
            let batch = ingestor().ingest(Format::Json, record.as_bytes(), now());
            assert_eq!(batch.events[0].get_str("url.original"), Some("/pay?card=411111******1111"));
            assert_eq!(batch.events[0].get_str("event.original"), Some("GET /pay?card=411111******1111"));
        }
    }

    #[test]
    fn issue_11_syslog_header_pan_masked() {
        let ingestor = Ingestor::new(IngestConfig::default(), CardProtector::new(b"test key"));
        let frames = [
            "<14>1 2026-11-22T09:59:00Z 4111111111111111 5555-5555-5555-4444 378282246310005 6011111111111117 - {\"a\":1}",
            "<14>Nov 22 09:59:00 4111111111111111 5555555555554444[378282246310005]: {\"a\":1}",
        ];
        for frame in frames {
            let message = crate::parse_syslog(frame.as_bytes(), now()).unwrap();
            let event = ingestor.ingest_syslog(&LineFormat::Events, &message, 1, now()).unwrap();
            let text = event.to_json_string();
            for pan in ["4111111111111111", "5555-5555-5555-4444", "5555555555554444", "378282246310005", "6011111111111117"] {
                assert!(!text.contains(pan), "{text}");
            }
            assert_eq!(event.get_str("log.syslog.hostname"), Some("411111******1111"));
            assert_eq!(event.get_str("log.syslog.appname"), Some("555555******4444"));
            assert_eq!(event.get_str("log.syslog.procid"), Some("378282*****0005"));
            assert_eq!(event.get_str("payment.card.last4"), Some("1111"));
            assert_eq!(event.get("log.syslog.severity.code"), Some(&Value::from(6)));
        }
        let message = crate::parse_syslog(frames[0].as_bytes(), now()).unwrap();
        let event = ingestor.ingest_syslog(&LineFormat::Events, &message, 1, now()).unwrap();
        assert_eq!(event.get_str("log.syslog.msgid"), Some("601111******1117"));
    }

    #[test]
    fn reject_samples_are_bounded() {
        let mut sample = RejectSample::default();
        for line in 0..100 {
            sample.add(RecordError { line, code: ErrorCode::InvalidLine, message: "x".into() });
        }
        assert_eq!(sample.total(), 100);
        assert_eq!(sample.samples.len(), RejectSample::KEEP);
    }

    #[test]
    fn error_messages_never_quote_card_numbers() {
        let batch = ingestor().ingest(Format::Ndjson, b"{\"source.ip\":\"4111111111111111\"}\n{\"4111111111111111\":\n", now());
        assert_eq!(batch.errors.len(), 2);
        for error in &batch.errors {
            assert!(!error.message.contains("4111111111111111"), "{}", error.message);
        }
    }
}
