//! Shared controller plumbing for orrery's controllers (DESIGN §3, §7): a work queue with
//! client-go semantics and the worker pool over it, leader election on a Lease, Prometheus
//! metrics with their HTTP endpoint, a multi-space reflector, and one graceful-shutdown signal for all of them.
//!
//! A controller's wiring looks like:
//!
//! ```no_run
//! # async fn wiring(client: kube::Client) -> std::io::Result<()> {
//! use orrery_runtime::{LeaderElector, LeaseConfig, Metrics, QueueConfig, Shutdown, WorkQueue};
//! let shutdown = Shutdown::on_signals();
//! let metrics = Metrics::new();
//! orrery_runtime::serve_metrics("127.0.0.1:9090".parse().expect("address"), metrics.clone(), shutdown.clone()).await?;
//! let queue = WorkQueue::<String>::new(QueueConfig::named("scheduler").metrics(&metrics));
//! queue.shutdown_on(&shutdown);
//! // watches call queue.add(key) ...
//! let id = orrery_runtime::unique_identity("scheduler");
//! let elector = LeaderElector::new(client, LeaseConfig::new("kube-system", "orrery-scheduler", id)).expect("settings");
//! let mut leading = elector.subscribe();
//! tokio::spawn(elector.run(shutdown.clone()));
//! let _ = leading.wait_for(|l| *l).await;
//! orrery_runtime::run_workers(queue, 4, |key: String| async move { Ok::<(), std::io::Error>(drop(key)) }).await;
//! # Ok(()) }
//! ```

mod backoff;
mod cpu;
pub mod leader;
mod lease;
pub mod metrics;
pub mod queue;
pub mod reflector;
pub mod shutdown;
mod workers;

pub use backoff::{RateLimit, TokenBucket};
pub use cpu::{IdleProbe, cpu_timed, process_cpu_time, thread_cpu_time};
pub use leader::{DedicatedElector, LeaderElector, LeaderError, LeaseConfig, unique_identity};
pub use metrics::{ControllerMetrics, Metrics, MetricsServer, serve_metrics};
pub use queue::{Guard, QueueConfig, WorkQueue};
pub use reflector::{Change, Key, Store, Writer, reflect};
pub use shutdown::Shutdown;
pub use workers::run_workers;
