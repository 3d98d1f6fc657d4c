//! Typed errors of the store.

use std::path::PathBuf;

use thiserror::Error;

/// What went wrong in a store operation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file cannot be opened or migrated.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: BackendError,
    },
    /// The database was written by a newer Rampart.
    #[error("the store has schema version {found}; this Rampart knows up to {known}: upgrade Rampart")]
    NewerSchema {
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The back end's database failed (an SQL statement, a full disk, a busy file).
    #[error("database error: {0}")]
    Database(#[from] BackendError),
    /// A stored row could not be read back.
    #[error("stored event {key} is corrupt: {reason}")]
    Corrupt {
        /// The row key.
        key: i64,
        /// What is wrong.
        reason: String,
    },
    /// A search cursor that this store did not hand out.
    #[error("invalid cursor: pass back the next_cursor of an earlier page")]
    BadCursor,
    /// A token name that is already taken.
    #[error("a token named `{0}` exists already (names stay taken after revocation)")]
    TokenExists(String),
    /// A batch could not be committed; nothing of it was stored.
    #[error("the batch could not be committed: {0}")]
    Commit(String),
    /// A stored alert could not be read back.
    #[error("stored alert {id} is corrupt: {reason}")]
    CorruptAlert {
        /// The alert id (or row number, for a row without one).
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// No alert has this id.
    #[error("there is no alert `{0}`")]
    AlertNotFound(String),
    /// The alert's status does not allow the change.
    #[error("cannot {action} alert `{id}`: it is {status}; {rule}")]
    InvalidTransition {
        /// The alert id.
        id: String,
        /// The verb asked for (`acknowledge`, `close`, `reopen`).
        action: &'static str,
        /// The alert's status.
        status: &'static str,
        /// What the change needs.
        rule: &'static str,
    },
    /// The writer thread has stopped (the store is closing).
    #[error("the store is shutting down")]
    Closed,
}

/// An error of a back end's database, its message and causes kept but not its type, so that
/// callers of the store depend on no back end.
#[derive(Debug)]
pub struct BackendError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl BackendError {
    /// Wraps a back end's own error.
    pub(crate) fn new(error: impl std::error::Error + Send + Sync + 'static) -> BackendError {
        BackendError(Box::new(error))
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
