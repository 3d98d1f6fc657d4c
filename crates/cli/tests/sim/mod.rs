//! The generator's traffic against the other crates: `rampart-ingest` parses every generated line with
//! its label, and the built-in rule pack catches every attack family and nothing benign. (They live
//! here because `rampart-sim` depends on `rampart-model` only.)

use std::sync::Arc;

use rampart_detect::{Detector, RuleSources};
use rampart_ingest::{CardProtector, IngestConfig, Ingestor, LineFormat, LogFormat};
use rampart_model::Event;
use rampart_sim::{ACCESS_LOG_FORMAT, FAMILIES, Generator, RecordKind, TrafficConfig, Truth};
use time::macros::datetime;

fn ten_minutes() -> Vec<rampart_sim::Record> {
    let config = TrafficConfig {
        seed: 1,
        start: datetime!(2026-11-22 10:00:00 UTC),
        duration: std::time::Duration::from_secs(10 * 60),
        requests_per_second: 20.0,
    };
    Generator::new(config).collect()
}

#[test]
fn rampart_ingest_parses_every_access_line_with_its_truth() {
    // Only the built-in combined-truth format reads the label; the same log_format configured
    // as a custom format parses every line but keeps the label as an ordinary nginx field (issue 12).
    let ours = LogFormat::compile("generate", ACCESS_LOG_FORMAT).unwrap();
    let builtin = LogFormat::builtin("combined-truth").unwrap();
    for record in ten_minutes() {
        let RecordKind::AccessLine(text) = &record.kind else { continue };
        for (format, truth) in [(&ours, None), (&builtin, record.truth)] {
            let parsed = format.parse_line(text).unwrap_or_else(|e| panic!("{e:?}: {text}"));
            assert_eq!(parsed.truth, truth, "{text}");
            assert_eq!(parsed.timestamp_ms, Some(record.time.unix_timestamp() * 1000), "{text}");
            assert!(parsed.status.is_some() && parsed.target.is_some() && parsed.user_agent.is_some(), "{text}");
        }
    }
}

/// Generated traffic as Rampart ingests it: access lines parsed, shop events normalized (cards masked).
fn ingested(config: TrafficConfig) -> Vec<Event> {
    let ingestor = Ingestor::new(IngestConfig::default(), CardProtector::new(b"truth test key"));
    let format = LineFormat::Text(Arc::new(LogFormat::builtin("combined-truth").unwrap()));
    let now = datetime!(2026-11-23 00:00 UTC);
    Generator::new(config)
        .enumerate()
        .map(|(line, record)| match record.kind {
            RecordKind::AccessLine(text) => ingestor.ingest_line(&format, line, text.as_bytes(), now, false, None).unwrap(),
            RecordKind::ShopEvent(json) => ingestor.record_to_event(line, json, now, false).unwrap(),
        })
        .collect()
}

#[test]
fn the_rule_pack_catches_every_attack_family_of_the_demo_and_nothing_benign() {
    let config = TrafficConfig {
        seed: 7,
        start: datetime!(2026-11-22 10:00 UTC),
        duration: std::time::Duration::from_secs(20 * 60),
        requests_per_second: 10.0,
    };
    let events = ingested(config);
    let detector = Detector::load(RuleSources { builtin: true, ..RuleSources::default() }).unwrap();
    assert!(detector.rules().errors.is_empty(), "{:?}", detector.rules().errors);
    let detections = detector.detect(&events, datetime!(2026-11-22 10:30 UTC));
    let mut truth = Truth::new();
    events.iter().for_each(|e| truth.observe(e));
    let report = truth.score(&detections);
    println!("{report}");
    let seen: Vec<&str> = report.families.iter().map(|s| s.family.as_str()).collect();
    assert_eq!(seen.len(), FAMILIES.len(), "every family runs in 20 minutes: {seen:?}");
    for score in &report.families {
        assert!(score.detected > 0, "no detection has an event of {}:\n{report}", score.family);
    }
    assert!(report.benign_only.is_empty(), "detections on benign traffic alone:\n{report}");
}
