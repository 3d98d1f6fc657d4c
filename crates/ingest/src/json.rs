//! Splitting a body into JSON records: one object, an array of objects, or NDJSON lines.
//!
//! An array is read element by element: only one record's [`Value`] exists at a time, so a body
//! of a million `{}` costs the events it becomes, not a million parsed values besides.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::Value;

use crate::body::Format;
use crate::error::{BodyError, ErrorCode, RecordError};
use crate::json_numbers::quote_card_numbers;

/// Calls `each` with every record of the body and its number (1-based line for NDJSON, 0-based
/// index for arrays, 1 for a single object). Records that cannot be parsed are reported through
/// `each` as errors; a body that is not JSON at all (for [`Format::Json`]) is a [`BodyError`].
pub(crate) fn split_records(
    format: Format,
    body: &[u8],
    max_line_bytes: usize,
    mut each: impl FnMut(usize, Result<Value, RecordError>),
) -> Result<(), BodyError> {
    match format {
        Format::Json => {
            // Card numbers written as numbers become strings first, so masking sees them as written.
            let quoted = quote_card_numbers(body);
            let body: &[u8] = &quoted;
            // A first pass checks the whole body without building anything, so invalid JSON
            // refuses the body before any record is taken.
            let shape = match serde_json::from_slice::<Shape>(body) {
                Ok(shape) => shape,
                Err(error) => {
                    each(1, Err(invalid_json(1, &error)));
                    return Ok(());
                }
            };
            match shape {
                Shape::Array(_) => {
                    let mut deserializer = serde_json::Deserializer::from_slice(body);
                    if let Err(error) = deserializer.deserialize_seq(EachElement { each: &mut each }) {
                        // Unreachable after the first pass; reported rather than assumed.
                        each(1, Err(invalid_json(1, &error)));
                    }
                }
                Shape::Object => match serde_json::from_slice::<Value>(body) {
                    Ok(object) => each(1, Ok(object)),
                    Err(error) => each(1, Err(invalid_json(1, &error))),
                },
                Shape::Other => return Err(BodyError::NotObjectOrArray),
            }
        }
        Format::Ndjson => {
            let mut line_no = 0;
            for line in body.split(|b| *b == b'\n') {
                line_no += 1;
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if line.len() > max_line_bytes {
                    each(
                        line_no,
                        Err(RecordError {
                            line: line_no,
                            code: ErrorCode::LineTooLong,
                            message: format!("the line is {} bytes; the limit is {max_line_bytes}", line.len()),
                        }),
                    );
                    continue;
                }
                each(line_no, serde_json::from_slice(&quote_card_numbers(line)).map_err(|error| invalid_json(line_no, &error)));
            }
        }
    }
    Ok(())
}

/// How many records a body holds, read without building them: the elements of a JSON array,
/// 1 for anything else in [`Format::Json`] (an object, or invalid JSON, which is one error), the
/// non-blank lines of NDJSON. Lets a caller refuse a body beyond its cap before it costs memory.
pub fn count_records(format: Format, body: &[u8]) -> usize {
    match format {
        Format::Json => match serde_json::from_slice::<Shape>(body) {
            Ok(Shape::Array(n)) => n,
            _ => 1,
        },
        Format::Ndjson => body.split(|b| *b == b'\n').filter(|line| !line.iter().all(u8::is_ascii_whitespace)).count(),
    }
}

/// The top level of a JSON body: an array (with its length), an object, or another value.
enum Shape {
    Array(usize),
    Object,
    Other,
}

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let mut n = 0usize;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(Shape::Array(n))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Shape, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(Shape::Object)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
}

/// Hands each element of an array to `each` as soon as it is parsed.
struct EachElement<'a, F> {
    each: &'a mut F,
}

impl<'de, F: FnMut(usize, Result<Value, RecordError>)> Visitor<'de> for EachElement<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(value) = seq.next_element_seed(OneValue)? {
            (self.each)(index, Ok(value));
            index += 1;
        }
        Ok(())
    }
}

struct OneValue;

impl<'de> DeserializeSeed<'de> for OneValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(deserializer)
    }
}

/// serde_json's messages name the position and the expectation, never the content.
fn invalid_json(line: usize, error: &serde_json::Error) -> RecordError {
    RecordError { line, code: ErrorCode::InvalidJson, message: format!("invalid JSON: {error}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Split = (Vec<(usize, Value)>, Vec<(usize, ErrorCode)>);

    fn split(format: Format, body: &[u8]) -> Split {
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        split_records(format, body, 1000, |n, r| match r {
            Ok(v) => ok.push((n, v)),
            Err(e) => bad.push((n, e.code)),
        })
        .unwrap();
        (ok, bad)
    }

    #[test]
    fn issue_11_arrays_are_streamed_and_counted() {
        let (ok, bad) = split(Format::Json, br#"[{"a":1}, 2, {}]"#);
        assert_eq!(ok, vec![(0, serde_json::json!({"a": 1})), (1, serde_json::json!(2)), (2, serde_json::json!({}))]);
        assert!(bad.is_empty());
        // Invalid JSON anywhere refuses the body before any record is taken.
        let (ok, bad) = split(Format::Json, br#"[{"a":1}, {"#);
        assert_eq!((ok.len(), bad), (0, vec![(1, ErrorCode::InvalidJson)]));
        assert!(matches!(split_records(Format::Json, b"42", 10, |_, _| {}), Err(BodyError::NotObjectOrArray)));
        assert_eq!(count_records(Format::Json, b"[{},{},{}]"), 3);
        assert_eq!(count_records(Format::Json, b"[]"), 0);
        assert_eq!(count_records(Format::Json, br#"{"a":[1,2]}"#), 1);
        assert_eq!(count_records(Format::Json, b"[{"), 1);
        assert_eq!(count_records(Format::Ndjson, b"{}\n\n {}\r\n{}"), 3);
    }
}
