//! [`WindowedState`]: keys, the watermark, bounded memory and closing windows.

use std::mem::size_of;
use std::time::{Duration, Instant};

use super::events::{Config, Entry, Events};
use super::keyset::KeySet;
use super::reading::{ClosedWindow, Reading};
use super::{Aggregate, Key, MAX_EVIDENCE_ID_BYTES, Observation, Refusal, WindowLimits, WindowStats};

/// Closed keys `observe` removes, at most, each time the watermark moves (the rest wait for `expire`).
const SWEEP_PER_OBSERVE: usize = 2;

/// How often a full state may warn about evictions.
const EVICTION_WARNING_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counters {
    pub(super) evicted: u64,
    pub(super) late: u64,
    pub(super) mismatched: u64,
    pub(super) jumps: u64,
    pub(super) folded: u64,
    pub(super) closed_dropped: u64,
    pub(super) evidence_dropped: u64,
}

/// Sliding event-time windows for many keys, of one span and one [`Aggregate`]: one per Sigma
/// correlation rule or fraud velocity feature. See the [module doc](super) for the semantics.
#[derive(Debug)]
pub struct WindowedState {
    pub(super) cfg: Config,
    pub(super) limits: WindowLimits,
    pub(super) keys: KeySet,
    pub(super) newest_ms: Option<i64>,
    /// Windows closed by `observe`, waiting for `expire`; at most `max_keys`.
    pending: Vec<(Key, ClosedWindow)>,
    pending_heap_bytes: usize,
    /// Sum of `Events::heap_bytes` over the keys.
    pub(super) heap_bytes: usize,
    pub(super) counters: Counters,
    last_eviction_warning: Option<Instant>,
    scratch: Vec<u64>,
}

impl WindowedState {
    /// An empty state for windows of `span_ms` (at least 1) keeping `aggregate`, within `limits`
    /// (clamped, see [`WindowLimits`]).
    pub fn new(span_ms: i64, aggregate: Aggregate, limits: WindowLimits) -> WindowedState {
        let limits = limits.clamped();
        let aggregate = match aggregate {
            Aggregate::Sequence { steps: 0 } => Aggregate::Sequence { steps: 1 },
            other => other,
        };
        WindowedState {
            cfg: Config::new(span_ms.max(1), aggregate, &limits),
            limits,
            keys: KeySet::new(),
            newest_ms: None,
            pending: Vec::new(),
            pending_heap_bytes: 0,
            heap_bytes: 0,
            counters: Counters::default(),
            last_eviction_warning: None,
            scratch: Vec::new(),
        }
    }

    /// The window length in milliseconds.
    pub fn span_ms(&self) -> i64 {
        self.cfg.span
    }

    /// What each key keeps.
    pub fn aggregate(&self) -> Aggregate {
        self.cfg.aggregate
    }

    /// The limits in force (after clamping).
    pub fn limits(&self) -> WindowLimits {
        self.limits
    }

    fn watermark(&self) -> Option<i64> {
        self.newest_ms.map(|newest| newest.saturating_sub(self.cfg.lateness))
    }

