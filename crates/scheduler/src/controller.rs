//! The wiring: EdgePlacements, Locations and SyncTargets of every space feed the
//! [`Scheduler`]; each placement an event affects is queued; a reconcile writes the
//! placement's SinglePlacementSlice (same name and space, owned by it) and status, or its
//! validation errors.

use crate::{ObjectKey, Scheduler, is_validation_error_annotation, with_validation_error_annotations};
use futures::StreamExt;
use kube::api::{Api, ApiResource, Patch, PatchParams};
use orrery_api::{EdgePlacement, Location, SinglePlacementSlice, SyncTarget};
use orrery_runtime::{Metrics, QueueConfig, Shutdown, WorkQueue, run_workers};
use orrery_spaces::{MultiEvent, SpaceError, SpaceProvider, Tagged};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

const MANAGER: &str = "orrery-scheduler";

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// What a reconcile needs of a placement besides the scheduler's answer.
#[derive(Clone, Debug, Default)]
struct PlacementMeta {
    uid: String,
    generation: i64,
    annotations: BTreeMap<String, String>,
}

pub struct SchedulerController {
    provider: Arc<dyn SpaceProvider>,
    state: Mutex<Scheduler>,
    placements: Mutex<BTreeMap<ObjectKey, PlacementMeta>>,
    clients: Mutex<HashMap<String, kube::Client>>,
    queue: WorkQueue<ObjectKey>,
}

/// The three kinds the scheduler follows.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Placement,
    Location,
    Target,
}

impl SchedulerController {
    pub fn new(provider: Arc<dyn SpaceProvider>, metrics: &Metrics) -> Arc<Self> {
        Arc::new(Self {
            provider,
            state: Mutex::new(Scheduler::new()),
            placements: Mutex::new(BTreeMap::new()),
            clients: Mutex::new(HashMap::new()),
            queue: WorkQueue::new(QueueConfig::named("scheduler").metrics(metrics)),
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown, workers: usize) {
        self.queue.shutdown_on(&shutdown);
        let follows = [
            tokio::spawn(self.clone().follow(Kind::Placement, ApiResource::erase::<EdgePlacement>(&()))),
            tokio::spawn(self.clone().follow(Kind::Location, ApiResource::erase::<Location>(&()))),
            tokio::spawn(self.clone().follow(Kind::Target, ApiResource::erase::<SyncTarget>(&()))),
        ];
        let me = self.clone();
        run_workers(self.queue.clone(), workers, move |key: ObjectKey| {
            let me = me.clone();
            async move { me.reconcile(&key).await }
        })
        .await;
        for f in follows {
            f.abort();
        }
    }

    fn enqueue(&self, affected: BTreeSet<ObjectKey>) {
        for k in affected {
            self.queue.add(k);
        }
    }

    fn apply(&self, kind: Kind, t: &Tagged) {
        let space = t.space.as_str();
        let value = serde_json::to_value(&t.object).unwrap_or_default();
        let affected = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match kind {
                Kind::Placement => match serde_json::from_value::<EdgePlacement>(value) {
                    Ok(ep) => {
                        let key = ObjectKey::new(space, ep.metadata.name.clone().unwrap_or_default());
                        let meta = PlacementMeta {
                            uid: ep.metadata.uid.clone().unwrap_or_default(),
                            generation: ep.metadata.generation.unwrap_or_default(),
                            annotations: ep.metadata.annotations.clone().unwrap_or_default(),
                        };
                        self.placements.lock().unwrap_or_else(|e| e.into_inner()).insert(key, meta);
                        state.upsert_placement(space, &ep)
                    }
                    Err(e) => {
                        tracing::warn!(%space, error = %e, "an EdgePlacement that does not decode");
                        BTreeSet::new()
                    }
                },
                Kind::Location => match serde_json::from_value::<Location>(value) {
                    Ok(l) => state.upsert_location(space, &l),
                    Err(e) => {
                        tracing::warn!(%space, error = %e, "a Location that does not decode");
                        BTreeSet::new()
                    }
                },
                Kind::Target => match serde_json::from_value::<SyncTarget>(value) {
                    Ok(st) => state.upsert_sync_target(space, &st),
                    Err(e) => {
                        tracing::warn!(%space, error = %e, "a SyncTarget that does not decode");
                        BTreeSet::new()
                    }
                },
            }
        };
        self.enqueue(affected);
    }

    fn remove(&self, kind: Kind, key: &ObjectKey) {
        let affected = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match kind {
                Kind::Placement => {
                    self.placements.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
                    state.delete_placement(&key.space, &key.name)
                }
                Kind::Location => state.delete_location(&key.space, &key.name),
                Kind::Target => state.delete_sync_target(&key.space, &key.name),
            }
        };
        self.enqueue(affected);
    }

