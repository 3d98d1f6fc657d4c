//! The `correlation` section of a Sigma correlation rule read into a checked [`CorrelationBody`].

use serde_norway::{Mapping, Value};

use crate::correlation::{Condition, CorrelationType};
use crate::error::RuleErrorKind;

/// The most rules one correlation may name (each is a step of a temporal sequence).
pub(crate) const MAX_CORRELATED_RULES: usize = 32;

/// The longest timespan: a year is not a fixed duration, and longer windows hold state for too long.
const MAX_TIMESPAN_MS: i64 = 365 * 86_400_000;

/// The `correlation` section, checked but not yet resolved against the loaded rules.
#[derive(Debug, Clone)]
pub(crate) struct CorrelationBody {
    pub(crate) kind: CorrelationType,
    /// Ids or names of the correlated rules, as written.
    pub(crate) rules: Vec<String>,
    /// Field names or aliases, as written.
    pub(crate) group_by: Vec<String>,
    pub(crate) timespan: String,
    pub(crate) timespan_ms: i64,
    pub(crate) condition: Condition,
    /// The measured field of `value_*` correlations, as written.
    pub(crate) field: Option<String>,
    pub(crate) percentile: Option<f64>,
    pub(crate) aliases: Aliases,
    pub(crate) generate: bool,
}

/// Alias name → (rule id or name as written, field name as written), in file order.
pub(crate) type Aliases = Vec<(String, Vec<(String, String)>)>;

/// A problem: the text to find the line by (alternatives one a line), and what is wrong.
pub(crate) type ParseError = (String, RuleErrorKind);

fn invalid(needle: &str, message: impl Into<String>) -> ParseError {
    (needle.to_owned(), RuleErrorKind::Invalid(message.into()))
}

fn unsupported(needle: &str, message: impl Into<String>) -> ParseError {
    (needle.to_owned(), RuleErrorKind::Unsupported(message.into()))
}

/// Reads a `correlation` section. `top_generate` is a `generate` written beside it, at the top of
/// the document, as the specification's list of attributes places it.
pub(crate) fn parse_correlation(value: Value, top_generate: Option<bool>) -> Result<CorrelationBody, ParseError> {
    let Value::Mapping(section) = value else {
        return Err(invalid("correlation", "`correlation` must be a map with `type`, `rules`, `group-by`, `timespan` and `condition`"));
    };
    let mut kind = None;
    let mut rules = None;
    let mut group_by = None;
    let mut timespan = None;
    let mut condition = None;
    let mut aliases = Vec::new();
    let mut generate = None;
    for (key, value) in section {
        let Value::String(key) = key else { return Err(invalid("correlation", "the keys of `correlation` must be strings")) };
        match key.as_str() {
            "type" => kind = Some(parse_type(value)?),
            "rules" => rules = Some(string_list("rules", value)?),
            "group-by" => group_by = Some(string_list("group-by", value)?),
            "timespan" => timespan = Some(parse_timespan(value)?),
            "condition" => condition = Some(value),
            "aliases" => aliases = parse_aliases(value)?,
            "generate" => match value {
                Value::Bool(flag) => generate = Some(flag),
                _ => return Err(invalid("generate:", "`generate` must be true or false")),
            },
            "field" => return Err(invalid("field:", "`field` belongs inside `condition` (next to `gte` ...)")),
            other => {
                return Err(invalid(
                    &format!("{other}:\ncorrelation"),
                    format!(
                        "unknown correlation attribute `{other}`; expected type, rules, group-by, timespan, condition, aliases or generate"
                    ),
                ));
            }
        }
    }
    let kind = kind.ok_or_else(|| invalid("correlation", "the correlation has no `type`"))?;
    let rules = rules.ok_or_else(|| invalid("correlation", "the correlation has no `rules`"))?;
    if rules.is_empty() {
        return Err(invalid("rules:", "`rules` must name at least one rule"));
    }
    if rules.len() > MAX_CORRELATED_RULES {
        return Err(invalid("rules:", format!("a correlation may name at most {MAX_CORRELATED_RULES} rules")));
    }
    if let Some(duplicate) = first_duplicate(&rules) {
        return Err(invalid(&format!("{duplicate}\nrules:"), format!("`rules` names `{duplicate}` twice")));
    }
    let group_by = group_by.unwrap_or_default();
    if group_by.is_empty() {
        return Err(invalid(
            "correlation",
            format!("a `{}` correlation needs `group-by`: the fields that make events one group", kind.as_str()),
        ));
    }
    if let Some(duplicate) = first_duplicate(&group_by) {
        return Err(invalid("group-by:", format!("`group-by` names `{duplicate}` twice")));
    }
    let (timespan, timespan_ms) = timespan.ok_or_else(|| invalid("correlation", "the correlation has no `timespan`"))?;
    let generate = match (generate, top_generate) {
        (Some(inner), Some(outer)) if inner != outer => {
            return Err(invalid("generate:", "`generate` is given twice (in `correlation` and at the top) with different values"));
        }
        (inner, outer) => inner.or(outer).unwrap_or(false),
    };
    let (condition, field, percentile) = match condition {
        Some(value) => parse_condition(kind, value, rules.len())?,
        None if kind.is_temporal() => (Condition { gte: Some(rules.len() as f64), ..Condition::default() }, None, None),
        None => return Err(invalid("correlation", format!("a `{}` correlation needs a `condition`", kind.as_str()))),
    };
    Ok(CorrelationBody { kind, rules, group_by, timespan, timespan_ms, condition, field, percentile, aliases, generate })
}

