//! Access-log formats: nginx `log_format` strings compiled into literals and typed variables.

use std::fmt;

use crate::access::AccessLogError;

/// The nginx and Apache `combined` format. Apache writes its `%l` (ident) where nginx writes a
/// literal `-`, so that position is a variable here and both parse.
const COMBINED: &str =
    r#"$remote_addr $remote_ident $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// The Common Log Format (nginx and Apache `common`).
const COMMON: &str = r#"$remote_addr $remote_ident $remote_user [$time_local] "$request" $status $body_bytes_sent"#;
/// `combined` plus a ground-truth label, as `rampart generate` writes it for drills.
const COMBINED_TRUTH: &str = r#"$remote_addr $remote_ident $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$rampart_truth""#;

/// The name of the one format that reads ground-truth labels (`$rampart_truth` → `rampart.truth`).
pub const TRUTH_FORMAT: &str = "combined-truth";

/// Built-in text formats: (name, `log_format`, whether text after the last field is allowed).
/// `combined` and `common` accept trailing fields because real servers append some
/// (`"$http_x_forwarded_for"`, Apache's `%I %O`); the line is kept whole in `event.original`.
pub const BUILTIN_FORMATS: &[(&str, &str, bool)] =
    &[("combined", COMBINED, true), ("common", COMMON, true), ("combined-truth", COMBINED_TRUTH, false)];

/// The most variables a format may have: a record keeps their values in a fixed array.
pub const MAX_VARIABLES: usize = 32;

/// A variable of a log format. Known ones map onto catalogue fields; others are kept as
/// `nginx.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variable {
    /// `$remote_addr` (Apache `%h`): the peer, a client or a proxy.
    RemoteAddr,
    /// Apache's `%l`; always `-` in practice and ignored.
    RemoteIdent,
    /// `$remote_user`: the HTTP basic-auth user.
    RemoteUser,
    /// `$remote_port`.
    RemotePort,
    /// `$time_local`: `22/Nov/2026:10:00:03 +0000`.
    TimeLocal,
    /// `$time_iso8601`: `2026-11-22T10:00:03+00:00`.
    TimeIso8601,
    /// `$msec`: seconds since the epoch with milliseconds.
    Msec,
    /// `$request`: `GET /path?query HTTP/1.1`.
    Request,
    /// `$request_method`.
    RequestMethod,
    /// `$request_uri`: the path and query as sent.
    RequestUri,
    /// `$uri` / `$document_uri`: the path.
    Uri,
    /// `$args` / `$query_string`.
    Args,
    /// `$server_protocol`.
    ServerProtocol,
    /// `$status`.
    Status,
    /// `$body_bytes_sent` (or `$bytes_sent`).
    BodyBytesSent,
    /// `$request_length`.
    RequestLength,
    /// `$host`, `$http_host`, `$server_name`.
    Host,
    /// `$http_referer`.
    Referer,
    /// `$http_user_agent`.
    UserAgent,
    /// `$rampart_truth`: a ground-truth label of generated traffic. Only the built-in
    /// `combined-truth` format has it; in any other format `$rampart_truth` is an
    /// [`Other`](Variable::Other) variable like any unknown one, so production logs never carry labels.
    Truth,
    /// Any other variable (`$http_x_forwarded_for`, `$request_time`, ...), by name without `$`.
    Other(String),
}

impl Variable {
    fn from_name(name: &str) -> Variable {
        match name {
            "remote_addr" => Variable::RemoteAddr,
            "remote_ident" => Variable::RemoteIdent,
            "remote_user" => Variable::RemoteUser,
            "remote_port" => Variable::RemotePort,
            "time_local" => Variable::TimeLocal,
            "time_iso8601" => Variable::TimeIso8601,
            "msec" => Variable::Msec,
            "request" => Variable::Request,
            "request_method" => Variable::RequestMethod,
            "request_uri" => Variable::RequestUri,
            "uri" | "document_uri" => Variable::Uri,
            "args" | "query_string" => Variable::Args,
            "server_protocol" => Variable::ServerProtocol,
            "status" => Variable::Status,
            "body_bytes_sent" | "bytes_sent" => Variable::BodyBytesSent,
            "request_length" => Variable::RequestLength,
            "host" | "http_host" | "server_name" => Variable::Host,
            "http_referer" => Variable::Referer,
            "http_user_agent" => Variable::UserAgent,
            other => Variable::Other(other.to_owned()),
        }
    }
}

/// One piece of a format: text that must appear as written, or a variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Literal(String),
    Variable(Variable),
}

/// A compiled text format: what [`LogFormat::parse_line`](crate::LogFormat) matches lines against.
#[derive(Clone, PartialEq, Eq)]
pub struct LogFormat {
    pub(crate) name: String,
    pub(crate) tokens: Vec<Token>,
    pub(crate) allow_trailing: bool,
    /// How many variables the format has (slots in a parsed record).
    pub(crate) variables: usize,
}

impl fmt::Debug for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogFormat").field("name", &self.name).field("variables", &self.variables).finish_non_exhaustive()
    }
}

