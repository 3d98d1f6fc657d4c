//! The checkpoint: the last committed position of a followed path, kept in a small versioned JSON
//! file that is replaced atomically and durably.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{FollowError, io_error};
use super::fingerprint::FileIdentity;

pub(super) const STATE_VERSION: u32 = 1;
/// The state file is a few hundred bytes; anything much larger is not ours.
const STATE_MAX_BYTES: u64 = 64 * 1024;

/// What the state file holds: the last committed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct State {
    pub(super) version: u32,
    pub(super) path: PathBuf,
    pub(super) position: Position,
}

/// Where to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum Position {
    /// The first `offset` bytes of `file` are handled.
    In { file: FileIdentity, offset: u64 },
    /// Everything before the file with this inode is handled, and none of it. Saved when a file is
    /// entered with all before it committed: such a file may have no complete line, hence no
    /// fingerprint, yet if it is rotated away while we are stopped its lines must still be read.
    Start { dev: u64, ino: u64 },
}

pub(super) fn load_state(path: &Path) -> Result<Option<State>, FollowError> {
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
pub(super) fn write_state(path: &Path, state: &State) -> Result<(), FollowError> {
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