fn parse_type(value: Value) -> Result<CorrelationType, ParseError> {
    let Value::String(text) = value else { return Err(invalid("type:", "the correlation `type` must be a string")) };
    CorrelationType::parse(&text).ok_or_else(|| {
        invalid(
            "type:",
            format!(
                "unknown correlation type `{text}`; expected event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile or value_median"
            ),
        )
    })
}

/// A string or a list of strings.
fn string_list(name: &str, value: Value) -> Result<Vec<String>, ParseError> {
    let needle = format!("{name}:");
    match value {
        Value::String(one) => Ok(vec![one]),
        Value::Sequence(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) if !text.trim().is_empty() => Ok(text),
                _ => Err(invalid(&needle, format!("`{name}` must list non-empty strings"))),
            })
            .collect(),
        _ => Err(invalid(&needle, format!("`{name}` must be a string or a list of strings"))),
    }
}

fn first_duplicate(items: &[String]) -> Option<&str> {
    items.iter().enumerate().find(|(index, item)| items[..*index].contains(item)).map(|(_, item)| item.as_str())
}

/// `number + unit`: s, m, h, d or w.
fn parse_timespan(value: Value) -> Result<(String, i64), ParseError> {
    let text = match value {
        Value::String(text) => text,
        Value::Number(number) => number.to_string(),
        _ => return Err(invalid("timespan:", "`timespan` must be a number and a unit, e.g. `5m`")),
    };
    let bad =
        || invalid("timespan:", format!("timespan `{text}` must be a positive whole number and a unit (s, m, h, d or w), e.g. `90m`"));
    let Some(unit) = text.chars().last() else { return Err(bad()) };
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let unit_ms: i64 = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        'M' | 'y' => {
            return Err(unsupported("timespan:", format!("timespan `{text}`: months and years are not fixed durations; write days")));
        }
        _ => return Err(bad()),
    };
    let count: i64 = digits.parse().map_err(|_| bad())?;
    let span = count.checked_mul(unit_ms).filter(|span| *span > 0).ok_or_else(bad)?;
    if span > MAX_TIMESPAN_MS {
        return Err(invalid("timespan:", format!("timespan `{text}` is longer than the longest allowed, 365d")));
    }
    Ok((text, span))
}

fn parse_aliases(value: Value) -> Result<Aliases, ParseError> {
    let shape = || invalid("aliases:", "`aliases` must map each alias to a map of rule name → field name");
    let Value::Mapping(aliases) = value else { return Err(shape()) };
    let mut parsed = Vec::new();
    for (alias, fields) in aliases {
        let (Value::String(alias), Value::Mapping(fields)) = (alias, fields) else { return Err(shape()) };
        let mut per_rule = Vec::new();
        for (rule, field) in fields {
            let (Value::String(rule), Value::String(field)) = (rule, field) else { return Err(shape()) };
            per_rule.push((rule, field));
        }
        if per_rule.is_empty() {
            return Err(invalid(&format!("{alias}:\naliases:"), format!("alias `{alias}` names no rule")));
        }
        parsed.push((alias, per_rule));
    }
    Ok(parsed)
}

fn number(operator: &str, value: &Value) -> Result<f64, ParseError> {
    let needle = format!("{operator}:\ncondition:");
    let parsed = match value {
        Value::Number(number) => number.as_f64(),
        _ => None,
    };
    parsed.filter(|n| n.is_finite()).ok_or_else(|| invalid(&needle, format!("`{operator}` must be a number")))
}

