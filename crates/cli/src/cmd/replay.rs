//! `rampart replay`: reads log files as fast as it can into the data directory or a server.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rampart_ingest::{LineFormat, LogFormats, RecordError};
use rampart_model::Detection;

use super::Global;
use rampart_server::RuleCount;

use crate::sink::{Delivered, Sink};
use rampart_sim::{Truth, TruthReport};

/// Lines delivered per batch. Fixed, so a rerun forms the same batches and the store
/// recognizes every event as already there.
const BATCH_LINES: usize = 2000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log files to read, in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// auto, jsonl, combined, common, combined-truth, nginx-json, or a [log_formats] name.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Send to a running server instead of the data directory.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// API token for --to (an ingest token), or RAMPART_TOKEN.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Only run detection: parse and match, store nothing (the data directory is not opened).
    #[arg(long, conflicts_with = "to")]
    no_store: bool,
}

/// Totals of a replay.
#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    files: usize,
    lines: u64,
    bytes: u64,
    stored: usize,
    duplicates: usize,
    rejected: usize,
    rejected_by_code: BTreeMap<String, usize>,
    samples: Vec<Sample>,
    seconds: f64,
    lines_per_second: f64,
    /// New alerts (with `--no-store`: detections, as nothing folds repeats into alerts).
    alerts: usize,
    /// Open alerts that took repeats in.
    alerts_updated: usize,
    alerts_by_rule: Vec<RuleCount>,
    /// Detection only: nothing was stored.
    no_store: bool,
    /// Precision and recall per attack family, when the events carry `rampart.truth` labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    truth: Option<TruthReport>,
    #[serde(skip)]
    labels: Truth,
    #[serde(skip)]
    detections: Vec<Detection>,
}

#[derive(Debug, serde::Serialize)]
struct Sample {
    file: String,
    line: usize,
    code: String,
    reason: String,
}

pub fn run(global: &Global, args: Args) -> Result<()> {
    let config = global.config()?;
    let sink = if args.no_store { Sink::detect_only(&config)? } else { Sink::open(&config, args.to.clone(), args.token.clone())? };
    let total_bytes: u64 = args.files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum();
    let progress = ProgressBar::new(total_bytes);
    progress.set_style(
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let mut summary = Summary { no_store: args.no_store, ..Summary::default() };
    for path in &args.files {
        replay_file(path, &args.format, &config.formats, &sink, &progress, &mut summary)?;
        summary.files += 1;
    }
    let end = sink.finish()?;
    add(&mut summary, Path::new("-"), 0, end);
    progress.finish_and_clear();
    sink.close()?;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.lines_per_second = summary.lines as f64 / summary.seconds.max(1e-9);
    if summary.labels.has_labels() {
        summary.truth = Some(summary.labels.score(&summary.detections));
    }
    print_summary(&summary, args.json)
}

fn replay_file(
    path: &Path,
    format_name: &str,
    formats: &LogFormats,
    sink: &Sink,
    progress: &ProgressBar,
    summary: &mut Summary,
) -> Result<()> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // The file's first bytes name its batches, so replaying it again is recognized.
    let mut head = vec![0u8; 64 * 1024];
    let read = read_up_to(&mut file, &mut head).with_context(|| format!("cannot read {}", path.display()))?;
    head.truncate(read);
    let fingerprint = xxhash_rust::xxh3::xxh3_64(&head);
    let format = pick_format(format_name, formats, path, &head).with_context(|| format!("{}", path.display()))?;
    progress.set_message(format!("{} ({})", path.display(), format.name()));
    let reader = BufReader::with_capacity(1 << 20, head.as_slice().chain(file));
    read_batches(reader, |first_offset, first_line, body, lines| {
        let delivered = sink.send(&format, body, &format!("{fingerprint:016x}"), first_offset, false)?;
        add(summary, path, first_line, delivered);
        summary.lines += lines as u64;
        summary.bytes += body.len() as u64;
        progress.inc(body.len() as u64);
        Ok(())
    })
    .with_context(|| format!("while replaying {}", path.display()))
}

