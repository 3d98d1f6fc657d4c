//! The writer thread: group commit of appends, de-duplication, and retention in small steps.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::Instant;

use rampart_model::{Event, fields};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::Value;
use time::OffsetDateTime;

use super::schema::{
    BUCKETS_PER_DAY, KEY_LAG_META, bucket_of_key, create_term_table, day_of_key, event_key, millis, ms_ceiling, ms_floor, ms_of_key,
    term_hash, term_table,
};
use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::store::AppendOutcome;

/// Rows deleted per retention step, between which appends go ahead.
const PURGE_STEP: i64 = 5_000;
/// How many neighbouring keys are tried when two events share a millisecond and id hash; past
/// them the millisecond is crowded (see [`KeySpace`]).
const MAX_KEY_PROBES: i64 = 64;
/// Crowded milliseconds remembered; the memory is only a shortcut, forgetting costs a few probes.
const MAX_CROWDED: usize = 4096;

pub(crate) type Reply<T> = SyncSender<Result<T, StoreError>>;

/// A write other than an append (alerts, tokens, snapshots): it runs on the writer's connection,
/// so that one connection writes and no transaction of this process waits on another.
pub(crate) type Job = Box<dyn FnOnce(&mut Connection) + Send>;

pub(crate) enum Command {
    Append { events: Vec<Event>, reply: Reply<AppendOutcome> },
    Purge { cutoff_key: i64, reply: Reply<u64> },
    Ping { reply: Reply<()> },
    Run { job: Job },
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) dedup_window_ms: i64,
    pub(crate) max_batch_events: usize,
    pub(crate) metrics: StoreMetrics,
    /// Days that have a term table, kept here so a commit need not ask the schema.
    pub(crate) term_days: HashSet<i64>,
    pub(crate) keys: KeySpace,
}

/// Where the keys of crowded milliseconds go. An event's key is its millisecond and a hash of
/// its id, probed upwards on collision. When the probes run out, the event takes the key after
/// the highest one taken in its millisecond; when the millisecond's last key is taken, the key
/// after the highest one of the next millisecond, and so on. Keys stay in time order (to within
/// the lag) and any number of events can share a millisecond.
#[derive(Debug, Default)]
pub(crate) struct KeySpace {
    /// The committed key lag (see [`super::schema::KEY_LAG_META`]).
    pub(crate) lag_ms: i64,
    /// Crowded milliseconds, each with the millisecond its keys are taken from now.
    crowded: HashMap<i64, i64>,
}

impl KeySpace {
    pub(crate) fn new(lag_ms: i64) -> KeySpace {
        KeySpace { lag_ms, crowded: HashMap::new() }
    }
}

/// A retention run in progress.
struct Purge {
    cutoff_key: i64,
    deleted: u64,
    reply: Reply<u64>,
}

