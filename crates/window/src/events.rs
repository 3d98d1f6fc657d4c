//! Per-key storage: the events a key keeps, coarse buckets for events beyond its cap, and its evidence ids.

use std::collections::VecDeque;
use std::mem::size_of;

use super::{Aggregate, WindowLimits};

/// Buckets that folded events fall into per span + lateness (see the module doc of `window`).
const FOLD_BUCKETS: i64 = 64;

/// The shape of a window, as the per-key code needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub(crate) span: i64,
    pub(crate) aggregate: Aggregate,
    pub(crate) lateness: i64,
    pub(crate) cap: usize,
    pub(crate) evidence_cap: usize,
    pub(crate) fold_width: i64,
}

impl Config {
    pub(crate) fn new(span: i64, aggregate: Aggregate, limits: &WindowLimits) -> Config {
        let covered = span.saturating_add(limits.lateness_ms);
        Config {
            span,
            aggregate,
            lateness: limits.lateness_ms,
            cap: limits.max_values_per_key,
            evidence_cap: limits.evidence_per_key,
            fold_width: (covered / FOLD_BUCKETS).saturating_add(1),
        }
    }

    /// Whether payloads are `f64` bits that sums should include.
    pub(crate) fn sums_values(&self) -> bool {
        matches!(self.aggregate, Aggregate::Sum | Aggregate::Values)
    }
}

/// One event: its time and its payload (f64 bits, a value hash or a step, by aggregate; 0 for `Count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) time: i64,
    pub(crate) payload: u64,
}

impl Entry {
    /// The canonical order: by time, then payload, so that any arrival order leaves the same sequence.
    pub(crate) fn order(&self) -> (i64, u64) {
        (self.time, self.payload)
    }
}

/// Events folded away beyond the per-key cap: only their count, sum and time range remain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Folded {
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) count: u64,
    pub(crate) sum: f64,
}

/// The storage of a key with more than one event, or with evidence.
#[derive(Debug, Default)]
pub(crate) struct Heap {
    /// Sorted by [`Entry::order`]; never empty.
    pub(crate) entries: VecDeque<Entry>,
    /// Sorted by time; time ranges do not overlap.
    pub(crate) folded: Vec<Folded>,
    /// Evidence, sorted by (time, id); the two vectors have the same length.
    pub(crate) evidence_times: Vec<i64>,
    pub(crate) evidence_ids: Vec<Box<str>>,
    /// `Distinct` only: entries hold each value once (its newest occurrence). Set when the key
    /// reaches its cap, cleared when it has shrunk to half of it.
    dedup: bool,
}

/// What one key keeps. Most keys of a flood see one event, which stays inline.
#[derive(Debug)]
pub(crate) enum Events {
    One(Entry),
    Many(Box<Heap>),
}

/// A key's events that fall in one window.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub(crate) entries: [&'a [Entry]; 2],
    pub(crate) folded_count: u64,
    pub(crate) folded_sum: f64,
    pub(crate) folded_first: Option<i64>,
    pub(crate) folded_last: Option<i64>,
    /// A folded bucket straddles the window's edge (it is not counted).
    pub(crate) partial: bool,
    /// A folded bucket overlaps the window at all.
    pub(crate) touched: bool,
    pub(crate) evidence: &'a [Box<str>],
}

impl Events {
    /// A new key's storage.
    pub(crate) fn new(entry: Entry, evidence: Option<&str>, cfg: &Config) -> Events {
        match evidence {
            Some(id) if cfg.evidence_cap > 0 => {
                let mut heap = Heap::holding(entry, 1);
                heap.add_evidence(entry.time, id, cfg.evidence_cap);
                Events::Many(Box::new(heap))
            }
            _ => Events::One(entry),
        }
    }