impl LogFormat {
    /// The built-in format called `name` (`combined`, `common`, `combined-truth`).
    pub fn builtin(name: &str) -> Option<LogFormat> {
        let (name, text, allow_trailing) = BUILTIN_FORMATS.iter().find(|(n, _, _)| *n == name)?;
        let mut format = LogFormat::compile(name, text).ok()?;
        format.allow_trailing = *allow_trailing;
        if *name == TRUTH_FORMAT {
            for token in &mut format.tokens {
                if matches!(token, Token::Variable(Variable::Other(other)) if other == "rampart_truth") {
                    *token = Token::Variable(Variable::Truth);
                }
            }
        }
        Some(format)
    }

    /// Compiles an nginx `log_format` string: `$name` and `${name}` are variables, anything
    /// else must appear as written. Two variables need text between them, or a line could not
    /// be split unambiguously.
    pub fn compile(name: &str, text: &str) -> Result<LogFormat, AccessLogError> {
        let invalid = |reason: String| AccessLogError::InvalidFormat { name: name.to_owned(), reason };
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut variables = 0;
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            literal.push_str(&rest[..dollar]);
            rest = &rest[dollar + 1..];
            let (var_name, after) = if let Some(braced) = rest.strip_prefix('{') {
                let end = braced.find('}').ok_or_else(|| invalid("a `${` is not closed by `}`".into()))?;
                (&braced[..end], &braced[end + 1..])
            } else {
                let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
            if var_name.is_empty() || !var_name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(invalid(format!("`${var_name}` is not a variable name (letters, digits and `_`)")));
            }
            if literal.is_empty() && matches!(tokens.last(), Some(Token::Variable(_))) {
                return Err(invalid(format!("`${var_name}` follows another variable with no text between them")));
            }
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal)));
            }
            tokens.push(Token::Variable(Variable::from_name(var_name)));
            variables += 1;
            rest = after;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        if variables == 0 {
            return Err(invalid("the format has no variables".into()));
        }
        if variables > MAX_VARIABLES {
            return Err(invalid(format!("the format has {variables} variables; at most {MAX_VARIABLES} are supported")));
        }
        Ok(LogFormat { name: name.to_owned(), tokens, allow_trailing: false, variables })
    }

    /// The format's name, as used in `POST /v1/logs/{format}` and `--format`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The format's variables, in order.
    pub fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.tokens.iter().filter_map(|token| match token {
            Token::Variable(variable) => Some(variable),
            Token::Literal(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_compile() {
        for (name, _, trailing) in BUILTIN_FORMATS {
            let format = LogFormat::builtin(name).unwrap();
            assert_eq!(format.allow_trailing, *trailing);
        }
        let combined = LogFormat::builtin("combined").unwrap();
        assert_eq!(combined.variables, 9);
        assert_eq!(combined.tokens[0], Token::Variable(Variable::RemoteAddr));
        assert_eq!(combined.tokens[1], Token::Literal(" ".into()));
        assert_eq!(combined.tokens[5], Token::Literal(" [".into()));
        assert!(LogFormat::builtin("nope").is_none());
    }

    #[test]
    fn issue_12_only_combined_truth_knows_the_truth_variable() {
        let truth = LogFormat::builtin(TRUTH_FORMAT).unwrap();
        assert_eq!(truth.variables().last(), Some(&Variable::Truth));
        for format in [LogFormat::compile("mine", "$remote_addr $status $rampart_truth").unwrap(), LogFormat::builtin("combined").unwrap()]
        {
            assert!(!format.variables().any(|v| *v == Variable::Truth), "{format:?}");
        }
        let mine = LogFormat::compile("mine", "$remote_addr $status $rampart_truth").unwrap();
        assert_eq!(mine.variables().last(), Some(&Variable::Other("rampart_truth".into())));
    }

    #[test]
    fn custom_formats() {
        let format = LogFormat::compile("main", r#"${remote_addr}|$request_time|"$http_x_forwarded_for""#).unwrap();
        let vars: Vec<_> = format.variables().cloned().collect();
        assert_eq!(
            vars,
            vec![Variable::RemoteAddr, Variable::Other("request_time".into()), Variable::Other("http_x_forwarded_for".into())]
        );
        assert_eq!(format.tokens.last(), Some(&Token::Literal("\"".into())));
    }

    #[test]
    fn bad_formats_are_explained() {
        for (text, reason) in [
            ("$remote_addr$status", "follows another variable"),
            ("no variables", "no variables"),
            ("${remote_addr", "not closed"),
            ("$ x", "not a variable name"),
            ("${a-b}", "not a variable name"),
        ] {
            let error = LogFormat::compile("f", text).unwrap_err().to_string();
            assert!(error.contains(reason) && error.contains("`f`"), "{text}: {error}");
        }
        let many = (0..40).map(|i| format!("$v{i}")).collect::<Vec<_>>().join(" ");
        assert!(LogFormat::compile("f", &many).unwrap_err().to_string().contains("at most 32"));
    }
}
