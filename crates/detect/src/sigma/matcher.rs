//! The compiled engine: routes events to the rules of their logsource, finds every literal of
//! every rule with one Aho-Corasick pass per field, and evaluates only the rules that can match.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use aho_corasick::automaton::{Automaton, OverlappingState};
use aho_corasick::dfa::DFA as Dfa;
use rampart_model::{FieldSource, FieldValue, parse_rfc3339};
use serde_json::Value as Json;

use crate::sigma::compile::{AtomId, AtomTable, Expr, FieldId, Position, Target, Test, TimePart};
use crate::sigma::rule::RuleInfo;

/// The longest value text a match reports.
const MAX_REPORTED_VALUE: usize = 256;

/// One rule of the engine.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub(crate) info: Arc<RuleInfo>,
    pub(crate) expr: Expr,
    pub(crate) routes: u64,
}

/// A field and the value that made a rule match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MatchedField {
    /// The event field (`url.original`), or `keywords` for full-text matches.
    pub field: String,
    /// The value there (or, for keywords, the keyword found), cut at 256 characters.
    pub value: String,
}

/// A rule that matched one event.
#[derive(Debug, Clone)]
pub struct RuleMatch {
    /// The rule.
    pub rule: Arc<RuleInfo>,
    /// The fields that made it match.
    pub fields: Vec<MatchedField>,
}

/// A place in a value where an atom's literal must be found.
#[derive(Debug)]
struct NeedleRef {
    target: Target,
    atom: AtomId,
    position: Position,
    /// The exact text, for case-sensitive literals (the scan itself ignores ASCII case).
    cased: Option<Box<str>>,
}

impl NeedleRef {
    /// Sets the atom's hit bit when the literal found at `found` in `text` sits where the atom
    /// wants it within the value at `value` (and, for cased literals, has the exact case).
    fn credit(&self, text: &str, found: Range<usize>, value: Range<usize>, hits: &mut [u64], touched: &mut Vec<AtomId>) {
        let placed = match self.position {
            Position::Exact => found == value,
            Position::Prefix => found.start == value.start,
            Position::Suffix => found.end == value.end,
            Position::Contains => true,
        };
        let exact = self.cased.as_deref().is_none_or(|cased| text.get(found) == Some(cased));
        let (word, bit) = (self.atom as usize / 64, 1u64 << (self.atom % 64));
        if placed && exact && hits[word] & bit == 0 {
            hits[word] |= bit;
            touched.push(self.atom);
        }
    }
}

/// One Aho-Corasick automaton over every literal that rules look for in one target.
#[derive(Debug)]
struct Scanner {
    target: Target,
    automaton: Dfa,
    needles: Vec<Vec<NeedleRef>>,
}

/// A logsource route: its `when` clauses (field, accepted values) and its bit.
pub(crate) type Route = (Vec<(String, Vec<String>)>, u64);

/// The scanners of one route.
#[derive(Debug)]
struct RouteScanners {
    route: u64,
    fields: Vec<Scanner>,
    /// Every literal of the route in one automaton, for records whose fields are slices of the
    /// text keyword rules search.
    unified: Option<Scanner>,
}

/// Which events a route takes: for each field, the values it accepts (lowercase).
#[derive(Debug)]
struct RouteField {
    path: String,
    values: Vec<(String, u64)>,
    /// Routes with a clause on this field.
    constrained: u64,
}

/// Per-thread working memory of [`Engine::evaluate`], reused across events so matching does not
/// allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    hits: Vec<u64>,
    touched: Vec<AtomId>,
    candidate: Vec<u64>,
    candidates: Vec<u32>,
    text: String,
    /// Where each field lies in the original text, for the one-pass scan.
    spans: Vec<(FieldId, usize, usize)>,
}

