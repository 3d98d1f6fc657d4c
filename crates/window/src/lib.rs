//! Rampart's windowed state: counts, sums, distinct counts, values and step sequences over sliding
//! event-time windows, per key.
//!
//! **Owns:** the sliding windows themselves — keys, event-time watermarks and lateness, bounded
//! memory (key eviction, the per-key cap and its folding), closing and expiry, evidence ids, and the
//! binary snapshot format that lets the state survive a restart. One [`WindowedState`] serves one
//! Sigma correlation rule (in `rampart-detect`) and, next, one enrichment baseline or one fraud
//! velocity feature, so those stages share it without depending on each other.
//!
//! **Must not touch:** events, rules, fields, storage, I/O or any other stage. It sees only
//! [`Key`]s (hashes of the group-by values the caller picked), times in milliseconds and
//! [`Observation`]s; what a key or a reading means is the caller's business.
//!
//! **Main types:** [`WindowedState`] (one span, one [`Aggregate`], [`WindowLimits`]), [`Key`],
//! [`Observation`], [`Reading`] (a live window), [`ClosedWindow`] (a final one), [`Refusal`],
//! [`WindowStats`], [`SnapshotError`].
//!
//! **Flow:** the caller hashes its group-by values into a [`Key`] → [`WindowedState::observe`] at
//! the event's time → a [`Reading`] of the key's window (or a [`Refusal`] for a late event) →
//! [`WindowedState::expire`] hands back the [`ClosedWindow`]s no later event can change →
//! [`WindowedState::snapshot`] / [`WindowedState::restore`] at shutdown and start.
//!
//! Events are observed under a [`Key`] (a hash of the group-by values) at their *event* time, so
//! replaying a day of logs gives the same readings as live traffic.
//!
//! # The API
//!
//! ```text
//! Key(pub u128); Key::of(parts) -> Key
//! Aggregate::{Count, Sum, Distinct, Values, Sequence { steps }}
//! WindowLimits { max_keys, lateness_ms, max_values_per_key, evidence_per_key }   (Default: 100_000, 60 s, 1024, 10)
//! Observation::{Event, Value(f64), Distinct(u64), Step(u8)}                      (no lifetime)
//!
//! WindowedState::new(span_ms, aggregate, limits) -> WindowedState
//! observe(&mut, key, time_ms, Observation, evidence: Option<&str>) -> Result<Reading<'_>, Refusal>
//! read(&, key, time_ms) -> Option<Reading<'_>>           (None: unknown key or empty window)
//! remove(&mut, key) -> bool
//! expire(&mut, out: &mut Vec<(Key, ClosedWindow)>)
//! stats(&) -> WindowStats                                 (O(1))
//! snapshot(&, out: &mut Vec<u8>);  restore(bytes, limits) -> Result<WindowedState, SnapshotError>
//! span_ms(&) -> i64; aggregate(&) -> Aggregate; limits(&) -> WindowLimits
//!
//! Reading<'a> { count: u64, sum: f64, distinct: u64, first_ms: i64, last_ms: i64,
//!               evidence: &'a [Box<str>], exact: bool }
//!   percentile(p) -> Option<f64>; all_steps_seen() -> bool; ordered_chain() -> Option<(i64, i64)>
//! ClosedWindow: the same fields, owned, plus the same three methods
//! Refusal::{Late { time_ms, watermark_ms }, Mismatch { aggregate }}
//! WindowStats { keys, evicted, late, mismatched, jumps, folded, closed_pending, closed_dropped,
//!               evidence_dropped, bytes, newest_ms, watermark_ms }
//! SnapshotError::{BadMagic, UnsupportedVersion, Truncated, ChecksumMismatch, Corrupt}
//! ```
//!
//! Changes from the first draft of the API: `Observation` has no lifetime; `Reading` and
//! `ClosedWindow` gained `exact`; `remove` returns whether the key was there; `limits()` was added.
//!
//! ```
//! use rampart_window::{Aggregate, Key, Observation, WindowLimits, WindowedState};
//!
//! // "5 failed logins from one address within 5 minutes".
//! let mut failed_logins = WindowedState::new(5 * 60_000, Aggregate::Count, WindowLimits::default());
//! let address = Key::of([b"203.0.113.7".as_slice()]);
//! for (time_ms, id) in [(0, "e1"), (60_000, "e2"), (120_000, "e3"), (299_999, "e4")] {
//!     failed_logins.observe(address, time_ms, Observation::Event, Some(id)).unwrap();
//! }
//! let reading = failed_logins.observe(address, 300_000, Observation::Event, Some("e5")).unwrap();
//! assert_eq!(reading.count, 4); // the event at 0 has left the window (300 000 - 5 min, 300 000]
//! assert_eq!(reading.evidence.len(), 4);
//!
//! // Survive a restart.
//! let mut bytes = Vec::new();
//! failed_logins.snapshot(&mut bytes);
//! let restored = WindowedState::restore(&bytes, WindowLimits::default()).unwrap();
//! assert_eq!(restored.read(address, 300_000).unwrap().count, 4);
//! ```
//!
//! # Semantics
//!
//! - **Windows.** A key's window at time `t` holds its events in `(t - span, t]`. [`WindowedState::observe`]
//!   returns the window at the key's newest event time, which is the event's own time for in-order
//!   events; [`WindowedState::read`] reads the window at any time from the watermark on.
//! - **Event time and lateness.** The *watermark* is the newest event time seen minus `lateness_ms`.
//!   An event older than the watermark is refused ([`Refusal::Late`], counted); any other event lands
//!   in its place, so a set of events observed in any order that keeps within the lateness leaves
//!   exactly the same state (hence the same readings) as the events in time order. Events at the
//!   same millisecond are ordered by their value, so sums are identical bit for bit.
//! - **Clock jumps.** One event far in the future moves the watermark: older keys close (see
//!   [`WindowedState::expire`]) and later events older than the new watermark are refused as late.
//!   Forward jumps larger than span + lateness are counted in [`WindowStats::jumps`].
//! - **Bounded memory.** At most `max_keys` keys; a new key beyond that evicts the least recently
//!   updated one (counted in [`WindowStats::evicted`], a warning at most once a minute). Each key keeps
//!   at most `max_values_per_key` events (or distinct values for `Distinct`); beyond that, see
//!   [Per-key cap](#per-key-cap). Evidence ids are at most `evidence_per_key` per key and
//!   [`MAX_EVIDENCE_ID_BYTES`] each.
//! - **Closing.** A key closes when no accepted event can fall in its window any more: its newest
//!   time is at or before `watermark - span`. Closed keys are removed with their final reading
//!   ([`ClosedWindow`]), by [`WindowedState::expire`] and, a few at a time, by `observe` itself (those
//!   wait in a bounded queue for the next `expire`). A key whose next event comes more than a span
//!   after its previous one is closed and started afresh if the old window is closed by then; when
//!   the gap is between span and span + lateness, whether the old window is reported on its own
//!   can depend on arrival order (readings do not).
//!
//! # Per-key cap
//!
//! Each event is kept exactly, as (time, value), while the key holds at most `max_values_per_key`
//! of them (the events still needed: those in the window and those a late reading may need).
//! Beyond that the oldest event is *folded* into a coarse bucket (1/64 of span + lateness wide)
//! that keeps only its count, sum and time range, and [`WindowStats::folded`] counts it:
//!
//! - `Count`, `Sum`: a bucket counts (and sums) only when it lies wholly inside the window, so
//!   `count` is exact up to the cap and a lower bound beyond it (a reading at the key's newest time
//!   never shows less than the cap); `exact` is false when a bucket straddles the window's edge.
//! - `Distinct`: the cap is on distinct values. A repeated value replaces its older occurrence (the
//!   old one is folded, so `count` stays a lower bound), so `distinct` at the key's newest time is
//!   exact up to `max_values_per_key` distinct values. Beyond that it **saturates**: the oldest value
//!   is folded and forgotten, and `distinct` becomes a lower bound (never more than the cap;
//!   `exact` is false).
//! - `Values`: percentiles are taken over the newest `max_values_per_key` values.
//! - `Sequence`: steps are taken from the newest `max_values_per_key` events.
//!
//! # Memory
//!
//! A key with one event and no evidence lives inline in a 48-byte slot plus about 5–10 bytes of
//! hash index (see the `window` benchmark for measured figures). More events move to a heap block:
//! 16 bytes per event, 32 per folded bucket. [`WindowStats::bytes`] is an estimate from capacities
//! (allocator overhead is not counted).
//!
//! # Snapshots
//!
//! [`WindowedState::snapshot`] writes a compact, versioned binary form (magic, version, length,
//! span, aggregate, newest time, keys in update order with delta-encoded times, and an xxh3
//! checksum); [`WindowedState::restore`] reads it back under new limits, refusing anything
//! malformed with a [`SnapshotError`], never a panic. Closed windows still queued for `expire` and
//! the counters are not part of a snapshot: call `expire` before `snapshot`.
#![deny(missing_docs)]

