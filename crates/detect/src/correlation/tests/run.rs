//! Running correlations over hand-made events, through the correlator and the detector.

use super::*;

// ---------------------------------------------------------------------------------------------
// Running correlations over events.
// ---------------------------------------------------------------------------------------------

/// Seconds since the epoch of the first test event.
const T0: i64 = 1_700_000_000;

/// A login event at `T0 + second`.
fn login(id: &str, second: i64, outcome: &str, ip: &str, user: &str) -> Event {
    let mut fields = json!({
        "@timestamp": T0 + second,
        "event": {"id": id, "category": ["authentication"], "action": "login", "outcome": outcome},
        "source": {"ip": ip},
    });
    if !user.is_empty() {
        fields["user"] = json!({"name": user});
    }
    Event::from_json(fields).expect("a valid event")
}

/// An order event at `T0 + second`.
fn order(id: &str, second: i64, user_id: &str, amount: f64) -> Event {
    Event::from_json(json!({
        "@timestamp": T0 + second,
        "event": {"id": id, "category": ["order"], "action": "order_placed"},
        "source": {"ip": "198.51.100.7"},
        "user": {"id": user_id},
        "order": {"amount": amount, "currency": "EUR"},
    }))
    .expect("a valid event")
}

fn ms(second: i64) -> i64 {
    (T0 + second) * 1000
}

/// The rules and a correlator over them, fed event by event as the detector does.
struct Run {
    compiled: CompiledRules,
    correlator: Correlator,
    scratch: Scratch,
}

impl Run {
    fn new(correlation: &str) -> Run {
        Run::over(compile(correlation))
    }

    fn over(compiled: CompiledRules) -> Run {
        assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
        let correlator = Correlator::new(&compiled, CorrelationLimits::default());
        Run { compiled, correlator, scratch: Scratch::default() }
    }

    /// The hits of one event.
    fn feed(&mut self, event: &Event) -> Vec<CorrelationHit> {
        let mut matches = Vec::new();
        self.compiled.engine.evaluate(event, &mut self.scratch, &mut matches);
        let mut hits = Vec::new();
        self.correlator.observe(event, event.id(), event.timestamp().unix_timestamp() * 1000, &matches, &mut hits);
        hits
    }

    /// The ids of the correlations each event made fire, event by event.
    fn fired(&mut self, events: &[Event]) -> Vec<Vec<String>> {
        events.iter().map(|event| self.feed(event).iter().map(|hit| hit.rule.id.clone()).collect()).collect()
    }
}

fn none() -> Vec<String> {
    Vec::new()
}

fn just(id: &str) -> Vec<String> {
    vec![id.to_owned()]
}

#[test]
fn event_count_fires_exactly_at_its_threshold_within_the_timespan() {
    let mut run = Run::new(&correlation(COUNT_FAILED));
    let ip = "203.0.113.9";
    let events = [
        login("e1", 0, "failure", ip, "alice"),
        login("e2", 60, "failure", ip, "bob"),
        // Another address is another group; a success is another rule.
        login("e3", 70, "failure", "198.51.100.1", "carol"),
        login("e4", 80, "success", ip, "alice"),
        login("e5", 120, "failure", ip, "alice"),
    ];
    assert_eq!(run.fired(&events), vec![none(), none(), none(), none(), just("brute")]);
    // The group starts afresh after firing: a sustained attack fires again every third event.
    let mut hits = Vec::new();
    for (n, second) in [(6, 130), (7, 140), (8, 150)] {
        hits = run.feed(&login(&format!("e{n}"), second, "failure", ip, "alice"));
    }
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.group_by, vec![("source.ip".to_owned(), ip.to_owned())]);
    assert_eq!((hit.first_ms, hit.last_ms, hit.count, hit.value), (ms(130), ms(150), 3, None));
    assert_eq!(hit.evidence.len(), 3);
    for id in ["e6", "e7", "e8"] {
        assert!(hit.evidence.contains(&id.to_owned()), "{:?}", hit.evidence);
    }
    assert_eq!(run.correlator.stats().correlations[0].counts.hits, 2);

    // Three failures spread wider than 5 minutes never make three in one window.
    let mut run = Run::new(&correlation(COUNT_FAILED));
    let spread = [login("s1", 0, "failure", ip, "a"), login("s2", 200, "failure", ip, "a"), login("s3", 400, "failure", ip, "a")];
    assert_eq!(run.fired(&spread), vec![none(), none(), none()]);
    // One more within 5 minutes of the last two does.
    assert_eq!(run.fired(&[login("s4", 450, "failure", ip, "a")]), vec![just("brute")]);
}

