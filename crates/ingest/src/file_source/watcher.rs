//! Finding the files a followed path names over time: the path itself, and its rotated siblings
//! (`<name>.*`, `<name>-*`, not compressed), recognized by inode or fingerprint.

use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::error::{FollowError, io_error};
use super::fingerprint::{FileIdentity, fingerprint};

/// Rotated siblings with these endings are compressed, so they cannot hold the lines we still need.
const COMPRESSED_SUFFIXES: [&[u8]; 8] = [b".gz", b".bz2", b".xz", b".zst", b".lz4", b".zip", b".Z", b".lzma"];

/// Opens `path` for reading; `None` when it does not exist.
pub(super) fn open_regular(path: &Path) -> Result<Option<(File, fs::Metadata)>, FollowError> {
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
pub(super) struct Found {
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) dev: u64,
    pub(super) ino: u64,
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
pub(super) fn find_rotated(path: &Path, want: &FileIdentity, exclude_ino: Option<u64>, offset: u64) -> Result<Option<Found>, FollowError> {
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
pub(super) fn find_by_inode(path: &Path, ino: u64) -> Result<Option<Found>, FollowError> {
    let mut found = None;
    for_each_sibling(path, |candidate, file, meta| {
        if found.is_none() && meta.ino() == ino {
            found = Some(Found { path: candidate, file, dev: meta.dev(), ino });
        }
    })?;
    Ok(found)
}
