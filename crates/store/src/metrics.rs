//! Metrics of the store, registered by the server under `/metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Commit latency, queue depth and purges; cheap to clone (shared counters).
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Seconds from a batch's first statement to its commit.
    pub commit_seconds: Histogram,
    /// Events waiting for the writer.
    pub queue_depth: Gauge,
    /// Events deleted by retention.
    pub purged_events: Counter,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            commit_seconds: Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            queue_depth: Gauge::default(),
            purged_events: Counter::default(),
        }
    }
}

impl StoreMetrics {
    /// Adds these metrics to a registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("rampart_store_commit_seconds", "Time to commit one batch to the store", self.commit_seconds.clone());
        registry.register("rampart_store_queue_depth", "Events waiting to be written", self.queue_depth.clone());
        registry.register("rampart_store_purged_events", "Events deleted by retention", self.purged_events.clone());
    }
}
