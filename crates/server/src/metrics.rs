//! The server's Prometheus metrics: events by source and result, requests by route and status,
//! syslog datagrams dropped, alerts raised and updated, detection lag, correlation state.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rampart_detect::CorrelationCounts;
use rampart_store::AlertChange;

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
#[derive(Debug, Clone)]
pub struct ServerMetrics {
    /// Events by source and result.
    pub events: Family<EventLabels, Counter>,
    /// Requests by route and status class.
    pub requests: Family<RequestLabels, Counter>,
    /// Syslog datagrams dropped because the store lagged (UDP cannot push back).
    pub syslog_udp_dropped: Counter,
    /// New alerts by rule and level.
    pub alerts: Family<AlertLabels, Counter>,
    /// Updates of alerts (repeats folded in) by rule.
    pub alert_updates: Family<RuleLabels, Counter>,
    /// Seconds from an alert's latest event to the alert taking it in.
    pub detection_lag: Histogram,
    /// The correlation windows' state, by measure (refreshed by the upkeep task).
    pub correlation: Family<MeasureLabels, Gauge>,
}

/// Labels of the correlation state gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MeasureLabels {
    /// `keys`, `bytes`, `evicted`, `late`, `missing_group_by`, `missing_field` or `hits`.
    pub measure: &'static str,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics {
            events: Family::default(),
            requests: Family::default(),
            syslog_udp_dropped: Counter::default(),
            alerts: Family::default(),
            alert_updates: Family::default(),
            // 1 ms to 1 h: live traffic lands in the first buckets, delayed sources in the last.
            detection_lag: Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0]),
            correlation: Family::default(),
        }
    }
}

/// Labels of the alerts counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    /// The rule id (bounded by the rule set).
    pub rule: String,
    /// The rule's level (five values).
    pub level: String,
}

/// Labels of the alert updates counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    /// The rule id.
    pub rule: String,
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
        registry.register("rampart_alerts", "Alerts raised, by rule and level", self.alerts.clone());
        registry.register("rampart_alert_updates", "Repeats folded into open alerts, by rule", self.alert_updates.clone());
        registry.register(
            "rampart_detection_lag_seconds",
            "Time from an alert's latest event to the alert (raised or updated)",
            self.detection_lag.clone(),
        );
        registry.register(
            "rampart_correlation_state",
            "Correlation windows: groups and bytes held; groups evicted, events late or lacking a group-by or measured field, and hits since the rules were loaded",
            self.correlation.clone(),
        );
    }

    /// Sets the correlation gauges from the detector's counters.
    pub fn set_correlation(&self, counts: &CorrelationCounts) {
        let measures = [
            ("keys", counts.keys as u64),
            ("bytes", counts.bytes as u64),
            ("evicted", counts.evicted),
            ("late", counts.late),
            ("missing_group_by", counts.missing_group_by),
            ("missing_field", counts.missing_field),
            ("hits", counts.hits),
        ];
        for (measure, value) in measures {
            self.correlation.get_or_create(&MeasureLabels { measure }).set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// Counts an alert created or updated, and how long after its latest event that was.
    pub fn count_alert_change(&self, change: &AlertChange) {
        let alert = &change.alert;
        if change.created {
            self.alerts.get_or_create(&AlertLabels { rule: alert.rule.id.clone(), level: alert.rule.level.clone() }).inc();
        } else {
            self.alert_updates.get_or_create(&RuleLabels { rule: alert.rule.id.clone() }).inc();
        }
        // Replays of old logs have lags of days: they land in +Inf, as they should.
        self.detection_lag.observe((alert.updated_at - alert.last_event_time).as_seconds_f64().max(0.0));
    }

    /// Counts `n` events of one source and result.
    pub fn count_events(&self, source: &'static str, result: &'static str, n: usize) {
        if n > 0 {
            self.events.get_or_create(&EventLabels { source, result }).inc_by(n as u64);
        }
    }
}
