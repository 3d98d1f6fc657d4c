//! Read access to an event's fields by dotted path, shared by stored events and parsed records.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;

use crate::event::Event;
use crate::fields;

/// One value of a field, as matchers see it. Text borrows from the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// Text.
    Str(&'a str),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// An IP address held in binary form (parsed records).
    Ip(IpAddr),
    /// A point in time held in binary form (parsed records).
    Time(OffsetDateTime),
    /// An explicit JSON `null`.
    Null,
    /// A JSON array or object: matchers look at each array element.
    Json(&'a Value),
}

impl<'a> FieldValue<'a> {
    /// The value of a JSON scalar, or [`FieldValue::Json`] for arrays and objects.
    pub fn from_json(value: &'a Value) -> FieldValue<'a> {
        match value {
            Value::String(s) => FieldValue::Str(s),
            Value::Number(n) => match n.as_i64() {
                Some(i) => FieldValue::Int(i),
                None => n.as_f64().map_or(FieldValue::Json(value), FieldValue::Float),
            },
            Value::Bool(b) => FieldValue::Bool(*b),
            Value::Null => FieldValue::Null,
            Value::Array(_) | Value::Object(_) => FieldValue::Json(value),
        }
    }
}

/// Something whose fields can be read by ECS path: a stored [`Event`], or a record parsed from a
/// log line that has not been turned into one (detection reads both without copying).
pub trait FieldSource {
    /// The value at a dotted path (`url.original`), if the field is present.
    fn field(&self, path: &str) -> Option<FieldValue<'_>>;

    /// Calls `visit` with the text that full-text (keyword) search looks at: the raw record
    /// (`event.original`) when there is one, else every text value.
    fn for_each_text<'s>(&'s self, visit: &mut dyn FnMut(&'s str));
}

impl FieldSource for Event {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        self.get(path).map(FieldValue::from_json)
    }

    fn for_each_text<'s>(&'s self, visit: &mut dyn FnMut(&'s str)) {
        match self.get_str(fields::EVENT_ORIGINAL) {
            Some(original) => visit(original),
            None => self.for_each_string(|_, text| visit(text)),
        }
    }
}
