//! Rampart's ingestion stage: from bytes on the wire to validated, card-safe [`Event`]s.
//!
//! **Owns:** decoding request bodies ([`decode_body`]: gzip with a cap on the decompressed
//! size), splitting them into records ([`Format`]: a JSON object or array, NDJSON), masking card
//! numbers ([`CardProtector`]: every 13–19 digit Luhn-valid sequence with a card-scheme prefix
//! becomes `first6******last4`, and a keyed HMAC-SHA256 fingerprint is kept), and the checks
//! that make a record an [`Event`] ([`Ingestor`]: field types, the live-time window). It also owns
//! the file source: [`Follower`] tails a log file across rotations and restarts and hands out each
//! line once with a stable (file, offset) position, grouped into [`LineBatch`]es.
//!
//! **Must not touch:** storage, HTTP, detection. Nothing here logs record content (the file
//! source logs paths and offsets only).
//!
//! **Flow:** `body bytes → decode_body → Ingestor::ingest (split, mask_pans, Event::from_json,
//! time window) → Batch { events, errors }`; the server stores `events` and answers with the
//! counts and `errors`.
//!
//! ```
//! use rampart_ingest::{CardProtector, Format, IngestConfig, Ingestor};
//!
//! let ingestor = Ingestor::new(IngestConfig::default(), CardProtector::new(&[7u8; 32]));
//! let body = br#"{"event.action":"payment_attempt","note":"card 4111 1111 1111 1111"}"#;
//! let batch = ingestor.ingest(Format::Json, body, time::OffsetDateTime::now_utc());
//! assert_eq!(batch.events.len(), 1);
//! assert_eq!(batch.events[0].get_str("note"), Some("card 411111******1111"));
//! assert_eq!(batch.events[0].get_str("payment.card.last4"), Some("1111"));
//! ```
#![deny(missing_docs)]

mod access;
mod body;
mod client_ip;
mod csp;
mod error;
mod file_source;
mod json;
mod json_numbers;
mod pan;
mod pipeline;
mod syslog;

pub use access::{
    ACCESS_LOG_DATASET, AccessLogError, AccessRecord, BUILTIN_FORMATS, LineError, LineFormat, LogFormat, LogFormats, OtherValue,
    TRUTH_FORMAT, Variable, parse_json_line, record_from_json,
};
pub use body::{Format, decode_body};
pub use client_ip::{ClientIpResolver, ClientIpSource, ResolvedClient};
pub use csp::{CspError, CspLimits, CspOutcome, parse_csp_reports, valid_site};
pub use error::{BodyError, ErrorCode, RecordError};
pub use file_source::{
    FINGERPRINT_MAX_BYTES, FileIdentity, FollowError, FollowOptions, Follower, Line, LineBatch, StartAt, state_file_name,
};
pub use json::count_records;
pub use json_numbers::{quote_card_numbers, quote_card_numbers_str};
pub use pan::{CardProtector, MaskedPan, mask_pans, may_contain_pan};
pub use pipeline::{Batch, BodyLine, IngestConfig, Ingestor, LineIds, RejectSample, body_lines, derived_event_id};
pub use syslog::{FrameDecoder, FrameError, SyslogError, SyslogFormat, SyslogMessage, parse_syslog};
