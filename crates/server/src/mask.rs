//! Masking personal data (e-mail addresses, account names) in what the server logs.

use rampart_model::{Alert, EntityKind};
use rampart_store::AlertChange;
use serde_json::json;

/// The `tracing` target of the one JSON line logged per alert created or updated.
pub const ALERT_LOG_TARGET: &str = "rampart::alert";

/// A personal value as logs may show it: `a***@***.com` for an e-mail address, `j***` for
/// anything else (an account name or id), `***` when empty.
pub fn mask_personal(value: &str) -> String {
    let first = |text: &str| text.chars().next().map(String::from).unwrap_or_default();
    match value.rsplit_once('@') {
        Some((local, domain)) => {
            let tld = domain.rsplit_once('.').map(|(_, tld)| format!(".{tld}")).unwrap_or_default();
            format!("{}***@***{tld}", first(local))
        }
        None => format!("{}***", first(value)),
    }
}

/// The text with every e-mail address in it masked (URLs and matched values can carry them).
pub fn mask_emails_in(text: &str) -> String {
    let local_char = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let domain_char = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let local_start = rest[..at].char_indices().rev().take_while(|(_, c)| local_char(*c)).last().map_or(at, |(i, _)| i);
        let domain_len = rest[at + 1..].chars().take_while(|c| domain_char(*c)).map(char::len_utf8).sum::<usize>();
        let domain = &rest[at + 1..at + 1 + domain_len];
        if local_start < at && domain.trim_matches('.').contains('.') {
            out.push_str(&rest[..local_start]);
            out.push_str(&mask_personal(&rest[local_start..at + 1 + domain_len]));
            rest = &rest[at + 1 + domain_len..];
        } else {
            out.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// Whether an event field holds personal data: e-mail addresses, account names and ids, and
/// anything else about the user.
fn is_personal_field(field: &str) -> bool {
    EntityKind::of_field(field).is_some_and(EntityKind::is_personal) || field.starts_with("user.")
}

fn mask_field_value(field: &str, value: &str) -> String {
    if is_personal_field(field) { mask_personal(value) } else { mask_emails_in(value) }
}

/// The alert with its personal values masked: account and e-mail entities, and the group-by
/// and matched values of personal fields; e-mail addresses anywhere else in those values too.
pub fn masked_alert(alert: &Alert) -> Alert {
    let mut alert = alert.clone();
    for entity in &mut alert.entities {
        entity.value = if entity.kind.is_personal() || is_personal_field(&entity.field) {
            mask_personal(&entity.value)
        } else {
            mask_emails_in(&entity.value)
        };
    }
    for (field, value) in &mut alert.group_by {
        *value = mask_field_value(field, value);
    }
    for matched in &mut alert.matched {
        matched.value = mask_field_value(&matched.field, &matched.value);
    }
    alert
}

/// The JSON line logged for an alert created or updated: `{"change", "events_added", "alert"}`
/// with the alert masked. A correlation's (`correlation: true`) matched value is what it
/// measured, a count or a sum of the field it names: a number, shown as it is.
pub fn alert_log_line(change: &AlertChange, correlation: bool) -> String {
    let mut alert = masked_alert(&change.alert);
    if correlation {
        for (masked, measured) in alert.matched.iter_mut().zip(&change.alert.matched) {
            if measured.value.parse::<f64>().is_ok() {
                masked.value.clone_from(&measured.value);
            }
        }
    }
    json!({
        "change": if change.created { "created" } else { "updated" },
        "events_added": change.events_added,
        "alert": alert,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_values_keep_only_a_hint() {
        assert_eq!(mask_personal("alice@example.com"), "a***@***.com");
        assert_eq!(mask_personal("jdoe"), "j***");
        assert_eq!(mask_personal("élodie@exemple.fr"), "é***@***.fr");
        assert_eq!(mask_personal("x@localhost"), "x***@***");
        assert_eq!(mask_personal(""), "***");
    }

    #[test]
    fn issue_11_a_correlations_count_is_logged_unmasked() {
        let at = time::OffsetDateTime::UNIX_EPOCH;
        let alert = Alert {
            id: "a1".into(),
            rule: rampart_model::AlertRule {
                id: "r".into(),
                version: String::new(),
                title: "Credential stuffing".into(),
                level: "high".into(),
                tags: Vec::new(),
            },
            entities: vec![rampart_model::Entity { kind: EntityKind::Ip, value: "203.0.113.7".into(), field: "source.ip".into() }],
            group_by: [("source.ip".to_owned(), "203.0.113.7".to_owned())].into(),
            first_event_time: at,
            last_event_time: at,
            detected_at: at,
            updated_at: at,
            event_count: 12,
            evidence: Vec::new(),
            matched: vec![rampart_model::MatchedValue { field: "user.name".into(), value: "12".into() }],
            status: rampart_model::AlertStatus::Open,
            classification: None,
        };
        let change = AlertChange { alert, created: true, events_added: 12 };
        let line: serde_json::Value = serde_json::from_str(&alert_log_line(&change, true)).unwrap();
        assert_eq!(line["alert"]["matched"], json!([{"field": "user.name", "value": "12"}]));
        // A single-event rule's user.name is personal data, digits or not.
        let line: serde_json::Value = serde_json::from_str(&alert_log_line(&change, false)).unwrap();
        assert_eq!(line["alert"]["matched"], json!([{"field": "user.name", "value": "1***"}]));
    }

    #[test]
    fn e_mail_addresses_inside_text_are_masked() {
        assert_eq!(mask_emails_in("/reset?email=bob.smith@shop.example.org&x=1"), "/reset?email=b***@***.org&x=1");
        assert_eq!(mask_emails_in("a@b.co and c@d.io"), "a***@***.co and c***@***.io");
        assert_eq!(mask_emails_in("no address @ here, user@host, @x.com"), "no address @ here, user@host, @x.com");
        assert_eq!(mask_emails_in("ünï@çödé.de"), "ü***@***.de");
    }
}
