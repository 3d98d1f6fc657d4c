//! Parser for the `condition` of a Sigma rule's detection (SigmaHQ specification v2).
// The rule compiler that calls this lands separately; until then only the tests use it.

/// Longest condition accepted, in bytes; real rules stay far below it.
const MAX_LEN: usize = 16 * 1024;
/// Deepest nesting of parentheses and `not` accepted; it bounds the parser's recursion.
pub(crate) const MAX_DEPTH: usize = 64;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Condition {
    /// A search identifier named in the condition, e.g. `selection`.
    Ident(String),
    /// `1 of selection_*`, `all of them`, `3 of filter*`.
    Of { quantity: Quantity, target: OfTarget },
    /// `not x`.
    Not(Box<Condition>),
    /// `a and b and ...`: flattened (no `And` directly inside), at least 2 children.
    And(Vec<Condition>),
    /// `a or b or ...`: flattened (no `Or` directly inside), at least 2 children.
    Or(Vec<Condition>),
}

/// How many of the search identifiers an `x of` expression ranges over must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantity {
    /// `all of`.
    All,
    /// `N of`; `any of` is `AtLeast(1)`. Never 0.
    AtLeast(u32),
}

/// What an `x of` expression ranges over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OfTarget {
    /// `them`: every search identifier of the rule.
    Them,
    /// The identifiers matching a pattern in which `*` matches any run of characters.
    Pattern(String),
}

/// Why a condition could not be parsed; `position` is the 1-based character position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position} of the condition)")]
pub(crate) struct ConditionError {
    /// 1-based character (not byte) position; one past the last character for problems at the end.
    pub(crate) position: usize,
    /// What was expected and what was found.
    pub(crate) message: String,
}

fn error(position: usize, message: impl Into<String>) -> ConditionError {
    ConditionError { position, message: message.into() }
}

/// Whether an identifier matches an `x of` pattern (`*` = any run of characters, everything else literal, case-sensitive).
pub(crate) fn pattern_matches(pattern: &str, ident: &str) -> bool {
    // Leftmost matching of each middle part is optimal for `*`-only patterns, so no backtracking is needed.
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(last) = parts.next_back() else { return ident == first };
    let Some(mut rest) = ident.strip_prefix(first) else { return false };
    for part in parts {
        let Some(at) = rest.find(part) else { return false };
        rest = &rest[at + part.len()..];
    }
    rest.ends_with(last)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Close,
    And,
    Or,
    Not,
    Of,
    All,
    Any,
    Them,
    /// A word of digits only: always a quantity, never an identifier.
    Number,
    /// An identifier, or a pattern when it contains `*`.
    Word,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    position: usize,
}

fn describe(token: Option<&Token<'_>>) -> String {
    match token {
        None => "the end of the condition".to_owned(),
        Some(Token { kind: Kind::Word, text, .. }) => format!("identifier `{text}`"),
        Some(Token { kind: Kind::Number, text, .. }) => format!("number `{text}`"),
        Some(Token { text, .. }) => format!("`{text}`"),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*')
}

fn classify(word: &str) -> Kind {
    const KEYWORDS: [&str; 7] = ["and", "or", "not", "of", "all", "any", "them"];
    const KINDS: [Kind; 7] = [Kind::And, Kind::Or, Kind::Not, Kind::Of, Kind::All, Kind::Any, Kind::Them];
    if let Some(index) = KEYWORDS.iter().position(|keyword| keyword.eq_ignore_ascii_case(word)) {
        KINDS[index]
    } else if word.bytes().all(|b| b.is_ascii_digit()) {
        Kind::Number
    } else {
        Kind::Word
    }
}

fn tokenize(text: &str) -> Result<Vec<Token<'_>>, ConditionError> {
    let mut tokens = Vec::new();
    let (mut at, mut position) = (0, 1);
    while let Some(c) = text[at..].chars().next() {
        let word = is_word_char(c);
        let len = if word { text[at..].find(|c| !is_word_char(c)).unwrap_or(text.len() - at) } else { c.len_utf8() };
        let kind = match c {
            ' ' | '\t' | '\n' | '\r' => None,
            '(' => Some(Kind::Open),
            ')' => Some(Kind::Close),
            _ if word => Some(classify(&text[at..at + len])),
            c => return Err(error(position, format!("unexpected character {c:?}; expected a search identifier, a keyword, `(` or `)`"))),
        };
        if let Some(kind) = kind {
            tokens.push(Token { kind, text: &text[at..at + len], position });
        }
        at += len;
        // Word characters are ASCII, so a word's length in bytes is also its length in characters.
        position += if word { len } else { 1 };
    }
    Ok(tokens)
}

