//! Upsync: WEC objects that `the-one`'s `upsync` sets match are copied into the mailbox, and
//! their copies follow them — updated when they change, deleted when they go (reference
//! §2.4; KubeStellar v0.14.2 `pkg/syncer/syncers/upsyncer.go`).
//!
//! - **Which objects.** [`UpsyncSet`] semantics are the API's ([`UpsyncMatcher`]): empty
//!   lists select nothing, `"*"` anything, namespaces are not consulted for cluster-scoped
//!   objects.
//! - **Nothing is both up- and downsynced** (KubeStellar PR #626). A WEC object the syncer
//!   downsynced ([`is_downsynced`]) is never upsynced, and a mailbox object carrying the
//!   upsync mark is never downsynced ([`crate::plan::decide`]). Otherwise an object matched
//!   both ways would chase itself around the loop. The test is exact, as for ownership: a
//!   ReplicaSet carrying its Deployment's copied `downsynced` annotation was not
//!   downsynced, and may be upsynced.
//! - **The mark.** Copies carry `edge.kubestellar.io/upsynced: "<Kind>/<namespace>/<name>"`
//!   (KubeStellar's `setUpsyncAnnotation`, the same value format as the downsync mark). The
//!   syncer updates and deletes only mailbox objects with that exact mark: a mailbox object
//!   of the same name without it — a projected copy, say — is someone else's, and is left
//!   alone ([`UpsyncAction::Conflict`]), as KubeStellar does.
//! - **Deletion.** A copy goes when its WEC object goes, and also when the object stops
//!   being upsynced (no set matches it any more, or it became downsynced); KubeStellar's
//!   un-upsync pass leaves such copies behind, orrery mirrors downsync pruning instead.

use crate::downstream::{is_mark, is_self_owned, owner_mark};
use crate::object::{Head, remove_annotations, set_annotation, strip_server_metadata};
use crate::wanted::ObjectKey;
use orrery_api::ObjectRef;
use orrery_api::keys::{DOWNSYNCED, SPACE, UPSYNCED};
use orrery_api::selector::no_labels;
use orrery_api::types::UpsyncSet;
use orrery_api::upsync::UpsyncMatcher;
use orrery_api::validation::{FieldErrors, FieldPath};
use serde_json::Value;
use std::collections::BTreeSet;

/// Whether `wec_obj` (of kind `kind`) was downsynced by the syncer: it carries the
/// downsync mark for itself. Such an object is never upsynced.
pub fn is_downsynced(wec_obj: &(impl Head + ?Sized), kind: &str) -> bool {
    is_self_owned(wec_obj, kind)
}

/// Whether `mailbox_obj` (of kind `kind`) is the syncer's upsynced copy: it carries the
/// upsync mark for itself.
pub fn is_upsync_copy(mailbox_obj: &(impl Head + ?Sized), kind: &str) -> bool {
    let ns = mailbox_obj.namespace().unwrap_or_default();
    let name = mailbox_obj.name().unwrap_or_default();
    mailbox_obj.annotation(UPSYNCED).is_some_and(|mark| is_mark(mark, kind, ns, name))
}

/// The mailbox copy of `wec_obj`, an object of kind `kind` (written into the copy, since
/// list items carry none):
///
/// - server-set metadata removed — the same fields as downsync strips, for the same
///   reasons; notably `ownerReferences`, whose UIDs name WEC objects and would make the
///   mailbox's garbage collector delete the copy;
/// - annotations `kcp.io/cluster` and a foreign `edge.kubestellar.io/downsynced` (copied by
///   a WEC controller; a mark describes ownership in one cluster only) removed;
/// - the upsync mark added;
/// - `.status` **kept**: it is usually what upsync is for. Where the resource has a status
///   subresource the API server ignores it on create and update, so the wiring writes it
///   with a second call to `/status`.
///
/// A value that is not a JSON object is returned unchanged.
pub fn upsync_copy(wec_obj: &Value, kind: &str) -> Value {
    let mut copy = wec_obj.clone();
    let Some(map) = copy.as_object_mut() else {
        return copy;
    };
    map.insert("kind".to_owned(), Value::String(kind.to_owned()));
    strip_server_metadata(&mut copy);
    remove_annotations(&mut copy, |k| k == SPACE || k == DOWNSYNCED);
    let mark = owner_mark(kind, wec_obj.namespace().unwrap_or_default(), wec_obj.name().unwrap_or_default());
    set_annotation(&mut copy, UPSYNCED, &mark);
    copy
}

