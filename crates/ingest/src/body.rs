//! Request bodies: content types and capped decompression.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::error::BodyError;

/// How records are laid out in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object, or an array of objects.
    Json,
    /// Newline-delimited JSON objects.
    Ndjson,
}

impl Format {
    /// The format named by a `Content-Type` header (parameters such as `charset` are ignored).
    pub fn from_content_type(content_type: &str) -> Result<Format, BodyError> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Ok(Format::Json),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/x-jsonlines" => Ok(Format::Ndjson),
            _ => Err(BodyError::UnsupportedContentType(content_type.chars().take(100).collect())),
        }
    }
}

/// Undoes a `Content-Encoding` (`gzip`, or none), refusing output beyond `max_decompressed`
/// bytes, so a gzip bomb costs at most that much memory.
pub fn decode_body<'a>(encoding: Option<&str>, body: &'a [u8], max_decompressed: usize) -> Result<Cow<'a, [u8]>, BodyError> {
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "identity") => {
            if body.len() > max_decompressed {
                return Err(BodyError::TooLarge { limit: max_decompressed });
            }
            Ok(Cow::Borrowed(body))
        }
        Some("gzip" | "x-gzip") => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max_decompressed));
            let limit = u64::try_from(max_decompressed).unwrap_or(u64::MAX).saturating_add(1);
            // The one sanctioned decompressor: its output is capped by `take` right here.
            #[allow(clippy::disallowed_methods)]
            let decoder = MultiGzDecoder::new(body);
            decoder.take(limit).read_to_end(&mut out).map_err(|_| BodyError::CorruptGzip)?;
            if out.len() > max_decompressed {
                return Err(BodyError::TooLarge { limit: max_decompressed });
            }
            Ok(Cow::Owned(out))
        }
        Some(other) => Err(BodyError::UnsupportedEncoding(other.chars().take(50).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn content_types() {
        assert_eq!(Format::from_content_type("application/json; charset=utf-8").unwrap(), Format::Json);
        assert_eq!(Format::from_content_type("Application/X-NDJSON").unwrap(), Format::Ndjson);
        assert!(matches!(Format::from_content_type("text/plain"), Err(BodyError::UnsupportedContentType(_))));
    }

    #[test]
    fn gzip_round_trip_and_caps() {
        let data = b"{\"a\":1}\n".repeat(100);
        assert_eq!(decode_body(Some("gzip"), &gzip(&data), 1 << 20).unwrap().as_ref(), &data[..]);
        assert!(matches!(decode_body(Some("gzip"), &gzip(&data), 100), Err(BodyError::TooLarge { limit: 100 })));
        assert!(matches!(decode_body(None, &data, 100), Err(BodyError::TooLarge { limit: 100 })));
        let bomb = gzip(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 100_000);
        assert!(matches!(decode_body(Some("gzip"), &bomb, 10 << 20), Err(BodyError::TooLarge { .. })));
    }

    #[test]
    fn truncated_gzip_and_unknown_encodings_are_refused() {
        let data = gzip(b"{\"a\":1}");
        assert!(matches!(decode_body(Some("gzip"), &data[..data.len() - 5], 1 << 20), Err(BodyError::CorruptGzip)));
        assert!(matches!(decode_body(Some("gzip"), b"not gzip", 1 << 20), Err(BodyError::CorruptGzip)));
        assert!(matches!(decode_body(Some("br"), b"x", 1 << 20), Err(BodyError::UnsupportedEncoding(_))));
    }
}
