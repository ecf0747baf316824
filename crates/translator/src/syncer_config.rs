//! The `SyncerConfig` named [`THE_ONE`] that the translator keeps in each mailbox: the
//! syncer's whole instruction of what to downsync and upsync (reference §1.1, §2.3, §2.4).
//!
//! - **Downsync lists the exact objects placed**, in `namespacedObjects` and `clusterScope`
//!   (Namespaces included, in `clusterScope`, so that the syncer applies the Namespace
//!   object itself rather than only making sure the namespace exists). `namespaceScope` is
//!   always present and empty: whole-namespace downsync would reach objects that no
//!   placement selected, so orrery never uses it. KubeStellar's translator writes the same
//!   `namespaceScope: {}` for a mailbox with nothing placed (placement-translator.md).
//! - **Upsync is the union of the placements' upsync sets**, deduplicated.
//! - **The output is canonical**: every list sorted and deduplicated, so the same placed
//!   set gives an equal spec whatever order it arrived in. The controller compares the spec
//!   it wants with the one in the mailbox and writes only when they differ; a spec that
//!   depended on watch-event order would be rewritten — and make every syncer resync — on
//!   each pass.
//!
//! [`placed_in`] reads the objects back out of a `the-one`, so a restarted translator can
//! learn what its previous run projected into a mailbox (and prune what is no longer placed)
//! from the mailbox itself, with no state of its own.

use crate::order::ObjectId;
use orrery_api::types::{
    ClusterScopeDownsyncResource, NamespaceAndNames, NamespaceScopeDownsyncObjects, NamespaceScopeDownsyncs,
    SyncerConfigSpec, UpsyncSet,
};
use std::collections::{BTreeMap, BTreeSet};

/// The name of the one SyncerConfig in each mailbox that the translator maintains (and the
/// only one it reads; KubeStellar's translator ignores any others).
pub const THE_ONE: &str = "the-one";

/// `"*"` in a SyncerConfig name list: every object, not one.
const WILDCARD: &str = "*";

/// One object placed into a mailbox, at the version the translator writes it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Placed {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The version alone, without the group (`v1`).
    pub version: String,
    /// The lowercase plural resource name (`deployments`).
    pub resource: String,
    /// `None` for a cluster-scoped object (Namespaces included).
    pub namespace: Option<String>,
    pub name: String,
}

impl From<&Placed> for ObjectId {
    fn from(placed: &Placed) -> Self {
        Self {
            group: placed.group.clone(),
            resource: placed.resource.clone(),
            namespace: placed.namespace.clone(),
            name: placed.name.clone(),
        }
    }
}

/// A resource at a version: how both SyncerConfig lists group their objects.
type ResourceKey<'a> = (&'a str, &'a str, &'a str);

/// The spec of [`THE_ONE`] for a mailbox into which `placed` were projected, by placements
/// whose upsync sets are `upsync`. Equal inputs as sets give equal specs.
pub fn syncer_config<'a>(
    placed: impl IntoIterator<Item = &'a Placed>,
    upsync: impl IntoIterator<Item = &'a UpsyncSet>,
) -> SyncerConfigSpec {
    // (group, resource, version) → namespace → names
    let mut namespaced: BTreeMap<ResourceKey<'a>, BTreeMap<&'a str, BTreeSet<&'a str>>> = BTreeMap::new();
    // (group, resource, version) → names
    let mut cluster: BTreeMap<ResourceKey<'a>, BTreeSet<&'a str>> = BTreeMap::new();
    for p in placed {
        let key = (p.group.as_str(), p.resource.as_str(), p.version.as_str());
        match &p.namespace {
            Some(ns) => namespaced.entry(key).or_default().entry(ns.as_str()).or_default().insert(&p.name),
            None => cluster.entry(key).or_default().insert(&p.name),
        };
    }
    let namespaced_objects = namespaced
        .into_iter()
        .map(|((group, resource, version), by_namespace)| NamespaceScopeDownsyncObjects {
            group: group.to_owned(),
            resource: resource.to_owned(),
            api_version: version.to_owned(),
            objects_by_namespace: Some(
                by_namespace
                    .into_iter()
                    .map(|(namespace, names)| NamespaceAndNames {
                        namespace: namespace.to_owned(),
                        names: Some(names.into_iter().map(str::to_owned).collect()),
                    })
                    .collect(),
            ),
        })
        .collect();
    let cluster_scope = cluster
        .into_iter()
        .map(|((group, resource, version), names)| ClusterScopeDownsyncResource {
            group: group.to_owned(),
            resource: resource.to_owned(),
            api_version: version.to_owned(),
            objects: Some(names.into_iter().map(str::to_owned).collect()),
        })
        .collect();
    SyncerConfigSpec {
        namespace_scope: Some(NamespaceScopeDownsyncs::default()),
        namespaced_objects: non_empty(namespaced_objects),
        cluster_scope: non_empty(cluster_scope),
        upsync: non_empty(upsync_union(upsync)),
    }
}

