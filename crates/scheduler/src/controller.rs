//! The wiring: EdgePlacements, Locations and SyncTargets of every space feed the
//! [`Scheduler`]; each placement an event affects is queued; a reconcile writes the
//! placement's SinglePlacementSlice (same name and space, owned by it) and status, or its
//! validation errors.

use crate::{ObjectKey, Scheduler, is_validation_error_annotation, with_validation_error_annotations};
use futures::StreamExt;
use futures::stream::BoxStream;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use orrery_api::{EdgePlacement, Location, SinglePlacementSlice, SyncTarget};
use orrery_runtime::{Change, Key, Metrics, QueueConfig, Shutdown, Store, WorkQueue, Writer, reflect, run_workers};
use orrery_spaces::{Fields, SpaceError, SpaceProvider};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const MANAGER: &str = "orrery-scheduler";

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

pub struct SchedulerController {
    provider: Arc<dyn SpaceProvider>,
    state: Mutex<Scheduler>,
    /// The EdgePlacements of every space, for what a reconcile needs besides the decision.
    placements: Store,
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
            placements: Store::default(),
            queue: WorkQueue::new(QueueConfig::named("scheduler").metrics(metrics)),
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown, workers: usize) {
        self.queue.shutdown_on(&shutdown);
        let watch = |r: ApiResource| self.provider.watch_all(r, Fields::Unmanaged);
        let follows = [
            (
                Kind::Placement,
                reflect(Writer::new(self.placements.clone()), watch(ApiResource::erase::<EdgePlacement>(&()))).boxed(),
            ),
            // What the scheduler needs of these it keeps in its own index.
            (
                Kind::Location,
                reflect(Writer::identities(Store::default()), watch(ApiResource::erase::<Location>(&()))).boxed(),
            ),
            (
                Kind::Target,
                reflect(Writer::identities(Store::default()), watch(ApiResource::erase::<SyncTarget>(&()))).boxed(),
            ),
        ]
        .map(|(kind, changes)| tokio::spawn(self.clone().follow(kind, changes)));
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

    async fn follow(self: Arc<Self>, kind: Kind, mut changes: BoxStream<'static, Change>) {
        while let Some(change) = changes.next().await {
            let affected = match change {
                Change::Applied { old: Some(old), new, .. }
                    if matches!(kind, Kind::Placement) && !placement_moved(&old, &new) =>
                {
                    continue;
                }
                Change::Applied { key, new, .. } => self.apply(kind, &key.space, &new),
                Change::Deleted { key, .. } => self.remove(kind, &key.space, &key.name),
                Change::Synced { .. } => continue,
            };
            for k in affected {
                self.queue.add(k);
            }
        }
    }

    /// Feeds one object to the scheduler; returns the placements whose answer may change.
    fn apply(&self, kind: Kind, space: &str, object: &DynamicObject) -> BTreeSet<ObjectKey> {
        fn decode<T: serde::de::DeserializeOwned>(space: &str, object: &DynamicObject) -> Option<T> {
            let decoded = serde_json::to_value(object).and_then(serde_json::from_value);
            decoded.inspect_err(|e| tracing::warn!(%space, error = %e, "an object that does not decode")).ok()
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let affected = match kind {
            Kind::Placement => decode::<EdgePlacement>(space, object).map(|ep| state.upsert_placement(space, &ep)),
            Kind::Location => decode::<Location>(space, object).map(|l| state.upsert_location(space, &l)),
            Kind::Target => decode::<SyncTarget>(space, object).map(|st| state.upsert_sync_target(space, &st)),
        };
        affected.unwrap_or_default()
    }

    fn remove(&self, kind: Kind, space: &str, name: &str) -> BTreeSet<ObjectKey> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match kind {
            Kind::Placement => state.delete_placement(space, name),
            Kind::Location => state.delete_location(space, name),
            Kind::Target => state.delete_sync_target(space, name),
        }
    }

    async fn reconcile(&self, key: &ObjectKey) -> Result<(), ControllerError> {
        let result = self.state.lock().unwrap_or_else(|e| e.into_inner()).result(key);
        let placement = self.placements.get(&Key::new(&key.space, None, &key.name));
        let (Some(result), Some(placement)) = (result, placement) else {
            // Deleted: its slice goes with it (ownerReference garbage collection).
            return Ok(());
        };
        let uid = placement.metadata.uid.clone().unwrap_or_default();
        let generation = placement.metadata.generation.unwrap_or_default();
        let annotations = placement.metadata.annotations.clone().unwrap_or_default();
        let client = self.provider.client(&key.space).await?;
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
                            "uid": uid, "controller": true, "blockOwnerDeletion": true,
                        }],
                    },
                    "destinations": decision.destinations,
                });
                slices.patch(&key.name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(slice)).await?;
                let status = json!({"status": {"matchingLocationCount": decision.matching_location_count, "specGeneration": generation}});
                placements.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(status)).await?;
                let stale: BTreeMap<String, Value> = annotations
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
                let wanted = with_validation_error_annotations(&annotations, &errors);
                let mut patch: BTreeMap<String, Value> =
                    wanted.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                for k in annotations.keys().filter(|k| !wanted.contains_key(*k)) {
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

/// Whether a placement's update can change what its reconcile writes: its spec (seen as
/// `generation`), its identity, or its annotations (validation errors are kept there).
/// Not its status, which the reconcile itself writes.
fn placement_moved(old: &DynamicObject, new: &DynamicObject) -> bool {
    let m = |o: &DynamicObject| (o.metadata.uid.clone(), o.metadata.generation, o.metadata.annotations.clone());
    m(old) != m(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ep(v: serde_json::Value) -> DynamicObject {
        serde_json::from_value(v).expect("object")
    }

    #[test]
    fn only_spec_identity_and_annotations_move_a_placement() {
        let base = json!({"apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "EdgePlacement",
                          "metadata": {"name": "p", "uid": "u1", "generation": 1, "resourceVersion": "5"},
                          "spec": {}, "status": {"matchingLocationCount": 0}});
        let with = |path: &str, value: serde_json::Value| {
            let mut v = base.clone();
            *v.pointer_mut(path).expect("path") = value;
            ep(v)
        };
        let cases = [
            ("status only", with("/status/matchingLocationCount", json!(3)), false),
            ("resourceVersion only", with("/metadata/resourceVersion", json!("9")), false),
            ("generation", with("/metadata/generation", json!(2)), true),
            ("re-created", with("/metadata/uid", json!("u2")), true),
        ];
        for (name, new, want) in cases {
            assert_eq!(placement_moved(&ep(base.clone()), &new), want, "{name}");
        }
        let mut annotated = base.clone();
        annotated["metadata"]["annotations"] = json!({"validation-error.kubestellar.io/1": "x"});
        assert!(placement_moved(&ep(base), &ep(annotated)), "annotations");
    }
}
