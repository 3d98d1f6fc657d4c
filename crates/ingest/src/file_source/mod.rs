//! Follows one log file across rotations and restarts, handing out every line once with a stable (file, offset) position.
//!
//! Modelled on Vector's `file-source`: [`Follower`] (the reading loop) with its parts in modules of
//! their own — `watcher` (the path and its rotated siblings), `fingerprint` ([`FileIdentity`]),
//! `checkpoint` (the state file of the committed position), `read` (lines out of bytes) — and
//! typed [`FollowError`]s. `rampart ingest --follow` is a thin adapter that delivers each
//! [`LineBatch`] and then commits it.

mod checkpoint;
mod error;
mod fingerprint;
mod read;
mod watcher;

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use checkpoint::{Position, STATE_VERSION, State, load_state, write_state};
pub use error::FollowError;
use error::io_error;
use fingerprint::fingerprint;
pub use fingerprint::{FINGERPRINT_MAX_BYTES, FileIdentity};
use read::{Pending, READ_CHUNK, Reader, end_position, read_available};
use watcher::{find_by_inode, find_rotated, open_regular};

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

/// A file read to its end and left.
#[derive(Debug, Clone, Copy)]
struct Finished {
    ino: u64,
    label: Option<FileIdentity>,
    end: u64,
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

/// One delivery of followed lines: consecutive lines of one file, as they sit in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineBatch {
    /// The lines with their line endings (`\r\n` kept where the file has it), so byte offsets match.
    pub body: Vec<u8>,
    /// The file's key, `<fingerprint as 16 hex digits>-<inode>`: with `offset` it gives each line
    /// an event id that is the same however often and in whatever batches the line is read.
    pub key: String,
    /// Byte offset of the first line in its file.
    pub offset: u64,
    /// The file of the lines and the offset just after the last one: what to pass to
    /// [`Follower::commit`] once the batch is durable.
    pub commit: (FileIdentity, u64),
}

impl LineBatch {
    /// Groups the lines of one [`Follower::poll`] into batches: a round may span a rotation, so
    /// each file's lines go as their own batch, and a cut line ends its batch, so the next
    /// batch's offsets are exact again.
    pub fn group(lines: &[Line]) -> impl Iterator<Item = LineBatch> + '_ {
        lines.chunk_by(|a, b| a.file == b.file && a.end == b.offset && !a.truncated).filter_map(LineBatch::of)
    }

    /// The batch of consecutive lines of one file; `None` for no lines.
    fn of(lines: &[Line]) -> Option<LineBatch> {
        let (first, last) = (lines.first()?, lines.last()?);
        let mut body = Vec::with_capacity(lines.iter().map(|l| l.text.len() + 2).sum());
        for line in lines {
            body.extend_from_slice(&line.text);
            if line.end.saturating_sub(line.offset) == line.text.len() as u64 + 2 {
                body.push(b'\r');
            }
            body.push(b'\n');
        }
        let key = format!("{:016x}-{}", first.file.fingerprint, first.file.ino);
        Some(LineBatch { body, key, offset: first.offset, commit: (last.file, last.end) })
    }
}

/// The name of the state file of a followed path inside a state directory: the xxh3 of the
/// (absolute) path, so each followed path has its own.
pub fn state_file_name(path: &Path) -> String {
    format!("{:016x}.json", xxhash_rust::xxh3::xxh3_64(path.as_os_str().as_encoded_bytes()))
}

#[cfg(test)]
mod tests;
