//! Summarizing one WDS object: gather where it runs and what each WEC returned, decide
//! ([`decide`], [`Collector::evaluate`](crate::collector::Collector::evaluate)), and write
//! only what differs: its `.status`, its annotations, its CombinedStatuses.

use super::rows::Rows;
use super::{MANAGER, Returned, Route, SourceKey, Summarizer, SummarizerError, Written, lock};
use crate::combined::{self, Subject};
use crate::singleton::{Decision, Destination, StatusWrite, decide};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use orrery_api::CombinedStatus;
use orrery_api::keys::combined_status::CLUSTER_SCOPED_NAMESPACE;
use orrery_api::keys::{EXECUTING_COUNT, SINGLETON_STATUS};
use orrery_runtime::Key;
use orrery_translator::controller::{Resource, digest, digest_text};
use orrery_translator::order::ObjectId;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

impl Summarizer {
    pub(super) async fn reconcile(&self, key: &SourceKey) -> Result<(), SummarizerError> {
        let (space, id) = key;
        let (routes, resource) = {
            let index = lock(&self.routes);
            let routes = index.routes(key);
            let resource = routes.first().map(|r| r.carried.resource.clone());
            (routes, resource.or_else(|| index.resource(&id.group, &id.resource).cloned()))
        };
        let Some(resource) = resource else { return Ok(()) };
        let client = self.provider.client(space).await?;
        let objects = resource.api(&client, id.namespace.as_deref());
        let Some(object) = objects.get_opt(&id.name).await? else {
            // Gone: its CombinedStatuses go with it (they are owned by it).
            lock(&self.written).remove(key);
            lock(&self.rows).remove(key);
            return Ok(());
        };
        let value = serde_json::to_value(&object)?;
        let returned = self.returned(&routes, id);
        // Looked up once per placement, not once per route (10,000 routes share a few).
        let mut singleton: HashMap<&str, bool> = HashMap::new();
        let mut destinations: Vec<Destination<'_>> = Vec::with_capacity(routes.len());
        for (r, ret) in routes.iter().zip(&returned) {
            let qualified = r
                .carried
                .placements
                .keys()
                .any(|p| *singleton.entry(p.as_str()).or_insert_with(|| self.singleton(space, p)));
            destinations.push(Destination { wec: &r.wec, qualified, status: ret.as_deref() });
        }
        let annotations = object.metadata.annotations.clone().unwrap_or_default();
        let decision = decide(
            &destinations,
            annotations.contains_key(EXECUTING_COUNT),
            annotations.contains_key(SINGLETON_STATUS),
        );
        // Tables first, the count last: whoever sees the count sees the tables of as many
        // WECs (the quickstart waits on the count, then reads the CombinedStatus).
        self.write_combined(key, &client, &resource, &value, &routes, &returned).await?;
        self.write_status(&objects, id, &value, &decision.status).await?;
        write_annotations(&objects, id, &annotations, &decision).await
    }

    /// What each route's WEC returned for `id`, in route order.
    fn returned(&self, routes: &[Route], id: &ObjectId) -> Vec<Option<Arc<Returned>>> {
        let stores = lock(&self.returned);
        let by_mailbox = stores.get(&(id.group.clone(), id.resource.clone())).and_then(|store| store.of(id));
        let Some(by_mailbox) = by_mailbox else { return vec![None; routes.len()] };
        routes.iter().map(|r| by_mailbox.get(&*r.mailbox).cloned()).collect()
    }

    fn placement(&self, space: &str, name: &str) -> Option<std::sync::Arc<DynamicObject>> {
        self.placements.get(&Key::new(space, None, name))
    }

    fn singleton(&self, space: &str, placement: &str) -> bool {
        self.placement(space, placement)
            .and_then(|p| p.data.pointer("/spec/wantSingletonReportedState").and_then(Value::as_bool))
            .unwrap_or(false)
    }

