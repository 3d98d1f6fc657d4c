//! Tests of the windowed state: window edges, each aggregate, lateness, caps, expiry and snapshots.

use proptest::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::*;

const MINUTE: i64 = 60_000;

fn limits() -> WindowLimits {
    WindowLimits { max_keys: 1000, lateness_ms: MINUTE, max_values_per_key: 1024, evidence_per_key: 0 }
}

fn key(n: u64) -> Key {
    Key::of([n.to_le_bytes().as_slice()])
}

/// Everything a reading says, comparable.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    count: u64,
    sum_bits: u64,
    distinct: u64,
    first_ms: i64,
    last_ms: i64,
    evidence: Vec<String>,
    exact: bool,
    median_bits: Option<u64>,
    p90_bits: Option<u64>,
    all_steps_seen: bool,
    ordered_chain: Option<(i64, i64)>,
}

fn summary(reading: &Reading<'_>) -> Summary {
    Summary {
        count: reading.count,
        sum_bits: reading.sum.to_bits(),
        distinct: reading.distinct,
        first_ms: reading.first_ms,
        last_ms: reading.last_ms,
        evidence: reading.evidence.iter().map(|id| id.to_string()).collect(),
        exact: reading.exact,
        median_bits: reading.percentile(50.0).map(f64::to_bits),
        p90_bits: reading.percentile(90.0).map(f64::to_bits),
        all_steps_seen: reading.all_steps_seen(),
        ordered_chain: reading.ordered_chain(),
    }
}

fn closed_summary(closed: &ClosedWindow) -> Summary {
    Summary {
        count: closed.count,
        sum_bits: closed.sum.to_bits(),
        distinct: closed.distinct,
        first_ms: closed.first_ms,
        last_ms: closed.last_ms,
        evidence: closed.evidence.iter().map(|id| id.to_string()).collect(),
        exact: closed.exact,
        median_bits: closed.percentile(50.0).map(f64::to_bits),
        p90_bits: closed.percentile(90.0).map(f64::to_bits),
        all_steps_seen: closed.all_steps_seen(),
        ordered_chain: closed.ordered_chain(),
    }
}

fn count_at(state: &WindowedState, key: Key, time_ms: i64) -> u64 {
    state.read(key, time_ms).map_or(0, |reading| reading.count)
}

#[test]
fn key_of_prefixes_each_part_with_its_length() {
    let ab_c = Key::of([b"ab".as_slice(), b"c".as_slice()]);
    let a_bc = Key::of([b"a".as_slice(), b"bc".as_slice()]);
    assert_ne!(ab_c, a_bc);
    assert_eq!(ab_c, Key::of([b"ab".as_slice(), b"c".as_slice()]));
    assert_ne!(Key::of([b"x".as_slice(), b"".as_slice()]), Key::of([b"x".as_slice()]));
}

#[test]
fn count_is_exact_at_the_window_edges() {
    let span = 5 * MINUTE;
    let mut state = WindowedState::new(span, Aggregate::Count, limits());
    let k = key(1);
    assert_eq!(state.observe(k, 0, Observation::Event, None).unwrap().count, 1);
    assert_eq!(state.observe(k, 1000, Observation::Event, None).unwrap().count, 2);
    // Window (t - span, t]: at t = span - 1 the event at 0 still counts ...
    assert_eq!(state.observe(k, span - 1, Observation::Event, None).unwrap().count, 3);
    // ... and at t = span it has left.
    let reading = state.observe(k, span, Observation::Event, None).unwrap();
    assert_eq!((reading.count, reading.first_ms, reading.last_ms), (3, 1000, span));
    assert!(reading.exact);
    assert_eq!(count_at(&state, k, span - 1), 3);
    assert_eq!(count_at(&state, k, span + 999), 3);
    assert_eq!(count_at(&state, k, span + 1000), 2);
    assert_eq!(count_at(&state, k, 2 * span - 1), 1);
    assert_eq!(count_at(&state, k, 2 * span), 0);
    assert!(state.read(k, 2 * span).is_none());
    assert!(state.read(key(2), span).is_none());
}

#[test]
fn count_of_events_at_the_same_millisecond() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Count, limits());
    for expected in 1..=5 {
        assert_eq!(state.observe(key(1), 42, Observation::Event, None).unwrap().count, expected);
    }
}

#[test]
fn sum_reads_sum_and_count_for_the_average() {
    let mut state = WindowedState::new(10_000, Aggregate::Sum, limits());
    let k = key(7);
    state.observe(k, 1_000, Observation::Value(10.5), None).unwrap();
    state.observe(k, 2_000, Observation::Value(-0.5), None).unwrap();
    let reading = state.observe(k, 3_000, Observation::Value(20.0), None).unwrap();
    assert_eq!((reading.count, reading.sum), (3, 30.0));
    assert_eq!(reading.sum / reading.count as f64, 10.0);
    let reading = state.observe(k, 11_500, Observation::Value(1.0), None).unwrap();
    assert_eq!((reading.count, reading.sum, reading.first_ms), (3, 20.5, 2_000));
    assert_eq!(state.read(k, 10_000).unwrap().sum, 30.0);
}

