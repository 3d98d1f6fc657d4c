//! The backend-neutral store interface and its request and answer types.

use rampart_model::{Alert, Event, Query, Role};
use time::OffsetDateTime;

use crate::error::StoreError;

/// The most events one search page returns.
pub const MAX_SEARCH_LIMIT: usize = 1000;

/// Where Rampart keeps its state. Every method blocks; async callers use a blocking pool.
pub trait Store: Send + Sync + std::fmt::Debug {
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

    /// Checks that the store accepts writes (for `/readyz`).
    fn check_writable(&self) -> Result<(), StoreError>;

    /// Saves a new API token (its hash only).
    fn create_token(&self, token: NewToken) -> Result<(), StoreError>;

    /// All tokens, revoked and expired ones included, oldest first.
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes a token by name; `false` if there is none by that name.
    fn revoke_token(&self, name: &str) -> Result<bool, StoreError>;

    /// The token with this SHA-256 hash, if any (whatever its state).
    fn find_token(&self, hash: &[u8; 32]) -> Result<Option<TokenInfo>, StoreError>;

    /// Stores alerts in one transaction; one whose id is already stored is skipped. Returns the
    /// positions (in `alerts`) of those that were new.
    fn append_alerts(&self, alerts: &[Alert]) -> Result<Vec<usize>, StoreError>;

    /// Alerts, newest first.
    fn list_alerts(&self, request: &AlertRequest) -> Result<AlertPage, StoreError>;
}

/// A page of alerts to read.
#[derive(Debug, Clone, Default)]
pub struct AlertRequest {
    /// Only alerts of this rule id.
    pub rule_id: Option<String>,
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

/// What an append did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Events newly stored.
    pub stored: usize,
    /// Events skipped because their `event.id` was already stored.
    pub duplicates: usize,
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
