//! Search: by the term index when the query names an entity, else by scanning a key range.

use std::collections::HashSet;

use rampart_model::{Event, TermOp, fields};
use rusqlite::{Connection, OptionalExtension, params};

use super::schema::{
    BUCKETS_PER_DAY, bucket_of_key, day_of_key, key_floor, key_lag, millis, ms_ceiling, ms_floor, term_days, term_hash, term_table,
};
use crate::error::StoreError;
use crate::store::{MAX_SEARCH_LIMIT, SearchPage, SearchRequest};

/// Rows a scan reads for one page before it hands back a cursor with what it found so far, so
/// that a rare match over a long range cannot hold a reader for long.
const SCAN_BUDGET: usize = 200_000;

pub(crate) fn search(conn: &Connection, request: &SearchRequest) -> Result<SearchPage, StoreError> {
    let limit = request.limit.clamp(1, MAX_SEARCH_LIMIT);
    // Events of a crowded millisecond may have keys up to the key lag later: the upper bound
    // is widened by it, and event times are checked against the range.
    let lag_ms = key_lag(conn)?;
    let low = request.from.map(key_floor).unwrap_or(0);
    let mut high = request.to.map(|to| ms_ceiling(millis(to).saturating_add(lag_ms))).unwrap_or(i64::MAX);
    let (from_ms, to_ms) = (request.from.map_or(i64::MIN, millis), request.to.map_or(i64::MAX, millis));
    if let Some(cursor) = &request.cursor {
        let after: i64 = cursor.parse().map_err(|_| StoreError::BadCursor)?;
        high = high.min(after.checked_sub(1).ok_or(StoreError::BadCursor)?);
    }
    let mut page = SearchPage::default();
    if low > high {
        return Ok(page);
    }
    let needles = literal_needles(request);
    let mut accept = |key: i64, body: &str| -> Result<bool, StoreError> {
        if !needles.iter().all(|needle| body.contains(needle.as_str())) {
            return Ok(false);
        }
        let event = decode(key, body)?;
        let in_range = lag_ms == 0 || (from_ms..=to_ms).contains(&millis(event.timestamp()));
        if in_range && request.query.matches(&event) {
            page.items.push(event);
            if page.items.len() == limit {
                page.next_cursor = Some(key.to_string());
                return Ok(true);
            }
        }
        Ok(false)
    };

    if let Some((field, value)) = request.query.indexed_terms().next() {
        let term = term_hash(field, value);
        let days = term_days(conn)?;
        for day in days.into_iter().rev().filter(|day| (day_of_key(low)..=day_of_key(high)).contains(day)) {
            let sql = format!(
                "SELECT t.key, e.body FROM {} t JOIN events e ON e.key = t.key \
                 WHERE t.bucket = ?1 AND t.term = ?2 AND t.key BETWEEN ?3 AND ?4 ORDER BY t.key DESC",
                term_table(day)
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            // One index seek per bucket of the day that the range covers, newest first.
            let first_bucket = day * BUCKETS_PER_DAY;
            let buckets = bucket_of_key(low).max(first_bucket)..=bucket_of_key(high).min(first_bucket + BUCKETS_PER_DAY - 1);
            for bucket in buckets.rev() {
                let mut rows = stmt.query(params![bucket, term, low, high])?;
                while let Some(row) = rows.next()? {
                    if accept(row.get(0)?, row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?)? {
                        return Ok(page);
                    }
                }
            }
        }
        return Ok(page);
    }

    let mut stmt = conn.prepare_cached("SELECT key, body FROM events WHERE key BETWEEN ?1 AND ?2 ORDER BY key DESC")?;
    let mut rows = stmt.query(params![low, high])?;
    let mut scanned = 0;
    while let Some(row) = rows.next()? {
        let key: i64 = row.get(0)?;
        if accept(key, row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?)? {
            return Ok(page);
        }
        scanned += 1;
        if scanned == SCAN_BUDGET {
            page.next_cursor = Some(key.to_string());
            return Ok(page);
        }
    }
    Ok(page)
}

/// Index seeks one [`events_by_id`] call may make: evidence spread over a long time is cut short
/// rather than holding a reader.
const EVIDENCE_SEEK_BUDGET: usize = 100_000;

/// Events by `event.id`, each looked for between its first and last millisecond (inclusive),
/// oldest first. Ids not found (deleted by retention) are left out.
pub(crate) fn events_by_id(conn: &Connection, wanted: &[(&str, i64, i64)]) -> Result<Vec<Event>, StoreError> {
    let days: HashSet<i64> = term_days(conn)?.into_iter().collect();
    let lag_ms = key_lag(conn)?;
    let mut found: Vec<(i64, Event)> = Vec::new();
    let mut done: HashSet<&str> = HashSet::new();
    let mut budget = EVIDENCE_SEEK_BUDGET;
    for &(id, first_ms, last_ms) in wanted {
        if !done.insert(id) {
            continue;
        }
        let term = term_hash(fields::EVENT_ID, id);
        let low = ms_floor(first_ms);
        let high = ms_ceiling(last_ms.max(first_ms).saturating_add(lag_ms));
        let mut bucket = bucket_of_key(low);
        while bucket <= bucket_of_key(high) && budget > 0 {
            let day = bucket / BUCKETS_PER_DAY;
            if !days.contains(&day) {
                bucket = (day + 1) * BUCKETS_PER_DAY;
                continue;
            }
            budget -= 1;
            let sql = format!(
                "SELECT t.key, e.body FROM {} t JOIN events e ON e.key = t.key WHERE t.bucket = ?1 AND t.term = ?2 AND e.id = ?3 LIMIT 1",
                term_table(day)
            );
            let row = conn
                .prepare_cached(&sql)?
                .query_row(params![bucket, term, id], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))
                .optional()?;
            if let Some((key, body)) = row {
                found.push((key, decode(key, &body)?));
                break;
            }
            bucket += 1;
        }
    }
    found.sort_by_key(|(key, _)| *key);
    Ok(found.into_iter().map(|(_, event)| event).collect())
}

/// Values that must appear verbatim in the stored JSON of any match: the exact and prefix
/// terms whose text JSON writes unescaped. A cheap substring test skips most rows unparsed.
fn literal_needles(request: &SearchRequest) -> Vec<String> {
    request
        .query
        .terms()
        .iter()
        .filter(|term| !term.negated && term.field.is_some())
        .filter_map(|term| match &term.op {
            TermOp::Equals(value) | TermOp::Prefix(value) => Some(value),
            _ => None,
        })
        .filter(|value| !value.is_empty() && value.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\'))
        .cloned()
        .collect()
}

fn decode(key: i64, body: &str) -> Result<Event, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { key, reason };
    let fields = serde_json::from_str(body).map_err(|e| corrupt(e.to_string()))?;
    Event::from_stored(fields).map_err(|e| corrupt(e.to_string()))
}
