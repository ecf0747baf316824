//! The order in which a mailbox's objects are written and deleted.
//!
//! An object cannot be created in a namespace that does not exist yet, and a custom
//! resource cannot be created before the CRD that defines it is there (reference §2.6:
//! Namespaces and CRDs are "natured in both; order matters: create before dependents,
//! delete after"). Writing in the wrong order does not break a level-triggered controller —
//! the failed writes are retried — but it turns one pass into several, fills logs with
//! 404s, and the syncer in the WEC sees the same churn. So the translator writes in
//! dependency order, and deletes in the reverse.
//!
//! The dependencies form a graph ([`petgraph`]) with an edge from each Namespace to the
//! objects in it and from each CRD to the objects of the resource it defines — only when
//! both ends are being written together: an object whose Namespace (or CRD) is not in the
//! set depends on nothing here, because its Namespace is either already there or will never
//! come from this mailbox. Among objects free to go next, Namespaces and CRDs go first (so
//! that later, independent batches of objects find them too), then by [`ObjectId`] order,
//! so the same set always yields the same sequence whatever order it was listed in — the
//! controller's writes, logs and tests are reproducible.
//!
//! Well-formed objects cannot form a cycle (Namespaces and CRDs are cluster-scoped and
//! define neither Namespaces nor CRDs), but the inputs are whatever a WDS holds; should a
//! malformed set form one, the order falls back to "Namespaces and CRDs first, then the
//! rest", which is the right order for every well-formed set anyway.

use crate::categories::is_ordered_first;
use crate::object::meta_str;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

const CRD_GROUP: &str = "apiextensions.k8s.io";
const CRD_RESOURCE: &str = "customresourcedefinitions";

/// Which object: its resource and where it is. The derived order (group, resource,
/// namespace, name) is the tie-break of [`apply_order`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The lowercase plural resource name (`deployments`).
    pub resource: String,
    /// `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectId {
    /// The ID of `object`, an object of `resource` in `group`; `None` when it has no name
    /// (nothing can be written without one).
    pub fn of(group: &str, resource: &str, object: &Value) -> Option<Self> {
        Some(Self {
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace: meta_str(object, "namespace").map(str::to_owned),
            name: meta_str(object, "name")?.to_owned(),
        })
    }

    /// Whether this is a Namespace, which the objects in it depend on.
    fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.resource == "namespaces"
    }

    /// Namespaces and CRDs go before the rest when nothing else decides.
    fn rank(&self) -> u8 {
        if is_ordered_first(&self.group, &self.resource) { 0 } else { 1 }
    }
}

/// One object to be written to (or deleted from) a mailbox, as the ordering sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub id: ObjectId,
    /// For a CRD: the (group, plural) it defines, from [`crd_defines`]; `None` otherwise.
    pub defines: Option<(String, String)>,
}

impl Item {
    /// The item for `object`, an object of `resource` in `group`, reading what it defines
    /// when it is a CRD; `None` when it has no name.
    pub fn of(group: &str, resource: &str, object: &Value) -> Option<Self> {
        let id = ObjectId::of(group, resource, object)?;
        let defines = if group == CRD_GROUP && resource == CRD_RESOURCE { crd_defines(object) } else { None };
        Some(Self { id, defines })
    }
}

/// The (group, plural) a CustomResourceDefinition defines: its `spec.group` and
/// `spec.names.plural`. `None` when either is missing or empty — such a CRD defines no
/// resource anything could depend on.
pub fn crd_defines(crd: &Value) -> Option<(String, String)> {
    let spec = crd.get("spec")?;
    let group = spec.get("group")?.as_str().filter(|s| !s.is_empty())?;
    let plural = spec.get("names")?.get("plural")?.as_str().filter(|s| !s.is_empty())?;
    Some((group.to_owned(), plural.to_owned()))
}

/// The order in which to write `items`, as indices into it: every Namespace before the
/// objects in it and every CRD before the objects of the resource it defines (when both
/// are in `items`); otherwise Namespaces and CRDs first, then the rest; ties by
/// [`ObjectId`], then by index. Every index appears exactly once.
pub fn apply_order(items: &[Item]) -> Vec<usize> {
    let graph = dependencies(items);
    prioritized_toposort(&graph, items).unwrap_or_else(|| category_order(items))
}

