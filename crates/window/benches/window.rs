//! Windowed state: events/s into a million keys and into a hot set, bytes per key, snapshot size and speed.
//!
//! Run with `cargo bench -p rampart-window --bench window`. Prints one line per figure; plain
//! `Instant` timing, best of a few rounds (no timing asserts).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rampart_window::{Aggregate, Key, Observation, WindowLimits, WindowedState};

const MILLION: usize = 1_000_000;
const ROUNDS: usize = 3;
const HOT_KEYS: usize = 10_000;
const HOT_EVENTS: usize = 2_000_000;

fn limits() -> WindowLimits {
    WindowLimits { max_keys: 1 << 21, lateness_ms: 60_000, max_values_per_key: 1024, evidence_per_key: 0 }
}

/// Resident memory of this process, in bytes, from /proc/self/statm (0 where it cannot be read).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|field| field.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn observation(aggregate: Aggregate, n: usize) -> Observation {
    match aggregate {
        Aggregate::Distinct => Observation::Distinct((n % 50) as u64),
        Aggregate::Sum | Aggregate::Values => Observation::Value((n % 1000) as f64),
        Aggregate::Sequence { steps } => Observation::Step((n % usize::from(steps)) as u8),
        Aggregate::Count => Observation::Event,
    }
}

/// Observes one event for each key, 10 per millisecond, within one one-hour window.
fn fill(keys: &[Key], aggregate: Aggregate) -> (WindowedState, Duration) {
    let mut state = WindowedState::new(3_600_000, aggregate, limits());
    let start = Instant::now();
    for (n, key) in keys.iter().enumerate() {
        let reading = state.observe(*key, (n / 10) as i64, observation(aggregate, n), None);
        black_box(reading.map(|reading| reading.count).unwrap_or(0));
    }
    (state, start.elapsed())
}

fn rate(events: usize, elapsed: Duration) -> String {
    format!("{:.2} M events/s", events as f64 / elapsed.as_secs_f64() / 1e6)
}

fn main() {
    println!("window bench: {} keys, {ROUNDS} rounds, best round shown", MILLION);
    let keys: Vec<Key> = (0..MILLION as u64).map(|n| Key::of([n.to_le_bytes().as_slice()])).collect();

    // Bytes per key, measured on the first fill (fresh heap), then speed over the rounds.
    for aggregate in [Aggregate::Count, Aggregate::Distinct] {
        let rss_before = resident_bytes();
        let (state, first) = fill(&keys, aggregate);
        let rss_after = resident_bytes();
        let stats = state.stats();
        println!(
            "{aggregate:?}: bytes/key {:.1} (stats), {:.1} (RSS delta) over {} keys",
            stats.bytes as f64 / stats.keys as f64,
            rss_after.saturating_sub(rss_before) as f64 / stats.keys as f64,
            stats.keys
        );
        drop(state);
        let mut best = first;
        for _ in 1..ROUNDS {
            let (state, elapsed) = fill(&keys, aggregate);
            best = best.min(elapsed);
            drop(state);
        }
        println!("{aggregate:?}: observe into {MILLION} new keys: {}", rate(MILLION, best));
    }

    // Sigma correlation keeps evidence: one event and one 36-byte id (a UUID) per key.
    let mut with_evidence = WindowedState::new(3_600_000, Aggregate::Count, WindowLimits { evidence_per_key: 10, ..limits() });
    let ids: Vec<String> = (0..100_000).map(|n| format!("0190d5a4-7b3c-7def-8abc-{n:012}")).collect();
    for (n, id) in ids.iter().enumerate() {
        black_box(with_evidence.observe(keys[n], n as i64, Observation::Event, Some(id)).is_ok());
    }
    let stats = with_evidence.stats();
    println!("Count with evidence: bytes/key {:.1} (stats) over {} keys", stats.bytes as f64 / stats.keys as f64, stats.keys);
    drop(with_evidence);

    // A hot set: 10 000 keys, one event a millisecond, 5-minute window: about 30 events per key in it.
    for aggregate in [Aggregate::Count, Aggregate::Distinct, Aggregate::Sum] {
        let mut best = Duration::MAX;
        let mut held = 0;
        for _ in 0..ROUNDS {
            let mut state = WindowedState::new(300_000, aggregate, limits());
            let start = Instant::now();
            for n in 0..HOT_EVENTS {
                let reading = state.observe(keys[n % HOT_KEYS], n as i64, observation(aggregate, n / HOT_KEYS), None);
                black_box(reading.map(|reading| reading.count).unwrap_or(0));
            }
            best = best.min(start.elapsed());
            held = state.read(keys[0], HOT_EVENTS as i64).map_or(0, |reading| reading.count);
        }
        println!("{aggregate:?}: observe into {HOT_KEYS} hot keys ({held} events each in the window): {}", rate(HOT_EVENTS, best));
    }

    // Snapshot and restore of a million Count keys.
    let (state, _) = fill(&keys, Aggregate::Count);
    let mut bytes = Vec::new();
    let mut best_snapshot = Duration::MAX;
    for _ in 0..ROUNDS {
        bytes.clear();
        let start = Instant::now();
        state.snapshot(&mut bytes);
        best_snapshot = best_snapshot.min(start.elapsed());
    }
    let mut best_restore = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let restored = WindowedState::restore(&bytes, limits());
        best_restore = best_restore.min(start.elapsed());
        black_box(restored.map(|restored| restored.stats().keys).unwrap_or(0));
    }
    println!(
        "Count: snapshot of {} keys: {} bytes ({:.1} bytes/key), snapshot {:.0} ms, restore {:.0} ms",
        state.stats().keys,
        bytes.len(),
        bytes.len() as f64 / state.stats().keys as f64,
        best_snapshot.as_secs_f64() * 1e3,
        best_restore.as_secs_f64() * 1e3
    );
}
