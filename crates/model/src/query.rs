//! The search language of `GET /v1/events` and `rampart events search`.
//!
//! A query is space-separated terms that must all hold:
//! `field:value` (exact), `field:"a quoted value"`, `field:prefix*`, `field:*` (present),
//! `-field:value` (must not hold), `source.ip:10.0.0.0/8` (CIDR on IP fields),
//! `http.response.status_code:>=500` (numeric comparison), and a bare word or `"phrase"` that
//! some string field must contain (case-insensitive).

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use crate::error::QueryError;
use crate::event::Event;
use crate::fields::{self, FieldType};

/// The most terms one query may have.
const MAX_TERMS: usize = 32;

/// A parsed search query: all terms must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    terms: Vec<Term>,
}

/// One term of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The dotted field path, or `None` for a free-text term.
    pub field: Option<String>,
    /// What must hold.
    pub op: TermOp,
    /// Whether the term is excluded (`-field:value`).
    pub negated: bool,
}

/// What a term asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum TermOp {
    /// The value equals this text (numbers compare by their JSON text).
    Equals(String),
    /// The value starts with this text.
    Prefix(String),
    /// The field is present.
    Exists,
    /// The IP address lies in this network.
    Cidr(IpNet),
    /// The number compares so with this one.
    Compare(Comparison, f64),
    /// Some string value contains this text, ignoring case (stored lower case).
    Contains(String),
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
}

impl Query {
    /// Parses a query; the empty string matches every event.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let mut terms = Vec::new();
        for token in tokenize(text)? {
            if terms.len() == MAX_TERMS {
                return Err(QueryError::TooManyTerms(MAX_TERMS));
            }
            terms.push(parse_term(token)?);
        }
        Ok(Query { terms })
    }

    /// The terms.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Positive exact terms on fields stores index ([`fields::ENTITY_FIELDS`]): a store may
    /// fetch candidates by one of them and check the rest with [`Query::matches`].
    pub fn indexed_terms(&self) -> impl Iterator<Item = (&str, &str)> {
        self.terms.iter().filter_map(|term| match (&term.field, &term.op, term.negated) {
            (Some(field), TermOp::Equals(value), false) if fields::ENTITY_FIELDS.contains(&field.as_str()) => {
                Some((field.as_str(), value.as_str()))
            }
            _ => None,
        })
    }

    /// Whether every term holds for the event.
    pub fn matches(&self, event: &Event) -> bool {
        self.terms.iter().all(|term| term.holds(event) != term.negated)
    }
}

impl Term {
    fn holds(&self, event: &Event) -> bool {
        let Some(field) = &self.field else {
            let TermOp::Contains(needle) = &self.op else { return false };
            let mut found = false;
            event.for_each_string(|_, value| found = found || contains_ignore_case(value, needle));
            return found;
        };
        match (event.get(field), &self.op) {
            (None, _) => false,
            (Some(_), TermOp::Exists) => true,
            (Some(value), op) => any_scalar(value, &|scalar| scalar_holds(scalar, op)),
        }
    }
}

fn any_scalar(value: &Value, test: &dyn Fn(&Value) -> bool) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| any_scalar(item, test)),
        Value::Object(_) => false,
        scalar => test(scalar),
    }
}

fn scalar_holds(value: &Value, op: &TermOp) -> bool {
    let text = match value {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        Value::Number(n) => std::borrow::Cow::Owned(n.to_string()),
        Value::Bool(b) => std::borrow::Cow::Borrowed(if *b { "true" } else { "false" }),
        _ => return false,
    };
    match op {
        TermOp::Equals(want) => text == want.as_str(),
        TermOp::Prefix(prefix) => text.starts_with(prefix.as_str()),
        TermOp::Exists => true,
        TermOp::Cidr(net) => text.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
        TermOp::Compare(comparison, limit) => value.as_f64().or_else(|| text.parse().ok()).is_some_and(|n| match comparison {
            Comparison::Greater => n > *limit,
            Comparison::GreaterOrEqual => n >= *limit,
            Comparison::Less => n < *limit,
            Comparison::LessOrEqual => n <= *limit,
        }),
        TermOp::Contains(needle) => contains_ignore_case(&text, needle),
    }
}

fn contains_ignore_case(haystack: &str, lower_needle: &str) -> bool {
    if haystack.is_ascii() && lower_needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), lower_needle.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(lower_needle)
}

/// A token with the parts that were quoted, so that a quoted `*` stays literal.
struct Token {
    negated: bool,
    field: Option<String>,
    value: String,
    quoted: bool,
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut token = Token { negated: false, field: None, value: String::new(), quoted: false };
        if c == '-' {
            token.negated = true;
            chars.next();
        }
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' => {
                    token.quoted = true;
                    let mut closed = false;
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' => token.value.extend(chars.next().map(|(_, c)| c)),
                            c => token.value.push(c),
                        }
                    }
                    if !closed {
                        return Err(QueryError::UnclosedQuote(start));
                    }
                }
                ':' if token.field.is_none() && !token.quoted => {
                    token.field = Some(std::mem::take(&mut token.value));
                }
                c => token.value.push(c),
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}

