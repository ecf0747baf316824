//! What the summarizer watches, and how each change becomes WDS objects to summarize.

use super::{Summarizer, lock};
use crate::collector::Collector;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use orrery_api::{EdgePlacement, StatusCollector, StatusCollectorSpec};
use orrery_runtime::{Change, Key, Writer, reflect};
use orrery_spaces::Fields;
use orrery_translator::controller::{Carried, Resource};
use serde_json::json;
use std::sync::Arc;
use tokio::task::JoinHandle;

type Me = Arc<Summarizer>;

pub(super) fn start(me: &Me) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(follow_placements(me.clone())), tokio::spawn(follow_collectors(me.clone()))];
    if let Some(rx) = lock(&me.routes_in).take() {
        tasks.push(tokio::spawn(follow_routes(me.clone(), rx)));
    }
    tasks
}

/// The translator's routes: a changed route re-summarizes its object; a resource carried
/// for the first time gets a status watch over the mailboxes.
async fn follow_routes(me: Me, mut rx: tokio::sync::mpsc::UnboundedReceiver<orrery_translator::controller::Routes>) {
    while let Some(routes) = rx.recv().await {
        let (changed, fresh) = lock(&me.routes).set(routes);
        for resource in fresh {
            lock(&me.copy_watches).push(tokio::spawn(follow_copies(me.clone(), resource)));
        }
        me.enqueue(changed);
    }
}

/// The status of every copy of one resource in every mailbox.
async fn follow_copies(me: Me, resource: Arc<Resource>) {
    let (group, plural) = (resource.api.group.clone(), resource.api.plural.clone());
    tracing::info!(%group, %plural, "following returned status");
    // The entries' times are read (when the status was returned), never their sets.
    let mut events = me.mailboxes.watch_all(resource.api.clone(), Fields::Returned);
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(%group, %plural, error = %e, "mailbox copies watch");
                continue;
            }
        };
        let now = jiff::Timestamp::now().to_string();
        let changed = {
            let mut stores = lock(&me.returned);
            stores.entry((group.clone(), plural.clone())).or_default().apply(&group, &plural, event, &now)
        };
        let sources: Vec<_> = {
            let routes = lock(&me.routes);
            changed.iter().filter_map(|(mailbox, id)| routes.source_of(mailbox, id)).collect()
        };
        me.enqueue(sources);
    }
}

/// EdgePlacements: a change of the singleton flag (or a placement replaced under the same
/// name) re-summarizes what it carries.
async fn follow_placements(me: Me) {
    let events = me.provider.watch_all(ApiResource::erase::<EdgePlacement>(&()), Fields::Unmanaged);
    let mut changes = reflect(Writer::new(me.placements.clone()), events).boxed();
    while let Some(change) = changes.next().await {
        let key = match change {
            Change::Applied { old: Some(old), new, key } if summarized_differently(&old, &new) => key,
            Change::Applied { old: None, key, .. } | Change::Deleted { key, .. } => key,
            _ => continue,
        };
        let sources = lock(&me.routes).sources_where(&key.space, |c: &Carried| c.placements.contains_key(&key.name));
        me.enqueue(sources);
    }
}

fn summarized_differently(old: &DynamicObject, new: &DynamicObject) -> bool {
    let singleton = |o: &DynamicObject| o.data.pointer("/spec/wantSingletonReportedState").cloned();
    old.metadata.uid != new.metadata.uid || singleton(old) != singleton(new)
}

/// StatusCollectors: compiled on every change, with what is wrong written to their status;
/// the objects whose placements name them are re-summarized.
async fn follow_collectors(me: Me) {
    let events = me.provider.watch_all(ApiResource::erase::<StatusCollector>(&()), Fields::Unmanaged);
    let mut changes = reflect(Writer::new(me.collectors.clone()), events).boxed();
    while let Some(change) = changes.next().await {
        let (key, object, moved) = match change {
            Change::Applied { key, old, new } => {
                let moved = old.is_none_or(|o| {
                    o.metadata.generation != new.metadata.generation || o.metadata.uid != new.metadata.uid
                });
                (key, Some(new), moved)
            }
            Change::Deleted { key, .. } => (key, None, true),
            Change::Synced { .. } => continue,
        };
        let k = (key.space.clone(), key.name.clone());
        if moved {
            let compiled = object.as_deref().map(compile);
            let mut all = lock(&me.compiled);
            match compiled {
                Some(c) => all.insert(k.clone(), c),
                None => all.remove(&k),
            };
        }
        let compiled = lock(&me.compiled).get(&k).cloned();
        if let (Some(object), Some(compiled)) = (&object, &compiled) {
            report(&me, &key, object, compiled).await;
        }
        if moved {
            let name = key.name.clone();
            let sources = lock(&me.routes)
                .sources_where(&key.space, |c| c.placements.values().any(|m| m.status_collectors.contains(&name)));
            me.enqueue(sources);
        }
    }
}

fn compile(o: &DynamicObject) -> Result<Arc<Collector>, Vec<String>> {
    let spec: StatusCollectorSpec = match o.data.get("spec").cloned().map(serde_json::from_value).transpose() {
        Ok(spec) => spec.unwrap_or_default(),
        Err(e) => return Err(vec![format!("spec: {e}")]),
    };
    Collector::compile(&spec).map(Arc::new)
}

/// Writes a collector's `status` (observedGeneration and errors) when it differs.
async fn report(me: &Me, key: &Key, object: &DynamicObject, compiled: &Result<Arc<Collector>, Vec<String>>) {
    let generation = object.metadata.generation.unwrap_or(0);
    let errors = compiled.as_ref().err().filter(|e| !e.is_empty());
    let mut want = json!({"observedGeneration": generation});
    if let Some(errors) = errors {
        want["errors"] = json!(errors);
    }
    let now = object.data.get("status").cloned().unwrap_or_default();
    if now.get("observedGeneration") == want.get("observedGeneration") && now.get("errors") == want.get("errors") {
        return;
    }
    let result = async {
        let client = me.provider.client(&key.space).await?;
        let api: Api<StatusCollector> = Api::all(client);
        api.patch_status(
            &key.name,
            &PatchParams::apply(super::MANAGER).force(),
            &Patch::Apply(json!({
                "apiVersion": orrery_api::API_VERSION, "kind": "StatusCollector",
                "metadata": {"name": key.name},
                "status": want,
            })),
        )
        .await?;
        Ok::<_, super::SummarizerError>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(collector = %key, error = %e, "writing the StatusCollector's status");
    }
}
