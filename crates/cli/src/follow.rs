//! Follows one log file across rotations and restarts, handing out every line once with a stable (file, offset) position.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// The most bytes of a file's head that its fingerprint covers (fewer when the first line is shorter).
pub const FINGERPRINT_MAX_BYTES: usize = 256;
/// Bytes read per system call.
const READ_CHUNK: usize = 64 * 1024;
const STATE_VERSION: u32 = 1;
/// The state file is a few hundred bytes; anything much larger is not ours.
const STATE_MAX_BYTES: u64 = 64 * 1024;
/// Rotated siblings with these endings are compressed, so they cannot hold the lines we still need.
const COMPRESSED_SUFFIXES: [&[u8]; 8] = [b".gz", b".bz2", b".xz", b".zst", b".lz4", b".zip", b".Z", b".lzma"];

/// Where to start in a file that has no saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Read the whole file.
    Beginning,
    /// Skip what the file holds now (from the start of its last, unfinished line, if any).
    End,
}

/// Limits of a [`Follower`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowOptions {
    /// Longer lines are returned cut to this many bytes with [`Line::truncated`] set; this bounds memory.
    pub max_line_bytes: usize,
    /// After a rename rotation, the old file is read until it has been quiet this long, because the
    /// writer keeps appending to it until it reopens its log (nginx does on `USR1`, after the rename).
    pub rotation_grace: Duration,
}

impl Default for FollowOptions {
    fn default() -> FollowOptions {
        FollowOptions { max_line_bytes: 1024 * 1024, rotation_grace: Duration::from_secs(1) }
    }
}

/// Which file a line came from.
///
/// `fingerprint` is the xxh3 of the file's head: the bytes up to and including the first `\n` when
/// that comes within [`FINGERPRINT_MAX_BYTES`], otherwise the first [`FINGERPRINT_MAX_BYTES`] bytes.
/// It never changes once the file has one complete line, which is before any line is returned, so
/// the identity of every returned line is final and a re-read yields the same value. (Hashing the
/// first 256 bytes of a file that had only its first line when it was read would not be stable.)
/// The fingerprint survives copying (`copytruncate`) and `(dev, ino)` survives renaming, so the
/// pair recognizes a rotated copy and tells apart files that start with the same line.
///
/// Known limit: after an in-place truncation, new content that starts with the same first line as
/// the old (a fixed header) gets the same identity, so callers deriving event ids should mix in the
/// line text too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileIdentity {
    /// Device of the file when it was first read.
    pub dev: u64,
    /// Inode of the file when it was first read.
    pub ino: u64,
    /// xxh3 of the file's head (see above).
    pub fingerprint: u64,
}

/// One complete line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The bytes without the trailing `\n` or `\r\n`, at most [`FollowOptions::max_line_bytes`].
    pub text: Vec<u8>,
    /// The file it was read from; lines read from a `copytruncate` copy carry the original's identity.
    pub file: FileIdentity,
    /// Byte offset of the line's start in that file.
    pub offset: u64,
    /// Byte offset just after the line's newline: what to pass to [`Follower::commit`].
    pub end: u64,
    /// The line was longer than [`FollowOptions::max_line_bytes`] and `text` holds only its start.
    pub truncated: bool,
}

/// Why following failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    /// A file system call failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The followed path names a directory, device or pipe.
    #[error("{} is not a regular file; expected a log file to follow", path.display())]
    NotAFile {
        /// The followed path.
        path: PathBuf,
    },
    /// The state file does not parse.
    #[error("the follow state {} is not valid: expected JSON with version, path and position (delete it to read the log again from the start)", path.display())]
    BadState {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The state file was written by another version.
    #[error("the follow state {} has version {found}, expected {STATE_VERSION}", path.display())]
    StateVersion {
        /// The state file.
        path: PathBuf,
        /// The version it holds.
        found: u32,
    },
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> FollowError {
    FollowError::Io { action, path: path.to_owned(), source }
}

/// What the state file holds: the last committed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    version: u32,
    path: PathBuf,
    position: Position,
}

/// Where to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Position {
    /// The first `offset` bytes of `file` are handled.
    In { file: FileIdentity, offset: u64 },
    /// Everything before the file with this inode is handled, and none of it. Saved when a file is
    /// entered with all before it committed: such a file may have no complete line, hence no
    /// fingerprint, yet if it is rotated away while we are stopped its lines must still be read.
    Start { dev: u64, ino: u64 },
}

