//! Where `replay` and `ingest --follow` deliver lines: the data directory, or a running server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rampart_ingest::{LineFormat, LineIds, RecordError};
use rampart_store::{SqliteStore, Store};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::cmd::serve;
use crate::config::Config;

/// A destination for batches of log lines.
pub enum Sink {
    /// Parse here and append to the data directory's store.
    Local { store: Arc<SqliteStore>, ingestor: Arc<rampart_ingest::Ingestor> },
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
                Ok(Sink::Local { store, ingestor: state.ingestor })
            }
        }
    }

    /// Delivers `body` (lines in `format`), which starts at byte `offset` of the source `key`
    /// names: each line's event id derives from the key and its offset, so delivering a line
    /// again stores nothing twice, however the source is cut into batches. `live: false` keeps
    /// old timestamps (replays).
    pub fn send(&self, format: &LineFormat, body: &[u8], key: &str, offset: u64, live: bool) -> Result<Delivered> {
        match self {
            Sink::Local { store, ingestor } => {
                let ids = LineIds { key: xxhash_rust::xxh3::xxh3_64(key.as_bytes()), offset };
                let batch = ingestor.ingest_lines(format, body, OffsetDateTime::now_utc(), live, Some(ids));
                let outcome = if batch.events.is_empty() { Default::default() } else { store.append(batch.events)? };
                let rejected = batch.errors.len();
                Ok(Delivered { accepted: outcome.stored, duplicates: outcome.duplicates, errors: batch.errors, rejected })
            }
            Sink::Remote { url, token } => post_lines(url, token, format.name(), body, key, offset, live),
        }
    }

    /// Commits whatever the local store still queues.
    pub fn close(self) -> Result<()> {
        if let Sink::Local { store, .. } = self {
            store.close();
        }
        Ok(())
    }
}

/// Sends a batch, retrying connection failures and 5xx answers (safe: the batch is keyed).
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
