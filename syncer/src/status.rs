//! Status return: the `.status` of a downsynced object, from the WEC to its mailbox copy
//! (reference §2.4; KubeStellar v0.14.2 `BackStatusOne` / `BackStatusMany`).
//!
//! KubeStellar copies the WEC `.status` over the mailbox copy's on every 15 s pass, whether
//! or not it changed, and skips objects whose WEC copy has no `.status`. orrery writes only
//! when the two differ, so a quiet cluster costs the center nothing, and returns status
//! only from objects the syncer owns — the status of an object it did not create (a
//! conflict, see [`crate::plan`]) describes something else and would mislead whoever reads
//! the mailbox copy.
//!
//! Namespaces and CRDs return no status: they are "natured in both" (reference §2.6), a
//! Namespace's phase and a CRD's conditions describe the WEC's own API server, and the
//! translator does not return theirs either.
//!
//! The wiring writes the returned value to the mailbox copy's `/status` subresource when the
//! resource has one, else with a plain update of the whole object (KubeStellar's
//! `updateStatusByResource`).

use crate::downstream::is_self_owned;
use crate::object::texts_satisfy;
use orrery_spaces::decode::JsonObject;
use serde_json::value::RawValue;

/// Whether objects of `resource` in `group` return no status (Namespaces, CRDs).
pub fn returns_no_status(group: &str, resource: &str) -> bool {
    matches!((group, resource), ("", "namespaces") | ("apiextensions.k8s.io", "customresourcedefinitions"))
}

/// The `.status` to write to the mailbox copy, `mailbox_copy`, of `wec_obj` (an object of
/// `resource` in `group`, of kind `kind`), as the WEC object holds it: `Some` only when the
/// WEC object is the syncer's, has a status, and that status differs from the mailbox
/// copy's. `None` for Namespaces and CRDs.
///
/// Both statuses are compared as text first (the one the syncer returned comes back from
/// the center encoded as the WEC encoded it), and decoded only when the texts differ.
pub fn status_to_return<'a>(
    group: &str,
    resource: &str,
    kind: &str,
    wec_obj: &'a JsonObject,
    mailbox_copy: &JsonObject,
) -> Option<&'a RawValue> {
    if returns_no_status(group, resource) || !is_self_owned(wec_obj, kind) {
        return None;
    }
    let wec_status = status(wec_obj)?;
    let same = status(mailbox_copy).is_some_and(|copy| texts_satisfy(copy, wec_status, |a, b| a == b));
    (!same).then_some(wec_status)
}

/// `.status` as text, unless absent or `null` (which mean the same to an API server).
fn status(object: &JsonObject) -> Option<&RawValue> {
    object.field("status").filter(|s| s.get().trim() != "null")
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_api::keys::DOWNSYNCED;
    use serde_json::{Value, json};

    fn cached(object: Value) -> JsonObject {
        JsonObject::from_value(object).expect("an object")
    }

    fn deployment(mark: Option<&str>, status: Option<Value>) -> Value {
        let mut object =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}});
        if let Some(mark) = mark {
            object["metadata"]["annotations"] = json!({DOWNSYNCED: mark});
        }
        if let Some(status) = status {
            object["status"] = status;
        }
        object
    }

    #[test]
    fn status_to_return_table() {
        let ours = Some("Deployment/shop/web");
        let ready = json!({"readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]});
        let table: Vec<(&str, Value, Value, Option<Value>)> = vec![
            (
                "first status from the WEC",
                deployment(ours, Some(ready.clone())),
                deployment(None, None),
                Some(ready.clone()),
            ),
            (
                "changed status",
                deployment(ours, Some(json!({"readyReplicas": 1}))),
                deployment(None, Some(ready.clone())),
                Some(json!({"readyReplicas": 1})),
            ),
            (
                "unchanged status: nothing to write",
                deployment(ours, Some(ready.clone())),
                deployment(None, Some(ready.clone())),
                None,
            ),
            (
                "unchanged, keys in another order",
                deployment(ours, Some(json!({"b": 1, "a": 2}))),
                deployment(None, Some(json!({"a": 2, "b": 1}))),
                None,
            ),
            ("no status in the WEC", deployment(ours, None), deployment(None, Some(ready.clone())), None),
            (
                "a null status in the WEC",
                deployment(ours, Some(Value::Null)),
                deployment(None, Some(ready.clone())),
                None,
            ),
            (
                "an empty status is a status",
                deployment(ours, Some(json!({}))),
                deployment(None, Some(ready.clone())),
                Some(json!({})),
            ),
            ("not the syncer's object", deployment(None, Some(ready.clone())), deployment(None, None), None),
            (
                "a mark for another object",
                deployment(Some("Deployment/shop/other"), Some(ready.clone())),
                deployment(None, None),
                None,
            ),
        ];
        for (case, wec, copy, want) in table {
            let (wec, copy) = (cached(wec), cached(copy));
            let got = status_to_return("apps", "deployments", "Deployment", &wec, &copy);
            assert_eq!(got.map(|s| serde_json::from_str::<Value>(s.get()).expect("JSON")), want, "{case}");
        }
    }

    #[test]
    fn namespaces_and_crds_return_no_status() {
        let table = [
            ("", "namespaces", "Namespace", "Namespace//shop", true),
            (
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "CustomResourceDefinition",
                "CustomResourceDefinition//shop",
                true,
            ),
            ("", "persistentvolumes", "PersistentVolume", "PersistentVolume//shop", false),
        ];
        for (group, resource, kind, mark, none) in table {
            let wec =
                json!({"metadata": {"name": "shop", "annotations": {DOWNSYNCED: mark}}, "status": {"phase": "Active"}});
            let copy = cached(json!({"metadata": {"name": "shop"}}));
            assert_eq!(returns_no_status(group, resource), none, "{resource}");
            assert_eq!(status_to_return(group, resource, kind, &cached(wec), &copy).is_none(), none, "{resource}");
        }
    }
}