#[test]
fn value_count_counts_distinct_values() {
    let mut run = Run::new(&correlation(
        "type: value_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 10m\ncondition: {field: User, gte: 3}\n",
    ));
    let ip = "203.0.113.9";
    let events = [
        login("e1", 0, "failure", ip, "alice"),
        login("e2", 1, "failure", ip, "alice"),
        login("e3", 2, "failure", ip, "bob"),
        login("e4", 3, "failure", ip, "bob"),
        login("e5", 4, "failure", ip, "carol"),
    ];
    let hits: Vec<Vec<CorrelationHit>> = events.iter().map(|e| run.feed(e)).collect();
    assert_eq!(hits.iter().map(Vec::len).collect::<Vec<_>>(), vec![0, 0, 0, 0, 1]);
    let hit = &hits[4][0];
    assert_eq!((hit.count, hit.value), (5, Some(3.0)));
    // An event without the measured field is skipped and counted.
    assert_eq!(run.fired(&[login("e6", 5, "failure", ip, "")]), vec![none()]);
    let stats = run.correlator.stats();
    assert_eq!((stats.total.missing_field, stats.total.missing_group_by), (1, 0));
}

#[test]
fn temporal_needs_every_rule_in_any_order_within_the_timespan() {
    let body = "type: temporal\nrules: [failed_login, successful_login]\ngroup-by: [User]\ntimespan: 1m\n";
    let mut run = Run::new(&correlation(body));
    let events = [
        login("e1", 0, "success", "192.0.2.1", "alice"),
        login("e2", 10, "failure", "192.0.2.2", "bob"),
        login("e3", 30, "failure", "192.0.2.3", "alice"),
    ];
    assert_eq!(run.fired(&events), vec![none(), none(), just("brute")]);
    // Further apart than the timespan.
    let mut run = Run::new(&correlation(body));
    let events = [login("e1", 0, "success", "192.0.2.1", "alice"), login("e2", 61, "failure", "192.0.2.1", "alice")];
    assert_eq!(run.fired(&events), vec![none(), none()]);
    // One of two is enough when the condition says so.
    let mut run = Run::new(&correlation(&format!("{body}condition: {{gte: 1}}\n")));
    let hits = run.feed(&login("e1", 0, "success", "192.0.2.1", "alice"));
    assert_eq!(hits.iter().map(|h| h.value).collect::<Vec<_>>(), vec![Some(1.0)]);
}

#[test]
fn temporal_ordered_needs_the_rules_in_order_of_event_time() {
    let body = "type: temporal_ordered\nrules: [failed_login, successful_login]\ngroup-by: [User]\ntimespan: 1m\n";
    let mut run = Run::new(&correlation(body));
    // Success before failure: not the order asked for.
    let events = [login("e1", 0, "success", "192.0.2.1", "alice"), login("e2", 10, "failure", "192.0.2.1", "alice")];
    assert_eq!(run.fired(&events), vec![none(), none()]);
    let hits = run.feed(&login("e3", 20, "success", "192.0.2.1", "alice"));
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].first_ms, hits[0].last_ms, hits[0].value), (ms(10), ms(20), Some(2.0)));
    // Arrival order does not matter, event time does: the failure arrives second but happened first.
    let mut run = Run::new(&correlation(body));
    let events = [login("e1", 20, "success", "192.0.2.1", "bob"), login("e2", 10, "failure", "192.0.2.1", "bob")];
    assert_eq!(run.fired(&events), vec![none(), just("brute")]);
}

