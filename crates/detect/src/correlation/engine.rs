//! The correlator: one windowed state per correlation, fed with rule matches in event time,
//! firing hits, chaining them into the correlations that read them, snapshots and hot reload.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rampart_model::{FieldSource, FieldValue};
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64;

use crate::correlation::compile::{CompiledCorrelation, CorrelationSet};
use crate::correlation::{Condition, CorrelationType};
use crate::error::StateError;
use crate::sigma::{CompiledRules, RuleInfo, RuleMatch};
use rampart_window::{Aggregate, ClosedWindow, Key, Observation, Reading, WindowLimits, WindowedState};

/// Bounds on the state of all correlations of a rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationLimits {
    /// Most groups held across all correlations, split evenly between them; beyond its share a
    /// correlation evicts its least recently updated group (counted in the stats).
    pub max_keys: usize,
    /// How far behind the newest event an event may be and still count (out-of-order tolerance).
    pub lateness_ms: i64,
    /// Event ids each group keeps as evidence (the most recent ones).
    pub evidence_per_key: usize,
    /// Events (or distinct values) each group keeps exactly; beyond it counts are lower bounds,
    /// distinct counts saturate and percentiles use the newest values.
    pub max_values_per_key: usize,
}

impl Default for CorrelationLimits {
    fn default() -> Self {
        CorrelationLimits { max_keys: 1_000_000, lateness_ms: 60_000, evidence_per_key: 10, max_values_per_key: 1024 }
    }
}

/// A correlation that fired: its group, its events and what it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationHit {
    /// The correlation rule.
    pub rule: Arc<RuleInfo>,
    /// Its group-by values: event field name → value, in group-by order.
    pub group_by: Vec<(String, String)>,
    /// Event time of the first event behind it (ms since the epoch).
    pub first_ms: i64,
    /// Event time of the last event behind it.
    pub last_ms: i64,
    /// Events (rule matches, or hits of an inner correlation) in the window.
    pub count: u64,
    /// What was measured: the distinct count, sum, average or percentile of `value_*`
    /// correlations, the number of distinct rules seen for the temporal types; `None` for
    /// `event_count` (that is `count`).
    pub value: Option<f64>,
    /// Ids of (the most recent of) those events.
    pub evidence: Vec<String>,
}

/// Counters of one correlation, or of all together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CorrelationCounts {
    /// Groups held.
    pub keys: usize,
    /// Groups evicted for lack of room.
    pub evicted: u64,
    /// Events refused because they came later than the lateness allows.
    pub late: u64,
    /// Events skipped because they lacked a group-by field.
    pub missing_group_by: u64,
    /// Events skipped because the measured field was missing (or not a number, for sums,
    /// averages and percentiles).
    pub missing_field: u64,
    /// Times it fired.
    pub hits: u64,
    /// Estimated bytes held.
    pub bytes: usize,
}

impl CorrelationCounts {
    fn add(&mut self, other: &CorrelationCounts) {
        self.keys += other.keys;
        self.evicted += other.evicted;
        self.late += other.late;
        self.missing_group_by += other.missing_group_by;
        self.missing_field += other.missing_field;
        self.hits += other.hits;
        self.bytes += other.bytes;
    }
}

/// The counters of one correlation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorrelationStat {
    /// The correlation's id.
    pub id: String,
    /// Its counters.
    #[serde(flatten)]
    pub counts: CorrelationCounts,
}

/// The counters of every running correlation, and their totals. Counters restart at zero with
/// the process; kept state carries its groups across reloads and restores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CorrelationStats {
    /// Per correlation, inner ones first.
    pub correlations: Vec<CorrelationStat>,
    /// All together.
    pub total: CorrelationCounts,
}

/// A group waiting for its window to close, for conditions decided then (`lt`, `lte`, `neq`):
/// its values and its window as its newest event left it.
#[derive(Debug, Clone)]
struct Pending {
    values: Box<[String]>,
    first_ms: i64,
    last_ms: i64,
    count: u64,
    measured: f64,
}

/// The groups of a correlation decided at close, and when each is due.
#[derive(Debug, Default)]
struct Closing {
    pending: HashMap<Key, Pending>,
    due: BTreeSet<(i64, Key)>,
}