    /// Sets or clears `.status` exactly (a JSON patch replaces it whole; a merge patch would
    /// keep fields the WEC no longer reports), through the status subresource when there is
    /// one.
    async fn write_status(
        &self,
        objects: &Api<DynamicObject>,
        id: &ObjectId,
        value: &Value,
        status: &StatusWrite,
    ) -> Result<(), SummarizerError> {
        let current = value.get("status").filter(|s| !s.is_null());
        let ops = match status {
            StatusWrite::Leave => return Ok(()),
            StatusWrite::Set(s) if current == Some(s) => return Ok(()),
            StatusWrite::Set(s) => json!([{"op": "add", "path": "/status", "value": s}]),
            StatusWrite::Clear if current.is_none_or(|c| c.as_object().is_some_and(|o| o.is_empty())) => {
                return Ok(());
            }
            StatusWrite::Clear => json!([{"op": "remove", "path": "/status"}]),
        };
        let patch: Patch<()> = Patch::Json(serde_json::from_value(ops)?);
        let params = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
        let resource = (id.group.clone(), id.resource.clone());
        if !lock(&self.no_status_subresource).contains(&resource) {
            match objects.patch_status(&id.name, &params, &patch).await {
                Ok(_) => return Ok(()),
                Err(e) if is_status(&e, 404) => {
                    if objects.get_opt(&id.name).await?.is_none() {
                        return Ok(());
                    }
                    // The object is there, its status subresource is not.
                    lock(&self.no_status_subresource).insert(resource);
                }
                Err(e) => return Err(e.into()),
            }
        }
        match objects.patch(&id.name, &params, &patch).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// One CombinedStatus per placement that names StatusCollectors for this object, with a
    /// table per valid collector over the WECs that returned a status; stale ones deleted.
    async fn write_combined(
        &self,
        key: &SourceKey,
        client: &kube::Client,
        resource: &Resource,
        value: &Value,
        routes: &[Route],
        returned: &[Option<Arc<Returned>>],
    ) -> Result<(), SummarizerError> {
        let (space, id) = key;
        let Some(uid) = value.pointer("/metadata/uid").and_then(Value::as_str) else { return Ok(()) };
        let obj = crate::expr::object_seen(value);
        let object_digest = digest(&obj);
        let obj = crate::expr::to_cel(&obj);
        let subject = Subject {
            api_version: &resource.api.api_version,
            kind: value.get("kind").and_then(Value::as_str).unwrap_or(&resource.api.kind),
            group: &id.group,
            resource: &id.resource,
            namespace: id.namespace.as_deref(),
            name: &id.name,
            uid,
        };
        let namespace = combined::namespace(id.namespace.as_deref()).to_owned();

        // Per placement: the collectors it names for this object, and the WECs it reaches.
        let mut by_placement: BTreeMap<&str, (BTreeSet<&str>, Vec<usize>)> = BTreeMap::new();
        for (i, r) in routes.iter().enumerate() {
            for (p, m) in &r.carried.placements {
                if !m.status_collectors.is_empty() {
                    let e = by_placement.entry(p).or_default();
                    e.0.extend(m.status_collectors.iter().map(String::as_str));
                    e.1.push(i);
                }
            }
        }
        let mut desired: BTreeMap<String, Box<RawValue>> = BTreeMap::new();
        // Rows of a placement or collector this pass does not use are not carried over.
        let mut kept = lock(&self.rows).remove(key).unwrap_or_default();
        let mut used = super::rows::ObjectRows::new();
        let root = crate::expr::root(&obj);
        for (placement, (collectors, reached)) in by_placement {
            // A placement not seen yet comes with its own event, which summarizes again.
            let Some(placement_uid) = self.placement(space, placement).and_then(|p| p.metadata.uid.clone()) else {
                continue;
            };
            let mut reports: Vec<(&str, &Arc<Returned>)> =
                reached.iter().filter_map(|&i| Some((&*routes[i].wec, returned[i].as_ref()?))).collect();
            reports.sort_by(|a, b| a.0.cmp(b.0));
            let results: Vec<_> = collectors
                .iter()
                .filter_map(|c| {
                    let compiled = lock(&self.compiled).get(&(space.clone(), (*c).to_owned())).cloned()?.ok()?;
                    let at = (placement.to_owned(), (*c).to_owned());
                    let previous = kept.remove(&at);
                    let rows = used
                        .entry(at)
                        .or_insert_with(|| previous.unwrap_or_else(|| Rows::new(compiled.clone(), object_digest)));
                    Some(rows.table(c, &compiled, object_digest, &root, &reports))
                })
                .collect();
            desired.insert(
                combined::name(uid, &placement_uid),
                combined::object(&subject, placement, &placement_uid, &results)?,
            );
        }
        drop(root);
        if !used.is_empty() {
            lock(&self.rows).insert(key.clone(), used);
        }

        let combined_api = ApiResource::erase::<CombinedStatus>(&());
        let in_namespace: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &combined_api);
        let mut written = lock(&self.written).remove(key).unwrap_or_default();
        let outcome = self.sync_combined(space, client, &in_namespace, &namespace, uid, &desired, &mut written).await;
        lock(&self.written).insert(key.clone(), written);
        if outcome.as_ref().is_ok_and(|&writes| writes > 0) {
            lock(&self.passes).wrote(key);
        }
        outcome.map(drop)
    }

