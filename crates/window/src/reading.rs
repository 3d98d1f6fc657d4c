//! Readings of a key's window: borrowed ([`Reading`]) and owned, for windows that closed ([`ClosedWindow`]).

use std::mem::size_of;

use super::Aggregate;
use super::events::{Entry, View};

/// Below this many values, distinct values are counted by comparison instead of sorting a copy.
const SMALL_DISTINCT: usize = 24;

/// A key's window as it stands, borrowed from the [`WindowedState`](super::WindowedState).
#[derive(Debug, Clone)]
pub struct Reading<'a> {
    /// Events in the window (every aggregate). A lower bound when `exact` is false.
    pub count: u64,
    /// Sum of the values in the window (`Sum` and `Values`; 0 otherwise).
    pub sum: f64,
    /// Distinct values in the window (`Distinct`; 0 otherwise). A lower bound when `exact` is false.
    pub distinct: u64,
    /// Time of the oldest event in the window.
    pub first_ms: i64,
    /// Time of the newest event in the window.
    pub last_ms: i64,
    /// Evidence ids of events in the window, oldest first (at most `evidence_per_key`, the newest).
    pub evidence: &'a [Box<str>],
    /// False when events folded beyond the per-key cap touch the window, so counts are lower bounds
    /// and percentiles and steps come from the kept events only (see the module doc).
    pub exact: bool,
    entries: [&'a [Entry]; 2],
    aggregate: Aggregate,
}

impl<'a> Reading<'a> {
    /// The reading of a view; `scratch` is reused to count distinct values.
    pub(crate) fn new(view: View<'a>, aggregate: Aggregate, scratch: &mut Vec<u64>) -> Reading<'a> {
        let [front, back] = view.entries;
        let kept = (front.len() + back.len()) as u64;
        let sum = match aggregate {
            Aggregate::Sum | Aggregate::Values => {
                front.iter().chain(back).map(|entry| f64::from_bits(entry.payload)).sum::<f64>() + view.folded_sum
            }
            _ => 0.0,
        };
        let distinct = if aggregate == Aggregate::Distinct { count_distinct(view.entries, scratch) } else { 0 };
        let first = front.first().or(back.first()).map(|entry| entry.time);
        let last = back.last().or(front.last()).map(|entry| entry.time);
        let exact = match aggregate {
            Aggregate::Count | Aggregate::Sum => !view.partial,
            _ => !view.touched,
        };
        Reading {
            count: kept + view.folded_count,
            sum,
            distinct,
            first_ms: min_of(first, view.folded_first).unwrap_or(0),
            last_ms: max_of(last, view.folded_last).unwrap_or(0),
            evidence: view.evidence,
            exact,
            entries: view.entries,
            aggregate,
        }
    }

    fn kept(&self) -> impl Iterator<Item = &'a Entry> + 'a {
        let [front, back] = self.entries;
        front.iter().chain(back)
    }

    /// The `p`-th percentile (0–100, nearest rank) of the values in the window; the median is
    /// `percentile(50.0)`. `None` for an empty window, a NaN `p` or an aggregate other than `Values`.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.aggregate != Aggregate::Values {
            return None;
        }
        let mut values: Vec<f64> = self.kept().map(|entry| f64::from_bits(entry.payload)).collect();
        let rank = nearest_rank(values.len(), p)?;
        let (_, value, _) = values.select_nth_unstable_by(rank, f64::total_cmp);
        Some(*value)
    }

    /// `Sequence`: whether every step was seen in the window (Sigma `temporal`).
    pub fn all_steps_seen(&self) -> bool {
        let Aggregate::Sequence { steps } = self.aggregate else { return false };
        let mut seen = [0u64; 4];
        for entry in self.kept() {
            let step = entry.payload as usize;
            if let Some(word) = seen.get_mut(step / 64) {
                *word |= 1 << (step % 64);
            }
        }
        (0..usize::from(steps)).all(|step| seen.get(step / 64).is_some_and(|word| word & (1 << (step % 64)) != 0))
    }

    /// `Sequence`: a chain of the steps in order, step 0 first, by event time (not arrival), within
    /// the window (Sigma `temporal_ordered`). Returns the first and last times of the chain that
    /// completes first, starting as late as possible. Steps at the same millisecond count as in
    /// order, since event time cannot tell them apart.
    pub fn ordered_chain(&self) -> Option<(i64, i64)> {
        let Aggregate::Sequence { steps } = self.aggregate else { return None };
        let last_step = usize::from(steps).checked_sub(1)?;
        // start[s]: the latest start time of a chain of steps 0..=s ending at or before the current event.
        let mut start = [None::<i64>; 256];
        for entry in self.kept() {
            let step = entry.payload as usize;
            let reached = if step == 0 { Some(entry.time) } else { start.get(step - 1).copied().flatten() };
            if let (Some(reached), Some(slot)) = (reached, start.get_mut(step)) {
                *slot = Some(slot.map_or(reached, |earlier: i64| earlier.max(reached)));
                if step == last_step {
                    return Some((reached, entry.time));
                }
            }
        }
        None
    }
}

