//! TCP syslog framing (RFC 6587): octet counting and newline framing, with bounded memory.

use memchr::memchr2;
use thiserror::Error;

use super::MAX_LEN_DIGITS;

/// Why the stream could not be split into a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame longer than the limit; the decoder skipped it and went on with the next one.
    #[error("a syslog frame is longer than {limit} bytes")]
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The stream ended inside an octet-counted frame.
    #[error("the stream ended after {received} of the {expected} bytes an octet-counted syslog frame announced")]
    Truncated {
        /// The announced length.
        expected: usize,
        /// The bytes that arrived.
        received: usize,
    },
}

/// What the decoder is throwing away after a frame that was too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Nothing: reading frames.
    None,
    /// The rest of an octet-counted frame.
    Bytes(u64),
    /// The rest of a line, through its LF or NUL.
    Line,
}

/// How the frame at the start of the buffer is framed.
enum Head {
    /// `LEN SP` of `header` bytes, then `len` bytes.
    Octets { header: usize, len: u64 },
    /// Only digits so far: either framing may follow.
    Undecided,
    /// A line ending at LF (or NUL), with an optional CR before it.
    Line,
}

/// Splits a TCP syslog stream into frames (RFC 6587), each detected on its own: `LEN SP MSG`
/// octet counting when it starts with a digit 1–9, digits and a space, else a line ending at LF
/// (CR LF, and NUL, accepted too). Empty lines are skipped.
///
/// Feed bytes with [`push`](Self::push), then call [`next_frame`](Self::next_frame) until it
/// returns `None`; at EOF call [`finish`](Self::finish) until it returns `None`. A frame longer
/// than `max_frame` yields [`FrameError::TooLong`] and is skipped without being buffered, so the
/// decoder holds at most `max_frame` + 20 bytes between pushes, plus what one push adds.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out; removed on the next push, while no frame borrows them.
    start: usize,
    /// Bytes after `start` known to hold no LF or NUL, so a slowly arriving line is scanned once.
    scanned: usize,
    skip: Skip,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes (terminators not counted).
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder { max_frame, buf: Vec::new(), start: 0, scanned: 0, skip: Skip::None }
    }

    /// Appends bytes received from the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // A skip is only pending once the buffer is empty, so new bytes can be dropped unseen.
        match self.skip {
            Skip::None => {}
            Skip::Bytes(n) => {
                let dropped = usize::try_from(n).unwrap_or(usize::MAX).min(bytes.len());
                bytes = bytes.get(dropped..).unwrap_or_default();
                self.skip = match n - dropped as u64 {
                    0 => Skip::None,
                    left => Skip::Bytes(left),
                };
            }
            Skip::Line => match memchr2(b'\n', 0, bytes) {
                Some(end) => {
                    bytes = bytes.get(end + 1..).unwrap_or_default();
                    self.skip = Skip::None;
                }
                None => bytes = &[],
            },
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, without its length prefix or terminator; `None` when more bytes
    /// are needed.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        self.next(false)
    }

    /// At EOF: like [`next_frame`](Self::next_frame), but a trailing line without a terminator is
    /// a frame, and a partial octet-counted frame is [`FrameError::Truncated`]. Call until `None`.
    pub fn finish(&mut self) -> Option<Result<&[u8], FrameError>> {
        self.next(true)
    }

    /// Bytes held, including those of the last frames returned (dropped on the next call).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn next(&mut self, eof: bool) -> Option<Result<&[u8], FrameError>> {
        // No returned frame is alive here, so a fully handed-out buffer can be dropped cheaply.
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        loop {
            let avail = self.buf.get(self.start..).unwrap_or_default();
            if avail.is_empty() {
                return None;
            }
            match head(avail) {
                Head::Octets { header, len } => {
                    let body = avail.len() - header;
                    let frame_len = usize::try_from(len).ok().filter(|&l| l <= self.max_frame);
                    let Some(frame_len) = frame_len else {
                        let dropped = body.min(usize::try_from(len).unwrap_or(usize::MAX));
                        self.consume(header + dropped);
                        self.skip = if len > dropped as u64 { Skip::Bytes(len - dropped as u64) } else { Skip::None };
                        return Some(Err(FrameError::TooLong { limit: self.max_frame }));
                    };
                    if body >= frame_len {
                        let from = self.start + header;
                        self.consume(header + frame_len);
                        return self.buf.get(from..from + frame_len).map(Ok);
                    }
                    if !eof {
                        return None;
                    }
                    self.consume(avail.len());
                    return Some(Err(FrameError::Truncated { expected: frame_len, received: body }));
                }
                Head::Undecided if !eof => return None,
                Head::Undecided | Head::Line => {}
            }
            let scanned = self.scanned.min(avail.len());
            let (line_len, consumed) = match memchr2(b'\n', 0, avail.get(scanned..).unwrap_or_default()) {
                Some(at) => (scanned + at, scanned + at + 1),
                None if eof => (avail.len(), avail.len()),
                None => {
                    self.scanned = avail.len();
                    // One byte of slack: the line's CR may be all that is still to come.
                    if avail.len() > self.max_frame.saturating_add(1) {
                        self.consume(avail.len());
                        self.skip = Skip::Line;
                        return Some(Err(FrameError::TooLong { limit: self.max_frame }));
                    }
                    return None;
                }
            };
            let line = avail.get(..line_len).unwrap_or_default();
            let line_len = if line.ends_with(b"\r") { line_len - 1 } else { line_len };
            let from = self.start;
            self.consume(consumed);
            if line_len > self.max_frame {
                return Some(Err(FrameError::TooLong { limit: self.max_frame }));
            }
            if line_len > 0 {
                return self.buf.get(from..from + line_len).map(Ok);
            }
        }
    }

    /// Marks `n` more bytes as handed out; the next frame starts unscanned.
    fn consume(&mut self, n: usize) {
        self.start += n;
        self.scanned = 0;
    }
}

/// Classifies the frame at the start of `avail` (which is not empty).
fn head(avail: &[u8]) -> Head {
    if !matches!(avail.first(), Some(b'1'..=b'9')) {
        return Head::Line;
    }
    let digits = avail.iter().take(MAX_LEN_DIGITS + 1).take_while(|b| b.is_ascii_digit()).count();
    if digits > MAX_LEN_DIGITS {
        return Head::Line;
    }
    match avail.get(digits) {
        None => Head::Undecided,
        Some(b' ') => {
            let len = avail.iter().take(digits).fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
            Head::Octets { header: digits + 1, len }
        }
        Some(_) => Head::Line,
    }
}