#[test]
fn metric_correlations_measure_the_field() {
    let metric = |kind: &str, condition: &str| {
        Run::new(&correlation(&format!("type: {kind}\nrules: [order_placed]\ngroup-by: [user.id]\ntimespan: 1h\ncondition: {condition}\n")))
    };
    let orders = |run: &mut Run, amounts: &[f64]| -> Vec<Option<f64>> {
        amounts
            .iter()
            .enumerate()
            .map(|(n, amount)| run.feed(&order(&format!("o{n}"), n as i64, "u-1", *amount)).first().and_then(|hit| hit.value))
            .collect()
    };
    let mut sum = metric("value_sum", "{field: order.amount, gt: 1000}");
    assert_eq!(orders(&mut sum, &[400.0, 500.0, 200.5]), vec![None, None, Some(1100.5)]);
    let mut avg = metric("value_avg", "{field: order.amount, gte: 500}");
    assert_eq!(orders(&mut avg, &[100.0, 900.0]), vec![None, Some(500.0)]);
    let mut p90 = metric("value_percentile", "{field: order.amount, percentile: 90, gte: 100}");
    assert_eq!(orders(&mut p90, &[10.0, 20.0, 200.0]), vec![None, None, Some(200.0)]);
    let mut median = metric("value_median", "{field: order.amount, gte: 100}");
    assert_eq!(orders(&mut median, &[50.0, 150.0, 200.0]), vec![None, None, Some(150.0)]);
    // A range: the sum must land between 100 (excluded) and 200.
    let mut range = metric("value_sum", "{field: order.amount, gt: 100, lte: 200}");
    assert_eq!(orders(&mut range, &[50.0, 40.0, 60.0]), vec![None, None, Some(150.0)]);
    let mut over = metric("value_sum", "{field: order.amount, gt: 100, lte: 200}");
    assert_eq!(orders(&mut over, &[50.0, 300.0]), vec![None, None]);
    // A login has no amount: skipped and counted.
    let mut sum = Run::new(&correlation(
        "type: value_sum\nrules: [order_placed, failed_login]\ngroup-by: [source.ip]\ntimespan: 1h\ncondition: {field: order.amount, gt: 10}\n",
    ));
    assert_eq!(sum.fired(&[login("l1", 0, "failure", "198.51.100.7", "a")]), vec![none()]);
    assert_eq!(sum.correlator.stats().total.missing_field, 1);
}

#[test]
fn event_count_ranges_fire_inside_them() {
    let mut run = Run::new(&correlation(&COUNT_FAILED.replace("{gte: 3}", "{gt: 1, lte: 2}")));
    let ip = "203.0.113.9";
    assert_eq!(run.fired(&[login("e1", 0, "failure", ip, "a"), login("e2", 1, "failure", ip, "a")]), vec![none(), just("brute")]);
}

#[test]
fn aliases_group_different_fields_as_one() {
    let mut run = Run::new(&correlation(
        "type: temporal\nrules: [failed_login, order_placed]\ngroup-by: [account]\ntimespan: 10m\naliases:\n    account:\n        failed_login: user.name\n        order_placed: user.id\n",
    ));
    let events = [login("e1", 0, "failure", "192.0.2.1", "acct-7"), order("o1", 5, "acct-8", 10.0), order("o2", 6, "acct-7", 10.0)];
    let hits: Vec<Vec<CorrelationHit>> = events.iter().map(|e| run.feed(e)).collect();
    assert_eq!(hits.iter().map(Vec::len).collect::<Vec<_>>(), vec![0, 0, 1]);
    // The hit names the field of the first rule.
    assert_eq!(hits[2][0].group_by, vec![("user.name".to_owned(), "acct-7".to_owned())]);
}

