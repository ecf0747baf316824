//! Prometheus metrics for controllers, and the HTTP endpoint that serves them.
//!
//! One [`Metrics`] per process, handed to every controller, so a single `/metrics` shows them
//! all side by side, told apart by the `controller` label. The metric families are created
//! once here (not per controller) because Prometheus wants one family per name.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::shutdown::Shutdown;

/// The content type of the OpenMetrics text format, which is what the encoder writes and
/// what Prometheus asks for first.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The shared registry plus the controller metric families. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Families>,
}

#[derive(Debug)]
struct Families {
    registry: Mutex<Registry>,
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<ControllerLabels, Counter>,
    latency: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    depth: Family<ControllerLabels, Gauge>,
    retries: Family<ControllerLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    controller: String,
    /// `success` or `error`.
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

/// 1 ms to ~33 s: reconciles range from a cache lookup to a slow remote apply.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry whose metric names all start with `orrery_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("orrery");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let errors = Family::<ControllerLabels, Counter>::default();
        let latency = Family::<ControllerLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let depth = Family::<ControllerLabels, Gauge>::default();
        let retries = Family::<ControllerLabels, Counter>::default();
        registry.register("reconcile", "Reconciles finished, by controller and result", reconciles.clone());
        registry.register("reconcile_errors", "Reconciles that failed and will be retried", errors.clone());
        registry.register_with_unit(
            "reconcile_duration",
            "How long one reconcile took",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register("workqueue_depth", "Keys ready and waiting for a worker", depth.clone());
        registry.register("workqueue_retries", "Keys re-queued after a failure, with backoff", retries.clone());
        Self {
            inner: Arc::new(Families { registry: Mutex::new(registry), reconciles, errors, latency, depth, retries }),
        }
    }

    /// The handles for one controller, resolved once so the hot path takes no lock.
    pub fn controller(&self, name: &str) -> ControllerMetrics {
        let f = &self.inner;
        let labels = ControllerLabels { controller: name.to_owned() };
        let result = |r: &str| ReconcileLabels { controller: name.to_owned(), result: r.to_owned() };
        // One statement per lookup: `get_or_create` returns a read guard, and a guard still
        // alive in the same statement would deadlock the next lookup's write.
        let success = f.reconciles.get_or_create(&result("success")).clone();
        let failure = f.reconciles.get_or_create(&result("error")).clone();
        let errors = f.errors.get_or_create(&labels).clone();
        let latency = f.latency.get_or_create(&labels).clone();
        let depth = f.depth.get_or_create(&labels).clone();
        let retries = f.retries.get_or_create(&labels).clone();
        ControllerMetrics { success, failure, errors, latency, depth, retries }
    }

    /// Lets other components register their own metrics (e.g. propagation latency) in the
    /// same registry; names get the `orrery_` prefix.
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        f(&mut self.inner.registry.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Everything registered, in the OpenMetrics text format (ending in `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.inner.registry.lock().unwrap_or_else(PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// One controller's metrics. Cheap to clone; all clones update the same series.
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    success: Counter,
    failure: Counter,
    errors: Counter,
    latency: Histogram,
    depth: Gauge,
    retries: Counter,
}

impl ControllerMetrics {
    /// Records one finished reconcile.
    pub fn reconciled(&self, took: Duration, ok: bool) {
        self.latency.observe(took.as_secs_f64());
        if ok {
            self.success.inc();
        } else {
            self.failure.inc();
            self.errors.inc();
        }
    }

    pub fn set_depth(&self, depth: usize) {
        self.depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    pub fn retried(&self) {
        self.retries.inc();
    }
}

/// `GET /metrics` (the registry) and `GET /healthz` (`ok` while the process serves), for
/// binaries that already run an axum server and want to merge these routes into it.
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.encode()) }
            }),
        )
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found: try /metrics or /healthz\n").into_response() })
}

/// A running metrics endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl MetricsServer {
    /// The bound address (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Resolves when the server stops (after the shutdown signal, or on an I/O error).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Binds `addr` and serves [`router`] until `shutdown` fires. Returns once bound, so a bad
/// address or a port in use is reported to the caller instead of being logged by a task.
pub async fn serve_metrics(addr: SocketAddr, metrics: Metrics, shutdown: Shutdown) -> std::io::Result<MetricsServer> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("binding the metrics endpoint to {addr}: {e}")))?;
    let addr = listener.local_addr()?;
    let app = router(metrics);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.wait().await }).await
    });
    tracing::info!(%addr, "serving metrics on /metrics");
    Ok(MetricsServer { addr, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_show_up_by_controller_and_result() {
        let metrics = Metrics::new();
        let m = metrics.controller("scheduler");
        m.reconciled(Duration::from_millis(3), true);
        m.reconciled(Duration::from_millis(3), false);
        m.set_depth(7);
        m.retried();
        let text = metrics.encode();
        for line in [
            r#"orrery_reconcile_total{controller="scheduler",result="success"} 1"#,
            r#"orrery_reconcile_total{controller="scheduler",result="error"} 1"#,
            r#"orrery_reconcile_errors_total{controller="scheduler"} 1"#,
            r#"orrery_reconcile_duration_seconds_count{controller="scheduler"} 2"#,
            r#"orrery_workqueue_depth{controller="scheduler"} 7"#,
            r#"orrery_workqueue_retries_total{controller="scheduler"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn other_components_register_in_the_same_registry() {
        let metrics = Metrics::new();
        let c = Counter::<u64>::default();
        metrics.with_registry(|r| r.register("syncs", "test counter", c.clone()));
        c.inc();
        assert!(metrics.encode().lines().any(|l| l == "orrery_syncs_total 1"), "{}", metrics.encode());
    }
}
