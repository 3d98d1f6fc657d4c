//! The ingestion pipeline: records → masked, validated events, with the live-time window.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use rampart_model::{Event, FieldError, fields, format_timestamp};

use crate::body::Format;
use crate::error::{BodyError, ErrorCode, RecordError};
use crate::json::split_records;
use crate::pan::CardProtector;

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
}

impl Ingestor {
    /// An ingestor with these limits, masking cards with `cards`.
    pub fn new(config: IngestConfig, cards: CardProtector) -> Ingestor {
        Ingestor { config, cards }
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
        let mut event = Event::from_json_at(record, now).map_err(|error| field_error(line, &error))?;
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

    #[test]
    fn error_messages_never_quote_card_numbers() {
        let batch = ingestor().ingest(Format::Ndjson, b"{\"source.ip\":\"4111111111111111\"}\n{\"4111111111111111\":\n", now());
        assert_eq!(batch.errors.len(), 2);
        for error in &batch.errors {
            assert!(!error.message.contains("4111111111111111"), "{}", error.message);
        }
    }
}