#[test]
fn events_missing_a_group_by_field_are_skipped_and_counted() {
    let mut run = Run::new(&correlation("type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: 5m\ncondition: {gte: 2}\n"));
    let events = [
        login("e1", 0, "failure", "192.0.2.1", ""),
        login("e2", 1, "failure", "192.0.2.1", ""),
        login("e3", 2, "failure", "192.0.2.1", "-"),
    ];
    assert_eq!(run.fired(&events), vec![none(), none(), none()]);
    let stats = run.correlator.stats();
    assert_eq!(stats.correlations[0].id, "brute");
    assert_eq!((stats.total.missing_group_by, stats.total.keys, stats.total.hits), (3, 0, 0));
}

#[test]
fn conditions_without_a_lower_bound_are_decided_when_the_window_closes() {
    let mut run =
        Run::new(&correlation("type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 1m\ncondition: {lt: 3}\n"));
    let events = [
        login("e1", 0, "failure", "192.0.2.1", "a"),
        login("e2", 10, "failure", "192.0.2.1", "a"),
        login("e3", 0, "failure", "192.0.2.2", "b"),
        login("e4", 10, "failure", "192.0.2.2", "b"),
        login("e5", 20, "failure", "192.0.2.2", "b"),
    ];
    // Nothing is decided while the windows are open.
    assert_eq!(run.fired(&events), vec![none(), none(), none(), none(), none()]);
    let mut hits = Vec::new();
    // Not yet: the window of the last event plus the lateness has not passed.
    run.correlator.expire(ms(10 + 60 + 60) - 1, &mut hits);
    assert!(hits.is_empty(), "{hits:?}");
    run.correlator.expire(ms(20 + 60 + 60), &mut hits);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].group_by, vec![("source.ip".to_owned(), "192.0.2.1".to_owned())]);
    assert_eq!((hits[0].count, hits[0].first_ms, hits[0].last_ms), (2, ms(0), ms(10)));
    assert_eq!(hits[0].evidence.len(), 2);
    // Closed groups are gone.
    hits.clear();
    run.correlator.expire(ms(10_000), &mut hits);
    assert!(hits.is_empty());
    assert_eq!(run.correlator.stats().total.keys, 0);

    // `neq`, closed by newer events of the same correlation.
    let mut run =
        Run::new(&correlation("type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 1m\ncondition: {neq: 1}\n"));
    run.fired(&[
        login("e1", 0, "failure", "192.0.2.1", "a"),
        login("e2", 0, "failure", "192.0.2.2", "a"),
        login("e3", 1, "failure", "192.0.2.2", "a"),
    ]);
    run.fired(&[login("e4", 1_000, "failure", "192.0.2.3", "a")]);
    let mut hits = Vec::new();
    run.correlator.expire(ms(1_000), &mut hits);
    assert_eq!(hits.iter().map(|h| (h.group_by[0].1.as_str(), h.count)).collect::<Vec<_>>(), vec![("192.0.2.2", 2)]);
}

#[test]
fn a_correlation_of_a_correlation_fires_on_its_hits() {
    // Three failures by a user, then a success by the same user.
    let inner = "title: Failures\nid: failures\nname: many_failures\ncorrelation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [User]\n    timespan: 10m\n    condition: {gte: 3}\n";
    let outer = "title: Then a success\nid: takeover\nlevel: high\ncorrelation:\n    type: temporal_ordered\n    rules: [many_failures, successful_login]\n    group-by: [User]\n    timespan: 10m\n";
    let compiled = compile(&format!("{inner}---\n{outer}"));
    let mut run = Run::over(compiled);
    let events = [
        login("e1", 0, "failure", "192.0.2.1", "alice"),
        login("e2", 10, "failure", "192.0.2.2", "alice"),
        login("e3", 20, "failure", "192.0.2.3", "alice"),
        login("e4", 30, "success", "192.0.2.3", "alice"),
    ];
    assert_eq!(run.fired(&events), vec![none(), none(), just("failures"), just("takeover")]);
}

