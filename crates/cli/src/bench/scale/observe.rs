//! The bench's eyes: watches on every stage of the pipeline, recording into a
//! [`Timeline`] when each WEC reached each stage, and when each update reached each WEC.
//!
//! Four streams see everything, however many WECs there are: the WDS's
//! SinglePlacementSlices and CombinedStatuses, one wildcard watch of Deployments across all
//! of the center's spaces (the mailbox copies and their returned status), and the
//! simulated clusters' own watch of Deployments across all of the WEC server's spaces
//! (what the syncers applied), which tells the bench what it sees ([`Observer::witness`]):
//! a watch of the bench's own there cost the WEC server and the bench every event twice.

use super::timeline::{Stage, Timeline};
use super::workload::{self, NAMESPACE};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use orrery_simcluster::Witness;
use orrery_simcluster::status::Kind;
use orrery_spaces::decode::Unmanaged;
use orrery_spaces::{Fields, MultiEvent, SpaceProvider};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// How far the run has got: WECs whose summary is complete, and WECs that have the
/// current update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Watches that have listed what exists (of [`WATCHES`]).
    pub watching: usize,
    pub summarized: usize,
    pub updated: usize,
}

/// How many watches the observer runs.
pub const WATCHES: usize = 4;

/// One update on its way to every WEC.
struct Update {
    rev: String,
    started: Instant,
    seen: Vec<Option<f64>>,
    count: usize,
}

struct State {
    t0: Option<Instant>,
    timeline: Timeline,
    update: Option<Update>,
}

/// Where names point: WEC names and mailbox spaces to WEC indices.
pub struct Index {
    pub wecs: HashMap<String, usize>,
    pub mailboxes: HashMap<String, usize>,
}

pub struct Observer {
    state: Arc<Mutex<State>>,
    progress: watch::Sender<Progress>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    witness: Arc<WecWitness>,
}

impl Observer {
    /// Starts the watches of the center; the simulated clusters are to be told to report
    /// to [`Observer::witness`]. Nothing is recorded before [`Observer::start_clock`].
    pub fn start(center: Arc<dyn SpaceProvider>, wds: kube::Client, index: Arc<Index>, objects: usize) -> Self {
        let state =
            Arc::new(Mutex::new(State { t0: None, timeline: Timeline::new(index.wecs.len(), objects), update: None }));
        let (progress, _) = watch::channel(Progress::default());
        let recorder = Recorder { state: state.clone(), progress: progress.clone() };
        let deployments = ApiResource::erase::<Deployment>(&());
        let tasks = vec![
            tokio::spawn(follow_slices(wds.clone(), index.clone(), recorder.clone())),
            tokio::spawn(follow_summaries(wds, index.clone(), recorder.clone())),
            tokio::spawn(follow_mailboxes(center, deployments, index.clone(), recorder.clone())),
        ];
        let witness = Arc::new(WecWitness { index, recorder, listed: AtomicBool::new(false) });
        Self { state, progress, tasks, witness }
    }

    /// What the simulated clusters tell of what reached the WECs.
    pub fn witness(&self) -> Arc<dyn Witness> {
        self.witness.clone()
    }

    /// The workload is about to be written: times count from now.
    pub fn start_clock(&self) -> Instant {
        let now = Instant::now();
        lock(&self.state).t0 = Some(now);
        now
    }

    /// An update to revision `rev` is about to be written.
    pub fn start_update(&self, rev: &str, wecs: usize) {
        lock(&self.state).update =
            Some(Update { rev: rev.to_owned(), started: Instant::now(), seen: vec![None; wecs], count: 0 });
        self.progress.send_modify(|p| p.updated = 0);
    }

    /// The current update's latency per WEC that has it, in seconds.
    pub fn update_samples(&self) -> Vec<f64> {
        lock(&self.state).update.as_ref().map(|u| u.seen.iter().flatten().copied().collect()).unwrap_or_default()
    }

    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Reads the timeline.
    pub fn with_timeline<T>(&self, f: impl FnOnce(&Timeline) -> T) -> T {
        f(&lock(&self.state).timeline)
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy)]
enum Side {
    Mailboxes,
    Wecs,
}

/// What the watch tasks hold: the shared state and the progress to publish.
#[derive(Clone)]
struct Recorder {
    state: Arc<Mutex<State>>,
    progress: watch::Sender<Progress>,
}

impl Recorder {
    /// A watch has listed what exists; counted once per watch.
    fn listed(&self, done: &mut bool) {
        if !std::mem::replace(done, true) {
            self.progress.send_modify(|p| p.watching += 1);
        }
    }

    /// Records stages at `now`; ignored before the clock starts.
    fn record(&self, marks: impl IntoIterator<Item = (Stage, usize, usize)>) {
        let mut state = lock(&self.state);
        let Some(t0) = state.t0 else { return };
        let t = t0.elapsed().as_secs_f64();
        let mut summarized = false;
        for (stage, wec, object) in marks {
            summarized |= state.timeline.record(stage, wec, object, t) && stage == Stage::Summary;
        }
        if summarized {
            let n = state.timeline.completed(Stage::Summary);
            self.progress.send_modify(|p| p.summarized = n);
        }
    }