#[test]
fn distinct_counts_values_and_lets_them_leave_the_window() {
    let mut state = WindowedState::new(10_000, Aggregate::Distinct, limits());
    let k = key(3);
    let reading = state.observe(k, 0, Observation::Distinct(100), None).unwrap();
    assert_eq!((reading.count, reading.distinct), (1, 1));
    state.observe(k, 1_000, Observation::Distinct(200), None).unwrap();
    state.observe(k, 2_000, Observation::Distinct(100), None).unwrap();
    let reading = state.observe(k, 3_000, Observation::Distinct(300), None).unwrap();
    assert_eq!((reading.count, reading.distinct), (4, 3));
    // At 11 000, 200 (seen at 1 000) has left; 100 was seen again at 2 000.
    let reading = state.observe(k, 11_000, Observation::Distinct(300), None).unwrap();
    assert_eq!((reading.count, reading.distinct), (3, 2));
    assert_eq!(state.read(k, 12_000).unwrap().distinct, 1);
}

#[test]
fn distinct_of_many_values_is_exact_beyond_the_small_case() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Distinct, limits());
    let mut reading_distinct = 0;
    for n in 0..200u64 {
        reading_distinct = state.observe(key(1), n as i64, Observation::Distinct(n % 70), None).unwrap().distinct;
    }
    assert_eq!(reading_distinct, 70);
}

#[test]
fn distinct_is_exact_up_to_the_cap_in_distinct_values_even_with_more_events() {
    let capped = WindowLimits { max_values_per_key: 8, ..limits() };
    let mut state = WindowedState::new(MINUTE, Aggregate::Distinct, capped);
    let k = key(1);
    // A value seen once, early, then two values repeated far beyond the cap, then a new one.
    state.observe(k, 0, Observation::Distinct(1), None).unwrap();
    for t in 1..100 {
        state.observe(k, t, Observation::Distinct(2 + (t as u64 % 2)), None).unwrap();
    }
    let reading = state.observe(k, 100, Observation::Distinct(4), None).unwrap();
    assert_eq!(reading.distinct, 4);
    assert!(reading.count >= 8 && reading.count <= 101, "count {} is a lower bound", reading.count);
    assert!(state.stats().folded > 0);
}

#[test]
fn distinct_saturates_at_the_cap_as_a_documented_lower_bound() {
    let capped = WindowLimits { max_values_per_key: 16, ..limits() };
    let mut state = WindowedState::new(MINUTE, Aggregate::Distinct, capped);
    let k = key(1);
    let mut last = None;
    for n in 0..100u64 {
        let reading = state.observe(k, n as i64, Observation::Distinct(n), None).unwrap();
        last = Some((reading.distinct, reading.exact));
    }
    // 100 distinct values in the window; the key keeps the newest 16.
    assert_eq!(last, Some((16, false)));
    assert_eq!(state.stats().folded, 84);
    // Below the cap, the same key is exact.
    let mut small = WindowedState::new(MINUTE, Aggregate::Distinct, capped);
    for n in 0..16u64 {
        last = Some(small.observe(k, n as i64, Observation::Distinct(n), None).map(|r| (r.distinct, r.exact)).unwrap());
    }
    assert_eq!(last, Some((16, true)));
}

#[test]
fn count_beyond_the_cap_is_a_lower_bound_never_below_the_cap() {
    let capped = WindowLimits { max_values_per_key: 10, ..limits() };
    let span = 64_000;
    let mut state = WindowedState::new(span, Aggregate::Count, capped);
    let k = key(1);
    for t in 0..1000i64 {
        let reading = state.observe(k, t * 200, Observation::Event, None).unwrap();
        let truth = (t + 1).min(span / 200) as u64;
        assert!(reading.count <= truth, "at {t}: {} > {truth}", reading.count);
        assert!(reading.count >= truth.min(10), "at {t}: {} < min({truth}, 10)", reading.count);
        if reading.exact {
            assert_eq!(reading.count, truth, "at {t}");
        }
        if t < 10 {
            assert_eq!((reading.count, reading.exact), (truth, true));
        }
    }
    let stats = state.stats();
    assert!(stats.folded > 0);
    assert_eq!(stats.keys, 1);
}

#[test]
fn values_give_nearest_rank_percentiles() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Values, limits());
    let k = key(1);
    for (t, value) in [5.0, 1.0, 4.0, 2.0, 3.0].into_iter().enumerate() {
        state.observe(k, t as i64, Observation::Value(value), None).unwrap();
    }
    let reading = state.read(k, 10).unwrap();
    assert_eq!(reading.percentile(50.0), Some(3.0));
    assert_eq!(reading.percentile(0.0), Some(1.0));
    assert_eq!(reading.percentile(20.0), Some(1.0));
    assert_eq!(reading.percentile(21.0), Some(2.0));
    assert_eq!(reading.percentile(100.0), Some(5.0));
    assert_eq!(reading.percentile(f64::NAN), None);
    assert_eq!((reading.count, reading.sum), (5, 15.0));
    // Values leave the window like events.
    assert_eq!(state.read(k, MINUTE + 1).unwrap().percentile(50.0), Some(3.0));
    assert_eq!(state.read(k, MINUTE + 2).unwrap().percentile(50.0), Some(2.0));
}

