//! The WEC object made from a mailbox copy, and the mark that says the syncer made it.
//!
//! **The mark.** Every object the syncer creates in the WEC carries annotation
//! `edge.kubestellar.io/downsynced: "<Kind>/<namespace>/<name>"` — KubeStellar v0.14.2's
//! `makeOwnedValue` (`pkg/syncer/syncers/downsyncer.go`), where the namespace of a
//! cluster-scoped object is empty, giving `Kind//name`. Ownership is an *exact* match of that
//! value against the object's own kind, namespace and name, not mere presence of the key:
//! controllers copy annotations onto objects they make (the Deployment controller puts a
//! Deployment's annotations on its ReplicaSets), and such a copy must not look owned — or
//! the syncer would delete ReplicaSets it never made.
//!
//! **What the WEC object keeps.** KubeStellar creates the WEC object from the mailbox copy
//! as it is, minus `resourceVersion`, `uid` and `managedFields`. orrery keeps what it keeps
//! and drops more:
//!
//! - `status`: the WEC's controllers write it; it flows back up, never down.
//! - all server-set metadata (`resourceVersion`, `uid`, `managedFields`,
//!   `creationTimestamp`, `generation`, `selfLink`, deletion fields, `generateName`);
//! - `ownerReferences`: they name mailbox objects by UID; in the WEC no such owner exists
//!   and the garbage collector would delete the object as an orphan;
//! - `finalizers`: they name controllers of the center; nothing in the WEC would remove
//!   them, and the object could never be deleted;
//! - annotation `kcp.io/cluster`, which a multi-space watch adds to name the mailbox.
//!
//! Labels and the other annotations are kept, **including `edge.kubestellar.io/projected:
//! yes`**, as KubeStellar does: the WEC object says what the mailbox says, and
//! `-l edge.kubestellar.io/projected=yes` finds in a WEC everything that came from the
//! center. `edge.kubestellar.io/downsync-overwrite: "false"` is kept too — on the WEC object
//! it is what protects a create-only object from later deletion (see [`crate::plan`]).

use crate::object::{Head, SERVER_METADATA};
use orrery_api::keys::{DOWNSYNCED, SPACE};
use orrery_spaces::decode::JsonObject;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

/// The value of the [`DOWNSYNCED`] annotation on the object `kind`/`namespace`/`name`:
/// `Kind/namespace/name`, with an empty namespace (`""`) for cluster-scoped objects.
pub fn owner_mark(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}/{namespace}/{name}")
}

/// Whether `mark` is [`owner_mark`]`(kind, namespace, name)`, compared in place: every
/// reconcile asks of its objects, and most carry no mark to compare.
pub fn is_mark(mark: &str, kind: &str, namespace: &str, name: &str) -> bool {
    fn after<'m>(mark: &'m str, part: &str) -> Option<&'m str> {
        mark.strip_prefix(part)?.strip_prefix('/')
    }
    after(mark, kind).and_then(|m| after(m, namespace)) == Some(name)
}

/// Whether `wec_obj` carries the syncer's mark for exactly `kind`/`namespace`/`name`
/// (`namespace` is `""` for a cluster-scoped object).
pub fn is_owned(wec_obj: &(impl Head + ?Sized), kind: &str, namespace: &str, name: &str) -> bool {
    wec_obj.annotation(DOWNSYNCED).is_some_and(|mark| is_mark(mark, kind, namespace, name))
}

/// Whether `wec_obj` carries the syncer's mark for itself: [`is_owned`] with its own
/// namespace and name.
pub(crate) fn is_self_owned(wec_obj: &(impl Head + ?Sized), kind: &str) -> bool {
    is_owned(wec_obj, kind, wec_obj.namespace().unwrap_or_default(), wec_obj.name().unwrap_or_default())
}

/// The object to apply in the WEC for `mailbox_copy`, an object of kind `kind` (see the
/// module doc for exactly what changes). `kind` is passed in because objects read from a
/// list lack `kind` and `apiVersion`; it is also written into the object. `apiVersion` is
/// kept as the copy has it — the wiring sets it (from [`crate::wanted::ResourceRef`]) when
/// the copy came from a list.
///
/// A value that is not a Kubernetes object (not a JSON map, or with identity fields of the
/// wrong type) is returned unchanged: no API server holds one.
pub fn downstream(mailbox_copy: &Value, kind: &str) -> Value {
    match JsonObject::from_value(mailbox_copy.clone()) {
        Ok(copy) => Downstream::of(&copy, kind).build(),
        Err(_) => mailbox_copy.clone(),
    }
}

/// The object [`downstream`] makes, read in place: the copy's body but `status` as the
/// text it came in, its `apiVersion`, then `kind` and `metadata`, the only parts made
/// anew (metadata is small). It is written as it is read ([`Serialize`]): the body's text
/// goes out as it came.
///
/// Most reconciles only ask whether the WEC object is still what was applied: every status
/// change in the WEC, and the echoes of the syncer's own writes on both sides. Building
/// the whole object to answer that cloned every copy three times per placed object, a
/// twentieth of the syncers' CPU.
pub struct Downstream<'a> {
    copy: &'a JsonObject,
    api_version: Option<Value>,
    kind: Value,
    metadata: Value,
}

