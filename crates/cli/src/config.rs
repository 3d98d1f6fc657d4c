//! `rampart.toml`: what serde reads, environment overrides, validation, and the commented template.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rampart_ingest::{ClientIpResolver, ClientIpSource, IngestConfig, LogFormats};
use rampart_model::parse_duration;
use rampart_server::{Limits, ServeConfig, SyslogConfig};
use rampart_store::Synchronous;
use serde::Deserialize;

/// The whole file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub server: ServerSection,
    pub store: StoreSection,
    pub ingest: IngestSection,
    pub syslog: SyslogSection,
    pub detect: DetectSection,
    /// Custom access-log formats: name = nginx `log_format` string.
    pub log_formats: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: String,
    pub header_read_timeout: String,
    pub idle_timeout: String,
    pub max_connections: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        let serve = ServeConfig::default();
        ServerSection {
            listen: "127.0.0.1:8470".into(),
            header_read_timeout: format!("{}s", serve.header_read_timeout.as_secs()),
            idle_timeout: format!("{}s", serve.idle_timeout.as_secs()),
            max_connections: serve.max_connections,
        }
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
    pub trusted_proxies: Vec<String>,
    pub client_ip_headers: Vec<String>,
    pub csp_max_body_bytes: usize,
    pub csp_requests_per_minute: u32,
    pub max_records: usize,
}