/// The condition map: comparisons, `field` and `percentile`.
fn parse_condition(kind: CorrelationType, value: Value, rules: usize) -> Result<(Condition, Option<String>, Option<f64>), ParseError> {
    let map: Mapping = match value {
        Value::Mapping(map) => map,
        Value::String(_) if kind.is_temporal() => {
            return Err(unsupported(
                "condition:",
                "boolean correlation conditions (`rule_a and rule_b`) are not supported; list the rules and leave `condition` out",
            ));
        }
        _ => return Err(invalid("condition:", "`condition` must be a map such as `{gte: 10}`")),
    };
    let mut condition = Condition::default();
    let mut field = None;
    let mut percentile = None;
    for (key, value) in map {
        let Value::String(key) = key else { return Err(invalid("condition:", "the keys of `condition` must be strings")) };
        let slot = match key.as_str() {
            "gt" => &mut condition.gt,
            "gte" => &mut condition.gte,
            "lt" => &mut condition.lt,
            "lte" => &mut condition.lte,
            "eq" => &mut condition.eq,
            "neq" => &mut condition.neq,
            "field" => {
                field = Some(match value {
                    Value::String(name) if !name.trim().is_empty() => name,
                    Value::Sequence(_) => {
                        return Err(unsupported("field:\ncondition:", "`field` names one field; lists of fields are not supported"));
                    }
                    _ => return Err(invalid("field:\ncondition:", "`field` must be a field name")),
                });
                continue;
            }
            "percentile" => {
                let p = number("percentile", &value)?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(invalid("percentile:\ncondition:", "`percentile` must be between 0 and 100"));
                }
                percentile = Some(p);
                continue;
            }
            other => {
                return Err(invalid(
                    &format!("{other}:\ncondition:"),
                    format!("unknown condition operator `{other}`; expected gt, gte, lt, lte, eq or neq (and `field`, `percentile`)"),
                ));
            }
        };
        *slot = Some(number(&key, &value)?);
    }
    check_comparisons(&condition)?;
    check_field(kind, field.is_some(), percentile.is_some())?;
    if kind.is_temporal() {
        check_temporal(kind, &condition, rules)?;
    }
    Ok((condition, field, percentile))
}

/// One lower bound and one upper bound at most (a range), or `eq` alone, or `neq` alone; and some value must satisfy it.
fn check_comparisons(condition: &Condition) -> Result<(), ParseError> {
    let Condition { gt, gte, lt, lte, eq, neq } = *condition;
    let count = [gt, gte, lt, lte, eq, neq].iter().filter(|c| c.is_some()).count();
    if count == 0 {
        return Err(invalid("condition:", "the condition has no comparison (gt, gte, lt, lte, eq or neq)"));
    }
    if gt.is_some() && gte.is_some() {
        return Err(invalid("condition:", "the condition has two lower bounds (`gt` and `gte`)"));
    }
    if lt.is_some() && lte.is_some() {
        return Err(invalid("condition:", "the condition has two upper bounds (`lt` and `lte`)"));
    }
    if (eq.is_some() || neq.is_some()) && count > 1 {
        return Err(invalid("condition:", "`eq` and `neq` stand alone: they cannot be combined with other comparisons"));
    }
    let lower = gt.or(gte);
    let upper = lt.or(lte);
    if let (Some(low), Some(high)) = (lower, upper) {
        let empty = if gt.is_some() || lt.is_some() { low >= high } else { low > high };
        if empty {
            return Err(invalid("condition:", format!("the condition can never hold: no value is above {low} and below {high}")));
        }
    }
    Ok(())
}

fn check_field(kind: CorrelationType, has_field: bool, has_percentile: bool) -> Result<(), ParseError> {
    if kind.needs_field() && !has_field {
        return Err(invalid(
            "condition:",
            format!("a `{}` correlation needs `field` in its condition: the field it measures", kind.as_str()),
        ));
    }
    if !kind.needs_field() && has_field {
        return Err(invalid(
            "field:\ncondition:",
            format!(
                "`field` is for value_count, value_sum, value_avg, value_percentile and value_median; a `{}` correlation measures no field",
                kind.as_str()
            ),
        ));
    }
    match (kind, has_percentile) {
        (CorrelationType::ValuePercentile, false) => Err(invalid(
            "condition:",
            "a `value_percentile` correlation needs `percentile` (0 to 100) in its condition: which percentile of the field is compared",
        )),
        (CorrelationType::ValuePercentile, true) => Ok(()),
        (_, true) => Err(invalid("percentile:\ncondition:", "`percentile` is only for value_percentile correlations")),
        (_, false) => Ok(()),
    }
}

/// Temporal conditions count the distinct rules seen; temporal_ordered ones may only ask for all of them.
fn check_temporal(kind: CorrelationType, condition: &Condition, rules: usize) -> Result<(), ParseError> {
    let all = rules as f64;
    if kind == CorrelationType::TemporalOrdered {
        let every = *condition == Condition { gte: Some(all), ..Condition::default() }
            || *condition == Condition { eq: Some(all), ..Condition::default() }
            || *condition == Condition { gt: Some(all - 1.0), ..Condition::default() };
        if !every {
            return Err(unsupported(
                "condition:",
                format!(
                    "a `temporal_ordered` correlation fires when all its rules are seen in order; its condition may only ask for all {rules} (`gte: {rules}`), or be left out"
                ),
            ));
        }
        return Ok(());
    }
    let possible = (0..=rules).any(|seen| seen > 0 && condition.holds(seen as f64));
    if !possible {
        return Err(invalid(
            "condition:",
            format!("the condition can never hold: a `temporal` correlation counts the distinct rules seen, 1 to {rules} here"),
        ));
    }
    Ok(())
}
