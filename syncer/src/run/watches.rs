//! The syncer's watches: `the-one` in the mailbox, and each resource it names on both sides.

use super::reconnect::Reconnect;
use super::{Syncer, Watched, lock};
use crate::upsync::{compile_upsync, upsync_resources};
use crate::wanted::{ObjectKey, ResourceRef, Wanted};
use futures::StreamExt;
use kube::Resource;
use kube::api::{Api, ApiResource};
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use orrery_api::SyncerConfigSpec;
use orrery_api::keys::{HEARTBEAT_INTERVAL, SYNCER_CONFIG_NAME, heartbeat_interval};
use orrery_spaces::decode::JsonObject;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(super) fn api_resource(r: &ResourceRef) -> ApiResource {
    ApiResource {
        group: r.group.clone(),
        version: r.version.clone(),
        api_version: if r.group.is_empty() { r.version.clone() } else { format!("{}/{}", r.group, r.version) },
        kind: String::new(),
        plural: r.resource.clone(),
    }
}

/// Follows `the-one`: a new spec re-plans everything; a heartbeat (status only) nothing; a
/// granted heartbeat interval goes to the heartbeat.
pub(super) async fn follow_the_one(me: Arc<Syncer>) {
    let api: Api<orrery_api::SyncerConfig> = Api::all(me.mailbox.clone());
    let config = watcher::Config::default().fields(&format!("metadata.name={SYNCER_CONFIG_NAME}"));
    let mut events = watcher(api, config).backoff(Reconnect::default()).applied_objects().boxed();
    let mut seen: Option<SyncerConfigSpec> = None;
    while let Some(event) = events.next().await {
        let config = match event {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "watching the-one");
                continue;
            }
        };
        let annotations = config.metadata.annotations.as_ref();
        let granted = heartbeat_interval(annotations.and_then(|a| a.get(HEARTBEAT_INTERVAL)).map(String::as_str));
        me.granted.send_if_modified(|g| std::mem::replace(g, granted) != granted);
        if seen.as_ref() == Some(&config.spec) {
            continue;
        }
        let wanted = Wanted::new(&config.spec);
        follow_resources(&me, &wanted);
        let sets = config.spec.upsync.clone().unwrap_or_default();
        let (matchers, invalid) = compile_upsync(&sets);
        for i in invalid {
            tracing::warn!(error = %i, "an upsync set of the-one is invalid; ignored");
        }
        follow_upsync_resources(&me, &sets).await;
        *me.upsync.write().unwrap_or_else(|e| e.into_inner()) = matchers;
        *me.wanted.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(wanted));
        seen = Some(config.spec);
        requeue_all(&me);
    }
}

/// Starts watching the resources `wanted` names and stops watching the others. A
/// resource no longer named keeps nothing in the WEC: its owned objects are requeued, and
/// each reconcile deletes its object, before the watches go.
fn follow_resources(me: &Arc<Syncer>, wanted: &Wanted) {
    let resources = wanted.resources();
    let mut watched = lock(&me.watched);
    for r in resources.iter().filter(|r| !r.is_wildcard()) {
        if !watched.contains_key(r) {
            let w = watch_resource(me, r);
            watched.insert(r.clone(), w);
        }
    }
    // Resources no longer named stay watched: their owned WEC objects still need
    // deleting, which needs the cache. They cost one watch each until the syncer restarts.
}

/// Watches the resources the upsync sets name, at the WEC's preferred version (upsync sets
/// carry none). A resource the WEC does not serve (yet) is looked up again on the next
/// `the-one` change.
async fn follow_upsync_resources(me: &Arc<Syncer>, sets: &[orrery_api::UpsyncSet]) {
    for (group, resource) in upsync_resources(sets) {
        if resource == "*" {
            tracing::warn!(%group, "upsync of every resource of a group (\"*\") is not supported yet");
            continue;
        }
        let known = lock(&me.watched).keys().any(|r| r.group == group && r.resource == resource);
        if known {
            continue;
        }
        match served(&me.wec, &group, &resource).await {
            Ok(Some(r)) => {
                let mut watched = lock(&me.watched);
                if let std::collections::btree_map::Entry::Vacant(slot) = watched.entry(r) {
                    let w = watch_resource(me, slot.key());
                    slot.insert(w);
                }
            }
            Ok(None) => tracing::info!(%group, %resource, "the WEC does not serve this upsync resource (yet)"),
            Err(e) => tracing::warn!(%group, %resource, error = %e, "discovery for upsync"),
        }
    }
}

