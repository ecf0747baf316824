//! What `the-one` asks the syncer to downsync (reference §1.1 SyncerConfig, §2.4).
//!
//! A SyncerConfig names objects three ways, and an object is wanted when any of them names
//! it (KubeStellar's `SyncerConfigSpec` doc: "EITHER `namespaceScope` and/or
//! `namespacedObjects`"):
//!
//! - `namespaceScope`: every object of the listed (namespaced) resources in the listed
//!   namespaces. An empty list on either side selects nothing.
//! - `namespacedObjects`: exact names per namespace, per resource; `"*"` is every object of
//!   that resource in that namespace; an empty (or absent) `names` selects none.
//! - `clusterScope`: exact names of cluster-scoped objects, per resource; `"*"` is all, an
//!   empty (or absent) `objects` selects none.
//!
//! The empty-means-none rule for `clusterScope.objects` follows the API's documentation
//! ("Empty list means none of them"). KubeStellar v0.14.2's syncer code
//! (`syncerconfigmanager.go` `upsertClusterScoped`) instead reads an *absent* list as
//! `"*"` — but the field is `omitempty`, so an empty list written by its own translator
//! arrives absent and would select every object of the resource. orrery follows the
//! documented meaning, which is also what orrery's translator writes.
//!
//! A resource may be `"*"` (KubeStellar's syncer expands it with discovery to every
//! resource of the group and version); here it matches any resource of the group, and
//! [`Wanted::resources`] reports it as it is, for the wiring to expand.
//!
//! Versions: both sides use the listed `apiVersion`. The translator may list one resource at
//! two versions (an object placed at each); [`Wanted::wants`] ignores versions, because an
//! object is the same object whichever version it is read at.

use orrery_api::types::SyncerConfigSpec;
use orrery_api::validation::names::dns1123_label;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// `"*"` in a SyncerConfig list: any name (or any resource).
pub(crate) const WILDCARD: &str = "*";

/// A resource at a version, as `the-one` lists it: what the wiring watches in the mailbox
/// and in the WEC.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The version alone (`v1`).
    pub version: String,
    /// The lowercase plural resource name, or `"*"` for every resource of the group and
    /// version (which only discovery can list).
    pub resource: String,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
}

impl ResourceRef {
    /// `apiVersion` of its objects: `v1` for the core group, else `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// Whether this stands for every resource of its group and version.
    pub fn is_wildcard(&self) -> bool {
        self.resource == WILDCARD
    }
}

/// One object, wherever it is: its resource and where it is. Versions are left out (see the
/// module doc). The derived order (group, resource, namespace, name) makes lists of keys
/// reproducible.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The lowercase plural resource name.
    pub resource: String,
    /// `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// The key of `object`, an object of `resource` in `group`; `None` when it has no name
    /// (an API server holds no such object). An empty `metadata.namespace` is no namespace.
    pub fn of(group: &str, resource: &str, object: &(impl crate::object::Head + ?Sized)) -> Option<Self> {
        Some(Self {
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace: object.namespace().map(str::to_owned),
            name: object.name()?.to_owned(),
        })
    }

    /// Whether this is a Namespace object.
    pub fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.resource == "namespaces"
    }
}

/// A list of names as a SyncerConfig uses them: empty (or absent) means none, `"*"` any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Names {
    Any,
    #[default]
    Nothing,
    Only(BTreeSet<String>),
}

impl Names {
    fn from_list(list: Option<&[String]>) -> Self {
        let list = list.unwrap_or_default();
        if list.iter().any(|n| n == WILDCARD) {
            Self::Any
        } else if list.is_empty() {
            Self::Nothing
        } else {
            Self::Only(list.iter().cloned().collect())
        }
    }

    fn contains(&self, name: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Nothing => false,
            Self::Only(set) => set.contains(name),
        }
    }

    fn is_nothing(&self) -> bool {
        matches!(self, Self::Nothing)
    }

    /// The union of two lists.
    fn union(self, other: Self) -> Self {
        match (self, other) {
            (Self::Any, _) | (_, Self::Any) => Self::Any,
            (Self::Nothing, o) | (o, Self::Nothing) => o,
            (Self::Only(mut a), Self::Only(b)) => {
                a.extend(b);
                Self::Only(a)
            }
        }
    }
}