/// What may start an operand, for "expected ..." messages.
const OPERAND: &str = "a search identifier, `not`, `(` or `N of`/`all of`/`any of`";

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    next: usize,
    depth: usize,
    /// Position reported for problems at the end of the input: one past its last character.
    end: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.next)
    }

    fn advance(&mut self) -> Option<Token<'a>> {
        let token = self.tokens.get(self.next).copied();
        self.next += usize::from(token.is_some());
        token
    }

    fn position(&self) -> usize {
        self.peek().map_or(self.end, |t| t.position)
    }

    fn eat(&mut self, kind: Kind) -> Option<Token<'a>> {
        if self.peek().is_some_and(|t| t.kind == kind) { self.advance() } else { None }
    }

    /// Counts one level of nesting; the caller undoes it when the nested part is parsed.
    fn enter(&mut self, position: usize) -> Result<(), ConditionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(position, format!("conditions may nest parentheses and `not` at most {MAX_DEPTH} deep")));
        }
        Ok(())
    }

    /// Parses operands joined by `or` (or by `and`), splicing in nested chains of the same operator.
    fn parse_chain(&mut self, or: bool) -> Result<Condition, ConditionError> {
        let operand = |parser: &mut Self| if or { parser.parse_chain(false) } else { parser.parse_not() };
        let (operator, wrap): (_, fn(_) -> _) = if or { (Kind::Or, Condition::Or) } else { (Kind::And, Condition::And) };
        let first = operand(self)?;
        if self.eat(operator).is_none() {
            return Ok(first);
        }
        let mut children = Vec::new();
        push_flat(&mut children, first, or);
        loop {
            let next = operand(self)?;
            push_flat(&mut children, next, or);
            if self.eat(operator).is_none() {
                return Ok(wrap(children));
            }
        }
    }

    fn parse_not(&mut self) -> Result<Condition, ConditionError> {
        let Some(not) = self.eat(Kind::Not) else { return self.parse_primary() };
        self.enter(not.position)?;
        let inner = self.parse_not()?;
        self.depth -= 1;
        Ok(Condition::Not(Box::new(inner)))
    }

    fn parse_primary(&mut self) -> Result<Condition, ConditionError> {
        let position = self.position();
        let Some(token) = self.advance() else {
            return Err(error(position, format!("expected {OPERAND}, found the end of the condition")));
        };
        let quantity = match token.kind {
            Kind::Open => {
                self.enter(position)?;
                let inner = self.parse_chain(true)?;
                let close_at = self.position();
                match self.advance() {
                    Some(Token { kind: Kind::Close, .. }) => {}
                    other => {
                        let found = describe(other.as_ref());
                        return Err(error(
                            close_at,
                            format!("expected `and`, `or` or `)` closing the `(` at character {position}, found {found}"),
                        ));
                    }
                }
                self.depth -= 1;
                return Ok(inner);
            }
            Kind::Word if token.text.contains('*') => {
                return Err(error(position, format!("wildcards are only allowed after `of` (in `{}`)", token.text)));
            }
            Kind::Word => return Ok(Condition::Ident(token.text.to_owned())),
            Kind::Number => match token.text.parse::<u32>() {
                Ok(0) => return Err(error(position, "the quantity before `of` must be at least 1")),
                Ok(n) => Quantity::AtLeast(n),
                Err(_) => return Err(error(position, format!("the quantity `{}` is too large", token.text))),
            },
            Kind::All => Quantity::All,
            Kind::Any => Quantity::AtLeast(1),
            Kind::Them => return Err(error(position, "`them` is only allowed after `of`")),
            Kind::Close | Kind::And | Kind::Or | Kind::Not | Kind::Of => {
                return Err(error(position, format!("expected {OPERAND}, found {}", describe(Some(&token)))));
            }
        };
        if self.eat(Kind::Of).is_none() {
            let message = format!("expected `of` after `{}`, found {}", token.text, describe(self.peek()));
            return Err(error(self.position(), message));
        }
        let target_at = self.position();
        let target = match self.advance() {
            Some(Token { kind: Kind::Them, .. }) => OfTarget::Them,
            Some(Token { kind: Kind::Word, text, .. }) => OfTarget::Pattern(text.to_owned()),
            other => {
                let found = describe(other.as_ref());
                return Err(error(target_at, format!("expected a search identifier pattern or `them` after `of`, found {found}")));
            }
        };
        Ok(Condition::Of { quantity, target })
    }
}

