//! Compiles a rule's detection into an expression over shared atoms (one field, one test).

use std::collections::HashMap;

use ipnet::IpNet;
use regex::{Regex, RegexBuilder};
use serde_norway::Value;

use crate::error::RuleErrorKind;
use crate::mapping::FieldMapping;
use crate::sigma::condition::{self, Condition, OfTarget, Quantity};
use crate::sigma::document::Detection;
use crate::sigma::value::{Piece, SigmaString, Transform, apply_transforms};

/// Compiled regexes may use at most this much memory each.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// A detection may produce at most this many atoms (one rule of 10 MB is refused here).
const MAX_ATOMS_PER_RULE: usize = 20_000;

/// Index of a field path in [`AtomTable::fields`].
pub(crate) type FieldId = u32;
/// Index of an atom in [`AtomTable::atoms`].
pub(crate) type AtomId = u32;

/// What an atom looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Field(FieldId),
    /// Full-text: `event.original`, or every text value.
    Keywords,
}

/// Where a literal must sit in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Position {
    Exact,
    Contains,
    Prefix,
    Suffix,
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CmpOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CmpOp {
    pub(crate) fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CmpOp::Eq => left == right,
            CmpOp::Lt => left < right,
            CmpOp::Lte => left <= right,
            CmpOp::Gt => left > right,
            CmpOp::Gte => left >= right,
        }
    }
}

/// A part of a timestamp (the time modifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// The test an atom applies to each value of its target.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    /// A literal (lowercase ASCII unless `cased`) found by the shared Aho-Corasick scan.
    Literal {
        text: String,
        position: Position,
        cased: bool,
    },
    /// A wildcard pattern or a case-insensitive non-ASCII literal; `hint` (lowercase ASCII) must
    /// occur for it to match, so the scan rules it out cheaply.
    Pattern {
        regex: Regex,
        hint: Option<String>,
    },
    /// The `re` modifier.
    Regex(Regex),
    Cidr(IpNet),
    Compare {
        op: CmpOp,
        value: f64,
    },
    Time {
        part: TimePart,
        op: CmpOp,
        value: i64,
    },
    Exists(bool),
    /// The field is missing or null.
    Null,
    /// The value is the empty string.
    Empty,
    /// Any value (`contains: ''`).
    Any,
    FieldRef {
        other: FieldId,
        position: Position,
        cased: bool,
    },
}

/// One field, one test: the unit the matcher evaluates and caches per event.
#[derive(Debug, Clone)]
pub(crate) struct Atom {
    pub(crate) target: Target,
    pub(crate) test: Test,
}

/// A boolean expression over atoms.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Atom(AtomId),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    AtLeast(usize, Vec<Expr>),
    Const(bool),
}

impl Expr {
    fn and(mut items: Vec<Expr>) -> Expr {
        if items.len() == 1 { items.pop().unwrap_or(Expr::Const(true)) } else { Expr::And(items) }
    }

    fn or(mut items: Vec<Expr>) -> Expr {
        if items.len() == 1 { items.pop().unwrap_or(Expr::Const(false)) } else { Expr::Or(items) }
    }
}

/// Atoms and fields shared by every rule of an engine; identical atoms are stored once.
#[derive(Debug, Default)]
pub(crate) struct AtomTable {
    pub(crate) atoms: Vec<Atom>,
    pub(crate) fields: Vec<String>,
    field_ids: HashMap<String, FieldId>,
    keys: HashMap<String, AtomId>,
    /// The number of atoms before the detection being compiled, for its size limit.
    rule_start: usize,
}

impl AtomTable {
    pub(crate) fn field(&mut self, path: &str) -> FieldId {
        if let Some(id) = self.field_ids.get(path) {
            return *id;
        }
        let id = self.fields.len() as FieldId;
        self.fields.push(path.to_owned());
        self.field_ids.insert(path.to_owned(), id);
        id
    }

    fn atom(&mut self, target: Target, test: Test) -> AtomId {
        let key = format!("{target:?}|{}", test_key(&test));
        if let Some(id) = self.keys.get(&key) {
            return *id;
        }
        let id = self.atoms.len() as AtomId;
        self.atoms.push(Atom { target, test });
        self.keys.insert(key, id);
        id
    }