/// [`apply_order`] cut into waves whose items may be written at the same time: a new wave
/// starts where an item depends on one in the current wave, and where the Namespaces and
/// CRDs end (so the rest still finds every one of them there, as in [`apply_order`]).
/// Written wave after wave, each wave concurrently, a mailbox costs a few round trips to
/// the server instead of one per object; in the usual case, one Namespace then all of its
/// objects.
pub fn apply_waves(items: &[Item]) -> Vec<Vec<usize>> {
    let graph = dependencies(items);
    let mut waves: Vec<Vec<usize>> = Vec::new();
    let mut wave_of = vec![usize::MAX; items.len()];
    for i in apply_order(items) {
        let current = waves.len().checked_sub(1);
        let split = match current.and_then(|w| waves[w].last().map(|&last| (w, last))) {
            None => true,
            Some((w, last)) => {
                items[last].id.rank() != items[i].id.rank()
                    || graph
                        .edges_directed(NodeIndex::new(i), Direction::Incoming)
                        .any(|e| wave_of[e.source().index()] == w)
            }
        };
        if split {
            waves.push(Vec::new());
        }
        let w = waves.len() - 1;
        waves[w].push(i);
        wave_of[i] = w;
    }
    waves
}

/// The order in which to delete `items`: exactly the reverse of [`apply_order`], so every
/// object goes before the Namespace it is in and the CRD that defines it, and Namespaces and
/// CRDs go last (deleting a Namespace or CRD first would have the server cascade-delete its
/// dependents behind the translator's back). Whether a Namespace is deleted at all is not
/// decided here (KubeStellar's translator never deletes one, reference §2.3).
pub fn delete_order(items: &[Item]) -> Vec<usize> {
    let mut order = apply_order(items);
    order.reverse();
    order
}

/// The dependency graph of `items`: node `i` is `items[i]`, and an edge `a → b` means `a`
/// must be written before `b`.
fn dependencies(items: &[Item]) -> DiGraph<(), ()> {
    let mut graph = DiGraph::with_capacity(items.len(), items.len());
    for _ in items {
        graph.add_node(());
    }
    let mut namespaces: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut definers: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        if item.id.is_namespace() {
            namespaces.entry(item.id.name.as_str()).or_default().push(i);
        }
        if let Some((group, plural)) = &item.defines {
            definers.entry((group.as_str(), plural.as_str())).or_default().push(i);
        }
    }
    for (j, item) in items.iter().enumerate() {
        let namespace = item.id.namespace.as_deref().and_then(|ns| namespaces.get(ns));
        let definer = definers.get(&(item.id.group.as_str(), item.id.resource.as_str()));
        for &i in namespace.into_iter().chain(definer).flatten() {
            graph.add_edge(NodeIndex::new(i), NodeIndex::new(j), ());
        }
    }
    graph
}

/// Kahn's algorithm, always taking the ready item with the smallest (rank, ID, index):
/// the least topological order under that priority. `None` when the graph has a cycle (some
/// items never become ready).
fn prioritized_toposort(graph: &DiGraph<(), ()>, items: &[Item]) -> Option<Vec<usize>> {
    let priority = |i: usize| Reverse((items[i].id.rank(), &items[i].id, i));
    let mut waiting_on: Vec<usize> =
        graph.node_indices().map(|n| graph.edges_directed(n, Direction::Incoming).count()).collect();
    let mut ready: BinaryHeap<_> = (0..items.len()).filter(|&i| waiting_on[i] == 0).map(priority).collect();
    let mut order = Vec::with_capacity(items.len());
    while let Some(Reverse((_, _, i))) = ready.pop() {
        order.push(i);
        for edge in graph.edges_directed(NodeIndex::new(i), Direction::Outgoing) {
            let j = edge.target().index();
            waiting_on[j] -= 1;
            if waiting_on[j] == 0 {
                ready.push(priority(j));
            }
        }
    }
    (order.len() == items.len()).then_some(order)
}