    /// A Deployment in a mailbox (its copy, maybe with returned status) or in a WEC.
    fn deployment(&self, side: Side, wec: usize, object: &DynamicObject) {
        if object.metadata.namespace.as_deref() != Some(NAMESPACE) {
            return;
        }
        let Some(index) = object.metadata.name.as_deref().and_then(workload::object_index) else { return };
        match side {
            Side::Mailboxes => {
                let mut marks = vec![(Stage::Copies, wec, index)];
                if workload::is_ready(&object.data) {
                    marks.push((Stage::Status, wec, index));
                }
                self.record(marks);
            }
            Side::Wecs => {
                self.record([(Stage::Applied, wec, index)]);
                if index == 0 {
                    self.updated(wec, &object.data);
                }
            }
        }
    }

    /// Whether the WEC's copy of the updated object carries the current update.
    fn updated(&self, wec: usize, data: &Value) {
        let mut state = lock(&self.state);
        let Some(update) = state.update.as_mut() else { return };
        if workload::rev(data) != Some(update.rev.as_str()) {
            return;
        }
        let Some(slot) = update.seen.get_mut(wec) else { return };
        if slot.is_none() {
            *slot = Some(update.started.elapsed().as_secs_f64());
            update.count += 1;
            let n = update.count;
            self.progress.send_modify(|p| p.updated = n);
        }
    }
}

/// What the syncers applied in the WECs, as the simulated clusters' watch sees it.
struct WecWitness {
    index: Arc<Index>,
    recorder: Recorder,
    listed: AtomicBool,
}

impl Witness for WecWitness {
    fn seen(&self, kind: Kind, space: &str, object: &DynamicObject) {
        if let (Kind::Deployment, Some(&wec)) = (kind, self.index.wecs.get(space)) {
            self.recorder.deployment(Side::Wecs, wec, object);
        }
    }

    fn listed(&self, kind: Kind) {
        if kind == Kind::Deployment && !self.listed.swap(true, Ordering::Relaxed) {
            self.recorder.progress.send_modify(|p| p.watching += 1);
        }
    }
}

/// The workload's Deployments across every mailbox: the copies, with their returned status.
async fn follow_mailboxes(
    provider: Arc<dyn SpaceProvider>,
    resource: ApiResource,
    index: Arc<Index>,
    recorder: Recorder,
) {
    // The status only: the spec, as large, would be decoded for nothing.
    let mut events = provider.watch_all(resource, Fields::Status);
    let mut listed = false;
    while let Some(event) = events.next().await {
        let tagged = match event {
            Ok(MultiEvent::Apply(t) | MultiEvent::InitApply(t)) => t,
            Ok(MultiEvent::InitDone { .. }) => {
                recorder.listed(&mut listed);
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "bench watch");
                continue;
            }
        };
        if let Some(&wec) = index.mailboxes.get(&tagged.space) {
            recorder.deployment(Side::Mailboxes, wec, &tagged.object);
        }
    }
}

/// The object a watch event applies, counting the watch as listed at its first `InitDone`.
fn applied(
    event: Result<watcher::Event<Unmanaged>, watcher::Error>,
    recorder: &Recorder,
    listed: &mut bool,
) -> Option<DynamicObject> {
    match event {
        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => Some(o.into_inner()),
        Ok(watcher::Event::InitDone) => {
            recorder.listed(listed);
            None
        }
        _ => None,
    }
}

/// The scheduler's output: a WEC reaches the slice stage when a slice first lists it.
async fn follow_slices(wds: kube::Client, index: Arc<Index>, recorder: Recorder) {
    let api: Api<Unmanaged> = Api::all_with(wds, &ApiResource::erase::<orrery_api::SinglePlacementSlice>(&()));
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut listed = false;
    while let Some(event) = events.next().await {
        let Some(slice) = applied(event, &recorder, &mut listed) else { continue };
        let destinations = slice.data.get("destinations").and_then(Value::as_array).cloned().unwrap_or_default();
        let marks: Vec<_> = destinations
            .iter()
            .filter_map(|d| d.get("syncTargetName").and_then(Value::as_str))
            .filter_map(|name| index.wecs.get(name))
            .map(|&wec| (Stage::Slice, wec, 0))
            .collect();
        recorder.record(marks);
    }
}

/// The summarizer's output: (WEC, object) is summarized when the object's CombinedStatus
/// lists the WEC as ready.
async fn follow_summaries(wds: kube::Client, index: Arc<Index>, recorder: Recorder) {
    let api: Api<orrery_api::CombinedStatus> = Api::namespaced(wds, NAMESPACE);
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut listed = false;
    while let Some(event) = events.next().await {
        let combined = match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => o,
            Ok(watcher::Event::InitDone) => {
                recorder.listed(&mut listed);
                continue;
            }
            _ => continue,
        };
        let Some(object) = combined
            .labels()
            .get(orrery_api::keys::combined_status::NAME)
            .and_then(|name| workload::object_index(name))
        else {
            continue;
        };
        let marks: Vec<_> = workload::ready_wecs(&combined)
            .filter_map(|name| index.wecs.get(name))
            .map(|&wec| (Stage::Summary, wec, object))
            .collect();
        recorder.record(marks);
    }
}
