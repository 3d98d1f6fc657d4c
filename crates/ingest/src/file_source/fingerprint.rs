//! Which file a line came from: (device, inode) and an xxh3 fingerprint of the file's head.

use std::fs::File;
use std::io;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::read::read_full_at;

/// The most bytes of a file's head that its fingerprint covers (fewer when the first line is shorter).
pub const FINGERPRINT_MAX_BYTES: usize = 256;

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

/// The file's fingerprint (see [`FileIdentity`]), or `None` while its first line is unfinished and
/// shorter than [`FINGERPRINT_MAX_BYTES`]. A `finished` file (rotated away) has its whole content
/// as fingerprint in that case, since it will not grow.
pub(super) fn fingerprint(file: &File, finished: bool) -> io::Result<Option<u64>> {
    let mut head = [0; FINGERPRINT_MAX_BYTES];
    let n = read_full_at(file, &mut head, 0)?;
    let head = head.get(..n).unwrap_or_default();
    Ok(match memchr::memchr(b'\n', head) {
        Some(newline) => head.get(..=newline).map(xxh3_64),
        None if n == FINGERPRINT_MAX_BYTES || (finished && n > 0) => Some(xxh3_64(head)),
        None => None,
    })
}
