//! An access record read by ECS path, as detection reads events: the same fields as
//! [`AccessRecord::to_fields`], without building the event.

use rampart_model::{FieldSource, FieldValue, fields};

use crate::access::{ACCESS_LOG_DATASET, AccessRecord, OtherValue};

fn text(value: Option<&str>) -> Option<FieldValue<'_>> {
    value.map(FieldValue::Str)
}

impl FieldSource for AccessRecord<'_> {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        match path {
            fields::URL_ORIGINAL => text(self.target),
            fields::URL_PATH => text(self.path),
            fields::URL_QUERY => text(self.query),
            fields::HTTP_METHOD => text(self.method),
            fields::HTTP_STATUS => self.status.map(|s| FieldValue::Int(i64::from(s))),
            fields::USER_AGENT => text(self.user_agent),
            fields::HTTP_REFERRER => text(self.referrer),
            fields::URL_DOMAIN => text(self.domain),
            fields::EVENT_ACTION => Some(FieldValue::Str("web_request")),
            fields::EVENT_ORIGINAL => Some(FieldValue::Str(self.line)),
            fields::SOURCE_IP => self.source_ip.map(FieldValue::Ip),
            fields::CLIENT_IP => self.proxy_ip.map(FieldValue::Ip),
            fields::USER_NAME => text(self.remote_user),
            fields::EVENT_DATASET => Some(FieldValue::Str(ACCESS_LOG_DATASET)),
            fields::EVENT_KIND => Some(FieldValue::Str("event")),
            // Lists of one value: detection treats a list as any of its elements.
            fields::EVENT_CATEGORY => Some(FieldValue::Str("web")),
            fields::EVENT_TYPE => Some(FieldValue::Str("access")),
            fields::EVENT_OUTCOME => self.status.map(|s| FieldValue::Str(if s < 400 { "success" } else { "failure" })),
            fields::TIMESTAMP => self
                .timestamp_ms
                .and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
                .map(FieldValue::Time),
            fields::HTTP_RESPONSE_BYTES => self.response_bytes.and_then(|b| i64::try_from(b).ok()).map(FieldValue::Int),
            fields::SOURCE_PORT if self.proxy_ip.is_none() => self.remote_port.map(|p| FieldValue::Int(i64::from(p))),
            "source.address" if self.source_ip.is_none() => text(self.remote_addr),
            "http.version" => text(self.http_version),
            "http.request.bytes" => self.request_bytes.and_then(|b| i64::try_from(b).ok()).map(FieldValue::Int),
            fields::RAMPART_TRUTH => text(self.truth),
            other => {
                let name = other.strip_prefix("nginx.")?;
                self.others().find(|(n, _)| *n == name).map(|(_, value)| match value {
                    OtherValue::Text(s) => FieldValue::Str(s),
                    OtherValue::Json(v) => FieldValue::from_json(v),
                })
            }
        }
    }

    fn for_each_text<'s>(&'s self, visit: &mut dyn FnMut(&'s str)) {
        visit(self.line);
    }
}

#[cfg(test)]
mod tests {
    use rampart_model::{Event, FieldSource};

    use crate::access::LogFormat;

    /// Every path the record answers gives the same value as the event built from it.
    #[test]
    fn record_fields_agree_with_the_event() {
        let format = LogFormat::builtin("combined").unwrap();
        let line =
            r#"203.0.113.9 - bob [22/Nov/2026:10:00:00 +0000] "GET /search?q=1 HTTP/1.1" 404 512 "https://shop.example/" "curl/8.0""#;
        let mut record = format.parse_line(line).unwrap();
        record.resolve_client(&crate::ClientIpResolver::default());
        let event = Event::from_json(serde_json::Value::Object(record.to_fields())).unwrap();
        let mut checked = 0;
        event.for_each_string(|path, value| {
            let mut text = String::new();
            if let Some(field) = record.field(path) {
                text = match field {
                    rampart_model::FieldValue::Str(s) => s.to_owned(),
                    rampart_model::FieldValue::Ip(ip) => ip.to_string(),
                    rampart_model::FieldValue::Time(t) => rampart_model::format_timestamp(t),
                    other => format!("{other:?}"),
                };
            }
            if path != "event.id" {
                assert_eq!(text, value, "{path}");
                checked += 1;
            }
        });
        assert!(checked >= 12, "{checked}");
        assert_eq!(record.field("http.response.status_code"), Some(rampart_model::FieldValue::Int(404)));
        assert_eq!(record.field("no.such.field"), None);
        let mut texts = Vec::new();
        record.for_each_text(&mut |t| texts.push(t));
        assert_eq!(texts, vec![line]);
    }
}
