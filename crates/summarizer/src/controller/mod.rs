//! The summarizer's wiring.
//!
//! Inputs:
//! - the translator's [`Routes`](orrery_translator::controller::Routes): which WDS object
//!   each mailbox copy comes from, through which placements;
//! - one multi-space watch per carried resource over the mailbox host: the copies' status
//!   (what each WEC's syncer returned);
//! - EdgePlacements (singleton flag, UID) and StatusCollectors of the WDSes.
//!
//! The work queue carries WDS objects. A status change in one WEC enqueues only its
//! object; a burst of changes from thousands of WECs to one object coalesces in the queue
//! (a key is queued once, and changes arriving while it is being reconciled give one more
//! reconcile), and an object summarized recently waits out a window that grows with what a
//! round of passes over every busy object costs ([`crate::pacing`]), so the object is
//! summarized a few times per burst, not once per WEC.

mod follow;
mod reconcile;
mod returned;
mod routes;
mod rows;

pub use returned::{CopyKey, Returned, ReturnedStore};
pub use routes::{Route, RouteIndex, SourceKey};

use crate::collector::Collector;
use crate::pacing::Pacer;
use orrery_runtime::{IdleProbe, Metrics, QueueConfig, Shutdown, Store, WorkQueue, run_workers};
use orrery_spaces::{SpaceError, SpaceProvider};
use orrery_translator::controller::{ResourceName, Routes};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedReceiver;

/// The field manager of everything the summarizer writes.
pub const MANAGER: &str = "orrery-summarizer";

#[derive(Debug, thiserror::Error)]
pub enum SummarizerError {
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
}

/// What was last written for one WDS object's CombinedStatuses: name → (namespace,
/// digest). `listed`: the namespace was searched for ones an earlier run wrote.
#[derive(Default)]
struct Written {
    listed: bool,
    combined: BTreeMap<String, (String, u64)>,
}

/// A StatusCollector, compiled or not, by (WDS, name).
type Collectors = HashMap<(String, String), Result<Arc<Collector>, Vec<String>>>;

pub struct Summarizer {
    /// Where the WDSes are.
    provider: Arc<dyn SpaceProvider>,
    /// Where the mailboxes are.
    mailboxes: Arc<dyn SpaceProvider>,
    routes_in: Mutex<Option<UnboundedReceiver<Routes>>>,
    queue: WorkQueue<SourceKey>,
    routes: Mutex<RouteIndex>,
    returned: Mutex<HashMap<ResourceName, ReturnedStore>>,
    placements: Store,
    collectors: Store,
    compiled: Mutex<Collectors>,
    written: Mutex<HashMap<SourceKey, Written>>,
    /// Resources found to have no status subresource: their status is part of the object.
    no_status_subresource: Mutex<HashSet<ResourceName>>,
    /// WDSes where `kubestellar-report` is known to exist.
    report_namespaces: Mutex<BTreeSet<String>>,
    /// The status watches over the mailboxes, one per carried resource.
    copy_watches: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// When each object's last pass started and what it cost.
    passes: Mutex<Pacer<SourceKey>>,
    /// Per object, placement and StatusCollector: the table's rows, kept between passes.
    rows: Mutex<HashMap<SourceKey, rows::ObjectRows>>,
    /// One CombinedStatus write at a time. At 10,000 WECs the server holds about 40 MB
    /// while it applies one (a 560 KB table, parsed, merged and compared), and the
    /// workers' applies at once made one-second spikes of 150–280 MiB in the center.
    combined_writes: tokio::sync::Semaphore,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Summarizer {
    /// Summarizes the objects `routes` (from
    /// [`TranslatorController::subscribe_routes`](orrery_translator::TranslatorController::subscribe_routes))
    /// places: WDSes on `provider`, mailboxes on `mailboxes`.
    pub fn new(
        provider: Arc<dyn SpaceProvider>,
        mailboxes: Arc<dyn SpaceProvider>,
        routes: UnboundedReceiver<Routes>,
        metrics: &Metrics,
    ) -> Arc<Self> {
        Arc::new(Self {
            provider,
            mailboxes,
            routes_in: Mutex::new(Some(routes)),
            queue: WorkQueue::new(QueueConfig::named("summarizer").metrics(metrics)),
            routes: Mutex::default(),
            returned: Mutex::default(),
            placements: Store::default(),
            collectors: Store::default(),
            compiled: Mutex::default(),
            written: Mutex::default(),
            no_status_subresource: Mutex::default(),
            report_namespaces: Mutex::default(),
            copy_watches: Mutex::default(),
            passes: Mutex::default(),
            rows: Mutex::default(),
            combined_writes: tokio::sync::Semaphore::new(1),
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown, workers: usize) {
        self.queue.shutdown_on(&shutdown);
        let mut tasks = follow::start(&self);
        tasks.push(tokio::spawn(self.clone().hurry_when_idle()));
        let me = self.clone();
        run_workers(self.queue.clone(), workers, move |key: SourceKey| {
            let me = me.clone();
            async move {
                lock(&me.passes).started(&key, Instant::now());
                let (outcome, cost) = orrery_runtime::cpu_timed(me.reconcile(&key)).await;
                lock(&me.passes).finished(&key, cost);
                tracing::trace!(object = ?key, micros = cost.as_micros() as u64, "summarized");
                outcome
            }
        })
        .await;
        for t in tasks.into_iter().chain(std::mem::take(&mut *lock(&self.copy_watches))) {
            t.abort();
        }
    }

    /// Queues objects to summarize, paced by what their passes cost ([`crate::pacing`]).
    fn enqueue(&self, keys: impl IntoIterator<Item = SourceKey>) {
        let mut passes = lock(&self.passes);
        let now = Instant::now();
        for k in keys {
            match passes.delay(&k, now) {
                d if d.is_zero() => self.queue.add(k),
                d => {
                    passes.deferred(&k, now);
                    self.queue.add_after(k, d);
                }
            }
        }
    }

    /// Summarizes the objects waiting out their window that had no report in the last
    /// tick, whenever the process is idle ([`crate::pacing::IDLE_CORES`]).
    async fn hurry_when_idle(self: Arc<Self>) {
        let mut probe = IdleProbe::new(crate::pacing::IDLE_CORES);
        let mut ticks = tokio::time::interval(crate::pacing::IDLE_TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if probe.idle() {
                let deferred = lock(&self.passes).take_quiet(Instant::now(), crate::pacing::IDLE_TICK);
                for k in deferred {
                    self.queue.expedite(&k);
                }
            }
        }
    }
}