    /// Forgets the atoms from `len` on (those of a refused detection), so they cost the engine nothing.
    fn truncate(&mut self, len: usize) {
        self.atoms.truncate(len);
        self.keys.retain(|_, id| (*id as usize) < len);
    }
}

fn test_key(test: &Test) -> String {
    match test {
        Test::Pattern { regex, hint } => format!("Pattern({},{hint:?})", regex.as_str()),
        Test::Regex(regex) => format!("Regex({})", regex.as_str()),
        other => format!("{other:?}"),
    }
}

/// A compile error and the key text to find its line by.
pub(crate) type CompileError = (String, RuleErrorKind);

fn invalid(needle: &str, message: impl Into<String>) -> CompileError {
    (needle.to_owned(), RuleErrorKind::Invalid(message.into()))
}

/// Compiles a detection: every search, then the condition(s) over them. A refused detection
/// leaves the table as it was.
pub(crate) fn compile_detection(detection: &Detection, mapping: &FieldMapping, table: &mut AtomTable) -> Result<Expr, CompileError> {
    let before = table.atoms.len();
    table.rule_start = before;
    let result = compile_searches(detection, mapping, table);
    if result.is_err() {
        table.truncate(before);
    }
    result
}

fn compile_searches(detection: &Detection, mapping: &FieldMapping, table: &mut AtomTable) -> Result<Expr, CompileError> {
    let mut searches: Vec<(&str, Expr)> = Vec::with_capacity(detection.searches.len());
    for (name, value) in &detection.searches {
        let expr = compile_search(name, value, mapping, table)?;
        searches.push((name.as_str(), expr));
    }
    let mut conditions = Vec::new();
    for text in &detection.conditions {
        let condition = condition::parse_condition(text).map_err(|e| invalid("condition", format!("condition `{text}`: {e}")))?;
        conditions.push(resolve(&condition, &searches)?);
    }
    Ok(Expr::or(conditions))
}

/// Refuses a detection that would grow past [`MAX_ATOMS_PER_RULE`] with `more` atoms; checked
/// before compiling, since each wildcard value costs a regex.
fn check_size(table: &AtomTable, more: usize, needle: &str) -> Result<(), CompileError> {
    if table.atoms.len() - table.rule_start + more > MAX_ATOMS_PER_RULE {
        return Err(invalid(needle, format!("the detection has more than {MAX_ATOMS_PER_RULE} values")));
    }
    Ok(())
}

/// Turns a parsed condition into an expression, replacing identifiers by their searches.
fn resolve(condition: &Condition, searches: &[(&str, Expr)]) -> Result<Expr, CompileError> {
    Ok(match condition {
        Condition::Ident(name) => match searches.iter().find(|(n, _)| n == name) {
            Some((_, expr)) => expr.clone(),
            None => {
                return Err(invalid(
                    "condition",
                    format!("the condition names `{name}`, which is not a search identifier of the detection"),
                ));
            }
        },
        Condition::Of { quantity, target } => {
            let chosen: Vec<Expr> = searches
                .iter()
                .filter(|(name, _)| match target {
                    OfTarget::Them => !name.starts_with('_'),
                    OfTarget::Pattern(pattern) => condition::pattern_matches(pattern, name),
                })
                .map(|(_, expr)| expr.clone())
                .collect();
            if chosen.is_empty() {
                let what = match target {
                    OfTarget::Them => "them".to_owned(),
                    OfTarget::Pattern(p) => p.clone(),
                };
                return Err(invalid("condition", format!("`of {what}` matches no search identifier")));
            }
            match quantity {
                Quantity::All => Expr::and(chosen),
                Quantity::AtLeast(1) => Expr::or(chosen),
                Quantity::AtLeast(n) => Expr::AtLeast(*n as usize, chosen),
            }
        }
        Condition::Not(inner) => Expr::Not(Box::new(resolve(inner, searches)?)),
        Condition::And(items) => Expr::And(items.iter().map(|c| resolve(c, searches)).collect::<Result<_, _>>()?),
        Condition::Or(items) => Expr::Or(items.iter().map(|c| resolve(c, searches)).collect::<Result<_, _>>()?),
    })
}

