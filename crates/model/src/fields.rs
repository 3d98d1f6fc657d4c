//! The field catalogue: every event path Rampart knows, its type and its meaning.
//!
//! Paths follow Elastic Common Schema where ECS has the field and live under `rampart.` where it
//! does not. Later stages add fields here and never rename one. `docs/fields.md` is the same
//! catalogue for people; a test keeps the two in step.

/// The event's time (when it happened, not when Rampart received it).
pub const TIMESTAMP: &str = "@timestamp";
/// The event's unique id: the sender's, or one Rampart generated.
pub const EVENT_ID: &str = "event.id";
/// The raw input the event was parsed from, after card numbers were masked.
pub const EVENT_ORIGINAL: &str = "event.original";
/// ECS `event.kind`: `event`, `alert`, `signal` ...
pub const EVENT_KIND: &str = "event.kind";
/// ECS `event.category` (see the table in `docs/fields.md`).
pub const EVENT_CATEGORY: &str = "event.category";
/// ECS `event.type`.
pub const EVENT_TYPE: &str = "event.type";
/// What happened, in Rampart's shop vocabulary (`login`, `payment_attempt` ...).
pub const EVENT_ACTION: &str = "event.action";
/// `success`, `failure` or `unknown`.
pub const EVENT_OUTCOME: &str = "event.outcome";
/// Where the event came from (`http`, later `access_log`, `syslog` ...).
pub const EVENT_DATASET: &str = "event.dataset";
/// When Rampart received the event.
pub const EVENT_INGESTED: &str = "event.ingested";
/// The real client's IP address.
pub const SOURCE_IP: &str = "source.ip";
/// The real client's port.
pub const SOURCE_PORT: &str = "source.port";
/// The peer that delivered the request (a proxy or CDN edge, or the client itself).
pub const CLIENT_IP: &str = "client.ip";
/// Country of `source.ip` (ISO 3166-1 alpha-2), filled by enrichment.
pub const SOURCE_GEO_COUNTRY: &str = "source.geo.country_iso_code";
/// City of `source.ip`, filled by enrichment.
pub const SOURCE_GEO_CITY: &str = "source.geo.city_name";
/// Location of `source.ip` as `{"lat", "lon"}`, filled by enrichment.
pub const SOURCE_GEO_LOCATION: &str = "source.geo.location";
/// Autonomous system number of `source.ip`, filled by enrichment.
pub const SOURCE_AS_NUMBER: &str = "source.as.number";
/// Autonomous system organization of `source.ip`, filled by enrichment.
pub const SOURCE_AS_ORG: &str = "source.as.organization.name";
/// The shop's id of the customer or staff account.
pub const USER_ID: &str = "user.id";
/// The account's login name.
pub const USER_NAME: &str = "user.name";
/// The account's e-mail address.
pub const USER_EMAIL: &str = "user.email";
/// The web session.
pub const SESSION_ID: &str = "session.id";
/// The device fingerprint or id.
pub const DEVICE_ID: &str = "device.id";
/// The raw User-Agent header.
pub const USER_AGENT: &str = "user_agent.original";
/// HTTP method.
pub const HTTP_METHOD: &str = "http.request.method";
/// HTTP Referer header.
pub const HTTP_REFERRER: &str = "http.request.referrer";
/// Request body size in bytes.
pub const HTTP_REQUEST_BYTES: &str = "http.request.body.bytes";
/// HTTP response status code.
pub const HTTP_STATUS: &str = "http.response.status_code";
/// Response body size in bytes.
pub const HTTP_RESPONSE_BYTES: &str = "http.response.body.bytes";
/// The URL as requested (path and query, or absolute).
pub const URL_ORIGINAL: &str = "url.original";
/// The URL's path.
pub const URL_PATH: &str = "url.path";
/// The URL's query string, without `?`.
pub const URL_QUERY: &str = "url.query";
/// The URL's host.
pub const URL_DOMAIN: &str = "url.domain";
/// The API key that made the call.
pub const API_KEY_ID: &str = "api_key.id";
/// Payment amount: a decimal in major units in JSON, exact minor units inside.
pub const PAYMENT_AMOUNT: &str = "payment.amount";
/// Payment currency (ISO 4217).
pub const PAYMENT_CURRENCY: &str = "payment.currency";
/// First six digits of the card.
pub const PAYMENT_CARD_BIN: &str = "payment.card.bin";
/// Last four digits of the card.
pub const PAYMENT_CARD_LAST4: &str = "payment.card.last4";
/// Keyed HMAC-SHA256 of the card number: correlates cards without storing them.
pub const PAYMENT_CARD_FINGERPRINT: &str = "payment.card.fingerprint";
/// Payment result: `approved`, `declined`, `error` ...
pub const PAYMENT_OUTCOME: &str = "payment.outcome";
/// Address verification result code.
pub const PAYMENT_AVS_RESULT: &str = "payment.avs_result";
/// Card verification value check result code.
pub const PAYMENT_CVV_RESULT: &str = "payment.cvv_result";
/// The shop's order id.
pub const ORDER_ID: &str = "order.id";
/// Order total: a decimal in major units in JSON, exact minor units inside.
pub const ORDER_AMOUNT: &str = "order.amount";
/// Order currency (ISO 4217).
pub const ORDER_CURRENCY: &str = "order.currency";
/// Billing country (ISO 3166-1 alpha-2).
pub const ORDER_BILLING_COUNTRY: &str = "order.billing.country";
/// Shipping country (ISO 3166-1 alpha-2).
pub const ORDER_SHIPPING_COUNTRY: &str = "order.shipping.country";
/// Hash of the normalized shipping address.
pub const ORDER_SHIPPING_ADDRESS_HASH: &str = "order.shipping.address_hash";
/// Free labels.
pub const TAGS: &str = "tags";
/// Ground-truth label set by test generators; detection never reads it.
pub const RAMPART_TRUTH: &str = "rampart.truth";

