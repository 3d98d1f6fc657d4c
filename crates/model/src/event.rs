//! The Event: one thing that happened, as nested JSON with typed access by dotted path.

use std::net::IpAddr;

use serde_json::{Map, Number, Value};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::fields::{self, FieldType};
use crate::money::{Currency, Money};
use crate::time::{format_timestamp, parse_timestamp};

/// How deep input objects may nest.
const MAX_DEPTH: usize = 32;
/// The longest `event.id` accepted.
const MAX_ID_LEN: usize = 256;

/// One event. Fields are nested JSON objects (`{"source": {"ip": ..}}`) addressed by dotted
/// paths (`source.ip`); known fields (see [`fields::CATALOGUE`]) are validated and normalized,
/// `@timestamp` and `event.id` are always present.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    timestamp: OffsetDateTime,
    fields: Map<String, Value>,
    id_generated: bool,
    timestamp_assigned: bool,
}

/// A new, time-ordered event id (UUID v7).
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Event {
    /// Builds an event from input JSON, nested or dotted, with `now` as the receive time.
    /// A missing `@timestamp` becomes `now`; a missing `event.id` is generated.
    pub fn from_json_at(input: Value, now: OffsetDateTime) -> Result<Event, FieldError> {
        let Value::Object(input) = input else {
            return Err(FieldError::NotAnObject);
        };
        let mut fields = Map::new();
        let mut path = String::new();
        for (key, value) in input {
            insert_nested(&mut fields, &mut path, &key, value, 0)?;
        }
        normalize_known_fields(&mut fields)?;

        let timestamp_assigned = lookup(&fields, fields::TIMESTAMP).is_none();
        let timestamp = match lookup(&fields, fields::TIMESTAMP) {
            Some(value) => parse_timestamp(value).ok_or_else(|| FieldError::invalid(fields::TIMESTAMP, "a timestamp"))?,
            None => {
                let now = now
                    .replace_nanosecond(u32::from(now.millisecond()) * 1_000_000)
                    .map_err(|_| FieldError::invalid(fields::TIMESTAMP, "a timestamp"))?;
                fields.insert(fields::TIMESTAMP.to_owned(), Value::String(format_timestamp(now)));
                now
            }
        };
        let id_generated = lookup(&fields, fields::EVENT_ID).is_none();
        let mut event = Event { timestamp, fields, id_generated, timestamp_assigned };
        if id_generated {
            event.set(fields::EVENT_ID, Value::String(new_event_id()));
        }
        Ok(event)
    }

    /// [`Event::from_json_at`] with the current time.
    pub fn from_json(input: Value) -> Result<Event, FieldError> {
        Event::from_json_at(input, OffsetDateTime::now_utc())
    }

    /// Rebuilds an event that Rampart itself stored (already normalized).
    pub fn from_stored(fields: Map<String, Value>) -> Result<Event, FieldError> {
        let timestamp = lookup(&fields, fields::TIMESTAMP)
            .and_then(parse_timestamp)
            .ok_or_else(|| FieldError::invalid(fields::TIMESTAMP, "a timestamp"))?;
        if lookup(&fields, fields::EVENT_ID).and_then(Value::as_str).is_none() {
            return Err(FieldError::invalid(fields::EVENT_ID, "a string"));
        }
        Ok(Event { timestamp, fields, id_generated: false, timestamp_assigned: false })
    }

    /// The event's time.
    pub fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }

    /// The event's id.
    pub fn id(&self) -> &str {
        self.get_str(fields::EVENT_ID).unwrap_or_default()
    }

    /// Whether Rampart generated the id (so it cannot be a retry of a stored event).
    pub fn id_generated(&self) -> bool {
        self.id_generated
    }

    /// Whether `@timestamp` is the receive time because the sender gave none.
    pub fn timestamp_assigned(&self) -> bool {
        self.timestamp_assigned
    }

    /// The value at a dotted path.
    pub fn get(&self, path: &str) -> Option<&Value> {
        lookup(&self.fields, path)
    }

    /// The string at a dotted path, if it is a string.
    pub fn get_str(&self, path: &str) -> Option<&str> {
        self.get(path).and_then(Value::as_str)
    }

    /// The exact amount of a money field (`payment.amount`, `order.amount`).
    pub fn money(&self, amount_path: &str) -> Option<Money> {
        let FieldType::Money(currency_path) = fields::field_type(amount_path)? else {
            return None;
        };
        let currency = Currency::from_code(self.get_str(currency_path)?)?;
        Money::parse_major(&self.get(amount_path)?.to_string(), currency)
    }

    /// Sets the value at a dotted path, creating objects on the way (and replacing non-objects).
    /// `@timestamp` cannot be changed this way.
    pub fn set(&mut self, path: &str, value: Value) {
        if path == fields::TIMESTAMP {
            return;
        }
        let mut map = &mut self.fields;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                map.insert(part.to_owned(), value);
                return;
            }
            let slot = map.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            map = match slot {
                Value::Object(inner) => inner,
                _ => return,
            };
        }
    }

    /// All fields, nested.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// The event as one line of JSON.
    pub fn to_json_string(&self) -> String {
        // Serializing a map of JSON values cannot fail.
        serde_json::to_string(&self.fields).unwrap_or_default()
    }

    /// Calls `visit` with every string value and its dotted path (arrays give their element paths
    /// without an index).
    pub fn for_each_string<'a>(&'a self, mut visit: impl FnMut(&str, &'a str)) {
        fn walk<'a>(value: &'a Value, path: &mut String, visit: &mut dyn FnMut(&str, &'a str)) {
            match value {
                Value::String(s) => visit(path, s),
                Value::Array(items) => items.iter().for_each(|item| walk(item, path, visit)),
                Value::Object(map) => {
                    for (key, child) in map {
                        let len = path.len();
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(key);
                        walk(child, path, visit);
                        path.truncate(len);
                    }
                }
                _ => {}
            }
        }
        let mut path = String::new();
        for (key, value) in &self.fields {
            path.clear();
            path.push_str(key);
            walk(value, &mut path, &mut visit);
        }
    }
}

