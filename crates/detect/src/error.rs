//! Typed errors of detection: a rule file or rule that cannot be loaded, a mapping that cannot be read.

use std::fmt;

use thiserror::Error;

/// Why one rule (or a whole rule file) was refused. Other rules keep loading.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub struct RuleError {
    /// The file the rule came from (`builtin:<name>` for built-in rules).
    pub file: String,
    /// The 1-based line the problem is on, when known.
    pub line: Option<usize>,
    /// The rule's id, or its title when it has no id.
    pub rule: Option<String>,
    /// What is wrong.
    pub kind: RuleErrorKind,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, ": rule {rule}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// The kinds of [`RuleError`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RuleErrorKind {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Io(String),
    /// The file is larger than a rule file may be.
    #[error("the file is {size} bytes; a rule file may be at most {limit} bytes")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file's YAML aliases expand to more than a rule file may hold.
    #[error("the file expands (YAML aliases included) beyond {values} values or {bytes} bytes of text, the most a rule file may hold")]
    Expands {
        /// The most values.
        values: usize,
        /// The most bytes of scalar text.
        bytes: usize,
    },
    /// All rule files together are larger than the rule set may be.
    #[error("the rule files read so far hold {total} bytes; all rule files together may hold at most {limit} bytes")]
    TotalTooLarge {
        /// The bytes read before this file, plus this file.
        total: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not YAML.
    #[error("not valid YAML: {0}")]
    Yaml(String),
    /// The document breaks the Sigma format (a missing or mistyped attribute, a bad condition ...).
    #[error("{0}")]
    Invalid(String),
    /// The rule uses a feature of the Sigma format Rampart does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A warning, not a refusal: the rule loads and is listed but cannot fire (a correlation
    /// naming a disabled rule).
    #[error("inert: {0}")]
    Inert(String),
}

impl RuleError {
    pub(crate) fn new(file: &str, line: Option<usize>, rule: Option<String>, kind: RuleErrorKind) -> RuleError {
        RuleError { file: file.to_owned(), line, rule, kind }
    }
}

/// Why the field mapping cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The mapping file could not be read.
    #[error("cannot read the field mapping {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// The mapping is not valid YAML of the expected shape.
    #[error("the field mapping {path} is invalid: {message}")]
    Invalid {
        /// The file (`builtin` for the default).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Why saved correlation state could not be restored. Nothing is restored then; correlations
/// start empty.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// The bytes are not a correlation snapshot.
    #[error("not a correlation state snapshot")]
    NotASnapshot,
    /// The snapshot was written by a format this version does not read.
    #[error("correlation state snapshot version {found}; this version reads {expected}")]
    Version {
        /// The snapshot's format version.
        found: u8,
        /// The format version read.
        expected: u8,
    },
    /// The snapshot ends early or holds impossible lengths.
    #[error("the correlation state snapshot is truncated or damaged")]
    Truncated,
    /// One correlation's windowed state could not be read.
    #[error("the saved state of correlation {correlation} cannot be read: {reason}")]
    Window {
        /// The correlation's id.
        correlation: String,
        /// The windowed state's reason.
        reason: String,
    },
}
