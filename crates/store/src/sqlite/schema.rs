//! The SQLite schema, its migrations, and the keys that order rows by time.

use rusqlite::{Connection, Transaction};
use time::OffsetDateTime;
use xxhash_rust::xxh3::xxh3_64;

use crate::error::StoreError;

/// One schema change: SQL alone, or SQL and code (for data that must be rewritten).
enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> Result<(), StoreError>),
}

/// Migrations in order; `PRAGMA user_version` counts those applied. Never edit a released one.
const MIGRATIONS: &[Migration] = &[
    // 1: events keyed by time; tokens; settings. Term tables (`terms_d<day>`) are made per day.
    Migration::Sql(
        "CREATE TABLE events (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        ingested_at INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        role TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    ),
    // 2: alerts, newest first by insertion order; `id` is stable per rule and event.
    Migration::Sql(
        "CREATE TABLE alerts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        rule_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX alerts_rule ON alerts (rule_id, seq);",
    ),
    // 3: the alert lifecycle; the alerts of 2 are converted (see `alerts::migrate_lifecycle`).
    Migration::Code(super::alerts::migrate_lifecycle),
    // 4: snapshots of in-memory state (correlation windows), one row per name, replaced whole.
    Migration::Sql(
        "CREATE TABLE state_snapshots (
        name TEXT PRIMARY KEY,
        saved_at INTEGER NOT NULL,
        body BLOB NOT NULL
    );",
    ),
    // 5: the key lag (see `KEY_LAG_META`). Keys written before could lie up to a millisecond
    // after their event's (a collision probe ran past the millisecond's last key): 1 ms.
    Migration::Sql("INSERT OR IGNORE INTO meta (key, value) SELECT 'key_lag_ms', '1' WHERE EXISTS (SELECT 1 FROM events);"),
];

/// The `meta` row holding the key lag: how many milliseconds a row key's millisecond may lie
/// after its event's time. Zero until a millisecond runs out of keys (2^20 of them) and its
/// further events take keys of the milliseconds after it; it only grows. Searches widen their
/// upper bound by it and check event times at the edges, the duplicate check looks that much
/// later.
pub(crate) const KEY_LAG_META: &str = "key_lag_ms";

/// The key lag stored in `meta` (0 if none).
pub(crate) fn key_lag(conn: &Connection) -> Result<i64, StoreError> {
    use rusqlite::OptionalExtension;
    let value: Option<String> =
        conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([KEY_LAG_META], |row| row.get(0)).optional()?;
    Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0).max(0))
}

/// Applies the migrations the database lacks, in one transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Applies the migrations up to version `target` (tests build old databases with it).
pub(crate) fn migrate_to(conn: &mut Connection, target: usize) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::NewerSchema { found: version, known });
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().take(target).skip(version as usize) {
        match migration {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(run) => run(&tx)?,
        }
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// Bits of a row key below the millisecond: a hash of the event id, probed on collision.
pub(crate) const DISCRIMINATOR_BITS: u32 = 20;
const MS_PER_DAY: i64 = 86_400_000;
/// Width of one term-index bucket: 10 seconds.
const BUCKET_MS: i64 = 10_000;
/// Buckets in a day.
pub(crate) const BUCKETS_PER_DAY: i64 = MS_PER_DAY / BUCKET_MS;

/// Milliseconds since the epoch (timestamps are checked to lie in 1970..2200).
pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The smallest row key of a millisecond.
pub(crate) fn key_floor(t: OffsetDateTime) -> i64 {
    ms_floor(millis(t))
}

/// The smallest row key of a millisecond since the epoch.
pub(crate) fn ms_floor(ms: i64) -> i64 {
    ms.max(0) << DISCRIMINATOR_BITS
}

/// The largest row key of a millisecond since the epoch.
pub(crate) fn ms_ceiling(ms: i64) -> i64 {
    ms_floor(ms) | ((1 << DISCRIMINATOR_BITS) - 1)
}

/// The millisecond a row key lies in.
pub(crate) fn ms_of_key(key: i64) -> i64 {
    key >> DISCRIMINATOR_BITS
}

/// The first key tried for an event: its millisecond and a hash of its id.
pub(crate) fn event_key(t: OffsetDateTime, id: &str) -> i64 {
    key_floor(t) | (xxh3_64(id.as_bytes()) & ((1 << DISCRIMINATOR_BITS) - 1)) as i64
}

/// Days since the epoch of a row key.
pub(crate) fn day_of_key(key: i64) -> i64 {
    (key >> DISCRIMINATOR_BITS) / MS_PER_DAY
}

/// The 10-second bucket of a row key: the leading column of the term index. Index entries of
/// live traffic land in the current bucket's corner of the B-tree, a few hundred pages that stay
/// hot, instead of all over it (term hashes are random): that is what keeps ingestion fast.
/// A search seeks once per bucket of its range.
pub(crate) fn bucket_of_key(key: i64) -> i64 {
    (key >> DISCRIMINATOR_BITS) / BUCKET_MS
}

/// The term table holding a day's index entries.
pub(crate) fn term_table(day: i64) -> String {
    format!("terms_d{day}")
}

/// The day a term table holds, from its name.
pub(crate) fn table_day(name: &str) -> Option<i64> {
    name.strip_prefix("terms_d")?.parse().ok()
}

pub(crate) fn create_term_table(conn: &Connection, day: i64) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {} (bucket INTEGER NOT NULL, term INTEGER NOT NULL, key INTEGER NOT NULL, PRIMARY KEY (bucket, term, key)) WITHOUT ROWID",
        term_table(day)
    ))?;
    Ok(())
}

/// Days that have a term table, in ascending order.
pub(crate) fn term_days(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'terms_d%'")?;
    let names = stmt.query_map([], |row| row.get::<_, String>(0))?;
    let mut days = Vec::new();
    for name in names {
        days.extend(table_day(&name?));
    }
    days.sort_unstable();
    Ok(days)
}

/// The 64-bit hash that stands for `field = value` in the term index.
pub(crate) fn term_hash(field: &str, value: &str) -> i64 {
    let mut buf = Vec::with_capacity(field.len() + value.len() + 1);
    buf.extend_from_slice(field.as_bytes());
    buf.push(0);
    buf.extend_from_slice(value.as_bytes());
    xxh3_64(&buf) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_by_time_and_fit_until_2200() {
        let early = OffsetDateTime::from_unix_timestamp(0).unwrap();
        let late = time::macros::datetime!(2199-12-31 23:59:59.999 UTC);
        assert_eq!(key_floor(early), 0);
        assert!(ms_ceiling(millis(late)) > key_floor(late));
        assert!(event_key(late, "x") <= ms_ceiling(millis(late)));
        let t = time::macros::datetime!(2026-11-22 10:00 UTC);
        assert_eq!(day_of_key(event_key(t, "a")), 20779);
        assert_eq!(table_day(&term_table(20779)), Some(20779));
    }

    #[test]
    fn migrations_are_idempotent_and_newer_schemas_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::NewerSchema { found: 99, .. })));
    }
}