/// The named format; with `auto`, the one `rampart generate` recorded for the file, else one
/// guessed from the first lines (never `combined-truth`: see docs/sources.md).
fn pick_format(name: &str, formats: &LogFormats, path: &Path, head: &[u8]) -> Result<LineFormat> {
    if name != "auto" {
        return formats.get(name).ok_or_else(|| {
            crate::cmd::usage(format!("--format: no format is named `{name}`; known: auto, {}", formats.names().join(", ")))
        });
    }
    if let Some(format) = generated_format(path, formats) {
        return Ok(format);
    }
    let text = String::from_utf8_lossy(head);
    let lines = text.lines().take(20);
    match formats.detect(lines) {
        Some(format) => Ok(format),
        None => bail!("cannot tell the format from the first lines; name it with --format ({})", formats.names().join(", ")),
    }
}

/// The format `rampart generate` wrote `path` in, from the `truth.json` beside it (its
/// `formats` object names each file it wrote); `None` for any other file.
fn generated_format(path: &Path, formats: &LogFormats) -> Option<LineFormat> {
    let file_name = path.file_name()?.to_str()?;
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut text = String::new();
    File::open(dir.join(crate::cmd::generate::TRUTH)).ok()?.take(1 << 20).read_to_string(&mut text).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    formats.get(manifest.get("formats")?.get(file_name)?.as_str()?)
}

/// Calls `deliver(first byte offset, first line number, body, line count)` for each batch of
/// up to [`BATCH_LINES`] lines.
fn read_batches(mut reader: impl BufRead, mut deliver: impl FnMut(u64, usize, &[u8], usize) -> Result<()>) -> Result<()> {
    let mut body = Vec::with_capacity(1 << 20);
    let (mut offset, mut first_offset, mut line_number, mut first_line, mut lines) = (0u64, 0u64, 0usize, 1usize, 0usize);
    loop {
        let read = reader.read_until(b'\n', &mut body)?;
        if read > 0 {
            line_number += 1;
            lines += 1;
            offset += read as u64;
            if !body.ends_with(b"\n") {
                body.push(b'\n');
            }
        }
        if (read == 0 && lines > 0) || lines == BATCH_LINES {
            deliver(first_offset, first_line, &body, lines)?;
            body.clear();
            first_offset = offset;
            first_line = line_number + 1;
            lines = 0;
        }
        if read == 0 {
            return Ok(());
        }
    }
}

fn read_up_to(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn add(summary: &mut Summary, path: &Path, first_line: usize, delivered: Delivered) {
    summary.stored += delivered.accepted;
    summary.duplicates += delivered.duplicates;
    summary.rejected += delivered.rejected.max(delivered.errors.len());
    summary.alerts_updated += delivered.alerts_updated;
    summary.labels.count_unlabelled((delivered.accepted + delivered.duplicates).saturating_sub(delivered.labelled.len()) as u64);
    for (id, family, source) in &delivered.labelled {
        summary.labels.record(id, Some(family), source.clone());
    }
    summary.detections.extend(delivered.detections);
    for found in delivered.alerts_by_rule {
        summary.alerts += found.count;
        match summary.alerts_by_rule.iter_mut().find(|r| r.rule == found.rule) {
            Some(known) => known.count += found.count,
            None => summary.alerts_by_rule.push(found),
        }
    }
    for RecordError { line, code, message } in delivered.errors {
        *summary.rejected_by_code.entry(code.as_str().to_owned()).or_default() += 1;
        if summary.samples.len() < 10 {
            summary.samples.push(Sample {
                file: path.display().to_string(),
                line: first_line + line - 1,
                code: code.as_str().into(),
                reason: message,
            });
        }
    }
}

/// The summary as JSON. With `--no-store` it says what happened: lines `parsed`, `detections`
/// and `detections_by_rule` (repeats not folded into alerts); no `stored`, `duplicates` or alert
/// counts, as nothing was stored.
fn summary_json(summary: &Summary) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(summary)?;
    if summary.no_store
        && let Some(object) = value.as_object_mut()
    {
        let mut take = |key: &str| object.remove(key).unwrap_or_default();
        let (parsed, detections, by_rule) = (take("stored"), take("alerts"), take("alerts_by_rule"));
        take("duplicates");
        take("alerts_updated");
        object.insert("parsed".into(), parsed);
        object.insert("detections".into(), detections);
        object.insert("detections_by_rule".into(), by_rule);
    }
    Ok(value)
}