impl Writer {
    /// Serves commands until every sender is gone, then returns (after the last commit).
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
        let mut purge: Option<Purge> = None;
        loop {
            let command = match &purge {
                // Appends and pings go first; a purge step runs only when nothing waits.
                Some(_) => match commands.try_recv() {
                    Ok(command) => Some(command),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                },
                None => match commands.recv() {
                    Ok(command) => Some(command),
                    Err(_) => return,
                },
            };
            match command {
                Some(Command::Append { events, reply }) => self.group_commit(events, reply, &commands, &mut purge),
                Some(command) => self.handle_other(command, &mut purge),
                None => {
                    if let Some(mut run) = purge.take() {
                        match self.purge_step(&mut run) {
                            Ok(true) => purge = Some(run),
                            Ok(false) => {
                                let _ = run.reply.send(Ok(run.deleted));
                            }
                            Err(error) => {
                                let _ = run.reply.send(Err(error));
                            }
                        }
                    }
                }
            }
        }
    }

    fn handle_other(&mut self, command: Command, purge: &mut Option<Purge>) {
        match command {
            Command::Append { events, reply } => self.commit(vec![(events, reply)]),
            Command::Purge { cutoff_key, reply } => match purge {
                // One run at a time: a second request waits for the newer cutoff.
                Some(run) => run.cutoff_key = run.cutoff_key.max(cutoff_key),
                None => *purge = Some(Purge { cutoff_key, deleted: 0, reply }),
            },
            Command::Ping { reply } => {
                let result = self
                    .conn
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('heartbeat', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        [OffsetDateTime::now_utc().unix_timestamp().to_string()],
                    )
                    .map(|_| ())
                    .map_err(StoreError::from);
                let _ = reply.send(result);
            }
            Command::Run { job } => job(&mut self.conn),
        }
    }

    /// Takes every append already waiting (up to the batch size) into one transaction.
    fn group_commit(&mut self, events: Vec<Event>, reply: Reply<AppendOutcome>, commands: &Receiver<Command>, purge: &mut Option<Purge>) {
        let mut total = events.len();
        let mut pending = vec![(events, reply)];
        let mut other = None;
        while total < self.max_batch_events {
            match commands.try_recv() {
                Ok(Command::Append { events, reply }) => {
                    total += events.len();
                    pending.push((events, reply));
                }
                Ok(command) => {
                    other = Some(command);
                    break;
                }
                Err(_) => break,
            }
        }
        self.commit(pending);
        if let Some(command) = other {
            self.handle_other(command, purge);
        }
    }

    fn commit(&mut self, pending: Vec<(Vec<Event>, Reply<AppendOutcome>)>) {
        let started = Instant::now();
        let count: usize = pending.iter().map(|(events, _)| events.len()).sum();
        let result = write_batch(&mut self.conn, &mut self.term_days, &mut self.keys, &pending, self.dedup_window_ms);
        self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.queue_depth.dec_by(count as i64);
        match result {
            Ok(outcomes) => {
                for ((_, reply), outcome) in pending.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::error!(events = count, error = %error, "could not commit a batch of events; senders get an error and may retry");
                let message = error.to_string();
                for (_, reply) in pending {
                    let _ = reply.send(Err(StoreError::Commit(message.clone())));
                }
            }
        }
    }

    /// Deletes one step of old rows; `Ok(true)` while more remain.
    fn purge_step(&mut self, run: &mut Purge) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let step_end: i64 = tx.query_row(
            "SELECT MIN(?1, COALESCE((SELECT key FROM events WHERE key < ?1 ORDER BY key LIMIT 1 OFFSET ?2), ?1))",
            params![run.cutoff_key, PURGE_STEP],
            |row| row.get(0),
        )?;
        let deleted = tx.execute("DELETE FROM events WHERE key < ?1", [step_end])?;
        let cutoff_day = day_of_key(run.cutoff_key);
        if deleted == 0 {
            // Term tables of days wholly before the cutoff go in one statement each.
            for day in self.term_days.iter().filter(|day| **day < cutoff_day) {
                tx.execute_batch(&format!("DROP TABLE {}", term_table(*day)))?;
            }
        }
        tx.commit()?;
        if deleted == 0 {
            self.term_days.retain(|day| *day >= cutoff_day);
        }
        run.deleted += deleted as u64;
        self.metrics.purged_events.inc_by(deleted as u64);
        Ok(deleted > 0)
    }
}

/// Writes every pending append in one transaction; one outcome per append.
fn write_batch(
    conn: &mut Connection,
    known_days: &mut HashSet<i64>,
    keys: &mut KeySpace,
    pending: &[(Vec<Event>, Reply<AppendOutcome>)],
    dedup_window_ms: i64,
) -> Result<Vec<AppendOutcome>, StoreError> {
    let now_ms = millis(OffsetDateTime::now_utc());
    // Immediate: the write lock is taken before the first read (the duplicate check). A deferred
    // transaction that reads and then writes fails at once in WAL mode (SQLITE_BUSY_SNAPSHOT,
    // whatever the busy timeout) if another connection committed in between, e.g. another
    // process opening the same file.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut new_days = Vec::new(); // joined to `known_days` only once the commit succeeds
    let mut batch_ids: HashSet<&str> = HashSet::new();
    let mut terms: Vec<(i64, i64, i64, i64)> = Vec::new(); // (day, bucket, term, key)
    let mut outcomes = Vec::with_capacity(pending.len());
    let mut lag_ms = keys.lag_ms; // stored, and made the committed lag, with the commit
    {
        let mut insert = tx.prepare_cached("INSERT OR IGNORE INTO events (key, id, ingested_at, body) VALUES (?1, ?2, ?3, ?4)")?;
        for (events, _) in pending {
            let mut outcome = AppendOutcome::default();
            for (position, event) in events.iter().enumerate() {
                let id = event.id();
                if !event.id_generated()
                    && (batch_ids.contains(id) || is_stored(&tx, known_days, event, now_ms - dedup_window_ms, keys.lag_ms)?)
                {
                    outcome.duplicates += 1;
                    outcome.duplicate_positions.push(position);
                    continue;
                }
                let body = event.to_json_string();
                let first = event_key(event.timestamp(), id);
                let key = insert_event(&tx, &mut insert, &mut keys.crowded, first, (id, now_ms, &body))?;
                lag_ms = lag_ms.max(ms_of_key(key) - ms_of_key(first));
                batch_ids.insert(id);
                let (day, bucket) = (day_of_key(key), bucket_of_key(key));
                index_terms(event, |term| terms.push((day, bucket, term, key)));
                outcome.stored += 1;
            }
            outcomes.push(outcome);
        }
    }
    // Sorted, the index entries land in each day's B-tree in order: far fewer page writes.
    terms.sort_unstable();
    for chunk in terms.chunk_by(|a, b| a.0 == b.0) {
        let day = chunk[0].0;
        if !known_days.contains(&day) && !new_days.contains(&day) {
            create_term_table(&tx, day)?;
            new_days.push(day);
        }
        let mut stmt = tx.prepare_cached(&format!("INSERT OR IGNORE INTO {} (bucket, term, key) VALUES (?1, ?2, ?3)", term_table(day)))?;
        for (_, bucket, term, key) in chunk {
            stmt.execute(params![bucket, term, key])?;
        }
    }
    if lag_ms > keys.lag_ms {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![KEY_LAG_META, lag_ms.to_string()],
        )?;
    }
    tx.commit()?;
    known_days.extend(new_days);
    keys.lag_ms = lag_ms;
    Ok(outcomes)
}