mod events;
mod keyset;
mod reading;
mod snapshot;
mod state;
#[cfg(test)]
mod tests;

pub use reading::{ClosedWindow, Reading};
pub use snapshot::SnapshotError;
pub use state::WindowedState;

use xxhash_rust::xxh3::Xxh3Default;

/// Longest evidence id kept, in bytes; longer ids are not stored (counted in [`WindowStats::evidence_dropped`]).
pub const MAX_EVIDENCE_ID_BYTES: usize = 256;

/// Most evidence ids kept per key, whatever [`WindowLimits::evidence_per_key`] says.
pub const MAX_EVIDENCE_PER_KEY: usize = 1024;

/// A group key: a 128-bit hash of the group-by values (order-sensitive, each part length-prefixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub u128);

impl Key {
    /// Hashes the group-by values, in order, into a key. Each part is length-prefixed, so
    /// `["ab", "c"]` and `["a", "bc"]` give different keys.
    pub fn of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Key {
        let mut hasher = Xxh3Default::new();
        for part in parts {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        Key(hasher.digest128())
    }
}

/// What each key keeps about its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// Number of events (Sigma `event_count`, fraud counts).
    Count,
    /// Sum and number of numeric values (`value_sum`, `value_avg`, fraud amount sums).
    Sum,
    /// Distinct values, given as 64-bit hashes (`value_count`, fraud distinct counts).
    Distinct,
    /// The values themselves, for percentiles and the median (`value_percentile`, `value_median`).
    Values,
    /// Times at which each of `steps` steps (`0..steps`) was seen (`temporal`, `temporal_ordered`).
    /// `steps` of 0 is taken as 1.
    Sequence {
        /// How many steps there are.
        steps: u8,
    },
}