#[test]
fn the_detector_raises_what_generates_and_names_the_group() {
    let compiled = compile(&format!(
        "{}level: high\n",
        correlation(
            "type: event_count\nrules: [failed_login]\ngroup-by: [source.ip, User, event.outcome]\ntimespan: 5m\ncondition: {gte: 2}\n"
        )
    ));
    let detector = Detector::from_compiled(compiled);
    let now = OffsetDateTime::from_unix_timestamp(T0 + 3600).expect("a time");
    let events = [
        login("e1", 0, "failure", "203.0.113.9", "alice"),
        login("e2", 30, "failure", "203.0.113.9", "alice"),
        order("o1", 40, "u-1", 5.0),
    ];
    let detections = detector.detect(&events, now);
    // The failed logins feed the correlation only; the order rule alerts on its own.
    let rules: Vec<&str> = detections.iter().map(|d| d.rule.id.as_str()).collect();
    assert_eq!(rules, vec!["order", "brute"]);
    let brute = &detections[1];
    assert_eq!(brute.rule.level, "high");
    assert_eq!(
        brute.entities,
        vec![
            Entity { kind: EntityKind::Ip, value: "203.0.113.9".to_owned(), field: "source.ip".to_owned() },
            Entity { kind: EntityKind::Account, value: "alice".to_owned(), field: "user.name".to_owned() },
        ]
    );
    // Group-by fields that are not entities stay in `group_by` only.
    let group: Vec<(&str, &str)> = brute.group_by.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(group, vec![("event.outcome", "failure"), ("source.ip", "203.0.113.9"), ("user.name", "alice")]);
    assert_eq!(brute.first_event_time, OffsetDateTime::from_unix_timestamp(T0).expect("a time"));
    assert_eq!(brute.last_event_time, OffsetDateTime::from_unix_timestamp(T0 + 30).expect("a time"));
    assert_eq!(brute.event_count, 2);
    let mut evidence = brute.evidence.clone();
    evidence.sort();
    assert_eq!(evidence, vec!["e1".to_owned(), "e2".to_owned()]);
    assert_eq!(brute.matched, vec![MatchedValue { field: "event_count".to_owned(), value: "2".to_owned() }]);
    assert_eq!(brute.detected_at, now);

    // With `generate: true` the building block alerts too.
    let compiled = compile(&correlation(&format!("{}generate: true\n", COUNT_FAILED.replace("{gte: 3}", "{gte: 2}"))));
    let detector = Detector::from_compiled(compiled);
    let detections = detector.detect(&events[..2], now);
    assert_eq!(detections.iter().map(|d| d.rule.id.as_str()).collect::<Vec<_>>(), vec!["failed-login", "failed-login", "brute"]);

    // A metric names its field and value.
    let compiled = compile(&correlation(
        "type: value_sum\nrules: [order_placed]\ngroup-by: [user.id]\ntimespan: 1h\ncondition: {field: order.amount, gte: 100}\n",
    ));
    let detector = Detector::from_compiled(compiled);
    let detections = detector.detect(&[order("o1", 0, "u-1", 60.5), order("o2", 1, "u-1", 40.0)], now);
    assert_eq!(detections.len(), 1);
    assert_eq!(detections[0].matched, vec![MatchedValue { field: "order.amount".to_owned(), value: "100.5".to_owned() }]);
    assert_eq!(detections[0].entities, vec![Entity { kind: EntityKind::Account, value: "u-1".to_owned(), field: "user.id".to_owned() }]);
    assert_eq!(detector.correlation_stats().total.hits, 1);
}