/// A top-level field of the WEC object: the copy's own text, or a value made here.
#[derive(Clone, Copy, Debug)]
pub enum Field<'a> {
    Text(&'a RawValue),
    Value(&'a Value),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => text.serialize(serializer),
            Self::Value(value) => value.serialize(serializer),
        }
    }
}

impl<'a> Downstream<'a> {
    /// The WEC object for `mailbox_copy`, of kind `kind`.
    pub fn of(mailbox_copy: &'a JsonObject, kind: &str) -> Self {
        let copy = mailbox_copy;
        let string = |s: &str| Value::String(s.to_owned());
        let mut metadata = Map::new();
        if let Some(name) = copy.name() {
            metadata.insert("name".to_owned(), string(name));
        }
        if let Some(ns) = copy.raw_namespace() {
            metadata.insert("namespace".to_owned(), string(ns));
        }
        if let Some(labels) = copy.labels() {
            metadata.insert("labels".to_owned(), labels.iter().map(|(k, v)| (k.clone(), string(v))).collect());
        }
        let mark = owner_mark(kind, copy.namespace().unwrap_or_default(), copy.name().unwrap_or_default());
        let kept = copy.annotations().into_iter().flatten().filter(|(k, _)| k != SPACE && k != DOWNSYNCED);
        let mut annotations: Map<String, Value> = kept.map(|(k, v)| (k.clone(), string(v))).collect();
        annotations.insert(DOWNSYNCED.to_owned(), Value::String(mark));
        metadata.insert("annotations".to_owned(), Value::Object(annotations));
        for (name, value) in copy.metadata_fields().filter(|(name, _)| !SERVER_METADATA.contains(name)) {
            metadata.insert(name.to_owned(), value.clone());
        }
        Self {
            copy,
            api_version: copy.api_version().map(string),
            kind: string(kind),
            metadata: Value::Object(metadata),
        }
    }

    /// The object's fields, always in the same order for the same object.
    pub fn fields(&self) -> impl Iterator<Item = (&str, Field<'_>)> {
        let body = self.copy.body().filter(|(k, _)| *k != "status").map(|(k, text)| (k, Field::Text(text)));
        let api_version = self.api_version.as_ref().map(|v| ("apiVersion", Field::Value(v)));
        body.chain(api_version).chain([("kind", Field::Value(&self.kind)), ("metadata", Field::Value(&self.metadata))])
    }

    /// The object as one JSON value, its body decoded.
    pub fn build(&self) -> Value {
        // Every field is JSON (text the copy was decoded from, or a value): encoding them
        // into a value cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl Serialize for Downstream<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.fields())
    }
}

