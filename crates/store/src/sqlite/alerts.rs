//! Alerts: detections folded in with suppression, the lifecycle's transitions, listing, and the
//! conversion of the alerts stored before the lifecycle.

use rampart_model::{
    Alert, AlertAction, AlertChange, AlertRule, AlertStatus, AlertTransition, BatchChanges, Classification, DETECTION_ACTOR, Detection,
    Entity, EntityKind, Event, MatchedValue, TransitionAction, fold, is_resend, new_alert, suppression_range, to_millis,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params, params_from_iter};
use serde::Deserialize;
use time::OffsetDateTime;

use super::schema::millis;
use super::search::events_by_id;
use crate::error::StoreError;
use crate::store::{AlertPage, AlertRequest, MAX_SEARCH_LIMIT, TransitionPage, TransitionRequest};

/// Migration 3: the lifecycle tables. The alerts of migration 2 move to `alerts_v2` first.
const LIFECYCLE_SQL: &str = "
    ALTER TABLE alerts RENAME TO alerts_v2;
    DROP INDEX alerts_rule;
    CREATE TABLE alerts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        rule_id TEXT NOT NULL,
        level TEXT NOT NULL,
        status TEXT NOT NULL,
        suppression_key TEXT NOT NULL,
        first_event_time INTEGER NOT NULL,
        last_event_time INTEGER NOT NULL,
        detected_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX alerts_rule ON alerts (rule_id, seq);
    CREATE INDEX alerts_suppression ON alerts (suppression_key, last_event_time);
    CREATE TABLE alert_entities (
        value TEXT NOT NULL,
        kind TEXT NOT NULL,
        alert_seq INTEGER NOT NULL,
        PRIMARY KEY (value, kind, alert_seq)
    ) WITHOUT ROWID;
    -- Every event folded into an alert (the body keeps the first few): resends are recognized
    -- however many events an alert has, and evidence is found by its time.
    CREATE TABLE alert_evidence (
        event_id TEXT NOT NULL,
        alert_seq INTEGER NOT NULL,
        first_ms INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,
        PRIMARY KEY (event_id, alert_seq)
    ) WITHOUT ROWID;
    CREATE TABLE alert_transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        at INTEGER NOT NULL,
        status TEXT NOT NULL,
        classification TEXT,
        note TEXT,
        events_added INTEGER
    );
    CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id, seq);
    CREATE TRIGGER alert_transitions_no_update BEFORE UPDATE ON alert_transitions
        BEGIN SELECT RAISE(ABORT, 'alert transitions are append-only'); END;
    CREATE TRIGGER alert_transitions_no_delete BEFORE DELETE ON alert_transitions
        BEGIN SELECT RAISE(ABORT, 'alert transitions are append-only'); END;
";

/// Folds detections into alerts in one transaction (see [`crate::AlertStore::record_detections`]):
/// the look-ups are this store's, the decisions [`rampart_model::fold`]'s and its neighbours'.
pub(crate) fn record(conn: &Connection, detections: &[Detection], suppression: time::Duration) -> Result<Vec<AlertChange>, StoreError> {
    if detections.is_empty() {
        return Ok(Vec::new());
    }
    // Immediate: the look-up of an open alert and its update are one step, whoever else writes.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let mut batch = BatchChanges::default();
    for detection in detections {
        let key = detection.suppression_key();
        if is_resend(detection, |id| behind_key(&tx, id, &key))? {
            continue;
        }
        let (low, high) = suppression_range(detection, suppression);
        let (first, last) = span(detection);
        match open_alert(&tx, &key, low, high)? {
            Some((seq, mut alert)) => {
                let Some(folded) = fold(&mut alert, detection, |id| behind_alert(&tx, id, seq))? else { continue };
                let evidence: Vec<(&str, i64, i64)> = folded.fresh_evidence.iter().map(|id| (id.as_str(), first, last)).collect();
                insert_evidence(&tx, seq, &evidence)?;
                insert_entities(&tx, seq, &folded.new_entities)?;
                tx.prepare_cached(
                    "UPDATE alerts SET first_event_time = ?1, last_event_time = ?2, updated_at = ?3, body = ?4 WHERE seq = ?5",
                )?
                .execute(params![
                    millis(alert.first_event_time),
                    millis(alert.last_event_time),
                    millis(alert.updated_at),
                    encode(&alert)?,
                    seq
                ])?;
                batch.note(alert, false, folded.events_added);
            }
            None => {
                let alert = new_alert(detection, &key);
                let evidence: Vec<(&str, i64, i64)> = detection.evidence.iter().map(|id| (id.as_str(), first, last)).collect();
                if insert_alert(&tx, None, &alert, &key, &evidence)?.is_none() {
                    continue; // the same id: this batch was stored before
                }
                batch.note(alert, true, detection.event_count);
            }
        }
    }
    let (changes, transitions) = batch.finish();
    for transition in &transitions {
        insert_transition(&tx, transition)?;
    }
    tx.commit()?;
    Ok(changes)
}