/// One correlation's state.
#[derive(Debug)]
struct Running {
    window: WindowedState,
    closing: Option<Closing>,
    missing_group_by: u64,
    missing_field: u64,
    hits: u64,
    /// Pending groups dropped for lack of room.
    evicted: u64,
}

/// What a window reading says, taken out of it.
#[derive(Debug, Clone, Copy)]
struct Measure {
    first_ms: i64,
    last_ms: i64,
    count: u64,
    /// The value the condition looks at; `None` when there is nothing to measure (no values).
    measured: Option<f64>,
}

/// The state of all correlations of a rule set, fed with rule matches in event time.
///
/// Not thread-safe by itself: the [`Detector`](crate::Detector) holds it behind a mutex.
#[derive(Debug)]
pub struct Correlator {
    set: CorrelationSet,
    limits: CorrelationLimits,
    running: Vec<Running>,
}

/// Snapshot header and format version.
const MAGIC: &[u8; 4] = b"RCOR";
const VERSION: u8 = 1;

impl Correlator {
    /// Empty state for the correlations of a rule set.
    pub fn new(rules: &CompiledRules, limits: CorrelationLimits) -> Correlator {
        Correlator::for_set(rules.correlations.clone(), limits)
    }

    fn for_set(set: CorrelationSet, limits: CorrelationLimits) -> Correlator {
        let window_limits = window_limits(&set, limits);
        let running = set.correlations().iter().map(|c| Running::new(c, window_limits)).collect();
        Correlator { set, limits, running }
    }

    /// The limits it runs under.
    pub fn limits(&self) -> CorrelationLimits {
        self.limits
    }

