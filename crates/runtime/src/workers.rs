//! The worker pool every controller runs over its [`WorkQueue`].
//!
//! Kept apart from the queue so each controller's `lib.rs` is only "watch → add keys" and
//! "reconcile one key": success, failure, backoff, panics and metrics are handled the same
//! way everywhere.

use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::queue::WorkQueue;

/// Retries of one key that are logged at debug level before failures become warnings.
const QUIET_RETRIES: u32 = 3;

/// Runs `workers` concurrent workers (at least one) that take keys from `queue` and call
/// `reconcile` on each, until the queue is shut down and drained.
///
/// `Ok` finishes the key and forgets its failures; `Err` (or a panic, which is caught so one
/// bad object cannot take a worker down) re-queues it with backoff. Each reconcile is counted
/// and timed in the queue's metrics, if it has any.
pub async fn run_workers<K, E, F, Fut>(queue: WorkQueue<K>, workers: usize, reconcile: F)
where
    K: Clone + Eq + Hash + Send + Sync + Debug + 'static,
    E: Display + Send + 'static,
    F: Fn(K) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    let reconcile = Arc::new(reconcile);
    let mut pool = JoinSet::new();
    for _ in 0..workers.max(1) {
        pool.spawn(worker(queue.clone(), reconcile.clone()));
    }
    while let Some(joined) = pool.join_next().await {
        if let Err(e) = joined {
            // Only a panic outside `reconcile` (i.e. in this crate) can get here.
            tracing::error!(controller = queue.name(), error = %e, "worker task failed");
        }
    }
}

async fn worker<K, E, F, Fut>(queue: WorkQueue<K>, reconcile: Arc<F>)
where
    K: Clone + Eq + Hash + Send + Sync + Debug + 'static,
    E: Display + Send + 'static,
    F: Fn(K) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    while let Some(guard) = queue.next().await {
        let key = guard.key().clone();
        let started = Instant::now();
        let outcome = AssertUnwindSafe(reconcile(key.clone())).catch_unwind().await;
        let ok = matches!(outcome, Ok(Ok(())));
        let took = started.elapsed();
        tracing::debug!(controller = queue.name(), ?key, ok, ms = took.as_secs_f64() * 1000.0, "reconciled");
        if let Some(m) = queue.metrics() {
            m.reconciled(took, ok);
        }
        match outcome {
            Ok(Ok(())) => guard.done(),
            Ok(Err(e)) => {
                let retries = queue.retries(&key);
                let delay = guard.retry();
                // Most failures are transient (a write conflict, a cache not synced yet) and
                // pass on the first retries: only a key that keeps failing is worth a warning.
                if retries < QUIET_RETRIES {
                    tracing::debug!(controller = queue.name(), ?key, error = %e, retries, ?delay, "reconcile failed; retrying");
                } else {
                    tracing::warn!(controller = queue.name(), ?key, error = %e, retries, ?delay, "reconcile failed; retrying");
                }
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let delay = guard.retry();
                tracing::error!(controller = queue.name(), ?key, panic = what, ?delay, "reconcile panicked; retrying");
            }
        }
    }
}
