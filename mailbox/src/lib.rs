//! The mailbox controller: for every SyncTarget in every space, a mailbox space named
//! `<inventory space>-mb-<SyncTarget UID>` (annotated with the SyncTarget's name and
//! space), and in the inventory space a Secret holding a kubeconfig whose token opens that
//! mailbox only (what the syncer bootstrap hands to the edge cluster). A mailbox deleted
//! while its SyncTarget exists is made again; one whose SyncTarget is gone is deleted with
//! everything in it.
//!
//! Level-triggered: the queue carries SyncTarget keys, and a reconcile makes the world
//! match what the cache says about that key, whatever happened before.

mod reconcile;

pub use reconcile::{Desired, desired};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use orrery_api::SyncTarget;
use orrery_runtime::{Metrics, QueueConfig, Shutdown, WorkQueue, run_workers};
use orrery_spaces::{MultiEvent, SpaceError, SpaceProvider, Tagged};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Annotation on a mailbox space: the SyncTarget's name.
pub const SYNC_TARGET_NAME: &str = orrery_api::keys::SYNC_TARGET_NAME;
/// Annotation on a mailbox space: the space the SyncTarget lives in.
pub const INVENTORY_SPACE: &str = "edge.kubestellar.io/inventory-space";
/// Where the mailbox kubeconfig Secrets live in an inventory space.
pub const SECRET_NAMESPACE: &str = "kube-system";
const MANAGER: &str = "orrery-mailbox";

/// A SyncTarget: its space and name.
pub type TargetKey = (String, String);

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("encoding the kubeconfig: {0}")]
    Encode(String),
}

#[derive(Default)]
struct Cache {
    /// The SyncTargets that exist: key → UID.
    targets: BTreeMap<TargetKey, String>,
    /// UIDs seen for keys whose SyncTarget went away, so their mailbox can be deleted.
    gone: BTreeMap<TargetKey, String>,
}

pub struct MailboxController {
    provider: Arc<dyn SpaceProvider>,
    queue: WorkQueue<TargetKey>,
    cache: Mutex<Cache>,
}

impl MailboxController {
    pub fn new(provider: Arc<dyn SpaceProvider>, metrics: &Metrics) -> Arc<Self> {
        let queue = WorkQueue::new(QueueConfig::named("mailbox").metrics(metrics));
        Arc::new(Self { provider, queue, cache: Mutex::new(Cache::default()) })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs until `shutdown`: follows SyncTargets and spaces, and reconciles.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown, workers: usize) {
        self.queue.shutdown_on(&shutdown);
        let targets = tokio::spawn(self.clone().follow_targets());
        let spaces = tokio::spawn(self.clone().follow_spaces());
        let me = self.clone();
        run_workers(self.queue.clone(), workers, move |key: TargetKey| {
            let me = me.clone();
            async move { me.reconcile(&key).await }
        })
        .await;
        targets.abort();
        spaces.abort();
    }