/// An upsync set of `the-one` that is not valid. The valid sets still apply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the-one: upsync set {index} is invalid and is ignored until the-one is fixed: {errors}")]
pub struct InvalidUpsyncSet {
    /// Its position in `spec.upsync`.
    pub index: usize,
    pub errors: FieldErrors,
}

/// Compiles `the-one`'s `spec.upsync`: the matchers of the valid sets, and what is wrong with
/// the others (for the wiring to report; one bad set must not stop the rest).
pub fn compile_upsync(sets: &[UpsyncSet]) -> (Vec<UpsyncMatcher>, Vec<InvalidUpsyncSet>) {
    let path = FieldPath::new("spec").child("upsync");
    let mut matchers = Vec::new();
    let mut invalid = Vec::new();
    for (index, set) in sets.iter().enumerate() {
        match UpsyncMatcher::new(set, &path.index(index)) {
            Ok(m) => matchers.push(m),
            Err(errors) => invalid.push(InvalidUpsyncSet { index, errors }),
        }
    }
    (matchers, invalid)
}

/// Whether any of `matchers` selects the object `key`.
pub fn upsyncs(matchers: &[UpsyncMatcher], key: &ObjectKey) -> bool {
    let object = ObjectRef {
        group: &key.group,
        resource: &key.resource,
        namespace: key.namespace.as_deref(),
        name: &key.name,
        labels: no_labels(),
    };
    matchers.iter().any(|m| m.matches(&object))
}

/// The `(group, resource)` pairs the upsync sets name: what the wiring watches in the WEC
/// for upsync, at the WEC's preferred version (upsync sets carry none; KubeStellar reads
/// them "using the API version preferred in the edge cluster"). A resource `"*"` stands for
/// every resource of the group, for the wiring to expand with discovery.
pub fn upsync_resources(sets: &[UpsyncSet]) -> BTreeSet<(String, String)> {
    sets.iter()
        .flat_map(|set| {
            let group = set.api_group.clone().unwrap_or_default();
            set.resources.iter().map(move |r| (group.clone(), r.clone()))
        })
        .collect()
}

/// What to do about the mailbox side of one upsynced object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpsyncAction {
    /// Create [`upsync_copy`] in the mailbox.
    Create,
    /// Write [`upsync_copy`] over the syncer's copy in the mailbox, which differs from it.
    Update,
    /// Delete the syncer's copy from the mailbox.
    Delete,
    /// Nothing to write.
    Nothing,
    /// The mailbox has an object of this name that is not the syncer's copy; leave it alone.
    Conflict(UpsyncConflict),
}

/// Why the syncer does not upsync over a mailbox object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpsyncConflict {
    #[error(
        "the mailbox already has an object of this name that is not an upsynced copy (annotation {UPSYNCED} is {}, \
         not {expected:?}); the syncer does not overwrite it: stop placing that object on this cluster, or stop \
         upsyncing this one",
        found.as_deref().map_or_else(|| "absent".to_owned(), |f| format!("{f:?}"))
    )]
    NotUpsyncCopy { expected: String, found: Option<String> },
}

/// What to do in the mailbox for the object `key` (of kind `kind`), given the WEC object
/// (`None` when gone), the mailbox object of the same name (`None` when absent), and the
/// compiled upsync sets.
pub fn decide_upsync(
    key: &ObjectKey,
    kind: &str,
    wec: Option<&Value>,
    mailbox: Option<&Value>,
    matchers: &[UpsyncMatcher],
) -> UpsyncAction {
    let wanted = wec.filter(|w| upsyncs(matchers, key) && !is_downsynced(*w, kind));
    let ours = mailbox.is_some_and(|m| is_upsync_copy(m, kind));
    match (wanted, mailbox) {
        (Some(_), None) => UpsyncAction::Create,
        (Some(w), Some(m)) if ours => {
            if same_copy(m, &upsync_copy(w, kind), kind) {
                UpsyncAction::Nothing
            } else {
                UpsyncAction::Update
            }
        }
        (Some(_), Some(m)) => UpsyncAction::Conflict(UpsyncConflict::NotUpsyncCopy {
            expected: owner_mark(kind, key.namespace.as_deref().unwrap_or_default(), &key.name),
            found: m.annotation(UPSYNCED).map(str::to_owned),
        }),
        (None, Some(_)) if ours => UpsyncAction::Delete,
        (None, _) => UpsyncAction::Nothing,
    }
}