/// Namespaces and CRDs first, then the rest, each by ID: the order when the graph cannot
/// give one.
fn category_order(items: &[Item]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (items[i].id.rank(), &items[i].id, i));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(group: &str, resource: &str, namespace: Option<&str>, name: &str) -> ObjectId {
        ObjectId {
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.map(Into::into),
            name: name.into(),
        }
    }

    fn obj(group: &str, resource: &str, namespace: Option<&str>, name: &str) -> Item {
        Item { id: id(group, resource, namespace, name), defines: None }
    }

    fn ns(name: &str) -> Item {
        obj("", "namespaces", None, name)
    }

    fn cm(namespace: &str, name: &str) -> Item {
        obj("", "configmaps", Some(namespace), name)
    }

    fn crd(group: &str, plural: &str) -> Item {
        Item {
            id: id(CRD_GROUP, CRD_RESOURCE, None, &format!("{plural}.{group}")),
            defines: Some((group.into(), plural.into())),
        }
    }

    /// `resource/name` or `resource/namespace/name`: short enough for tables, unique in them.
    fn label(item: &Item) -> String {
        match &item.id.namespace {
            Some(ns) => format!("{}/{ns}/{}", item.id.resource, item.id.name),
            None => format!("{}/{}", item.id.resource, item.id.name),
        }
    }

    fn labels(items: &[Item], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| label(&items[i])).collect()
    }

    /// (case, items, expected apply order by label).
    fn table() -> Vec<(&'static str, Vec<Item>, Vec<&'static str>)> {
        vec![
            ("nothing", vec![], vec![]),
            (
                "a Namespace before the objects in it",
                vec![cm("shop", "a"), obj("apps", "deployments", Some("shop"), "web"), ns("shop")],
                vec!["namespaces/shop", "configmaps/shop/a", "deployments/shop/web"],
            ),
            (
                "each Namespace before its own objects",
                vec![cm("b", "x"), cm("a", "y"), ns("b"), ns("a")],
                vec!["namespaces/a", "namespaces/b", "configmaps/a/y", "configmaps/b/x"],
            ),
            (
                "a CRD before the custom resources it defines, namespaced or cluster-scoped",
                vec![
                    obj("example.com", "widgets", Some("shop"), "w1"),
                    obj("example.com", "gadgets", None, "g1"),
                    crd("example.com", "widgets"),
                    ns("shop"),
                    crd("example.com", "gadgets"),
                ],
                vec![
                    "namespaces/shop",
                    "customresourcedefinitions/gadgets.example.com",
                    "customresourcedefinitions/widgets.example.com",
                    "gadgets/g1",
                    "widgets/shop/w1",
                ],
            ),
            (
                "a CRD whose group differs defines nothing here",
                vec![obj("other.io", "widgets", None, "w"), crd("example.com", "widgets")],
                vec!["customresourcedefinitions/widgets.example.com", "widgets/w"],
            ),
            (
                "cluster-scoped objects after Namespaces and CRDs, by ID",
                vec![
                    obj("rbac.authorization.k8s.io", "clusterroles", None, "reader"),
                    obj("scheduling.k8s.io", "priorityclasses", None, "high"),
                    obj("", "persistentvolumes", None, "pv1"),
                    ns("zzz"),
                ],
                vec!["namespaces/zzz", "persistentvolumes/pv1", "clusterroles/reader", "priorityclasses/high"],
            ),
            (
                "objects whose Namespace is not in the set depend on nothing",
                vec![obj("apps", "deployments", Some("shop"), "web"), cm("default", "c"), ns("other")],
                vec!["namespaces/other", "configmaps/default/c", "deployments/shop/web"],
            ),
            (
                "custom resources whose CRD is not in the set depend on nothing",
                vec![obj("example.com", "widgets", Some("shop"), "w"), cm("shop", "c")],
                vec!["configmaps/shop/c", "widgets/shop/w"],
            ),
            (
                "dependencies beat the tie-break (a CRD claiming to define Namespaces)",
                vec![ns("a"), crd("", "namespaces")],
                vec!["customresourcedefinitions/namespaces.", "namespaces/a"],
            ),
            (
                "a cycle falls back to category order (a Namespace inside itself)",
                vec![cm("loop", "c"), obj("", "namespaces", Some("loop"), "loop")],
                vec!["namespaces/loop/loop", "configmaps/loop/c"],
            ),
            (
                "a cycle falls back to category order (a CRD defining CRDs)",
                vec![cm("shop", "c"), crd(CRD_GROUP, CRD_RESOURCE), ns("shop")],
                vec![
                    "namespaces/shop",
                    "customresourcedefinitions/customresourcedefinitions.apiextensions.k8s.io",
                    "configmaps/shop/c",
                ],
            ),
        ]
    }

    /// The inputs of a case in several other orders: the output must not change.
    fn permutations(items: &[Item]) -> Vec<Vec<Item>> {
        let mut out = vec![items.to_vec()];
        let mut reversed = items.to_vec();
        reversed.reverse();
        out.push(reversed);
        for k in 1..items.len() {
            let mut rotated = items.to_vec();
            rotated.rotate_left(k);
            out.push(rotated);
        }
        out
    }

    #[test]
    fn apply_order_table() {
        for (case, items, want) in table() {
            for items in permutations(&items) {
                let order = apply_order(&items);
                assert_eq!(
                    labels(&items, &order),
                    want,
                    "{case}: input {:?}",
                    labels(&items, &(0..items.len()).collect::<Vec<_>>())
                );
            }
        }
    }

    /// (case, items, waves by label).
    type WaveCase = (&'static str, Vec<Item>, Vec<Vec<&'static str>>);

    #[test]
    fn apply_waves_table() {
        let cases: Vec<WaveCase> = vec![
            ("nothing", vec![], vec![]),
            (
                "a Namespace, then its objects together",
                vec![cm("shop", "b"), cm("shop", "a"), ns("shop")],
                vec![vec!["namespaces/shop"], vec!["configmaps/shop/a", "configmaps/shop/b"]],
            ),
            (
                "Namespaces and CRDs together, then everything else together",
                vec![
                    obj("example.com", "widgets", Some("shop"), "w1"),
                    crd("example.com", "widgets"),
                    ns("shop"),
                    cm("elsewhere", "x"),
                ],
                vec![
                    vec!["namespaces/shop", "customresourcedefinitions/widgets.example.com"],
                    vec!["configmaps/elsewhere/x", "widgets/shop/w1"],
                ],
            ),
            (
                "only independent objects: one wave",
                vec![cm("a", "x"), obj("", "configmaps", None, "odd"), cm("b", "y")],
                vec![vec!["configmaps/odd", "configmaps/a/x", "configmaps/b/y"]],
            ),
            (
                "a malformed CRD in the Namespace's wave is split off",
                vec![
                    Item {
                        id: id(CRD_GROUP, CRD_RESOURCE, Some("shop"), "odd.example.com"),
                        defines: Some(("example.com".into(), "odd".into())),
                    },
                    ns("shop"),
                ],
                vec![vec!["namespaces/shop"], vec!["customresourcedefinitions/shop/odd.example.com"]],
            ),
        ];
        for (case, items, want) in cases {
            for items in permutations(&items) {
                let waves = apply_waves(&items);
                let got: Vec<Vec<String>> = waves.iter().map(|w| labels(&items, w)).collect();
                assert_eq!(got, want, "{case}");
                let flat: Vec<usize> = waves.concat();
                assert_eq!(flat, apply_order(&items), "{case}: the waves are the apply order, cut");
            }
        }
    }

    #[test]
    fn delete_order_is_the_reverse() {
        for (case, items, want) in table() {
            for items in permutations(&items) {
                let mut want = want.clone();
                want.reverse();
                assert_eq!(labels(&items, &delete_order(&items)), want, "{case}");
            }
        }
    }

    #[test]
    fn every_dependency_is_respected_when_there_is_no_cycle() {
        for (case, items, _) in table() {
            let graph = dependencies(&items);
            if petgraph::algo::is_cyclic_directed(&graph) {
                continue;
            }
            let apply = apply_order(&items);
            let delete = delete_order(&items);
            let position = |order: &[usize], i: usize| order.iter().position(|&x| x == i);
            for edge in graph.edge_indices() {
                let Some((a, b)) = graph.edge_endpoints(edge) else { continue };
                let (a, b) = (a.index(), b.index());
                assert!(
                    position(&apply, a) < position(&apply, b),
                    "{case}: apply {} before {}",
                    label(&items[a]),
                    label(&items[b])
                );
                assert!(
                    position(&delete, b) < position(&delete, a),
                    "{case}: delete {} before {}",
                    label(&items[b]),
                    label(&items[a])
                );
            }
        }
    }

    /// (from, to): `items[from]` must be written before `items[to]`.
    type Edge = (usize, usize);

    #[test]
    fn edges_only_between_items_in_the_set() {
        let table: Vec<(&str, Vec<Item>, Vec<Edge>)> = vec![
            ("Namespace and object", vec![ns("shop"), cm("shop", "c")], vec![(0, 1)]),
            ("Namespace not in the set", vec![ns("other"), cm("shop", "c")], vec![]),
            ("Namespace of the same name is not a Namespace", vec![cm("x", "shop"), cm("shop", "c")], vec![]),
            ("cluster-scoped object", vec![ns("shop"), obj("", "persistentvolumes", None, "shop")], vec![]),
            (
                "CRD and a namespaced custom resource",
                vec![crd("example.com", "widgets"), ns("s"), obj("example.com", "widgets", Some("s"), "w")],
                vec![(0, 2), (1, 2)],
            ),
            ("CRD not in the set", vec![ns("s"), obj("example.com", "widgets", None, "w")], vec![]),
        ];
        for (case, items, want) in table {
            let graph = dependencies(&items);
            let mut got: Vec<Edge> = graph
                .edge_indices()
                .filter_map(|e| graph.edge_endpoints(e))
                .map(|(a, b)| (a.index(), b.index()))
                .collect();
            got.sort();
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn every_index_exactly_once_even_with_duplicates() {
        let items = vec![cm("s", "c"), ns("s"), cm("s", "c"), ns("s")];
        assert_eq!(apply_order(&items), vec![1, 3, 0, 2]);
        assert_eq!(delete_order(&items), vec![2, 0, 3, 1]);
    }

    /// (group, plural)
    type Defines = (&'static str, &'static str);

    #[test]
    fn crd_defines_table() {
        let table: Vec<(&str, Value, Option<Defines>)> = vec![
            (
                "a CRD",
                json!({"kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
                       "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}, "scope": "Namespaced"}}),
                Some(("example.com", "widgets")),
            ),
            ("no spec", json!({"metadata": {"name": "x"}}), None),
            ("no plural", json!({"spec": {"group": "example.com", "names": {"kind": "Widget"}}}), None),
            ("empty group", json!({"spec": {"group": "", "names": {"plural": "widgets"}}}), None),
            ("wrongly typed", json!({"spec": {"group": 7, "names": {"plural": "widgets"}}}), None),
            ("not an object", json!("crd"), None),
        ];
        for (case, crd, want) in table {
            assert_eq!(crd_defines(&crd), want.map(|(g, p)| (g.to_owned(), p.to_owned())), "{case}");
        }
    }

    #[test]
    fn item_of_table() {
        let widget_crd = json!({"metadata": {"name": "widgets.example.com"},
                                "spec": {"group": "example.com", "names": {"plural": "widgets"}}});
        let table: Vec<(&str, &str, &str, Value, Option<Item>)> = vec![
            (
                "a namespaced object",
                "apps",
                "deployments",
                json!({"metadata": {"name": "web", "namespace": "shop"}}),
                Some(obj("apps", "deployments", Some("shop"), "web")),
            ),
            ("a Namespace", "", "namespaces", json!({"metadata": {"name": "shop"}}), Some(ns("shop"))),
            ("a CRD", CRD_GROUP, CRD_RESOURCE, widget_crd.clone(), Some(crd("example.com", "widgets"))),
            (
                "a CRD-shaped object of another resource defines nothing",
                "example.com",
                "crdlikes",
                widget_crd,
                Some(obj("example.com", "crdlikes", None, "widgets.example.com")),
            ),
            ("no name", "", "configmaps", json!({"metadata": {"namespace": "shop"}}), None),
            (
                "empty namespace reads as cluster-scoped",
                "",
                "nodes",
                json!({"metadata": {"name": "n", "namespace": ""}}),
                Some(obj("", "nodes", None, "n")),
            ),
        ];
        for (case, group, resource, object, want) in table {
            assert_eq!(Item::of(group, resource, &object), want, "{case}");
        }
    }
}
