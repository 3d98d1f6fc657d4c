//! Why following failed: typed errors, each naming the file concerned.

use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint::STATE_VERSION;

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

pub(super) fn io_error(action: &'static str, path: &Path, source: io::Error) -> FollowError {
    FollowError::Io { action, path: path.to_owned(), source }
}