#[test]
fn sequence_sees_all_steps_and_ordered_chains_by_event_time() {
    let steps = Aggregate::Sequence { steps: 3 };
    let mut state = WindowedState::new(10_000, steps, limits());
    let k = key(1);
    // Steps arrive as 2, 0, 1 but happened as 0 (t=1 000), 1 (t=2 000), 2 (t=3 000): late arrivals.
    let reading = state.observe(k, 3_000, Observation::Step(2), None).unwrap();
    assert!(!reading.all_steps_seen());
    state.observe(k, 1_000, Observation::Step(0), None).unwrap();
    let reading = state.observe(k, 2_000, Observation::Step(1), None).unwrap();
    assert!(reading.all_steps_seen());
    assert_eq!(reading.ordered_chain(), Some((1_000, 3_000)));

    // Arrived in order but happened out of order: all seen, no ordered chain.
    let mut state = WindowedState::new(10_000, steps, limits());
    state.observe(k, 1_000, Observation::Step(1), None).unwrap();
    state.observe(k, 2_000, Observation::Step(0), None).unwrap();
    let reading = state.observe(k, 3_000, Observation::Step(2), None).unwrap();
    assert!(reading.all_steps_seen());
    assert_eq!(reading.ordered_chain(), None);
    // A later step 1 completes a chain starting at 2 000.
    let reading = state.observe(k, 4_000, Observation::Step(1), None).unwrap();
    assert_eq!(reading.ordered_chain(), None);
    let reading = state.observe(k, 5_000, Observation::Step(2), None).unwrap();
    assert_eq!(reading.ordered_chain(), Some((2_000, 5_000)));

    // The chain must lie within one window.
    let mut state = WindowedState::new(10_000, steps, limits());
    state.observe(k, 0, Observation::Step(0), None).unwrap();
    state.observe(k, 5_000, Observation::Step(1), None).unwrap();
    let reading = state.observe(k, 10_000, Observation::Step(2), None).unwrap();
    assert!(!reading.all_steps_seen());
    assert_eq!(reading.ordered_chain(), None);
    let reading = state.observe(k, 10_001, Observation::Step(0), None).unwrap();
    assert!(reading.all_steps_seen());
    assert_eq!(reading.ordered_chain(), None);
    assert_eq!(state.read(k, 9_999).unwrap().ordered_chain(), None);
}

#[test]
fn sequence_steps_at_the_same_millisecond_count_as_in_order() {
    let mut state = WindowedState::new(10_000, Aggregate::Sequence { steps: 2 }, limits());
    state.observe(key(1), 500, Observation::Step(1), None).unwrap();
    let reading = state.observe(key(1), 500, Observation::Step(0), None).unwrap();
    assert_eq!(reading.ordered_chain(), Some((500, 500)));
}

#[test]
fn sequence_of_one_step_and_zero_steps() {
    let mut state = WindowedState::new(10_000, Aggregate::Sequence { steps: 0 }, limits());
    assert_eq!(state.aggregate(), Aggregate::Sequence { steps: 1 });
    let reading = state.observe(key(1), 7, Observation::Step(0), None).unwrap();
    assert!(reading.all_steps_seen());
    assert_eq!(reading.ordered_chain(), Some((7, 7)));
    assert_eq!(state.observe(key(1), 8, Observation::Step(1), None).unwrap_err(), Refusal::Mismatch { aggregate: state.aggregate() });
}

#[test]
fn observations_that_do_not_fit_are_refused_and_counted() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Sum, limits());
    let refusal = Refusal::Mismatch { aggregate: Aggregate::Sum };
    assert_eq!(state.observe(key(1), 0, Observation::Event, None).unwrap_err(), refusal);
    assert_eq!(state.observe(key(1), 0, Observation::Value(f64::NAN), None).unwrap_err(), refusal);
    assert_eq!(state.observe(key(1), 0, Observation::Value(f64::INFINITY), None).unwrap_err(), refusal);
    assert_eq!(state.observe(key(1), 0, Observation::Distinct(1), None).unwrap_err(), refusal);
    let stats = state.stats();
    assert_eq!((stats.mismatched, stats.keys, stats.newest_ms), (4, 0, None));
}

#[test]
fn late_events_are_refused_and_counted_and_those_within_lateness_land_in_place() {
    let mut state = WindowedState::new(10_000, Aggregate::Count, WindowLimits { lateness_ms: 1_000, ..limits() });
    let k = key(1);
    state.observe(k, 100_000, Observation::Event, None).unwrap();
    assert_eq!(state.observe(k, 98_999, Observation::Event, None).unwrap_err(), Refusal::Late { time_ms: 98_999, watermark_ms: 99_000 });
    // Within lateness: the reading is still the window at the key's newest event.
    let reading = state.observe(k, 99_000, Observation::Event, None).unwrap();
    assert_eq!((reading.count, reading.first_ms, reading.last_ms), (2, 99_000, 100_000));
    assert_eq!(count_at(&state, k, 99_000), 1);
    let stats = state.stats();
    assert_eq!((stats.late, stats.watermark_ms, stats.newest_ms), (1, Some(99_000), Some(100_000)));
}