/// The detection's event times in milliseconds, earliest first (kept with each evidence row).
fn span(detection: &Detection) -> (i64, i64) {
    let (a, b) = (millis(detection.first_event_time), millis(detection.last_event_time));
    (a.min(b), a.max(b))
}

/// Whether an event is behind some alert of this key.
fn behind_key(conn: &Connection, id: &str, key: &str) -> Result<bool, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM alert_evidence v JOIN alerts a ON a.seq = v.alert_seq WHERE v.event_id = ?1 AND a.suppression_key = ?2 LIMIT 1",
    )?;
    Ok(stmt.query_row(params![id, key], |_| Ok(())).optional()?.is_some())
}

/// Whether an event is behind the alert of row `seq`.
fn behind_alert(conn: &Connection, id: &str, seq: i64) -> Result<bool, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM alert_evidence WHERE event_id = ?1 AND alert_seq = ?2")?;
    Ok(stmt.query_row(params![id, seq], |_| Ok(())).optional()?.is_some())
}

/// The alert of this key that is not closed and whose events lie within `[low, high]` (the
/// [`rampart_model::takes_in`] rule, as SQL), the one with the latest events.
fn open_alert(conn: &Connection, key: &str, low: i64, high: i64) -> Result<Option<(i64, Alert)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT seq, body FROM alerts WHERE suppression_key = ?1 AND status != 'closed' AND last_event_time >= ?2 \
             AND first_event_time <= ?3 ORDER BY last_event_time DESC, seq DESC LIMIT 1",
        )?
        .query_row(params![key, low, high], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))
        .optional()?;
    row.map(|(seq, body)| Ok((seq, decode(&seq.to_string(), &body)?))).transpose()
}

/// Inserts an alert with its entities and evidence; `None` if its id is taken.
fn insert_alert(
    conn: &Connection,
    seq: Option<i64>,
    alert: &Alert,
    key: &str,
    evidence: &[(&str, i64, i64)],
) -> Result<Option<i64>, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO alerts (seq, id, rule_id, level, status, suppression_key, first_event_time, last_event_time, \
             detected_at, updated_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            seq,
            alert.id,
            alert.rule.id,
            alert.rule.level,
            alert.status.as_str(),
            key,
            millis(alert.first_event_time),
            millis(alert.last_event_time),
            millis(alert.detected_at),
            millis(alert.updated_at),
            encode(alert)?
        ])?;
    if inserted == 0 {
        return Ok(None);
    }
    let seq = conn.last_insert_rowid();
    insert_entities(conn, seq, &alert.entities)?;
    insert_evidence(conn, seq, evidence)?;
    Ok(Some(seq))
}

fn insert_entities(conn: &Connection, seq: i64, entities: &[Entity]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("INSERT OR IGNORE INTO alert_entities (value, kind, alert_seq) VALUES (?1, ?2, ?3)")?;
    for entity in entities {
        stmt.execute(params![entity.value, entity.kind.as_str(), seq])?;
    }
    Ok(())
}

