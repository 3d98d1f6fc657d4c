//! Where `replay` and `ingest --follow` deliver lines: the data directory, or a running server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rampart_detect::{Detector, RuleMatch, Scratch};
use rampart_ingest::{BodyLine, ErrorCode, Ingestor, LineFormat, LineIds, RecordError, body_lines, derived_event_id, may_contain_pan};
use rampart_model::{Detection, FieldSource};
use rampart_server::{RuleCount, store_and_detect};
use rampart_store::SqliteStore;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::cmd::serve;
use crate::config::Config;
use rampart_sim::label_of;

/// A destination for batches of log lines.
pub enum Sink {
    /// Parse here and append to the data directory's store.
    Local { state: rampart_server::AppState, store: Arc<SqliteStore> },
    /// Detection only: lines are parsed and matched, nothing is stored (`replay --no-store`).
    DetectOnly { ingestor: Arc<Ingestor>, detector: Arc<Detector> },
    /// `POST /v1/logs/{format}` to a server, which parses with its own key and formats.
    Remote { url: String, token: String },
}

/// What one batch became.
#[derive(Debug, Default, Deserialize)]
pub struct Delivered {
    pub accepted: usize,
    pub duplicates: usize,
    #[serde(default)]
    pub errors: Vec<RecordError>,
    /// Refused lines (the server lists at most 100 in `errors`).
    pub rejected: usize,
    /// New alerts by rule.
    #[serde(default)]
    pub alerts_by_rule: Vec<RuleCount>,
    /// Open alerts that took repeats in.
    #[serde(default)]
    pub alerts_updated: usize,
    /// What the rules detected (not over HTTP: a server keeps its detections).
    #[serde(skip)]
    pub detections: Vec<Detection>,
    /// Ground truth of generated traffic: (event id, family, source address) of each labelled
    /// event (not over HTTP).
    #[serde(skip)]
    pub labelled: Vec<(String, String, Option<String>)>,
}

impl Sink {
    /// The data directory of `config`, or the server at `to` with `token`.
    pub fn open(config: &Config, to: Option<String>, token: Option<String>) -> Result<Sink> {
        match to {
            Some(url) => {
                let token = token.or_else(|| std::env::var("RAMPART_TOKEN").ok()).context("--to needs --token (or RAMPART_TOKEN)")?;
                Ok(Sink::Remote { url: url.trim_end_matches('/').to_owned(), token })
            }
            None => {
                let (store, state) = serve::open(config)?;
                // Windows left by the last run (a server's, or `ingest --follow`'s) carry on.
                rampart_server::restore_correlation_state(&state)?;
                Ok(Sink::Local { store, state })
            }
        }
    }

    /// Delivers `body` (lines in `format`), which starts at byte `offset` of the source `key`
    /// names: each line's event id derives from the key and its offset, so delivering a line
    /// again stores nothing twice, however the source is cut into batches. `live: false` keeps
    /// old timestamps (replays).
    /// A sink that only matches (`replay --no-store`): no data directory is opened.
    pub fn detect_only(config: &Config) -> Result<Sink> {
        // Card fingerprints are never stored here: a key for this run alone will do.
        let key: [u8; 32] = rand::random();
        let ingestor =
            Ingestor::new(config.ingest.clone(), rampart_ingest::CardProtector::new(&key)).with_client_ip(config.client_ip.clone());
        Ok(Sink::DetectOnly { ingestor: Arc::new(ingestor), detector: serve::load_detector(config)? })
    }

    pub fn send(&self, format: &LineFormat, body: &[u8], key: &str, offset: u64, live: bool) -> Result<Delivered> {
        match self {
            Sink::Local { state, .. } => {
                let ids = LineIds { key: xxhash_rust::xxh3::xxh3_64(key.as_bytes()), offset };
                let batch = state.ingestor.ingest_lines(format, body, OffsetDateTime::now_utc(), live, Some(ids));
                let labelled = batch.events.iter().filter_map(|event| labelled(event, event.id())).collect();
                let stored = store_and_detect(state, batch.events)?;
                let rejected = batch.errors.len();
                Ok(Delivered {
                    accepted: stored.outcome.stored,
                    duplicates: stored.outcome.duplicates,
                    errors: batch.errors,
                    rejected,
                    alerts_by_rule: stored.alerts,
                    alerts_updated: stored.alerts_updated,
                    detections: stored.detections,
                    labelled,
                })
            }
            Sink::DetectOnly { ingestor, detector } => {
                let ids = LineIds { key: xxhash_rust::xxh3::xxh3_64(key.as_bytes()), offset };
                Ok(detect_lines(ingestor, detector, format, body, live, ids))
            }
            Sink::Remote { url, token } => post_lines(url, token, format.name(), body, key, offset, live),
        }
    }

