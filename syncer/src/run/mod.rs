//! The syncer's wiring: two clients (inward to the mailbox, local to the WEC), watches on
//! both sides, one work queue of object keys, and a heartbeat.
//!
//! Every connection goes from the WEC to the center: the mailbox client is the only one
//! that reaches out, with a token valid for that one mailbox, through `HTTPS_PROXY` when
//! set. When the center cannot be reached, the watches retry with backoff and the caches
//! keep what they last saw, so nothing in the WEC is deleted because of a disconnect; on
//! reconnect a watch resumes or relists, and every object is reconciled again.

mod apply;
mod heartbeat;
mod reconnect;
mod telemetry;
mod watches;

pub use telemetry::Telemetry;

use crate::applied::Applied;
use crate::wanted::{ObjectKey, ResourceRef, Wanted};
use kube::runtime::reflector::Store;
use orrery_runtime::{Metrics, QueueConfig, RateLimit, Shutdown, WorkQueue, run_workers};
use orrery_spaces::decode::JsonObject;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use crate::FIELD_MANAGER as MANAGER;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0} is not established in the WEC yet")]
    NotEstablished(String),
    #[error("{0} has not been read from the mailbox yet")]
    NotReadYet(String),
    #[error("the mailbox does not serve {0}")]
    UnknownResource(String),
}

/// How a syncer runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often the syncer reports in to its mailbox, unless `the-one` grants a longer
    /// interval ([`orrery_api::keys::HEARTBEAT_INTERVAL`]).
    pub heartbeat: Duration,
    /// Concurrent reconciles.
    pub workers: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { heartbeat: Duration::from_secs(10), workers: 4 }
    }
}

/// The caches of one resource on both sides.
struct Watched {
    mailbox: Store<JsonObject>,
    wec: Store<JsonObject>,
    /// Whether the mailbox cache has been listed at least once: before that, an object
    /// missing from it says nothing, and nothing may be deleted because of it.
    mailbox_synced: Arc<std::sync::atomic::AtomicBool>,
    /// Whether the WEC cache has been listed: before that, an object missing from it may
    /// well exist, and creating it would take it over.
    wec_synced: Arc<std::sync::atomic::AtomicBool>,
    /// The resource's kind, when first needed ([`Syncer::kind_of`]).
    kind: Arc<tokio::sync::OnceCell<String>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub struct Syncer {
    mailbox: kube::Client,
    wec: kube::Client,
    settings: Settings,
    queue: WorkQueue<ObjectKey>,
    /// What `the-one` asks for; `None` until it has been read (nothing is done before).
    /// Shared, not cloned, by every reconcile: it lists every object placed here.
    wanted: RwLock<Option<Arc<Wanted>>>,
    /// `the-one`'s upsync sets, compiled.
    upsync: RwLock<Vec<orrery_api::upsync::UpsyncMatcher>>,
    watched: Mutex<BTreeMap<ResourceRef, Watched>>,
    /// Namespaces known to exist in the WEC.
    namespaces: Mutex<BTreeSet<String>>,
    /// Held while a namespace is created in the WEC, implicitly or as a placed object: the
    /// reconciles of a mailbox's objects all find the workload's namespace missing at once
    /// (2.5 creates per WEC, measured at 1,000 WECs), and one create is enough.
    creating_namespace: tokio::sync::Mutex<()>,
    /// What was last written to each WEC object, so unchanged objects are not applied again.
    applied: Applied,
    /// The heartbeat interval `the-one` grants, if any.
    granted: tokio::sync::watch::Sender<Option<Duration>>,
    metrics: Metrics,
    telemetry: Telemetry,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Syncer {
    pub fn new(mailbox: kube::Client, wec: kube::Client, settings: Settings, metrics: &Metrics) -> Arc<Self> {
        Arc::new(Self {
            mailbox,
            wec,
            settings,
            // Retries back off to at most 30 s: a syncer that lost its center must notice
            // its return within seconds, not the 1,000 s client-go would wait.
            queue: WorkQueue::new(
                QueueConfig::named("syncer")
                    .metrics(metrics)
                    .rate_limit(RateLimit { max_delay: Duration::from_secs(30), ..RateLimit::default() }),
            ),
            wanted: RwLock::new(None),
            upsync: RwLock::default(),
            watched: Mutex::default(),
            namespaces: Mutex::default(),
            creating_namespace: tokio::sync::Mutex::default(),
            applied: Applied::default(),
            granted: tokio::sync::watch::Sender::new(None),
            metrics: metrics.clone(),
            telemetry: Telemetry::register(metrics),
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        self.queue.shutdown_on(&shutdown);
        let tasks = [
            tokio::spawn(watches::follow_the_one(self.clone())),
            tokio::spawn(heartbeat::heartbeat(self.clone(), shutdown.clone())),
        ];
        let me = self.clone();
        let workers = self.settings.workers;
        run_workers(self.queue.clone(), workers, move |key: ObjectKey| {
            let me = me.clone();
            async move { me.reconcile(&key).await }
        })
        .await;
        for t in tasks {
            t.abort();
        }
        for (_, w) in std::mem::take(&mut *lock(&self.watched)) {
            w.tasks.iter().for_each(|t| t.abort());
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
