//! The server's Prometheus metrics: events by source and result, requests by route and status,
//! syslog datagrams dropped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of the events counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// Delivery path: `http`, `logs`, `csp`, `syslog`.
    pub source: &'static str,
    /// `accepted`, `rejected`, `duplicate`, or for CSP reports `dropped_noise` and `rate_limited`.
    pub result: &'static str,
}

/// Labels of the requests counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route pattern (bounded: never the raw path).
    pub route: String,
    /// The status class: `2xx`, `4xx`, `5xx`.
    pub status: &'static str,
}

/// Counters the handlers update; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ServerMetrics {
    /// Events by source and result.
    pub events: Family<EventLabels, Counter>,
    /// Requests by route and status class.
    pub requests: Family<RequestLabels, Counter>,
    /// Syslog datagrams dropped because the store lagged (UDP cannot push back).
    pub syslog_udp_dropped: Counter,
    /// New alerts by rule level.
    pub alerts: Family<AlertLabels, Counter>,
}

/// Labels of the alerts counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    /// The rule's level (five values).
    pub level: String,
}

impl ServerMetrics {
    /// Adds these metrics to a registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("rampart_events", "Events received, by source and result", self.events.clone());
        registry.register("rampart_http_requests", "HTTP requests, by route and status class", self.requests.clone());
        registry.register(
            "rampart_syslog_udp_dropped",
            "Syslog UDP messages dropped while the store lagged",
            self.syslog_udp_dropped.clone(),
        );
        registry.register("rampart_alerts", "Alerts raised, by rule level", self.alerts.clone());
    }

    /// Counts one new alert.
    pub fn count_alert(&self, level: &str) {
        self.alerts.get_or_create(&AlertLabels { level: level.to_owned() }).inc();
    }

    /// Counts `n` events of one source and result.
    pub fn count_events(&self, source: &'static str, result: &'static str, n: usize) {
        if n > 0 {
            self.events.get_or_create(&EventLabels { source, result }).inc_by(n as u64);
        }
    }
}