    /// Whether it runs no correlation (observing is then free).
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Feeds one event's rule matches (`time_ms`: the event's time). Appends every hit, of
    /// correlations that generate alerts and of those that only feed others (see
    /// [`RuleInfo::generates`]); a hit feeds the correlations that name it before this returns.
    pub fn observe<S: FieldSource + ?Sized>(
        &mut self,
        event: &S,
        event_id: &str,
        time_ms: i64,
        matches: &[RuleMatch],
        out: &mut Vec<CorrelationHit>,
    ) {
        if self.running.is_empty() {
            return;
        }
        let start = out.len();
        for found in matches {
            self.feed(&found.rule.id, event, Some(event_id), time_ms, out);
        }
        self.chain(start, Some(event_id), out);
    }

    /// Closes the windows that ended before `time_ms` (event time, less the lateness) and
    /// appends the hits of conditions decided at close (`lt`/`lte` without a lower bound,
    /// `neq`). Call it now and then with the current time; [`Detector`](crate::Detector) does.
    pub fn expire(&mut self, time_ms: i64, out: &mut Vec<CorrelationHit>) {
        let start = out.len();
        let set = self.set.clone();
        let lateness = self.limits.lateness_ms;
        let mut closed = Vec::new();
        for (correlation, running) in set.correlations().iter().zip(&mut self.running) {
            closed.clear();
            running.window.expire(&mut closed);
            let Some(closing) = &mut running.closing else { continue };
            let spec = &correlation.spec;
            for (key, window) in closed.drain(..) {
                let Some(pending) = closing.pending.get(&key) else { continue };
                let values = pending.values.clone();
                // The key may have started a new window since: keep waiting for that one.
                if pending.last_ms <= window.last_ms {
                    closing.due.remove(&(pending.last_ms.saturating_add(spec.timespan_ms).saturating_add(lateness), key));
                    closing.pending.remove(&key);
                }
                let measure = measure_closed(spec.kind, spec.percentile, correlation.inputs.len(), &window);
                if fires_at_close(&spec.condition, measure) {
                    running.hits += 1;
                    out.push(hit(correlation, &values, measure, window.evidence.iter().map(|e| e.to_string()).collect()));
                }
            }
            while let Some(&(due, key)) = closing.due.first() {
                if due > time_ms {
                    break;
                }
                closing.due.pop_first();
                let Some(pending) = closing.pending.remove(&key) else { continue };
                let evidence = running.window.read(key, pending.last_ms).map(|r| r.evidence.iter().map(|e| e.to_string()).collect());
                running.window.remove(key);
                let measure = Measure {
                    first_ms: pending.first_ms,
                    last_ms: pending.last_ms,
                    count: pending.count,
                    measured: Some(pending.measured),
                };
                if fires_at_close(&spec.condition, measure) {
                    running.hits += 1;
                    out.push(hit(correlation, &pending.values, measure, evidence.unwrap_or_default()));
                }
            }
        }
        self.chain(start, None, out);
    }

    /// Feeds the hits from `start` on to the correlations that name them, and theirs in turn.
    fn chain(&mut self, start: usize, event_id: Option<&str>, out: &mut Vec<CorrelationHit>) {
        let mut next = start;
        while next < out.len() {
            let hit = &out[next];
            let rule = hit.rule.id.clone();
            let fields = HitFields(hit.group_by.clone());
            let time_ms = hit.last_ms;
            let evidence = event_id.map(str::to_owned).or_else(|| hit.evidence.last().cloned());
            self.feed(&rule, &fields, evidence.as_deref(), time_ms, out);
            next += 1;
        }
    }

    /// Feeds one match (or hit) of `rule` to every correlation input reading it.
    fn feed<S: FieldSource + ?Sized>(
        &mut self,
        rule: &str,
        source: &S,
        evidence: Option<&str>,
        time_ms: i64,
        out: &mut Vec<CorrelationHit>,
    ) {
        let set = self.set.clone();
        for &(index, input) in set.readers(rule) {
            let correlation = &set.correlations()[index];
            if let Some(found) = self.running[index].observe(correlation, input, source, evidence, time_ms, self.limits) {
                out.push(found);
            }
        }
    }

    /// Counters per correlation and in total.
    pub fn stats(&self) -> CorrelationStats {
        let mut stats = CorrelationStats::default();
        for (correlation, running) in self.set.correlations().iter().zip(&self.running) {
            let window = running.window.stats();
            let pending = running.closing.as_ref().map_or(0, |c| c.pending.len());
            let counts = CorrelationCounts {
                keys: window.keys,
                evicted: window.evicted + running.evicted,
                late: window.late,
                missing_group_by: running.missing_group_by,
                missing_field: running.missing_field,
                hits: running.hits,
                bytes: window.bytes + pending * std::mem::size_of::<(Key, Pending)>(),
            };
            stats.total.add(&counts);
            stats.correlations.push(CorrelationStat { id: correlation.info.id.clone(), counts });
        }
        stats
    }

    /// The state of every correlation, for [`Correlator::restore`]: versioned binary, keyed by
    /// correlation id and a fingerprint of the correlation (its text, the fields it reads and
    /// the rules it reads).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        put_u32(&mut out, self.running.len());
        for (correlation, running) in self.set.correlations().iter().zip(&self.running) {
            put_str(&mut out, &correlation.info.id);
            out.extend_from_slice(&correlation.state_version.to_le_bytes());
            for counter in [running.missing_group_by, running.missing_field, running.hits, running.evicted] {
                out.extend_from_slice(&counter.to_le_bytes());
            }
            let pending: Vec<(&Key, &Pending)> = running.closing.as_ref().map(|c| c.pending.iter().collect()).unwrap_or_default();
            put_u32(&mut out, pending.len());
            for (key, group) in pending {
                out.extend_from_slice(&key.0.to_le_bytes());
                out.extend_from_slice(&group.first_ms.to_le_bytes());
                out.extend_from_slice(&group.last_ms.to_le_bytes());
                out.extend_from_slice(&group.count.to_le_bytes());
                out.extend_from_slice(&group.measured.to_le_bytes());
                put_u32(&mut out, group.values.len());
                for value in &group.values {
                    put_str(&mut out, value);
                }
            }
            let mut window = Vec::new();
            running.window.snapshot(&mut window);
            out.extend_from_slice(&(window.len() as u64).to_le_bytes());
            out.extend_from_slice(&window);
        }
        out
    }

    /// State for the correlations of `rules` from a [`Correlator::snapshot`]: a correlation
    /// whose id and fingerprint are unchanged gets its saved state; changed, new or removed ones
    /// start empty. A damaged snapshot is an error, never a panic.
    pub fn restore(bytes: &[u8], rules: &CompiledRules, limits: CorrelationLimits) -> Result<Correlator, StateError> {
        let mut correlator = Correlator::new(rules, limits);
        let window_limits = window_limits(&correlator.set, limits);
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(4)? != MAGIC {
            return Err(StateError::NotASnapshot);
        }
        let version = reader.u8()?;
        if version != VERSION {
            return Err(StateError::Version { found: version, expected: VERSION });
        }
        let by_id: HashMap<&str, usize> = correlator.set.correlations().iter().enumerate().map(|(i, c)| (c.info.id.as_str(), i)).collect();
        let count = reader.u32()?;
        let mut restored = Vec::new();
        for _ in 0..count {
            let id = reader.str()?;
            let state_version = reader.u64()?;
            let counters = [reader.u64()?, reader.u64()?, reader.u64()?, reader.u64()?];
            let pending_count = reader.u32()?;
            let mut pending = Vec::with_capacity(pending_count.min(bytes.len() / 40));
            for _ in 0..pending_count {
                let key = Key(u128::from_le_bytes(reader.array()?));
                let first_ms = i64::from_le_bytes(reader.array()?);
                let last_ms = i64::from_le_bytes(reader.array()?);
                let count = reader.u64()?;
                let measured = f64::from_le_bytes(reader.array()?);
                let value_count = reader.u32()?;
                let mut values = Vec::with_capacity(value_count.min(64));
                for _ in 0..value_count {
                    values.push(reader.str()?.to_owned());
                }
                pending.push((key, Pending { values: values.into_boxed_slice(), first_ms, last_ms, count, measured }));
            }
            let window_len = usize::try_from(reader.u64()?).map_err(|_| StateError::Truncated)?;
            let window_bytes = reader.take(window_len)?;
            let Some(&index) = by_id.get(id) else { continue };
            let correlation = &correlator.set.correlations()[index];
            if correlation.state_version != state_version {
                continue;
            }
            let window = WindowedState::restore(window_bytes, window_limits)
                .map_err(|error| StateError::Window { correlation: id.to_owned(), reason: error.to_string() })?;
            if window.span_ms() != correlation.spec.timespan_ms || window.aggregate() != aggregate_of(correlation) {
                continue;
            }
            restored.push((index, window, counters, pending));
        }
        if reader.at != bytes.len() {
            return Err(StateError::Truncated);
        }
        let lateness = limits.lateness_ms;
        for (index, window, counters, pending) in restored {
            let span = correlator.set.correlations()[index].spec.timespan_ms;
            let running = &mut correlator.running[index];
            running.window = window;
            [running.missing_group_by, running.missing_field, running.hits, running.evicted] = counters;
            if let Some(closing) = &mut running.closing {
                for (key, group) in pending {
                    closing.due.insert((group.last_ms.saturating_add(span).saturating_add(lateness), key));
                    closing.pending.insert(key, group);
                }
            }
        }
        Ok(correlator)
    }

    /// Takes over the state of `previous` (the correlator of the rule set before a reload) for
    /// every correlation whose id and fingerprint are unchanged; the others start empty.
    pub fn carry_over(&mut self, previous: Correlator) {
        let window_limits = window_limits(&self.set, self.limits);
        let mut old: HashMap<(String, u64), Running> = previous
            .set
            .correlations()
            .iter()
            .zip(previous.running)
            .map(|(correlation, running)| ((correlation.info.id.clone(), correlation.state_version), running))
            .collect();
        for (correlation, running) in self.set.correlations().iter().zip(&mut self.running) {
            let Some(mut kept) = old.remove(&(correlation.info.id.clone(), correlation.state_version)) else { continue };
            if kept.window.limits() != window_limits {
                // The key budget is split anew when correlations come and go.
                let mut bytes = Vec::new();
                kept.window.snapshot(&mut bytes);
                match WindowedState::restore(&bytes, window_limits) {
                    Ok(window) => kept.window = window,
                    Err(_) => continue,
                }
            }
            *running = kept;
        }
    }
}

