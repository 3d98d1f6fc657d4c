//! Rampart's storage: backend-neutral traits, one per aggregate ([`EventStore`], [`AlertStore`],
//! [`TokenStore`], [`SnapshotStore`], together a [`Store`]), and the embedded SQLite back end.
//! Their errors ([`StoreError`]) carry no back-end types: a database's own error is a
//! [`BackendError`], its message kept.
//!
//! **Owns:** durable events (an append is acknowledged only once committed), their search
//! ([`SearchRequest`] → [`SearchPage`], newest first, with a cursor), retention, retry
//! de-duplication by `event.id`, API tokens (stored as hashes only), and alerts with their
//! lifecycle: detections folded into alerts within a suppression window
//! ([`AlertStore::record_detections`]), status changes ([`AlertStore::transition_alert`]) and the
//! append-only transitions SOC metrics are computed from. What folding and a transition do is
//! decided by pure functions of `rampart-model` ([`rampart_model::fold`],
//! [`rampart_model::transition`]); a back end looks up, calls them inside its transaction and
//! persists what they decide. The PostgreSQL back end will implement the same traits.
//!
//! **Must not touch:** parsing, masking or HTTP. Events arrive already validated and masked.
//!
//! **Flow:** callers hand batches to [`EventStore::append`]; the SQLite back end funnels them into
//! one writer thread that commits many callers' batches in one transaction (group commit) and
//! answers each caller after the commit. Every other write (alerts, transitions, tokens,
//! snapshots) runs on that thread's connection too, between commits, and every write
//! transaction takes the write lock first (`BEGIN IMMEDIATE`, 10 s busy timeout), so no write
//! fails because another is under way; pooled reader connections are query-only. Rows are
//! keyed by time (`ms << 20 | id hash`), so time ranges are key ranges and no time index is
//! needed; a millisecond whose 2^20 keys are taken lends its further events the keys of the
//! milliseconds after it (the key lag, recorded and allowed for by searches), so any number of
//! events can share a millisecond. Exact search on entity fields
//! ([`rampart_model::fields::ENTITY_FIELDS`]) goes through a side index of 64-bit term hashes,
//! one table per day, written sorted in the same transaction and dropped whole by retention.
//!
//! **Memory:** SQLite's page caches are bounded: 64 MiB for the writer, 2 MiB for each of at
//! most 16 reader connections (a read waits for one when all are in use).
//!
//! **Durability:** WAL mode. With `synchronous = normal` (the default) a committed batch
//! survives a killed process but the last commits before a power cut or kernel crash may be
//! lost; `synchronous = full` also survives those, at the price of an fsync per commit.
//!
//! ```
//! use rampart_model::{Event, Query};
//! use rampart_store::{EventStore, SearchRequest, SqliteOptions, SqliteStore};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqliteStore::open(&dir.path().join("rampart.db"), SqliteOptions::default()).unwrap();
//! let event = Event::from_json(serde_json::json!({"event.id": "e1", "source.ip": "192.0.2.1"})).unwrap();
//! let outcome = store.append(vec![event.clone(), event]).unwrap();
//! assert_eq!((outcome.stored, outcome.duplicates), (1, 1));
//! let page = store.search(&SearchRequest::new(Query::parse("source.ip:192.0.2.0/24").unwrap())).unwrap();
//! assert_eq!(page.items.len(), 1);
//! ```
#![deny(missing_docs)]

mod error;
mod metrics;
mod sqlite;
mod store;

pub use error::{BackendError, StoreError};
pub use metrics::StoreMetrics;
pub use sqlite::SqliteStore;
pub use sqlite::{SqliteOptions, Synchronous};
pub use store::{
    AlertAction, AlertChange, AlertPage, AlertRequest, AlertStore, AppendOutcome, EventStore, MAX_SEARCH_LIMIT, NewToken, SearchPage,
    SearchRequest, SnapshotStore, Store, TokenInfo, TokenStore, TransitionPage, TransitionRequest,
};