#[test]
fn a_late_event_older_than_the_keys_window_is_kept_for_reads_at_its_time() {
    let mut state = WindowedState::new(1_000, Aggregate::Count, WindowLimits { lateness_ms: 5_000, ..limits() });
    let k = key(1);
    state.observe(key(2), 10_000, Observation::Event, None).unwrap();
    state.observe(k, 9_000, Observation::Event, None).unwrap();
    let reading = state.observe(k, 6_000, Observation::Event, None).unwrap();
    assert_eq!((reading.count, reading.last_ms), (1, 9_000));
    assert_eq!(count_at(&state, k, 6_500), 1);
    assert_eq!(count_at(&state, k, 9_000), 1);
}

#[test]
fn a_clock_jump_forward_closes_old_keys_and_makes_older_events_late() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Count, limits());
    for n in 0..10 {
        state.observe(key(n), 1_000 + n as i64, Observation::Event, Some("e")).unwrap();
    }
    state.observe(key(99), 1_000_000_000_000, Observation::Event, None).unwrap();
    let stats = state.stats();
    assert_eq!(stats.jumps, 1);
    let mut closed = Vec::new();
    state.expire(&mut closed);
    let mut keys: Vec<Key> = closed.iter().map(|(key, _)| *key).collect();
    keys.sort();
    let mut expected: Vec<Key> = (0..10).map(key).collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert!(closed.iter().all(|(_, window)| window.count == 1));
    assert_eq!(state.stats().keys, 1);
    assert!(matches!(state.observe(key(1), 2_000, Observation::Event, None), Err(Refusal::Late { .. })));
    assert_eq!(state.stats().late, 1);
    // Extreme times neither panic nor overflow.
    state.observe(key(5), i64::MAX, Observation::Event, None).unwrap();
    assert_eq!(state.read(key(5), i64::MAX).unwrap().count, 1);
    assert!(state.observe(key(6), i64::MIN, Observation::Event, None).is_err());
    let mut fresh = WindowedState::new(i64::MAX, Aggregate::Count, WindowLimits { lateness_ms: i64::MAX, ..limits() });
    fresh.observe(key(1), i64::MIN, Observation::Event, None).unwrap();
    fresh.observe(key(1), i64::MAX, Observation::Event, None).unwrap();
    assert_eq!(fresh.read(key(1), i64::MAX).unwrap().count, 1);
    fresh.expire(&mut closed);
}

#[test]
fn expire_reports_final_readings_once_no_event_can_join() {
    let span = 10_000;
    let mut state = WindowedState::new(span, Aggregate::Count, WindowLimits { lateness_ms: 1_000, ..limits() });
    state.observe(key(1), 0, Observation::Event, Some("a")).unwrap();
    state.observe(key(1), 5_000, Observation::Event, Some("b")).unwrap();
    state.observe(key(2), 8_000, Observation::Event, None).unwrap();
    let mut closed = Vec::new();
    // Watermark 15 000 - 1 000 = 14 000: key 1 (newest 5 000) closes when watermark - span >= 5 000.
    state.observe(key(3), 15_000, Observation::Event, None).unwrap();
    state.expire(&mut closed);
    assert!(closed.is_empty());
    state.observe(key(3), 16_000, Observation::Event, None).unwrap();
    state.expire(&mut closed);
    assert_eq!(closed.len(), 1);
    let (closed_key, window) = &closed[0];
    assert_eq!(*closed_key, key(1));
    assert_eq!((window.count, window.first_ms, window.last_ms, window.exact), (2, 0, 5_000, true));
    assert!(window.evidence.is_empty(), "evidence_per_key is 0");
    assert_eq!(state.stats().keys, 2);
    // Calling again reports nothing new.
    closed.clear();
    state.expire(&mut closed);
    assert!(closed.is_empty());
}

#[test]
fn observe_closes_a_keys_old_window_before_starting_a_new_one() {
    let mut state = WindowedState::new(1_000, Aggregate::Count, WindowLimits { lateness_ms: 0, ..limits() });
    state.observe(key(1), 0, Observation::Event, None).unwrap();
    state.observe(key(1), 10, Observation::Event, None).unwrap();
    let reading = state.observe(key(1), 5_000, Observation::Event, None).unwrap();
    assert_eq!(reading.count, 1);
    assert_eq!(state.stats().closed_pending, 1);
    let mut closed = Vec::new();
    state.expire(&mut closed);
    assert_eq!(closed.len(), 1);
    assert_eq!((closed[0].1.count, closed[0].1.last_ms), (2, 10));
}

#[test]
fn remove_forgets_a_key() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Count, limits());
    state.observe(key(1), 0, Observation::Event, None).unwrap();
    state.observe(key(1), 1, Observation::Event, Some("x")).unwrap();
    assert!(state.remove(key(1)));
    assert!(!state.remove(key(1)));
    assert!(state.read(key(1), 1).is_none());
    assert_eq!(state.observe(key(1), 2, Observation::Event, None).unwrap().count, 1);
    assert_eq!(state.heap_bytes, state.recount_heap_bytes());
}