fn parse_term(token: Token) -> Result<Term, QueryError> {
    let Token { negated, field, value, quoted } = token;
    let Some(field) = field else {
        return Ok(Term { field: None, op: TermOp::Contains(value.to_lowercase()), negated });
    };
    let written = || format!("{field}:{value}");
    if field.is_empty() {
        return Err(QueryError::EmptyField(written()));
    }
    let is_ip_field = fields::field_type(&field) == Some(FieldType::Ip);
    let op = if quoted {
        TermOp::Equals(value)
    } else if value == "*" {
        TermOp::Exists
    } else if let Some(prefix) = value.strip_suffix('*') {
        TermOp::Prefix(prefix.to_owned())
    } else if let Some((comparison, number)) = comparison(&value) {
        TermOp::Compare(comparison, number.trim().parse().map_err(|_| QueryError::BadNumber(written()))?)
    } else if is_ip_field && value.contains('/') {
        TermOp::Cidr(value.parse::<IpNet>().map_err(|_| QueryError::BadCidr(written()))?.trunc())
    } else if is_ip_field {
        let ip: IpAddr = value.parse().map_err(|_| QueryError::BadCidr(written()))?;
        TermOp::Equals(ip.to_string())
    } else {
        TermOp::Equals(value)
    };
    Ok(Term { field: Some(field), op, negated })
}

fn comparison(value: &str) -> Option<(Comparison, &str)> {
    [(">=", Comparison::GreaterOrEqual), ("<=", Comparison::LessOrEqual), (">", Comparison::Greater), ("<", Comparison::Less)]
        .into_iter()
        .find_map(|(sign, comparison)| value.strip_prefix(sign).map(|rest| (comparison, rest)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Event {
        Event::from_json(json!({
            "@timestamp": "2026-11-22T10:00:00Z",
            "event": {"id": "e1", "action": "login", "outcome": "failure"},
            "source": {"ip": "203.0.113.7"},
            "user": {"name": "Alice Smith"},
            "url": {"original": "/search?q=shoes"},
            "http": {"response": {"status_code": 503}},
            "tags": ["vip", "eu"],
        }))
        .unwrap()
    }

    fn hits(q: &str) -> bool {
        Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}")).matches(&event())
    }

    #[test]
    fn each_term_form_matches_and_misses() {
        let table = [
            ("", true),
            ("event.action:login", true),
            ("event.action:logout", false),
            ("event.action:log*", true),
            ("event.action:\"log*\"", false),
            ("user.name:\"Alice Smith\"", true),
            ("user.name:Alice", false),
            ("-event.outcome:success", true),
            ("-event.outcome:failure", false),
            ("source.ip:203.0.113.0/24", true),
            ("source.ip:198.51.100.0/24", false),
            ("source.ip:203.0.113.7", true),
            ("http.response.status_code:503", true),
            ("http.response.status_code:>=500", true),
            ("http.response.status_code:<500", false),
            ("tags:eu", true),
            ("user.email:*", false),
            ("user.name:*", true),
            ("SHOES", true),
            ("\"q=shoes\"", true),
            ("boots", false),
            ("event.action:login source.ip:203.0.113.0/24 -tags:us", true),
        ];
        for (q, want) in table {
            assert_eq!(hits(q), want, "{q}");
        }
    }

    #[test]
    fn bad_queries_are_explained() {
        assert_eq!(Query::parse("user.name:\"open"), Err(QueryError::UnclosedQuote(0)));
        assert_eq!(Query::parse(":x"), Err(QueryError::EmptyField(":x".into())));
        assert_eq!(Query::parse("source.ip:10.0.0.0/99"), Err(QueryError::BadCidr("source.ip:10.0.0.0/99".into())));
        assert_eq!(Query::parse("source.ip:nope"), Err(QueryError::BadCidr("source.ip:nope".into())));
        assert_eq!(Query::parse("x:>abc"), Err(QueryError::BadNumber("x:>abc".into())));
        assert_eq!(Query::parse(&"a ".repeat(33)), Err(QueryError::TooManyTerms(MAX_TERMS)));
    }

    #[test]
    fn indexed_terms_are_positive_exact_entity_terms() {
        let q = Query::parse("source.ip:203.0.113.7 -user.name:bob url.path:/x user.id:u*").unwrap();
        assert_eq!(q.indexed_terms().collect::<Vec<_>>(), vec![("source.ip", "203.0.113.7")]);
    }
}