impl Running {
    fn new(correlation: &CompiledCorrelation, limits: WindowLimits) -> Running {
        Running {
            window: WindowedState::new(correlation.spec.timespan_ms, aggregate_of(correlation), limits),
            closing: correlation.spec.condition.decided_at_close().then(Closing::default),
            missing_group_by: 0,
            missing_field: 0,
            hits: 0,
            evicted: 0,
        }
    }

    /// Adds one match (or inner hit) read by `input`; returns the hit when the condition is
    /// decided now and holds (the group then starts afresh).
    fn observe<S: FieldSource + ?Sized>(
        &mut self,
        correlation: &CompiledCorrelation,
        input: usize,
        source: &S,
        evidence: Option<&str>,
        time_ms: i64,
        limits: CorrelationLimits,
    ) -> Option<CorrelationHit> {
        let spec = &correlation.spec;
        let reading = &correlation.inputs[input];
        let mut values = Vec::with_capacity(reading.group_fields.len());
        for field in &reading.group_fields {
            match source.field(field).and_then(|value| text_of(&value)) {
                Some(text) => values.push(text),
                None => {
                    self.missing_group_by += 1;
                    return None;
                }
            }
        }
        let measured_field = reading.value_field.as_deref().and_then(|field| source.field(field));
        let observation = match spec.kind {
            CorrelationType::EventCount => Observation::Event,
            CorrelationType::Temporal => Observation::Distinct(input as u64),
            CorrelationType::TemporalOrdered => Observation::Step(u8::try_from(input).unwrap_or(u8::MAX)),
            CorrelationType::ValueCount => match measured_field.as_ref().and_then(text_of) {
                Some(text) => Observation::Distinct(xxh3_64(text.as_bytes())),
                None => {
                    self.missing_field += 1;
                    return None;
                }
            },
            CorrelationType::ValueSum | CorrelationType::ValueAvg | CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
                match measured_field.as_ref().and_then(number_of) {
                    Some(number) => Observation::Value(number),
                    None => {
                        self.missing_field += 1;
                        return None;
                    }
                }
            }
        };
        let key = Key::of(values.iter().map(|v| v.as_bytes()));
        // Refusals (late events) are counted by the window.
        let window = self.window.observe(key, time_ms, observation, evidence).ok()?;
        let measure = measure_reading(spec.kind, spec.percentile, correlation.inputs.len(), &window);
        if let Some(closing) = &mut self.closing {
            let span_and_lateness = spec.timespan_ms.saturating_add(limits.lateness_ms);
            let group = Pending {
                values: values.into_boxed_slice(),
                first_ms: measure.first_ms,
                last_ms: measure.last_ms,
                count: measure.count,
                measured: measure.measured.unwrap_or(0.0),
            };
            if let Some(previous) = closing.pending.get(&key) {
                closing.due.remove(&(previous.last_ms.saturating_add(span_and_lateness), key));
            }
            closing.due.insert((group.last_ms.saturating_add(span_and_lateness), key));
            closing.pending.insert(key, group);
            // The window bounds its own keys; the groups waiting here are bounded alike.
            let room = self.window.limits().max_keys;
            while closing.pending.len() > room {
                let Some((_, oldest)) = closing.due.pop_first() else { break };
                closing.pending.remove(&oldest);
                self.evicted += 1;
            }
            return None;
        }
        let fires = measure.measured.is_some_and(|value| spec.condition.holds(value));
        if !fires {
            return None;
        }
        let evidence = window.evidence.iter().map(|e| e.to_string()).collect();
        self.window.remove(key);
        self.hits += 1;
        Some(hit(correlation, &values, measure, evidence))
    }
}

