//! The syncer's own metrics, next to its work queue's in the same `/metrics`: what it
//! wrote, what failed, when it last heard from the center, how often its watches restarted.

use orrery_runtime::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::AtomicU64;

/// Which connection a watch is on.
pub type SideLabel = [(&'static str, &'static str); 1];

#[derive(Clone, Default)]
pub struct Telemetry {
    /// Objects written: created or applied in the WEC, status returned or upsynced.
    pub synced: Counter,
    /// Writes to the WEC that failed (and will be retried).
    pub apply_errors: Counter,
    /// Unix time of the last successful exchange with the mailbox.
    pub last_contact: Gauge<f64, AtomicU64>,
    /// Watch errors (each one a restart with backoff), by side: `mailbox` or `wec`.
    pub watch_restarts: Family<SideLabel, Counter>,
    /// Seconds between heartbeats: the syncer's own interval, or the one `the-one` grants.
    pub heartbeat_interval: Gauge<f64, AtomicU64>,
}

impl Telemetry {
    /// Registers the families in `metrics` (names get the `orrery_syncer_` prefix).
    pub fn register(metrics: &Metrics) -> Self {
        let t = Self::default();
        metrics.with_registry(|r| {
            let r = r.sub_registry_with_prefix("syncer");
            r.register(
                "objects_synced",
                "Objects written: applied in the WEC, status returned, upsynced",
                t.synced.clone(),
            );
            r.register("apply_errors", "Writes to the WEC that failed and will be retried", t.apply_errors.clone());
            r.register(
                "last_contact_timestamp_seconds",
                "Unix time of the last successful exchange with the mailbox",
                t.last_contact.clone(),
            );
            r.register(
                "heartbeat_interval_seconds",
                "Seconds between heartbeats: the syncer's own interval, or a longer one its mailbox grants",
                t.heartbeat_interval.clone(),
            );
            r.register(
                "watch_restarts",
                "Watch errors, each a restart with backoff, by side",
                t.watch_restarts.clone(),
            );
        });
        t
    }

    /// Records a successful exchange with the mailbox now.
    pub fn contact(&self) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        self.last_contact.set(now);
    }
}