    async fn follow_targets(self: Arc<Self>) {
        let mut events = self.provider.watch_all(ApiResource::erase::<SyncTarget>(&()));
        let mut relisted: BTreeMap<TargetKey, String> = BTreeMap::new();
        while let Some(event) = events.next().await {
            match event {
                Ok(MultiEvent::Init { .. }) => relisted.clear(),
                Ok(MultiEvent::InitApply(t)) => {
                    if let Some(k) = key_uid(&t) {
                        relisted.insert(k.0, k.1);
                    }
                }
                Ok(MultiEvent::InitDone { scope }) => {
                    {
                        let mut cache = self.cache();
                        let stale: Vec<(TargetKey, String)> = cache
                            .targets
                            .iter()
                            .filter(|(k, _)| scope.as_ref().is_none_or(|s| *s == k.0) && !relisted.contains_key(*k))
                            .map(|(k, u)| (k.clone(), u.clone()))
                            .collect();
                        for (k, uid) in stale {
                            cache.targets.remove(&k);
                            cache.gone.insert(k.clone(), uid);
                            self.queue.add(k);
                        }
                        for (k, uid) in std::mem::take(&mut relisted) {
                            cache.targets.insert(k.clone(), uid);
                            self.queue.add(k);
                        }
                    }
                    self.collect_orphans().await;
                }
                Ok(MultiEvent::Apply(t)) => {
                    if let Some((k, uid)) = key_uid(&t) {
                        {
                            let mut cache = self.cache();
                            if let Some(old) = cache.targets.insert(k.clone(), uid.clone()).filter(|old| *old != uid) {
                                cache.gone.insert(k.clone(), old);
                            }
                        }
                        self.queue.add(k);
                    }
                }
                Ok(MultiEvent::Delete(t)) => {
                    if let Some((k, uid)) = key_uid(&t) {
                        {
                            let mut cache = self.cache();
                            cache.targets.remove(&k);
                            cache.gone.insert(k.clone(), uid);
                        }
                        self.queue.add(k);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "SyncTarget watch"),
            }
        }
    }

    /// A mailbox that goes away while its SyncTarget exists is made again.
    async fn follow_spaces(self: Arc<Self>) {
        let mut events = self.provider.watch_spaces();
        while let Some(event) = events.next().await {
            if let Ok(MultiEvent::Delete(space)) = event {
                let ann = space.object.metadata.annotations.clone().unwrap_or_default();
                if let (Some(inv), Some(name)) = (ann.get(INVENTORY_SPACE), ann.get(SYNC_TARGET_NAME)) {
                    self.queue.add((inv.clone(), name.clone()));
                }
            }
        }
    }

    /// Deletes mailbox spaces no SyncTarget accounts for (after a full relist).
    async fn collect_orphans(&self) {
        let Ok(spaces) = self.provider.list().await else { return };
        let wanted: BTreeSet<String> =
            self.cache().targets.iter().map(|((space, _), uid)| orrery_api::mailbox_space_name(space, uid)).collect();
        let inventory: BTreeSet<String> = self.cache().targets.keys().map(|(s, _)| s.clone()).collect();
        for space in spaces {
            let is_mailbox = inventory.iter().any(|inv| space.starts_with(&format!("{inv}-mb-")));
            if is_mailbox && !wanted.contains(&space) {
                tracing::info!(%space, "deleting a mailbox whose SyncTarget is gone");
                let _ = self.provider.delete(&space).await;
            }
        }
    }

    async fn reconcile(&self, key: &TargetKey) -> Result<(), MailboxError> {
        let (uid, gone) = {
            let cache = self.cache();
            (cache.targets.get(key).cloned(), cache.gone.get(key).cloned())
        };
        match desired(key, uid.as_deref(), gone.as_deref()) {
            Desired { create: Some(mailbox), delete } => {
                if let Some(old) = delete {
                    self.provider.delete(&old).await?;
                    self.cache().gone.remove(key);
                }
                let annotations = BTreeMap::from([
                    (SYNC_TARGET_NAME.to_owned(), key.1.clone()),
                    (INVENTORY_SPACE.to_owned(), key.0.clone()),
                ]);
                self.provider.create(&mailbox, &annotations).await?;
                self.write_secret(key, uid.as_deref().unwrap_or_default(), &mailbox).await?;
            }
            Desired { create: None, delete: Some(old) } => {
                self.provider.delete(&old).await?;
                self.cache().gone.remove(key);
            }
            Desired { create: None, delete: None } => {}
        }
        Ok(())
    }

    /// The mailbox kubeconfig, in the inventory space, owned by the SyncTarget (so it goes
    /// with it).
    async fn write_secret(&self, key: &TargetKey, uid: &str, mailbox: &str) -> Result<(), MailboxError> {
        let kubeconfig = self.provider.kubeconfig(mailbox).await?;
        let text = serde_saphyr::to_string(&kubeconfig).map_err(|e| MailboxError::Encode(e.to_string()))?;
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": secret_name(&key.1),
                "namespace": SECRET_NAMESPACE,
                "labels": {SYNC_TARGET_NAME: key.1},
                "ownerReferences": [{"apiVersion": orrery_api::API_VERSION, "kind": "SyncTarget", "name": key.1, "uid": uid}],
            },
            "type": "Opaque",
            "stringData": {"kubeconfig": text, "mailbox": mailbox},
        });
        let api: Api<Secret> = Api::namespaced(self.provider.client(&key.0).await?, SECRET_NAMESPACE);
        api.patch(&secret_name(&key.1), &PatchParams::apply(MANAGER).force(), &Patch::Apply(secret)).await?;
        Ok(())
    }
}

/// The Secret in the inventory space that holds a SyncTarget's mailbox kubeconfig.
pub fn secret_name(sync_target: &str) -> String {
    format!("mailbox-{sync_target}")
}

fn key_uid(t: &Tagged) -> Option<(TargetKey, String)> {
    let o: &DynamicObject = &t.object;
    Some(((t.space.clone(), o.metadata.name.clone()?), o.metadata.uid.clone()?))
}