/// A file read to its end and left.
#[derive(Debug, Clone, Copy)]
struct Finished {
    ino: u64,
    label: Option<FileIdentity>,
    end: u64,
}

/// The line being assembled: its start and its bytes so far (capped).
#[derive(Debug, Default)]
struct Pending {
    start: u64,
    bytes: Vec<u8>,
    /// More bytes came than the cap keeps.
    overflow: bool,
}

impl Pending {
    fn at(start: u64) -> Pending {
        Pending { start, bytes: Vec::new(), overflow: false }
    }

    fn push(&mut self, bytes: &[u8], max_line: usize) {
        // One byte over the cap so that a `\r` before the `\n` of a line of exactly the cap still fits.
        let room = max_line.saturating_add(1).saturating_sub(self.bytes.len());
        let keep = bytes.len().min(room);
        self.bytes.extend_from_slice(bytes.get(..keep).unwrap_or_default());
        if keep < bytes.len() {
            self.overflow = true;
        }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty() && !self.overflow
    }

    /// Ends the line at `end`; the next one starts there. `terminated` is false for the unfinished
    /// last line of a file left for good, whose trailing `\r` is data, not a line ending.
    fn take(&mut self, end: u64, file: FileIdentity, max_line: usize, terminated: bool) -> Line {
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
struct Reader {
    file: File,
    /// The open file's own device and inode, to notice when the path names another file.
    dev: u64,
    ino: u64,
    /// The identity its lines carry; `None` until its first line is complete.
    label: Option<FileIdentity>,
    /// Bytes consumed so far (the end of `pending`).
    pos: u64,
    pending: Pending,
}

impl Reader {
    fn new(file: File, meta: &fs::Metadata, pos: u64, label: Option<FileIdentity>) -> Reader {
        Reader { file, dev: meta.dev(), ino: meta.ino(), label, pos, pending: Pending::at(pos) }
    }

    /// Returns the unfinished last line of a file that will not be read again, so it is not lost.
    fn finish(mut self, max_line: usize, path: &Path, out: &mut Vec<Line>) -> Finished {
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

/// A file the path no longer names (renamed away, or a `copytruncate` copy), read to its end before the new one.
#[derive(Debug)]
struct Rotated {
    reader: Reader,
    /// When it last produced bytes, for the grace period; `None` when nothing writes to it any more (a copy).
    quiet_since: Option<Instant>,
}

/// Tails one path: returns complete lines as they are appended, follows rename and `copytruncate`
/// rotations without losing the lines written around them, and resumes after a restart from the
/// last [`commit`](Follower::commit).
///
/// Only one file is read at a time: a rotated file to its end (and, after a rename, until it has
/// been quiet for [`FollowOptions::rotation_grace`]), then the new one from offset 0. Rotated
/// copies are looked for next to the path as `<name>.*` and `<name>-*` (not compressed).
///
/// Known limits, shared with Filebeat and Vector: a generation is skipped when the path is rotated
/// twice between two polls, or twice after the committed position while stopped (only the path and
/// a copy of the file being read are looked for); a file created and rotated away before it was
/// ever seen is not read; an in-place truncation is not noticed when the file is refilled past our
/// offset with the same first line, nor when none of the file's lines had been read yet.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    state_path: PathBuf,
    options: FollowOptions,
    /// A file being finished before `live`.
    rotated: Option<Rotated>,
    /// The file the path named when last looked at; `None` while the path does not exist.
    live: Option<Reader>,
    /// What the state file holds, to skip rewriting it unchanged.
    committed: Option<State>,
    /// The last file left, to notice when the committed position is at its very end.
    finished: Option<Finished>,
    /// No state and no file yet: the first file to appear starts the stream.
    at_origin: bool,
    /// An error met after lines were read, returned by the next poll.
    deferred_error: Option<FollowError>,
    scratch: Vec<u8>,
}

impl Follower {
    /// Opens `path` with the default [`FollowOptions`]; see [`Follower::open_with`].
    pub fn open(path: &Path, state_path: &Path, start: StartAt) -> Result<Follower, FollowError> {
        Follower::open_with(path, state_path, start, FollowOptions::default())
    }

    /// Opens `path`, resuming from the state saved at `state_path` when it still describes this
    /// file or a rotated copy of it (the copy is read from the saved offset, then the path from 0).
    /// `start` is used only without saved state and when the file exists now (a file that appears
    /// later is new, so it is read from its beginning). Without saved state the starting point is
    /// saved at once, so a crash before the first commit neither skips nor loses lines.
    pub fn open_with(path: &Path, state_path: &Path, start: StartAt, options: FollowOptions) -> Result<Follower, FollowError> {
        let saved = match load_state(state_path)? {
            Some(state) if state.path != path => {
                tracing::warn!(
                    state = %state_path.display(),
                    saved_path = %state.path.display(),
                    path = %path.display(),
                    "the follow state is for another file; ignoring it"
                );
                None
            }
            other => other,
        };
        let mut follower = Follower {
            path: path.to_owned(),
            state_path: state_path.to_owned(),
            options,
            rotated: None,
            live: None,
            committed: saved.clone(),
            finished: None,
            at_origin: false,
            deferred_error: None,
            scratch: vec![0; READ_CHUNK],
        };
        let current = open_regular(path)?;
        let Some(saved) = saved else {
            match current {
                None => follower.at_origin = true,
                Some((file, meta)) => follower.start_fresh(file, &meta, start)?,
            }
            return Ok(follower);
        };
        let current_ino = current.as_ref().map(|(_, meta)| meta.ino());
        match saved.position {
            Position::In { file: identity, offset } => {
                if let Some((file, meta)) = current {
                    let fingerprint = fingerprint(&file, false).map_err(|e| io_error("read", path, e))?;
                    // The device is not compared: it can change across reboots, and the candidates share a directory.
                    if meta.ino() == identity.ino && fingerprint == Some(identity.fingerprint) && meta.len() >= offset {
                        follower.live = Some(Reader::new(file, &meta, offset, Some(identity)));
                        return Ok(follower);
                    }
                    follower.live = Some(Reader::new(file, &meta, 0, None));
                }
                // Renamed away, or truncated in place, while we were stopped.
                let found = find_rotated(path, &identity, current_ino, offset)?;
                follower.rotated = found.map(|found| {
                    tracing::info!(path = %path.display(), rotated = %found.path.display(), "resuming in the rotated file");
                    // A file renamed just now may still get the writer's last lines; a copy never does.
                    let quiet_since = (found.ino == identity.ino).then(Instant::now);
                    let reader = Reader {
                        file: found.file,
                        dev: found.dev,
                        ino: found.ino,
                        label: Some(identity),
                        pos: offset,
                        pending: Pending::at(offset),
                    };
                    Rotated { reader, quiet_since }
                });
            }
            Position::Start { ino, .. } => {
                if let Some((file, meta)) = current {
                    let same = meta.ino() == ino;
                    follower.live = Some(Reader::new(file, &meta, 0, None));
                    if same {
                        return Ok(follower);
                    }
                }
                let found = find_by_inode(path, ino)?;
                follower.rotated = found.map(|found| {
                    tracing::info!(path = %path.display(), rotated = %found.path.display(), "resuming at the start of the rotated file");
                    let reader = Reader { file: found.file, dev: found.dev, ino: found.ino, label: None, pos: 0, pending: Pending::at(0) };
                    Rotated { reader, quiet_since: Some(Instant::now()) }
                });
            }
        }
        if follower.rotated.is_none() {
            tracing::warn!(
                path = %path.display(),
                "the file changed while stopped and no rotated copy holds the saved position; reading the current file from its start"
            );
        }
        Ok(follower)
    }

    /// Reads the complete lines available now, consuming at most about `max_bytes` bytes of input
    /// (none when it is 0), without blocking. An empty answer means nothing new: sleep a little.
    /// An error met after some lines were read is returned by the next call, so those lines are
    /// not lost; polling again after an error retries.
    pub fn poll(&mut self, max_bytes: usize) -> Result<Vec<Line>, FollowError> {
        if let Some(error) = self.deferred_error.take() {
            return Err(error);
        }
        let mut out = Vec::new();
        match self.poll_into(max_bytes, &mut out) {
            Ok(()) => Ok(out),
            Err(error) if out.is_empty() => Err(error),
            Err(error) => {
                self.deferred_error = Some(error);
                Ok(out)
            }
        }
    }

    /// [`Follower::poll`], leaving every reader consistent with `out` at each `?`.
    fn poll_into(&mut self, max_bytes: usize, out: &mut Vec<Line>) -> Result<(), FollowError> {
        let mut budget = max_bytes;
        while budget > 0 {
            if let Some(rotated) = self.rotated.as_mut() {
                let before = rotated.reader.pos;
                let at_end = read_available(&mut rotated.reader, &mut self.scratch, &mut budget, &self.options, &self.path, out)?;
                if rotated.reader.pos != before
                    && let Some(quiet_since) = rotated.quiet_since.as_mut()
                {
                    *quiet_since = Instant::now();
                }
                let grace_over = rotated.quiet_since.is_none_or(|t| t.elapsed() >= self.options.rotation_grace);
                if !(at_end && grace_over) {
                    break;
                }
                if let Some(done) = self.rotated.take() {
                    self.finished = Some(done.reader.finish(self.options.max_line_bytes, &self.path, out));
                    self.advance_committed()?;
                }
                continue;
            }
            if self.live.is_none() {
                match open_regular(&self.path)? {
                    Some((file, meta)) => {
                        self.live = Some(Reader::new(file, &meta, 0, None));
                        self.advance_committed()?;
                    }
                    None => break,
                }
            }
            if self.check_truncation(out)? {
                continue;
            }
            let Some(live) = self.live.as_mut() else { break };
            if !read_available(live, &mut self.scratch, &mut budget, &self.options, &self.path, out)? {
                break;
            }
            // At the end of the file: does the path still name it?
            let (dev, ino) = (live.dev, live.ino);
            match fs::metadata(&self.path) {
                Ok(meta) if meta.dev() == dev && meta.ino() == ino => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("read the metadata of", &self.path, e)),
            }
            let next = open_regular(&self.path)?;
            if let Some((_, meta)) = &next
                && meta.dev() == dev
                && meta.ino() == ino
            {
                break;
            }
            tracing::debug!(path = %self.path.display(), "the file was renamed away; finishing it before the new one");
            self.rotated = self.live.take().map(|reader| Rotated { reader, quiet_since: Some(Instant::now()) });
            self.live = next.map(|(file, meta)| Reader::new(file, &meta, 0, None));
        }
        Ok(())
    }

    /// Records that every line of `file` up to `end` (a [`Line::end`]) is durably handled, so a
    /// restart resumes there. The state file is replaced atomically (temporary file, fsync, rename,
    /// directory fsync) and is created with mode 0600. Commit in the order lines were returned.
    /// Positions in a file already left behind are fine: a restart reads its rotated copy from
    /// there, then the current file.
    pub fn commit(&mut self, file: FileIdentity, end: u64) -> Result<(), FollowError> {
        self.save(Position::In { file, offset: end })?;
        self.advance_committed()
    }

    fn save(&mut self, position: Position) -> Result<(), FollowError> {
        let state = State { version: STATE_VERSION, path: self.path.clone(), position };
        if self.committed.as_ref() != Some(&state) {
            write_state(&self.state_path, &state)?;
            self.committed = Some(state);
        }
        Ok(())
    }

    /// Without saved state: starts `file` at `start` and saves that point.
    fn start_fresh(&mut self, file: File, meta: &fs::Metadata, start: StartAt) -> Result<(), FollowError> {
        let mut reader = Reader::new(file, meta, 0, None);
        let mut position = Position::Start { dev: reader.dev, ino: reader.ino };
        if start == StartAt::End {
            let read_error = |e| io_error("read", &self.path, e);
            let pos = end_position(&reader.file, meta.len()).map_err(read_error)?;
            if pos > 0 {
                // A newline precedes `pos`, so the fingerprint exists.
                if let Some(fingerprint) = fingerprint(&reader.file, false).map_err(read_error)? {
                    let label = FileIdentity { dev: reader.dev, ino: reader.ino, fingerprint };
                    reader = Reader::new(reader.file, meta, pos, Some(label));
                    position = Position::In { file: label, offset: pos };
                }
            }
        }
        self.live = Some(reader);
        self.save(position)
    }

    /// When everything up to the end of the file just left is committed, moves the saved position
    /// to the start of the file after it, which the saved state could not otherwise find if that
    /// file has no complete line yet and is rotated away while we are stopped.
    fn advance_committed(&mut self) -> Result<(), FollowError> {
        let Some(next) = self.rotated.as_ref().map(|rotated| &rotated.reader).or(self.live.as_ref()) else { return Ok(()) };
        let through_previous = match (self.committed.as_ref().map(|state| state.position), self.finished) {
            (None, _) => self.at_origin,
            (Some(Position::In { file, offset }), Some(finished)) => finished.label == Some(file) && finished.end == offset,
            (Some(Position::Start { ino, .. }), Some(finished)) => finished.ino == ino && finished.end == 0,
            (Some(_), None) => false,
        };
        if through_previous {
            let position = Position::Start { dev: next.dev, ino: next.ino };
            self.save(position)?;
            self.finished = None;
            self.at_origin = false;
        }
        Ok(())
    }

    /// Notices that the live file was truncated (or its head rewritten) under us: `copytruncate`.
    /// The lines between our position and the copy's end are in the copy, so that is read first
    /// with the original identity; the live file then continues from 0. Returns whether it happened.
    fn check_truncation(&mut self, out: &mut Vec<Line>) -> Result<bool, FollowError> {
        let Some(live) = self.live.as_ref() else { return Ok(false) };
        let len = live.file.metadata().map_err(|e| io_error("read the metadata of", &self.path, e))?.len();
        let replaced = len < live.pos
            || match live.label {
                Some(label) => fingerprint(&live.file, false).map_err(|e| io_error("read", &self.path, e))? != Some(label.fingerprint),
                None => false,
            };
        if !replaced {
            return Ok(false);
        }
        // Looked for before anything changes, so that an error leaves the reader as it was.
        let copy = match live.label {
            Some(label) => find_rotated(&self.path, &label, Some(live.ino), live.pos)?,
            None => None,
        };
        let Some(Reader { file, dev, ino, label, pos, pending }) = self.live.take() else { return Ok(false) };
        self.live = Some(Reader { file, dev, ino, label: None, pos: 0, pending: Pending::at(0) });
        match (label, copy) {
            (Some(label), Some(copy)) => {
                tracing::info!(
                    path = %self.path.display(),
                    copy = %copy.path.display(),
                    "the file was truncated in place; reading the rest of its copy first"
                );
                let reader = Reader { file: copy.file, dev: copy.dev, ino: copy.ino, label: Some(label), pos, pending };
                self.rotated = Some(Rotated { reader, quiet_since: None });
            }
            (label, _) => {
                tracing::warn!(
                    path = %self.path.display(),
                    "the file was truncated in place and no copy of it was found; lines written just before may be lost"
                );
                let mut pending = pending;
                if let Some(label) = label
                    && !pending.is_empty()
                {
                    out.push(pending.take(pos, label, self.options.max_line_bytes, false));
                }
                self.finished = Some(Finished { ino, label, end: pos });
                self.advance_committed()?;
            }
        }
        Ok(true)
    }
}

/// Reads `reader` until its end or until `budget` is spent; returns whether the end was reached.
fn read_available(
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
fn feed(reader: &mut Reader, data: &[u8], label: FileIdentity, max_line: usize, path: &Path, out: &mut Vec<Line>) {
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
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, pos) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Fills `buf` from `pos` as far as the file goes; returns how many bytes were read.
fn read_full_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
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

/// The file's fingerprint (see [`FileIdentity`]), or `None` while its first line is unfinished and
/// shorter than [`FINGERPRINT_MAX_BYTES`]. A `finished` file (rotated away) has its whole content
/// as fingerprint in that case, since it will not grow.
fn fingerprint(file: &File, finished: bool) -> io::Result<Option<u64>> {
    let mut head = [0; FINGERPRINT_MAX_BYTES];
    let n = read_full_at(file, &mut head, 0)?;
    let head = head.get(..n).unwrap_or_default();
    Ok(match memchr::memchr(b'\n', head) {
        Some(newline) => head.get(..=newline).map(xxh3_64),
        None if n == FINGERPRINT_MAX_BYTES || (finished && n > 0) => Some(xxh3_64(head)),
        None => None,
    })
}

/// Where [`StartAt::End`] starts: after the last newline, so a line being written now is returned whole.
fn end_position(file: &File, len: u64) -> io::Result<u64> {
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

/// Opens `path` for reading; `None` when it does not exist.
fn open_regular(path: &Path) -> Result<Option<(File, fs::Metadata)>, FollowError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("open", path, e)),
    };
    let meta = file.metadata().map_err(|e| io_error("read the metadata of", path, e))?;
    if !meta.is_file() {
        return Err(FollowError::NotAFile { path: path.to_owned() });
    }
    Ok(Some((file, meta)))
}

/// A rotated sibling that matched.
#[derive(Debug)]
struct Found {
    path: PathBuf,
    file: File,
    dev: u64,
    ino: u64,
}

/// Opens each rotated sibling of `path` (`<name>.*`, `<name>-*`, not compressed) that is a regular
/// file and passes it to `visit`. Entries that vanish or cannot be read while we look are skipped:
/// they are not the file we need.
fn for_each_sibling(path: &Path, mut visit: impl FnMut(PathBuf, File, fs::Metadata)) -> Result<(), FollowError> {
    let Some(name) = path.file_name() else { return Ok(()) };
    let name = name.as_bytes();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("list the directory", dir, e)),
    };
    for entry in entries.flatten() {
        let candidate = entry.file_name();
        let candidate = candidate.as_bytes();
        let is_sibling = candidate.len() > name.len() + 1
            && candidate.starts_with(name)
            && matches!(candidate.get(name.len()), Some(b'.' | b'-'))
            && !COMPRESSED_SUFFIXES.iter().any(|suffix| candidate.ends_with(suffix));
        if !is_sibling {
            continue;
        }
        let candidate_path = entry.path();
        let Ok(file) = File::open(&candidate_path) else { continue };
        let Ok(meta) = file.metadata() else { continue };
        if meta.is_file() {
            visit(candidate_path, file, meta);
        }
    }
    Ok(())
}

