//! The lifecycle's allowed changes: which analyst action each status permits, and what it makes
//! of the alert, decided without a database.

use time::OffsetDateTime;

use super::fold::to_millis;
use super::{Alert, AlertStatus, AlertTransition, Classification, TransitionAction};

/// What an analyst does to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    /// Takes an open alert.
    Acknowledge,
    /// Closes an open or acknowledged alert with a classification.
    Close(Classification),
    /// Opens a closed alert again.
    Reopen,
}

impl AlertAction {
    /// The transition it writes.
    pub fn transition(self) -> TransitionAction {
        match self {
            AlertAction::Acknowledge => TransitionAction::Acknowledged,
            AlertAction::Close(_) => TransitionAction::Closed,
            AlertAction::Reopen => TransitionAction::Reopened,
        }
    }

    /// The verb, as the API's paths name it.
    pub fn verb(self) -> &'static str {
        match self {
            AlertAction::Acknowledge => "acknowledge",
            AlertAction::Close(_) => "close",
            AlertAction::Reopen => "reopen",
        }
    }
}

/// A change the alert's status does not allow (409 `invalid_transition` over HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} an alert that is {status}; {rule}")]
pub struct RefusedTransition {
    /// The verb asked for (`acknowledge`, `close`, `reopen`).
    pub action: &'static str,
    /// The alert's status.
    pub status: &'static str,
    /// What the change needs.
    pub rule: &'static str,
}

/// The status and classification an action leads to from `status`, or why it is refused.
pub fn allowed(status: AlertStatus, action: AlertAction) -> Result<(AlertStatus, Option<Classification>), RefusedTransition> {
    let (allowed, rule) = match action {
        AlertAction::Acknowledge => (status == AlertStatus::Open, "only open alerts can be acknowledged"),
        AlertAction::Close(_) => (status != AlertStatus::Closed, "only open or acknowledged alerts can be closed"),
        AlertAction::Reopen => (status == AlertStatus::Closed, "only closed alerts can be reopened"),
    };
    if !allowed {
        return Err(RefusedTransition { action: action.verb(), status: status.as_str(), rule });
    }
    Ok(match action {
        AlertAction::Acknowledge => (AlertStatus::Acknowledged, None),
        AlertAction::Close(classification) => (AlertStatus::Closed, Some(classification)),
        AlertAction::Reopen => (AlertStatus::Open, None),
    })
}

/// Applies an analyst's action by `actor` at `at` to the alert and returns the transition to
/// append; a refused change leaves the alert as it was.
pub fn transition(
    alert: &mut Alert,
    action: AlertAction,
    actor: &str,
    note: Option<&str>,
    at: OffsetDateTime,
) -> Result<AlertTransition, RefusedTransition> {
    (alert.status, alert.classification) = allowed(alert.status, action)?;
    alert.updated_at = to_millis(at);
    Ok(AlertTransition {
        alert_id: alert.id.clone(),
        action: action.transition(),
        actor: actor.to_owned(),
        at: alert.updated_at,
        status: alert.status,
        classification: alert.classification,
        note: note.map(str::to_owned),
        events_added: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::fold::new_alert;
    use crate::alert::fold::tests::{detection, t};

    const STATUSES: [AlertStatus; 3] = [AlertStatus::Open, AlertStatus::Acknowledged, AlertStatus::Closed];

    #[test]
    fn issue_12_every_status_and_action_is_allowed_or_refused() {
        use AlertStatus::{Acknowledged, Closed, Open};
        let fp = Classification::FalsePositive;
        let close = AlertAction::Close(fp);
        let refused = |action, status, rule| Err(RefusedTransition { action, status, rule });
        let ack_rule = "only open alerts can be acknowledged";
        let close_rule = "only open or acknowledged alerts can be closed";
        let reopen_rule = "only closed alerts can be reopened";
        let table = [
            (Open, AlertAction::Acknowledge, Ok((Acknowledged, None))),
            (Open, close, Ok((Closed, Some(fp)))),
            (Open, AlertAction::Reopen, refused("reopen", "open", reopen_rule)),
            (Acknowledged, AlertAction::Acknowledge, refused("acknowledge", "acknowledged", ack_rule)),
            (Acknowledged, close, Ok((Closed, Some(fp)))),
            (Acknowledged, AlertAction::Reopen, refused("reopen", "acknowledged", reopen_rule)),
            (Closed, AlertAction::Acknowledge, refused("acknowledge", "closed", ack_rule)),
            (Closed, close, refused("close", "closed", close_rule)),
            (Closed, AlertAction::Reopen, Ok((Open, None))),
        ];
        assert_eq!(table.len(), STATUSES.len() * 3, "every status × action");
        for (status, action, expected) in table {
            assert_eq!(allowed(status, action), expected, "{status:?} × {action:?}");
        }
    }

    #[test]
    fn issue_12_a_transition_changes_the_alert_and_says_so() {
        let mut alert = new_alert(&detection(t(0), &["e1"]), "k");
        let at = t(60) + time::Duration::nanoseconds(1_700_000);
        let acked = transition(&mut alert, AlertAction::Acknowledge, "ann", Some("looking"), at).unwrap();
        assert_eq!((alert.status, alert.classification), (AlertStatus::Acknowledged, None));
        assert_eq!(alert.updated_at, t(60) + time::Duration::milliseconds(1), "cut to the millisecond");
        assert_eq!(
            acked,
            AlertTransition {
                alert_id: alert.id.clone(),
                action: TransitionAction::Acknowledged,
                actor: "ann".into(),
                at: alert.updated_at,
                status: AlertStatus::Acknowledged,
                classification: None,
                note: Some("looking".into()),
                events_added: None,
            }
        );
        let closed = transition(&mut alert, AlertAction::Close(Classification::BenignPositive), "bob", None, t(120)).unwrap();
        assert_eq!((closed.status, closed.classification), (AlertStatus::Closed, Some(Classification::BenignPositive)));
        let before = alert.clone();
        let refused = transition(&mut alert, AlertAction::Acknowledge, "ann", None, t(180)).unwrap_err();
        assert_eq!(refused.to_string(), "cannot acknowledge an alert that is closed; only open alerts can be acknowledged");
        assert_eq!(alert, before, "a refused change changes nothing");
        let reopened = transition(&mut alert, AlertAction::Reopen, "cy", None, t(240)).unwrap();
        assert_eq!((reopened.status, alert.classification, alert.updated_at), (AlertStatus::Open, None, t(240)));
    }
}
