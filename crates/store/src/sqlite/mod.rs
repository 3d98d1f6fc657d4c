//! The embedded SQLite back end: one writer thread, a pool of readers, WAL mode.

mod alerts;
mod schema;
mod search;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rampart_model::{Alert, AlertTransition, Detection, Event, Role};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use time::OffsetDateTime;

use crate::error::{BackendError, StoreError};
use crate::metrics::StoreMetrics;
use crate::store::{
    AlertAction, AlertChange, AlertPage, AlertRequest, AlertStore, AppendOutcome, EventStore, NewToken, SearchPage, SearchRequest,
    SnapshotStore, Store, TokenInfo, TokenStore, TransitionPage, TransitionRequest,
};
use writer::{Command, Writer};

/// Page cache of each pooled reader connection, in KiB (SQLite's default size, set on purpose:
/// with at most [`MAX_READERS`] of them, readers hold at most 32 MiB of cache).
const READER_CACHE_KIB: u32 = 2048;
/// Page cache of the writer's connection, in KiB: the hot corner of the events table and of
/// the day's term index stay cached, which keeps appends fast.
const WRITER_CACHE_KIB: u32 = 65_536;
/// Reader connections open at most; a read waits for one when all are in use.
const MAX_READERS: usize = 16;

/// How SQLite syncs commits to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Survives a killed process; the last commits may be lost in a power cut or kernel crash.
    #[default]
    Normal,
    /// Survives power cuts too: an fsync per commit.
    Full,
}

/// Settings of the SQLite back end (`[store]` in `rampart.toml`).
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Commit durability.
    pub synchronous: Synchronous,
    /// How long a stored `event.id` makes a resend a duplicate.
    pub dedup_window: Duration,
    /// Most events one transaction commits.
    pub max_batch_events: usize,
    /// Appends that may wait for the writer before senders block (back-pressure).
    pub queue_capacity: usize,
    /// Metrics to update.
    pub metrics: StoreMetrics,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Normal,
            dedup_window: Duration::from_secs(86_400),
            max_batch_events: 20_000,
            queue_capacity: 1024,
            metrics: StoreMetrics::default(),
        }
    }
}

/// Reader connections: those not in use, and how many are open.
#[derive(Default)]
struct ReaderPool {
    idle: Vec<Connection>,
    open: usize,
}

