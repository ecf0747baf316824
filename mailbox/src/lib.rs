//! The mailbox controller: for every SyncTarget in every space, a mailbox space named
//! `<inventory space>-mb-<SyncTarget UID>` (annotated with the SyncTarget's name and
//! space), and in the inventory space a Secret holding a kubeconfig whose token opens that
//! mailbox only (what the syncer bootstrap hands to the edge cluster). A mailbox deleted
//! while its SyncTarget exists is made again; one whose SyncTarget is gone is deleted with
//! everything in it.
//!
//! Level-triggered: the queue carries SyncTarget keys, and a reconcile makes the world
//! match what the cache says about that key, whatever happened before.

mod heartbeat;
mod reconcile;
mod relay;

pub use heartbeat::{HEARTBEAT_HEALTHY, HEARTBEATS_PER_SECOND, Health, granted_interval, health};
pub use reconcile::{Desired, desired};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, Patch, PatchParams};
use orrery_api::SyncTarget;
use orrery_runtime::{Change, Key, Metrics, QueueConfig, Shutdown, Store, WorkQueue, Writer, reflect, run_workers};
use orrery_spaces::{Fields, MultiEvent, SpaceError, SpaceProvider};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Annotation on a mailbox space: the SyncTarget's name.
pub const SYNC_TARGET_NAME: &str = orrery_api::keys::SYNC_TARGET_NAME;
/// Annotation on a mailbox space: the space the SyncTarget lives in.
pub const INVENTORY_SPACE: &str = "edge.kubestellar.io/inventory-space";
/// Where the mailbox kubeconfig Secrets live in an inventory space.
pub const SECRET_NAMESPACE: &str = "kube-system";
const MANAGER: &str = "orrery-mailbox";
/// Concurrent writes of heartbeats, conditions and grants.
const HEARTBEAT_WORKERS: usize = 4;

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

pub struct MailboxController {
    /// Where the SyncTargets are (and the mailbox Secrets go).
    inventory: Arc<dyn SpaceProvider>,
    /// Where the mailbox spaces are made.
    mailboxes: Arc<dyn SpaceProvider>,
    queue: WorkQueue<TargetKey>,
    /// SyncTargets whose heartbeat, condition or grant is due a write.
    beat_queue: WorkQueue<TargetKey>,
    /// The SyncTargets of every space, as identities (names and uids).
    targets: Store,
    /// UIDs of SyncTargets that went away (or were replaced by one of the same name), so
    /// their mailbox can be deleted.
    gone: Mutex<BTreeMap<TargetKey, String>>,
    /// Mailbox space → its SyncTarget, for heartbeats.
    owners: Mutex<std::collections::HashMap<String, TargetKey>>,
    /// Per SyncTarget: the last heartbeat and the condition status last written.
    beats: Mutex<std::collections::HashMap<TargetKey, relay::Beat>>,
    /// How long a syncer may be silent before `HeartbeatHealthy` turns False.
    heartbeat_timeout: std::time::Duration,
    /// Heartbeats a second the fleet may send before its syncers are told to slow down.
    heartbeats_per_second: f64,
}

impl MailboxController {
    /// Mailboxes are spaces of the provider that serves the inventory.
    pub fn new(provider: Arc<dyn SpaceProvider>, metrics: &Metrics) -> Arc<Self> {
        Self::with_mailbox_host(provider.clone(), provider, metrics)
    }

    /// Inventories from one provider (e.g. spaces from a kubeconfig), mailboxes made by
    /// another (e.g. an orrery space server).
    pub fn with_mailbox_host(
        inventory: Arc<dyn SpaceProvider>,
        mailboxes: Arc<dyn SpaceProvider>,
        metrics: &Metrics,
    ) -> Arc<Self> {
        let queue = WorkQueue::new(QueueConfig::named("mailbox").metrics(metrics));
        let beat_queue = WorkQueue::new(QueueConfig::named("heartbeats").metrics(metrics));
        Arc::new(Self {
            inventory,
            mailboxes,
            queue,
            beat_queue,
            targets: Store::default(),
            gone: Mutex::default(),
            owners: Mutex::default(),
            beats: Mutex::default(),
            heartbeat_timeout: std::time::Duration::from_secs(60),
            heartbeats_per_second: heartbeat::HEARTBEATS_PER_SECOND,
        })
    }

    /// Sets how long a syncer may be silent before its SyncTarget says so (default 60 s).
    pub fn with_heartbeat_timeout(mut self: Arc<Self>, timeout: std::time::Duration) -> Arc<Self> {
        if let Some(me) = Arc::get_mut(&mut self) {
            me.heartbeat_timeout = timeout;
        }
        self
    }

    /// Sets how many heartbeats a second the whole fleet may send (default
    /// [`HEARTBEATS_PER_SECOND`]); past that, syncers are told to report in less often.
    pub fn with_heartbeats_per_second(mut self: Arc<Self>, per_second: f64) -> Arc<Self> {
        if let Some(me) = Arc::get_mut(&mut self) {
            me.heartbeats_per_second = per_second;
        }
        self
    }