fn insert_evidence(conn: &Connection, seq: i64, evidence: &[(&str, i64, i64)]) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("INSERT OR IGNORE INTO alert_evidence (event_id, alert_seq, first_ms, last_ms) VALUES (?1, ?2, ?3, ?4)")?;
    for (id, first, last) in evidence {
        stmt.execute(params![id, seq, first, last])?;
    }
    Ok(())
}

fn insert_transition(conn: &Connection, transition: &AlertTransition) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO alert_transitions (alert_id, action, actor, at, status, classification, note, events_added) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        transition.alert_id,
        transition.action.as_str(),
        transition.actor,
        millis(transition.at),
        transition.status.as_str(),
        transition.classification.map(Classification::as_str),
        transition.note,
        transition.events_added.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
    ])?;
    Ok(())
}

/// Alerts matching every filter of the request, newest first.
pub(crate) fn list(conn: &Connection, request: &AlertRequest) -> Result<AlertPage, StoreError> {
    let limit = request.limit.clamp(1, MAX_SEARCH_LIMIT);
    let before = match &request.cursor {
        Some(cursor) => cursor.parse::<i64>().map_err(|_| StoreError::BadCursor)?,
        None => i64::MAX,
    };
    // Only the filters given go into the SQL, so that an index can serve them.
    let mut sql = String::from("SELECT seq, body FROM alerts WHERE seq < ?");
    let mut values: Vec<SqlValue> = vec![before.into()];
    let mut filter = |clause: &str, value: SqlValue| {
        sql.push_str(clause);
        values.push(value);
    };
    if let Some(rule) = &request.rule_id {
        filter(" AND rule_id = ?", rule.clone().into());
    }
    if let Some(level) = &request.level {
        filter(" AND level = ?", level.clone().into());
    }
    if let Some(status) = request.status {
        filter(" AND status = ?", status.as_str().to_owned().into());
    }
    if let Some(from) = request.from {
        filter(" AND last_event_time >= ?", millis(from).into());
    }
    if let Some(to) = request.to {
        filter(" AND last_event_time <= ?", millis(to).into());
    }
    if let Some((kind, value)) = &request.entity {
        match kind {
            Some(kind) => {
                filter(" AND seq IN (SELECT alert_seq FROM alert_entities WHERE value = ?", value.clone().into());
                filter(" AND kind = ?)", kind.as_str().to_owned().into());
            }
            None => filter(" AND seq IN (SELECT alert_seq FROM alert_entities WHERE value = ?)", value.clone().into()),
        }
    }
    filter(" ORDER BY seq DESC LIMIT ?", (limit as i64 + 1).into());
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut page = AlertPage::default();
    let mut last = None;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        if page.items.len() == limit {
            page.next_cursor = last.map(|s: i64| s.to_string());
            break;
        }
        page.items.push(decode(&seq.to_string(), row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?)?);
        last = Some(seq);
    }
    Ok(page)
}

/// An alert and its transitions.
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<(Alert, Vec<AlertTransition>)>, StoreError> {
    let Some((_, alert)) = by_id(conn, id)? else { return Ok(None) };
    let mut stmt = conn.prepare_cached(
        "SELECT seq, alert_id, action, actor, at, status, classification, note, events_added FROM alert_transitions \
         WHERE alert_id = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([id])?;
    let mut transitions = Vec::new();
    while let Some(row) = rows.next()? {
        transitions.push(transition_from_row(row)?);
    }
    Ok(Some((alert, transitions)))
}

fn by_id(conn: &Connection, id: &str) -> Result<Option<(i64, Alert)>, StoreError> {
    let row = conn
        .prepare_cached("SELECT seq, body FROM alerts WHERE id = ?1")?
        .query_row([id], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))
        .optional()?;
    row.map(|(seq, body)| Ok((seq, decode(id, &body)?))).transpose()
}

