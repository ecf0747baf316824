//! Which resources the workload description spaces serve, found at run time: built-ins,
//! aggregated APIs and CRD-defined resources alike, minus what never travels.

use crate::categories::{Propagation, resource_mode};
use kube::api::ApiResource;
use kube::discovery::{Discovery, Scope, verbs};
use std::collections::BTreeMap;

/// A resource the translator follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

impl Resource {
    /// Its objects in `namespace` (namespaced resources), or all of them.
    pub fn api(&self, client: &kube::Client, namespace: Option<&str>) -> kube::Api<kube::api::DynamicObject> {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => kube::Api::namespaced_with(client.clone(), ns, &self.api),
            _ => kube::Api::all_with(client.clone(), &self.api),
        }
    }
}

/// A digest of a JSON value, to write an object only when what would be written changed.
pub fn digest(v: &serde_json::Value) -> u64 {
    digest_text(&v.to_string())
}

/// A digest of JSON text; equal to [`digest`] of the value it is the compact encoding of.
pub fn digest_text(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// (group, plural): a resource whatever its version.
pub type ResourceName = (String, String);

/// Whether objects of `group`/`plural` go to mailboxes at all.
pub fn travels(group: &str, plural: &str) -> bool {
    matches!(resource_mode(group, plural).propagation, Propagation::GoesToEdge | Propagation::GoesToMailbox)
}

/// The listable, watchable resources one space serves that may travel, at their preferred
/// version.
pub async fn served(client: kube::Client) -> Result<BTreeMap<ResourceName, Resource>, kube::Error> {
    let discovery = Discovery::new(client).run().await?;
    let mut out = BTreeMap::new();
    for group in discovery.groups() {
        for (api, caps) in group.recommended_resources() {
            if !caps.supports_operation(verbs::LIST) || !caps.supports_operation(verbs::WATCH) {
                continue;
            }
            if !travels(&api.group, &api.plural) {
                continue;
            }
            let namespaced = matches!(caps.scope, Scope::Namespaced);
            out.insert((api.group.clone(), api.plural.clone()), Resource { api, namespaced });
        }
    }
    Ok(out)
}