    async fn follow(self: Arc<Self>, kind: Kind, resource: ApiResource) {
        let key_of = |t: &Tagged| ObjectKey::new(t.space.clone(), t.object.metadata.name.clone().unwrap_or_default());
        let mut known: BTreeSet<ObjectKey> = BTreeSet::new();
        let mut relisted: BTreeSet<ObjectKey> = BTreeSet::new();
        let mut events = self.provider.watch_all(resource);
        while let Some(event) = events.next().await {
            match event {
                Ok(MultiEvent::Init { .. }) => relisted.clear(),
                Ok(MultiEvent::InitApply(t)) => {
                    relisted.insert(key_of(&t));
                    self.apply(kind, &t);
                }
                Ok(MultiEvent::InitDone { scope }) => {
                    let stale: Vec<ObjectKey> = known
                        .iter()
                        .filter(|k| scope.as_ref().is_none_or(|s| *s == k.space) && !relisted.contains(*k))
                        .cloned()
                        .collect();
                    for k in stale {
                        known.remove(&k);
                        self.remove(kind, &k);
                    }
                    known.extend(std::mem::take(&mut relisted));
                }
                Ok(MultiEvent::Apply(t)) => {
                    known.insert(key_of(&t));
                    self.apply(kind, &t);
                }
                Ok(MultiEvent::Delete(t)) => {
                    let k = key_of(&t);
                    known.remove(&k);
                    self.remove(kind, &k);
                }
                Err(e) => tracing::warn!(?kind, error = %e, "watch"),
            }
        }
    }

    async fn client(&self, space: &str) -> Result<kube::Client, ControllerError> {
        if let Some(c) = self.clients.lock().unwrap_or_else(|e| e.into_inner()).get(space) {
            return Ok(c.clone());
        }
        let c = self.provider.client(space).await?;
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).insert(space.to_owned(), c.clone());
        Ok(c)
    }

    async fn reconcile(&self, key: &ObjectKey) -> Result<(), ControllerError> {
        let result = self.state.lock().unwrap_or_else(|e| e.into_inner()).result(key);
        let meta = self.placements.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned();
        let (Some(result), Some(meta)) = (result, meta) else {
            // Deleted: its slice goes with it (ownerReference garbage collection).
            return Ok(());
        };
        let client = self.client(&key.space).await?;
        let placements: Api<EdgePlacement> = Api::all(client.clone());
        match result {
            Ok(decision) => {
                let slices: Api<SinglePlacementSlice> = Api::all(client);
                let slice = json!({
                    "apiVersion": orrery_api::API_VERSION,
                    "kind": "SinglePlacementSlice",
                    "metadata": {
                        "name": key.name,
                        "ownerReferences": [{
                            "apiVersion": orrery_api::API_VERSION, "kind": "EdgePlacement", "name": key.name,
                            "uid": meta.uid, "controller": true, "blockOwnerDeletion": true,
                        }],
                    },
                    "destinations": decision.destinations,
                });
                slices.patch(&key.name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(slice)).await?;
                let status = json!({"status": {"matchingLocationCount": decision.matching_location_count, "specGeneration": meta.generation}});
                placements.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(status)).await?;
                let stale: BTreeMap<String, Value> = meta
                    .annotations
                    .keys()
                    .filter(|k| is_validation_error_annotation(k))
                    .map(|k| (k.clone(), Value::Null))
                    .collect();
                if !stale.is_empty() {
                    placements
                        .patch(
                            &key.name,
                            &PatchParams::default(),
                            &Patch::Merge(json!({"metadata": {"annotations": stale}})),
                        )
                        .await?;
                }
            }
            Err(errors) => {
                let wanted = with_validation_error_annotations(&meta.annotations, &errors);
                let mut patch: BTreeMap<String, Value> =
                    wanted.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                for k in meta.annotations.keys().filter(|k| !wanted.contains_key(*k)) {
                    patch.insert(k.clone(), Value::Null);
                }
                placements
                    .patch(
                        &key.name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"annotations": patch}})),
                    )
                    .await?;
                tracing::info!(placement = %key, %errors, "invalid EdgePlacement; its slice is left as it was");
            }
        }
        Ok(())
    }
}