#[test]
fn the_detector_feeds_records_matched_by_the_caller() {
    let compiled = compile(&correlation(&COUNT_FAILED.replace("{gte: 3}", "{gte: 2}")));
    let detector = Detector::from_compiled(compiled);
    let rules = detector.rules();
    let now = OffsetDateTime::from_unix_timestamp(T0 + 3600).expect("a time");
    let mut out = Vec::new();
    for (id, second) in [("r1", 0), ("r2", 5)] {
        let record = login(id, second, "failure", "203.0.113.9", "a");
        let mut matches = Vec::new();
        rules.engine.evaluate(&record, &mut Scratch::default(), &mut matches);
        detector.observe_record(&record, id, record.timestamp(), &matches, now, &mut out);
    }
    assert_eq!(out.iter().map(|d| (d.rule.id.as_str(), d.event_count)).collect::<Vec<_>>(), vec![("brute", 2)]);
    // Windows closing by the clock: nothing here is decided at close.
    assert!(detector.expire(now).is_empty());
}

#[test]
fn snapshot_and_restore_keep_a_half_done_attack() {
    let ip = "203.0.113.9";
    let mut run = Run::new(&correlation(COUNT_FAILED));
    assert_eq!(run.fired(&[login("e1", 0, "failure", ip, "a"), login("e2", 10, "failure", ip, "a")]), vec![none(), none()]);
    let saved = run.correlator.snapshot();

    // The same rules after a restart: the third failure completes the attack.
    let compiled = compile(&correlation(COUNT_FAILED));
    let restored = Correlator::restore(&saved, &compiled, CorrelationLimits::default()).expect("a snapshot");
    let mut again = Run { compiled, correlator: restored, scratch: Scratch::default() };
    assert_eq!(again.correlator.stats().total.keys, 1);
    let hits = again.feed(&login("e3", 20, "failure", ip, "a"));
    assert_eq!(hits.iter().map(|h| (h.count, h.first_ms)).collect::<Vec<_>>(), vec![(3, ms(0))]);

    // A changed correlation starts empty.
    let changed = compile(&correlation(&COUNT_FAILED.replace("5m", "6m")));
    let restored = Correlator::restore(&saved, &changed, CorrelationLimits::default()).expect("a snapshot");
    assert_eq!(restored.stats().total.keys, 0);

    // Damaged snapshots are refused, never a panic.
    let compiled = compile(&correlation(COUNT_FAILED));
    assert!(matches!(Correlator::restore(b"nope", &compiled, CorrelationLimits::default()), Err(StateError::NotASnapshot)));
    for cut in [5, 9, saved.len() / 2, saved.len() - 1] {
        let result = Correlator::restore(&saved[..cut], &compiled, CorrelationLimits::default());
        assert!(matches!(result, Err(StateError::Truncated | StateError::Window { .. })), "cut at {cut}: {result:?}");
    }
    let mut wrong = saved.clone();
    wrong[4] = 9;
    assert!(matches!(
        Correlator::restore(&wrong, &compiled, CorrelationLimits::default()),
        Err(StateError::Version { found: 9, expected: 1 })
    ));
    let mut flipped = saved.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0xff;
    assert!(matches!(Correlator::restore(&flipped, &compiled, CorrelationLimits::default()), Err(StateError::Window { .. })));

    // Through the detector.
    let detector = Detector::from_compiled(compile(&correlation(COUNT_FAILED)));
    detector.restore_state(&saved).expect("a snapshot");
    let now = OffsetDateTime::from_unix_timestamp(T0 + 3600).expect("a time");
    assert_eq!(detector.detect(&[login("e3", 20, "failure", ip, "a")], now).len(), 1);
    assert!(detector.restore_state(b"RCOR").is_err());
    assert_eq!(detector.snapshot_state()[..4], *b"RCOR");
}

#[test]
fn closing_groups_survive_a_restore() {
    let body = "type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 1m\ncondition: {lt: 3}\n";
    let mut run = Run::new(&correlation(body));
    run.fired(&[login("e1", 0, "failure", "192.0.2.1", "a")]);
    let saved = run.correlator.snapshot();
    let compiled = compile(&correlation(body));
    let mut restored = Correlator::restore(&saved, &compiled, CorrelationLimits::default()).expect("a snapshot");
    let mut hits = Vec::new();
    restored.expire(ms(1_000), &mut hits);
    assert_eq!(hits.iter().map(|h| (h.group_by[0].1.as_str(), h.count)).collect::<Vec<_>>(), vec![("192.0.2.1", 1)]);
}