/// Whether the mailbox object already says what `copy` says, once the mailbox server's own
/// metadata is set aside.
fn same_copy(mailbox: &Value, copy: &Value, kind: &str) -> bool {
    let mut current = mailbox.clone();
    if let Some(map) = current.as_object_mut() {
        map.insert("kind".to_owned(), Value::String(kind.to_owned()));
    }
    strip_server_metadata(&mut current);
    remove_annotations(&mut current, |k| k == SPACE);
    current == *copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// (case, key, WEC object, mailbox object, action).
    type Case<'a> = (&'static str, &'a ObjectKey, Option<&'a Value>, Option<&'a Value>, UpsyncAction);

    fn set(value: Value) -> UpsyncSet {
        serde_json::from_value(value).expect("test upsync set")
    }

    fn pvc_key(name: &str) -> ObjectKey {
        ObjectKey {
            group: String::new(),
            resource: "persistentvolumeclaims".into(),
            namespace: Some("shop".into()),
            name: name.into(),
        }
    }

    fn pvc(name: &str, annotations: Value, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": name, "namespace": "shop", "uid": "wec-uid", "resourceVersion": "7",
                            "annotations": annotations},
               "spec": {"storageClassName": "fast"}, "status": status})
    }

    #[test]
    fn upsync_copy_table() {
        let table: Vec<(&str, Value, &str, Value)> = vec![
            (
                "a WEC object as a watch delivers it",
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": "data", "namespace": "shop", "uid": "u", "resourceVersion": "9",
                                    "generation": 1, "creationTimestamp": "t", "managedFields": [{}],
                                    "ownerReferences": [{"kind": "StatefulSet", "name": "db", "uid": "x"}],
                                    "finalizers": ["kubernetes.io/pvc-protection"],
                                    "labels": {"app": "db"},
                                    "annotations": {"note": "keep", "kcp.io/cluster": "wec",
                                                    "edge.kubestellar.io/downsynced": "StatefulSet/shop/db"}},
                       "spec": {"storageClassName": "fast"}, "status": {"phase": "Bound"}}),
                "PersistentVolumeClaim",
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": "data", "namespace": "shop", "labels": {"app": "db"},
                                    "annotations": {"note": "keep",
                                                    "edge.kubestellar.io/upsynced": "PersistentVolumeClaim/shop/data"}},
                       "spec": {"storageClassName": "fast"}, "status": {"phase": "Bound"}}),
            ),
            (
                "a cluster-scoped list item without kind",
                json!({"apiVersion": "v1", "metadata": {"name": "pv1"}, "spec": {}}),
                "PersistentVolume",
                json!({"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": "pv1",
                                    "annotations": {"edge.kubestellar.io/upsynced": "PersistentVolume//pv1"}},
                       "spec": {}}),
            ),
            ("not an object", json!(7), "X", json!(7)),
        ];
        for (case, wec, kind, want) in table {
            let copy = upsync_copy(&wec, kind);
            assert_eq!(copy, want, "{case}");
            if copy.is_object() {
                assert!(is_upsync_copy(&copy, kind), "{case}: the copy is the syncer's");
                assert!(!is_downsynced(&copy, kind), "{case}");
            }
        }
    }

    #[test]
    fn marks_are_exact() {
        let table: Vec<(&str, Value, bool, bool)> = vec![
            ("downsynced", pvc("d", json!({DOWNSYNCED: "PersistentVolumeClaim/shop/d"}), json!({})), true, false),
            ("a copied downsync mark", pvc("d", json!({DOWNSYNCED: "StatefulSet/shop/db"}), json!({})), false, false),
            ("upsynced copy", pvc("d", json!({UPSYNCED: "PersistentVolumeClaim/shop/d"}), json!({})), false, true),
            (
                "another object's upsync mark",
                pvc("d", json!({UPSYNCED: "PersistentVolumeClaim/shop/e"}), json!({})),
                false,
                false,
            ),
            ("no marks", pvc("d", json!({}), json!({})), false, false),
        ];
        for (case, object, down, up) in table {
            assert_eq!(is_downsynced(&object, "PersistentVolumeClaim"), down, "{case}");
            assert_eq!(is_upsync_copy(&object, "PersistentVolumeClaim"), up, "{case}");
        }
    }

    #[test]
    fn compile_and_match() {
        let sets = vec![
            set(json!({"resources": ["persistentvolumeclaims"], "namespaces": ["shop"], "names": ["*"]})),
            set(json!({"apiGroup": "BAD", "resources": ["things"], "names": ["*"]})),
            set(json!({"apiGroup": "example.com", "resources": ["*"], "names": ["n"]})),
        ];
        let (matchers, invalid) = compile_upsync(&sets);
        assert_eq!(matchers.len(), 2);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].index, 1);
        let message = invalid[0].to_string();
        assert!(message.contains("spec.upsync[1].apiGroup"), "{message}");
        assert!(message.contains("ignored until the-one is fixed"), "{message}");

        let key = |group: &str, resource: &str, ns: Option<&str>, name: &str| ObjectKey {
            group: group.into(),
            resource: resource.into(),
            namespace: ns.map(Into::into),
            name: name.into(),
        };
        let table = [
            (key("", "persistentvolumeclaims", Some("shop"), "any"), true),
            (key("", "persistentvolumeclaims", Some("bank"), "any"), false),
            (key("", "secrets", Some("shop"), "any"), false),
            (key("example.com", "widgets", Some("x"), "n"), false), // no namespaces: none
            (key("example.com", "widgets", None, "n"), true),       // cluster-scoped: namespaces not consulted
            (key("example.com", "widgets", None, "m"), false),
        ];
        for (k, want) in table {
            assert_eq!(upsyncs(&matchers, &k), want, "{k:?}");
        }
        assert!(!upsyncs(&[], &key("", "persistentvolumeclaims", Some("shop"), "any")));

        let resources: Vec<(String, String)> = upsync_resources(&sets).into_iter().collect();
        let want: Vec<(String, String)> = [("", "persistentvolumeclaims"), ("BAD", "things"), ("example.com", "*")]
            .into_iter()
            .map(|(g, r)| (g.to_owned(), r.to_owned()))
            .collect();
        assert_eq!(resources, want);
    }

    #[test]
    fn decide_upsync_table() {
        let sets = [set(json!({"resources": ["persistentvolumeclaims"], "namespaces": ["shop"], "names": ["*"]}))];
        let (matchers, _) = compile_upsync(&sets);
        let kind = "PersistentVolumeClaim";
        let wec = pvc("data", json!({}), json!({"phase": "Bound"}));
        // The copy as the mailbox server returns it: its own uid and resourceVersion.
        let mut stored = upsync_copy(&wec, kind);
        stored["metadata"]["uid"] = json!("mailbox-uid");
        stored["metadata"]["resourceVersion"] = json!("1234");
        stored["metadata"]["annotations"]["kcp.io/cluster"] = json!("mb");
        let stale = pvc("data", json!({UPSYNCED: "PersistentVolumeClaim/shop/data"}), json!({"phase": "Pending"}));
        let projected = pvc("data", json!({}), json!({}));
        let downsynced = pvc("data", json!({DOWNSYNCED: "PersistentVolumeClaim/shop/data"}), json!({}));
        let not_matched = ObjectKey { namespace: Some("bank".into()), ..pvc_key("data") };
        let data = pvc_key("data");
        let table: Vec<Case> = vec![
            ("new in the WEC", &data, Some(&wec), None, UpsyncAction::Create),
            ("copy up to date", &data, Some(&wec), Some(&stored), UpsyncAction::Nothing),
            ("copy stale", &data, Some(&wec), Some(&stale), UpsyncAction::Update),
            ("gone from the WEC", &data, None, Some(&stored), UpsyncAction::Delete),
            ("gone, and never copied", &data, None, None, UpsyncAction::Nothing),
            ("no longer matched", &not_matched, Some(&wec), Some(&stored), UpsyncAction::Delete),
            ("not matched, never copied", &not_matched, Some(&wec), None, UpsyncAction::Nothing),
            ("downsynced objects are not upsynced", &data, Some(&downsynced), None, UpsyncAction::Nothing),
            (
                "an object that became downsynced loses its copy",
                &data,
                Some(&downsynced),
                Some(&stored),
                UpsyncAction::Delete,
            ),
            (
                "someone else's mailbox object is left alone",
                &data,
                Some(&wec),
                Some(&projected),
                UpsyncAction::Conflict(UpsyncConflict::NotUpsyncCopy {
                    expected: "PersistentVolumeClaim/shop/data".into(),
                    found: None,
                }),
            ),
            ("and never deleted", &data, None, Some(&projected), UpsyncAction::Nothing),
        ];
        for (case, key, wec, mailbox, want) in table {
            assert_eq!(decide_upsync(key, kind, wec, mailbox, &matchers), want, "{case}");
        }
    }

    #[test]
    fn upsync_conflict_message() {
        let c = UpsyncConflict::NotUpsyncCopy { expected: "Pod/shop/p".into(), found: Some("Pod/shop/q".into()) };
        let message = c.to_string();
        assert!(message.contains("is \"Pod/shop/q\", not \"Pod/shop/p\""), "{message}");
    }
}