impl Scratch {
    fn reset(&mut self, atoms: usize, rules: usize) {
        for atom in self.touched.drain(..) {
            self.hits[atom as usize / 64] = 0;
        }
        self.hits.resize(atoms.div_ceil(64), 0);
        for rule in self.candidates.drain(..) {
            self.candidate[rule as usize / 64] = 0;
        }
        self.candidate.resize(rules.div_ceil(64), 0);
    }

    fn hit(&self, atom: AtomId) -> bool {
        self.hits[atom as usize / 64] & (1 << (atom % 64)) != 0
    }
}

/// Rules compiled together. Cheap to share (`Arc`); each thread brings its own [`Scratch`].
#[derive(Debug)]
pub struct Engine {
    table: AtomTable,
    rules: Vec<CompiledRule>,
    /// The literal scanners of each route: an event is scanned only for the literals of rules
    /// that can see it.
    route_scanners: Vec<RouteScanners>,
    route_fields: Vec<RouteField>,
    used_routes: u64,
    /// Per atom: the rules that become candidates when its literal is found.
    triggers: Vec<Vec<u32>>,
    /// Rules with no literal that must be found: evaluated on every event of their routes.
    always: Vec<u32>,
}

impl Engine {
    pub(crate) fn build(table: AtomTable, rules: Vec<CompiledRule>, routes: &[Route]) -> Engine {
        let used_routes = rules.iter().fold(0, |mask, rule| mask | rule.routes);
        let mut triggers = vec![Vec::new(); table.atoms.len()];
        let mut always = Vec::new();
        let mut atom_routes = vec![0u64; table.atoms.len()];
        for (index, rule) in rules.iter().enumerate() {
            if rule.routes == 0 {
                continue;
            }
            mark_atoms(&rule.expr, rule.routes, &mut atom_routes);
            match required(&rule.expr, &table) {
                Some(trigger) => trigger.atoms.iter().for_each(|atom| triggers[*atom as usize].push(index as u32)),
                None => always.push(index as u32),
            }
        }
        triggers.iter_mut().for_each(|rules| rules.dedup());
        let route_scanners = (0..64)
            .map(|bit| 1u64 << bit)
            .filter(|route| used_routes & route != 0)
            .map(|route| {
                let fields = build_scanners(&table, &atom_routes, route);
                let unified = build_unified(&table, &atom_routes, &fields, route);
                RouteScanners { route, fields, unified }
            })
            .collect();
        let route_fields = build_route_fields(routes, used_routes);
        Engine { table, rules, route_scanners, route_fields, used_routes, triggers, always }
    }

