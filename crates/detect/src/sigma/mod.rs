//! The Sigma rule language: documents, conditions, value modifiers, compilation and matching.

pub(crate) mod budget;
mod compile;
mod condition;
pub(crate) mod document;
mod matcher;
mod rule;
mod value;

pub use budget::{MAX_EXPANDED_BYTES, MAX_EXPANDED_VALUES};
pub use document::{Level, LogSource};
pub use matcher::{Engine, MatchedField, RuleMatch, Scratch};
pub use rule::{CompiledRules, RuleFile, RuleInfo, compile_rules};

#[cfg(test)]
mod tests;