/// An analyst's change of status (see [`crate::AlertStore::transition_alert`]).
pub(crate) fn transition(
    conn: &Connection,
    id: &str,
    action: AlertAction,
    actor: &str,
    note: Option<&str>,
    at: OffsetDateTime,
) -> Result<Alert, StoreError> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let (seq, mut alert) = by_id(&tx, id)?.ok_or_else(|| StoreError::AlertNotFound(id.to_owned()))?;
    let change = rampart_model::transition(&mut alert, action, actor, note, at).map_err(|refused| StoreError::InvalidTransition {
        id: id.to_owned(),
        action: refused.action,
        status: refused.status,
        rule: refused.rule,
    })?;
    tx.prepare_cached("UPDATE alerts SET status = ?1, updated_at = ?2, body = ?3 WHERE seq = ?4")?.execute(params![
        alert.status.as_str(),
        millis(alert.updated_at),
        encode(&alert)?,
        seq
    ])?;
    insert_transition(&tx, &change)?;
    tx.commit()?;
    Ok(alert)
}

/// Transitions of every alert in the order written.
pub(crate) fn transitions(conn: &Connection, request: &TransitionRequest) -> Result<TransitionPage, StoreError> {
    let limit = request.limit.clamp(1, MAX_SEARCH_LIMIT);
    let after = match &request.cursor {
        Some(cursor) => cursor.parse::<i64>().map_err(|_| StoreError::BadCursor)?,
        None => 0,
    };
    let mut stmt = conn.prepare_cached(
        "SELECT seq, alert_id, action, actor, at, status, classification, note, events_added FROM alert_transitions \
         WHERE seq > ?1 AND at >= ?2 AND at <= ?3 ORDER BY seq LIMIT ?4",
    )?;
    let from = request.from.map_or(i64::MIN, millis);
    let to = request.to.map_or(i64::MAX, millis);
    let mut rows = stmt.query(params![after, from, to, limit as i64 + 1])?;
    let mut page = TransitionPage::default();
    let mut last = None;
    while let Some(row) = rows.next()? {
        if page.items.len() == limit {
            page.next_cursor = last.map(|s: i64| s.to_string());
            break;
        }
        last = Some(row.get::<_, i64>(0)?);
        page.items.push(transition_from_row(row)?);
    }
    Ok(page)
}

fn transition_from_row(row: &Row<'_>) -> Result<AlertTransition, StoreError> {
    let alert_id: String = row.get(1)?;
    let corrupt =
        |what: &str, value: &str| StoreError::CorruptAlert { id: alert_id.clone(), reason: format!("a transition has {what} `{value}`") };
    let name = |value: &str| serde_json::Value::String(value.to_owned());
    let action: String = row.get(2)?;
    let status: String = row.get(5)?;
    let classification: Option<String> = row.get(6)?;
    let at: i64 = row.get(4)?;
    Ok(AlertTransition {
        action: serde_json::from_value(name(&action)).map_err(|_| corrupt("the action", &action))?,
        actor: row.get(3)?,
        at: from_millis(at).ok_or_else(|| corrupt("the time", &at.to_string()))?,
        status: AlertStatus::parse(&status).ok_or_else(|| corrupt("the status", &status))?,
        classification: match classification {
            Some(text) => Some(Classification::parse(&text).ok_or_else(|| corrupt("the classification", &text))?),
            None => None,
        },
        note: row.get(7)?,
        events_added: row.get::<_, Option<i64>>(8)?.map(|n| n.max(0) as u64),
        alert_id,
    })
}

/// The stored events an alert's `evidence` names, oldest first; `None` without such an alert.
pub(crate) fn evidence(conn: &Connection, alert_id: &str) -> Result<Option<Vec<Event>>, StoreError> {
    let Some((seq, alert)) = by_id(conn, alert_id)? else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT first_ms, last_ms FROM alert_evidence WHERE event_id = ?1 AND alert_seq = ?2")?;
    let mut wanted = Vec::with_capacity(alert.evidence.len());
    for id in &alert.evidence {
        let (first, last) = stmt
            .query_row(params![id, seq], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))
            .optional()?
            .unwrap_or((millis(alert.first_event_time), millis(alert.last_event_time)));
        wanted.push((id.as_str(), first, last));
    }
    Ok(Some(events_by_id(conn, &wanted)?))
}

