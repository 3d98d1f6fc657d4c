//! Typed errors of the model: invalid fields in events and invalid search queries.

use thiserror::Error;

/// A field of an event that does not hold what the catalogue says it must.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The event is not a JSON object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// A field holds a value of the wrong type or form.
    #[error("field `{field}`: expected {expected}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// What the field must hold.
        expected: &'static str,
    },
    /// A dotted key and a nested object both set the same path with incompatible values.
    #[error("field `{field}` is set twice with conflicting values")]
    Conflict {
        /// Dotted path of the field.
        field: String,
    },
    /// A field that needs a companion field lacks it.
    #[error("field `{field}` needs `{needs}`")]
    Missing {
        /// The field that was given.
        field: String,
        /// The field it needs.
        needs: &'static str,
    },
    /// Objects nested deeper than the limit.
    #[error("objects are nested deeper than {0} levels")]
    TooDeep(usize),
}

impl FieldError {
    pub(crate) fn invalid(field: &str, expected: &'static str) -> Self {
        FieldError::Invalid { field: field.to_owned(), expected }
    }
}

/// A search query that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A quoted value is not closed.
    #[error("unclosed quote in query term starting at byte {0}")]
    UnclosedQuote(usize),
    /// A term has an empty field name, like `:value`.
    #[error("query term `{0}` has an empty field name")]
    EmptyField(String),
    /// A CIDR term on an IP field is malformed.
    #[error("query term `{0}`: not a valid IP address or CIDR")]
    BadCidr(String),
    /// A comparison term whose value is not a number.
    #[error("query term `{0}`: comparisons need a number")]
    BadNumber(String),
    /// Too many terms.
    #[error("a query has at most {0} terms")]
    TooManyTerms(usize),
}