    /// Adds one observation for `key` at event time `time_ms`, with an optional evidence event id,
    /// and returns the key's window as it now stands: the window ending at the key's newest event
    /// time (the event's own time unless it came late). Refused, and counted, when the event is
    /// older than the watermark or the observation does not fit the aggregate.
    pub fn observe(&mut self, key: Key, time_ms: i64, observation: Observation, evidence: Option<&str>) -> Result<Reading<'_>, Refusal> {
        let Some(payload) = self.payload_of(observation) else {
            self.counters.mismatched += 1;
            return Err(Refusal::Mismatch { aggregate: self.cfg.aggregate });
        };
        if let Some(watermark_ms) = self.watermark()
            && time_ms < watermark_ms
        {
            self.counters.late += 1;
            return Err(Refusal::Late { time_ms, watermark_ms });
        }
        let moved = self.advance(time_ms);
        let watermark = self.watermark().unwrap_or(time_ms);
        if moved {
            self.sweep(watermark);
        }
        let evidence = self.accepted_evidence(evidence);
        let entry = Entry { time: time_ms, payload };
        let index = match self.keys.find(key) {
            Some(index) if self.is_closed(index, watermark) => {
                // The old window can no longer grow: report it and start afresh.
                self.close(index);
                self.add_key(key, entry, evidence, watermark)
            }
            Some(index) => {
                self.update_key(index, entry, evidence, watermark);
                index
            }
            None => self.add_key(key, entry, evidence, watermark),
        };
        let events = &self.keys.slot(index).events;
        let newest = events.newest();
        let view = events.view(newest.saturating_sub(self.cfg.span), newest);
        Ok(Reading::new(view, self.cfg.aggregate, &mut self.scratch))
    }

    /// The key's window ending at `time_ms`, without changing it; `None` when the key is unknown or
    /// has no event in that window. Exact for any `time_ms` from the watermark on; earlier windows
    /// may miss events already dropped.
    pub fn read(&self, key: Key, time_ms: i64) -> Option<Reading<'_>> {
        let index = self.keys.find(key)?;
        let view = self.keys.slot(index).events.view(time_ms.saturating_sub(self.cfg.span), time_ms);
        let reading = Reading::new(view, self.cfg.aggregate, &mut Vec::new());
        (reading.count > 0).then_some(reading)
    }

    /// Forgets a key (a correlation resets a group after it fires); returns whether it was there.
    pub fn remove(&mut self, key: Key) -> bool {
        let Some(index) = self.keys.find(key) else { return false };
        let (slot, _) = self.keys.remove(index);
        self.heap_bytes -= slot.events.heap_bytes();
        true
    }

    /// Removes every key whose window has closed (its newest event is at or before
    /// `watermark - span`, so no accepted event can join it) and appends each with its final
    /// reading to `out`, together with those `observe` closed since the last call. Callers that
    /// evaluate conditions known only once a window closes (Sigma `lt`) call it regularly; others
    /// need not, since memory stays bounded without it.
    ///
    /// Costs O(closed keys + keys updated within `lateness` of closing), not O(keys): keys are
    /// visited in update order, and a key updated after one that is still open by more than the
    /// lateness is itself open.
    pub fn expire(&mut self, out: &mut Vec<(Key, ClosedWindow)>) {
        out.append(&mut self.pending);
        self.pending_heap_bytes = 0;
        if self.pending.capacity() > 64 {
            self.pending = Vec::new();
        }
        let Some(watermark) = self.watermark() else { return };
        let closed_until = watermark.saturating_sub(self.cfg.span);
        let open_after = closed_until.saturating_add(self.cfg.lateness);
        let mut cursor = self.keys.oldest();
        while let Some(index) = cursor {
            let newest = self.keys.slot(index).events.newest();
            if newest > open_after {
                break;
            }
            let mut next = self.keys.newer(index);
            if newest <= closed_until {
                let (slot, moved) = self.keys.remove(index);
                if next.is_some() && next == moved {
                    next = Some(index);
                }
                self.heap_bytes -= slot.events.heap_bytes();
                out.push((slot.key, final_reading(&slot.events, &self.cfg, &mut self.scratch)));
            }
            cursor = next;
        }
    }

    /// Counters and sizes. O(1).
    pub fn stats(&self) -> WindowStats {
        let bytes = size_of::<Self>()
            + self.keys.bytes()
            + self.heap_bytes
            + self.pending.capacity() * size_of::<(Key, ClosedWindow)>()
            + self.pending_heap_bytes
            + self.scratch.capacity() * size_of::<u64>();
        WindowStats {
            keys: self.keys.len(),
            evicted: self.counters.evicted,
            late: self.counters.late,
            mismatched: self.counters.mismatched,
            jumps: self.counters.jumps,
            folded: self.counters.folded,
            closed_pending: self.pending.len(),
            closed_dropped: self.counters.closed_dropped,
            evidence_dropped: self.counters.evidence_dropped,
            bytes,
            newest_ms: self.newest_ms,
            watermark_ms: self.watermark(),
        }
    }

    /// The payload an observation is stored as, if it fits the aggregate.
    fn payload_of(&self, observation: Observation) -> Option<u64> {
        match (self.cfg.aggregate, observation) {
            (Aggregate::Count, Observation::Event) => Some(0),
            (Aggregate::Sum | Aggregate::Values, Observation::Value(value)) if value.is_finite() => {
                // -0.0 and 0.0 are one value: one canonical order, whatever the arrival order.
                Some(if value == 0.0 { 0.0f64 } else { value }.to_bits())
            }
            (Aggregate::Distinct, Observation::Distinct(hash)) => Some(hash),
            (Aggregate::Sequence { steps }, Observation::Step(step)) if step < steps => Some(u64::from(step)),
            _ => None,
        }
    }

    /// Moves the newest time to `time_ms` if later; returns whether it moved.
    fn advance(&mut self, time_ms: i64) -> bool {
        match self.newest_ms {
            Some(newest) if newest >= time_ms => false,
            previous => {
                let gap = previous.map_or(0, |newest| time_ms.saturating_sub(newest));
                if gap > self.cfg.span.saturating_add(self.cfg.lateness) {
                    self.counters.jumps += 1;
                }
                self.newest_ms = Some(time_ms);
                true
            }
        }
    }

    fn accepted_evidence<'e>(&mut self, evidence: Option<&'e str>) -> Option<&'e str> {
        let id = evidence.filter(|_| self.cfg.evidence_cap > 0)?;
        if id.len() > MAX_EVIDENCE_ID_BYTES {
            self.counters.evidence_dropped += 1;
            return None;
        }
        Some(id)
    }

    fn is_closed(&self, index: usize, watermark: i64) -> bool {
        self.keys.slot(index).events.newest() <= watermark.saturating_sub(self.cfg.span)
    }

    fn add_key(&mut self, key: Key, entry: Entry, evidence: Option<&str>, watermark: i64) -> usize {
        while self.keys.len() >= self.limits.max_keys {
            let Some(oldest) = self.keys.oldest() else { break };
            // A closed key loses nothing in progress: it is closed (or, with the queue full, dropped), not evicted.
            if self.is_closed(oldest, watermark) {
                self.close(oldest);
            } else {
                self.evict(oldest);
            }
        }
        let events = Events::new(entry, evidence, &self.cfg);
        self.heap_bytes += events.heap_bytes();
        self.keys.push(key, events)
    }

    fn update_key(&mut self, index: usize, entry: Entry, evidence: Option<&str>, watermark: i64) {
        let cfg = self.cfg;
        let events = &mut self.keys.slot_mut(index).events;
        let before = events.heap_bytes();
        // Keep what the key's own window and any window from the watermark on may still need.
        let newest = events.newest().max(entry.time);
        events.prune(watermark.min(newest).saturating_sub(cfg.span), &cfg);
        self.counters.folded += events.add(entry, evidence, &cfg);
        let after = events.heap_bytes();
        self.heap_bytes = self.heap_bytes - before + after;
        self.keys.touch(index);
    }

    /// Removes a closed key, queueing its final reading for `expire`.
    fn close(&mut self, index: usize) {
        let (slot, _) = self.keys.remove(index);
        self.heap_bytes -= slot.events.heap_bytes();
        if self.pending.len() < self.limits.max_keys {
            let closed = final_reading(&slot.events, &self.cfg, &mut self.scratch);
            self.pending_heap_bytes += closed.heap_bytes();
            self.pending.push((slot.key, closed));
        } else {
            self.counters.closed_dropped += 1;
        }
    }

    fn evict(&mut self, index: usize) {
        let (slot, _) = self.keys.remove(index);
        self.heap_bytes -= slot.events.heap_bytes();
        self.counters.evicted += 1;
        let now = Instant::now();
        if self.last_eviction_warning.is_none_or(|last| now.duration_since(last) >= EVICTION_WARNING_EVERY) {
            self.last_eviction_warning = Some(now);
            tracing::warn!(
                evicted = self.counters.evicted,
                max_keys = self.limits.max_keys,
                span_ms = self.cfg.span,
                "windowed state is full: evicting the least recently updated keys"
            );
        }
    }

    /// Closes a few keys whose windows closed, oldest update first, stopping at the first open one.
    fn sweep(&mut self, watermark: i64) {
        for _ in 0..SWEEP_PER_OBSERVE {
            match self.keys.oldest() {
                Some(oldest) if self.is_closed(oldest, watermark) && self.pending.len() < self.limits.max_keys => self.close(oldest),
                _ => break,
            }
        }
    }

    /// Rebuilds the state's bookkeeping after a restore put keys in place.
    pub(super) fn restored(
        cfg: Config,
        limits: WindowLimits,
        keys: KeySet,
        newest_ms: Option<i64>,
        heap_bytes: usize,
        counters: Counters,
    ) -> WindowedState {
        WindowedState {
            cfg,
            limits,
            keys,
            newest_ms,
            pending: Vec::new(),
            pending_heap_bytes: 0,
            heap_bytes,
            counters,
            last_eviction_warning: None,
            scratch: Vec::new(),
        }
    }

    /// Recomputes the heap bytes of every key (tests check the running total against it).
    #[cfg(test)]
    pub(super) fn recount_heap_bytes(&self) -> usize {
        self.keys.in_update_order().map(|slot| slot.events.heap_bytes()).sum()
    }

    /// Keys with their newest event times, least recently updated first (tests).
    #[cfg(test)]
    pub(super) fn keys_in_update_order(&self) -> Vec<(Key, i64)> {
        self.keys.in_update_order().map(|slot| (slot.key, slot.events.newest())).collect()
    }
}

/// The final reading of a key, at its newest event.
fn final_reading(events: &Events, cfg: &Config, scratch: &mut Vec<u64>) -> ClosedWindow {
    let newest = events.newest();
    let reading = Reading::new(events.view(newest.saturating_sub(cfg.span), newest), cfg.aggregate, scratch);
    ClosedWindow::from(&reading)
}