/// `(group, resource)`; `resource` may be `"*"`.
type GroupResource = (String, String);

fn resource_matches((group, resource): &GroupResource, key: &ObjectKey) -> bool {
    *group == key.group && (resource == WILDCARD || *resource == key.resource)
}

/// What `the-one` asks for, compiled for the questions the syncer asks on every event.
/// [`Wanted::default`] wants nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    resources: BTreeSet<ResourceRef>,
    /// `namespaceScope`: namespaces × resources.
    scope_namespaces: BTreeSet<String>,
    scope_resources: BTreeSet<GroupResource>,
    /// `namespacedObjects`: resource → namespace → names.
    namespaced: BTreeMap<GroupResource, BTreeMap<String, Names>>,
    /// `clusterScope`: resource → names.
    cluster: BTreeMap<GroupResource, Names>,
    namespaces_to_ensure: BTreeSet<String>,
}

impl Wanted {
    /// Compiles the downsync part of a SyncerConfig spec (`upsync` is
    /// [`crate::upsync`]'s). Entries that repeat a resource or namespace add up.
    pub fn new(spec: &SyncerConfigSpec) -> Self {
        let mut wanted = Self::default();
        let mut ensure = BTreeSet::new();

        if let Some(scope) = &spec.namespace_scope {
            for namespace in scope.namespaces.iter().flatten() {
                wanted.scope_namespaces.insert(namespace.clone());
                ensure.insert(namespace.clone());
            }
            for r in scope.resources.iter().flatten() {
                wanted.scope_resources.insert((r.group.clone(), r.resource.clone()));
                wanted.resources.insert(ResourceRef {
                    group: r.group.clone(),
                    version: r.api_version.clone(),
                    resource: r.resource.clone(),
                    namespaced: true,
                });
            }
        }

        for objects in spec.namespaced_objects.iter().flatten() {
            wanted.resources.insert(ResourceRef {
                group: objects.group.clone(),
                version: objects.api_version.clone(),
                resource: objects.resource.clone(),
                namespaced: true,
            });
            let by_namespace = wanted.namespaced.entry((objects.group.clone(), objects.resource.clone())).or_default();
            for entry in objects.objects_by_namespace.iter().flatten() {
                let names = Names::from_list(entry.names.as_deref());
                if !names.is_nothing() {
                    ensure.insert(entry.namespace.clone());
                }
                let slot = by_namespace.entry(entry.namespace.clone()).or_default();
                *slot = std::mem::take(slot).union(names);
            }
        }

        for objects in spec.cluster_scope.iter().flatten() {
            wanted.resources.insert(ResourceRef {
                group: objects.group.clone(),
                version: objects.api_version.clone(),
                resource: objects.resource.clone(),
                namespaced: false,
            });
            let slot = wanted.cluster.entry((objects.group.clone(), objects.resource.clone())).or_default();
            *slot = std::mem::take(slot).union(Names::from_list(objects.objects.as_deref()));
        }

        // Only names a namespace can have: `"*"` or a typo would otherwise be created (and
        // fail) on every pass.
        wanted.namespaces_to_ensure = ensure.into_iter().filter(|ns| dns1123_label(ns).is_empty()).collect();
        wanted
    }

    /// Every resource `the-one` names, at the version it names: what the wiring watches in
    /// the mailbox (and applies to in the WEC). `namespaceScope` and `namespacedObjects`
    /// resources are namespaced, `clusterScope` ones cluster-scoped. A resource listed even
    /// with no object names is included (watching it costs little, and its owned objects in
    /// the WEC must be pruned).
    ///
    /// A resource that drops out of this set between two versions of `the-one` still needs
    /// one last pass of [`crate::plan::to_delete`] with the new `Wanted`, so that what the
    /// syncer owns of it in the WEC goes too.
    pub fn resources(&self) -> &BTreeSet<ResourceRef> {
        &self.resources
    }

