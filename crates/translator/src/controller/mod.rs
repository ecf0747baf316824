//! The placement translator's wiring: it follows EdgePlacements, SinglePlacementSlices,
//! Locations, Customizers and every travelling resource of the workload description
//! spaces, keeps the [`Selection`] index, and reconciles one mailbox at a time — writing
//! the difference between what it should hold ([`desired()`]) and what was written there.
//!
//! The work queue carries mailbox names, so a mailbox is written by one worker at a time
//! and a burst of changes to one mailbox is one reconcile.

mod desired;
mod discovery;
mod follow;
mod listing;
mod report;
mod selection;
mod values;
mod write;

pub use desired::{Carried, Copy, Desired, Reported, Source, desired};
pub use discovery::{Resource, ResourceName, digest, digest_text, travels};
pub use selection::{Candidate, Compiled, MailboxEntry, PlacementKey, Selection};

use crate::order::ObjectId;
use orrery_runtime::{Metrics, QueueConfig, Shutdown, Store, WorkQueue, run_workers};
use orrery_spaces::{SpaceError, SpaceProvider};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// The field manager of the copies in mailboxes.
pub const MANAGER: &str = "orrery-translator";
/// The field manager of `the-one` (KubeStellar's).
pub const SYNCER_CONFIG_MANAGER: &str = "placement-translator";

#[derive(Debug, thiserror::Error)]
pub enum TranslatorError {
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
}

/// A followed workload resource and its cache (of WDS objects only).
struct Followed {
    /// Shared by every copy written of its objects, and by what remembers them.
    resource: Arc<Resource>,
    store: Store,
    /// The WDSes this follower has listed since it started.
    synced: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

/// What was last written into one mailbox, to write only differences and to know what to
/// delete. After a restart it is recovered from the mailbox's `the-one`.
#[derive(Default)]
struct Written {
    seeded: bool,
    objects: HashMap<ObjectId, (Arc<Resource>, u64)>,
    the_one: Option<u64>,
    /// Namespaces made to exist for copies whose Namespace object is not placed.
    namespaces: BTreeSet<String>,
}

/// What one mailbox carries after a reconcile: every copy there, by where it comes from.
/// Published for the status summarizer, which follows copies' status back to their sources.
#[derive(Clone, Debug, PartialEq)]
pub struct Routes {
    pub mailbox: String,
    /// The name of the SyncTarget the mailbox serves (`None` when nothing is placed there).
    pub sync_target: Option<String>,
    pub carried: BTreeMap<ObjectId, Carried>,
}

pub struct TranslatorController {
    /// Where the WDSes and inventories are.
    provider: Arc<dyn SpaceProvider>,
    /// Where the mailboxes are.
    mailboxes: Arc<dyn SpaceProvider>,
    queue: WorkQueue<String>,
    index: Mutex<Selection>,
    /// Spaces holding EdgePlacements: the only spaces whose workload objects are cached.
    wds: RwLock<BTreeSet<String>>,
    placements: Store,
    slices: Store,
    /// Locations, metadata only (their labels and annotations are the parameters).
    locations: Store,
    customizers: Store,
    workloads: Mutex<BTreeMap<ResourceName, Followed>>,
    /// WDSes whose served resources discovery has found (each is then followed).
    discovered: Mutex<BTreeSet<String>>,
    /// Which WDSes are cached whole, and the mailboxes waiting for the others.
    listing: Mutex<listing::Listing>,
    written: Mutex<HashMap<String, Written>>,
    /// Workload objects as JSON values, once per version.
    values: Mutex<values::Values>,
    /// Problems already raised, per (mailbox, WDS, "Kind name"): an Event is created only when
    /// the message changes.
    reported: Mutex<HashMap<(String, String, String), String>>,
    /// Per placement, the problems of each mailbox it reaches; and the condition message
    /// last written into its status.
    problems: Mutex<HashMap<PlacementKey, BTreeMap<String, Vec<String>>>>,
    conditions: Mutex<HashMap<PlacementKey, String>>,
    rediscover: tokio::sync::Notify,
    /// Mailbox spaces that exist and serve, once the mailbox host's space watch has listed
    /// them (`None` before, or for a host whose spaces come from configuration): a mailbox
    /// not there yet is reconciled when it appears, not retried against a 404.
    ready: RwLock<Option<BTreeSet<String>>>,
    /// Where [`Routes`] go, once someone asked for them.
    routes: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Routes>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TranslatorController {
    /// Mailboxes are spaces of the provider that serves the WDSes.
    pub fn new(provider: Arc<dyn SpaceProvider>, metrics: &Metrics) -> Arc<Self> {
        Self::with_mailbox_host(provider.clone(), provider, metrics)
    }

    /// WDSes and inventories from one provider (e.g. spaces from a kubeconfig), mailboxes
    /// on another (an orrery space server).
    pub fn with_mailbox_host(
        provider: Arc<dyn SpaceProvider>,
        mailboxes: Arc<dyn SpaceProvider>,
        metrics: &Metrics,
    ) -> Arc<Self> {
        Arc::new(Self {
            provider,
            mailboxes,
            queue: WorkQueue::new(QueueConfig::named("translator").metrics(metrics)),
            index: Mutex::default(),
            wds: RwLock::default(),
            placements: Store::default(),
            slices: Store::default(),
            locations: Store::default(),
            customizers: Store::default(),
            workloads: Mutex::default(),
            discovered: Mutex::default(),
            listing: Mutex::default(),
            written: Mutex::default(),
            values: Mutex::default(),
            reported: Mutex::default(),
            problems: Mutex::default(),
            conditions: Mutex::default(),
            rediscover: tokio::sync::Notify::new(),
            ready: RwLock::new(None),
            routes: std::sync::OnceLock::new(),
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown, workers: usize) {
        self.queue.shutdown_on(&shutdown);
        let tasks = follow::start(&self);
        let me = self.clone();
        run_workers(self.queue.clone(), workers, move |mailbox: String| {
            let me = me.clone();
            async move { me.reconcile(&mailbox).await }
        })
        .await;
        for t in tasks {
            t.abort();
        }
        for (_, f) in std::mem::take(&mut *lock(&self.workloads)) {
            f.task.abort();
        }
    }

    /// The [`Routes`] of every mailbox, after each of its reconciles (including an empty one
    /// for a mailbox nothing is placed in any more, or that is gone). There is one
    /// subscriber; `None` when there is one already.
    pub fn subscribe_routes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Routes>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.routes.set(tx).ok()?;
        Some(rx)
    }

    fn publish(&self, mailbox: &str, sync_target: Option<String>, carried: BTreeMap<ObjectId, Carried>) {
        if let Some(tx) = self.routes.get() {
            // A closed channel means the summarizer stopped; the translator goes on.
            let _ = tx.send(Routes { mailbox: mailbox.to_owned(), sync_target, carried });
        }
    }

    fn enqueue(&self, mailboxes: BTreeSet<String>) {
        for m in mailboxes {
            self.queue.add(m);
        }
    }
}