impl serde::Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.fields.serialize(serializer)
    }
}

fn lookup<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = map.get(path) {
        return Some(value); // `@timestamp` and other dot-free keys
    }
    let mut parts = path.split('.');
    let mut value = map.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Inserts `value` under the dotted `key` into `target`, splitting dots and merging objects.
fn insert_nested(target: &mut Map<String, Value>, path: &mut String, key: &str, value: Value, depth: usize) -> Result<(), FieldError> {
    if depth > MAX_DEPTH {
        return Err(FieldError::TooDeep(MAX_DEPTH));
    }
    let mut map = target;
    let (parents, leaf) = match key.rsplit_once('.') {
        Some((parents, leaf)) if key != fields::TIMESTAMP => (Some(parents), leaf),
        _ => (None, key),
    };
    let start = path.len();
    let descend = |path: &mut String, part: &str| {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(part);
        if part.is_empty() {
            return Err(FieldError::invalid(path, "a field name without empty parts"));
        }
        Ok(())
    };
    for part in parents.into_iter().flat_map(|p| p.split('.')) {
        descend(path, part)?;
        let slot = map.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        map = match slot {
            Value::Object(inner) => inner,
            _ => return Err(FieldError::Conflict { field: path.clone() }),
        };
    }
    descend(path, leaf)?;
    match value {
        Value::Object(children) => {
            let slot = map.entry(leaf.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(inner) = slot else {
                return Err(FieldError::Conflict { field: path.clone() });
            };
            for (child_key, child) in children {
                insert_nested(inner, path, &child_key, child, depth + 1)?;
            }
        }
        Value::Array(items) if depth + 1 > MAX_DEPTH || items.iter().any(|item| nesting(item) > MAX_DEPTH - depth) => {
            return Err(FieldError::TooDeep(MAX_DEPTH));
        }
        leaf_value => match map.get(leaf) {
            Some(existing) if *existing != leaf_value => return Err(FieldError::Conflict { field: path.clone() }),
            _ => {
                map.insert(leaf.to_owned(), leaf_value);
            }
        },
    }
    path.truncate(start);
    Ok(())
}

/// How deep a value nests (a scalar is 0).
fn nesting(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

/// Validates every catalogue field present and rewrites it into its canonical form.
fn normalize_known_fields(map: &mut Map<String, Value>) -> Result<(), FieldError> {
    check_object_roots(map)?;
    for spec in fields::CATALOGUE {
        let Some(value) = lookup_mut(map, spec.path) else { continue };
        let normalized = normalize(spec.path, spec.kind, value)?;
        if let Some(normalized) = normalized {
            *value = normalized;
        }
    }
    // Money needs its currency, which may come later in the catalogue: a second pass.
    for spec in fields::CATALOGUE {
        let FieldType::Money(currency_path) = spec.kind else { continue };
        let Some(amount) = lookup(map, spec.path) else { continue };
        let currency = lookup(map, currency_path)
            .and_then(Value::as_str)
            .and_then(Currency::from_code)
            .ok_or(FieldError::Missing { field: spec.path.to_owned(), needs: currency_path })?;
        let text = match amount {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(FieldError::invalid(spec.path, "a decimal amount in major units")),
        };
        let money = Money::parse_major(&text, currency)
            .ok_or_else(|| FieldError::invalid(spec.path, "a non-negative decimal with no more fraction digits than the currency has"))?;
        let number: Number =
            money.to_major_string().parse().map_err(|_| FieldError::invalid(spec.path, "a decimal amount in major units"))?;
        if let Some(slot) = lookup_mut(map, spec.path) {
            *slot = Value::Number(number);
        }
    }
    if let Some(id) = lookup(map, fields::EVENT_ID).and_then(Value::as_str)
        && (id.is_empty() || id.len() > MAX_ID_LEN)
    {
        return Err(FieldError::invalid(fields::EVENT_ID, "a non-empty id of at most 256 bytes"));
    }
    Ok(())
}

/// Every object on the way to a known field (`event`, `source.geo`, `payment.card` ...) must be
/// an object when present: `{"event": "x"}` would otherwise lose its value to the generated id.
fn check_object_roots(map: &Map<String, Value>) -> Result<(), FieldError> {
    for spec in fields::CATALOGUE {
        if spec.path == fields::TIMESTAMP {
            continue;
        }
        let mut end = 0;
        while let Some(dot) = spec.path[end..].find('.') {
            end += dot;
            let root = &spec.path[..end];
            match lookup(map, root) {
                None => break,
                Some(Value::Object(_)) => {}
                Some(_) => return Err(FieldError::invalid(root, "an object")),
            }
            end += 1;
        }
    }
    Ok(())
}

fn lookup_mut<'a>(map: &'a mut Map<String, Value>, path: &str) -> Option<&'a mut Value> {
    if map.contains_key(path) {
        return map.get_mut(path);
    }
    let mut parts = path.split('.');
    let mut value = map.get_mut(parts.next()?)?;
    for part in parts {
        value = value.as_object_mut()?.get_mut(part)?;
    }
    Some(value)
}