    /// Storage rebuilt from a snapshot, brought within `cfg`'s caps; returns it and how many events were folded.
    pub(crate) fn from_parts(mut heap: Heap, cfg: &Config) -> (Events, u64) {
        let mut folded = 0;
        while heap.entries.len() > cfg.cap {
            let Some(oldest) = heap.entries.pop_front() else { break };
            heap.fold(oldest, cfg);
            folded += 1;
        }
        let excess = heap.evidence_times.len().saturating_sub(cfg.evidence_cap);
        heap.evidence_times.drain(..excess);
        heap.evidence_ids.drain(..excess);
        let mut events = Events::Many(Box::new(heap));
        events.compact();
        (events, folded)
    }

    /// The newest event time. The newest event is never folded or pruned, so it is always an entry.
    pub(crate) fn newest(&self) -> i64 {
        match self {
            Events::One(entry) => entry.time,
            Events::Many(heap) => heap.entries.back().map_or(i64::MIN, |entry| entry.time),
        }
    }

    /// The heap form, creating it from the inline form.
    fn heap(&mut self) -> &mut Heap {
        match self {
            Events::Many(heap) => heap,
            Events::One(entry) => {
                *self = Events::Many(Box::new(Heap::holding(*entry, 2)));
                self.heap()
            }
        }
    }

    /// Adds one event (and its evidence id); returns how many events were folded to respect the cap.
    pub(crate) fn add(&mut self, entry: Entry, evidence: Option<&str>, cfg: &Config) -> u64 {
        let heap = self.heap();
        if let Some(id) = evidence {
            heap.add_evidence(entry.time, id, cfg.evidence_cap);
        }
        heap.insert(entry, cfg)
    }

    /// Drops every event, bucket and evidence id at or before `threshold` (the caller keeps the newest event).
    pub(crate) fn prune(&mut self, threshold: i64, cfg: &Config) {
        let Events::Many(heap) = self else { return };
        while heap.entries.len() > 1 && heap.entries.front().is_some_and(|entry| entry.time <= threshold) {
            heap.entries.pop_front();
        }
        heap.folded.retain(|bucket| bucket.max_time > threshold);
        let dead = heap.evidence_times.partition_point(|&time| time <= threshold);
        heap.evidence_times.drain(..dead);
        heap.evidence_ids.drain(..dead);
        if heap.dedup && heap.entries.len() <= cfg.cap / 2 {
            heap.dedup = false;
        }
        self.compact();
    }

    /// Returns to the inline form when nothing else is kept, and gives back spare capacity.
    fn compact(&mut self) {
        let Events::Many(heap) = self else { return };
        if heap.entries.len() == 1 && heap.folded.is_empty() && heap.evidence_times.is_empty() {
            if let Some(&entry) = heap.entries.front() {
                *self = Events::One(entry);
            }
            return;
        }
        if heap.entries.capacity() > 8 && heap.entries.len() * 4 < heap.entries.capacity() {
            heap.entries.shrink_to(heap.entries.len() * 2);
        }
        if heap.folded.is_empty() && heap.folded.capacity() > 0 {
            heap.folded = Vec::new();
        }
    }

