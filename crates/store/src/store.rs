//! The backend-neutral store interface and its request and answer types.

use rampart_model::{Alert, AlertStatus, AlertTransition, Detection, EntityKind, Event, Query, Role};
pub use rampart_model::{AlertAction, AlertChange};
use time::OffsetDateTime;

use crate::error::StoreError;

/// The most events one search page returns.
pub const MAX_SEARCH_LIMIT: usize = 1000;

/// Where Rampart keeps its state: one store per aggregate, together. Every method blocks; async
/// callers use a blocking pool. A back end implements each aggregate's trait and this one; the
/// aggregates' methods are called with their trait in scope (`use rampart_store::EventStore`).
pub trait Store: EventStore + AlertStore + TokenStore + SnapshotStore + Send + Sync + std::fmt::Debug {
    /// Checks that the store accepts writes (for `/readyz`).
    fn check_writable(&self) -> Result<(), StoreError>;
}

/// The events: appended once (duplicates recognized), searched, purged by age.
pub trait EventStore: Send + Sync {
    /// Stores events durably. Returns once they are committed. Events whose `event.id` was
    /// stored within the de-duplication window are counted as duplicates and not stored again.
    fn append(&self, events: Vec<Event>) -> Result<AppendOutcome, StoreError>;

    /// Events matching a query, newest first.
    fn search(&self, request: &SearchRequest) -> Result<SearchPage, StoreError>;

    /// Deletes events older than `cutoff`; returns how many. Runs in small steps so appends
    /// are not held up.
    fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError>;

    /// Number of stored events.
    fn count_events(&self) -> Result<u64, StoreError>;
}

/// The alerts and their transitions. What folding and a transition do is decided by
/// [`rampart_model::fold`] and [`rampart_model::transition`]; a back end looks up, calls them in
/// its own transaction and persists what they decide.
pub trait AlertStore: Send + Sync {
    /// Folds detections into alerts, in one transaction. A detection whose suppression key has
    /// an alert that is not closed, and whose events lie within `suppression` of that alert's,
    /// updates it (`updated`); one whose evidence events are all already behind an alert of
    /// its key is a resend and changes nothing; any other makes a new open alert (`created`),
    /// whose id derives from the key and its first event, so a retried batch creates nothing
    /// twice. Returns one change per alert created or updated, in order of first change; each
    /// also gets one transition, however many detections it took in.
    fn record_detections(&self, detections: &[Detection], suppression: time::Duration) -> Result<Vec<AlertChange>, StoreError>;

    /// Alerts, newest first (the most recently raised first).
    fn list_alerts(&self, request: &AlertRequest) -> Result<AlertPage, StoreError>;

    /// An alert and its transitions, oldest first.
    fn get_alert(&self, id: &str) -> Result<Option<(Alert, Vec<AlertTransition>)>, StoreError>;

    /// An analyst's change of an alert's status, recorded as a transition by `actor` at `at`.
    /// Fails with [`StoreError::AlertNotFound`] or [`StoreError::InvalidTransition`].
    fn transition_alert(
        &self,
        id: &str,
        action: AlertAction,
        actor: &str,
        note: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<Alert, StoreError>;

    /// Transitions of every alert in the order they were written (for SOC metrics).
    fn alert_transitions(&self, request: &TransitionRequest) -> Result<TransitionPage, StoreError>;

    /// The stored events behind an alert (those its `evidence` lists), oldest first. Events
    /// that retention has deleted are missing. `None` if there is no such alert.
    fn evidence_events(&self, alert_id: &str) -> Result<Option<Vec<Event>>, StoreError>;
}

/// The API tokens (their hashes only).
pub trait TokenStore: Send + Sync {
    /// Saves a new API token (its hash only).
    fn create_token(&self, token: NewToken) -> Result<(), StoreError>;