/// Inserts an event (`row`: its id, receive time and body) at the first free key from `first`
/// (see [`KeySpace`]); returns the key.
fn insert_event(
    tx: &Transaction<'_>,
    insert: &mut rusqlite::CachedStatement<'_>,
    crowded: &mut HashMap<i64, i64>,
    first: i64,
    (id, received_ms, body): (&str, i64, &str),
) -> Result<i64, StoreError> {
    let ms = ms_of_key(first);
    let execute = |insert: &mut rusqlite::CachedStatement<'_>, key: i64| -> Result<bool, StoreError> {
        Ok(insert.execute(params![key, id, received_ms, body])? == 1)
    };
    if !crowded.contains_key(&ms) {
        let last = ms_ceiling(ms).min(first + MAX_KEY_PROBES - 1);
        for key in first..=last {
            if execute(insert, key)? {
                return Ok(key);
            }
        }
    }
    let mut at = crowded.get(&ms).copied().unwrap_or(ms);
    let mut highest = tx.prepare_cached("SELECT MAX(key) FROM events WHERE key BETWEEN ?1 AND ?2")?;
    loop {
        let key = match highest.query_row(params![ms_floor(at), ms_ceiling(at)], |row| row.get::<_, Option<i64>>(0))? {
            None => ms_floor(at),
            Some(taken) if taken < ms_ceiling(at) => taken + 1,
            Some(_) => {
                at += 1;
                continue;
            }
        };
        if crowded.len() >= MAX_CROWDED && !crowded.contains_key(&ms) {
            crowded.clear();
        }
        crowded.insert(ms, at);
        if execute(insert, key)? {
            return Ok(key);
        }
        // Above the highest key taken, so free: only a corrupt table gets here.
        return Err(StoreError::Corrupt { key, reason: "a key above the highest taken is taken".into() });
    }
}

/// Calls `add` with the term hash of every entity field value of the event.
pub(crate) fn index_terms(event: &Event, mut add: impl FnMut(i64)) {
    for field in fields::ENTITY_FIELDS {
        match event.get(field) {
            Some(Value::String(s)) => add(term_hash(field, s)),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(|s| add(term_hash(field, s))),
            Some(Value::Number(n)) => add(term_hash(field, &n.to_string())),
            _ => {}
        }
    }
}

/// How far back (in 10-second buckets: 15 minutes) a resend is looked for when its time is its
/// receive time.
const RECEIVE_TIME_RETRY_BUCKETS: i64 = 90;

/// Whether an event with this id was stored since `since_ms`. A resend carries the same
/// `@timestamp` when the sender set it: one probe of that minute. An event timed by its
/// receipt is resent with a later time: the buckets before it are probed too (up to
/// [`RECEIVE_TIME_RETRY_BUCKETS`]).
fn is_stored(tx: &Transaction<'_>, known_days: &HashSet<i64>, event: &Event, since_ms: i64, lag_ms: i64) -> Result<bool, StoreError> {
    let id = event.id();
    let term = term_hash(fields::EVENT_ID, id);
    let key = event_key(event.timestamp(), id);
    let bucket = bucket_of_key(key);
    // A key of a crowded millisecond may lie up to the key lag later.
    let latest = bucket_of_key(ms_floor(ms_of_key(key) + lag_ms));
    let earlier = if event.timestamp_assigned() { RECEIVE_TIME_RETRY_BUCKETS } else { 0 };
    for bucket in (bucket - earlier..=latest).rev() {
        let day = bucket / BUCKETS_PER_DAY;
        if !known_days.contains(&day) {
            continue;
        }
        let sql = format!(
            "SELECT 1 FROM {} t JOIN events e ON e.key = t.key WHERE t.bucket = ?1 AND t.term = ?2 AND e.id = ?3 AND e.ingested_at >= ?4 LIMIT 1",
            term_table(day)
        );
        if tx.prepare_cached(&sql)?.query_row(params![bucket, term, id, since_ms], |_| Ok(())).optional()?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}