#[test]
fn carry_over_keeps_unchanged_correlations_only() {
    let ip = "203.0.113.9";
    let other = "title: Other\nid: other\ncorrelation:\n    type: event_count\n    rules: [order_placed]\n    group-by: [user.id]\n    timespan: 1h\n    condition: {gte: 2}\n";
    let before = compile_with(&[("base.yml", BASE), ("corr.yml", &correlation(COUNT_FAILED)), ("other.yml", other)], &[]);
    let mut run = Run::over(before);
    run.fired(&[login("e1", 0, "failure", ip, "a"), login("e2", 10, "failure", ip, "a"), order("o1", 10, "u-1", 1.0)]);

    // `other` changed, `brute` did not.
    let after =
        compile_with(&[("base.yml", BASE), ("corr.yml", &correlation(COUNT_FAILED)), ("other.yml", &other.replace("1h", "2h"))], &[]);
    let previous = std::mem::replace(&mut run.correlator, Correlator::new(&after, CorrelationLimits::default()));
    run.correlator.carry_over(previous);
    run.compiled = after;
    assert_eq!(run.fired(&[login("e3", 20, "failure", ip, "a"), order("o2", 20, "u-1", 1.0)]), vec![just("brute"), none()]);

    // Through the detector: a reload that changes another file keeps the half-done attack.
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("base.yml"), BASE).expect("written");
    std::fs::write(dir.path().join("corr.yml"), correlation(COUNT_FAILED)).expect("written");
    let detector = Detector::load(RuleSources { dirs: vec![dir.path().to_owned()], ..RuleSources::default() }).expect("loaded");
    let now = OffsetDateTime::from_unix_timestamp(T0 + 3600).expect("a time");
    assert!(detector.detect(&[login("e1", 0, "failure", ip, "a"), login("e2", 10, "failure", ip, "a")], now).is_empty());
    std::fs::write(dir.path().join("other.yml"), other).expect("written");
    let report = detector.reload().expect("reloaded");
    assert_eq!(report.rules, 5);
    assert_eq!(detector.detect(&[login("e3", 20, "failure", ip, "a")], now).len(), 1);
    // Changing the correlation drops its state.
    detector.detect(&[login("e4", 30, "failure", ip, "a"), login("e5", 40, "failure", ip, "a")], now);
    std::fs::write(dir.path().join("corr.yml"), correlation(&COUNT_FAILED.replace("5m", "6m"))).expect("written");
    detector.reload().expect("reloaded");
    assert!(detector.detect(&[login("e6", 50, "failure", ip, "a")], now).is_empty());
}

#[test]
fn inert_correlations_run_nothing() {
    let compiled = compile_with(&[("base.yml", BASE), ("corr.yml", &correlation(COUNT_FAILED))], &["failed-login"]);
    let detector = Detector::from_compiled(compiled);
    let now = OffsetDateTime::from_unix_timestamp(T0 + 3600).expect("a time");
    let events: Vec<Event> = (0..5).map(|n| login(&format!("e{n}"), n, "failure", "203.0.113.9", "a")).collect();
    assert!(detector.detect(&events, now).is_empty());
    assert_eq!(detector.correlation_stats(), CorrelationStats::default());
}

#[test]
fn late_events_are_refused_and_counted() {
    let mut run = Run::new(&correlation(COUNT_FAILED));
    let ip = "203.0.113.9";
    run.fired(&[login("e1", 1_000, "failure", ip, "a"), login("e2", 1_001, "failure", ip, "a")]);
    // Two minutes late, with a minute of lateness allowed.
    assert_eq!(run.fired(&[login("e3", 880, "failure", ip, "a")]), vec![none()]);
    assert_eq!(run.correlator.stats().total.late, 1);
}

