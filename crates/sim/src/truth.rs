//! Detection scored against the generator's ground truth: which attack families were caught,
//! how completely, and at what cost in alerts on benign traffic.
//!
//! Feed a [`Truth`] every event (it keeps only the labelled ones: `event.id` → family and
//! `source.ip`), then [`Truth::score`] the detections made on them. Definitions, per attack family:
//!
//! - **instances**: the distinct `source.ip`s of the events labelled with the family. The
//!   generator runs each attack from one address (credential stuffing and brute force from a
//!   few; each counts as an instance, as each is a separate thing to block).
//! - **detected**: the instances with at least one of their family's events in the evidence of
//!   some detection, whatever its rule. **recall** = detected / instances.
//! - **label of a detection**: the majority label of its evidence events (`benign` for events
//!   without a label; a tie goes to an attack family before `benign`, then to the family first in
//!   alphabetical order).
//! - **detections**: the detections labelled with the family. One detection is one rule's match
//!   on one event, or one correlation crossing its threshold; the store may fold several into
//!   one alert, so these count what detection concluded, not alerts in the store.
//! - **rules**: the rules of those detections.
//! - **benign detections**: detections labelled `benign` whose rule is one of the family's rules:
//!   the false positives of what catches the family. **precision** = detections / (detections +
//!   benign detections).
//!
//! [`TruthReport::benign_only`] counts, by rule, the detections whose evidence holds no labelled
//! event at all: on generated traffic the rule pack should raise none.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use rampart_model::Event;
use rampart_model::{Detection, FieldSource, FieldValue, fields};

/// The labelled events seen so far.
#[derive(Debug, Default)]
pub struct Truth {
    /// `event.id` → (family, source IP).
    labelled: HashMap<String, (String, Option<String>)>,
    /// Events seen, labelled or not.
    events: u64,
}

/// How detection did on one attack family.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FamilyScore {
    /// The family's label (`rampart.truth`).
    pub family: String,
    /// Distinct source addresses of its events.
    pub instances: usize,
    /// Those with an event in some detection's evidence.
    pub detected: usize,
    /// `detected / instances`.
    pub recall: f64,
    /// Detections whose evidence is mostly this family's events.
    pub detections: usize,
    /// Detections whose evidence is mostly benign, by the rules that catch this family.
    pub benign_detections: usize,
    /// `detections / (detections + benign_detections)`; `None` without either.
    pub precision: Option<f64>,
    /// The rules of this family's detections, by id.
    pub rules: BTreeSet<String>,
}

/// The scores of every family seen, and what fired on benign traffic alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TruthReport {
    /// Events seen.
    pub events: u64,
    /// Events with a label.
    pub labelled: usize,
    /// One score per family, in alphabetical order.
    pub families: Vec<FamilyScore>,
    /// Rule id → detections whose evidence holds no labelled event.
    pub benign_only: BTreeMap<String, usize>,
}

const BENIGN: &str = "benign";

/// An event's ground truth: its family (`rampart.truth`) and source address; `None` when it
/// carries no label (benign).
pub fn label_of<S: FieldSource + ?Sized>(event: &S) -> Option<(String, Option<String>)> {
    let family = match event.field(fields::RAMPART_TRUTH) {
        Some(FieldValue::Str(family)) if !family.is_empty() && family != "-" => family.to_owned(),
        _ => return None,
    };
    let source = match event.field(fields::SOURCE_IP) {
        Some(FieldValue::Str(ip)) => Some(ip.to_owned()),
        Some(FieldValue::Ip(ip)) => Some(ip.to_string()),
        _ => None,
    };
    Some((family, source))
}

impl Truth {
    /// An empty record.
    pub fn new() -> Truth {
        Truth::default()
    }

    /// Notes an event's label, if it has one.
    pub fn observe(&mut self, event: &Event) {
        match label_of(event) {
            Some((family, source)) => self.record(event.id(), Some(&family), source),
            None => self.record(event.id(), None, None),
        }
    }

    /// Notes one event by its parts: its id, its label (`None`: benign) and source address.
    pub fn record(&mut self, id: &str, truth: Option<&str>, source_ip: Option<String>) {
        self.events += 1;
        if let Some(family) = truth {
            self.labelled.insert(id.to_owned(), (family.to_owned(), source_ip));
        }
    }

    /// Counts `n` events without a label (nothing to remember about them).
    pub fn count_unlabelled(&mut self, n: u64) {
        self.events += n;
    }

    /// Whether any labelled event was seen.
    pub fn has_labels(&self) -> bool {
        !self.labelled.is_empty()
    }

    /// The family of an event, `None` for benign (or unseen) events.
    pub fn label(&self, id: &str) -> Option<&str> {
        self.labelled.get(id).map(|(family, _)| family.as_str())
    }

    /// The label of a detection: the majority label of its evidence.
    pub fn detection_label(&self, detection: &Detection) -> &str {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for id in &detection.evidence {
            *votes.entry(self.label(id).unwrap_or(BENIGN)).or_default() += 1;
        }
        // Highest count; on a tie an attack family beats benign, then the alphabetically first.
        votes
            .into_iter()
            .max_by(|(a, m), (b, n)| m.cmp(n).then((*a == BENIGN).cmp(&(*b == BENIGN)).reverse()).then(b.cmp(a)))
            .map_or(BENIGN, |(l, _)| l)
    }

