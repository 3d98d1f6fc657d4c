//! Reading a file into lines: the line being assembled, an open file's position, and positioned reads.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use super::error::{FollowError, io_error};
use super::fingerprint::{FileIdentity, fingerprint};
use super::{Finished, FollowOptions, Line};

/// Bytes read per system call.
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// The line being assembled: its start and its bytes so far (capped).
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub(super) start: u64,
    pub(super) bytes: Vec<u8>,
    /// More bytes came than the cap keeps.
    pub(super) overflow: bool,
}

impl Pending {
    pub(super) fn at(start: u64) -> Pending {
        Pending { start, bytes: Vec::new(), overflow: false }
    }

    pub(super) fn push(&mut self, bytes: &[u8], max_line: usize) {
        // One byte over the cap so that a `\r` before the `\n` of a line of exactly the cap still fits.
        let room = max_line.saturating_add(1).saturating_sub(self.bytes.len());
        let keep = bytes.len().min(room);
        self.bytes.extend_from_slice(bytes.get(..keep).unwrap_or_default());
        if keep < bytes.len() {
            self.overflow = true;
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty() && !self.overflow
    }

    /// Ends the line at `end`; the next one starts there. `terminated` is false for the unfinished
    /// last line of a file left for good, whose trailing `\r` is data, not a line ending.
    pub(super) fn take(&mut self, end: u64, file: FileIdentity, max_line: usize, terminated: bool) -> Line {
        let mut text = std::mem::take(&mut self.bytes);
        if terminated && !self.overflow && text.last() == Some(&b'\r') {
            text.pop();
        }
        let truncated = self.overflow || text.len() > max_line;
        text.truncate(max_line);
        let line = Line { text, file, offset: self.start, end, truncated };
        *self = Pending::at(end);
        line
    }
}

/// An open file and how far it has been read.
#[derive(Debug)]
pub(super) struct Reader {
    pub(super) file: File,
    /// The open file's own device and inode, to notice when the path names another file.
    pub(super) dev: u64,
    pub(super) ino: u64,
    /// The identity its lines carry; `None` until its first line is complete.
    pub(super) label: Option<FileIdentity>,
    /// Bytes consumed so far (the end of `pending`).
    pub(super) pos: u64,
    pub(super) pending: Pending,
}

impl Reader {
    pub(super) fn new(file: File, meta: &fs::Metadata, pos: u64, label: Option<FileIdentity>) -> Reader {
        Reader { file, dev: meta.dev(), ino: meta.ino(), label, pos, pending: Pending::at(pos) }
    }

    /// Returns the unfinished last line of a file that will not be read again, so it is not lost.
    pub(super) fn finish(mut self, max_line: usize, path: &Path, out: &mut Vec<Line>) -> Finished {
        if !self.pending.is_empty() && self.label.is_none() {
            // A file of one short unfinished line: it is complete now, so it is its own fingerprint.
            match fingerprint(&self.file, true) {
                Ok(fingerprint) => self.label = fingerprint.map(|fingerprint| FileIdentity { dev: self.dev, ino: self.ino, fingerprint }),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot fingerprint a rotated file; its unfinished last line is dropped")
                }
            }
        }
        if !self.pending.is_empty()
            && let Some(label) = self.label
        {
            out.push(self.pending.take(self.pos, label, max_line, false));
        }
        Finished { ino: self.ino, label: self.label, end: self.pos }
    }
}

/// Reads `reader` until its end or until `budget` is spent; returns whether the end was reached.
pub(super) fn read_available(
    reader: &mut Reader,
    scratch: &mut [u8],
    budget: &mut usize,
    options: &FollowOptions,
    path: &Path,
    out: &mut Vec<Line>,
) -> Result<bool, FollowError> {
    while *budget > 0 {
        let want = scratch.len().min(*budget);
        let Some(buf) = scratch.get_mut(..want) else { return Ok(false) };
        let n = read_at(&reader.file, buf, reader.pos).map_err(|e| io_error("read", path, e))?;
        let Some(data) = buf.get(..n) else { return Ok(false) };
        if data.is_empty() {
            return Ok(true);
        }
        if reader.label.is_none() {
            let fingerprint = fingerprint(&reader.file, false).map_err(|e| io_error("read", path, e))?;
            reader.label = fingerprint.map(|fingerprint| FileIdentity { dev: reader.dev, ino: reader.ino, fingerprint });
        }
        match reader.label {
            Some(label) => feed(reader, data, label, options.max_line_bytes, path, out),
            // A newline arrived yet the head has none: the file shrank under us. Leave the bytes
            // unread; the next poll sees the truncation.
            None if memchr::memchr(b'\n', data).is_some() => return Ok(false),
            None => {
                reader.pending.push(data, options.max_line_bytes);
                reader.pos += n as u64;
            }
        }
        *budget -= n;
    }
    Ok(false)
}

/// Splits `data`, which continues `reader` at its position, into lines.
pub(super) fn feed(reader: &mut Reader, data: &[u8], label: FileIdentity, max_line: usize, path: &Path, out: &mut Vec<Line>) {
    let base = reader.pos;
    let mut done = 0;
    for newline in memchr::memchr_iter(b'\n', data) {
        reader.pending.push(data.get(done..newline).unwrap_or_default(), max_line);
        let line = reader.pending.take(base + newline as u64 + 1, label, max_line, true);
        if line.truncated {
            tracing::warn!(path = %path.display(), offset = line.offset, limit = max_line, "a line longer than the limit was truncated");
        }
        out.push(line);
        done = newline + 1;
    }
    reader.pending.push(data.get(done..).unwrap_or_default(), max_line);
    reader.pos = base + data.len() as u64;
}

/// `read_at` that retries when interrupted.
pub(super) fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, pos) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Fills `buf` from `pos` as far as the file goes; returns how many bytes were read.
pub(super) fn read_full_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..)
        && !rest.is_empty()
    {
        let n = read_at(file, rest, pos + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Where [`StartAt::End`] starts: after the last newline, so a line being written now is returned whole.
pub(super) fn end_position(file: &File, len: u64) -> io::Result<u64> {
    let window = len.min(READ_CHUNK as u64);
    let start = len - window;
    let mut tail = vec![0; usize::try_from(window).unwrap_or(READ_CHUNK)];
    let n = read_full_at(file, &mut tail, start)?;
    Ok(match memchr::memrchr(b'\n', tail.get(..n).unwrap_or_default()) {
        Some(newline) => start + newline as u64 + 1,
        None if start == 0 => 0,
        // The unfinished last line is longer than the window: start after it rather than inside it.
        None => len,
    })
}