    /// All tokens, revoked and expired ones included, oldest first.
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes a token by name; `false` if there is none by that name.
    fn revoke_token(&self, name: &str) -> Result<bool, StoreError>;

    /// The token with this SHA-256 hash, if any (whatever its state).
    fn find_token(&self, hash: &[u8; 32]) -> Result<Option<TokenInfo>, StoreError>;
}

/// Snapshots of in-memory state (the correlation windows), by name.
pub trait SnapshotStore: Send + Sync {
    /// Saves a snapshot of in-memory state (the correlation windows) under `name`, replacing
    /// the previous one, so a restart resumes where it stopped.
    fn save_snapshot(&self, name: &str, body: &[u8]) -> Result<(), StoreError>;

    /// The snapshot saved under `name`, with when it was saved; `None` if there is none.
    fn load_snapshot(&self, name: &str) -> Result<Option<(OffsetDateTime, Vec<u8>)>, StoreError>;
}

/// A page of alerts to read; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct AlertRequest {
    /// Only alerts of this rule id.
    pub rule_id: Option<String>,
    /// Only alerts of this level.
    pub level: Option<String>,
    /// Only alerts naming this entity value (of this kind, if given).
    pub entity: Option<(Option<EntityKind>, String)>,
    /// Only alerts in this status.
    pub status: Option<AlertStatus>,
    /// Only alerts whose last event is at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Only alerts whose last event is at or before this time.
    pub to: Option<OffsetDateTime>,
    /// Page size, 1..=[`MAX_SEARCH_LIMIT`].
    pub limit: usize,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of alerts.
#[derive(Debug, Clone, Default)]
pub struct AlertPage {
    /// Alerts, newest first.
    pub items: Vec<Alert>,
    /// Pass back to continue; `None` at the end.
    pub next_cursor: Option<String>,
}

/// A page of transitions to read, oldest first.
#[derive(Debug, Clone, Default)]
pub struct TransitionRequest {
    /// Only transitions at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Only transitions at or before this time.
    pub to: Option<OffsetDateTime>,
    /// Page size, 1..=[`MAX_SEARCH_LIMIT`].
    pub limit: usize,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of transitions.
#[derive(Debug, Clone, Default)]
pub struct TransitionPage {
    /// Transitions in the order they were written.
    pub items: Vec<AlertTransition>,
    /// Pass back to continue; `None` at the end.
    pub next_cursor: Option<String>,
}

/// What an append did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Events newly stored.
    pub stored: usize,
    /// Events skipped because their `event.id` was already stored.
    pub duplicates: usize,
    /// Positions (in the appended batch) of those duplicates, ascending: detection must not
    /// count a resent event again.
    pub duplicate_positions: Vec<usize>,
}

impl AppendOutcome {
    /// Whether the event at `position` of the batch was newly stored.
    pub fn is_new(&self, position: usize) -> bool {
        self.duplicate_positions.binary_search(&position).is_err()
    }
}

/// A search: query, time range, page size and where to continue.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The terms that must hold.
    pub query: Query,
    /// Earliest event time (inclusive).
    pub from: Option<OffsetDateTime>,
    /// Latest event time (inclusive).
    pub to: Option<OffsetDateTime>,
    /// Page size, 1..=[`MAX_SEARCH_LIMIT`].
    pub limit: usize,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl SearchRequest {
    /// A search over all time, 100 per page.
    pub fn new(query: Query) -> SearchRequest {
        SearchRequest { query, from: None, to: None, limit: 100, cursor: None }
    }
}

/// One page of search results.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    /// Matching events, newest first.
    pub items: Vec<Event>,
    /// Pass back to continue; `None` when the search is complete.
    pub next_cursor: Option<String>,
}

/// A token to create. The secret itself never reaches the store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Unique name.
    pub name: String,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
    /// What it may do.
    pub role: Role,
    /// When it stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Unique name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl TokenInfo {
    /// Whether the token works at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| t > now)
    }
}