    #[allow(clippy::too_many_arguments)]
    async fn sync_combined(
        &self,
        space: &str,
        client: &kube::Client,
        in_namespace: &Api<DynamicObject>,
        namespace: &str,
        uid: &str,
        desired: &BTreeMap<String, Box<RawValue>>,
        written: &mut Written,
    ) -> Result<usize, SummarizerError> {
        let mut writes = 0;
        if !written.listed {
            // Ones an earlier run wrote (the names start with the object's UID).
            match in_namespace.list_metadata(&ListParams::default()).await {
                Ok(list) => {
                    let prefix = combined::name_prefix(uid);
                    for o in list.items {
                        if let Some(name) = o.metadata.name.filter(|n| n.starts_with(&prefix)) {
                            written.combined.entry(name).or_insert((namespace.to_owned(), 0));
                        }
                    }
                }
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
            written.listed = true;
        }
        if !desired.is_empty() && namespace == CLUSTER_SCOPED_NAMESPACE {
            self.ensure_report_namespace(space, client).await?;
        }
        let apply = PatchParams::apply(MANAGER).force();
        for (name, cs) in desired {
            let d = digest_text(cs.get());
            if written.combined.get(name).is_some_and(|(_, w)| *w == d) {
                continue;
            }
            {
                // Never closed: a failure to acquire would only mean writing unbounded.
                let _one = self.combined_writes.acquire().await.ok();
                // The answer (the object as written: half a megabyte at 10,000 WECs) is
                // not read; the digest says what was written.
                let request =
                    kube::core::Request::new(in_namespace.resource_url()).patch(name, &apply, &Patch::Apply(cs));
                client.request_text(request.map_err(kube::Error::BuildRequest)?).await?;
                writes += 1;
            }
            written.combined.insert(name.clone(), (namespace.to_owned(), d));
        }
        let stale: Vec<String> = written.combined.keys().filter(|n| !desired.contains_key(*n)).cloned().collect();
        for name in stale {
            match in_namespace.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
            written.combined.remove(&name);
        }
        Ok(writes)
    }

    async fn ensure_report_namespace(&self, space: &str, client: &kube::Client) -> Result<(), SummarizerError> {
        if lock(&self.report_namespaces).contains(space) {
            return Ok(());
        }
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        let ns = serde_json::from_value(json!({"metadata": {"name": CLUSTER_SCOPED_NAMESPACE}}))?;
        match namespaces.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(e) if is_status(&e, 409) => {}
            Err(e) => return Err(e.into()),
        }
        lock(&self.report_namespaces).insert(space.to_owned());
        Ok(())
    }
}

/// Sets `kubestellar.io/executing-count` and `orrery.io/singleton-status` as decided,
/// when they differ.
async fn write_annotations(
    objects: &Api<DynamicObject>,
    id: &ObjectId,
    annotations: &BTreeMap<String, String>,
    decision: &Decision,
) -> Result<(), SummarizerError> {
    if annotations.get(EXECUTING_COUNT) == decision.executing_count.as_ref()
        && annotations.get(SINGLETON_STATUS) == decision.note.as_ref()
    {
        return Ok(());
    }
    let patch = json!({"metadata": {"annotations": {
        EXECUTING_COUNT: decision.executing_count,
        SINGLETON_STATUS: decision.note,
    }}});
    let params = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
    match objects.patch(&id.name, &params, &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
