//! Loading correlation rules: what is read, how references resolve, what is refused.

use super::*;

// ---------------------------------------------------------------------------------------------
// Loading: what is read, how references resolve.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_correlation_loads_with_its_rules_resolved_and_fields_mapped() {
    let compiled = compile(&correlation(
        "type: event_count\nrules:\n    - failed_login\n    - ok-login\ngroup-by: [User, source.ip]\ntimespan: 90m\ncondition: {gt: 100, lte: 200}\n",
    ));
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    let brute = rule(&compiled, "brute");
    let spec = brute.correlation.as_deref().expect("a correlation");
    assert_eq!(spec.kind, CorrelationType::EventCount);
    // By name and by id, both as ids.
    assert_eq!(spec.rules, vec!["failed-login".to_owned(), "ok-login".to_owned()]);
    assert_eq!(spec.group_by, vec!["User".to_owned(), "source.ip".to_owned()]);
    // `User` goes through the field mapping.
    assert_eq!(spec.group_fields, vec![vec!["user.name".to_owned(), "source.ip".to_owned()]; 2]);
    assert_eq!((spec.timespan.as_str(), spec.timespan_ms), ("90m", 90 * 60_000));
    assert_eq!(spec.condition, Condition { gt: Some(100.0), lte: Some(200.0), ..Condition::default() });
    assert_eq!((spec.field.as_deref(), spec.percentile, spec.generate), (None, None, false));
    assert_eq!(brute.level.as_str(), "medium");
    assert!(brute.routed);
    assert_eq!(compiled.correlations.len(), 1);
    // Named by a correlation that does not generate: building blocks, no alerts of their own.
    assert!(!rule(&compiled, "failed-login").generates);
    assert!(!rule(&compiled, "ok-login").generates);
    assert!(rule(&compiled, "order").generates);
    assert!(brute.generates);
    // The engine still matches the building blocks (the correlation needs their matches).
    assert_eq!(compiled.engine.len(), 3);
}

#[test]
fn generate_true_keeps_the_rules_alerting_in_either_place() {
    for text in [correlation(&format!("{COUNT_FAILED}generate: true\n")), format!("{}generate: true\n", correlation(COUNT_FAILED))] {
        let compiled = compile(&text);
        assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
        assert!(rule(&compiled, "failed-login").generates, "{text}");
        assert!(rule(&compiled, "brute").correlation.as_ref().is_some_and(|s| s.generate));
    }
    // One generating correlation is enough.
    let both = format!(
        "{}---\n{}",
        correlation(COUNT_FAILED),
        correlation(&format!("{COUNT_FAILED}generate: true\n")).replace("id: brute", "id: brute2")
    );
    let compiled = compile(&both);
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    assert!(rule(&compiled, "failed-login").generates);
    // Given twice with different values.
    let error = refused_text(&format!("{}generate: true\n", correlation(&format!("{COUNT_FAILED}generate: false\n"))));
    assert_eq!(
        said(&error),
        (Some(9), "invalid", "`generate` is given twice (in `correlation` and at the top) with different values".to_owned())
    );
}