/// Whether a condition decided at close holds for a closed window.
fn fires_at_close(condition: &Condition, measure: Measure) -> bool {
    measure.measured.is_some_and(|value| condition.holds(value))
}

fn hit(correlation: &CompiledCorrelation, values: &[String], measure: Measure, evidence: Vec<String>) -> CorrelationHit {
    let value = match correlation.spec.kind {
        CorrelationType::EventCount => None,
        _ => measure.measured,
    };
    CorrelationHit {
        rule: correlation.info.clone(),
        group_by: correlation.output_names.iter().cloned().zip(values.iter().cloned()).collect(),
        first_ms: measure.first_ms,
        last_ms: measure.last_ms,
        count: measure.count,
        value,
        evidence,
    }
}

/// The windowed state each correlation keeps.
fn aggregate_of(correlation: &CompiledCorrelation) -> Aggregate {
    match correlation.spec.kind {
        CorrelationType::EventCount => Aggregate::Count,
        // Distinct rules seen: each rule is a distinct value.
        CorrelationType::ValueCount | CorrelationType::Temporal => Aggregate::Distinct,
        CorrelationType::TemporalOrdered => Aggregate::Sequence { steps: u8::try_from(correlation.inputs.len()).unwrap_or(u8::MAX) },
        CorrelationType::ValueSum | CorrelationType::ValueAvg => Aggregate::Sum,
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian => Aggregate::Values,
    }
}

