//! The data directory: the database and the secret key that fingerprints card numbers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rand::RngCore;

const KEY_FILE: &str = "secret.key";
const DB_FILE: &str = "rampart.db";

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn new(root: &Path) -> DataDir {
        DataDir { root: root.to_owned() }
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    fn key_path(&self) -> PathBuf {
        self.root.join(KEY_FILE)
    }

    fn is_empty(&self) -> Result<bool> {
        match std::fs::read_dir(&self.root) {
            Ok(mut entries) => Ok(entries.next().is_none()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(e).with_context(|| format!("cannot read the data directory {}", self.root.display())),
        }
    }

    /// Creates the directory (0700) and a new key, only if the directory is empty or absent.
    /// Returns `false` when it was set up already.
    pub fn init(&self) -> Result<bool> {
        if !self.can_init()? {
            return Ok(false);
        }
        create_private_dir(&self.root)?;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        write_private(&self.key_path(), hex::encode(key).as_bytes())?;
        Ok(true)
    }

    /// What [`DataDir::init`] would do, changing nothing: `true` when it would make a key,
    /// `false` when the directory is set up already, an error when it holds data but no key.
    pub fn can_init(&self) -> Result<bool> {
        if !self.is_empty()? {
            if self.key_path().exists() {
                return Ok(false);
            }
            bail!(
                "{} holds data but no {KEY_FILE}: restore the key from your backup. A new key would silently break every card fingerprint, so Rampart makes keys only in an empty data directory",
                self.root.display()
            );
        }
        Ok(true)
    }

    /// Where `ingest --follow` keeps offsets and file identities (created 0700 when missing).
    pub fn follow_dir(&self) -> Result<PathBuf> {
        let dir = self.root.join("follow");
        create_private_dir(&dir)?;
        Ok(dir)
    }

    /// The card-fingerprint key; an empty or absent directory is set up first.
    pub fn open_key(&self) -> Result<Vec<u8>> {
        if self.is_empty()? {
            self.init()?;
        }
        let path = self.key_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "{} holds data but no {KEY_FILE}: restore the key from your backup (a new key would silently break every card fingerprint)",
                self.root.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let key = hex::decode(text.trim()).with_context(|| format!("{} is not a hex key", path.display()))?;
        if key.len() < 32 {
            bail!("{} holds a key of {} bytes; expected 32", path.display(), key.len());
        }
        Ok(key)
    }
}

/// Creates `path` and its missing parents, and restricts `path` to its owner (0700).
pub fn create_private_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    Ok(())
}

/// Writes a new file readable by the owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents).and_then(|()| file.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_only_in_empty_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(&tmp.path().join("data"));
        assert!(dir.init().unwrap());
        assert!(!dir.init().unwrap());
        let key = dir.open_key().unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(dir.open_key().unwrap(), key);

        std::fs::remove_file(tmp.path().join("data/secret.key")).unwrap();
        std::fs::write(tmp.path().join("data/rampart.db"), b"x").unwrap();
        let error = dir.open_key().unwrap_err().to_string();
        assert!(error.contains("no secret.key"), "{error}");
        assert!(dir.init().is_err());
    }
}