/// A search: a map (AND of fields), a list of maps (OR), or a list of keywords (OR).
fn compile_search(name: &str, value: &Value, mapping: &FieldMapping, table: &mut AtomTable) -> Result<Expr, CompileError> {
    match value {
        Value::Mapping(map) => {
            if map.is_empty() {
                return Err(invalid(name, format!("search `{name}` is empty")));
            }
            let mut items = Vec::with_capacity(map.len());
            for (key, values) in map {
                let key = match key {
                    Value::String(key) => key.as_str(),
                    _ => return Err(invalid(name, format!("search `{name}` has a field name that is not a string"))),
                };
                items.push(compile_field(key, values, mapping, table)?);
            }
            Ok(Expr::and(items))
        }
        Value::Sequence(items) if items.iter().all(|item| matches!(item, Value::Mapping(_))) && !items.is_empty() => {
            let exprs = items.iter().map(|item| compile_search(name, item, mapping, table)).collect::<Result<_, _>>()?;
            Ok(Expr::or(exprs))
        }
        Value::Sequence(items) if items.iter().all(is_scalar) && !items.is_empty() => compile_field("", value, mapping, table),
        Value::String(_) | Value::Number(_) => compile_field("", value, mapping, table),
        Value::Sequence(items) if items.is_empty() => Err(invalid(name, format!("search `{name}` is an empty list"))),
        Value::Sequence(_) => Err(invalid(name, format!("search `{name}` mixes keywords and field maps in one list"))),
        _ => Err(invalid(name, format!("search `{name}` must be a map of fields or a list"))),
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// What the modifiers of one field ask for.
#[derive(Debug, Default)]
struct Modifiers {
    position: Option<Position>,
    all: bool,
    cased: bool,
    neq: bool,
    transforms: Vec<Transform>,
    kind: Kind,
    regex_flags: (bool, bool, bool),
    compare: Option<CmpOp>,
    time: Option<TimePart>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Kind {
    #[default]
    Text,
    Regex,
    Cidr,
    Exists,
    FieldRef,
}

fn parse_modifiers(key: &str, names: &[&str]) -> Result<Modifiers, CompileError> {
    let mut m = Modifiers::default();
    let set_kind = |m: &mut Modifiers, kind: Kind, name: &str| {
        if m.kind != Kind::Text {
            return Err(invalid(key, format!("modifier `{name}` cannot be combined with `{:?}`", m.kind).to_lowercase()));
        }
        m.kind = kind;
        Ok(())
    };
    for name in names {
        match *name {
            "contains" | "startswith" | "endswith" => {
                if m.position.is_some() {
                    return Err(invalid(key, "only one of contains, startswith and endswith may be used"));
                }
                m.position = Some(match *name {
                    "contains" => Position::Contains,
                    "startswith" => Position::Prefix,
                    _ => Position::Suffix,
                });
            }
            "all" => m.all = true,
            "cased" => m.cased = true,
            "neq" => m.neq = true,
            "base64" => m.transforms.push(Transform::Base64),
            "base64offset" => m.transforms.push(Transform::Base64Offset),
            "utf16le" | "wide" => m.transforms.push(Transform::Utf16Le),
            "utf16be" => m.transforms.push(Transform::Utf16Be),
            "utf16" => m.transforms.push(Transform::Utf16Bom),
            "windash" => m.transforms.push(Transform::Windash),
            "expand" => m.transforms.push(Transform::Expand),
            "re" => set_kind(&mut m, Kind::Regex, name)?,
            "i" | "m" | "s" => {
                if m.kind != Kind::Regex {
                    return Err(invalid(key, format!("modifier `{name}` is a flag of `re` and must follow it")));
                }
                match *name {
                    "i" => m.regex_flags.0 = true,
                    "m" => m.regex_flags.1 = true,
                    _ => m.regex_flags.2 = true,
                }
            }
            "cidr" => set_kind(&mut m, Kind::Cidr, name)?,
            "exists" => set_kind(&mut m, Kind::Exists, name)?,
            "fieldref" => set_kind(&mut m, Kind::FieldRef, name)?,
            "gt" | "gte" | "lt" | "lte" => {
                if m.compare.is_some() {
                    return Err(invalid(key, "only one of gt, gte, lt and lte may be used"));
                }
                m.compare = Some(match *name {
                    "gt" => CmpOp::Gt,
                    "gte" => CmpOp::Gte,
                    "lt" => CmpOp::Lt,
                    _ => CmpOp::Lte,
                });
            }
            "minute" | "hour" | "day" | "week" | "month" | "year" => {
                if m.time.is_some() {
                    return Err(invalid(key, "only one time modifier may be used"));
                }
                m.time = Some(match *name {
                    "minute" => TimePart::Minute,
                    "hour" => TimePart::Hour,
                    "day" => TimePart::Day,
                    "week" => TimePart::Week,
                    "month" => TimePart::Month,
                    _ => TimePart::Year,
                });
            }
            "" => return Err(invalid(key, "an empty modifier (`||`)")),
            other => return Err(invalid(key, format!("unknown modifier `{other}`"))),
        }
    }
    let text_only = m.position.is_some() || !m.transforms.is_empty();
    if m.kind != Kind::Text && m.kind != Kind::FieldRef && (text_only || m.cased) {
        return Err(invalid(key, "string modifiers cannot be combined with re, cidr or exists"));
    }
    if (m.compare.is_some() || m.time.is_some()) && (m.kind != Kind::Text || text_only || m.cased) {
        return Err(invalid(key, "numeric and time modifiers cannot be combined with string modifiers"));
    }
    // The value of a fieldref is a field name: encoding or expanding it would be silently lost.
    if m.kind == Kind::FieldRef && !m.transforms.is_empty() {
        return Err(invalid(key, "fieldref cannot be combined with base64, base64offset, utf16, wide, windash or expand"));
    }
    Ok(m)
}

/// One `field|modifiers: value(s)` entry of a search.
fn compile_field(key: &str, values: &Value, mapping: &FieldMapping, table: &mut AtomTable) -> Result<Expr, CompileError> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default();
    let names: Vec<&str> = parts.collect();
    let m = parse_modifiers(key, &names)?;
    let target = if field.is_empty() { Target::Keywords } else { Target::Field(table.field(mapping.field(field))) };
    let needle = if key.is_empty() { "-" } else { key };
    let list: Vec<&Value> = match values {
        Value::Sequence(items) => items.iter().collect(),
        other => vec![other],
    };
    if list.is_empty() {
        return Err(invalid(needle, format!("`{key}` has an empty list of values")));
    }
    if m.all && list.len() < 2 {
        return Err(invalid(needle, format!("`{key}`: the `all` modifier needs a list of two or more values")));
    }
    if target == Target::Keywords && !matches!(m.kind, Kind::Text | Kind::Regex) {
        return Err(invalid(needle, "keywords (values without a field) only take string modifiers and `re`"));
    }
    check_size(table, list.len(), needle)?;
    let mut exprs = Vec::with_capacity(list.len());
    for value in list {
        // A value may expand into many (windash, expand, base64offset).
        check_size(table, 1, needle)?;
        exprs.push(compile_value(key, target, &m, value, mapping, table)?);
    }
    let combined = if m.all { Expr::and(exprs) } else { Expr::or(exprs) };
    Ok(if m.neq { Expr::Not(Box::new(combined)) } else { combined })
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn compile_value(
    key: &str,
    target: Target,
    m: &Modifiers,
    value: &Value,
    mapping: &FieldMapping,
    table: &mut AtomTable,
) -> Result<Expr, CompileError> {
    let needle = if key.is_empty() { "-" } else { key };
    if value.is_null() {
        if m.kind != Kind::Text || m.position.is_some() || !m.transforms.is_empty() || m.compare.is_some() {
            return Err(invalid(needle, format!("`{key}`: null takes no modifiers")));
        }
        return Ok(Expr::Atom(table.atom(target, Test::Null)));
    }
    if matches!(value, Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_)) {
        return Err(invalid(needle, format!("`{key}`: a value must be a string, number, boolean or null")));
    }
    if let Some(part) = m.time {
        let number = value.as_i64().ok_or_else(|| invalid(needle, format!("`{key}`: a time modifier needs a whole number")))?;
        let test = Test::Time { part, op: m.compare.unwrap_or(CmpOp::Eq), value: number };
        return Ok(Expr::Atom(table.atom(target, test)));
    }
    if let Some(op) = m.compare {
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid(needle, format!("`{key}`: gt, gte, lt and lte need a number")))?;
        return Ok(Expr::Atom(table.atom(target, Test::Compare { op, value: number })));
    }
    let text = scalar_text(value).ok_or_else(|| invalid(needle, format!("`{key}`: unsupported value")))?;
    match m.kind {
        Kind::Exists => {
            let Value::Bool(exists) = value else {
                return Err(invalid(needle, format!("`{key}`: exists needs true or false")));
            };
            Ok(Expr::Atom(table.atom(target, Test::Exists(*exists))))
        }
        Kind::Cidr => {
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| invalid(needle, format!("`{key}`: `{text}` is not a CIDR network")))?;
            Ok(Expr::Atom(table.atom(target, Test::Cidr(net))))
        }
        Kind::Regex => {
            let (i, multi, dot) = m.regex_flags;
            let regex = RegexBuilder::new(&text)
                .case_insensitive(i)
                .multi_line(multi)
                .dot_matches_new_line(dot)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| (needle.to_owned(), RuleErrorKind::Unsupported(regex_error(&text, &e))))?;
            Ok(Expr::Atom(table.atom(target, Test::Regex(regex))))
        }
        Kind::FieldRef => {
            let other = table.field(mapping.field(&text));
            let test = Test::FieldRef { other, position: m.position.unwrap_or(Position::Exact), cased: m.cased };
            Ok(Expr::Atom(table.atom(target, test)))
        }
        Kind::Text => {
            let parsed = if matches!(value, Value::String(_)) { SigmaString::parse(&text) } else { SigmaString::plain(&text) };
            let variants =
                apply_transforms(parsed, &m.transforms, mapping.placeholders()).map_err(|e| invalid(needle, format!("`{key}`: {e}")))?;
            // base64 output is case-significant: matching it case-insensitively would invent matches.
            let encoded = m.transforms.iter().any(|t| matches!(t, Transform::Base64 | Transform::Base64Offset));
            let cased = m.cased || encoded;
            let position = match (target, m.position) {
                (Target::Keywords, None) => Position::Contains,
                (_, position) => position.unwrap_or(Position::Exact),
            };
            let mut atoms = Vec::with_capacity(variants.len());
            for mut variant in variants {
                variant.wrap(
                    matches!(position, Position::Contains | Position::Suffix),
                    matches!(position, Position::Contains | Position::Prefix),
                );
                let test = string_test(&variant, cased).map_err(|e| (needle.to_owned(), RuleErrorKind::Unsupported(e)))?;
                atoms.push(Expr::Atom(table.atom(target, test)));
            }
            Ok(Expr::or(atoms))
        }
    }
}