/// Appends `part` to the children of an `Or` (or `And`), splicing in its children when it is one itself.
fn push_flat(children: &mut Vec<Condition>, part: Condition, or: bool) {
    match part {
        Condition::Or(inner) if or => children.extend(inner),
        Condition::And(inner) if !or => children.extend(inner),
        other => children.push(other),
    }
}

/// Parses the `condition` of a Sigma detection.
pub(crate) fn parse_condition(text: &str) -> Result<Condition, ConditionError> {
    if text.len() > MAX_LEN {
        let mut boundary = MAX_LEN;
        while !text.is_char_boundary(boundary) {
            boundary -= 1;
        }
        return Err(error(text[..boundary].chars().count() + 1, format!("condition longer than {MAX_LEN} bytes")));
    }
    // Checked before anything else so that `sel | count() > 5` names the real problem, not `>`.
    if let Some(at) = text.find('|') {
        let message = "the `|` aggregation syntax of Sigma 1 is not supported; write a Sigma correlation rule instead";
        return Err(error(text[..at].chars().count() + 1, message));
    }
    let tokens = tokenize(text)?;
    let end = text.chars().count() + 1;
    if tokens.is_empty() {
        return Err(error(end, "the condition is empty"));
    }
    let mut parser = Parser { tokens, next: 0, depth: 0, end };
    let condition = parser.parse_chain(true)?;
    match parser.peek() {
        None => Ok(condition),
        Some(token) if token.kind == Kind::Close => Err(error(token.position, "unbalanced parentheses: `)` without a matching `(`")),
        Some(token) => {
            Err(error(token.position, format!("expected `and`, `or` or the end of the condition, found {}", describe(Some(token)))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Condition::{And, Not, Or};
    use proptest::prelude::*;

    fn id(name: &str) -> Condition {
        Condition::Ident(name.to_owned())
    }

    fn of(quantity: Quantity, pattern: &str) -> Condition {
        Condition::Of { quantity, target: OfTarget::Pattern(pattern.to_owned()) }
    }

    fn parse(text: &str) -> Condition {
        parse_condition(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn identifiers_and_operators() {
        assert_eq!(parse("selection"), id("selection"));
        assert_eq!(parse("Sel_1-a.b"), id("Sel_1-a.b"));
        assert_eq!(parse("1a"), id("1a"));
        assert_eq!(parse("a and b"), And(vec![id("a"), id("b")]));
        assert_eq!(parse("a or b"), Or(vec![id("a"), id("b")]));
        assert_eq!(parse("not a"), Not(Box::new(id("a"))));
        assert_eq!(parse("not not a"), Not(Box::new(Not(Box::new(id("a"))))));
        assert_eq!(parse(" \t(a)and\n(b) "), And(vec![id("a"), id("b")]));
        assert_eq!(parse("A AND NOT B Or c"), Or(vec![And(vec![id("A"), Not(Box::new(id("B")))]), id("c")]));
    }

    #[test]
    fn precedence_and_parentheses() {
        assert_eq!(parse("a or b and not c"), Or(vec![id("a"), And(vec![id("b"), Not(Box::new(id("c")))])]));
        assert_eq!(parse("a and b or c"), Or(vec![And(vec![id("a"), id("b")]), id("c")]));
        assert_eq!(parse("(a or b) and c"), And(vec![Or(vec![id("a"), id("b")]), id("c")]));
        assert_eq!(parse("not (a and b)"), Not(Box::new(And(vec![id("a"), id("b")]))));
        assert_eq!(parse("not a and b"), And(vec![Not(Box::new(id("a"))), id("b")]));
        assert_eq!(parse("((a))"), id("a"));
    }

    #[test]
    fn flattening() {
        assert_eq!(parse("a and b and c"), And(vec![id("a"), id("b"), id("c")]));
        assert_eq!(parse("(a and b) and c"), And(vec![id("a"), id("b"), id("c")]));
        assert_eq!(parse("a and (b and (c and d))"), And(vec![id("a"), id("b"), id("c"), id("d")]));
        assert_eq!(parse("a or (b or c) or d"), Or(vec![id("a"), id("b"), id("c"), id("d")]));
        assert_eq!(parse("(a or b) or (c and d)"), Or(vec![id("a"), id("b"), And(vec![id("c"), id("d")])]));
    }

    #[test]
    fn of_expressions() {
        let them = |quantity| Condition::Of { quantity, target: OfTarget::Them };
        assert_eq!(parse("all of them"), them(Quantity::All));
        assert_eq!(parse("ALL OF THEM"), them(Quantity::All));
        assert_eq!(parse("any of them"), them(Quantity::AtLeast(1)));
        assert_eq!(parse("1 Of Them"), them(Quantity::AtLeast(1)));
        assert_eq!(parse("3 of sel*"), of(Quantity::AtLeast(3), "sel*"));
        assert_eq!(parse("4294967295 of x"), of(Quantity::AtLeast(u32::MAX), "x"));
        assert_eq!(parse("all of selection"), of(Quantity::All, "selection"));
        assert_eq!(parse("1 of *"), of(Quantity::AtLeast(1), "*"));
        assert_eq!(parse("1 of them*"), of(Quantity::AtLeast(1), "them*"));
        assert_eq!(parse("not 1 of filter*"), Not(Box::new(of(Quantity::AtLeast(1), "filter*"))));
        assert_eq!(
            parse("1 of selection* and not 1 of filter*"),
            And(vec![of(Quantity::AtLeast(1), "selection*"), Not(Box::new(of(Quantity::AtLeast(1), "filter*")))])
        );
    }

    #[test]
    fn patterns() {
        let m = pattern_matches;
        assert_eq!([m("selection", "selection"), m("selection", "selection1"), m("selection*", "selection")], [true, false, true]);
        assert_eq!([m("selection*", "selection_1"), m("selection*", "Selection_1"), m("*_img", "sel_img")], [true, false, true]);
        assert_eq!([m("*_img", "sel_img2"), m("a*b*c", "aXXbYYc"), m("a*b", "aXbYb"), m("a*b", "aXbYc")], [false, true, true, false]);
        assert_eq!([m("*", ""), m("**", "x"), m("", ""), m("", "x"), m("a*", ""), m("a*a", "a")], [true, true, true, false, false, false]);
        assert_eq!([m("sel.*", "sel.x"), m("sel.*", "selx"), m("*x*", "abxcd"), m("a*bc*bc", "abcbc")], [true, false, true, true]);
    }

    /// Asserts that `text` fails with exactly this position and message.
    fn fails(text: &str, position: usize, message: &str) {
        let e = parse_condition(text).expect_err(text);
        assert_eq!((e.position, e.message.as_str()), (position, message), "{text:?}");
    }

    #[test]
    fn structural_errors() {
        let found_end = format!("expected {OPERAND}, found the end of the condition");
        fails("", 1, "the condition is empty");
        fails(" \n\t", 4, "the condition is empty");
        fails("selection and", 14, &found_end);
        fails("a or", 5, &found_end);
        fails("not", 4, &found_end);
        fails("and a", 1, &format!("expected {OPERAND}, found `and`"));
        fails("a and or b", 7, &format!("expected {OPERAND}, found `or`"));
        fails("()", 2, &format!("expected {OPERAND}, found `)`"));
        fails("of x", 1, &format!("expected {OPERAND}, found `of`"));
        fails("(a", 3, "expected `and`, `or` or `)` closing the `(` at character 1, found the end of the condition");
        fails("x and ((a) b", 12, "expected `and`, `or` or `)` closing the `(` at character 7, found identifier `b`");
        fails("a)", 2, "unbalanced parentheses: `)` without a matching `(`");
        fails("(a))", 4, "unbalanced parentheses: `)` without a matching `(`");
        fails("a b", 3, "expected `and`, `or` or the end of the condition, found identifier `b`");
        fails("a not b", 3, "expected `and`, `or` or the end of the condition, found `not`");
        let e = parse_condition("a and").expect_err("missing operand");
        assert_eq!(e.to_string(), format!("{found_end} (at character 6 of the condition)"));
    }

    #[test]
    fn lexical_and_of_errors() {
        let pipe = "the `|` aggregation syntax of Sigma 1 is not supported; write a Sigma correlation rule instead";
        fails("selection | count() > 5", 11, pipe);
        fails("é > b | x", 7, pipe);
        fails("a & b", 3, "unexpected character '&'; expected a search identifier, a keyword, `(` or `)`");
        fails("sél", 2, "unexpected character 'é'; expected a search identifier, a keyword, `(` or `)`");
        fails("a\0", 2, "unexpected character '\\0'; expected a search identifier, a keyword, `(` or `)`");
        fails("a and sel*", 7, "wildcards are only allowed after `of` (in `sel*`)");
        fails("0 of x", 1, "the quantity before `of` must be at least 1");
        fails("4294967296 of x", 1, "the quantity `4294967296` is too large");
        fails("1", 2, "expected `of` after `1`, found the end of the condition");
        fails("all selection", 5, "expected `of` after `all`, found identifier `selection`");
        fails("ANY x", 5, "expected `of` after `ANY`, found identifier `x`");
        fails("them", 1, "`them` is only allowed after `of`");
        let target = "expected a search identifier pattern or `them` after `of`, found";
        fails("1 of", 5, &format!("{target} the end of the condition"));
        fails("1 of (a)", 6, &format!("{target} `(`"));
        fails("1 of all", 6, &format!("{target} `all`"));
        fails("1 of 2", 6, &format!("{target} number `2`"));
    }

    #[test]
    fn depth_and_length_limits() {
        let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
        let too_deep = &format!("conditions may nest parentheses and `not` at most {MAX_DEPTH} deep");
        assert_eq!(parse(&nested(MAX_DEPTH)), id("a"));
        fails(&nested(MAX_DEPTH + 1), MAX_DEPTH + 1, too_deep);
        fails(&"(".repeat(10_000), MAX_DEPTH + 1, too_deep);
        let nots = |n: usize| format!("{}a", "not ".repeat(n));
        assert!(parse_condition(&nots(MAX_DEPTH)).is_ok());
        fails(&nots(MAX_DEPTH + 1), 4 * MAX_DEPTH + 1, too_deep);
        fails(&nots(4000), 4 * MAX_DEPTH + 1, too_deep);
        // Parentheses and `not` count together.
        fails(&format!("{}a", "not (".repeat(MAX_DEPTH / 2 + 1)), 5 * (MAX_DEPTH / 2) + 1, too_deep);
        let long = "condition longer than 16384 bytes";
        fails(&"(".repeat(100_000), 16_385, long);
        fails(&"not ".repeat(25_000), 16_385, long);
        assert_eq!(parse(&"a".repeat(MAX_LEN)), id(&"a".repeat(MAX_LEN)));
        fails(&"a".repeat(MAX_LEN + 1), 16_385, long);
        // Two-byte characters: the limit falls inside the 8193rd one.
        fails(&"é".repeat(MAX_LEN / 2 + 1), 8193, long);
    }

    const TOKENS: [&str; 15] = ["(", ")", "a", "b", "and", "or", "not", "of", "1", "0", "all", "them", "*", "|", "sel*"];

    fn render(c: &Condition) -> String {
        let join = |children: &[Condition], op: &str| children.iter().map(|c| format!("({})", render(c))).collect::<Vec<_>>().join(op);
        match c {
            Condition::Ident(name) => name.clone(),
            Condition::Of { quantity, target } => {
                let quantity = if let Quantity::AtLeast(n) = quantity { n.to_string() } else { "all".to_owned() };
                let target = if let OfTarget::Pattern(p) = target { p.as_str() } else { "them" };
                format!("{quantity} of {target}")
            }
            Not(inner) => format!("not ({})", render(inner)),
            And(children) => join(children, " and "),
            Or(children) => join(children, " OR "),
        }
    }

    /// What the parser makes of `render(c)`: nested `And`s and `Or`s spliced into their parents.
    fn flatten(c: Condition) -> Condition {
        let splice = |children: Vec<Condition>, or: bool| {
            let mut flat = Vec::new();
            children.into_iter().for_each(|child| push_flat(&mut flat, flatten(child), or));
            flat
        };
        match c {
            Not(inner) => Not(Box::new(flatten(*inner))),
            And(children) => And(splice(children, false)),
            Or(children) => Or(splice(children, true)),
            other => other,
        }
    }

    fn condition() -> impl Strategy<Value = Condition> {
        let quantity = prop_oneof![Just(Quantity::All), (1u32..).prop_map(Quantity::AtLeast)];
        let target = prop_oneof![
            Just(OfTarget::Them),
            "[a-z_*][a-z0-9_*.-]{0,5}".prop_filter("keyword", |s| classify(s) == Kind::Word).prop_map(OfTarget::Pattern)
        ];
        let leaf = prop_oneof![
            "[a-zA-Z_][a-zA-Z0-9_.-]{0,6}".prop_filter("keyword", |s| classify(s) == Kind::Word).prop_map(Condition::Ident),
            (quantity, target).prop_map(|(quantity, target)| Condition::Of { quantity, target }),
        ];
        leaf.prop_recursive(5, 40, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|c| Not(Box::new(c))),
                prop::collection::vec(inner.clone(), 2..4).prop_map(And),
                prop::collection::vec(inner, 2..4).prop_map(Or),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = parse_condition(&text);
        }

        #[test]
        fn never_panics_on_condition_like_text(
            tokens in prop::collection::vec((prop::sample::select(&TOKENS[..]), prop::sample::select(&[" ", "", "\n"][..])), 0..60),
        ) {
            let text: String = tokens.iter().flat_map(|(token, space)| [*token, *space]).collect();
            if let Err(e) = parse_condition(&text) {
                prop_assert!(e.position >= 1 && e.position <= text.chars().count() + 1, "{e} for {text:?}");
            }
        }

        #[test]
        fn patterns_match_like_regexes(pattern in "[ab*]{0,8}", ident in "[ab]{0,10}") {
            let regex = format!("^{}$", pattern.split('*').map(regex::escape).collect::<Vec<_>>().join(".*"));
            prop_assert_eq!(pattern_matches(&pattern, &ident), regex::Regex::new(&regex).unwrap().is_match(&ident));
        }

        #[test]
        fn rendered_conditions_parse_back(c in condition()) {
            let text = render(&c);
            prop_assert_eq!(parse_condition(&text), Ok(flatten(c)), "{}", text);
        }
    }
}