    /// Bytes held on the heap for this key (0 in the inline form), from capacities.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Events::One(_) => 0,
            Events::Many(heap) => {
                size_of::<Heap>()
                    + heap.entries.capacity() * size_of::<Entry>()
                    + heap.folded.capacity() * size_of::<Folded>()
                    + heap.evidence_times.capacity() * size_of::<i64>()
                    + heap.evidence_ids.capacity() * size_of::<Box<str>>()
                    + heap.evidence_ids.iter().map(|id| id.len()).sum::<usize>()
            }
        }
    }

    /// The parts, for snapshots: entries, folded buckets, evidence times and ids.
    pub(crate) fn parts(&self) -> (Parts<'_>, &[Folded], &[i64], &[Box<str>]) {
        match self {
            Events::One(entry) => (Parts::One(entry), &[], &[], &[]),
            Events::Many(heap) => (Parts::Many(&heap.entries), &heap.folded, &heap.evidence_times, &heap.evidence_ids),
        }
    }

    /// The events in the window `(lo, hi]`.
    pub(crate) fn view(&self, lo: i64, hi: i64) -> View<'_> {
        let mut view = View {
            entries: [&[], &[]],
            folded_count: 0,
            folded_sum: 0.0,
            folded_first: None,
            folded_last: None,
            partial: false,
            touched: false,
            evidence: &[],
        };
        match self {
            Events::One(entry) => {
                if lo < entry.time && entry.time <= hi {
                    view.entries[0] = std::slice::from_ref(entry);
                }
            }
            Events::Many(heap) => {
                let start = heap.entries.partition_point(|entry| entry.time <= lo);
                let end = heap.entries.partition_point(|entry| entry.time <= hi);
                view.entries = range_slices(&heap.entries, start, end.max(start));
                for bucket in &heap.folded {
                    if bucket.max_time <= lo || bucket.min_time > hi {
                        continue;
                    }
                    view.touched = true;
                    if bucket.min_time > lo && bucket.max_time <= hi {
                        view.folded_count += bucket.count;
                        view.folded_sum += bucket.sum;
                        view.folded_first = Some(view.folded_first.map_or(bucket.min_time, |first| first.min(bucket.min_time)));
                        view.folded_last = Some(view.folded_last.map_or(bucket.max_time, |last| last.max(bucket.max_time)));
                    } else {
                        view.partial = true;
                    }
                }
                let start = heap.evidence_times.partition_point(|&time| time <= lo);
                let end = heap.evidence_times.partition_point(|&time| time <= hi);
                view.evidence = heap.evidence_ids.get(start..end.max(start)).unwrap_or(&[]);
            }
        }
        view
    }
}