fn regex_error(text: &str, error: &regex::Error) -> String {
    let detail = error.to_string();
    if detail.contains("look-around") || detail.contains("backreferences") {
        format!("regex `{text}` needs backtracking (look-around or backreferences), which Rampart refuses to keep matching in linear time")
    } else if matches!(error, regex::Error::CompiledTooBig(_)) {
        format!("regex `{text}` is too large to compile")
    } else {
        format!("regex `{text}` is invalid: {}", detail.lines().last().unwrap_or_default().trim())
    }
}

/// The test for a (wrapped) Sigma string: a literal at a position when it has no inner
/// wildcards, else a pattern.
fn string_test(value: &SigmaString, cased: bool) -> Result<Test, String> {
    let literal = match value.pieces.as_slice() {
        [] => return Ok(Test::Empty),
        [Piece::Many] => return Ok(Test::Any),
        [Piece::Text(t)] => Some((t, Position::Exact)),
        [Piece::Many, Piece::Text(t), Piece::Many] => Some((t, Position::Contains)),
        [Piece::Text(t), Piece::Many] => Some((t, Position::Prefix)),
        [Piece::Many, Piece::Text(t)] => Some((t, Position::Suffix)),
        _ => None,
    };
    if let Some((text, position)) = literal
        && (cased || text.is_ascii())
    {
        let text = if cased { text.clone() } else { text.to_ascii_lowercase() };
        return Ok(Test::Literal { text, position, cased });
    }
    let mut pattern = String::from(if cased { "(?s)^" } else { "(?si)^" });
    for piece in &value.pieces {
        match piece {
            Piece::Text(t) => pattern.push_str(&regex::escape(t)),
            Piece::Many => pattern.push_str(".*"),
            Piece::One => pattern.push('.'),
        }
    }
    pattern.push('$');
    let regex =
        RegexBuilder::new(&pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| format!("the value is too complex to match: {e}"))?;
    let hint = value
        .longest_text()
        .and_then(|text| text.split(|c: char| !c.is_ascii()).max_by_key(|s| s.len()))
        .filter(|s| s.len() >= 2)
        .map(str::to_ascii_lowercase);
    Ok(Test::Pattern { regex, hint })
}