    /// The rules, in load order.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<RuleInfo>> {
        self.rules.iter().map(|rule| &rule.info)
    }

    /// How many rules the engine holds.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the engine holds no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Appends to `out` every rule that matches the event.
    pub fn evaluate<S: FieldSource + ?Sized>(&self, source: &S, scratch: &mut Scratch, out: &mut Vec<RuleMatch>) {
        let routes = self.routes_of(source, scratch);
        if routes == 0 {
            return;
        }
        scratch.reset(self.table.atoms.len(), self.rules.len());
        for scanners in self.route_scanners.iter().filter(|s| s.route & routes != 0) {
            if !self.scan_unified(scanners, source, scratch) {
                for scanner in &scanners.fields {
                    self.scan(scanner, source, scratch);
                }
            }
        }
        for index in 0..scratch.touched.len() {
            let atom = scratch.touched[index];
            for &rule in &self.triggers[atom as usize] {
                add_candidate(scratch, rule, self.rules[rule as usize].routes & routes != 0);
            }
        }
        for &rule in &self.always {
            add_candidate(scratch, rule, self.rules[rule as usize].routes & routes != 0);
        }
        scratch.candidates.sort_unstable();
        for index in 0..scratch.candidates.len() {
            let rule = &self.rules[scratch.candidates[index] as usize];
            if self.eval(&rule.expr, source, scratch) {
                let mut fields = Vec::new();
                self.explain(&rule.expr, source, scratch, &mut fields);
                out.push(RuleMatch { rule: rule.info.clone(), fields });
            }
        }
    }

    fn routes_of<S: FieldSource + ?Sized>(&self, source: &S, scratch: &mut Scratch) -> u64 {
        let mut routes = self.used_routes;
        for field in &self.route_fields {
            let mut satisfied = 0;
            if let Some(value) = source.field(&field.path) {
                for_each_text(value, &mut scratch.text, &mut |text| {
                    for (accepted, mask) in &field.values {
                        if text.eq_ignore_ascii_case(accepted) {
                            satisfied |= mask;
                        }
                    }
                });
            }
            routes &= satisfied | !field.constrained;
        }
        routes
    }

    fn scan<S: FieldSource + ?Sized>(&self, scanner: &Scanner, source: &S, scratch: &mut Scratch) {
        let Scratch { hits, touched, text: buffer, .. } = scratch;
        let mut on_text = |text: &str| {
            for_each_occurrence(&scanner.automaton, text, &mut |start, end, pattern| {
                for needle in &scanner.needles[pattern] {
                    needle.credit(text, start..end, 0..text.len(), hits, touched);
                }
            });
        };
        match scanner.target {
            Target::Field(field) => {
                if let Some(value) = source.field(&self.table.fields[field as usize]) {
                    for_each_text(value, buffer, &mut on_text);
                }
            }
            Target::Keywords => source.for_each_text(&mut |text| on_text(text)),
        }
    }

    /// The one-pass scan of [`build_unified`]; `false` when it does not apply (no keyword rules
    /// on these routes, or a record with no single original text), and the scanners must run.
    fn scan_unified<S: FieldSource + ?Sized>(&self, scanners: &RouteScanners, source: &S, scratch: &mut Scratch) -> bool {
        let Some(unified) = &scanners.unified else { return false };
        let (mut original, mut texts) = (None, 0);
        source.for_each_text(&mut |text| {
            original = original.or(Some(text));
            texts += 1;
        });
        let (Some(original), 1) = (original, texts) else { return false };
        // Fields inside the original text get their span; others are scanned alone.
        scratch.spans.clear();
        let base = original.as_ptr() as usize;
        for scanner in &scanners.fields {
            let Target::Field(field) = scanner.target else { continue };
            match source.field(&self.table.fields[field as usize]) {
                Some(FieldValue::Str(text))
                    if text.as_ptr() as usize >= base && text.as_ptr() as usize + text.len() <= base + original.len() =>
                {
                    let start = text.as_ptr() as usize - base;
                    scratch.spans.push((field, start, start + text.len()));
                }
                Some(_) => self.scan(scanner, source, scratch),
                None => {}
            }
        }
        let Scratch { hits, touched, spans, .. } = scratch;
        for_each_occurrence(&unified.automaton, original, &mut |found_start, found_end, pattern| {
            for needle in &unified.needles[pattern] {
                let (start, end) = match needle.target {
                    Target::Keywords => (0, original.len()),
                    Target::Field(field) => match spans.iter().find(|(f, s, e)| *f == field && *s <= found_start && found_end <= *e) {
                        Some(&(_, start, end)) => (start, end),
                        None => continue,
                    },
                };
                needle.credit(original, found_start..found_end, start..end, hits, touched);
            }
        });
        true
    }

    fn eval<S: FieldSource + ?Sized>(&self, expr: &Expr, source: &S, scratch: &mut Scratch) -> bool {
        match expr {
            Expr::Atom(atom) => self.atom(*atom, source, scratch),
            Expr::Not(inner) => !self.eval(inner, source, scratch),
            Expr::And(items) => items.iter().all(|item| self.eval(item, source, scratch)),
            Expr::Or(items) => items.iter().any(|item| self.eval(item, source, scratch)),
            Expr::AtLeast(n, items) => {
                let mut count = 0;
                for item in items {
                    if self.eval(item, source, scratch) {
                        count += 1;
                        if count >= *n {
                            return true;
                        }
                    }
                }
                false
            }
            Expr::Const(value) => *value,
        }
    }

    fn atom<S: FieldSource + ?Sized>(&self, id: AtomId, source: &S, scratch: &mut Scratch) -> bool {
        let atom = &self.table.atoms[id as usize];
        let field = |field: FieldId| source.field(&self.table.fields[field as usize]);
        match (&atom.test, atom.target) {
            (Test::Literal { .. }, _) => scratch.hit(id),
            (Test::Pattern { hint: Some(_), .. }, _) if !scratch.hit(id) => false,
            (Test::Pattern { regex, .. } | Test::Regex(regex), target) => {
                self.any_text(target, source, &mut scratch.text, &mut |text| regex.is_match(text))
            }
            (Test::Empty, target) => self.any_text(target, source, &mut scratch.text, &mut str::is_empty),
            (_, Target::Keywords) => false,
            (Test::Exists(exists), Target::Field(f)) => field(f).is_some() == *exists,
            (Test::Null, Target::Field(f)) => matches!(field(f), None | Some(FieldValue::Null)),
            (Test::Any, Target::Field(f)) => !matches!(field(f), None | Some(FieldValue::Null)),
            (Test::Cidr(net), Target::Field(f)) => any_value(field(f), &mut |value| match value {
                FieldValue::Ip(ip) => net.contains(&ip),
                FieldValue::Str(text) => text.trim().parse::<std::net::IpAddr>().is_ok_and(|ip| net.contains(&ip)),
                _ => false,
            }),
            (Test::Compare { op, value }, Target::Field(f)) => {
                any_value(field(f), &mut |v| number_of(v).is_some_and(|number| op.holds(number, *value)))
            }
            (Test::Time { part, op, value }, Target::Field(f)) => {
                any_value(field(f), &mut |v| time_of(v).is_some_and(|time| op.holds(time_part(time, *part) as f64, *value as f64)))
            }
            (Test::FieldRef { other, position, cased }, Target::Field(f)) => {
                let (Some(left), Some(right)) = (field(f), field(*other)) else { return false };
                let mut right_text = String::new();
                let mut scratch_text = String::new();
                let mut found = false;
                for_each_text(right, &mut right_text, &mut |wanted| {
                    let wanted = wanted.to_owned();
                    for_each_text(left, &mut scratch_text, &mut |text| {
                        found |= compare_text(text, &wanted, *position, *cased);
                    });
                });
                found
            }
        }
    }

    fn any_text<S: FieldSource + ?Sized>(
        &self,
        target: Target,
        source: &S,
        buffer: &mut String,
        test: &mut dyn FnMut(&str) -> bool,
    ) -> bool {
        let mut found = false;
        match target {
            Target::Field(field) => {
                if let Some(value) = source.field(&self.table.fields[field as usize]) {
                    for_each_text(value, buffer, &mut |text| found = found || test(text));
                }
            }
            Target::Keywords => source.for_each_text(&mut |text| found = found || test(text)),
        }
        found
    }

    /// The fields of the atoms that made `expr` true (outside negations).
    fn explain<S: FieldSource + ?Sized>(&self, expr: &Expr, source: &S, scratch: &mut Scratch, out: &mut Vec<MatchedField>) {
        match expr {
            Expr::Atom(id) => {
                if !self.atom(*id, source, scratch) {
                    return;
                }
                let atom = &self.table.atoms[*id as usize];
                let matched = match atom.target {
                    Target::Keywords => {
                        let value = match &atom.test {
                            Test::Literal { text, .. } => text.clone(),
                            Test::Pattern { regex, .. } | Test::Regex(regex) => regex.as_str().to_owned(),
                            _ => String::new(),
                        };
                        MatchedField { field: "keywords".to_owned(), value }
                    }
                    Target::Field(field) => {
                        let path = &self.table.fields[field as usize];
                        let mut value = String::new();
                        if let Some(found) = source.field(path) {
                            let mut first = true;
                            for_each_text(found, &mut scratch.text, &mut |text| {
                                if first {
                                    value.push_str(text);
                                    first = false;
                                }
                            });
                        }
                        MatchedField { field: path.clone(), value }
                    }
                };
                let mut matched = matched;
                truncate(&mut matched.value, MAX_REPORTED_VALUE);
                if !out.contains(&matched) {
                    out.push(matched);
                }
            }
            Expr::Not(_) | Expr::Const(_) => {}
            Expr::And(items) | Expr::Or(items) | Expr::AtLeast(_, items) => {
                for item in items {
                    if self.eval(item, source, scratch) {
                        self.explain(item, source, scratch, out);
                    }
                }
            }
        }
    }
}