impl Default for IngestSection {
    fn default() -> Self {
        let limits = Limits::default();
        IngestSection {
            max_body_bytes: limits.max_body_bytes,
            max_decompressed_bytes: limits.max_decompressed_bytes,
            max_line_bytes: 64 << 10,
            max_event_age: "7d".into(),
            max_event_future: "5m".into(),
            trusted_proxies: Vec::new(),
            client_ip_headers: vec!["x-forwarded-for".into(), "forwarded".into()],
            csp_max_body_bytes: limits.csp_max_body_bytes,
            csp_requests_per_minute: limits.csp_requests_per_minute,
            max_records: limits.max_records,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogSection {
    pub udp: String,
    pub tcp: String,
    pub format: String,
    pub max_message_bytes: usize,
}

impl Default for SyslogSection {
    fn default() -> Self {
        SyslogSection { udp: "127.0.0.1:5514".into(), tcp: "127.0.0.1:5514".into(), format: "auto".into(), max_message_bytes: 64 << 10 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectSection {
    pub builtin_rules: bool,
    pub rules_dirs: Vec<PathBuf>,
    pub mapping: String,
    pub reload_interval: String,
    pub suppression: String,
    pub lateness: String,
    pub max_correlation_groups: usize,
    pub snapshot_interval: String,
}

impl Default for DetectSection {
    fn default() -> Self {
        DetectSection {
            builtin_rules: true,
            rules_dirs: Vec::new(),
            mapping: String::new(),
            reload_interval: "2s".into(),
            suppression: "10m".into(),
            lateness: "60s".into(),
            max_correlation_groups: 1_000_000,
            snapshot_interval: "30s".into(),
        }
    }
}

/// Where rules come from, before the data directory is known.
#[derive(Debug, Clone)]
pub struct DetectConfig {
    pub builtin_rules: bool,
    pub extra_dirs: Vec<PathBuf>,
    pub mapping: Option<PathBuf>,
    pub reload_interval: Duration,
    /// Repeats of a rule on the same entities within this time update one alert.
    pub suppression: Duration,
    /// How late (behind the newest event) an event may arrive and still count in correlations.
    pub lateness: Duration,
    /// Most correlation groups held in memory, across all correlation rules.
    pub max_correlation_groups: usize,
    /// How often a running server saves the correlation windows to the store.
    pub snapshot_interval: Duration,
}

/// The checked configuration the commands use.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Timeouts and connection cap of the HTTP listener.
    pub serve: ServeConfig,
    pub data_dir: PathBuf,
    pub synchronous: Synchronous,
    pub retention: Duration,
    pub dedup_window: Duration,
    pub limits: Limits,
    pub ingest: IngestConfig,
    pub client_ip: ClientIpResolver,
    pub formats: LogFormats,
    pub syslog: SyslogConfig,
    pub detect: DetectConfig,
}

impl Config {
    /// The rule sources: the built-in rules, `<data>/rules`, `[detect] rules_dirs`, the mapping
    /// and `<data>/disabled-rules.txt`.
    pub fn rule_sources(&self) -> rampart_detect::RuleSources {
        let mut dirs = vec![self.data_dir.join("rules")];
        dirs.extend(self.detect.extra_dirs.iter().cloned());
        rampart_detect::RuleSources {
            builtin: self.detect.builtin_rules,
            dirs,
            mapping: self.detect.mapping.clone(),
            disabled: Some(self.data_dir.join("disabled-rules.txt")),
        }
    }
}

/// The file's template, written by `rampart init`; every value is the default.
pub const TEMPLATE: &str = r#"# Rampart configuration. Every key can be overridden from the environment as
# RAMPART_<SECTION>__<KEY>, e.g. RAMPART_SERVER__LISTEN=0.0.0.0:8470.

[server]
# Address of the HTTP API. Keep it on loopback unless a TLS proxy sits in front.
listen = "127.0.0.1:8470"
# A client must send a request's line and headers within this time of the connection opening
# (or of the previous response); slower connections are closed.
header_read_timeout = "10s"
# A kept-alive connection with no request in flight that receives nothing for this long is closed.
idle_timeout = "60s"
# Most HTTP connections open at once; beyond it new ones wait until one closes.
max_connections = 1024

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
# Proxies in front of the shop (CDN, load balancer) as CIDRs, e.g. ["173.245.48.0/20", "10.0.0.0/8"].
# When a request or log line comes from one of them, the client is read from the headers (or log
# variables) below: X-Forwarded-For and Forwarded take the rightmost address that is not a trusted
# proxy. Headers from any other peer are ignored, since anyone can forge them.
trusted_proxies = []
# Where the client is, tried in order: header names (cf-connecting-ip, true-client-ip, x-real-ip
# ...), or an access-log variable as "$name". Single-address headers are only as trustworthy as
# the proxy that sets them: list them only if every trusted proxy overwrites them.
client_ip_headers = ["x-forwarded-for", "forwarded"]
# POST /v1/csp-reports/{site} takes no token: its body cap and per-client budget.
csp_max_body_bytes = 65536
csp_requests_per_minute = 60
# Most records (events, log lines) one request to POST /v1/events or /v1/logs may carry: more
# is refused whole with 413 too_many_records.
max_records = 100000

[syslog]
# Syslog (RFC 5424 and RFC 3164) carrying access-log lines or JSON events. TCP takes
# octet-counted or newline-framed messages. An empty address turns that transport off.
udp = "127.0.0.1:5514"
tcp = "127.0.0.1:5514"
# "auto" detects each message (JSON event, nginx-json, a [log_formats] format, combined, common);
# or name one format.
format = "auto"
max_message_bytes = 65536

[detect]
# Sigma rules run on every event as it is ingested. Rules are read from the built-in set, the data
# directory's rules/ folder and the directories below (recursively, *.yml); a running server
# reloads them when a file changes, keeping the last good version of a file that breaks.
builtin_rules = true
rules_dirs = []
# A field mapping file (YAML) replacing the built-in one: Sigma field names to event fields,
# logsources to events, and placeholder values. "" = built-in; `rampart rules mapping` prints it.
mapping = ""
# How often rule files are checked for changes.
reload_interval = "2s"
# A rule's repeats on the same entities (e.g. the same address) update its open or acknowledged
# alert instead of raising a new one while their events come within this time of the alert's.
# "0s" makes every repeat at another time an alert of its own. See docs/alerts.md.
suppression = "10m"
# Correlation rules (event_count, value_count, temporal ...) count in event time. An event may
# arrive this far behind the newest one seen and still count; later ones are counted as late.
lateness = "60s"
# Most groups (e.g. distinct source addresses) held in correlation windows, across all
# correlation rules; beyond it the least recently active group is evicted (and counted).
max_correlation_groups = 1000000
# How often a running server saves the correlation windows (also saved at shutdown), so a
# restart does not forget an attack in progress.
snapshot_interval = "30s"

[log_formats]
# Custom access-log formats in nginx log_format syntax, usable as POST /v1/logs/{name},
# --format NAME and [syslog] format. For example:
# main = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"'
"#;

impl Config {
    /// The built-in defaults, ignoring any file and environment (`rampart demo`).
    pub fn defaults() -> Result<Config> {
        ConfigFile::default().validate()
    }

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
        if i.max_records == 0 {
            bail!("ingest.max_records must be above 0");
        }
        let serve = ServeConfig {
            header_read_timeout: duration("server.header_read_timeout", &self.server.header_read_timeout)?,
            idle_timeout: duration("server.idle_timeout", &self.server.idle_timeout)?,
            max_connections: self.server.max_connections,
        };
        if serve.header_read_timeout.is_zero() || serve.idle_timeout.is_zero() || serve.max_connections == 0 {
            bail!("server: header_read_timeout, idle_timeout and max_connections must be above 0");
        }
        let trusted = i
            .trusted_proxies
            .iter()
            .map(|cidr| {
                cidr.parse::<ipnet::IpNet>()
                    .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| anyhow::anyhow!("ingest.trusted_proxies: `{cidr}` is not a CIDR like 10.0.0.0/8 or an address"))
            })
            .collect::<Result<Vec<_>>>()?;
        let sources = i
            .client_ip_headers
            .iter()
            .map(|h| ClientIpSource::parse(h).map_err(|e| anyhow::anyhow!("ingest.client_ip_headers: {e}")))
            .collect::<Result<Vec<_>>>()?;
        let formats = LogFormats::new(self.log_formats.clone()).context("[log_formats]")?;
        let address = |name: &str, text: &str| -> Result<Option<SocketAddr>> {
            if text.is_empty() {
                return Ok(None);
            }
            text.parse().map(Some).with_context(|| format!("{name}: `{text}` is not an address like 127.0.0.1:5514 (or \"\" for off)"))
        };
        let syslog_format = match self.syslog.format.as_str() {
            "auto" => None,
            name => Some(
                formats
                    .get(name)
                    .with_context(|| format!("syslog.format: no format is named `{name}`; known: auto, {}", formats.names().join(", ")))?,
            ),
        };
        let syslog = SyslogConfig {
            udp: address("syslog.udp", &self.syslog.udp)?,
            tcp: address("syslog.tcp", &self.syslog.tcp)?,
            format: syslog_format,
            max_message_bytes: self.syslog.max_message_bytes.max(1),
        };
        let reload_interval = duration("detect.reload_interval", &self.detect.reload_interval)?;
        if reload_interval.is_zero() {
            bail!("detect.reload_interval must be above 0");
        }
        let snapshot_interval = duration("detect.snapshot_interval", &self.detect.snapshot_interval)?;
        if snapshot_interval.is_zero() {
            bail!("detect.snapshot_interval must be above 0");
        }
        if self.detect.max_correlation_groups == 0 {
            bail!("detect.max_correlation_groups must be above 0");
        }
        let detect = DetectConfig {
            builtin_rules: self.detect.builtin_rules,
            extra_dirs: self.detect.rules_dirs.clone(),
            mapping: (!self.detect.mapping.is_empty()).then(|| PathBuf::from(&self.detect.mapping)),
            reload_interval,
            suppression: duration("detect.suppression", &self.detect.suppression)?,
            lateness: duration("detect.lateness", &self.detect.lateness)?,
            max_correlation_groups: self.detect.max_correlation_groups,
            snapshot_interval,
        };
        Ok(Config {
            detect,
            client_ip: ClientIpResolver::new(trusted, sources),
            formats,
            syslog,
            listen,
            serve,
            data_dir: self.store.data_dir,
            synchronous: self.store.synchronous,
            retention: Duration::from_secs(u64::from(self.store.retention_days) * 86_400),
            dedup_window: duration("store.dedup_window", &self.store.dedup_window)?,
            limits: Limits {
                max_body_bytes: i.max_body_bytes,
                max_decompressed_bytes: i.max_decompressed_bytes,
                csp_max_body_bytes: i.csp_max_body_bytes,
                csp_requests_per_minute: i.csp_requests_per_minute,
                max_records: i.max_records,
            },
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
        assert_eq!(defaults.detect.suppression, Duration::from_secs(600));
        let file: ConfigFile = toml::from_str("[detect]\nsuppression = \"90s\"").unwrap();
        assert_eq!(file.validate().unwrap().detect.suppression, Duration::from_secs(90));
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
        for (text, key) in [
            ("[ingest]\ntrusted_proxies = [\"10.0.0.0/33\"]", "ingest.trusted_proxies"),
            ("[ingest]\nclient_ip_headers = [\"bad header\"]", "ingest.client_ip_headers"),
            ("[syslog]\nudp = \"nowhere\"", "syslog.udp"),
            ("[syslog]\nformat = \"apache9\"", "syslog.format"),
            ("[log_formats]\nmain = \"$a$b\"", "log_formats"),
            ("[detect]\nsuppression = \"ten minutes\"", "detect.suppression"),
        ] {
            let error = format!("{:#}", toml::from_str::<ConfigFile>(text).unwrap().validate().unwrap_err());
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn proxies_formats_and_syslog() {
        let text = "[ingest]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\nclient_ip_headers = [\"cf-connecting-ip\", \"$realip\"]\n\
                    [syslog]\nudp = \"\"\nformat = \"main\"\n[log_formats]\nmain = '$remote_addr [$time_local] $status'";
        let config = toml::from_str::<ConfigFile>(text).unwrap().validate().unwrap();
        assert!(config.client_ip.is_trusted("192.0.2.1".parse().unwrap()));
        assert!(config.client_ip.is_trusted("10.1.2.3".parse().unwrap()));
        assert_eq!(
            config.client_ip.sources(),
            &[ClientIpSource::Header("cf-connecting-ip".into()), ClientIpSource::LogField("realip".into())]
        );
        assert_eq!(config.syslog.udp, None);
        assert_eq!(config.syslog.tcp, Some("127.0.0.1:5514".parse().unwrap()));
        assert_eq!(config.syslog.format.as_ref().map(|f| f.name().to_owned()), Some("main".to_owned()));
        assert!(config.formats.get("main").is_some());
    }
}