/// The rotated sibling holding the file `want` was read from: the same fingerprint, and not inode
/// `exclude_ino` (the file the path names now). Prefers the renamed file itself (same inode), then
/// one holding at least `offset` bytes, then the newest.
fn find_rotated(path: &Path, want: &FileIdentity, exclude_ino: Option<u64>, offset: u64) -> Result<Option<Found>, FollowError> {
    let mut best: Option<((bool, bool, i64, i64), Found)> = None;
    for_each_sibling(path, |candidate, file, meta| {
        if Some(meta.ino()) == exclude_ino || !matches!(fingerprint(&file, true), Ok(Some(fingerprint)) if fingerprint == want.fingerprint)
        {
            return;
        }
        let rank = (meta.ino() == want.ino, meta.len() >= offset, meta.mtime(), meta.mtime_nsec());
        if best.as_ref().is_none_or(|(best_rank, _)| rank > *best_rank) {
            best = Some((rank, Found { path: candidate, file, dev: meta.dev(), ino: meta.ino() }));
        }
    })?;
    Ok(best.map(|(_, found)| found))
}

/// The rotated sibling that is inode `ino` (a file renamed away before it had a fingerprint).
fn find_by_inode(path: &Path, ino: u64) -> Result<Option<Found>, FollowError> {
    let mut found = None;
    for_each_sibling(path, |candidate, file, meta| {
        if found.is_none() && meta.ino() == ino {
            found = Some(Found { path: candidate, file, dev: meta.dev(), ino });
        }
    })?;
    Ok(found)
}