fn add_candidate(scratch: &mut Scratch, rule: u32, on_route: bool) {
    let (word, bit) = (rule as usize / 64, 1u64 << (rule % 64));
    if on_route && scratch.candidate[word] & bit == 0 {
        scratch.candidate[word] |= bit;
        scratch.candidates.push(rule);
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

fn compare_text(text: &str, wanted: &str, position: Position, cased: bool) -> bool {
    let eq = |a: &str, b: &str| if cased { a == b } else { a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase() };
    match position {
        Position::Exact => eq(text, wanted),
        Position::Prefix => text.get(..wanted.len()).is_some_and(|head| eq(head, wanted)),
        Position::Suffix => text.len() >= wanted.len() && text.get(text.len() - wanted.len()..).is_some_and(|tail| eq(tail, wanted)),
        Position::Contains if cased => text.contains(wanted),
        Position::Contains => text.to_lowercase().contains(&wanted.to_lowercase()),
    }
}

/// Calls `visit` with each value as text (numbers and addresses formatted into `buffer`; array
/// elements one by one; objects and nulls are skipped).
pub(crate) fn for_each_text(value: FieldValue<'_>, buffer: &mut String, visit: &mut dyn FnMut(&str)) {
    match value {
        FieldValue::Str(text) => visit(text),
        FieldValue::Json(Json::Array(items)) => {
            for item in items {
                if !matches!(item, Json::Array(_)) {
                    for_each_text(FieldValue::from_json(item), buffer, visit);
                }
            }
        }
        FieldValue::Json(_) | FieldValue::Null => {}
        other => {
            buffer.clear();
            // Writing to a String cannot fail.
            let _ = match other {
                FieldValue::Int(n) => {
                    push_int(buffer, n);
                    Ok(())
                }
                FieldValue::Ip(std::net::IpAddr::V4(ip)) => {
                    for (index, octet) in ip.octets().into_iter().enumerate() {
                        if index > 0 {
                            buffer.push('.');
                        }
                        push_int(buffer, i64::from(octet));
                    }
                    Ok(())
                }
                FieldValue::Float(n) => write!(buffer, "{n}"),
                FieldValue::Bool(b) => write!(buffer, "{b}"),
                FieldValue::Ip(ip) => write!(buffer, "{ip}"),
                FieldValue::Time(time) => {
                    buffer.push_str(&rampart_model::format_timestamp(time));
                    Ok(())
                }
                _ => Ok(()),
            };
            visit(buffer);
        }
    }
}

/// Appends a whole number in decimal: the formatting machinery costs more than the scan it feeds.
fn push_int(buffer: &mut String, n: i64) {
    if n < 0 {
        buffer.push('-');
    }
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        buffer.push(char::from(digit));
    }
}

fn any_value(value: Option<FieldValue<'_>>, test: &mut dyn FnMut(FieldValue<'_>) -> bool) -> bool {
    match value {
        None => false,
        Some(FieldValue::Json(Json::Array(items))) => items.iter().any(|item| test(FieldValue::from_json(item))),
        Some(value) => test(value),
    }
}