#[test]
fn a_whole_attack_in_one_file_as_the_specification_writes_it() {
    // The specification's example: base rules and two chained correlations in one file.
    let text = "\
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: rampart
    category: authentication
detection:
    selection:
        event.outcome: failure
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: rampart
    category: authentication
detection:
    selection:
        event.outcome: success
    condition: selection
";
    let compiled = compile_with(&[("mr_bruteforce.yml", text)], &[]);
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let ids: Vec<&str> = compiled.rules.iter().map(|r| r.id.as_str()).collect();
    // Single-event rules first, then correlations, inner before outer.
    assert_eq!(
        ids,
        vec![
            "53ba33fd-3a50-4468-a5ef-c583635cfa92",
            "4d0a2c83-c62c-4ed4-b475-c7e23a9269b8",
            "a8418a5a-5fc4-46b5-b23b-6c73beb19d41",
            "b180ead8-d58f-40b2-ae54-c8940995b9b6"
        ]
    );
    let outer = rule(&compiled, "b180ead8-d58f-40b2-ae54-c8940995b9b6");
    assert_eq!(outer.level.as_str(), "high");
    assert_eq!(outer.status.as_deref(), Some("experimental"));
    let spec = outer.correlation.as_deref().expect("a correlation");
    assert_eq!(spec.kind, CorrelationType::TemporalOrdered);
    assert_eq!(spec.rules, vec!["a8418a5a-5fc4-46b5-b23b-6c73beb19d41".to_owned(), "4d0a2c83-c62c-4ed4-b475-c7e23a9269b8".to_owned()]);
    // Leaving the condition out of a temporal correlation asks for all its rules.
    assert_eq!(spec.condition, Condition { gte: Some(2.0), ..Condition::default() });
    // Only the outermost correlation raises alerts.
    let alerting: Vec<&str> = compiled.rules.iter().filter(|r| r.generates).map(|r| r.id.as_str()).collect();
    assert_eq!(alerting, vec!["b180ead8-d58f-40b2-ae54-c8940995b9b6"]);
    assert_eq!(
        compiled.correlations.rules().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["a8418a5a-5fc4-46b5-b23b-6c73beb19d41", "b180ead8-d58f-40b2-ae54-c8940995b9b6"]
    );
}

#[test]
fn aliases_give_each_rule_its_own_field() {
    let compiled = compile(&correlation(
        "type: temporal\nrules: [failed_login, order_placed]\ngroup-by: [account]\ntimespan: 10s\naliases:\n    account:\n        failed_login: User\n        order_placed: customer.id\n",
    ));
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let spec = rule(&compiled, "brute").correlation.clone().expect("a correlation");
    assert_eq!(spec.group_fields, vec![vec!["user.name".to_owned()], vec!["customer.id".to_owned()]]);
}

#[test]
fn the_metric_types_load_with_their_field_and_percentile() {
    for (kind, condition, percentile) in [
        ("value_count", "{field: User, gte: 5}", None),
        ("value_sum", "{field: order.amount, gt: 1000.5}", None),
        ("value_avg", "{field: order.amount, gt: 500}", None),
        ("value_percentile", "{field: order.amount, percentile: 95, gte: 100}", Some(95.0)),
        ("value_median", "{field: order.amount, gte: 100}", Some(50.0)),
    ] {
        let compiled = compile(&correlation(&format!(
            "type: {kind}\nrules: [order_placed]\ngroup-by: [source.ip]\ntimespan: 1d\ncondition: {condition}\n"
        )));
        assert!(compiled.errors.is_empty(), "{kind}: {:?}", compiled.errors);
        let spec = rule(&compiled, "brute").correlation.clone().expect("a correlation");
        assert_eq!(spec.kind.as_str(), kind);
        assert_eq!(spec.percentile, percentile, "{kind}");
        let field = if kind == "value_count" { "user.name" } else { "order.amount" };
        assert_eq!(spec.field.as_deref(), Some(field));
    }
}

#[test]
fn errors_in_later_documents_name_their_own_lines() {
    // Both documents have `timespan`; the bad one is the second.
    let text = format!(
        "{}---\n{}",
        correlation(COUNT_FAILED),
        correlation(&COUNT_FAILED.replace("5m", "5 minutes")).replace("id: brute", "id: other")
    );
    let compiled = compile(&text);
    assert_eq!(compiled.errors.len(), 1, "{:?}", compiled.errors);
    assert_eq!(said(&compiled.errors[0]).0, Some(16));
    assert_eq!(compiled.errors[0].rule.as_deref(), Some("other"));
}