/// What a field holds; ingestion validates and normalizes known fields by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// An RFC 3339 timestamp (or epoch seconds/milliseconds on input).
    Timestamp,
    /// An exact string; numbers are accepted and turned into strings.
    Keyword,
    /// Free text.
    Text,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A TCP/UDP port, 0..=65535.
    Port,
    /// A non-negative integer.
    Count,
    /// An HTTP status code, 100..=599.
    StatusCode,
    /// A money amount whose currency is in the named field.
    Money(&'static str),
    /// An ISO 4217 currency code.
    Currency,
    /// An ISO 3166-1 alpha-2 country code.
    Country,
    /// `{"lat": .., "lon": ..}`.
    GeoPoint,
    /// A list of strings (a single string is accepted as a list of one).
    KeywordList,
    /// `success`, `failure` or `unknown`.
    Outcome,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Dotted path.
    pub path: &'static str,
    /// What it holds.
    pub kind: FieldType,
}

const fn spec(path: &'static str, kind: FieldType) -> FieldSpec {
    FieldSpec { path, kind }
}

/// Every field Rampart knows. Fields not listed here are kept as sent (free-form extra fields).
pub const CATALOGUE: &[FieldSpec] = &[
    spec(TIMESTAMP, FieldType::Timestamp),
    spec(EVENT_ID, FieldType::Keyword),
    spec(EVENT_ORIGINAL, FieldType::Text),
    spec(EVENT_KIND, FieldType::Keyword),
    spec(EVENT_CATEGORY, FieldType::KeywordList),
    spec(EVENT_TYPE, FieldType::KeywordList),
    spec(EVENT_ACTION, FieldType::Keyword),
    spec(EVENT_OUTCOME, FieldType::Outcome),
    spec(EVENT_DATASET, FieldType::Keyword),
    spec(EVENT_INGESTED, FieldType::Timestamp),
    spec(SOURCE_IP, FieldType::Ip),
    spec(SOURCE_PORT, FieldType::Port),
    spec(CLIENT_IP, FieldType::Ip),
    spec(SOURCE_GEO_COUNTRY, FieldType::Country),
    spec(SOURCE_GEO_CITY, FieldType::Keyword),
    spec(SOURCE_GEO_LOCATION, FieldType::GeoPoint),
    spec(SOURCE_AS_NUMBER, FieldType::Count),
    spec(SOURCE_AS_ORG, FieldType::Keyword),
    spec(USER_ID, FieldType::Keyword),
    spec(USER_NAME, FieldType::Keyword),
    spec(USER_EMAIL, FieldType::Keyword),
    spec(SESSION_ID, FieldType::Keyword),
    spec(DEVICE_ID, FieldType::Keyword),
    spec(USER_AGENT, FieldType::Text),
    spec(HTTP_METHOD, FieldType::Keyword),
    spec(HTTP_REFERRER, FieldType::Keyword),
    spec(HTTP_REQUEST_BYTES, FieldType::Count),
    spec(HTTP_STATUS, FieldType::StatusCode),
    spec(HTTP_RESPONSE_BYTES, FieldType::Count),
    spec(URL_ORIGINAL, FieldType::Keyword),
    spec(URL_PATH, FieldType::Keyword),
    spec(URL_QUERY, FieldType::Keyword),
    spec(URL_DOMAIN, FieldType::Keyword),
    spec(API_KEY_ID, FieldType::Keyword),
    spec(PAYMENT_AMOUNT, FieldType::Money(PAYMENT_CURRENCY)),
    spec(PAYMENT_CURRENCY, FieldType::Currency),
    spec(PAYMENT_CARD_BIN, FieldType::Keyword),
    spec(PAYMENT_CARD_LAST4, FieldType::Keyword),
    spec(PAYMENT_CARD_FINGERPRINT, FieldType::Keyword),
    spec(PAYMENT_OUTCOME, FieldType::Keyword),
    spec(PAYMENT_AVS_RESULT, FieldType::Keyword),
    spec(PAYMENT_CVV_RESULT, FieldType::Keyword),
    spec(ORDER_ID, FieldType::Keyword),
    spec(ORDER_AMOUNT, FieldType::Money(ORDER_CURRENCY)),
    spec(ORDER_CURRENCY, FieldType::Currency),
    spec(ORDER_BILLING_COUNTRY, FieldType::Country),
    spec(ORDER_SHIPPING_COUNTRY, FieldType::Country),
    spec(ORDER_SHIPPING_ADDRESS_HASH, FieldType::Keyword),
    spec(TAGS, FieldType::KeywordList),
    spec(RAMPART_TRUTH, FieldType::Keyword),
];

