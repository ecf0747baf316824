//! Reconciling one mailbox: gather its inputs, compute [`desired()`], and write only the
//! difference — copies in dependency order with server-side apply (each wave of
//! independent copies at once), deletions in reverse order, then `the-one`.

use super::desired::{Source, desired};
use super::discovery::{Resource, digest};
use super::follow::source;
use super::{MANAGER, SYNCER_CONFIG_MANAGER, TranslatorController, TranslatorError, Written, lock};
use crate::customize::Params;
use crate::order::{Item, ObjectId, apply_waves, crd_defines, delete_order};
use crate::syncer_config::placed_in;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use orrery_api::keys::SYNCER_CONFIG_NAME;
use orrery_api::{Customizer, SyncerConfig};
use orrery_runtime::Key;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// How many copies of one mailbox are written at once (within a wave of
/// [`apply_waves`]). A mailbox's copies then cost about one round trip to the server, not
/// one each: at 1,000 WECs × 10 objects, written one at a time, the translator's copies
/// waited on round trips while the center's CPU was a quarter idle.
const WRITES_IN_FLIGHT: usize = 16;

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn typed<T: serde::de::DeserializeOwned>(o: &DynamicObject) -> Option<T> {
    serde_json::to_value(o).and_then(serde_json::from_value).ok()
}