/// The Namespace the syncer creates when a namespace it needs
/// ([`crate::wanted::Wanted::namespaces_to_ensure`]) does not exist in the WEC.
///
/// It carries the syncer's mark, so that when `the-one` later lists the Namespace object
/// itself, the syncer applies it over this one instead of calling its own namespace a
/// conflict. The wiring **creates** it (POST; 409 Already Exists means there is nothing to
/// do) and never applies it: a namespace that already exists — made by someone else, or
/// `default` — is left exactly as it is, and not taken over. Namespaces are never deleted
/// by the syncer (see [`crate::plan::to_delete`]), so marking this one risks nothing.
pub fn implicit_namespace(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "annotations": {DOWNSYNCED: owner_mark("Namespace", "", name)}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (case, WEC object, (kind, namespace, name), owned).
    type OwnedCase = (&'static str, Value, (&'static str, &'static str, &'static str), bool);

    #[test]
    fn owner_mark_is_kubestellars() {
        let table = [
            (("Deployment", "shop", "web"), "Deployment/shop/web"),
            (("Namespace", "", "shop"), "Namespace//shop"),
            (("CustomResourceDefinition", "", "widgets.example.com"), "CustomResourceDefinition//widgets.example.com"),
        ];
        for ((kind, ns, name), want) in table {
            assert_eq!(owner_mark(kind, ns, name), want);
        }
    }

    /// `is_mark` is equality with `owner_mark`, whatever the parts hold.
    #[test]
    fn a_mark_is_the_owner_mark_exactly() {
        let parts = ["", "a", "a/b", "/", "a/", "Deployment", "shop", "web"];
        let marks = ["", "/", "//", "a//", "//a", "a/a/a", "a/b/a/a", "Deployment/shop/web", "Deployment//web"];
        for kind in parts {
            for ns in parts {
                for name in parts {
                    let made = owner_mark(kind, ns, name);
                    assert!(is_mark(&made, kind, ns, name), "{made:?}");
                    for mark in marks {
                        assert_eq!(is_mark(mark, kind, ns, name), mark == made, "{mark:?} against {made:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn is_owned_table() {
        let with =
            |mark: Value| json!({"metadata": {"name": "web", "namespace": "shop", "annotations": {DOWNSYNCED: mark}}});
        let table: Vec<OwnedCase> = vec![
            ("exact mark", with(json!("Deployment/shop/web")), ("Deployment", "shop", "web"), true),
            (
                "a ReplicaSet carrying its Deployment's copied mark",
                with(json!("Deployment/shop/web")),
                ("ReplicaSet", "shop", "web-5d8f"),
                false,
            ),
            ("another kind", with(json!("Deployment/shop/web")), ("StatefulSet", "shop", "web"), false),
            ("another namespace", with(json!("Deployment/bank/web")), ("Deployment", "shop", "web"), false),
            ("empty mark", with(json!("")), ("Deployment", "shop", "web"), false),
            ("a mark that is not a string", with(json!(1)), ("Deployment", "shop", "web"), false),
            ("no annotations", json!({"metadata": {"name": "web"}}), ("Deployment", "shop", "web"), false),
            ("not an object", json!(null), ("Deployment", "shop", "web"), false),
        ];
        for (case, object, (kind, ns, name), want) in table {
            assert_eq!(is_owned(&object, kind, ns, name), want, "{case}");
        }
    }

    #[test]
    fn downstream_table() {
        let table: Vec<(&str, Value, &str, Value)> = vec![
            (
                "a mailbox copy as a watch delivers it",
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {
                        "name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42", "generation": 3,
                        "creationTimestamp": "2024-01-01T00:00:00Z", "selfLink": "/apis/apps/v1/x",
                        "managedFields": [{"manager": "placement-translator"}],
                        "ownerReferences": [{"kind": "X", "name": "o", "uid": "u"}],
                        "finalizers": ["example.com/guard"], "generateName": "web-",
                        "deletionTimestamp": "2024-01-02T00:00:00Z", "deletionGracePeriodSeconds": 0,
                        "labels": {"app": "web", "edge.kubestellar.io/projected": "yes"},
                        "annotations": {"kcp.io/cluster": "root-mb-1", "note": "keep",
                                        "edge.kubestellar.io/downsync-overwrite": "false"}
                    },
                    "spec": {"replicas": 2},
                    "status": {"readyReplicas": 2}
                }),
                "Deployment",
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {
                        "name": "web", "namespace": "shop",
                        "labels": {"app": "web", "edge.kubestellar.io/projected": "yes"},
                        "annotations": {"note": "keep", "edge.kubestellar.io/downsync-overwrite": "false",
                                        "edge.kubestellar.io/downsynced": "Deployment/shop/web"}
                    },
                    "spec": {"replicas": 2}
                }),
            ),
            (
                "a cluster-scoped list item without kind: kind written, Kind//name",
                json!({"apiVersion": "v1", "metadata": {"name": "shop", "labels": {"team": "a"}}}),
                "Namespace",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"},
                       "annotations": {"edge.kubestellar.io/downsynced": "Namespace//shop"}}}),
            ),
            (
                "null annotations, an empty namespace, a stale mark replaced",
                json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "", "annotations": null},
                       "data": {"k": "v"}}),
                "ConfigMap",
                json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "",
                       "annotations": {"edge.kubestellar.io/downsynced": "ConfigMap//c"}}, "data": {"k": "v"}}),
            ),
            (
                "an old mark from elsewhere is overwritten",
                json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop",
                       "annotations": {"edge.kubestellar.io/downsynced": "Deployment/shop/other"}}}),
                "ConfigMap",
                json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop",
                       "annotations": {"edge.kubestellar.io/downsynced": "ConfigMap/shop/c"}}}),
            ),
            ("not an object", json!([1, 2]), "ConfigMap", json!([1, 2])),
        ];
        for (case, copy, kind, want) in table {
            let got = downstream(&copy, kind);
            assert_eq!(got, want, "{case}");
            if let Some(fields) = got.as_object() {
                let copy = JsonObject::from_value(copy).expect("an object");
                let view = Downstream::of(&copy, kind);
                assert_eq!(view.fields().count(), fields.len(), "{case}: each field once");
                let field = |f: Field| serde_json::to_value(f).expect("JSON");
                assert!(view.fields().all(|(k, f)| fields.get(k) == Some(&field(f))), "{case}: read in place as built");
                let written: Value = serde_json::to_vec(&view).and_then(|b| serde_json::from_slice(&b)).expect("JSON");
                assert_eq!(written, got, "{case}: written as built");
                let ns = got.namespace().unwrap_or_default();
                let name = got.name().unwrap_or_default();
                assert!(is_owned(&got, kind, ns, name), "{case}: what downstream makes is owned");
                assert_eq!(downstream(&got, kind), got, "{case}: idempotent");
            }
        }
    }

    #[test]
    fn implicit_namespace_is_owned() {
        let ns = implicit_namespace("shop");
        assert_eq!(
            ns,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "shop", "annotations": {"edge.kubestellar.io/downsynced": "Namespace//shop"}}})
        );
        assert!(is_owned(&ns, "Namespace", "", "shop"));
        assert!(is_self_owned(&ns, "Namespace"));
    }
}
