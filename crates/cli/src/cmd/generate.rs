//! `rampart generate`: seeded shop traffic with ground truth, written as an access log, shop events and a truth summary.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use rampart_sim::{ACCESS_LOG_FORMAT, FAMILIES, Generator, RecordKind, TrafficConfig};

/// The longest run accepted: a week.
const MAX_MINUTES: u64 = 7 * 24 * 60;
const ACCESS_LOG: &str = "access.log";
const EVENTS: &str = "events.ndjson";
/// The summary beside the generated files; its `formats` names what each file is read as.
pub const TRUTH: &str = "truth.json";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Minutes of traffic to generate (1 to 10080).
    #[arg(long, value_name = "N")]
    minutes: u64,
    /// Random seed; the same seed and Rampart version give the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Benign web requests (access lines, assets included) per second; 0 for attacks and bots only.
    #[arg(long, value_name = "R", default_value_t = 20.0)]
    rate: f64,
    /// Time of the first record, RFC 3339 [default: the traffic ends now].
    #[arg(long, value_name = "RFC3339", value_parser = parse_start)]
    start: Option<OffsetDateTime>,
    /// Output directory, created when missing; gets access.log, events.ndjson and truth.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Overwrite output files that already exist.
    #[arg(long)]
    force: bool,
}

fn parse_start(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("expected an RFC 3339 time like 2026-11-22T10:00:00Z: {e}"))
}

/// Records written to one file: all, benign, and per attack family (every family listed, zeros included).
#[derive(Debug)]
struct Counts {
    records: u64,
    benign: u64,
    families: BTreeMap<&'static str, u64>,
}

impl Counts {
    fn new() -> Counts {
        Counts { records: 0, benign: 0, families: FAMILIES.iter().map(|f| (*f, 0)).collect() }
    }

    fn add(&mut self, truth: Option<&'static str>) {
        self.records += 1;
        match truth {
            Some(family) => *self.families.entry(family).or_insert(0) += 1,
            None => self.benign += 1,
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({"records": self.records, "benign": self.benign, "attacks": self.families})
    }
}

pub fn run(args: Args) -> Result<()> {
    if args.minutes == 0 || args.minutes > MAX_MINUTES {
        bail!("--minutes must be 1 to {MAX_MINUTES}, not {}", args.minutes);
    }
    if !args.rate.is_finite() || !(0.0..=10_000.0).contains(&args.rate) {
        bail!("--rate must be 0 to 10000 requests per second, not {}", args.rate);
    }
    let duration = Duration::from_secs(args.minutes * 60);
    let start = match args.start {
        Some(start) => start,
        None => OffsetDateTime::now_utc().replace_nanosecond(0).context("rounding the current time")? - duration,
    };
    let end = start.checked_add(time::Duration::seconds(i64::try_from(args.minutes * 60)?)).context("--start is too late")?;

    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let paths = [ACCESS_LOG, EVENTS, TRUTH].map(|name| args.out.join(name));
    if !args.force
        && let Some(existing) = paths.iter().find(|p| p.exists())
    {
        bail!("{} already exists (use --force to overwrite)", existing.display());
    }
    let [access_path, events_path, truth_path] = paths;
    let mut access = BufWriter::new(create(&access_path, args.force)?);
    let mut events = BufWriter::new(create(&events_path, args.force)?);
    let (mut access_counts, mut event_counts) = (Counts::new(), Counts::new());

    let generator = Generator::new(TrafficConfig { seed: args.seed, start, duration, requests_per_second: args.rate });
    for record in generator {
        match record.kind {
            RecordKind::AccessLine(line) => {
                access.write_all(line.as_bytes())?;
                access.write_all(b"\n")?;
                access_counts.add(record.truth);
            }
            RecordKind::ShopEvent(event) => {
                serde_json::to_writer(&mut events, &event)?;
                events.write_all(b"\n")?;
                event_counts.add(record.truth);
            }
        }
    }
    access.flush().with_context(|| format!("writing {}", access_path.display()))?;
    events.flush().with_context(|| format!("writing {}", events_path.display()))?;

    let families: BTreeMap<&str, _> = FAMILIES
        .iter()
        .map(|f| {
            let count = |c: &Counts| c.families.get(f).copied().unwrap_or(0);
            (*f, json!({ACCESS_LOG: count(&access_counts), EVENTS: count(&event_counts)}))
        })
        .collect();
    let truth = json!({
        "seed": args.seed,
        "start": rampart_model::format_timestamp(start),
        "end": rampart_model::format_timestamp(end),
        "minutes": args.minutes,
        "requests_per_second": args.rate,
        "access_log_format": ACCESS_LOG_FORMAT,
        // What `rampart replay --format auto` reads each file as (see docs/sources.md).
        "formats": {ACCESS_LOG: rampart_ingest::TRUTH_FORMAT, EVENTS: "jsonl"},
        "files": {ACCESS_LOG: access_counts.json(), EVENTS: event_counts.json()},
        "families": families,
    });
    let mut file = BufWriter::new(create(&truth_path, args.force)?);
    serde_json::to_writer_pretty(&mut file, &truth)?;
    file.write_all(b"\n")?;
    file.flush().with_context(|| format!("writing {}", truth_path.display()))?;

    let attacks = |c: &Counts| c.records - c.benign;
    outln!("{}: {} access lines, {} labelled attack", access_path.display(), access_counts.records, attacks(&access_counts));
    outln!("{}: {} shop events, {} labelled attack", events_path.display(), event_counts.records, attacks(&event_counts));
    outln!(
        "{}: {} families, seed {}, {} to {}",
        truth_path.display(),
        FAMILIES.len(),
        args.seed,
        rampart_model::format_timestamp(start),
        rampart_model::format_timestamp(end)
    );
    Ok(())
}

/// Creates an output file (0600 on Unix); replaces an existing one only with `force`.
fn create(path: &Path, force: bool) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("creating {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: &Path, force: bool) -> Args {
        Args {
            minutes: 1,
            seed: 7,
            rate: 5.0,
            start: Some(OffsetDateTime::parse("2026-11-22T10:00:00Z", &Rfc3339).unwrap()),
            out: out.to_path_buf(),
            force,
        }
    }