/// A key's final reading, owned: what [`WindowedState::expire`](super::WindowedState::expire) returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedWindow {
    /// Events in the window. A lower bound when `exact` is false.
    pub count: u64,
    /// Sum of the values (`Sum` and `Values`).
    pub sum: f64,
    /// Distinct values (`Distinct`). A lower bound when `exact` is false.
    pub distinct: u64,
    /// Time of the oldest event in the window.
    pub first_ms: i64,
    /// Time of the newest event in the window.
    pub last_ms: i64,
    /// Evidence ids of events in the window, oldest first.
    pub evidence: Vec<Box<str>>,
    /// As [`Reading::exact`].
    pub exact: bool,
    /// `Values`: the values, sorted.
    values: Vec<f64>,
    all_steps_seen: bool,
    ordered_chain: Option<(i64, i64)>,
}

impl ClosedWindow {
    /// As [`Reading::percentile`].
    pub fn percentile(&self, p: f64) -> Option<f64> {
        nearest_rank(self.values.len(), p).and_then(|rank| self.values.get(rank).copied())
    }

    /// As [`Reading::all_steps_seen`].
    pub fn all_steps_seen(&self) -> bool {
        self.all_steps_seen
    }

    /// As [`Reading::ordered_chain`].
    pub fn ordered_chain(&self) -> Option<(i64, i64)> {
        self.ordered_chain
    }

    /// Bytes held on the heap, from capacities.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.values.capacity() * size_of::<f64>()
            + self.evidence.capacity() * size_of::<Box<str>>()
            + self.evidence.iter().map(|id| id.len()).sum::<usize>()
    }
}

impl From<&Reading<'_>> for ClosedWindow {
    fn from(reading: &Reading<'_>) -> ClosedWindow {
        let mut values: Vec<f64> = if reading.aggregate == Aggregate::Values {
            reading.kept().map(|entry| f64::from_bits(entry.payload)).collect()
        } else {
            Vec::new()
        };
        values.sort_unstable_by(f64::total_cmp);
        ClosedWindow {
            count: reading.count,
            sum: reading.sum,
            distinct: reading.distinct,
            first_ms: reading.first_ms,
            last_ms: reading.last_ms,
            evidence: reading.evidence.to_vec(),
            exact: reading.exact,
            values,
            all_steps_seen: reading.all_steps_seen(),
            ordered_chain: reading.ordered_chain(),
        }
    }
}

/// The 0-based index of the nearest-rank `p`-th percentile among `len` sorted values.
fn nearest_rank(len: usize, p: f64) -> Option<usize> {
    if len == 0 || p.is_nan() {
        return None;
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0 * len as f64).ceil() as usize;
    Some(rank.clamp(1, len) - 1)
}

fn count_distinct(entries: [&[Entry]; 2], scratch: &mut Vec<u64>) -> u64 {
    let [front, back] = entries;
    let len = front.len() + back.len();
    if len <= SMALL_DISTINCT {
        let mut values = [0u64; SMALL_DISTINCT];
        for (slot, entry) in values.iter_mut().zip(front.iter().chain(back)) {
            *slot = entry.payload;
        }
        let values = &values[..len];
        return values.iter().enumerate().filter(|&(index, value)| !values[..index].contains(value)).count() as u64;
    }
    scratch.clear();
    scratch.extend(front.iter().chain(back).map(|entry| entry.payload));
    scratch.sort_unstable();
    scratch.dedup();
    scratch.len() as u64
}

fn min_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
