//! What the translator watches, and how each change becomes mailboxes to reconcile.

use super::discovery::{self, Resource, ResourceName};
use super::selection::{Candidate, Compiled, PlacementKey};
use super::{Followed, TranslatorController, lock};
use crate::categories::exclusion;
use crate::order::ObjectId;
use crate::project::is_being_deleted;
use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject};
use orrery_api::selector::Labels;
use orrery_api::validation::FieldPath;
use orrery_api::{Customizer, EdgePlacement, Location, SinglePlacementSlice};
use orrery_runtime::{Change, Key, Store, Writer, reflect};
use orrery_spaces::{Fields, MultiEvent};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often served resources are looked up again even without a CRD change (aggregated
/// APIs come and go without one).
const REDISCOVERY: Duration = Duration::from_secs(60);

type Me = Arc<TranslatorController>;

pub(super) fn start(me: &Me) -> Vec<JoinHandle<()>> {
    type OnChange = fn(&Me, &Key, Option<&DynamicObject>);
    let kinds: [(ApiResource, Fields, &Store, OnChange); 3] = [
        (ApiResource::erase::<SinglePlacementSlice>(&()), Fields::Unmanaged, &me.slices, on_slice),
        // A Location's parameters are its labels and annotations: the rest is not kept.
        (ApiResource::erase::<Location>(&()), Fields::Metadata, &me.locations, on_location),
        (ApiResource::erase::<Customizer>(&()), Fields::Unmanaged, &me.customizers, on_customizer),
    ];
    let follows = kinds.map(|(resource, fields, store, on)| {
        tokio::spawn(follow_kind(me.clone(), resource, fields, store.clone(), on))
    });
    let others = [
        tokio::spawn(follow_placements(me.clone())),
        tokio::spawn(discover(me.clone())),
        tokio::spawn(follow_mailbox_spaces(me.clone())),
    ];
    others.into_iter().chain(follows).collect()
}

/// Keeps the set of serving spaces of the mailbox host, and reconciles a mailbox when it
/// starts serving (or goes away: what was written there is forgotten).
async fn follow_mailbox_spaces(me: Me) {
    let ready = |o: &DynamicObject| o.data.pointer("/status/phase").and_then(|p| p.as_str()) == Some("Ready");
    let mut events = me.mailboxes.watch_spaces();
    let mut listing: Option<BTreeSet<String>> = None;
    while let Some(event) = events.next().await {
        let (appeared, gone): (Vec<String>, Vec<String>) = {
            let mut guard = me.ready.write().unwrap_or_else(|e| e.into_inner());
            match event {
                Ok(MultiEvent::Init { .. }) => {
                    listing = Some(BTreeSet::new());
                    (Vec::new(), Vec::new())
                }
                Ok(MultiEvent::InitApply(t)) => {
                    if ready(&t.object) {
                        listing.get_or_insert_default().insert(t.space);
                    }
                    (Vec::new(), Vec::new())
                }
                Ok(MultiEvent::InitDone { .. }) => {
                    let fresh = listing.take().unwrap_or_default();
                    let old = guard.replace(fresh.clone()).unwrap_or_default();
                    (fresh.difference(&old).cloned().collect(), old.difference(&fresh).cloned().collect())
                }
                Ok(MultiEvent::Apply(t)) => {
                    let set = guard.get_or_insert_default();
                    match (ready(&t.object), set.contains(&t.space)) {
                        (true, false) => {
                            set.insert(t.space.clone());
                            (vec![t.space], Vec::new())
                        }
                        (false, true) => {
                            set.remove(&t.space);
                            (Vec::new(), vec![t.space])
                        }
                        _ => (Vec::new(), Vec::new()),
                    }
                }
                Ok(MultiEvent::Delete(t)) => {
                    let was = guard.get_or_insert_default().remove(&t.space);
                    (Vec::new(), if was { vec![t.space] } else { Vec::new() })
                }
                Err(e) => {
                    tracing::warn!(error = %e, "mailbox host space watch");
                    (Vec::new(), Vec::new())
                }
            }
        };
        for space in &gone {
            lock(&me.written).remove(space);
        }
        me.enqueue(appeared.into_iter().chain(gone).collect());
    }
}

async fn follow_kind(
    me: Me,
    resource: ApiResource,
    fields: Fields,
    store: Store,
    on: fn(&Me, &Key, Option<&DynamicObject>),
) {
    let mut changes = reflect(Writer::new(store), me.provider.watch_all(resource, fields)).boxed();
    while let Some(change) = changes.next().await {
        match change {
            Change::Applied { key, new, .. } => on(&me, &key, Some(&new)),
            Change::Deleted { key, .. } => on(&me, &key, None),
            Change::Synced { .. } => {}
        }
    }
}

fn on_slice(me: &Me, key: &Key, slice: Option<&DynamicObject>) {
    let destinations = slice
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| serde_json::from_value::<SinglePlacementSlice>(v).ok())
        .map(|s| s.spec.destinations)
        .unwrap_or_default();
    let affected = lock(&me.index).set_destinations(&(key.space.clone(), key.name.clone()), &destinations);
    me.enqueue(affected);
}