/// Each correlation's share of the limits.
fn window_limits(set: &CorrelationSet, limits: CorrelationLimits) -> WindowLimits {
    WindowLimits {
        max_keys: (limits.max_keys / set.len().max(1)).max(1),
        lateness_ms: limits.lateness_ms,
        max_values_per_key: limits.max_values_per_key,
        evidence_per_key: limits.evidence_per_key,
    }
}

/// Reads the measure out of a [`Reading`] or a [`ClosedWindow`] (same fields and methods).
macro_rules! measure_of {
    ($kind:expr, $percentile:expr, $steps:expr, $window:expr) => {{
        let window = $window;
        let (mut first_ms, mut last_ms) = (window.first_ms, window.last_ms);
        let measured = match $kind {
            CorrelationType::EventCount => Some(window.count as f64),
            CorrelationType::ValueCount | CorrelationType::Temporal => Some(window.distinct as f64),
            CorrelationType::TemporalOrdered => match window.ordered_chain() {
                Some((first, last)) => {
                    (first_ms, last_ms) = (first, last);
                    Some($steps as f64)
                }
                None => Some(0.0),
            },
            CorrelationType::ValueSum => Some(window.sum),
            CorrelationType::ValueAvg => (window.count > 0).then(|| window.sum / window.count as f64),
            CorrelationType::ValuePercentile | CorrelationType::ValueMedian => window.percentile($percentile.unwrap_or(50.0)),
        };
        Measure { first_ms, last_ms, count: window.count, measured }
    }};
}

fn measure_reading(kind: CorrelationType, percentile: Option<f64>, steps: usize, window: &Reading<'_>) -> Measure {
    measure_of!(kind, percentile, steps, window)
}

fn measure_closed(kind: CorrelationType, percentile: Option<f64>, steps: usize, window: &ClosedWindow) -> Measure {
    measure_of!(kind, percentile, steps, window)
}

/// A field's value as group-by text. Missing, null, empty and `-` (an access log's "none") are
/// no value.
fn text_of(value: &FieldValue<'_>) -> Option<String> {
    match value {
        FieldValue::Str(text) if !text.is_empty() && *text != "-" => Some((*text).to_owned()),
        FieldValue::Str(_) | FieldValue::Null => None,
        FieldValue::Int(number) => Some(number.to_string()),
        FieldValue::Float(number) => Some(number.to_string()),
        FieldValue::Bool(flag) => Some(flag.to_string()),
        FieldValue::Ip(ip) => Some(ip.to_string()),
        FieldValue::Time(time) => Some((time.unix_timestamp_nanos() / 1_000_000).to_string()),
        FieldValue::Json(json) => Some(json.to_string()),
    }
}

/// A field's value as a number: numbers, and text that reads as one.
fn number_of(value: &FieldValue<'_>) -> Option<f64> {
    let number = match value {
        FieldValue::Int(number) => *number as f64,
        FieldValue::Float(number) => *number,
        FieldValue::Str(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    number.is_finite().then_some(number)
}

/// A hit seen as an event by the correlations that read it: its group-by values are its fields.
struct HitFields(Vec<(String, String)>);

impl FieldSource for HitFields {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        self.0.iter().find(|(name, _)| name == path).map(|(_, value)| FieldValue::Str(value))
    }

    fn for_each_text<'s>(&'s self, visit: &mut dyn FnMut(&'s str)) {
        self.0.iter().for_each(|(_, value)| visit(value));
    }
}

fn put_u32(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// Reads a snapshot, refusing lengths that run past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], StateError> {
        let end = self.at.checked_add(len).filter(|end| *end <= self.bytes.len()).ok_or(StateError::Truncated)?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        self.take(N)?.try_into().map_err(|_| StateError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, StateError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<usize, StateError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn u64(&mut self) -> Result<u64, StateError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn str(&mut self) -> Result<&'a str, StateError> {
        let len = self.u32()?;
        std::str::from_utf8(self.take(len)?).map_err(|_| StateError::Truncated)
    }
}