/// The embedded store: a single SQLite file in WAL mode.
pub struct SqliteStore {
    path: PathBuf,
    commands: Mutex<Option<SyncSender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<ReaderPool>,
    reader_free: Condvar,
    metrics: StoreMetrics,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// SQLite's errors reach callers as a [`BackendError`]: its message, not its type.
impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::Database(BackendError::new(error))
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrates it and starts the writer.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let open_error = |source: rusqlite::Error| StoreError::Open { path: path.to_owned(), source: BackendError::new(source) };
        let mut conn = Connection::open(path).map_err(open_error)?;
        let synchronous = match options.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000;
             PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA temp_store = MEMORY;"
        ))
        .map_err(open_error)?;
        schema::migrate(&mut conn)?;
        restrict_permissions(path);

        let (sender, receiver) = sync_channel(options.queue_capacity.max(1));
        let term_days = schema::term_days(&conn)?.into_iter().collect();
        let keys = writer::KeySpace::new(schema::key_lag(&conn)?);
        let writer = Writer {
            conn,
            term_days,
            keys,
            dedup_window_ms: i64::try_from(options.dedup_window.as_millis()).unwrap_or(i64::MAX / 2),
            max_batch_events: options.max_batch_events.max(1),
            metrics: options.metrics.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("rampart-store-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| StoreError::Commit(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            path: path.to_owned(),
            commands: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            readers: Mutex::new(ReaderPool::default()),
            reader_free: Condvar::new(),
            metrics: options.metrics,
        })
    }

    /// Waits for every queued append to commit, then stops the writer. Later calls fail with
    /// [`StoreError::Closed`].
    pub fn close(&self) {
        if let Ok(mut commands) = self.commands.lock() {
            commands.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn send<T>(&self, make: impl FnOnce(writer::Reply<T>) -> Command) -> Result<T, StoreError> {
        let sender = self.commands.lock().map_err(|_| StoreError::Closed)?.clone().ok_or(StoreError::Closed)?;
        let (reply, answer) = sync_channel(1);
        sender.send(make(reply)).map_err(|_| StoreError::Closed)?;
        answer.recv().map_err(|_| StoreError::Closed)?
    }

    /// Runs a write on the writer thread's connection, between group commits: the one writer
    /// of this process. Its transactions take the write lock first (`BEGIN IMMEDIATE`).
    fn write<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.send(|reply| Command::Run {
            job: Box::new(move |conn: &mut Connection| {
                let _ = reply.send(job(conn));
            }),
        })
    }

    /// Runs `f` on a pooled read-only connection (searches, listings, look-ups).
    fn with_connection<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.take_reader()?;
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            pool.idle.push(conn);
        }
        self.reader_free.notify_one();
        result
    }

    /// An idle reader, a new one while fewer than [`MAX_READERS`] are open, else the next one
    /// handed back: the readers' page caches are bounded however many requests read at once.
    fn take_reader(&self) -> Result<Connection, StoreError> {
        let mut pool = self.readers.lock().map_err(|_| StoreError::Closed)?;
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(conn);
            }
            if pool.open < MAX_READERS {
                pool.open += 1;
                drop(pool);
                let opened = self.open_reader();
                if opened.is_err()
                    && let Ok(mut pool) = self.readers.lock()
                {
                    pool.open -= 1;
                }
                return opened;
            }
            pool = self.reader_free.wait(pool).map_err(|_| StoreError::Closed)?;
        }
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|source| StoreError::Open { path: self.path.clone(), source: BackendError::new(source) })?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // Readers never write: every write goes through the writer thread.
        conn.execute_batch(&format!("PRAGMA query_only = ON; PRAGMA cache_size = -{READER_CACHE_KIB};"))?;
        Ok(conn)
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl EventStore for SqliteStore {
    fn append(&self, events: Vec<Event>) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        let count = events.len() as i64;
        self.metrics.queue_depth.inc_by(count);
        let result = self.send(|reply| Command::Append { events, reply });
        if matches!(result, Err(StoreError::Closed)) {
            self.metrics.queue_depth.dec_by(count);
        }
        result
    }

    fn search(&self, request: &SearchRequest) -> Result<SearchPage, StoreError> {
        self.with_connection(|conn| search::search(conn, request))
    }

    fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        let cutoff_key = schema::key_floor(cutoff);
        self.send(|reply| Command::Purge { cutoff_key, reply })
    }

    fn count_events(&self) -> Result<u64, StoreError> {
        self.with_connection(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM events", [], |row| row.get::<_, i64>(0))? as u64))
    }
}

impl Store for SqliteStore {
    fn check_writable(&self) -> Result<(), StoreError> {
        self.send(|reply| Command::Ping { reply })
    }
}

impl TokenStore for SqliteStore {
    fn create_token(&self, token: NewToken) -> Result<(), StoreError> {
        self.write(move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO tokens (name, hash, role, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    token.name,
                    token.hash.as_slice(),
                    token.role.as_str(),
                    OffsetDateTime::now_utc().unix_timestamp(),
                    token.expires_at.map(OffsetDateTime::unix_timestamp)
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::TokenExists(token.name));
            }
            Ok(())
        })
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.with_connection(|conn| {
            let mut stmt = conn.prepare("SELECT name, role, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at, name")?;
            let rows = stmt.query_map([], token_from_row)?;
            rows.map(|row| row?).collect()
        })
    }

    fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE name = ?1",
                params![name, OffsetDateTime::now_utc().unix_timestamp()],
            )?;
            Ok(changed > 0)
        })
    }

    fn find_token(&self, hash: &[u8; 32]) -> Result<Option<TokenInfo>, StoreError> {
        self.with_connection(|conn| {
            let row = conn
                .prepare_cached("SELECT name, role, created_at, expires_at, revoked_at FROM tokens WHERE hash = ?1")?
                .query_row([hash.as_slice()], token_from_row)
                .optional()?;
            row.transpose()
        })
    }
}

impl AlertStore for SqliteStore {
    fn record_detections(&self, detections: &[Detection], suppression: time::Duration) -> Result<Vec<AlertChange>, StoreError> {
        if detections.is_empty() {
            return Ok(Vec::new());
        }
        let detections = detections.to_vec();
        self.write(move |conn| alerts::record(conn, &detections, suppression))
    }

    fn list_alerts(&self, request: &AlertRequest) -> Result<AlertPage, StoreError> {
        self.with_connection(|conn| alerts::list(conn, request))
    }

    fn get_alert(&self, id: &str) -> Result<Option<(Alert, Vec<AlertTransition>)>, StoreError> {
        self.with_connection(|conn| alerts::get(conn, id))
    }