fn on_location(me: &Me, key: &Key, _: Option<&DynamicObject>) {
    let affected = lock(&me.index).mailboxes_at(&key.space, &key.name);
    me.enqueue(affected);
}

fn on_customizer(me: &Me, key: &Key, _: Option<&DynamicObject>) {
    let affected = lock(&me.index).mailboxes_of_space(&key.space);
    me.enqueue(affected);
}

async fn follow_placements(me: Me) {
    let events = me.provider.watch_all(ApiResource::erase::<EdgePlacement>(&()), Fields::Unmanaged);
    let mut changes = reflect(Writer::new(me.placements.clone()), events).boxed();
    while let Some(change) = changes.next().await {
        let (key, placement) = match change {
            Change::Applied { old: Some(old), new, .. } if !placement_moved(&old, &new) => continue,
            Change::Applied { key, new, .. } => (key, Some(new)),
            Change::Deleted { key, .. } => (key, None),
            Change::Synced { .. } => continue,
        };
        let compiled = placement.and_then(|p| compile(&p));
        let new_space = {
            let mut wds = me.wds.write().unwrap_or_else(|e| e.into_inner());
            if compiled.is_some() { wds.insert(key.space.clone()) } else { false }
        };
        if new_space {
            // Its objects were not cached: follow every resource again, now including it,
            // and find what it serves.
            restart_followers(&me);
            me.rediscover.notify_one();
        }
        let pk: PlacementKey = (key.space.clone(), key.name.clone());
        recompute(&me, &pk, compiled);
    }
}

/// Whether a placement update matters here: its spec or identity changed, or its status
/// first appeared (the `Translated` condition waits for the scheduler's status).
fn placement_moved(old: &DynamicObject, new: &DynamicObject) -> bool {
    let has_status = |o: &DynamicObject| o.data.get("status").is_some_and(|s| s.get("matchingLocationCount").is_some());
    old.metadata.generation != new.metadata.generation
        || old.metadata.uid != new.metadata.uid
        || has_status(old) != has_status(new)
}

/// A placement's downsync tests and upsync sets; `None` for one that does not validate
/// (the scheduler reports it; it selects nothing here).
fn compile(placement: &DynamicObject) -> Option<Compiled> {
    let ep: EdgePlacement = serde_json::to_value(placement).and_then(serde_json::from_value).ok()?;
    let matcher = orrery_api::downsync::PlacementMatcher::new(&ep.spec, &FieldPath::new("spec")).ok()?;
    Some(Compiled { matcher, upsync: ep.spec.upsync.clone().unwrap_or_default() })
}

/// Recomputes what one placement selects and requeues its mailboxes.
fn recompute(me: &Me, key: &PlacementKey, compiled: Option<Compiled>) {
    let candidates = candidates(me, &key.0);
    let ns = namespace_labels(me, &key.0);
    let affected = lock(&me.index).set_placement(key, compiled, &candidates, &ns);
    me.enqueue(affected);
}

/// Every travelling object of a WDS, as the downsync tests see it.
fn candidates(me: &Me, space: &str) -> Vec<Candidate> {
    let followed = lock(&me.workloads);
    followed
        .iter()
        .flat_map(|((group, plural), f)| {
            f.store.in_space(space).into_iter().filter_map(move |(_, o)| candidate(group, plural, &o))
        })
        .collect()
}