    /// The end of the input: closes every correlation window still open (conditions decided at
    /// close, `lt`/`neq`) and delivers what that detects.
    pub fn finish(&self) -> Result<Delivered> {
        let end = OffsetDateTime::now_utc() + time::Duration::days(366);
        match self {
            Sink::Local { state, .. } => {
                let detections = state.detector.expire(end);
                let stored = rampart_server::store_detections(state, &detections)?;
                Ok(Delivered { alerts_by_rule: stored.alerts, alerts_updated: stored.alerts_updated, detections, ..Delivered::default() })
            }
            Sink::DetectOnly { detector, .. } => {
                let detections = detector.expire(end);
                Ok(Delivered { alerts_by_rule: tally(&detections), detections, ..Delivered::default() })
            }
            // A server closes its windows by its own clock.
            Sink::Remote { .. } => Ok(Delivered::default()),
        }
    }

    /// Commits whatever the local store still queues.
    pub fn close(self) -> Result<()> {
        if let Sink::Local { store, state } = self {
            rampart_server::save_correlation_state(&state)?;
            drop(state);
            store.close();
        }
        Ok(())
    }
}

/// Detections counted by rule, as ingest answers count new alerts.
fn tally(detections: &[Detection]) -> Vec<RuleCount> {
    RuleCount::tally(detections.iter().map(|d| (d.rule.id.as_str(), d.rule.title.as_str(), d.rule.level.as_str())))
}

/// The ground truth of a labelled event: (event id, family, source address).
fn labelled<S: FieldSource + ?Sized>(event: &S, id: &str) -> Option<(String, String, Option<String>)> {
    label_of(event).map(|(family, source)| (id.to_owned(), family, source))
}

/// Parses and matches a body without storing it, correlations included. Access-log lines are
/// matched as parsed records (no event is built); lines that may hold a card number, and JSON
/// formats, go through the full ingest path so that nothing unmasked reaches a match. Event ids
/// derive from `ids` as the store's would, so evidence names the same events either way.
fn detect_lines(ingestor: &Ingestor, detector: &Detector, format: &LineFormat, body: &[u8], live: bool, ids: LineIds) -> Delivered {
    let rules = detector.rules();
    let mut scratch = Scratch::default();
    let mut matches: Vec<RuleMatch> = Vec::new();
    let mut delivered = Delivered::default();
    let now = OffsetDateTime::now_utc();
    for BodyLine { number: line, bytes: raw, offset } in body_lines(body) {
        matches.clear();
        let id = derived_event_id(ids.key, ids.offset.saturating_add(offset));
        let fast = match (format, std::str::from_utf8(raw)) {
            (LineFormat::Text(text_format), Ok(text)) if !may_contain_pan(raw) && raw.len() <= ingestor.config().max_line_bytes => {
                Some(text_format.parse_line(text).map(|mut record| {
                    record.resolve_client(ingestor.client_ip());
                    rules.engine.evaluate(&record, &mut scratch, &mut matches);
                    let time =
                        record.timestamp_ms.and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok());
                    detector.observe_record(&record, &id, time.unwrap_or(now), &matches, now, &mut delivered.detections);
                    delivered.labelled.extend(labelled(&record, &id));
                }))
            }
            _ => None,
        };
        match fast {
            Some(Ok(())) => delivered.accepted += 1,
            Some(Err(error)) => delivered.errors.push(RecordError { line, code: ErrorCode::InvalidLine, message: error.reason }),
            None => match ingestor.ingest_line(format, line, raw, now, live, Some(id.clone())) {
                Ok(event) => {
                    rules.engine.evaluate(&event, &mut scratch, &mut matches);
                    detector.observe_record(&event, event.id(), event.timestamp(), &matches, now, &mut delivered.detections);
                    delivered.labelled.extend(labelled(&event, event.id()));
                    delivered.accepted += 1;
                }
                Err(error) => delivered.errors.push(error),
            },
        }
    }
    delivered.rejected = delivered.errors.len();
    delivered.alerts_by_rule = tally(&delivered.detections);
    delivered
}

fn post_lines(url: &str, token: &str, format: &str, body: &[u8], key: &str, offset: u64, live: bool) -> Result<Delivered> {
    let endpoint = format!("{url}/v1/logs/{format}?offset={offset}{}", if live { "" } else { "&replay=true" });
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=5 {
        let response = ureq::post(&endpoint)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "text/plain")
            .header("Idempotency-Key", key)
            .config()
            .http_status_as_error(false)
            .build()
            .send(body);
        match response {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                match status {
                    202 | 400 if text.contains("\"accepted\"") => {
                        return serde_json::from_str(&text)
                            .with_context(|| format!("{endpoint} answered {status} with an unexpected body"));
                    }
                    500.. if attempt < 5 => {}
                    _ => bail!("{endpoint} answered {status}: {}", text.chars().take(300).collect::<String>()),
                }
            }
            Err(error) if attempt < 5 => tracing::warn!(error = %error, attempt, "cannot reach the server; retrying"),
            Err(error) => return Err(error).with_context(|| format!("cannot reach {endpoint}")),
        }
        std::thread::sleep(delay);
        delay *= 2;
    }
    bail!("{endpoint} kept failing")
}