fn number_of(value: FieldValue<'_>) -> Option<f64> {
    match value {
        FieldValue::Int(n) => Some(n as f64),
        FieldValue::Float(n) => Some(n),
        // `inf` and `NaN` parse as floats but are not numbers an event means.
        FieldValue::Str(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn time_of(value: FieldValue<'_>) -> Option<time::OffsetDateTime> {
    match value {
        FieldValue::Time(time) => Some(time),
        FieldValue::Str(text) => parse_rfc3339(text),
        _ => None,
    }
}

fn time_part(time: time::OffsetDateTime, part: TimePart) -> i64 {
    match part {
        TimePart::Minute => i64::from(time.minute()),
        TimePart::Hour => i64::from(time.hour()),
        TimePart::Day => i64::from(time.day()),
        TimePart::Week => i64::from(time.iso_week()),
        TimePart::Month => i64::from(u8::from(time.month())),
        TimePart::Year => i64::from(time.year()),
    }
}

/// Atoms at least one of which must be found by the scan for an expression to be true.
struct Trigger {
    atoms: Vec<AtomId>,
    /// The shortest literal among them: longer literals are rarer, so better triggers.
    shortest: usize,
}

fn scanned_needle(table: &AtomTable, atom: AtomId) -> Option<usize> {
    match &table.atoms[atom as usize].test {
        Test::Literal { text, .. } => Some(text.len()),
        Test::Pattern { hint: Some(hint), .. } => Some(hint.len()),
        _ => None,
    }
}

fn required(expr: &Expr, table: &AtomTable) -> Option<Trigger> {
    match expr {
        Expr::Atom(atom) => scanned_needle(table, *atom).map(|len| Trigger { atoms: vec![*atom], shortest: len }),
        Expr::And(items) => items.iter().filter_map(|item| required(item, table)).max_by_key(|t| (t.shortest, usize::MAX - t.atoms.len())),
        Expr::Or(items) | Expr::AtLeast(_, items) => {
            let mut all = Trigger { atoms: Vec::new(), shortest: usize::MAX };
            for item in items {
                let trigger = required(item, table)?;
                all.atoms.extend(trigger.atoms);
                all.shortest = all.shortest.min(trigger.shortest);
            }
            Some(all)
        }
        Expr::Not(_) | Expr::Const(_) => None,
    }
}

/// ORs a rule's routes into the mask of every atom it uses.
fn mark_atoms(expr: &Expr, routes: u64, atom_routes: &mut [u64]) {
    match expr {
        Expr::Atom(atom) => atom_routes[*atom as usize] |= routes,
        Expr::Not(inner) => mark_atoms(inner, routes, atom_routes),
        Expr::And(items) | Expr::Or(items) | Expr::AtLeast(_, items) => items.iter().for_each(|item| mark_atoms(item, routes, atom_routes)),
        Expr::Const(_) => {}
    }
}

/// The literals of the atoms `wanted` accepts, deduplicated, with the atoms each one serves.
fn needle_set(table: &AtomTable, wanted: impl Fn(usize, Target) -> bool) -> (Vec<String>, Vec<Vec<NeedleRef>>) {
    let mut patterns: Vec<String> = Vec::new();
    let mut needles: Vec<Vec<NeedleRef>> = Vec::new();
    let mut index_of: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (id, atom) in table.atoms.iter().enumerate() {
        if !wanted(id, atom.target) {
            continue;
        }
        let (needle, position, cased) = match &atom.test {
            Test::Literal { text, position, cased } => (text.to_ascii_lowercase(), *position, cased.then(|| text.clone().into_boxed_str())),
            Test::Pattern { hint: Some(hint), .. } => (hint.clone(), Position::Contains, None),
            _ => continue,
        };
        let index = *index_of.entry(needle.clone()).or_insert_with(|| {
            patterns.push(needle);
            needles.push(Vec::new());
            patterns.len() - 1
        });
        needles[index].push(NeedleRef { target: atom.target, atom: id as AtomId, position, cased });
    }
    (patterns, needles)
}

fn automaton(patterns: &[String]) -> Option<Dfa> {
    // The DFA itself rather than the `AhoCorasick` wrapper: the search loop is then compiled
    // for it, without a dynamic call per match.
    match aho_corasick::dfa::Builder::new().ascii_case_insensitive(true).build(patterns) {
        Ok(automaton) => Some(automaton),
        Err(error) => {
            tracing::error!(%error, "cannot build a literal scanner; rules on its field will not match");
            None
        }
    }
}

/// Calls `found(start, end, pattern)` for every occurrence of every pattern in `text`.
fn for_each_occurrence(automaton: &Dfa, text: &str, found: &mut impl FnMut(usize, usize, usize)) {
    let input = aho_corasick::Input::new(text);
    let mut state = OverlappingState::start();
    loop {
        if automaton.try_find_overlapping(&input, &mut state).is_err() {
            return;
        }
        match state.get_match() {
            Some(m) => found(m.start(), m.end(), m.pattern().as_usize()),
            None => return,
        }
    }
}

/// One scanner per target for the literals of the rules on `route`.
fn build_scanners(table: &AtomTable, atom_routes: &[u64], route: u64) -> Vec<Scanner> {
    let mut targets: Vec<Target> = Vec::new();
    for (id, atom) in table.atoms.iter().enumerate() {
        if atom_routes[id] & route != 0 && scanned_needle(table, id as AtomId).is_some() && !targets.contains(&atom.target) {
            targets.push(atom.target);
        }
    }
    let mut scanners = Vec::new();
    for target in targets {
        let (patterns, needles) = needle_set(table, |id, t| t == target && atom_routes[id] & route != 0);
        if let Some(automaton) = automaton(&patterns) {
            scanners.push(Scanner { target, automaton, needles });
        }
    }
    scanners
}

/// When some rules search the whole record (keywords), one pass over the record can serve
/// every field that is a slice of it (an access-log line's URL, user agent ...): the record is
/// scanned once with every literal, and each hit is credited to the field it falls in.
fn build_unified(table: &AtomTable, atom_routes: &[u64], scanners: &[Scanner], route: u64) -> Option<Scanner> {
    scanners.iter().find(|s| s.target == Target::Keywords)?;
    let (patterns, needles) = needle_set(table, |id, t| atom_routes[id] & route != 0 && scanners.iter().any(|s| s.target == t));
    Some(Scanner { target: Target::Keywords, automaton: automaton(&patterns)?, needles })
}

fn build_route_fields(routes: &[Route], used: u64) -> Vec<RouteField> {
    let mut fields: Vec<RouteField> = Vec::new();
    for (clauses, bit) in routes {
        if bit & used == 0 {
            continue;
        }
        for (path, values) in clauses {
            let index = match fields.iter().position(|f| f.path == *path) {
                Some(index) => index,
                None => {
                    fields.push(RouteField { path: path.clone(), values: Vec::new(), constrained: 0 });
                    fields.len() - 1
                }
            };
            let field = &mut fields[index];
            field.constrained |= bit;
            for value in values {
                match field.values.iter_mut().find(|(v, _)| v.eq_ignore_ascii_case(value)) {
                    Some((_, mask)) => *mask |= bit,
                    None => field.values.push((value.to_ascii_lowercase(), *bit)),
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses_become_text_as_display_writes_them() {
        let mut buffer = String::new();
        for (value, expected) in [
            (FieldValue::Int(0), "0"),
            (FieldValue::Int(404), "404"),
            (FieldValue::Int(-17), "-17"),
            (FieldValue::Int(i64::MIN), "-9223372036854775808"),
            (FieldValue::Ip("203.0.113.9".parse().unwrap()), "203.0.113.9"),
            (FieldValue::Ip("2001:db8::1".parse().unwrap()), "2001:db8::1"),
            (FieldValue::Bool(true), "true"),
        ] {
            let mut seen = String::new();
            for_each_text(value, &mut buffer, &mut |text| seen.push_str(text));
            assert_eq!(seen, expected);
        }
    }
}
