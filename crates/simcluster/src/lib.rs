//! Simulated workload execution clusters: spaces on an orrery server that stand in for real
//! clusters in demos (`orrery up --sim-wecs N`) and benchmarks. Nothing runs in them; this
//! crate gives Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and Pods the status
//! their controllers and kubelet would ([`status`]), so status return, singleton status and
//! StatusCollectors have something plausible to carry. It is a simulation, and says so in
//! every condition it writes.
//!
//! [`SimCluster`] follows those kinds in every space of a provider with one multi-space
//! watch each, decoding each object's metadata and spec only ([`Fields::Spec`]): every
//! status it writes comes back to it as an event, and the status is made from the spec.
//! Of each object it keeps only what the status is made from ([`status::Workload`]).
//! A new object, or a new generation of one, gets a `Starting` status at once and a
//! `Ready` one after the configured delay.

pub mod status;

use futures::StreamExt;
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation};
use kube::Resource;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use orrery_runtime::{Metrics, QueueConfig, Shutdown, WorkQueue, run_workers};
use orrery_spaces::{Fields, MultiEvent, SpaceError, SpaceProvider};
use status::{Kind, Phase};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The field manager of simulated status.
pub const MANAGER: &str = "orrery-simcluster";

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// An object: which of [`Kind::ALL`], its space, namespace and name.
type ObjKey = (usize, String, Option<String>, String);

/// Where one object is in its simulated start-up.
struct Progress {
    since: Instant,
    written: Option<Phase>,
    /// What its status is made from, as last seen: the status is written without reading
    /// the object again.
    workload: status::Workload,
}

pub struct SimCluster {
    provider: Arc<dyn SpaceProvider>,
    delay: Duration,
    queue: WorkQueue<ObjKey>,
    progress: Mutex<HashMap<ObjKey, Progress>>,
    witness: Option<Arc<dyn Witness>>,
}

/// Told of what the simulated clusters' watches see, as they see it. `orrery bench scale`
/// times what reached the WECs this way: a watch of its own over every WEC space would
/// have the WEC server send, and the bench decode, every event a second time.
pub trait Witness: Send + Sync {
    /// `object`, of `kind`, in `space`, exists as it now is (listed, created or changed).
    fn seen(&self, kind: Kind, space: &str, object: &DynamicObject);
    /// The watch of `kind` has listed what existed when it started.
    fn listed(&self, kind: Kind);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn resource(i: usize) -> (Kind, ApiResource) {
    let (kind, group, version, k, plural) = Kind::ALL[i];
    (kind, ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, k), plural))
}

impl SimCluster {
    /// Simulates every space of `provider`; workloads become ready `delay` after they
    /// (or their new generation) appear.
    pub fn new(provider: Arc<dyn SpaceProvider>, delay: Duration, metrics: &Metrics) -> Arc<Self> {
        Self::witnessed(provider, delay, metrics, None)
    }

    /// [`Self::new`], telling `witness` of what it sees.
    pub fn witnessed(
        provider: Arc<dyn SpaceProvider>,
        delay: Duration,
        metrics: &Metrics,
        witness: Option<Arc<dyn Witness>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            provider,
            delay,
            queue: WorkQueue::new(QueueConfig::named("simcluster").metrics(metrics)),
            progress: Mutex::default(),
            witness,
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown, workers: usize) {
        self.queue.shutdown_on(&shutdown);
        let watches: Vec<_> = (0..Kind::ALL.len()).map(|i| tokio::spawn(self.clone().follow(i))).collect();
        let me = self.clone();
        run_workers(self.queue.clone(), workers, move |key: ObjKey| {
            let me = me.clone();
            async move { me.reconcile(&key).await }
        })
        .await;
        for w in watches {
            w.abort();
        }
    }

    async fn follow(self: Arc<Self>, i: usize) {
        let (kind, api) = resource(i);
        let mut events = self.provider.watch_all(api, Fields::Spec);
        while let Some(event) = events.next().await {
            let (tagged, gone) = match event {
                Ok(MultiEvent::InitApply(t) | MultiEvent::Apply(t)) => {
                    if let Some(witness) = &self.witness {
                        witness.seen(kind, &t.space, &t.object);
                    }
                    (t, false)
                }
                Ok(MultiEvent::Delete(t)) => (t, true),
                Ok(MultiEvent::InitDone { .. }) => {
                    if let Some(witness) = &self.witness {
                        witness.listed(kind);
                    }
                    continue;
                }
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "simcluster watch");
                    continue;
                }
            };
            let meta = &tagged.object.metadata;
            let Some(name) = meta.name.clone() else { continue };
            let key = (i, tagged.space.clone(), meta.namespace.clone(), name);
            if gone {
                lock(&self.progress).remove(&key);
                continue;
            }
            let workload = status::Workload::from(&tagged.object);
            let fresh = {
                let mut progress = lock(&self.progress);
                match progress.get_mut(&key) {
                    Some(p) if p.workload.generation == workload.generation => {
                        p.workload = workload;
                        false
                    }
                    _ => {
                        let since = Instant::now();
                        progress.insert(key.clone(), Progress { since, written: None, workload });
                        true
                    }
                }
            };
            if fresh {
                self.queue.add(key);
            }
        }
    }

    async fn reconcile(&self, key: &ObjKey) -> Result<(), SimError> {
        let (i, space, namespace, name) = key;
        let Some((since, written, workload)) =
            lock(&self.progress).get(key).map(|p| (p.since, p.written, p.workload.clone()))
        else {
            return Ok(());
        };
        let elapsed = since.elapsed();
        let phase = if elapsed >= self.delay { Phase::Ready } else { Phase::Starting };
        if written != Some(phase) {
            let (kind, api) = resource(*i);
            let now = jiff::Timestamp::now().to_string();
            let value = status::status(kind, &workload, phase, &now);
            let add = AddOperation { path: PointerBuf::from_tokens(["status"]), value };
            let patch: Patch<()> = Patch::Json(json_patch::Patch(vec![PatchOperation::Add(add)]));
            let params = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
            // The answer is not read: what was written comes back through the watch.
            let request = kube::core::Request::new(DynamicObject::url_path(&api, namespace.as_deref()))
                .patch_subresource("status", name, &params, &patch)
                .map_err(kube::Error::BuildRequest)?;
            match self.provider.send(space, request).await {
                Ok(_) => {}
                Err(SpaceError::Kube(kube::Error::Api(s))) if s.code == 404 => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            if let Some(p) = lock(&self.progress).get_mut(key) {
                p.written = Some(phase);
            }
        }
        if phase == Phase::Starting {
            self.queue.add_after(key.clone(), self.delay.saturating_sub(elapsed));
        }
        Ok(())
    }
}