#[test]
fn a_flood_of_distinct_keys_stays_at_the_cap_with_evictions_counted() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Count, WindowLimits { max_keys: 1000, ..limits() });
    // Key 0 is kept alive by updates; the rest of the flood evicts the least recently updated.
    let mut bytes_at_cap = 0;
    for n in 1..=20_000u64 {
        state.observe(key(n), 1_000, Observation::Event, None).unwrap();
        if n % 100 == 0 {
            state.observe(key(0), 1_000, Observation::Event, None).unwrap();
        }
        // Key 0's own events stop growing its storage (256 slots) after 129 of them.
        if n == 15_000 {
            bytes_at_cap = state.stats().bytes;
        }
        assert!(state.stats().keys <= 1000);
    }
    let stats = state.stats();
    assert_eq!(stats.keys, 1000);
    assert_eq!(stats.evicted, 20_001 - 1000);
    assert_eq!(stats.bytes, bytes_at_cap);
    assert_eq!(count_at(&state, key(0), 1_000), 200);
    assert_eq!(count_at(&state, key(20_000), 1_000), 1);
    assert_eq!(count_at(&state, key(1), 1_000), 0);
    assert_eq!(state.heap_bytes, state.recount_heap_bytes());
}

#[test]
fn eviction_takes_the_least_recently_updated_key() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Count, WindowLimits { max_keys: 3, ..limits() });
    for n in 1..=3 {
        state.observe(key(n), 0, Observation::Event, None).unwrap();
    }
    state.observe(key(1), 1, Observation::Event, None).unwrap();
    state.observe(key(4), 2, Observation::Event, None).unwrap();
    let held: Vec<Key> = state.keys_in_update_order().into_iter().map(|(key, _)| key).collect();
    assert_eq!(held, vec![key(3), key(1), key(4)]);
    assert_eq!(state.stats().evicted, 1);
}

#[test]
fn evidence_keeps_the_newest_ids_of_events_in_the_window() {
    let with_evidence = WindowLimits { evidence_per_key: 2, ..limits() };
    let mut state = WindowedState::new(10_000, Aggregate::Count, with_evidence);
    let k = key(1);
    let reading = state.observe(k, 1_000, Observation::Event, Some("e1")).unwrap();
    assert_eq!(reading.evidence, &["e1".into()]);
    state.observe(k, 3_000, Observation::Event, Some("e3")).unwrap();
    // A late event older than both kept ids is not kept: the newest two are.
    state.observe(k, 500, Observation::Event, Some("e0")).unwrap();
    let reading = state.observe(k, 2_000, Observation::Event, Some("e2")).unwrap();
    assert_eq!(reading.evidence, &["e2".into(), "e3".into()]);
    assert_eq!(reading.count, 4);
    // Only ids of events in the window are read.
    assert_eq!(state.read(k, 2_500).unwrap().evidence, &["e2".into()]);
    let long = "x".repeat(MAX_EVIDENCE_ID_BYTES + 1);
    let reading = state.observe(k, 4_000, Observation::Event, Some(&long)).unwrap();
    assert_eq!(reading.evidence, &["e2".into(), "e3".into()]);
    assert_eq!(state.stats().evidence_dropped, 1);
    assert_eq!(state.heap_bytes, state.recount_heap_bytes());
}

#[test]
fn limits_out_of_range_are_clamped() {
    let silly = WindowLimits { max_keys: 0, lateness_ms: -5, max_values_per_key: 0, evidence_per_key: usize::MAX };
    let mut state = WindowedState::new(-3, Aggregate::Count, silly);
    assert_eq!(state.span_ms(), 1);
    assert_eq!(state.limits(), WindowLimits { max_keys: 1, lateness_ms: 0, max_values_per_key: 1, evidence_per_key: MAX_EVIDENCE_PER_KEY });
    state.observe(key(1), 0, Observation::Event, None).unwrap();
    state.observe(key(1), 0, Observation::Event, None).unwrap();
    let reading = state.observe(key(2), 0, Observation::Event, None).unwrap();
    assert_eq!(reading.count, 1);
    assert_eq!(state.stats().keys, 1);
}

#[test]
fn stats_bytes_are_small_per_count_key() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Count, WindowLimits { max_keys: 1 << 20, ..limits() });
    for n in 0..100_000u64 {
        state.observe(key(n), n as i64 / 1000, Observation::Event, None).unwrap();
    }
    let per_key = state.stats().bytes / 100_000;
    assert!(per_key < 100, "{per_key} bytes per key");
}

/// A mixed workload for snapshot tests: every feature of a key's storage in use.
fn busy_state(aggregate: Aggregate) -> WindowedState {
    let limits = WindowLimits { max_keys: 500, lateness_ms: 2_000, max_values_per_key: 12, evidence_per_key: 3 };
    let mut state = WindowedState::new(10_000, aggregate, limits);
    for n in 0..3_000u64 {
        let time = (n as i64) * 7 - (n % 5) as i64 * 300;
        let observation = match aggregate {
            Aggregate::Count => Observation::Event,
            Aggregate::Sum | Aggregate::Values => Observation::Value((n % 17) as f64 * 1.25 - 3.0),
            Aggregate::Distinct => Observation::Distinct(n % 23),
            Aggregate::Sequence { steps } => Observation::Step((n % u64::from(steps)) as u8),
        };
        let id = format!("event-{n}");
        let _ = state.observe(key(n % 600 % (1 + n % 40)), time, observation, (n % 3 == 0).then_some(id.as_str()));
    }
    state
}