/// The WEC's preferred version of a resource, and its scope.
async fn served(client: &kube::Client, group: &str, resource: &str) -> Result<Option<ResourceRef>, kube::Error> {
    let g = kube::discovery::oneshot::group(client, group).await?;
    Ok(g.recommended_resources().into_iter().find(|(ar, _)| ar.plural == resource).map(|(ar, caps)| ResourceRef {
        group: ar.group,
        version: ar.version,
        resource: ar.plural,
        namespaced: matches!(caps.scope, kube::discovery::Scope::Namespaced),
    }))
}

fn watch_resource(me: &Arc<Syncer>, r: &ResourceRef) -> Watched {
    let ar = api_resource(r);
    let side = |client: kube::Client, synced: Arc<AtomicBool>, name: &'static str| {
        // Kept as the reconciles read it: type and metadata decoded, the rest (spec,
        // status) as text. managedFields are never read here (held twice per object they were half
        // of the syncer's memory): they are skipped as each event is decoded.
        let api: Api<JsonObject> = Api::all_with(client, &ar);
        let writer = Writer::new(ar.clone());
        let reader = writer.as_reader();
        let events = watcher(api, watcher::Config::default()).backoff(Reconnect::default());
        let stream = reflector(writer, events);
        let (weak, r) = (Arc::downgrade(me), r.clone());
        let task = tokio::spawn(async move {
            let mut stream = stream.boxed();
            while let Some(event) = stream.next().await {
                let Some(me) = weak.upgrade() else { return };
                let object = match event {
                    Ok(watcher::Event::Apply(o) | watcher::Event::Delete(o) | watcher::Event::InitApply(o)) => o,
                    Ok(watcher::Event::InitDone) => {
                        synced.store(true, Ordering::Release);
                        // Whatever the relist dropped or kept, look at it again.
                        requeue_resource(&me, &r);
                        continue;
                    }
                    Ok(watcher::Event::Init) => continue,
                    Err(e) => {
                        tracing::debug!(resource = %r.resource, error = %e, "watch");
                        me.telemetry.watch_restarts.get_or_create(&[("side", name)]).inc();
                        continue;
                    }
                };
                if name == "mailbox" {
                    me.telemetry.contact();
                }
                if let Some(name) = object.meta().name.clone() {
                    me.queue.add(ObjectKey {
                        group: r.group.clone(),
                        resource: r.resource.clone(),
                        namespace: object.meta().namespace.clone(),
                        name,
                    });
                }
            }
        });
        (reader, task)
    };
    let (mailbox_synced, wec_synced) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (mailbox, a) = side(me.mailbox.clone(), mailbox_synced.clone(), "mailbox");
    let (wec, b) = side(me.wec.clone(), wec_synced.clone(), "wec");
    Watched { mailbox, wec, mailbox_synced, wec_synced, kind: Arc::default(), tasks: vec![a, b] }
}

/// Every object of one resource either side holds.
fn requeue_resource(me: &Arc<Syncer>, r: &ResourceRef) {
    let watched = lock(&me.watched);
    if let Some(w) = watched.get(r) {
        enqueue_objects(me, r, w);
    }
}

fn enqueue_objects(me: &Syncer, r: &ResourceRef, w: &Watched) {
    for o in w.mailbox.state().into_iter().chain(w.wec.state()) {
        if let Some(name) = o.meta().name.clone() {
            me.queue.add(ObjectKey {
                group: r.group.clone(),
                resource: r.resource.clone(),
                namespace: o.meta().namespace.clone(),
                name,
            });
        }
    }
}

/// Every object either side holds, for a new plan.
fn requeue_all(me: &Arc<Syncer>) {
    let watched = lock(&me.watched);
    for (r, w) in watched.iter() {
        enqueue_objects(me, r, w);
    }
}
