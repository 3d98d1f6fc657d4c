//! Splitting a body into JSON records: one object, an array of objects, or NDJSON lines.

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
            let value: Value = match serde_json::from_slice(&quote_card_numbers(body)) {
                Ok(value) => value,
                Err(error) => {
                    each(1, Err(invalid_json(1, &error)));
                    return Ok(());
                }
            };
            match value {
                Value::Array(items) => {
                    for (index, item) in items.into_iter().enumerate() {
                        each(index, Ok(item));
                    }
                }
                object @ Value::Object(_) => each(1, Ok(object)),
                _ => return Err(BodyError::NotObjectOrArray),
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

/// serde_json's messages name the position and the expectation, never the content.
fn invalid_json(line: usize, error: &serde_json::Error) -> RecordError {
    RecordError { line, code: ErrorCode::InvalidJson, message: format!("invalid JSON: {error}") }
}