    fn transition_alert(
        &self,
        id: &str,
        action: AlertAction,
        actor: &str,
        note: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<Alert, StoreError> {
        let (id, actor, note) = (id.to_owned(), actor.to_owned(), note.map(str::to_owned));
        self.write(move |conn| alerts::transition(conn, &id, action, &actor, note.as_deref(), at))
    }

    fn alert_transitions(&self, request: &TransitionRequest) -> Result<TransitionPage, StoreError> {
        self.with_connection(|conn| alerts::transitions(conn, request))
    }

    fn evidence_events(&self, alert_id: &str) -> Result<Option<Vec<Event>>, StoreError> {
        self.with_connection(|conn| alerts::evidence(conn, alert_id))
    }
}

impl SnapshotStore for SqliteStore {
    fn save_snapshot(&self, name: &str, body: &[u8]) -> Result<(), StoreError> {
        let (name, body) = (name.to_owned(), body.to_vec());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO state_snapshots (name, saved_at, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET saved_at = excluded.saved_at, body = excluded.body",
                params![name, schema::millis(OffsetDateTime::now_utc()), body],
            )?;
            Ok(())
        })
    }

    fn load_snapshot(&self, name: &str) -> Result<Option<(OffsetDateTime, Vec<u8>)>, StoreError> {
        self.with_connection(|conn| {
            let row = conn
                .query_row("SELECT saved_at, body FROM state_snapshots WHERE name = ?1", params![name], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .optional()?;
            Ok(row.map(|(saved_at, body)| {
                let saved_at =
                    OffsetDateTime::from_unix_timestamp_nanos(i128::from(saved_at) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
                (saved_at, body)
            }))
        })
    }
}

fn token_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<TokenInfo, StoreError>> {
    let name: String = row.get(0)?;
    let role: String = row.get(1)?;
    let time = |seconds: Option<i64>| seconds.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok());
    let created_at = time(Some(row.get(2)?)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let expires_at = time(row.get(3)?);
    let revoked_at = time(row.get(4)?);
    Ok(match role.parse::<Role>() {
        Ok(role) => Ok(TokenInfo { name, role, created_at, expires_at, revoked_at }),
        Err(reason) => Err(StoreError::Corrupt { key: 0, reason: format!("token `{name}`: {reason}") }),
    })
}

/// The database holds events and token hashes: readable by the owner only.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Issue 11, item 9: however many threads read at once, at most [`MAX_READERS`] reader
    /// connections (and page caches) exist; the others wait for one.
    #[test]
    fn issue_11_reader_connections_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("rampart.db"), SqliteOptions::default()).unwrap());
        let (inside, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..MAX_READERS * 3)
            .map(|_| {
                let (store, inside, peak) = (store.clone(), inside.clone(), peak.clone());
                std::thread::spawn(move || {
                    store
                        .with_connection(|conn| {
                            peak.fetch_max(inside.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            inside.fetch_sub(1, Ordering::SeqCst);
                            Ok(conn.query_row("SELECT COUNT(*) FROM events", [], |row| row.get::<_, i64>(0))?)
                        })
                        .unwrap()
                })
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap() == 0));
        let pool = store.readers.lock().unwrap();
        assert!(peak.load(Ordering::SeqCst) <= MAX_READERS, "{} readers at once", peak.load(Ordering::SeqCst));
        assert!(pool.open <= MAX_READERS && pool.idle.len() == pool.open);
    }

    /// Issue 11, item 4: readers are query-only; writes go through the writer.
    #[test]
    fn issue_11_readers_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("rampart.db"), SqliteOptions::default()).unwrap();
        let refused = store.with_connection(|conn| Ok(conn.execute("DELETE FROM meta", [])?));
        assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
    }

    /// Issue 12: a back end's errors reach callers with their message and causes, as a
    /// [`BackendError`], not as a `rusqlite` type.
    #[test]
    fn issue_12_store_errors_carry_no_backend_types() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("rampart.db"), SqliteOptions::default()).unwrap();
        let refused = store.with_connection(|conn| Ok(conn.execute("DELETE FROM meta", [])?)).unwrap_err();
        let StoreError::Database(backend) = &refused else { panic!("{refused:?}") };
        assert_eq!(refused.to_string(), "database error: attempt to write a readonly database");
        assert_eq!(backend.to_string(), "attempt to write a readonly database");
        let opened = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap_err();
        assert!(matches!(&opened, StoreError::Open { path, .. } if path == dir.path()), "{opened:?}");
        assert_eq!(opened.to_string(), format!("cannot open the store at {0}: unable to open database file: {0}", dir.path().display()));
        fn thread_safe<T: Send + Sync + 'static>(_: &T) {}
        thread_safe(&opened);
    }
}