fn load_state(path: &Path) -> Result<Option<State>, FollowError> {
    #[derive(Deserialize)]
    struct Versioned {
        version: u32,
    }
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("open the follow state", path, e)),
    };
    let mut bytes = Vec::new();
    file.take(STATE_MAX_BYTES).read_to_end(&mut bytes).map_err(|e| io_error("read the follow state", path, e))?;
    let bad = |source| FollowError::BadState { path: path.to_owned(), source };
    let Versioned { version } = serde_json::from_slice(&bytes).map_err(bad)?;
    if version != STATE_VERSION {
        return Err(FollowError::StateVersion { path: path.to_owned(), found: version });
    }
    serde_json::from_slice(&bytes).map(Some).map_err(bad)
}

/// Replaces the state file atomically and durably; the temporary file is created 0600, so the state is too.
fn write_state(path: &Path, state: &State) -> Result<(), FollowError> {
    let error = |e| io_error("write the follow state", path, e);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut json = serde_json::to_vec(state).map_err(|e| error(io::Error::new(io::ErrorKind::InvalidData, e)))?;
    json.push(b'\n');
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
    temp.write_all(&json).map_err(error)?;
    temp.as_file().sync_all().map_err(error)?;
    temp.persist(path).map_err(|e| error(e.error))?;
    // Without this the rename itself may not survive a power loss.
    File::open(dir).and_then(|dir| dir.sync_all()).map_err(|e| io_error("sync the directory", dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