/// The canonical form of one known field's value, `None` when it is already canonical.
fn normalize(path: &str, kind: FieldType, value: &Value) -> Result<Option<Value>, FieldError> {
    let as_text = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let integer = |value: &Value| match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    let out = match kind {
        FieldType::Timestamp => {
            let t = parse_timestamp(value)
                .ok_or_else(|| FieldError::invalid(path, "an RFC 3339 timestamp or epoch seconds/milliseconds between 1970 and 2200"))?;
            Value::String(format_timestamp(t))
        }
        FieldType::Keyword | FieldType::Text => match value {
            Value::String(_) => return Ok(None),
            other => Value::String(as_text(other).ok_or_else(|| FieldError::invalid(path, "a string"))?),
        },
        FieldType::Ip => {
            let ip: IpAddr =
                value.as_str().and_then(|s| s.trim().parse().ok()).ok_or_else(|| FieldError::invalid(path, "an IPv4 or IPv6 address"))?;
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
                v4 => v4,
            };
            Value::String(ip.to_string())
        }
        FieldType::Port => {
            Value::from(integer(value).filter(|p| *p <= 65_535).ok_or_else(|| FieldError::invalid(path, "a port number 0-65535"))?)
        }
        FieldType::Count => Value::from(integer(value).ok_or_else(|| FieldError::invalid(path, "a non-negative integer"))?),
        FieldType::StatusCode => Value::from(
            integer(value).filter(|c| (100..=599).contains(c)).ok_or_else(|| FieldError::invalid(path, "an HTTP status code 100-599"))?,
        ),
        FieldType::Money(_) => return Ok(None), // checked with its currency afterwards
        FieldType::Currency => {
            let code = value.as_str().map(str::to_ascii_uppercase).and_then(|c| Currency::from_code(&c));
            Value::String(code.ok_or_else(|| FieldError::invalid(path, "an ISO 4217 currency code"))?.code().to_owned())
        }
        FieldType::Country => {
            let code = value.as_str().filter(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()));
            Value::String(code.ok_or_else(|| FieldError::invalid(path, "an ISO 3166-1 alpha-2 country code"))?.to_ascii_uppercase())
        }
        FieldType::GeoPoint => {
            let coordinate = |key: &str, limit: f64| value.get(key).and_then(Value::as_f64).filter(|v| v.abs() <= limit);
            match (coordinate("lat", 90.0), coordinate("lon", 180.0)) {
                (Some(_), Some(_)) => return Ok(None),
                _ => return Err(FieldError::invalid(path, "{\"lat\": -90..90, \"lon\": -180..180}")),
            }
        }
        FieldType::KeywordList => {
            let items: Option<Vec<Value>> = match value {
                Value::Array(items) => items.iter().map(|item| as_text(item).map(Value::String)).collect(),
                other => as_text(other).map(|s| vec![Value::String(s)]),
            };
            Value::Array(items.ok_or_else(|| FieldError::invalid(path, "a string or a list of strings"))?)
        }
        FieldType::Outcome => match value.as_str() {
            Some("success" | "failure" | "unknown") => return Ok(None),
            _ => return Err(FieldError::invalid(path, "success, failure or unknown")),
        },
    };
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_341_600).unwrap()
    }

    #[test]
    fn dotted_and_nested_input_agree() {
        let dotted = Event::from_json_at(json!({"event.id": "a", "source.ip": "203.0.113.7", "source.port": "443"}), now()).unwrap();
        let nested = Event::from_json_at(json!({"event": {"id": "a"}, "source": {"ip": "203.0.113.7", "port": 443}}), now()).unwrap();
        assert_eq!(dotted, nested);
        assert_eq!(dotted.get(fields::SOURCE_PORT), Some(&json!(443)));
        assert_eq!(dotted.get_str(fields::TIMESTAMP), Some("2026-11-22T10:00:00.000Z"));
        assert!(!dotted.id_generated());
    }

    #[test]
    fn missing_id_is_generated_and_missing_time_is_now() {
        let event = Event::from_json_at(json!({"message": "hi"}), now()).unwrap();
        assert!(event.id_generated());
        assert_eq!(event.id().len(), 36);
        assert_eq!(event.timestamp(), now());
    }

    #[test]
    fn known_fields_are_normalized() {
        let event = Event::from_json_at(
            json!({
                "source.ip": "::ffff:192.0.2.1", "http.response.status_code": "404", "user.id": 42,
                "payment": {"amount": "19.9", "currency": "eur"}, "order.billing.country": "de", "tags": "vip"
            }),
            now(),
        )
        .unwrap();
        assert_eq!(event.get_str(fields::SOURCE_IP), Some("192.0.2.1"));
        assert_eq!(event.get(fields::HTTP_STATUS), Some(&json!(404)));
        assert_eq!(event.get_str(fields::USER_ID), Some("42"));
        assert_eq!(event.get(fields::PAYMENT_AMOUNT), Some(&json!(19.9)));
        assert_eq!(event.money(fields::PAYMENT_AMOUNT).unwrap().minor, 1990);
        assert_eq!(event.get_str(fields::ORDER_BILLING_COUNTRY), Some("DE"));
        assert_eq!(event.get(fields::TAGS), Some(&json!(["vip"])));
    }

    #[test]
    fn wrong_types_are_named() {
        let cases = [
            (json!({"source.ip": "999.1.1.1"}), "source.ip"),
            (json!({"source.port": 70000}), "source.port"),
            (json!({"http.response.status_code": 42}), "http.response.status_code"),
            (json!({"user.name": {"first": "a"}}), "user.name"),
            (json!({"event.outcome": "maybe"}), "event.outcome"),
            (json!({"payment.amount": 1.234, "payment.currency": "EUR"}), "payment.amount"),
            (json!({"payment.currency": "XYZ"}), "payment.currency"),
            (json!({"@timestamp": "2500-01-01T00:00:00Z"}), "@timestamp"),
            (json!({"event.id": ""}), "event.id"),
        ];
        for (input, field) in cases {
            match Event::from_json_at(input.clone(), now()) {
                Err(FieldError::Invalid { field: f, .. }) => assert_eq!(f, field, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
        assert_eq!(
            Event::from_json_at(json!({"payment.amount": 5}), now()),
            Err(FieldError::Missing { field: "payment.amount".into(), needs: "payment.currency" })
        );
        assert_eq!(Event::from_json_at(json!([1]), now()), Err(FieldError::NotAnObject));
    }

    #[test]
    fn issue_11_known_objects_of_the_wrong_type_are_invalid() {
        let roots = [
            "event",
            "source",
            "source.geo",
            "source.as",
            "source.as.organization",
            "client",
            "user",
            "session",
            "device",
            "user_agent",
            "http",
            "http.request",
            "http.request.body",
            "http.response",
            "http.response.body",
            "url",
            "api_key",
            "payment",
            "payment.card",
            "order",
            "order.billing",
            "order.shipping",
            "rampart",
        ];
        for root in roots {
            for wrong in [json!("string"), json!(null), json!([1, 2]), json!(7), json!(true)] {
                let (parent, leaf) = root.rsplit_once('.').unwrap_or(("", root));
                let mut input = json!({ leaf: wrong });
                for part in parent.split('.').filter(|p| !p.is_empty()).rev() {
                    input = json!({ part: input });
                }
                assert_eq!(
                    Event::from_json_at(input.clone(), now()),
                    Err(FieldError::Invalid { field: root.to_owned(), expected: "an object" }),
                    "{input}"
                );
            }
        }
        // Dotted keys reach the same objects; free-form roots keep any value.
        assert_eq!(
            Event::from_json_at(json!({"payment.card": "4111"}), now()),
            Err(FieldError::Invalid { field: "payment.card".into(), expected: "an object" })
        );
        let free = Event::from_json_at(json!({"shop": "x", "labels": null, "event": {}}), now()).unwrap();
        assert_eq!(free.get("shop"), Some(&json!("x")));
    }

    #[test]
    fn conflicts_and_depth_are_refused() {
        assert_eq!(
            Event::from_json_at(json!({"source.ip": "192.0.2.1", "source": "x"}), now()).unwrap_err(),
            FieldError::Conflict { field: "source".into() }
        );
        let mut deep = json!("leaf");
        for _ in 0..40 {
            deep = json!({ "a": deep });
        }
        assert_eq!(Event::from_json_at(deep, now()), Err(FieldError::TooDeep(MAX_DEPTH)));
        let mut deep_array = json!(1);
        for _ in 0..40 {
            deep_array = json!([deep_array]);
        }
        assert_eq!(Event::from_json_at(json!({ "x": deep_array }), now()), Err(FieldError::TooDeep(MAX_DEPTH)));
        assert!(matches!(Event::from_json_at(json!({"a..b": 1}), now()), Err(FieldError::Invalid { .. })));
    }

    #[test]
    fn strings_are_visited_with_paths() {
        let event = Event::from_json_at(json!({"event.id": "x", "url": {"original": "/a"}, "tags": ["t1", "t2"]}), now()).unwrap();
        let mut seen = Vec::new();
        event.for_each_string(|path, value| seen.push(format!("{path}={value}")));
        assert!(seen.contains(&"url.original=/a".to_owned()));
        assert!(seen.contains(&"tags=t2".to_owned()));
        assert!(seen.contains(&"event.id=x".to_owned()));
    }
}
