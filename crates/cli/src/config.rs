//! `rampart.toml`: what serde reads, environment overrides, validation, and the commented template.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rampart_ingest::IngestConfig;
use rampart_model::parse_duration;
use rampart_server::Limits;
use rampart_store::Synchronous;
use serde::Deserialize;

/// The whole file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub server: ServerSection,
    pub store: StoreSection,
    pub ingest: IngestSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: String,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection { listen: "127.0.0.1:8470".into() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    pub data_dir: PathBuf,
    pub synchronous: Synchronous,
    pub retention_days: u32,
    pub dedup_window: String,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection { data_dir: PathBuf::from("./data"), synchronous: Synchronous::Normal, retention_days: 30, dedup_window: "24h".into() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSection {
    pub max_body_bytes: usize,
    pub max_decompressed_bytes: usize,
    pub max_line_bytes: usize,
    pub max_event_age: String,
    pub max_event_future: String,
}

impl Default for IngestSection {
    fn default() -> Self {
        IngestSection {
            max_body_bytes: 10 << 20,
            max_decompressed_bytes: 10 << 20,
            max_line_bytes: 64 << 10,
            max_event_age: "7d".into(),
            max_event_future: "5m".into(),
        }
    }
}

/// The checked configuration the commands use.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub synchronous: Synchronous,
    pub retention: Duration,
    pub dedup_window: Duration,
    pub limits: Limits,
    pub ingest: IngestConfig,
}

/// The file's template, written by `rampart init`; every value is the default.
pub const TEMPLATE: &str = r#"# Rampart configuration. Every key can be overridden from the environment as
# RAMPART_<SECTION>__<KEY>, e.g. RAMPART_SERVER__LISTEN=0.0.0.0:8470.

[server]
# Address of the HTTP API. Keep it on loopback unless a TLS proxy sits in front.
listen = "127.0.0.1:8470"

[store]
# Data directory: the SQLite database and the secret key that fingerprints card numbers.
# Back up the key with the data: without it, card fingerprints cannot be matched again.
data_dir = "./data"
# "normal": a commit survives a killed process, the last commits may be lost in a power cut.
# "full": every commit is fsynced and survives power cuts too (slower ingestion).
synchronous = "normal"
# Events older than this many days are deleted in the background.
retention_days = 30
# A resent event whose event.id was stored within this window counts as a duplicate.
dedup_window = "24h"

[ingest]
# Largest request body as sent, and after gzip decompression (bytes): larger gets 413.
max_body_bytes = 10485760
max_decompressed_bytes = 10485760
# Longest NDJSON line (bytes): a longer line is refused as line_too_long.
max_line_bytes = 65536
# Live events must have @timestamp within [now - max_event_age, now + max_event_future].
max_event_age = "7d"
max_event_future = "5m"
"#;

impl Config {
    /// Reads `path` (or `./rampart.toml` when present), applies `RAMPART_*` overrides and
    /// `--data`, and validates.
    pub fn load(path: Option<&Path>, data_dir: Option<&Path>) -> Result<Config> {
        let default_path = Path::new("rampart.toml");
        let text = match path {
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {}", path.display()))?,
            None if default_path.exists() => std::fs::read_to_string(default_path).context("cannot read ./rampart.toml")?,
            None => String::new(),
        };
        let source = path.unwrap_or(default_path).display().to_string();
        let mut table: toml::Table = toml::from_str(&text).with_context(|| format!("{source} is not valid TOML"))?;
        apply_env(&mut table, std::env::vars())?;
        let file: ConfigFile = table.try_into().with_context(|| format!("invalid configuration in {source} or RAMPART_* variables"))?;
        let mut config = file.validate()?;
        if let Some(dir) = data_dir {
            config.data_dir = dir.to_owned();
        }
        Ok(config)
    }
}

impl ConfigFile {
    pub fn validate(self) -> Result<Config> {
        let duration = |name: &str, text: &str| parse_duration(text).map_err(|e| anyhow::anyhow!("{name}: {e}"));
        let listen = self
            .server
            .listen
            .parse()
            .with_context(|| format!("server.listen: `{}` is not an address like 127.0.0.1:8470", self.server.listen))?;
        if self.store.retention_days == 0 {
            bail!("store.retention_days must be at least 1");
        }
        let i = &self.ingest;
        if i.max_body_bytes == 0 || i.max_decompressed_bytes == 0 || i.max_line_bytes == 0 {
            bail!("ingest: the byte limits must be above 0");
        }
        Ok(Config {
            listen,
            data_dir: self.store.data_dir,
            synchronous: self.store.synchronous,
            retention: Duration::from_secs(u64::from(self.store.retention_days) * 86_400),
            dedup_window: duration("store.dedup_window", &self.store.dedup_window)?,
            limits: Limits { max_body_bytes: i.max_body_bytes, max_decompressed_bytes: i.max_decompressed_bytes },
            ingest: IngestConfig {
                max_line_bytes: i.max_line_bytes,
                max_event_age: duration("ingest.max_event_age", &i.max_event_age)?,
                max_event_future: duration("ingest.max_event_future", &i.max_event_future)?,
            },
        })
    }
}

/// Sets `section.key` for every `RAMPART_SECTION__KEY` variable. Values are read as TOML
/// (numbers, booleans) when they parse so, else as strings.
fn apply_env(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) -> Result<()> {
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("RAMPART_") else { continue };
        let Some((section, key)) = rest.split_once("__") else { continue };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        let value =
            toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v")).unwrap_or(toml::Value::String(raw));
        let entry = table.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            bail!("{name}: `{section}` is not a section");
        };
        section_table.insert(key, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_the_defaults() {
        let file: ConfigFile = toml::from_str(TEMPLATE).unwrap();
        let from_template = file.validate().unwrap();
        let defaults = ConfigFile::default().validate().unwrap();
        assert_eq!(format!("{from_template:?}"), format!("{defaults:?}"));
        assert_eq!(defaults.listen.to_string(), "127.0.0.1:8470");
    }

    #[test]
    fn environment_overrides_and_unknown_keys() {
        let mut table = toml::Table::new();
        let vars = [
            ("RAMPART_SERVER__LISTEN", "0.0.0.0:9000"),
            ("RAMPART_STORE__RETENTION_DAYS", "7"),
            ("RAMPART_TEST_PG_URL", "ignored"),
            ("HOME", "/root"),
        ];
        apply_env(&mut table, vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        let config: ConfigFile = table.try_into().unwrap();
        let config = config.validate().unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.retention, Duration::from_secs(7 * 86_400));

        let mut table = toml::Table::new();
        apply_env(&mut table, std::iter::once(("RAMPART_SERVER__LISTN".to_string(), "x".to_string()))).unwrap();
        let error = table.try_into::<ConfigFile>().unwrap_err().to_string();
        assert!(error.contains("listn"), "{error}");
    }

    #[test]
    fn bad_values_are_explained() {
        let file: ConfigFile = toml::from_str("[ingest]\nmax_event_age = \"7 weeks\"").unwrap();
        assert!(file.validate().unwrap_err().to_string().contains("ingest.max_event_age"));
        let file: ConfigFile = toml::from_str("[server]\nlisten = \"localhost\"").unwrap();
        assert!(file.validate().unwrap_err().to_string().contains("server.listen"));
        assert!(toml::from_str::<ConfigFile>("[store]\nsynchronous = \"sometimes\"").is_err());
    }
}
