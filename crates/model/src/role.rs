//! Roles of API tokens and what each may do.

use std::fmt;
use std::str::FromStr;

/// The role of an API token. The full matrix is in `docs/roles.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including token management.
    Admin,
    /// Reads events and alerts and triages them.
    Analyst,
    /// An analyst who may also run response actions.
    Responder,
    /// Reads everything, including audit data; changes nothing.
    Auditor,
    /// Sends events, logs and assessments; reads nothing.
    Ingest,
}

/// Something a request asks to do; each endpoint needs exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Send events and logs.
    Ingest,
    /// Read events, alerts and cases.
    Read,
    /// Change the state of alerts and cases (acknowledge, close, label).
    Triage,
    /// Run or approve response actions.
    Respond,
    /// Read audit data.
    ReadAudit,
    /// Manage tokens, rules, feeds and configuration.
    Manage,
}

impl Role {
    /// Every role, in the order the docs list them.
    pub const ALL: [Role; 5] = [Role::Admin, Role::Analyst, Role::Responder, Role::Auditor, Role::Ingest];

    /// Whether a token of this role may do `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Analyst => matches!(permission, P::Read | P::Triage),
            Role::Responder => matches!(permission, P::Read | P::Triage | P::Respond),
            Role::Auditor => matches!(permission, P::Read | P::ReadAudit),
            Role::Ingest => matches!(permission, P::Ingest),
        }
    }

    /// The role's name as written in the CLI, the config and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Responder => "responder",
            Role::Auditor => "auditor",
            Role::Ingest => "ingest",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`: expected one of admin, analyst, responder, auditor, ingest"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_is_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn matrix() {
        assert!(Role::Ingest.allows(Permission::Ingest));
        assert!(!Role::Ingest.allows(Permission::Read));
        assert!(!Role::Analyst.allows(Permission::Ingest));
        assert!(!Role::Analyst.allows(Permission::Respond));
        assert!(Role::Responder.allows(Permission::Respond));
        assert!(Role::Auditor.allows(Permission::ReadAudit));
        assert!(!Role::Auditor.allows(Permission::Triage));
        assert!(!Role::Responder.allows(Permission::Manage));
        assert!(Role::Admin.allows(Permission::Manage));
    }
}