fn encode(alert: &Alert) -> Result<String, StoreError> {
    serde_json::to_string(alert).map_err(|e| StoreError::CorruptAlert { id: alert.id.clone(), reason: e.to_string() })
}

fn decode(id: &str, body: &str) -> Result<Alert, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::CorruptAlert { id: id.to_owned(), reason: e.to_string() })
}

fn from_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// An alert as migration 2 stored it: one rule's match on one event.
#[derive(Deserialize)]
struct LegacyAlert {
    id: String,
    created_at: String,
    rule: LegacyRule,
    event_id: String,
    event_time: String,
    #[serde(default)]
    source_ip: Option<String>,
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    matched: Vec<MatchedValue>,
}

#[derive(Deserialize)]
struct LegacyRule {
    id: String,
    title: String,
    level: String,
    #[serde(default)]
    tags: Vec<String>,
}

impl LegacyAlert {
    fn convert(self) -> Option<Alert> {
        let created_at = rampart_model::parse_rfc3339(&self.created_at)?;
        let event_time = rampart_model::parse_rfc3339(&self.event_time)?;
        let mut entities = Vec::new();
        let named = [
            (EntityKind::Ip, rampart_model::fields::SOURCE_IP, self.source_ip),
            (EntityKind::Account, rampart_model::fields::USER_NAME, self.user_name),
        ];
        for (kind, field, value) in named {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                entities.push(Entity { kind, value, field: field.to_owned() });
            }
        }
        Some(Alert {
            id: self.id,
            rule: AlertRule {
                id: self.rule.id,
                version: String::new(),
                title: self.rule.title,
                level: self.rule.level,
                tags: self.rule.tags,
            },
            entities,
            group_by: Default::default(),
            first_event_time: to_millis(event_time),
            last_event_time: to_millis(event_time),
            detected_at: to_millis(created_at),
            updated_at: to_millis(created_at),
            event_count: 1,
            evidence: vec![self.event_id],
            matched: self.matched,
            status: AlertStatus::Open,
            classification: None,
        })
    }
}