fn print_summary(summary: &Summary, json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&summary_json(summary)?)?);
        return Ok(());
    }
    if summary.no_store {
        outln!(
            "matched {} file(s): {} lines, {} parsed (nothing stored), {} refused in {:.1}s ({:.0} lines/s)",
            summary.files,
            summary.lines,
            summary.stored,
            summary.rejected,
            summary.seconds,
            summary.lines_per_second
        );
    } else {
        outln!(
            "replayed {} file(s): {} lines, {} stored, {} already stored, {} refused in {:.1}s ({:.0} lines/s)",
            summary.files,
            summary.lines,
            summary.stored,
            summary.duplicates,
            summary.rejected,
            summary.seconds,
            summary.lines_per_second
        );
    }
    for (code, count) in &summary.rejected_by_code {
        outln!("  refused {code}: {count}");
    }
    let mut by_rule: Vec<&RuleCount> = summary.alerts_by_rule.iter().collect();
    by_rule.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.title.cmp(&b.title)));
    if summary.no_store {
        outln!("{} detection(s) from {} rule(s) (nothing stored, so repeats are not folded into alerts)", summary.alerts, by_rule.len());
    } else {
        outln!("{} new alert(s) from {} rule(s), {} alert update(s)", summary.alerts, by_rule.len(), summary.alerts_updated);
    }
    for rule in by_rule {
        outln!("  {:>8}  {:<13} {} ({})", rule.count, rule.level, rule.title, rule.rule);
    }
    for sample in &summary.samples {
        outln!("  {}:{}: {} ({})", sample.file, sample.line, sample.reason, sample.code);
    }
    if let Some(truth) = &summary.truth {
        outln!("ground truth (rampart.truth labels), per attack family; definitions in docs/rules.md:");
        out!("{truth}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_12_auto_reads_generated_files_by_their_manifest_and_guesses_others_without_truth() {
        let dir = tempfile::tempdir().unwrap();
        let line = r#"1.2.3.4 - - [22/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8" "xss""#;
        let formats = LogFormats::default();
        let access = dir.path().join("access.log");
        // No manifest: the content decides, and it is never combined-truth.
        assert_eq!(pick_format("auto", &formats, &access, line.as_bytes()).unwrap().name(), "combined");
        std::fs::write(
            dir.path().join(crate::cmd::generate::TRUTH),
            r#"{"formats": {"access.log": "combined-truth", "events.ndjson": "jsonl"}}"#,
        )
        .unwrap();
        assert_eq!(pick_format("auto", &formats, &access, line.as_bytes()).unwrap().name(), "combined-truth");
        // A file the manifest does not name, and a named format, are not affected by it.
        assert_eq!(pick_format("auto", &formats, &dir.path().join("other.log"), line.as_bytes()).unwrap().name(), "combined");
        assert_eq!(pick_format("common", &formats, &access, line.as_bytes()).unwrap().name(), "common");
        // A manifest that does not parse is ignored.
        std::fs::write(dir.path().join(crate::cmd::generate::TRUTH), "not json").unwrap();
        assert_eq!(pick_format("auto", &formats, &access, line.as_bytes()).unwrap().name(), "combined");
    }

    #[test]
    fn batches_carry_offsets_and_line_numbers() {
        let text = "a\nbb\n\nccc"; // no final newline
        let mut seen = Vec::new();
        read_batches(text.as_bytes(), |offset, line, body, lines| {
            seen.push((offset, line, String::from_utf8_lossy(body).into_owned(), lines));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(0, 1, "a\nbb\n\nccc\n".to_owned(), 4)]);
        let many = "x\n".repeat(BATCH_LINES + 3);
        let mut firsts = Vec::new();
        read_batches(many.as_bytes(), |offset, line, _, lines| {
            firsts.push((offset, line, lines));
            Ok(())
        })
        .unwrap();
        assert_eq!(firsts, vec![(0, 1, BATCH_LINES), (2 * BATCH_LINES as u64, BATCH_LINES + 1, 3)]);
    }
}