const AGGREGATES: [Aggregate; 5] =
    [Aggregate::Count, Aggregate::Sum, Aggregate::Distinct, Aggregate::Values, Aggregate::Sequence { steps: 3 }];

fn all_readings(state: &WindowedState, times: &[i64]) -> Vec<(Key, i64, Option<Summary>)> {
    let mut readings = Vec::new();
    for (key, _) in state.keys_in_update_order() {
        for &time in times {
            readings.push((key, time, state.read(key, time).as_ref().map(summary)));
        }
    }
    readings
}

#[test]
fn snapshot_then_restore_gives_the_same_readings_and_order() {
    for aggregate in AGGREGATES {
        let state = busy_state(aggregate);
        assert!(state.stats().folded > 0, "{aggregate:?}: the workload should reach the cap");
        let mut bytes = Vec::new();
        state.snapshot(&mut bytes);
        let restored = WindowedState::restore(&bytes, state.limits()).unwrap();
        assert_eq!((restored.span_ms(), restored.aggregate()), (state.span_ms(), state.aggregate()));
        assert_eq!(restored.keys_in_update_order(), state.keys_in_update_order());
        let newest = state.stats().newest_ms.unwrap();
        let times: Vec<i64> = (0..8).map(|step| newest - 2_000 + step * 1_500).collect();
        assert_eq!(all_readings(&restored, &times), all_readings(&state, &times), "{aggregate:?}");
        let (before, after) = (state.stats(), restored.stats());
        assert_eq!((after.keys, after.newest_ms, after.watermark_ms), (before.keys, before.newest_ms, before.watermark_ms));
        assert_eq!(restored.heap_bytes, restored.recount_heap_bytes());
        // Restoring loses nothing the format holds.
        let mut bytes_again = Vec::new();
        restored.snapshot(&mut bytes_again);
        assert_eq!(bytes_again, bytes);
    }
}

#[test]
fn restore_under_smaller_limits_drops_the_oldest_keys_and_folds() {
    let state = busy_state(Aggregate::Count);
    let mut bytes = Vec::new();
    state.snapshot(&mut bytes);
    let keys = state.stats().keys;
    let small = WindowLimits { max_keys: 5, lateness_ms: 2_000, max_values_per_key: 2, evidence_per_key: 1 };
    let restored = WindowedState::restore(&bytes, small).unwrap();
    let stats = restored.stats();
    assert_eq!((stats.keys, stats.evicted), (5, keys as u64 - 5));
    let kept: Vec<(Key, i64)> = state.keys_in_update_order().split_off(keys - 5);
    assert_eq!(restored.keys_in_update_order(), kept);
    assert_eq!(restored.heap_bytes, restored.recount_heap_bytes());
    let newest = stats.newest_ms.unwrap();
    for (key, _) in kept {
        if let Some(reading) = restored.read(key, newest) {
            assert!(reading.evidence.len() <= 1);
            assert!(reading.count <= state.read(key, newest).unwrap().count);
        }
    }
}

#[test]
fn restore_of_an_empty_state() {
    let state = WindowedState::new(MINUTE, Aggregate::Values, limits());
    let mut bytes = Vec::new();
    state.snapshot(&mut bytes);
    let restored = WindowedState::restore(&bytes, limits()).unwrap();
    assert_eq!((restored.stats().keys, restored.stats().newest_ms, restored.aggregate()), (0, None, Aggregate::Values));
}

#[test]
fn truncated_snapshots_are_errors() {
    let mut bytes = Vec::new();
    busy_state(Aggregate::Sum).snapshot(&mut bytes);
    for len in 0..bytes.len() {
        let error = WindowedState::restore(&bytes[..len], limits()).unwrap_err();
        assert!(matches!(error, SnapshotError::Truncated { found, .. } if found == len), "{len}: {error:?}");
    }
}

#[test]
fn corrupted_snapshots_are_errors() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Sequence { steps: 4 }, WindowLimits { evidence_per_key: 2, ..limits() });
    for n in 0..20u64 {
        state.observe(key(n % 4), n as i64 * 10, Observation::Step((n % 4) as u8), Some("id")).unwrap();
    }
    let mut bytes = Vec::new();
    state.snapshot(&mut bytes);
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[at] ^= flip;
            assert!(WindowedState::restore(&bad, limits()).is_err(), "flip {flip:#x} at {at}");
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(WindowedState::restore(&longer, limits()), Err(SnapshotError::Corrupt { .. })));
    let mut wrong_magic = bytes.clone();
    wrong_magic[0] = b'X';
    assert_eq!(WindowedState::restore(&wrong_magic, limits()).unwrap_err(), SnapshotError::BadMagic);
    let mut future = bytes.clone();
    future[4] = 2;
    assert_eq!(WindowedState::restore(&future, limits()).unwrap_err(), SnapshotError::UnsupportedVersion { found: 2, supported: 1 });
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(WindowedState::restore(&flipped, limits()).unwrap_err(), SnapshotError::ChecksumMismatch);
}