/// The entity fields that stores index for fast exact search (`field:value` terms).
pub const ENTITY_FIELDS: &[&str] = &[
    EVENT_ID,
    EVENT_ACTION,
    SOURCE_IP,
    CLIENT_IP,
    USER_ID,
    USER_NAME,
    USER_EMAIL,
    SESSION_ID,
    DEVICE_ID,
    API_KEY_ID,
    ORDER_ID,
    PAYMENT_CARD_FINGERPRINT,
];

/// The type of a known field, or `None` for a free-form one.
pub fn field_type(path: &str) -> Option<FieldType> {
    CATALOGUE.iter().find(|spec| spec.path == path).map(|spec| spec.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_no_duplicates_and_entities_are_known() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            assert!(CATALOGUE[i + 1..].iter().all(|b| b.path != a.path), "{} twice", a.path);
        }
        for entity in ENTITY_FIELDS {
            assert!(field_type(entity).is_some(), "{entity}");
        }
    }

    /// `docs/fields.md` is the catalogue for people: every field must be documented there.
    #[test]
    fn docs_list_every_field() {
        let docs = include_str!("../../../docs/fields.md");
        for spec in CATALOGUE {
            assert!(docs.contains(&format!("`{}`", spec.path)), "docs/fields.md lacks `{}`", spec.path);
        }
    }
}