    /// Whether `the-one` asks for this object to be downsynced.
    pub fn wants(&self, key: &ObjectKey) -> bool {
        match &key.namespace {
            Some(namespace) => {
                let in_scope = self.scope_namespaces.contains(namespace)
                    && self.scope_resources.iter().any(|gr| resource_matches(gr, key));
                in_scope
                    || self.namespaced.iter().any(|(gr, by_namespace)| {
                        resource_matches(gr, key) && by_namespace.get(namespace).is_some_and(|n| n.contains(&key.name))
                    })
            }
            None => self.cluster.iter().any(|(gr, names)| resource_matches(gr, key) && names.contains(&key.name)),
        }
    }

    /// The namespaces the syncer makes sure exist in the WEC (reference §2.4, KubeStellar's
    /// `syncerconfigmanager.go`): each namespace listed in `namespaceScope.namespaces`, and
    /// each namespace named in `namespacedObjects` with a non-empty `names` list. A
    /// namespace whose Namespace *object* is also listed in `clusterScope` is here too: it
    /// is made to exist first, and its object is applied over it (see
    /// [`crate::downstream::implicit_namespace`]). Names that cannot be namespace names
    /// (`"*"`, `""`) are left out.
    pub fn namespaces_to_ensure(&self) -> &BTreeSet<String> {
        &self.namespaces_to_ensure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Objects and whether each is wanted.
    type Checks = Vec<(ObjectKey, bool)>;

    fn spec(value: Value) -> SyncerConfigSpec {
        serde_json::from_value(value).expect("test spec")
    }

    fn key(group: &str, resource: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey {
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.map(Into::into),
            name: name.into(),
        }
    }

    fn cm(namespace: &str, name: &str) -> ObjectKey {
        key("", "configmaps", Some(namespace), name)
    }

    fn res(group: &str, version: &str, resource: &str, namespaced: bool) -> ResourceRef {
        ResourceRef { group: group.into(), version: version.into(), resource: resource.into(), namespaced }
    }

    /// What orrery's translator writes for a Namespace, a ConfigMap in it and a CRD.
    fn translator_spec() -> Value {
        json!({
            "namespaceScope": {},
            "namespacedObjects": [{"group": "", "resource": "configmaps", "apiVersion": "v1",
                                   "objectsByNamespace": [{"namespace": "shop", "names": ["c", "d"]}]}],
            "clusterScope": [
                {"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["shop"]},
                {"group": "apiextensions.k8s.io", "resource": "customresourcedefinitions", "apiVersion": "v1",
                 "objects": ["widgets.example.com"]}
            ]
        })
    }

    #[test]
    fn wants_table() {
        let table: Vec<(&str, Value, Checks)> = vec![
            ("empty spec", json!({}), vec![(cm("shop", "c"), false), (key("", "namespaces", None, "shop"), false)]),
            (
                "the translator's exact objects",
                translator_spec(),
                vec![
                    (cm("shop", "c"), true),
                    (cm("shop", "d"), true),
                    (cm("shop", "e"), false),
                    (cm("bank", "c"), false),
                    (key("", "secrets", Some("shop"), "c"), false),
                    (key("apps", "configmaps", Some("shop"), "c"), false),
                    (key("", "configmaps", None, "c"), false),
                    (key("", "namespaces", None, "shop"), true),
                    (key("", "namespaces", None, "bank"), false),
                    (key("apiextensions.k8s.io", "customresourcedefinitions", None, "widgets.example.com"), true),
                ],
            ),
            (
                "namespaceScope: every object of the resources in the namespaces",
                json!({"namespaceScope": {"namespaces": ["shop", "bank"],
                       "resources": [{"group": "", "resource": "configmaps", "apiVersion": "v1"},
                                     {"group": "apps", "resource": "deployments", "apiVersion": "v1"}]}}),
                vec![
                    (cm("shop", "anything"), true),
                    (cm("bank", "x"), true),
                    (cm("other", "x"), false),
                    (key("apps", "deployments", Some("shop"), "web"), true),
                    (key("", "secrets", Some("shop"), "s"), false),
                    // namespaceScope never selects cluster-scoped objects, nor the Namespace
                    (key("", "configmaps", None, "x"), false),
                    (key("", "namespaces", None, "shop"), false),
                ],
            ),
            (
                "namespaceScope with no resources, or no namespaces, selects nothing",
                json!({"namespaceScope": {"namespaces": ["shop"]},
                       "namespacedObjects": [{"group": "", "resource": "secrets", "apiVersion": "v1"}]}),
                vec![(cm("shop", "c"), false), (key("", "secrets", Some("shop"), "s"), false)],
            ),
            (
                "namespaceScope with a wildcard resource",
                json!({"namespaceScope": {"namespaces": ["shop"],
                       "resources": [{"group": "apps", "resource": "*", "apiVersion": "v1"}]}}),
                vec![
                    (key("apps", "deployments", Some("shop"), "w"), true),
                    (key("apps", "statefulsets", Some("shop"), "s"), true),
                    (cm("shop", "c"), false),
                ],
            ),
            (
                "namespacedObjects: '*' is the whole namespace, empty and absent names none",
                json!({"namespacedObjects": [
                    {"group": "", "resource": "configmaps", "apiVersion": "v1",
                     "objectsByNamespace": [{"namespace": "all", "names": ["*"]},
                                            {"namespace": "empty", "names": []},
                                            {"namespace": "absent"}]}
                ]}),
                vec![
                    (cm("all", "x"), true),
                    (cm("all", "y"), true),
                    (cm("empty", "x"), false),
                    (cm("absent", "x"), false),
                ],
            ),
            (
                "repeated entries add up",
                json!({"namespacedObjects": [
                    {"group": "", "resource": "configmaps", "apiVersion": "v1",
                     "objectsByNamespace": [{"namespace": "shop", "names": ["a"]},
                                            {"namespace": "shop", "names": ["b"]}]},
                    {"group": "", "resource": "configmaps", "apiVersion": "v2",
                     "objectsByNamespace": [{"namespace": "shop", "names": ["c"]}]}
                ], "clusterScope": [
                    {"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["x"]},
                    {"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": []},
                    {"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["y"]}
                ]}),
                vec![
                    (cm("shop", "a"), true),
                    (cm("shop", "b"), true),
                    (cm("shop", "c"), true),
                    (cm("shop", "d"), false),
                    (key("", "namespaces", None, "x"), true),
                    (key("", "namespaces", None, "y"), true),
                    (key("", "namespaces", None, "z"), false),
                ],
            ),
            (
                "clusterScope: '*' is all; empty and absent are none (the documented meaning)",
                json!({"clusterScope": [
                    {"group": "rbac.authorization.k8s.io", "resource": "clusterroles", "apiVersion": "v1",
                     "objects": ["*"]},
                    {"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": []},
                    {"group": "storage.k8s.io", "resource": "storageclasses", "apiVersion": "v1"}
                ]}),
                vec![
                    (key("rbac.authorization.k8s.io", "clusterroles", None, "any"), true),
                    (key("rbac.authorization.k8s.io", "clusterroles", Some("ns"), "any"), false),
                    (key("", "namespaces", None, "shop"), false),
                    (key("storage.k8s.io", "storageclasses", None, "fast"), false),
                ],
            ),
        ];
        for (case, s, checks) in table {
            let wanted = Wanted::new(&spec(s));
            for (k, want) in checks {
                assert_eq!(wanted.wants(&k), want, "{case}: {k:?}");
            }
        }
    }

    #[test]
    fn resources_table() {
        let table: Vec<(&str, Value, Vec<ResourceRef>)> = vec![
            ("empty spec", json!({"namespaceScope": {}}), vec![]),
            (
                "the translator's exact objects",
                translator_spec(),
                vec![
                    res("", "v1", "configmaps", true),
                    res("", "v1", "namespaces", false),
                    res("apiextensions.k8s.io", "v1", "customresourcedefinitions", false),
                ],
            ),
            (
                "every part, versions kept apart, listed even when naming nothing",
                json!({
                    "namespaceScope": {"namespaces": ["shop"], "resources": [
                        {"group": "apps", "resource": "deployments", "apiVersion": "v1"},
                        {"group": "apps", "resource": "*", "apiVersion": "v1"}]},
                    "namespacedObjects": [
                        {"group": "example.com", "resource": "widgets", "apiVersion": "v1",
                         "objectsByNamespace": [{"namespace": "shop", "names": ["a"]}]},
                        {"group": "example.com", "resource": "widgets", "apiVersion": "v1beta1",
                         "objectsByNamespace": [{"namespace": "shop", "names": ["b"]}]},
                        {"group": "", "resource": "secrets", "apiVersion": "v1"}
                    ],
                    "clusterScope": [{"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": []}]
                }),
                vec![
                    res("", "v1", "namespaces", false),
                    res("", "v1", "secrets", true),
                    res("apps", "v1", "*", true),
                    res("apps", "v1", "deployments", true),
                    res("example.com", "v1", "widgets", true),
                    res("example.com", "v1beta1", "widgets", true),
                ],
            ),
        ];
        for (case, s, want) in table {
            let got: Vec<ResourceRef> = Wanted::new(&spec(s)).resources().iter().cloned().collect();
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn namespaces_to_ensure_table() {
        let table: Vec<(&str, Value, Vec<&str>)> = vec![
            ("empty spec", json!({}), vec![]),
            ("the translator's exact objects", translator_spec(), vec!["shop"]),
            (
                "namespaceScope namespaces, even with no resources",
                json!({"namespaceScope": {"namespaces": ["b", "a"]}}),
                vec!["a", "b"],
            ),
            (
                "namespacedObjects namespaces only with names",
                json!({"namespacedObjects": [
                    {"group": "", "resource": "configmaps", "apiVersion": "v1",
                     "objectsByNamespace": [{"namespace": "named", "names": ["c"]},
                                            {"namespace": "all", "names": ["*"]},
                                            {"namespace": "empty", "names": []},
                                            {"namespace": "absent"}]}
                ]}),
                vec!["all", "named"],
            ),
            (
                "names no namespace can have are left out",
                json!({"namespaceScope": {"namespaces": ["*", "", "Bad_Name", "ok"]}}),
                vec!["ok"],
            ),
            (
                "a Namespace listed only in clusterScope is an object, not an implicit namespace",
                json!({"clusterScope": [
                    {"group": "", "resource": "namespaces", "apiVersion": "v1", "objects": ["x"]}
                ]}),
                vec![],
            ),
        ];
        for (case, s, want) in table {
            let wanted = Wanted::new(&spec(s));
            let got: Vec<&str> = wanted.namespaces_to_ensure().iter().map(String::as_str).collect();
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn default_wants_nothing() {
        let wanted = Wanted::default();
        assert_eq!(wanted, Wanted::new(&SyncerConfigSpec::default()));
        assert!(!wanted.wants(&cm("default", "c")));
        assert!(wanted.resources().is_empty());
        assert!(wanted.namespaces_to_ensure().is_empty());
    }

    #[test]
    fn object_key_and_resource_ref() {
        let table: Vec<(Value, Option<ObjectKey>)> = vec![
            (json!({"metadata": {"name": "c", "namespace": "shop"}}), Some(cm("shop", "c"))),
            (json!({"metadata": {"name": "c", "namespace": ""}}), Some(key("", "configmaps", None, "c"))),
            (json!({"metadata": {"name": "c"}}), Some(key("", "configmaps", None, "c"))),
            (json!({"metadata": {"namespace": "shop"}}), None),
            (json!("not an object"), None),
        ];
        for (object, want) in table {
            assert_eq!(ObjectKey::of("", "configmaps", &object), want, "{object}");
        }
        assert!(key("", "namespaces", None, "x").is_namespace());
        assert!(!key("example.com", "namespaces", None, "x").is_namespace());
        assert_eq!(res("", "v1", "pods", true).api_version(), "v1");
        assert_eq!(res("apps", "v1", "deployments", true).api_version(), "apps/v1");
        assert!(res("apps", "v1", "*", true).is_wildcard());
        assert!(!res("apps", "v1", "deployments", true).is_wildcard());
    }
}