/// Replaces the checksum so that corrupt contents reach the parser.
fn reseal(bytes: &mut [u8]) {
    let body = bytes.len() - 8;
    let checksum = xxh3_64(&bytes[..body]);
    bytes[body..].copy_from_slice(&checksum.to_le_bytes());
}

#[test]
fn corrupt_contents_under_a_valid_checksum_are_typed_errors() {
    let mut state = WindowedState::new(MINUTE, Aggregate::Sequence { steps: 2 }, limits());
    state.observe(key(1), 100, Observation::Step(1), None).unwrap();
    state.observe(key(1), 50, Observation::Step(0), None).unwrap();
    let mut bytes = Vec::new();
    state.snapshot(&mut bytes);
    // Header 32 bytes, key count 1 byte, key 16 bytes, entry header 1 byte, then (delta, step) pairs.
    let first_step = 32 + 1 + 16 + 1 + 1;
    let mut bad_step = bytes.clone();
    bad_step[first_step] = 9;
    reseal(&mut bad_step);
    assert_eq!(
        WindowedState::restore(&bad_step, limits()).unwrap_err(),
        SnapshotError::Corrupt { offset: first_step + 1, what: "step out of range" }
    );
    let mut bad_aggregate = bytes.clone();
    bad_aggregate[13] = 9;
    reseal(&mut bad_aggregate);
    assert!(matches!(WindowedState::restore(&bad_aggregate, limits()), Err(SnapshotError::Corrupt { what: "unknown aggregate", .. })));
    let mut zero_span = bytes.clone();
    zero_span[15..23].copy_from_slice(&0i64.to_le_bytes());
    reseal(&mut zero_span);
    assert!(matches!(WindowedState::restore(&zero_span, limits()), Err(SnapshotError::Corrupt { what: "span is not positive", .. })));
    // Every single-byte change, resealed, is either an error or a valid state: never a panic.
    for at in 13..bytes.len() - 8 {
        for value in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut changed = bytes.clone();
            changed[at] = value;
            reseal(&mut changed);
            if let Ok(restored) = WindowedState::restore(&changed, limits()) {
                let _ = restored.stats();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random bytes inside a valid frame never panic the parser.
    #[test]
    fn restore_never_panics_on_garbage(tail in proptest::collection::vec(any::<u8>(), 0..200), tag in 0u8..6, steps in 0u8..4) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RWIN");
        bytes.push(1);
        let total = (4 + 1 + 8 + 2 + 8 + 1 + 8 + tail.len() + 8) as u64;
        bytes.extend_from_slice(&total.to_le_bytes());
        bytes.extend_from_slice(&[tag, steps]);
        bytes.extend_from_slice(&1000i64.to_le_bytes());
        bytes.push(1);
        bytes.extend_from_slice(&5000i64.to_le_bytes());
        bytes.extend_from_slice(&tail);
        bytes.extend_from_slice(&[0; 8]);
        reseal(&mut bytes);
        let _ = WindowedState::restore(&bytes, limits());
    }

    /// Events observed in any order that keeps within the lateness leave the same readings as in
    /// time order, for every aggregate.
    #[test]
    fn out_of_order_within_lateness_reads_like_in_order(
        events in proptest::collection::vec((0u64..6, 0i64..30_000, 0u64..8, 0i64..=2_000), 1..120),
        aggregate_index in 0usize..5,
    ) {
        let aggregate = AGGREGATES[aggregate_index];
        let limits = WindowLimits { max_keys: 100, lateness_ms: 2_000, max_values_per_key: 1024, evidence_per_key: 3 };
        let span = 5_000;
        let observation = |value: u64| match aggregate {
            Aggregate::Count => Observation::Event,
            Aggregate::Sum | Aggregate::Values => Observation::Value(value as f64 * 0.1 - 0.3),
            Aggregate::Distinct => Observation::Distinct(value),
            Aggregate::Sequence { steps } => Observation::Step((value % u64::from(steps)) as u8),
        };
        let ids: Vec<String> = (0..events.len()).map(|n| format!("e{n}")).collect();
        let run = |order: &[usize]| {
            let mut state = WindowedState::new(span, aggregate, limits);
            let mut closed = Vec::new();
            for &n in order {
                let (k, time, value, _) = events[n];
                state.observe(key(k), time, observation(value), Some(ids[n].as_str())).unwrap();
                if n % 7 == 0 {
                    state.expire(&mut closed);
                }
            }
            state
        };
        let mut in_order: Vec<usize> = (0..events.len()).collect();
        in_order.sort_by_key(|&n| events[n].1);
        // Arrival order: time plus a delay of at most the lateness, so every event is accepted.
        let mut shuffled: Vec<usize> = (0..events.len()).collect();
        shuffled.sort_by_key(|&n| (events[n].1 + events[n].3, n));
        let (a, b) = (run(&in_order), run(&shuffled));
        prop_assert_eq!(a.stats().late, 0);
        prop_assert_eq!(b.stats().late, 0);
        let watermark = a.stats().watermark_ms.unwrap();
        prop_assert_eq!(Some(watermark), b.stats().watermark_ms);
        for k in 0..6 {
            for time in (watermark..watermark + 2 * span + 2_000).step_by(250) {
                let left = a.read(key(k), time).as_ref().map(summary);
                let right = b.read(key(k), time).as_ref().map(summary);
                prop_assert_eq!(left, right, "key {} at {}", k, time);
            }
        }
        prop_assert_eq!(a.heap_bytes, a.recount_heap_bytes());
        prop_assert_eq!(b.heap_bytes, b.recount_heap_bytes());
    }

    /// After `expire`, no key that has closed remains, and memory accounting stays exact.
    #[test]
    fn expire_leaves_no_closed_key(
        events in proptest::collection::vec((0u64..50, 0i64..100_000, 0i64..=3_000), 1..300),
        cap in 1usize..6,
    ) {
        let limits = WindowLimits { max_keys: 30, lateness_ms: 3_000, max_values_per_key: cap, evidence_per_key: 2 };
        let mut state = WindowedState::new(4_000, Aggregate::Distinct, limits);
        let mut arrival: Vec<(i64, i64, u64)> = events.iter().map(|&(k, time, delay)| (time + delay, time, k)).collect();
        arrival.sort();
        let mut closed = Vec::new();
        for (n, &(_, time, k)) in arrival.iter().enumerate() {
            let reading = state.observe(key(k), time, Observation::Distinct(n as u64 % 4), Some("id"));
            if let Ok(reading) = reading {
                prop_assert!(reading.count >= 1 && reading.distinct >= 1);
                prop_assert!(reading.distinct <= cap as u64);
            }
            if n % 10 == 0 {
                state.expire(&mut closed);
                let closed_until = state.stats().watermark_ms.unwrap() - 4_000;
                for (k, newest) in state.keys_in_update_order() {
                    prop_assert!(newest > closed_until, "{:?} newest {} closed at {}", k, newest, closed_until);
                }
            }
            prop_assert!(state.stats().keys <= 30);
        }
        prop_assert_eq!(state.heap_bytes, state.recount_heap_bytes());
        for (_, window) in &closed {
            prop_assert!(window.count >= 1 && window.first_ms <= window.last_ms);
        }
    }
}

#[test]
fn closed_windows_keep_percentiles_and_sequences() {
    let mut state = WindowedState::new(1_000, Aggregate::Values, WindowLimits { lateness_ms: 0, ..limits() });
    for (t, value) in [3.0, 1.0, 2.0].into_iter().enumerate() {
        state.observe(key(1), t as i64, Observation::Value(value), None).unwrap();
    }
    let expected = summary(&state.read(key(1), 2).unwrap());
    state.observe(key(2), 5_000, Observation::Value(0.0), None).unwrap();
    let mut closed = Vec::new();
    state.expire(&mut closed);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed_summary(&closed[0].1), expected);
    assert_eq!(closed[0].1.percentile(50.0), Some(2.0));

    let mut state = WindowedState::new(1_000, Aggregate::Sequence { steps: 2 }, WindowLimits { lateness_ms: 0, ..limits() });
    state.observe(key(1), 0, Observation::Step(0), None).unwrap();
    state.observe(key(1), 1, Observation::Step(1), None).unwrap();
    state.observe(key(2), 5_000, Observation::Step(0), None).unwrap();
    closed.clear();
    state.expire(&mut closed);
    assert!(closed[0].1.all_steps_seen());
    assert_eq!(closed[0].1.ordered_chain(), Some((0, 1)));
}