// ---------------------------------------------------------------------------------------------
// Refusals.
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unknown_rule_is_refused_at_its_line() {
    let error =
        refused("type: event_count\nrules:\n    - failed_login\n    - nope\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    assert_eq!(said(&error), (Some(7), "invalid", "the correlation names `nope`, which is not a loaded rule (by id or name)".to_owned()));
    assert_eq!(error.rule.as_deref(), Some("brute"));
    // A name two rules share is ambiguous.
    let text = format!(
        "{}---\n{}",
        correlation(COUNT_FAILED),
        BASE.split("---").next().unwrap_or_default().replace("id: failed-login", "id: copy")
    );
    let compiled = compile_with(&[("base.yml", BASE), ("corr.yml", &text)], &[]);
    assert_eq!(compiled.errors.len(), 1, "{:?}", compiled.errors);
    assert_eq!(
        said(&compiled.errors[0]),
        (Some(5), "invalid", "the name `failed_login` is used by several rules (failed-login, copy); name the rule by its id".to_owned())
    );
}

#[test]
fn reference_cycles_are_refused() {
    let a = "title: A\nid: a\nname: corr_a\ncorrelation:\n    type: event_count\n    rules: [corr_b]\n    group-by: [source.ip]\n    timespan: 5m\n    condition: {gte: 2}\n";
    let b = "title: B\nid: b\nname: corr_b\ncorrelation:\n    type: event_count\n    rules: [corr_a]\n    group-by: [source.ip]\n    timespan: 5m\n    condition: {gte: 2}\n";
    let c = "title: C\nid: c\ncorrelation:\n    type: event_count\n    rules: [corr_a]\n    group-by: [source.ip]\n    timespan: 5m\n    condition: {gte: 2}\n";
    let compiled = compile_with(&[("base.yml", BASE), ("cycle.yml", &format!("{a}---\n{b}---\n{c}"))], &[]);
    let errors: Vec<(Option<&str>, Option<usize>, &'static str, String)> = compiled
        .errors
        .iter()
        .map(|e| {
            let (line, kind, message) = said(e);
            (e.rule.as_deref(), line, kind, message)
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (Some("a"), Some(6), "invalid", "reference cycle: a → b → a".to_owned()),
            (Some("b"), Some(16), "invalid", "reference cycle: b → a → b".to_owned()),
            (Some("c"), Some(25), "invalid", "the correlation depends on a reference cycle: c → a → b → a".to_owned()),
        ]
    );
    assert!(compiled.correlations.is_empty());
    // Naming itself.
    let error = refused("type: event_count\nrules: [brute]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    assert_eq!(said(&error), (Some(5), "invalid", "reference cycle: brute → brute".to_owned()));
}

#[test]
fn a_correlation_naming_a_refused_one_is_refused_too() {
    let inner = correlation("type: event_count\nrules: [nope]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    let outer = "title: Outer\nid: outer\ncorrelation:\n    type: event_count\n    rules: [brute]\n    group-by: [source.ip]\n    timespan: 5m\n    condition: {gte: 2}\n";
    let compiled = compile_with(&[("base.yml", BASE), ("corr.yml", &format!("{inner}---\n{outer}"))], &[]);
    let messages: Vec<String> = compiled.errors.iter().map(|e| said(e).2).collect();
    assert_eq!(
        messages,
        vec![
            "the correlation names `nope`, which is not a loaded rule (by id or name)".to_owned(),
            "the correlation names brute, which was refused".to_owned(),
        ]
    );
}

#[test]
fn required_parts_are_named_when_missing() {
    let cases = [
        ("rules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n", "the correlation has no `type`"),
        ("type: event_count\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n", "the correlation has no `rules`"),
        (
            "type: event_count\nrules: [failed_login]\ntimespan: 5m\ncondition: {gte: 3}\n",
            "a `event_count` correlation needs `group-by`: the fields that make events one group",
        ),
        (
            "type: temporal\nrules: [failed_login, ok-login]\ntimespan: 5m\n",
            "a `temporal` correlation needs `group-by`: the fields that make events one group",
        ),
        ("type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ncondition: {gte: 3}\n", "the correlation has no `timespan`"),
        (
            "type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\n",
            "a `event_count` correlation needs a `condition`",
        ),
        (
            "type: value_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\n",
            "a `value_count` correlation needs a `condition`",
        ),
    ];
    for (body, expected) in cases {
        let error = refused(body);
        // The line of `correlation:`.
        assert_eq!(said(&error), (Some(3), "invalid", expected.to_owned()), "{body}");
    }
}

#[test]
fn metric_correlations_need_their_field() {
    for kind in ["value_count", "value_sum", "value_avg", "value_median"] {
        let error = refused(&format!("type: {kind}\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {{gte: 3}}\n"));
        assert_eq!(
            said(&error),
            (Some(8), "invalid", format!("a `{kind}` correlation needs `field` in its condition: the field it measures"))
        );
    }
    let error = refused(
        "type: value_percentile\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition:\n    field: order.amount\n    gte: 3\n",
    );
    assert_eq!(
        said(&error),
        (
            Some(8),
            "invalid",
            "a `value_percentile` correlation needs `percentile` (0 to 100) in its condition: which percentile of the field is compared"
                .to_owned()
        )
    );
    let error = refused(
        "type: value_percentile\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition:\n    field: order.amount\n    percentile: 101\n    gte: 3\n",
    );
    assert_eq!(said(&error), (Some(10), "invalid", "`percentile` must be between 0 and 100".to_owned()));
    let error = refused(
        "type: value_avg\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition:\n    field: order.amount\n    percentile: 50\n    gte: 3\n",
    );
    assert_eq!(said(&error), (Some(10), "invalid", "`percentile` is only for value_percentile correlations".to_owned()));
    let error = refused(
        "type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition:\n    field: user.name\n    gte: 3\n",
    );
    assert_eq!(
        said(&error),
        (
            Some(9),
            "invalid",
            "`field` is for value_count, value_sum, value_avg, value_percentile and value_median; a `event_count` correlation measures no field"
                .to_owned()
        )
    );
    let error = refused(
        "type: value_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition:\n    field: [a, b]\n    gte: 3\n",
    );
    assert_eq!(said(&error), (Some(9), "unsupported", "`field` names one field; lists of fields are not supported".to_owned()));
    let error =
        refused("type: value_count\nrules: [failed_login]\nfield: user.name\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    assert_eq!(said(&error), (Some(6), "invalid", "`field` belongs inside `condition` (next to `gte` ...)".to_owned()));
}

#[test]
fn bad_timespans_are_refused() {
    let bad = |span: &str| format!("timespan `{span}` must be a positive whole number and a unit (s, m, h, d or w), e.g. `90m`");
    for (span, kind, message) in [
        ("5x", "invalid", bad("5x")),
        ("0m", "invalid", bad("0m")),
        ("m", "invalid", bad("m")),
        ("-5m", "invalid", bad("-5m")),
        ("1.5h", "invalid", bad("1.5h")),
        ("'5 m'", "invalid", bad("5 m")),
        ("300", "invalid", bad("300")),
        ("99999999999999999999d", "invalid", bad("99999999999999999999d")),
        ("1y", "unsupported", "timespan `1y`: months and years are not fixed durations; write days".to_owned()),
        ("400d", "invalid", "timespan `400d` is longer than the longest allowed, 365d".to_owned()),
    ] {
        let error =
            refused(&format!("type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: {span}\ncondition: {{gte: 3}}\n"));
        assert_eq!(said(&error), (Some(7), kind, message), "{span}");
    }
    for (span, ms) in [("30s", 30_000), ("15m", 900_000), ("2h", 7_200_000), ("1d", 86_400_000), ("2w", 1_209_600_000)] {
        let compiled = compile(&correlation(&COUNT_FAILED.replace("5m", span)));
        assert!(compiled.errors.is_empty(), "{span}: {:?}", compiled.errors);
        assert_eq!(rule(&compiled, "brute").correlation.as_ref().map(|s| s.timespan_ms), Some(ms));
    }
}

#[test]
fn bad_conditions_are_refused() {
    for (condition, line, message) in [
        ("{greater: 5}", 8, "unknown condition operator `greater`; expected gt, gte, lt, lte, eq or neq (and `field`, `percentile`)"),
        ("{gte: ten}", 8, "`gte` must be a number"),
        ("{gt: 5, gte: 6}", 8, "the condition has two lower bounds (`gt` and `gte`)"),
        ("{lt: 5, lte: 6}", 8, "the condition has two upper bounds (`lt` and `lte`)"),
        ("{eq: 1, gt: 0}", 8, "`eq` and `neq` stand alone: they cannot be combined with other comparisons"),
        ("{neq: 1, lt: 9}", 8, "`eq` and `neq` stand alone: they cannot be combined with other comparisons"),
        ("{gt: 10, lt: 5}", 8, "the condition can never hold: no value is above 10 and below 5"),
        ("{gt: 5, lt: 5}", 8, "the condition can never hold: no value is above 5 and below 5"),
        ("{}", 8, "the condition has no comparison (gt, gte, lt, lte, eq or neq)"),
        ("gte 3", 8, "`condition` must be a map such as `{gte: 10}`"),
    ] {
        let error =
            refused(&format!("type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {condition}\n"));
        assert_eq!(said(&error), (Some(line), "invalid", message.to_owned()), "{condition}");
    }
    // `gte: 5` with `lte: 5` is the one value 5.
    let compiled = compile(&correlation(&COUNT_FAILED.replace("{gte: 3}", "{gte: 5, lte: 5}")));
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    // Multi-line conditions point at the operator.
    let error =
        refused("type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition:\n    gte: 3\n    above: 4\n");
    assert_eq!(said(&error).0, Some(10));
}

#[test]
fn temporal_conditions_are_limited_to_what_the_specification_allows() {
    let ordered = "type: temporal_ordered\nrules: [failed_login, ok-login]\ngroup-by: [User]\ntimespan: 5m\n";
    let error = refused(&format!("{ordered}condition: {{gte: 1}}\n"));
    assert_eq!(
        said(&error),
        (
            Some(8),
            "unsupported",
            "a `temporal_ordered` correlation fires when all its rules are seen in order; its condition may only ask for all 2 (`gte: 2`), or be left out"
                .to_owned()
        )
    );
    for all in ["{gte: 2}", "{eq: 2}", "{gt: 1}"] {
        let compiled = compile(&correlation(&format!("{ordered}condition: {all}\n")));
        assert!(compiled.errors.is_empty(), "{all}: {:?}", compiled.errors);
    }
    let temporal = "type: temporal\nrules: [failed_login, ok-login]\ngroup-by: [User]\ntimespan: 5m\n";
    let error = refused(&format!("{temporal}condition: {{gte: 3}}\n"));
    assert_eq!(
        said(&error),
        (
            Some(8),
            "invalid",
            "the condition can never hold: a `temporal` correlation counts the distinct rules seen, 1 to 2 here".to_owned()
        )
    );
    let error = refused(&format!("{temporal}condition: failed_login and ok-login\n"));
    assert_eq!(
        said(&error),
        (
            Some(8),
            "unsupported",
            "boolean correlation conditions (`rule_a and rule_b`) are not supported; list the rules and leave `condition` out".to_owned()
        )
    );
    // One of the two is a count a temporal correlation may ask for.
    let compiled = compile(&correlation(&format!("{temporal}condition: {{gte: 1}}\n")));
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
}

#[test]
fn aliases_must_name_rules_of_the_correlation() {
    let error = refused(
        "type: temporal\nrules: [failed_login, ok-login]\ngroup-by: [account]\ntimespan: 10s\naliases:\n    account:\n        failed_login: user.name\n        order_placed: customer.id\n",
    );
    assert_eq!(
        said(&error),
        (Some(11), "invalid", "alias `account` names `order_placed`, which is not one of the correlation's `rules`".to_owned())
    );
    let error = refused("type: temporal\nrules: [failed_login, ok-login]\ngroup-by: [account]\ntimespan: 10s\naliases: [account]\n");
    assert_eq!(said(&error), (Some(8), "invalid", "`aliases` must map each alias to a map of rule name → field name".to_owned()));
}

#[test]
fn other_mistakes_are_refused() {
    let error = refused("type: event_sum\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    assert_eq!(
        said(&error),
        (
            Some(4),
            "invalid",
            "unknown correlation type `event_sum`; expected event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile or value_median"
                .to_owned()
        )
    );
    let error = refused(&format!("{COUNT_FAILED}window: 5m\n"));
    assert_eq!(
        said(&error),
        (
            Some(9),
            "invalid",
            "unknown correlation attribute `window`; expected type, rules, group-by, timespan, condition, aliases or generate".to_owned()
        )
    );
    let error =
        refused("type: event_count\nrules: [failed_login, failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    assert_eq!(said(&error), (Some(5), "invalid", "`rules` names `failed_login` twice".to_owned()));
    let error =
        refused("type: event_count\nrules: [failed_login, failed-login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    assert_eq!(said(&error), (Some(5), "invalid", "`rules` names the rule failed-login twice (by id and by name)".to_owned()));
    let error = refused("type: event_count\nrules: [failed_login]\ngroup-by: [source.ip, source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    assert_eq!(said(&error), (Some(6), "invalid", "`group-by` names `source.ip` twice".to_owned()));
    let error = refused("type: event_count\nrules: []\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n");
    assert_eq!(said(&error), (Some(5), "invalid", "`rules` must name at least one rule".to_owned()));
    // A correlation document is not also a rule.
    let error = refused_text(&format!("{}logsource: {{category: webserver}}\n", correlation(COUNT_FAILED)));
    assert_eq!(
        said(&error),
        (
            Some(9),
            "invalid",
            "a correlation rule has no `logsource`: it works on the matches of the rules it names; put the rule in its own document"
                .to_owned()
        )
    );
    // Ids are unique across rules and correlations.
    let error = refused_text(&correlation(COUNT_FAILED).replace("id: brute", "id: order"));
    assert_eq!(said(&error), (Some(2), "invalid", "rule id order is already used by another rule".to_owned()));
}

#[test]
fn a_correlation_of_a_correlation_reads_only_what_its_hits_carry() {
    let outer = "title: Outer\nid: outer\ncorrelation:\n    type: event_count\n    rules: [brute]\n    group-by: [user.name]\n    timespan: 1h\n    condition: {gte: 2}\n";
    let compiled = compile_with(&[("base.yml", BASE), ("corr.yml", &format!("{}---\n{outer}", correlation(COUNT_FAILED)))], &[]);
    assert_eq!(compiled.errors.len(), 1, "{:?}", compiled.errors);
    assert_eq!(
        said(&compiled.errors[0]),
        (
            Some(15),
            "invalid",
            "the correlation reads `user.name` from the hits of brute, which carry only its group-by fields (source.ip)".to_owned()
        )
    );
}

#[test]
fn a_correlation_naming_a_disabled_rule_is_listed_inert_with_its_reason() {
    let outer = "title: Outer\nid: outer\ncorrelation:\n    type: event_count\n    rules: [brute]\n    group-by: [source.ip]\n    timespan: 1h\n    condition: {gte: 2}\n";
    let text = format!("{}---\n{outer}", correlation(COUNT_FAILED));
    let compiled = compile_with(&[("base.yml", BASE), ("corr.yml", &text)], &["failed-login"]);
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    assert!(compiled.correlations.is_empty());
    assert_eq!(rule(&compiled, "brute").inert.as_deref(), Some("it names the disabled rule failed-login"));
    assert_eq!(rule(&compiled, "outer").inert.as_deref(), Some("it names the inert correlation brute"));
    let warnings: Vec<(Option<&str>, &str, Option<usize>, String)> =
        compiled.warnings.iter().map(|w| (w.rule.as_deref(), w.file.as_str(), w.line, w.kind.to_string())).collect();
    assert_eq!(
        warnings,
        vec![
            (Some("brute"), "corr.yml", Some(3), "inert: the correlation cannot fire: it names the disabled rule failed-login".to_owned()),
            (Some("outer"), "corr.yml", Some(12), "inert: the correlation cannot fire: it names the inert correlation brute".to_owned()),
        ]
    );
    // A disabled correlation is listed as disabled; those naming it are inert.
    let compiled = compile_with(&[("base.yml", BASE), ("corr.yml", &text)], &["brute"]);
    assert!(rule(&compiled, "brute").disabled);
    assert_eq!(rule(&compiled, "brute").inert, None);
    assert_eq!(rule(&compiled, "outer").inert.as_deref(), Some("it names the disabled correlation brute"));
    assert_eq!(compiled.warnings.len(), 1);
    assert!(compiled.correlations.is_empty());
}
