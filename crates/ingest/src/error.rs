//! Typed errors of ingestion: a body that cannot be read at all, or one record that is refused.

use std::fmt;

use thiserror::Error;

/// Why a whole body cannot be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BodyError {
    /// A `Content-Encoding` other than `gzip` or `identity`.
    #[error("unsupported Content-Encoding `{0}`: send gzip or identity")]
    UnsupportedEncoding(String),
    /// The gzip stream is truncated or corrupt.
    #[error("the gzip body is truncated or corrupt")]
    CorruptGzip,
    /// The body decompresses to more than the limit.
    #[error("the body decompresses to more than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A `Content-Type` Rampart does not read.
    #[error("unsupported Content-Type `{0}`: send application/json or application/x-ndjson")]
    UnsupportedContentType(String),
    /// A JSON body that is not an object or an array.
    #[error("a JSON body must be an object or an array of objects")]
    NotObjectOrArray,
}

/// Why one record was refused, in the API's `errors` list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordError {
    /// 1-based line for NDJSON, the element's 0-based index for a JSON array.
    pub line: usize,
    /// A stable machine-readable code.
    pub code: ErrorCode,
    /// What was expected. Never quotes the record's content.
    pub message: String,
}

/// Stable codes of refused records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not valid JSON (or not UTF-8).
    InvalidJson,
    /// Valid JSON that is not an object.
    NotAnObject,
    /// A known field with the wrong type or form.
    InvalidField,
    /// A line longer than the line cap.
    LineTooLong,
    /// A live event whose time is outside the accepted window.
    TimestampOutOfRange,
    /// A log line that does not fit its format.
    InvalidLine,
}

impl ErrorCode {
    /// The code as sent over the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::NotAnObject => "not_an_object",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::LineTooLong => "line_too_long",
            ErrorCode::TimestampOutOfRange => "timestamp_out_of_range",
            ErrorCode::InvalidLine => "invalid_line",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of JSON error this is, in words (never the input's text).
pub(crate) fn json_category(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong type",
        serde_json::error::Category::Eof => "unexpected end",
    }
}