/// The labels of a WDS's Namespaces, for namespaceSelectors.
fn namespace_labels(me: &Me, space: &str) -> HashMap<String, Labels> {
    let followed = lock(&me.workloads);
    let Some(f) = followed.get(&(String::new(), "namespaces".to_owned())) else { return HashMap::new() };
    f.store.in_space(space).into_iter().map(|(k, o)| (k.name, o.metadata.labels.clone().unwrap_or_default())).collect()
}

/// An object as a candidate for placement; `None` when it never travels or is being
/// deleted.
fn candidate(group: &str, plural: &str, o: &DynamicObject) -> Option<Candidate> {
    let value = serde_json::to_value(o).ok()?;
    if is_being_deleted(&value) || exclusion(group, plural, &value).is_some() {
        return None;
    }
    Some(Candidate {
        id: ObjectId {
            group: group.to_owned(),
            resource: plural.to_owned(),
            namespace: o.metadata.namespace.clone(),
            name: o.metadata.name.clone()?,
        },
        labels: o.metadata.labels.clone().unwrap_or_default(),
    })
}

/// Finds the served resources of every WDS now, on a CRD change, and periodically;
/// follows new ones and drops vanished ones.
async fn discover(me: Me) {
    loop {
        let spaces = wds_spaces(&me);
        let mut served: BTreeMap<ResourceName, Resource> = BTreeMap::new();
        let mut complete = true;
        let mut covered = Vec::new();
        for space in &spaces {
            let found = match me.provider.client(space).await {
                Ok(client) => discovery::served(client).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match found {
                Ok(found) => {
                    for (name, r) in found {
                        served.entry(name).or_insert(r);
                    }
                    covered.push(space.clone());
                }
                Err(e) => {
                    complete = false;
                    tracing::warn!(%space, error = %e, "discovery");
                }
            }
        }
        // Namespaces are always followed: namespaceSelectors need their labels.
        served.entry((String::new(), "namespaces".into())).or_insert_with(|| Resource {
            api: ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
            namespaced: false,
        });
        let (added, removed) = {
            let mut followed = lock(&me.workloads);
            let removed: Vec<(ResourceName, Followed)> = if complete {
                let gone: Vec<ResourceName> = followed.keys().filter(|k| !served.contains_key(*k)).cloned().collect();
                gone.into_iter().filter_map(|k| followed.remove(&k).map(|f| (k, f))).collect()
            } else {
                Vec::new()
            };
            let mut added = Vec::new();
            for (name, resource) in served {
                if !followed.contains_key(&name) {
                    followed.insert(name.clone(), follow_resource(&me, name.clone(), Arc::new(resource)));
                    added.push(name);
                }
            }
            (added, removed)
        };
        if !added.is_empty() {
            tracing::info!(resources = ?added, "following workload resources");
        }
        let followers_changed = !added.is_empty() || !removed.is_empty();
        for (name, f) in removed {
            tracing::info!(resource = ?name, "no longer served; forgetting its objects");
            f.task.abort();
            for (key, _) in f.store.select(|_, _| true) {
                object_changed(&me, &name, &key, None);
            }
        }
        lock(&me.discovered).extend(covered);
        if followers_changed {
            lock(&me.listing).restart();
        }
        check_all_listed(&me);
        tokio::select! {
            () = me.rediscover.notified() => {}
            () = tokio::time::sleep(REDISCOVERY) => {}
        }
        // Let a burst of CRD events settle into one discovery.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Follows the objects of one resource in the WDSes: one watch per WDS, so the copies in
/// thousands of mailboxes never reach the translator. A new WDS restarts the followers
/// ([`restart_followers`]).
fn follow_resource(me: &Me, name: ResourceName, resource: Arc<Resource>) -> Followed {
    let store = Store::default();
    let writer = Writer::new(store.clone());
    let spaces = wds_spaces(me);
    let events = me.provider.watch_in(resource.api.clone(), &spaces, Fields::Unmanaged);
    let synced: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let weak = Arc::downgrade(me);
    let task_name = name.clone();
    let task_synced = synced.clone();
    let task = tokio::spawn(async move {
        let mut changes = reflect(writer, events).boxed();
        while let Some(change) = changes.next().await {
            let Some(me) = weak.upgrade() else { return };
            match change {
                Change::Applied { old: Some(old), new, .. } if !travelling_change(&task_name, &old, &new) => {}
                Change::Applied { key, new, .. } => object_changed(&me, &task_name, &key, Some(&new)),
                Change::Deleted { key, .. } => object_changed(&me, &task_name, &key, None),
                Change::Synced { scope } => {
                    let listed = scope.map_or_else(|| spaces.clone(), |s| vec![s]);
                    lock(&task_synced).extend(listed.iter().cloned());
                    for space in &listed {
                        check_listed(&me, space);
                    }
                }
            }
        }
    });
    Followed { resource, store, synced, task }
}

/// Once discovery has covered a WDS and every follower has listed it, the mailboxes that
/// waited for it are reconciled ([`super::listing`]).
fn check_listed(me: &Me, space: &str) {
    let whole =
        lock(&me.discovered).contains(space) && lock(&me.workloads).values().all(|f| lock(&f.synced).contains(space));
    if !whole {
        return;
    }
    let waiting = lock(&me.listing).listed(space);
    if let Some(waiting) = waiting {
        tracing::debug!(%space, waiting = waiting.len(), "WDS listed");
        me.enqueue(waiting);
    }
}

/// [`check_listed`] for every WDS.
fn check_all_listed(me: &Me) {
    for space in wds_spaces(me) {
        check_listed(me, &space);
    }
}

/// The spaces holding EdgePlacements now.
fn wds_spaces(me: &Me) -> Vec<String> {
    me.wds.read().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
}

/// Whether an update can change a copy or a selection. Status and the summarizer's
/// bookkeeping annotations on WDS objects never travel, so the summarizer writing them does
/// not make every mailbox carrying the object be reconciled again. CRDs always count: their
/// status says when the resource they define is served.
fn travelling_change((group, plural): &ResourceName, old: &DynamicObject, new: &DynamicObject) -> bool {
    if group == "apiextensions.k8s.io" && plural == "customresourcedefinitions" {
        return true;
    }
    let (Ok(old), Ok(new)) = (serde_json::to_value(old), serde_json::to_value(new)) else { return true };
    is_being_deleted(&old) != is_being_deleted(&new) || crate::project::project(&old) != crate::project::project(&new)
}

/// Restarts every workload follower (after a new WDS appears, so its objects are listed).
fn restart_followers(me: &Me) {
    {
        let mut followed = lock(&me.workloads);
        let names: Vec<ResourceName> = followed.keys().cloned().collect();
        for name in names {
            if let Some(old) = followed.remove(&name) {
                old.task.abort();
                let fresh = follow_resource(me, name.clone(), old.resource);
                followed.insert(name, fresh);
            }
        }
    }
    // Every WDS is listed anew (a follower that has listed one already still counts).
    lock(&me.listing).restart();
    check_all_listed(me);
}

fn object_changed(me: &Me, (group, plural): &ResourceName, key: &Key, object: Option<&DynamicObject>) {
    let id = ObjectId {
        group: group.clone(),
        resource: plural.clone(),
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    };
    let now = object.and_then(|o| candidate(group, plural, o));
    if group.is_empty() && plural == "namespaces" {
        // Namespace labels feed namespaceSelectors: every placement of the space may change.
        let placements = lock(&me.index).placements_in(&key.space);
        for p in placements {
            let compiled = lock(&me.index).compiled(&p).cloned();
            recompute(me, &p, compiled);
        }
    }
    if group == "apiextensions.k8s.io" && plural == "customresourcedefinitions" {
        me.rediscover.notify_one();
    }
    let ns = namespace_labels(me, &key.space);
    let affected = lock(&me.index).set_object(&key.space, &id, now.as_ref(), &ns);
    me.enqueue(affected);
}

/// A selected object's cached source in its WDS, with its resource.
pub(super) fn source(
    me: &TranslatorController,
    id: &ObjectId,
    space: &str,
) -> Option<(Arc<Resource>, Arc<DynamicObject>)> {
    let followed = lock(&me.workloads);
    let f = followed.get(&(id.group.clone(), id.resource.clone()))?;
    let o = f.store.get(&Key::new(space, id.namespace.as_deref(), &id.name))?;
    Some((f.resource.clone(), o))
}