/// The objects `spec` downsyncs by name: the inverse of [`syncer_config`]. `namespaceScope`
/// and `"*"` names select objects without naming them, so they contribute nothing (orrery
/// never writes either; a `the-one` left by something else may hold them).
pub fn placed_in(spec: &SyncerConfigSpec) -> BTreeSet<Placed> {
    let mut placed = BTreeSet::new();
    for objects in spec.namespaced_objects.iter().flatten() {
        for by_namespace in objects.objects_by_namespace.iter().flatten() {
            for name in by_namespace.names.iter().flatten().filter(|name| *name != WILDCARD) {
                placed.insert(Placed {
                    group: objects.group.clone(),
                    version: objects.api_version.clone(),
                    resource: objects.resource.clone(),
                    namespace: Some(by_namespace.namespace.clone()),
                    name: name.clone(),
                });
            }
        }
    }
    for resource in spec.cluster_scope.iter().flatten() {
        for name in resource.objects.iter().flatten().filter(|name| *name != WILDCARD) {
            placed.insert(Placed {
                group: resource.group.clone(),
                version: resource.api_version.clone(),
                resource: resource.resource.clone(),
                namespace: None,
                name: name.clone(),
            });
        }
    }
    placed
}

/// The union of upsync sets, each in canonical form, without duplicates, sorted.
fn upsync_union<'a>(sets: impl IntoIterator<Item = &'a UpsyncSet>) -> Vec<UpsyncSet> {
    let mut union: Vec<UpsyncSet> = sets.into_iter().map(canonical).collect();
    union.sort_by(|a, b| {
        a.api_group
            .cmp(&b.api_group)
            .then_with(|| a.resources.cmp(&b.resources))
            .then_with(|| a.namespaces.cmp(&b.namespaces))
            .then_with(|| a.names.cmp(&b.names))
    });
    union.dedup();
    union
}

/// One way of writing each upsync set: its lists are sets (sorted, deduplicated), the core
/// group `""` is left out, and an empty optional list is left out — each means the same to
/// the syncer (an absent list and an empty one both match nothing), so two placements that
/// ask for the same thing in different words give one entry.
fn canonical(set: &UpsyncSet) -> UpsyncSet {
    let mut out = set.clone();
    out.api_group = out.api_group.filter(|group| !group.is_empty());
    out.resources = sorted(out.resources);
    out.namespaces = out.namespaces.map(sorted).and_then(non_empty);
    out.names = out.names.map(sorted).and_then(non_empty);
    out
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list.dedup();
    list
}