/// Bounds on a [`WindowedState`]. Out-of-range values are clamped: at least one key and one value
/// per key, lateness at least 0, at most [`MAX_EVIDENCE_PER_KEY`] evidence ids per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimits {
    /// Most keys held; beyond it the least recently updated key is evicted (counted, logged at most once a minute).
    pub max_keys: usize,
    /// How far behind the newest event time seen an event may be and still count (out-of-order tolerance).
    pub lateness_ms: i64,
    /// Most events (for `Distinct`: distinct values) each key keeps exactly; see the module doc for what happens beyond.
    pub max_values_per_key: usize,
    /// Event ids kept per key as evidence (those with the newest event times); 0 keeps none (fraud features).
    pub evidence_per_key: usize,
}

impl Default for WindowLimits {
    fn default() -> Self {
        WindowLimits { max_keys: 100_000, lateness_ms: 60_000, max_values_per_key: 1024, evidence_per_key: 10 }
    }
}

impl WindowLimits {
    /// The limits with out-of-range values brought into range.
    pub(crate) fn clamped(self) -> WindowLimits {
        WindowLimits {
            // Slots are addressed by u32 and u32::MAX marks "none".
            max_keys: self.max_keys.clamp(1, (u32::MAX - 1) as usize),
            lateness_ms: self.lateness_ms.max(0),
            max_values_per_key: self.max_values_per_key.clamp(1, u32::MAX as usize),
            evidence_per_key: self.evidence_per_key.min(MAX_EVIDENCE_PER_KEY),
        }
    }
}

/// One observation; it must match the state's [`Aggregate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation {
    /// An event, for [`Aggregate::Count`].
    Event,
    /// A finite number, for [`Aggregate::Sum`] and [`Aggregate::Values`].
    Value(f64),
    /// A value's 64-bit hash, for [`Aggregate::Distinct`].
    Distinct(u64),
    /// A step (below `steps`), for [`Aggregate::Sequence`].
    Step(u8),
}

/// Why an observation was not added. Each refusal is counted in [`WindowStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The event is older than the watermark (newest time seen minus the lateness).
    #[error("event at {time_ms} ms is older than the watermark at {watermark_ms} ms")]
    Late {
        /// The event's time.
        time_ms: i64,
        /// The watermark when it arrived.
        watermark_ms: i64,
    },
    /// The observation does not fit the aggregate: another kind, a value that is not finite, or a step out of range.
    #[error("observation does not fit the window's aggregate {aggregate:?}")]
    Mismatch {
        /// The state's aggregate.
        aggregate: Aggregate,
    },
}

/// Counters and sizes of a [`WindowedState`]. Counters start at zero when a state is created or restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowStats {
    /// Keys held.
    pub keys: usize,
    /// Keys evicted, their window still open, because `max_keys` was reached.
    pub evicted: u64,
    /// Events refused as late.
    pub late: u64,
    /// Observations refused because they did not fit the aggregate.
    pub mismatched: u64,
    /// Events that moved the newest time forward by more than span + lateness at once (a clock jump or a quiet spell).
    pub jumps: u64,
    /// Events folded into coarse buckets because a key reached `max_values_per_key`.
    pub folded: u64,
    /// Closed windows waiting for the next [`WindowedState::expire`].
    pub closed_pending: usize,
    /// Closed windows dropped because the queue for `expire` was full (`max_keys` long: `expire` is not being called).
    pub closed_dropped: u64,
    /// Evidence ids not stored because they were longer than [`MAX_EVIDENCE_ID_BYTES`].
    pub evidence_dropped: u64,
    /// Estimated bytes held, from the capacities of the containers (allocator overhead not counted).
    pub bytes: usize,
    /// The newest event time seen.
    pub newest_ms: Option<i64>,
    /// The newest event time seen minus the lateness: older events are refused.
    pub watermark_ms: Option<i64>,
}