    /// Scores `detections` (made on the events observed) per attack family.
    pub fn score(&self, detections: &[Detection]) -> TruthReport {
        let mut instances: BTreeMap<&str, BTreeSet<Option<&str>>> = BTreeMap::new();
        for (family, source) in self.labelled.values() {
            instances.entry(family.as_str()).or_default().insert(source.as_deref());
        }
        let mut detected: BTreeMap<&str, BTreeSet<Option<&str>>> = BTreeMap::new();
        let mut attributed: BTreeMap<&str, (usize, BTreeSet<String>)> = BTreeMap::new();
        let mut benign_by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        let mut benign_only: BTreeMap<String, usize> = BTreeMap::new();
        for detection in detections {
            let mut any_labelled = false;
            for id in &detection.evidence {
                if let Some((family, source)) = self.labelled.get(id) {
                    any_labelled = true;
                    detected.entry(family.as_str()).or_default().insert(source.as_deref());
                }
            }
            if !any_labelled {
                *benign_only.entry(detection.rule.id.clone()).or_default() += 1;
            }
            match self.detection_label(detection) {
                BENIGN => *benign_by_rule.entry(detection.rule.id.as_str()).or_default() += 1,
                family => {
                    let entry = attributed.entry(family).or_default();
                    entry.0 += 1;
                    entry.1.insert(detection.rule.id.clone());
                }
            }
        }
        let families = instances
            .iter()
            .map(|(family, sources)| {
                let caught = detected.get(family).map_or(0, BTreeSet::len);
                let (count, rules) = attributed.get(family).cloned().unwrap_or_default();
                let benign: usize = rules.iter().map(|rule| benign_by_rule.get(rule.as_str()).copied().unwrap_or(0)).sum();
                FamilyScore {
                    family: (*family).to_owned(),
                    instances: sources.len(),
                    detected: caught,
                    recall: caught as f64 / sources.len().max(1) as f64,
                    detections: count,
                    benign_detections: benign,
                    precision: (count + benign > 0).then(|| count as f64 / (count + benign) as f64),
                    rules,
                }
            })
            .collect();
        TruthReport { events: self.events, labelled: self.labelled.len(), families, benign_only }
    }
}

impl fmt::Display for TruthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} events, {} labelled", self.events, self.labelled)?;
        writeln!(
            f,
            "{:<22} {:>9} {:>8} {:>7} {:>10} {:>6} {:>9}",
            "family", "instances", "detected", "recall", "detections", "benign", "precision"
        )?;
        for s in &self.families {
            let precision = s.precision.map_or_else(|| "-".to_owned(), |p| format!("{:.2}", p));
            writeln!(
                f,
                "{:<22} {:>9} {:>8} {:>7.2} {:>10} {:>6} {:>9}",
                s.family, s.instances, s.detected, s.recall, s.detections, s.benign_detections, precision
            )?;
        }
        if self.benign_only.is_empty() {
            writeln!(f, "no detection on benign traffic alone")
        } else {
            writeln!(f, "detections on benign traffic alone:")?;
            for (rule, count) in &self.benign_only {
                writeln!(f, "  {count:>6}  {rule}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use rampart_model::{AlertRule, Detection};
    use time::macros::datetime;

    use super::*;

    fn detection(rule: &str, evidence: &[&str]) -> Detection {
        let at = datetime!(2026-11-22 10:00 UTC);
        Detection {
            rule: AlertRule { id: rule.into(), version: String::new(), title: rule.into(), level: "high".into(), tags: Vec::new() },
            entities: Vec::new(),
            group_by: BTreeMap::new(),
            first_event_time: at,
            last_event_time: at,
            event_count: evidence.len() as u64,
            evidence: evidence.iter().map(|e| (*e).to_owned()).collect(),
            matched: Vec::new(),
            detected_at: at,
        }
    }

    #[test]
    fn scores_follow_the_documented_definitions() {
        let mut truth = Truth::new();
        let ip = |s: &str| Some(s.to_owned());
        truth.record("a1", Some("xss"), ip("203.0.113.1"));
        truth.record("a2", Some("xss"), ip("203.0.113.1"));
        truth.record("b1", Some("xss"), ip("203.0.113.2"));
        truth.record("s1", Some("scraping"), ip("203.0.113.3"));
        for id in ["n1", "n2", "n3"] {
            truth.record(id, None, ip("198.51.100.1"));
        }
        let detections = [
            detection("xss-rule", &["a1"]),
            detection("xss-rule", &["a2"]),
            // Mostly benign: a false positive of the rule that catches xss, though it touches b1.
            detection("xss-rule", &["b1", "n1", "n2"]),
            detection("noisy", &["n3"]),
            // A tie goes to the attack.
            detection("burst", &["s1", "n1"]),
        ];
        let report = truth.score(&detections);
        assert_eq!(report.events, 7);
        assert_eq!(report.labelled, 4);
        let xss = report.families.iter().find(|s| s.family == "xss").unwrap();
        assert_eq!((xss.instances, xss.detected, xss.recall), (2, 2, 1.0));
        assert_eq!((xss.detections, xss.benign_detections), (2, 1));
        assert_eq!(xss.precision, Some(2.0 / 3.0));
        assert_eq!(xss.rules, BTreeSet::from(["xss-rule".to_owned()]));
        let scraping = report.families.iter().find(|s| s.family == "scraping").unwrap();
        assert_eq!((scraping.detected, scraping.detections, scraping.benign_detections), (1, 1, 0));
        assert_eq!(report.benign_only, BTreeMap::from([("noisy".to_owned(), 1)]));
        assert!(!report.to_string().contains("no detection on benign traffic alone"));
    }
}