/// Migration 3: creates the lifecycle tables and converts the alerts of migration 2 (same id,
/// same order, open, with a `created` transition). A row that cannot be read stays in
/// `alerts_v2`: nothing stored is dropped.
pub(crate) fn migrate_lifecycle(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(LIFECYCLE_SQL)?;
    let rows: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT seq, body FROM alerts_v2 ORDER BY seq")?;
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?
    };
    let highest = rows.last().map_or(0, |(seq, _)| *seq);
    let mut unreadable = 0usize;
    for (seq, body) in rows {
        let Some(alert) = serde_json::from_str::<LegacyAlert>(&body).ok().and_then(LegacyAlert::convert) else {
            unreadable += 1;
            continue;
        };
        let at = millis(alert.first_event_time);
        let evidence: Vec<(&str, i64, i64)> = alert.evidence.iter().map(|id| (id.as_str(), at, at)).collect();
        if insert_alert(tx, Some(seq), &alert, &alert.suppression_key(), &evidence)?.is_some() {
            insert_transition(
                tx,
                &AlertTransition {
                    alert_id: alert.id.clone(),
                    action: TransitionAction::Created,
                    actor: DETECTION_ACTOR.to_owned(),
                    at: alert.detected_at,
                    status: AlertStatus::Open,
                    classification: None,
                    note: None,
                    events_added: Some(1),
                },
            )?;
        }
        tx.execute("DELETE FROM alerts_v2 WHERE seq = ?1", [seq])?;
    }
    // New alerts are numbered after every old one, kept rows included.
    tx.execute("DELETE FROM sqlite_sequence WHERE name = 'alerts' AND seq < ?1", [highest])?;
    tx.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'alerts', ?1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'alerts')", [highest])?;
    if unreadable == 0 {
        tx.execute_batch("DROP TABLE alerts_v2")?;
    } else {
        tracing::warn!(alerts = unreadable, "alerts stored by an earlier version could not be read; they are kept in the table alerts_v2");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_of_migration_2_are_converted_and_unreadable_ones_kept() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate_to(&mut conn, 2).unwrap();
        let old = serde_json::json!({
            "id": "0123456789abcdef0123456789abcdef", "created_at": "2026-11-22T10:00:01.500Z",
            "rule": {"id": "r1", "title": "SQLi", "level": "high", "tags": ["attack.t1190"]},
            "event_id": "e1", "event_time": "2026-11-22T10:00:00.250Z", "source_ip": "192.0.2.1", "user_name": "ann",
            "matched": [{"field": "url.original", "value": "/x"}]
        });
        conn.execute(
            "INSERT INTO alerts (seq, id, rule_id, created_at, body) VALUES (7, ?1, 'r1', 0, ?2)",
            params!["0123456789abcdef0123456789abcdef", old.to_string()],
        )
        .unwrap();
        conn.execute("INSERT INTO alerts (seq, id, rule_id, created_at, body) VALUES (8, 'broken', 'r1', 0, '{not json')", []).unwrap();
        super::super::schema::migrate(&mut conn).unwrap();

        let (alert, transitions) = get(&conn, "0123456789abcdef0123456789abcdef").unwrap().unwrap();
        assert_eq!(alert.rule.tags, ["attack.t1190"]);
        assert_eq!(alert.evidence, ["e1"]);
        assert_eq!(alert.status, AlertStatus::Open);
        assert_eq!(rampart_model::format_timestamp(alert.first_event_time), "2026-11-22T10:00:00.250Z");
        assert_eq!(rampart_model::format_timestamp(alert.detected_at), "2026-11-22T10:00:01.500Z");
        let entities: Vec<(EntityKind, &str)> = alert.entities.iter().map(|e| (e.kind, e.value.as_str())).collect();
        assert_eq!(entities, [(EntityKind::Ip, "192.0.2.1"), (EntityKind::Account, "ann")]);
        assert_eq!(transitions.len(), 1);
        assert_eq!((transitions[0].action, transitions[0].actor.as_str()), (TransitionAction::Created, "rampart"));
        let seq: i64 = conn.query_row("SELECT seq FROM alerts WHERE id = ?1", [&alert.id], |r| r.get(0)).unwrap();
        assert_eq!(seq, 7, "the order of old alerts is kept");
        let request = AlertRequest { entity: Some((Some(EntityKind::Account), "ann".into())), limit: 10, ..Default::default() };
        assert_eq!(list(&conn, &request).unwrap().items.len(), 1);
        let kept: String = conn.query_row("SELECT body FROM alerts_v2 WHERE seq = 8", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, "{not json", "an unreadable row is kept, not dropped");
        // A new alert continues after the old ones.
        conn.execute("INSERT INTO alerts (id, rule_id, level, status, suppression_key, first_event_time, last_event_time, detected_at, updated_at, body) VALUES ('n', 'r', 'low', 'open', 'k', 0, 0, 0, 0, '{}')", []).unwrap();
        assert_eq!(conn.last_insert_rowid(), 9);
    }

    #[test]
    fn transitions_cannot_be_changed_or_deleted() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO alert_transitions (alert_id, action, actor, at, status) VALUES ('a', 'created', 'rampart', 0, 'open')",
            [],
        )
        .unwrap();
        assert!(conn.execute("UPDATE alert_transitions SET actor = 'me'", []).is_err());
        assert!(conn.execute("DELETE FROM alert_transitions", []).is_err());
        assert_eq!(conn.query_row("SELECT COUNT(*) FROM alert_transitions", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
    }
}