/// `None` for an empty list, which the Go types omit (`omitempty`).
fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn placed(group: &str, version: &str, resource: &str, namespace: Option<&str>, name: &str) -> Placed {
        Placed {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
            namespace: namespace.map(Into::into),
            name: name.into(),
        }
    }

    fn cm(namespace: &str, name: &str) -> Placed {
        placed("", "v1", "configmaps", Some(namespace), name)
    }

    fn ns(name: &str) -> Placed {
        placed("", "v1", "namespaces", None, name)
    }

    fn upsync(value: Value) -> UpsyncSet {
        serde_json::from_value(value).expect("test upsync set")
    }

    fn to_json(spec: &SyncerConfigSpec) -> Value {
        serde_json::to_value(spec).expect("SyncerConfigSpec serialises")
    }

    /// (case, placed, expected spec as JSON).
    fn downsync_table() -> Vec<(&'static str, Vec<Placed>, Value)> {
        vec![
            ("nothing placed", vec![], json!({"namespaceScope": {}})),
            (
                "one namespaced object",
                vec![cm("shop", "c")],
                json!({"namespaceScope": {}, "namespacedObjects": [
                    {"group": "", "resource": "configmaps", "apiVersion": "v1",
                     "objectsByNamespace": [{"namespace": "shop", "names": ["c"]}]}
                ]}),
            ),
            (
                "namespaces sorted, names sorted, duplicates once",
                vec![cm("shop", "z"), cm("bank", "b"), cm("shop", "a"), cm("shop", "z"), cm("bank", "a")],
                json!({"namespaceScope": {}, "namespacedObjects": [
                    {"group": "", "resource": "configmaps", "apiVersion": "v1", "objectsByNamespace": [
                        {"namespace": "bank", "names": ["a", "b"]},
                        {"namespace": "shop", "names": ["a", "z"]}
                    ]}
                ]}),
            ),
            (
                "grouped by group, resource and version, in that order",
                vec![
                    placed("apps", "v1", "deployments", Some("shop"), "web"),
                    cm("shop", "c"),
                    placed("example.com", "v1beta1", "widgets", Some("shop"), "old"),
                    placed("example.com", "v1", "widgets", Some("shop"), "new"),
                    placed("", "v1", "secrets", Some("shop"), "s"),
                ],
                json!({"namespaceScope": {}, "namespacedObjects": [
                    {"group": "", "resource": "configmaps", "apiVersion": "v1",
                     "objectsByNamespace": [{"namespace": "shop", "names": ["c"]}]},
                    {"group": "", "resource": "secrets", "apiVersion": "v1",
                     "objectsByNamespace": [{"namespace": "shop", "names": ["s"]}]},
                    {"group": "apps", "resource": "deployments", "apiVersion": "v1",
                     "objectsByNamespace": [{"namespace": "shop", "names": ["web"]}]},
                    {"group": "example.com", "resource": "widgets", "apiVersion": "v1",
                     "objectsByNamespace": [{"namespace": "shop", "names": ["new"]}]},
                    {"group": "example.com", "resource": "widgets", "apiVersion": "v1beta1",
                     "objectsByNamespace": [{"namespace": "shop", "names": ["old"]}]}
                ]}),
            ),
            (
                "cluster-scoped objects, Namespaces included",
                vec![
                    ns("shop"),
                    placed("apiextensions.k8s.io", "v1", "customresourcedefinitions", None, "widgets.example.com"),
                    ns("bank"),
                    placed("rbac.authorization.k8s.io", "v1", "clusterroles", None, "reader"),
                ],
                json!({"namespaceScope": {}, "clusterScope": [
                    {"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["bank", "shop"]},
                    {"group": "apiextensions.k8s.io", "resource": "customresourcedefinitions", "apiVersion": "v1",
                     "objects": ["widgets.example.com"]},
                    {"group": "rbac.authorization.k8s.io", "resource": "clusterroles", "apiVersion": "v1",
                     "objects": ["reader"]}
                ]}),
            ),
            (
                "a Namespace and its objects: the Namespace is listed in clusterScope",
                vec![cm("shop", "c"), ns("shop")],
                json!({"namespaceScope": {},
                    "namespacedObjects": [{"group": "", "resource": "configmaps", "apiVersion": "v1",
                                           "objectsByNamespace": [{"namespace": "shop", "names": ["c"]}]}],
                    "clusterScope": [{"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["shop"]}]}),
            ),
        ]
    }

    #[test]
    fn downsync_table_in_any_order() {
        for (case, placed, want) in downsync_table() {
            let mut reversed = placed.clone();
            reversed.reverse();
            let spec = syncer_config(&placed, []);
            assert_eq!(to_json(&spec), want, "{case}");
            assert_eq!(syncer_config(&reversed, []), spec, "{case}: reversed input");
            let as_set: BTreeSet<Placed> = placed.iter().cloned().collect();
            assert_eq!(syncer_config(&as_set, []), spec, "{case}: as a set");
        }
    }

    #[test]
    fn placed_in_inverts_syncer_config() {
        for (case, placed, _) in downsync_table() {
            let want: BTreeSet<Placed> = placed.into_iter().collect();
            let spec = syncer_config(&want, []);
            assert_eq!(placed_in(&spec), want, "{case}");
            // and through the wire, as a restarted translator reads it back
            let read: SyncerConfigSpec = serde_json::from_value(to_json(&spec)).expect("round trip");
            assert_eq!(placed_in(&read), want, "{case}: through JSON");
        }
    }

    #[test]
    fn nothing_placed_serialises_as_kubestellar_writes_it() {
        let spec = syncer_config([], []);
        assert_eq!(serde_json::to_string(&spec).expect("serialises"), r#"{"namespaceScope":{}}"#);
        assert!(placed_in(&spec).is_empty());
    }

    #[test]
    fn upsync_table() {
        let table: Vec<(&str, Vec<Value>, Value)> = vec![
            ("no upsync", vec![], json!(null)),
            (
                "one set, written canonically",
                vec![
                    json!({"apiGroup": "", "resources": ["pods", "events", "pods"], "namespaces": ["b", "a"], "names": ["*"]}),
                ],
                json!([{"resources": ["events", "pods"], "namespaces": ["a", "b"], "names": ["*"]}]),
            ),
            (
                "the same set from two placements, in different words, once",
                vec![
                    json!({"apiGroup": "group1.test", "resources": ["cogs", "flanges"], "namespaces": ["orbital"], "names": ["george"]}),
                    json!({"apiGroup": "group1.test", "resources": ["flanges", "cogs"], "namespaces": ["orbital"], "names": ["george"]}),
                ],
                json!([{"apiGroup": "group1.test", "resources": ["cogs", "flanges"], "namespaces": ["orbital"], "names": ["george"]}]),
            ),
            (
                "an empty list and an absent one are the same",
                vec![
                    json!({"apiGroup": "x.io", "resources": ["things"], "namespaces": []}),
                    json!({"apiGroup": "x.io", "resources": ["things"]}),
                ],
                json!([{"apiGroup": "x.io", "resources": ["things"]}]),
            ),
            (
                "different sets all kept, sorted",
                vec![
                    json!({"apiGroup": "b.io", "resources": ["things"], "names": ["*"]}),
                    json!({"resources": ["pods"], "namespaces": ["*"], "names": ["*"]}),
                    json!({"apiGroup": "a.io", "resources": ["things"], "names": ["*"]}),
                ],
                json!([
                    {"resources": ["pods"], "namespaces": ["*"], "names": ["*"]},
                    {"apiGroup": "a.io", "resources": ["things"], "names": ["*"]},
                    {"apiGroup": "b.io", "resources": ["things"], "names": ["*"]}
                ]),
            ),
        ];
        for (case, sets, want) in table {
            let sets: Vec<UpsyncSet> = sets.into_iter().map(upsync).collect();
            let spec = syncer_config([], &sets);
            assert_eq!(to_json(&spec).get("upsync").cloned().unwrap_or(Value::Null), want, "{case}");
            let mut reversed = sets.clone();
            reversed.reverse();
            assert_eq!(syncer_config([], &reversed), spec, "{case}: reversed input");
            assert!(placed_in(&spec).is_empty(), "{case}: upsync places nothing");
        }
    }

    #[test]
    fn downsync_and_upsync_together() {
        let placed = [cm("commonstuff", "httpd-htdocs"), ns("commonstuff")];
        let sets = [upsync(
            json!({"apiGroup": "group1.test", "resources": ["sprockets"], "namespaces": ["orbital"], "names": ["george"]}),
        )];
        assert_eq!(
            to_json(&syncer_config(&placed, &sets)),
            json!({
                "namespaceScope": {},
                "namespacedObjects": [{"group": "", "resource": "configmaps", "apiVersion": "v1",
                                       "objectsByNamespace": [{"namespace": "commonstuff", "names": ["httpd-htdocs"]}]}],
                "clusterScope": [{"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["commonstuff"]}],
                "upsync": [{"apiGroup": "group1.test", "resources": ["sprockets"], "namespaces": ["orbital"], "names": ["george"]}]
            })
        );
    }

    #[test]
    fn placed_in_table() {
        let table: Vec<(&str, Value, Vec<Placed>)> = vec![
            ("an empty spec", json!({}), vec![]),
            (
                "namespaceScope selects whole namespaces, naming no object",
                json!({"namespaceScope": {"namespaces": ["shop"], "resources": [{"group": "", "resource": "configmaps", "apiVersion": "v1"}]}}),
                vec![],
            ),
            (
                "wildcards name no object",
                json!({
                    "namespacedObjects": [{"group": "", "resource": "configmaps", "apiVersion": "v1",
                                           "objectsByNamespace": [{"namespace": "shop", "names": ["*", "c"]}]}],
                    "clusterScope": [{"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["*"]}]
                }),
                vec![cm("shop", "c")],
            ),
            (
                "absent and empty name lists select nothing",
                json!({
                    "namespacedObjects": [
                        {"group": "", "resource": "configmaps", "apiVersion": "v1"},
                        {"group": "", "resource": "secrets", "apiVersion": "v1",
                         "objectsByNamespace": [{"namespace": "shop"}, {"namespace": "bank", "names": []}]}
                    ],
                    "clusterScope": [{"group": "", "resource": "namespaces", "apiVersion": "v1"}]
                }),
                vec![],
            ),
            (
                "unsorted lists from elsewhere",
                json!({
                    "namespacedObjects": [{"group": "apps", "resource": "deployments", "apiVersion": "v1",
                                           "objectsByNamespace": [{"namespace": "b", "names": ["y", "x"]}, {"namespace": "a", "names": ["z"]}]}],
                    "clusterScope": [{"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["b", "a"]}]
                }),
                vec![
                    placed("apps", "v1", "deployments", Some("b"), "y"),
                    placed("apps", "v1", "deployments", Some("b"), "x"),
                    placed("apps", "v1", "deployments", Some("a"), "z"),
                    ns("b"),
                    ns("a"),
                ],
            ),
        ];
        for (case, spec, want) in table {
            let spec: SyncerConfigSpec = serde_json::from_value(spec).expect("test spec");
            assert_eq!(placed_in(&spec), want.into_iter().collect(), "{case}");
        }
    }

    #[test]
    fn placed_converts_to_object_id() {
        let table = [
            (
                cm("shop", "c"),
                ObjectId {
                    group: "".into(),
                    resource: "configmaps".into(),
                    namespace: Some("shop".into()),
                    name: "c".into(),
                },
            ),
            (
                ns("shop"),
                ObjectId { group: "".into(), resource: "namespaces".into(), namespace: None, name: "shop".into() },
            ),
        ];
        for (placed, want) in table {
            assert_eq!(ObjectId::from(&placed), want);
        }
    }
}