    #[test]
    fn generate_writes_three_files_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("traffic");
        run(args(&out, false)).unwrap();
        let truth: serde_json::Value = serde_json::from_str(&fs::read_to_string(out.join(TRUTH)).unwrap()).unwrap();
        assert_eq!(truth["seed"], 7);
        assert_eq!(truth["start"], "2026-11-22T10:00:00.000Z");
        assert_eq!(truth["end"], "2026-11-22T10:01:00.000Z");
        assert_eq!(truth["access_log_format"], ACCESS_LOG_FORMAT);
        let lines = fs::read_to_string(out.join(ACCESS_LOG)).unwrap().lines().count() as u64;
        let events = fs::read_to_string(out.join(EVENTS)).unwrap().lines().count() as u64;
        assert_eq!(truth["files"][ACCESS_LOG]["records"], lines);
        assert_eq!(truth["files"][EVENTS]["records"], events);
        for family in FAMILIES {
            let in_files = truth["families"][family][ACCESS_LOG].as_u64().unwrap() + truth["families"][family][EVENTS].as_u64().unwrap();
            assert!(in_files > 0, "{family} missing from a one-minute run");
        }

        let error = run(args(&out, false)).unwrap_err();
        assert_eq!(format!("{error:#}"), format!("{} already exists (use --force to overwrite)", out.join(ACCESS_LOG).display()));
        run(args(&out, true)).unwrap();
        let again = fs::read_to_string(out.join(ACCESS_LOG)).unwrap().lines().count() as u64;
        assert_eq!(again, lines, "same seed, same output");
    }

    #[test]
    fn generate_rejects_bad_minutes_and_rate() {
        let dir = tempfile::tempdir().unwrap();
        let error = run(Args { minutes: 0, ..args(dir.path(), false) }).unwrap_err();
        assert_eq!(error.to_string(), "--minutes must be 1 to 10080, not 0");
        let error = run(Args { rate: f64::NAN, ..args(dir.path(), false) }).unwrap_err();
        assert_eq!(error.to_string(), "--rate must be 0 to 10000 requests per second, not NaN");
        assert!(!dir.path().join(ACCESS_LOG).exists());
    }
}