impl TranslatorController {
    pub(super) async fn reconcile(&self, mailbox: &str) -> Result<(), TranslatorError> {
        let entry = lock(&self.index).mailbox(mailbox).cloned();
        let serving = self.ready.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(|r| r.contains(mailbox));
        if serving == Some(false) {
            // Not there (yet, or any more): reconciled when it starts serving.
            self.publish(mailbox, None, Default::default());
            return Ok(());
        }
        if let Some(e) = &entry
            && lock(&self.listing).must_wait(mailbox, e.placements.iter().map(|p| p.0.as_str()))
        {
            // Reconciled once the WDSes reaching it are cached whole.
            return Ok(());
        }
        if entry.is_none() && lock(&self.written).get(mailbox).is_some_and(|w| w.seeded && w.objects.is_empty()) {
            self.publish(mailbox, None, Default::default());
            return Ok(());
        }
        let client = self.mailboxes.client(mailbox).await?;
        if !lock(&self.written).get(mailbox).is_some_and(|w| w.seeded) {
            match self.seed(&client).await {
                Ok(w) => {
                    lock(&self.written).insert(mailbox.to_owned(), w);
                }
                // The mailbox is gone (its SyncTarget was deleted) and nothing places here.
                Err(TranslatorError::Kube(e)) if is_not_found(&e) && entry.is_none() => {
                    self.publish(mailbox, None, Default::default());
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }

        // Gather the inputs.
        let placements: Vec<_> = entry.iter().flat_map(|e| e.placements.iter().cloned()).collect();
        let mut gathered = Vec::new();
        let mut upsync = Vec::new();
        {
            let index = lock(&self.index);
            for p in &placements {
                if let Some(c) = index.compiled(p) {
                    upsync.extend(c.upsync.iter().cloned());
                }
                for (id, m) in index.selected(p).into_iter().flatten() {
                    gathered.push((p.clone(), id.clone(), m.clone()));
                }
            }
        }
        let mut sources_data = Vec::with_capacity(gathered.len());
        for (p, id, m) in gathered {
            if let Some((resource, object)) = source(self, &id, &p.0) {
                let prepared = lock(&self.values).of(&object)?;
                sources_data.push((p, id, m, resource, prepared));
            }
        }
        let params = entry.as_ref().and_then(|e| {
            let location = self.locations.get(&Key::new(&e.cluster, None, &e.location))?;
            Some(Params::from_location(&location.metadata))
        });
        let customizers = &self.customizers;
        let d = desired(
            sources_data.iter().map(|(placement, id, modulation, resource, prepared)| Source {
                placement,
                id,
                resource,
                object: &prepared.source,
                projection: &prepared.projection,
                modulation,
            }),
            params.as_ref(),
            |space, r| typed::<Customizer>(&*customizers.get(&Key::new(space, Some(&r.namespace), &r.name))?),
            upsync.iter(),
        );
        for (id, p) in &d.conflicts {
            tracing::warn!(%mailbox, ?id, placement = ?p, "an object of the same identity from another WDS is already placed here; kept the first");
        }

        // Write what changed, dependencies first.
        let written: HashMap<ObjectId, u64> = lock(&self.written)
            .get(mailbox)
            .map(|w| w.objects.iter().map(|(k, (_, h))| (k.clone(), *h)).collect())
            .unwrap_or_default();
        let copies: Vec<(&ObjectId, &super::Copy)> = d.copies.iter().collect();
        let items: Vec<Item> =
            copies.iter().map(|(id, c)| Item { id: (*id).clone(), defines: crd_defines(&c.value) }).collect();
        self.ensure_namespaces(mailbox, &client, &d.copies).await?;
        let apply = PatchParams::apply(MANAGER).force();
        for wave in apply_waves(&items) {
            // Built eagerly: a stream holding a closure over borrowed copies is not `Send`
            // to the compiler (its higher-ranked lifetimes), a list of futures is.
            let pending: Vec<_> = wave
                .into_iter()
                .filter_map(|i| {
                    let (id, copy) = copies[i];
                    (written.get(id) != Some(&copy.digest)).then(|| write_copy(&client, &apply, id, copy))
                })
                .collect();
            let mut writes = futures::stream::iter(pending).buffer_unordered(WRITES_IN_FLIGHT);
            while let Some(done) = writes.next().await {
                let (id, copy) = done?;
                if let Some(w) = lock(&self.written).get_mut(mailbox) {
                    w.objects.insert(id.clone(), (copy.resource.clone(), copy.digest));
                }
            }
        }

        // Delete what is no longer placed here, dependents first; Namespaces stay (the
        // translator does not take full ownership of them, as KubeStellar's).
        let stale: Vec<(ObjectId, Arc<Resource>)> = lock(&self.written)
            .get(mailbox)
            .map(|w| {
                w.objects
                    .iter()
                    .filter(|(k, _)| !d.copies.contains_key(*k))
                    .map(|(k, (r, _))| (k.clone(), r.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let items: Vec<Item> = stale.iter().map(|(id, _)| Item { id: id.clone(), defines: None }).collect();
        for i in delete_order(&items) {
            let (id, resource) = &stale[i];
            let namespace_object = id.group.is_empty() && id.resource == "namespaces";
            if !namespace_object {
                match resource.api(&client, id.namespace.as_deref()).delete(&id.name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if let Some(w) = lock(&self.written).get_mut(mailbox) {
                w.objects.remove(id);
            }
        }

        // The SyncerConfig, last: the syncer acts on it, and everything it names is there.
        let the_one = json!({
            "apiVersion": orrery_api::API_VERSION, "kind": "SyncerConfig",
            "metadata": {"name": SYNCER_CONFIG_NAME},
            "spec": d.the_one,
        });
        let hash = digest(&the_one);
        if lock(&self.written).get(mailbox).and_then(|w| w.the_one) != Some(hash) {
            let configs: Api<SyncerConfig> = Api::all(client.clone());
            let result = configs
                .patch(SYNCER_CONFIG_NAME, &PatchParams::apply(SYNCER_CONFIG_MANAGER).force(), &Patch::Apply(&the_one))
                .await;
            match result {
                Ok(_) => {}
                Err(e) if is_not_found(&e) && entry.is_none() => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(w) = lock(&self.written).get_mut(mailbox) {
                w.the_one = Some(hash);
            }
        }
        self.report(mailbox, entry.as_ref(), &placements, &d.problems).await;
        self.publish(mailbox, entry.map(|e| e.sync_target), d.carried);
        Ok(())
    }

    /// Makes the namespaces of copies exist when their Namespace object is not placed (an
    /// API server keeps no namespaced object in a namespace that does not exist). They are
    /// plain namespaces, not copies: not labelled projected, never deleted by the
    /// translator; the syncer creates them in the WEC the same way.
    async fn ensure_namespaces(
        &self,
        mailbox: &str,
        client: &kube::Client,
        copies: &std::collections::BTreeMap<ObjectId, super::Copy>,
    ) -> Result<(), TranslatorError> {
        let placed: std::collections::BTreeSet<&str> = copies
            .keys()
            .filter(|id| id.group.is_empty() && id.resource == "namespaces")
            .map(|id| id.name.as_str())
            .collect();
        let needed: std::collections::BTreeSet<String> = copies
            .keys()
            .filter_map(|id| id.namespace.clone())
            .filter(|ns| !placed.contains(ns.as_str()))
            .filter(|ns| !lock(&self.written).get(mailbox).is_some_and(|w| w.namespaces.contains(ns)))
            .collect();
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        for ns in needed {
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            match namespaces.create(&kube::api::PostParams::default(), &serde_json::from_value(object)?).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(w) = lock(&self.written).get_mut(mailbox) {
                w.namespaces.insert(ns);
            }
        }
        Ok(())
    }

    /// What a previous run wrote into a mailbox, from the `the-one` it left there (hashes
    /// unknown: each copy is written again once, which the server turns into a no-op).
    async fn seed(&self, client: &kube::Client) -> Result<Written, TranslatorError> {
        let configs: Api<SyncerConfig> = Api::all(client.clone());
        let mut w = Written { seeded: true, ..Default::default() };
        if let Some(config) = configs.get_opt(SYNCER_CONFIG_NAME).await? {
            for p in placed_in(&config.spec) {
                let api = ApiResource {
                    group: p.group.clone(),
                    version: p.version.clone(),
                    api_version: if p.group.is_empty() {
                        p.version.clone()
                    } else {
                        format!("{}/{}", p.group, p.version)
                    },
                    kind: String::new(),
                    plural: p.resource.clone(),
                };
                let resource = Resource { api, namespaced: p.namespace.is_some() };
                let id = ObjectId { group: p.group, resource: p.resource, namespace: p.namespace, name: p.name };
                w.objects.insert(id, (Arc::new(resource), 0));
            }
        } else {
            // Make sure the mailbox exists before claiming it is empty.
            configs.list(&kube::api::ListParams::default().limit(1)).await?;
        }
        Ok(w)
    }
}

/// Applies one copy; on success, says which. The answer is not decoded: the translator
/// keeps what it wrote, not what came back (decoding it was a tenth of the copies' cost).
async fn write_copy<'a>(
    client: &kube::Client,
    apply: &PatchParams,
    id: &'a ObjectId,
    copy: &'a super::Copy,
) -> Result<(&'a ObjectId, &'a super::Copy), TranslatorError> {
    let api = copy.resource.api(client, id.namespace.as_deref());
    let request = kube::core::Request::new(api.resource_url())
        .patch(&id.name, apply, &Patch::Apply(&*copy.value))
        .map_err(kube::Error::BuildRequest)?;
    client.request_text(request).await?;
    Ok((id, copy))
}