    fn gone(&self) -> std::sync::MutexGuard<'_, BTreeMap<TargetKey, String>> {
        self.gone.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, TargetKey>> {
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn beats(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<TargetKey, relay::Beat>> {
        self.beats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn uid(&self, key: &TargetKey) -> Option<String> {
        self.targets.get(&Key::new(&key.0, None, &key.1))?.metadata.uid.clone()
    }

    /// Runs until `shutdown`: follows SyncTargets and spaces, and reconciles.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown, workers: usize) {
        self.queue.shutdown_on(&shutdown);
        self.beat_queue.shutdown_on(&shutdown);
        let targets = tokio::spawn(self.clone().follow_targets());
        let spaces = tokio::spawn(self.clone().follow_spaces());
        let relay = tokio::spawn(self.clone().relay_heartbeats());
        let judge = tokio::spawn(self.clone().judge_heartbeats());
        let me = self.clone();
        let beats = tokio::spawn(run_workers(self.beat_queue.clone(), HEARTBEAT_WORKERS, move |key: TargetKey| {
            let me = me.clone();
            async move { me.sync_beat(&key).await }
        }));
        let me = self.clone();
        run_workers(self.queue.clone(), workers, move |key: TargetKey| {
            let me = me.clone();
            async move { me.reconcile(&key).await }
        })
        .await;
        targets.abort();
        spaces.abort();
        relay.abort();
        judge.abort();
        let _ = beats.await;
    }

    async fn follow_targets(self: Arc<Self>) {
        let events = self.inventory.watch_all(ApiResource::erase::<SyncTarget>(&()), Fields::Unmanaged);
        // Only names and uids are read: a mailbox depends on nothing else.
        let mut changes = reflect(Writer::identities(self.targets.clone()), events).boxed();
        while let Some(change) = changes.next().await {
            match change {
                Change::Applied { key, old, new } => {
                    let key = (key.space, key.name);
                    if let Some(uid) = &new.metadata.uid {
                        self.owners().insert(orrery_api::mailbox_space_name(&key.0, uid), key.clone());
                    }
                    let old_uid = old.and_then(|o| o.metadata.uid.clone());
                    if old_uid.is_some() && old_uid == new.metadata.uid {
                        // Labels, heartbeats, status: nothing a mailbox depends on.
                        continue;
                    }
                    if let Some(old_uid) = old_uid {
                        // Re-created under the same name: the old mailbox goes.
                        self.gone().insert(key.clone(), old_uid);
                    }
                    self.queue.add(key);
                }
                Change::Deleted { key, old } => {
                    let key = (key.space, key.name);
                    if let Some(uid) = &old.metadata.uid {
                        self.owners().remove(&orrery_api::mailbox_space_name(&key.0, uid));
                    }
                    self.beats().remove(&key);
                    if let Some(uid) = old.metadata.uid.clone() {
                        self.gone().insert(key.clone(), uid);
                    }
                    self.queue.add(key);
                }
                Change::Synced { .. } => self.collect_orphans().await,
            }
        }
    }

    /// A mailbox that goes away while its SyncTarget exists is made again.
    async fn follow_spaces(self: Arc<Self>) {
        let mut events = self.mailboxes.watch_spaces();
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
        let Ok(spaces) = self.mailboxes.list().await else { return };
        let targets = self.targets.select(|_, _| true);
        let wanted: BTreeSet<String> = targets
            .iter()
            .filter_map(|(k, o)| Some(orrery_api::mailbox_space_name(&k.space, o.metadata.uid.as_deref()?)))
            .collect();
        let inventories: BTreeSet<&str> = targets.iter().map(|(k, _)| k.space.as_str()).collect();
        for space in spaces {
            let is_mailbox = inventories.iter().any(|inv| space.starts_with(&format!("{inv}-mb-")));
            if is_mailbox && !wanted.contains(&space) {
                tracing::info!(%space, "deleting a mailbox whose SyncTarget is gone");
                if let Err(e) = self.mailboxes.delete(&space).await {
                    tracing::warn!(%space, error = %e, "deleting an orphaned mailbox");
                }
            }
        }
    }

    async fn reconcile(&self, key: &TargetKey) -> Result<(), MailboxError> {
        let (uid, gone) = (self.uid(key), self.gone().get(key).cloned());
        match desired(key, uid.as_deref(), gone.as_deref()) {
            Desired { create: Some(mailbox), delete } => {
                if let Some(old) = delete {
                    self.mailboxes.delete(&old).await?;
                    self.gone().remove(key);
                }
                let annotations = BTreeMap::from([
                    (SYNC_TARGET_NAME.to_owned(), key.1.clone()),
                    (INVENTORY_SPACE.to_owned(), key.0.clone()),
                ]);
                self.mailboxes.create(&mailbox, &annotations).await?;
                self.write_secret(key, uid.as_deref().unwrap_or_default(), &mailbox).await?;
            }
            Desired { create: None, delete: Some(old) } => {
                self.mailboxes.delete(&old).await?;
                self.gone().remove(key);
            }
            Desired { create: None, delete: None } => {}
        }
        Ok(())
    }

    /// The mailbox kubeconfig, in the inventory space, owned by the SyncTarget (so it goes
    /// with it).
    async fn write_secret(&self, key: &TargetKey, uid: &str, mailbox: &str) -> Result<(), MailboxError> {
        let kubeconfig = self.mailboxes.kubeconfig(mailbox).await?;
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
        let api: Api<Secret> = Api::namespaced(self.inventory.client(&key.0).await?, SECRET_NAMESPACE);
        api.patch(&secret_name(&key.1), &PatchParams::apply(MANAGER).force(), &Patch::Apply(secret)).await?;
        Ok(())
    }
}

/// The Secret in the inventory space that holds a SyncTarget's mailbox kubeconfig.
pub fn secret_name(sync_target: &str) -> String {
    format!("mailbox-{sync_target}")
}