#[test]
fn the_detector_is_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Detector>();
}

#[test]
fn the_documented_example_loads_and_fires() {
    let doc = include_str!("../../../../../docs/detection.md");
    let section = doc.split("## Correlation rules").nth(1).expect("the section");
    let example = section.split("```yaml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("the example");
    let compiled = compile_with(&[("example.yml", example)], &[]);
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let detector = Detector::from_compiled(compiled);
    let now = OffsetDateTime::from_unix_timestamp(T0 + 3600).expect("a time");
    let mut events: Vec<Event> = (0..10).map(|n| login(&format!("f{n}"), n * 10, "failure", "203.0.113.9", "alice")).collect();
    events.push(login("s1", 200, "success", "203.0.113.9", "alice"));
    let detections = detector.detect(&events, now);
    assert_eq!(detections.iter().map(|d| d.rule.title.as_str()).collect::<Vec<_>>(), vec!["Credential Stuffing Then Takeover"]);
    assert_eq!(
        detections[0].entities,
        vec![Entity { kind: EntityKind::Account, value: "alice".to_owned(), field: "user.name".to_owned() }]
    );
}

#[test]
fn the_key_budget_is_split_between_correlations_and_evictions_are_counted() {
    let other = "title: Other\nid: other\ncorrelation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [User]\n    timespan: 1h\n    condition: {gte: 100}\n";
    let compiled = compile(&format!("{}---\n{other}", correlation(COUNT_FAILED)));
    let limits = CorrelationLimits { max_keys: 4, ..CorrelationLimits::default() };
    let detector = Detector::from_compiled(compiled).with_correlation_limits(limits);
    let now = OffsetDateTime::from_unix_timestamp(T0 + 3600).expect("a time");
    let events: Vec<Event> = (0..3).map(|n| login(&format!("e{n}"), n, "failure", &format!("192.0.2.{n}"), "alice")).collect();
    detector.detect(&events, now);
    let stats = detector.correlation_stats();
    // Two keys each: three addresses evict one; one user fits.
    let per: Vec<(&str, usize, u64)> = stats.correlations.iter().map(|c| (c.id.as_str(), c.counts.keys, c.counts.evicted)).collect();
    assert_eq!(per, vec![("brute", 2, 1), ("other", 1, 0)]);
    assert_eq!((stats.total.keys, stats.total.evicted), (3, 1));
}

#[test]
fn the_detector_closes_windows_by_the_clock_and_by_later_events() {
    let body = "type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 1m\ncondition: {lt: 2}\n";
    let detector = Detector::from_compiled(compile(&correlation(body)));
    let now = OffsetDateTime::from_unix_timestamp(T0 + 3600).expect("a time");
    assert!(detector.detect(&[login("e1", 0, "failure", "192.0.2.1", "a")], now).is_empty());
    // A minute of window and a minute of lateness later, by the clock.
    assert!(detector.expire(OffsetDateTime::from_unix_timestamp(T0 + 119).expect("a time")).is_empty());
    let closed = detector.expire(OffsetDateTime::from_unix_timestamp(T0 + 120).expect("a time"));
    assert_eq!(closed.iter().map(|d| (d.rule.id.as_str(), d.event_count)).collect::<Vec<_>>(), vec![("brute", 1)]);
    assert_eq!(closed[0].evidence, vec!["e1".to_owned()]);
    // Or by a later batch's event time.
    assert!(detector.detect(&[login("e2", 200, "failure", "192.0.2.2", "a")], now).is_empty());
    let later = detector.detect(&[login("e3", 400, "failure", "192.0.2.3", "a")], now);
    assert_eq!(later.iter().map(|d| d.group_by.get("source.ip").cloned()).collect::<Vec<_>>(), vec![Some("192.0.2.2".to_owned())]);
}
