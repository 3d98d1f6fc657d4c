//! How serious a rule's matches are, as Sigma names the levels.

use serde::{Deserialize, Serialize};

/// How serious a rule's matches are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// For enrichment; not alerted on by default in later stages.
    Informational,
    /// Notable, rarely an incident.
    Low,
    /// Worth a regular review.
    Medium,
    /// Needs a prompt review.
    High,
    /// An incident.
    Critical,
}

impl Level {
    /// Every level, least serious first.
    pub const ALL: [Level; 5] = [Level::Informational, Level::Low, Level::Medium, Level::High, Level::Critical];

    /// The level's name as Sigma writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// The level named `name` (as [`Level::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.as_str() == name)
    }

    /// The names of every level, comma-separated, for messages.
    pub fn names() -> String {
        Level::ALL.map(Level::as_str).join(", ")
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;

    fn from_str(text: &str) -> Result<Level, String> {
        Level::parse(text).ok_or_else(|| format!("`{text}` is not a level: expected one of {}", Level::names()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_12_levels_round_trip_through_their_names() {
        for level in Level::ALL {
            assert_eq!(Level::parse(level.as_str()), Some(level));
            assert_eq!(serde_json::to_value(level).ok(), Some(serde_json::Value::String(level.as_str().to_owned())));
        }
        assert_eq!(Level::parse("severe"), None);
        assert_eq!(Level::parse(""), None);
        assert_eq!("high".parse::<Level>(), Ok(Level::High));
    }
}