#[test]
fn the_state_can_move_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<WindowedState>();
    shareable::<ClosedWindow>();
}

#[test]
fn observe_sweeps_closed_keys_a_few_at_a_time() {
    let mut state = WindowedState::new(1_000, Aggregate::Count, WindowLimits { lateness_ms: 0, ..limits() });
    for n in 0..10 {
        state.observe(key(n), 0, Observation::Event, None).unwrap();
    }
    for t in 1..=5 {
        state.observe(key(100), 10_000 + t, Observation::Event, None).unwrap();
        assert_eq!(state.stats().closed_pending, 2 * t as usize);
    }
    assert_eq!(state.stats().keys, 1);
    let mut closed = Vec::new();
    state.expire(&mut closed);
    assert_eq!(closed.len(), 10);
    assert_eq!(state.stats().closed_pending, 0);
}

#[test]
fn memory_stays_bounded_when_expire_is_never_called() {
    let max_keys = 4;
    let mut state = WindowedState::new(1_000, Aggregate::Count, WindowLimits { max_keys, lateness_ms: 0, ..limits() });
    let mut peak_bytes = 0;
    for n in 0..1_000u64 {
        state.observe(key(n), n as i64 * 500, Observation::Event, None).unwrap();
        let stats = state.stats();
        assert!(stats.keys <= max_keys && stats.closed_pending <= max_keys);
        if n == 100 {
            peak_bytes = stats.bytes;
        }
        if n > 100 {
            assert!(stats.bytes <= peak_bytes, "{} > {peak_bytes}", stats.bytes);
        }
    }
    let stats = state.stats();
    let accounted = stats.keys as u64 + stats.closed_pending as u64 + stats.evicted + stats.closed_dropped;
    assert_eq!(accounted, 1_000);
    assert!(stats.closed_dropped > 0);
}