/// A key's entries, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parts<'a> {
    One(&'a Entry),
    Many(&'a VecDeque<Entry>),
}

impl<'a> Parts<'a> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Parts::One(_) => 1,
            Parts::Many(entries) => entries.len(),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a Entry> + 'a {
        let (one, many) = match *self {
            Parts::One(entry) => (Some(entry), None),
            Parts::Many(entries) => (None, Some(entries.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

impl Heap {
    /// A heap holding one entry, with room for `capacity`.
    fn holding(entry: Entry, capacity: usize) -> Heap {
        let mut entries = VecDeque::with_capacity(capacity);
        entries.push_back(entry);
        Heap { entries, ..Heap::default() }
    }

    /// Inserts in canonical order, folding one event away when the key is at its cap.
    fn insert(&mut self, entry: Entry, cfg: &Config) -> u64 {
        if cfg.aggregate == Aggregate::Distinct && self.entries.len() >= cfg.cap && !self.dedup {
            self.dedup = true;
            let folded = self.fold_duplicates(cfg);
            return folded + self.insert(entry, cfg);
        }
        if self.dedup
            && let Some(index) = self.entries.iter().position(|kept| kept.payload == entry.payload)
        {
            // Keep only the newest occurrence of a value: the distinct count at the newest time stays exact.
            return match self.entries.get(index) {
                Some(kept) if kept.order() >= entry.order() => {
                    self.fold(entry, cfg);
                    1
                }
                _ => {
                    if let Some(old) = self.entries.remove(index) {
                        self.fold(old, cfg);
                    }
                    self.insert_sorted(entry);
                    1
                }
            };
        }
        if self.entries.len() < cfg.cap {
            self.insert_sorted(entry);
            return 0;
        }
        // At the cap: the oldest of the kept events and the new one is folded.
        match self.entries.front() {
            Some(oldest) if oldest.order() <= entry.order() => {
                if let Some(oldest) = self.entries.pop_front() {
                    self.fold(oldest, cfg);
                }
                self.insert_sorted(entry);
            }
            _ => self.fold(entry, cfg),
        }
        1
    }

    fn insert_sorted(&mut self, entry: Entry) {
        let order = entry.order();
        if self.entries.back().is_none_or(|last| last.order() <= order) {
            self.entries.push_back(entry);
        } else {
            let position = self.entries.partition_point(|kept| kept.order() <= order);
            self.entries.insert(position, entry);
        }
    }

    /// Folds every occurrence of a value but its newest; returns how many were folded.
    fn fold_duplicates(&mut self, cfg: &Config) -> u64 {
        let mut by_value: Vec<(u64, usize)> = self.entries.iter().enumerate().map(|(index, entry)| (entry.payload, index)).collect();
        by_value.sort_unstable();
        let mut older = vec![false; self.entries.len()];
        for pair in by_value.windows(2) {
            if let [(value, index), (next_value, _)] = pair
                && value == next_value
                && let Some(flag) = older.get_mut(*index)
            {
                *flag = true;
            }
        }
        let mut folded = 0;
        let mut kept = VecDeque::with_capacity(self.entries.len());
        for (entry, is_older) in self.entries.drain(..).zip(older) {
            if is_older {
                folded += 1;
                fold_into(&mut self.folded, entry, cfg);
            } else {
                kept.push_back(entry);
            }
        }
        self.entries = kept;
        folded
    }

    fn fold(&mut self, entry: Entry, cfg: &Config) {
        fold_into(&mut self.folded, entry, cfg);
    }

    fn add_evidence(&mut self, time: i64, id: &str, cap: usize) {
        if cap == 0 {
            return;
        }
        // The first index whose (time, id) is after the new one's.
        let mut position = 0;
        let mut end = self.evidence_times.len();
        while position < end {
            let middle = position + (end - position) / 2;
            if (self.evidence_times[middle], &*self.evidence_ids[middle]) <= (time, id) {
                position = middle + 1;
            } else {
                end = middle;
            }
        }
        if self.evidence_times.len() >= cap {
            if position == 0 {
                return;
            }
            self.evidence_times.remove(0);
            self.evidence_ids.remove(0);
            position -= 1;
        }
        // Grow by doubling from one, not from four: most keys keep one or two ids.
        let len = self.evidence_times.len();
        if len == self.evidence_times.capacity() || len == self.evidence_ids.capacity() {
            let more = len.max(1).min(cap.saturating_sub(len).max(1));
            self.evidence_times.reserve_exact(more);
            self.evidence_ids.reserve_exact(more);
        }
        self.evidence_times.insert(position, time);
        self.evidence_ids.insert(position, id.into());
    }
}

/// Adds one event to the bucket of its time, creating the bucket if needed.
fn fold_into(folded: &mut Vec<Folded>, entry: Entry, cfg: &Config) {
    let width = cfg.fold_width;
    let bucket_of = |time: i64| time.div_euclid(width);
    let target = bucket_of(entry.time);
    let value = if cfg.sums_values() { f64::from_bits(entry.payload) } else { 0.0 };
    let position = folded.partition_point(|bucket| bucket_of(bucket.min_time) < target);
    match folded.get_mut(position) {
        Some(bucket) if bucket_of(bucket.min_time) == target => {
            bucket.min_time = bucket.min_time.min(entry.time);
            bucket.max_time = bucket.max_time.max(entry.time);
            bucket.count += 1;
            bucket.sum += value;
        }
        _ => folded.insert(position, Folded { min_time: entry.time, max_time: entry.time, count: 1, sum: value }),
    }
}

/// The entries `start..end` of a deque as (at most) two slices.
fn range_slices(entries: &VecDeque<Entry>, start: usize, end: usize) -> [&[Entry]; 2] {
    let (front, back) = entries.as_slices();
    let split = front.len();
    if end <= split {
        [front.get(start..end).unwrap_or(&[]), &[]]
    } else if start >= split {
        [back.get(start - split..end - split).unwrap_or(&[]), &[]]
    } else {
        [front.get(start..).unwrap_or(&[]), back.get(..end - split).unwrap_or(&[])]
    }
}

/// Builds a heap from snapshot parts (validated by the caller).
pub(crate) fn heap_from(entries: VecDeque<Entry>, folded: Vec<Folded>, evidence_times: Vec<i64>, evidence_ids: Vec<Box<str>>) -> Heap {
    Heap { entries, folded, evidence_times, evidence_ids, dedup: false }
}
