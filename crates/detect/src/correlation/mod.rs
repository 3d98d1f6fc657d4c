//! Sigma correlation rules: parsed from `correlation:` documents, resolved against the loaded
//! rules, and run over the matches of those rules by a [`Correlator`] on windowed state.
//!
//! A correlation groups the matches of the rules it names by its `group-by` fields and looks at
//! each group's sliding window of `timespan` (event time): how many events (`event_count`), how
//! many distinct values of a field (`value_count`), their sum, average, percentile or median
//! (`value_sum`, `value_avg`, `value_percentile`, `value_median`), or whether every rule was seen
//! (`temporal`), in order (`temporal_ordered`). A hit of one correlation is an input of the
//! correlations that name it, its group-by values standing in for an event's fields.

mod compile;
mod engine;
mod parse;

use std::fmt;

use serde::Serialize;

pub use compile::CorrelationSet;
pub(crate) use compile::{BaseRule, plan_correlations};
pub use engine::{CorrelationCounts, CorrelationHit, CorrelationLimits, CorrelationStat, CorrelationStats, Correlator};
pub(crate) use parse::{CorrelationBody, parse_correlation};

#[cfg(test)]
mod tests;

/// What a correlation measures in each group's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    /// The number of events.
    EventCount,
    /// The number of distinct values of `field`.
    ValueCount,
    /// How many of the rules were seen (by default: all of them), in any order.
    Temporal,
    /// All of the rules seen in the order they are listed.
    TemporalOrdered,
    /// The sum of the numeric values of `field`.
    ValueSum,
    /// The average of the numeric values of `field`.
    ValueAvg,
    /// A percentile (`percentile`, nearest rank) of the numeric values of `field`.
    ValuePercentile,
    /// The median of the numeric values of `field`.
    ValueMedian,
}

impl CorrelationType {
    /// The type's name as Sigma writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::ValueMedian => "value_median",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<CorrelationType> {
        [
            CorrelationType::EventCount,
            CorrelationType::ValueCount,
            CorrelationType::Temporal,
            CorrelationType::TemporalOrdered,
            CorrelationType::ValueSum,
            CorrelationType::ValueAvg,
            CorrelationType::ValuePercentile,
            CorrelationType::ValueMedian,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }

    /// Whether it measures a `field`.
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
                | CorrelationType::ValueMedian
        )
    }

    /// Whether it is `temporal` or `temporal_ordered`.
    pub fn is_temporal(self) -> bool {
        matches!(self, CorrelationType::Temporal | CorrelationType::TemporalOrdered)
    }
}

impl fmt::Display for CorrelationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A correlation's condition on the measured value: a bound, a range (`gt`/`gte` with
/// `lt`/`lte`), `eq` or `neq`. Only finite numbers are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Condition {
    /// Greater than.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    /// Greater than or equal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gte: Option<f64>,
    /// Less than.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    /// Less than or equal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lte: Option<f64>,
    /// Equal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eq: Option<f64>,
    /// Not equal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neq: Option<f64>,
}

// The parser lets only finite numbers in, so equality is an equivalence.
impl Eq for Condition {}

impl Condition {
    /// Whether `value` satisfies every comparison.
    pub fn holds(&self, value: f64) -> bool {
        self.gt.is_none_or(|b| value > b)
            && self.gte.is_none_or(|b| value >= b)
            && self.lt.is_none_or(|b| value < b)
            && self.lte.is_none_or(|b| value <= b)
            && self.eq.is_none_or(|b| value == b)
            && self.neq.is_none_or(|b| value != b)
    }

    /// Whether it can only be decided once a group's window has closed: an upper bound without a
    /// lower one (`lt: 5` may still fail when a fifth event arrives), or `neq`. Every other
    /// condition is decided as each event arrives.
    pub fn decided_at_close(&self) -> bool {
        self.neq.is_some() || (self.gt.is_none() && self.gte.is_none() && self.eq.is_none())
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [("gt", self.gt), ("gte", self.gte), ("lt", self.lt), ("lte", self.lte), ("eq", self.eq), ("neq", self.neq)];
        let mut first = true;
        for (name, value) in parts {
            if let Some(value) = value {
                if !first {
                    f.write_str(" and ")?;
                }
                write!(f, "{name} {value}")?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A loaded correlation rule, resolved: what [`RuleInfo::correlation`](crate::RuleInfo) shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationSpec {
    /// What it measures.
    #[serde(rename = "type")]
    pub kind: CorrelationType,
    /// The ids of the rules (or correlations) it correlates, in the order written.
    pub rules: Vec<String>,
    /// Its `group-by` names as written (field names or aliases).
    pub group_by: Vec<String>,
    /// For each rule of `rules`, the event fields its group-by names stand for (after aliases
    /// and the field mapping).
    pub group_fields: Vec<Vec<String>>,
    /// The `timespan` as written.
    pub timespan: String,
    /// The timespan in milliseconds.
    pub timespan_ms: i64,
    /// When it fires.
    pub condition: Condition,
    /// The measured event field of `value_*` correlations (after the field mapping).
    pub field: Option<String>,
    /// The percentile `value_percentile` compares (50 for `value_median`).
    pub percentile: Option<f64>,
    /// Whether the rules it names also raise alerts of their own (`generate`).
    pub generate: bool,
}

// As for [`Condition`]: only finite numbers get in.
impl Eq for CorrelationSpec {}
