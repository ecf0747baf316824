//! The mailbox copy of a workload object.
//!
//! KubeStellar v0.14.2's workload projector empties `managedFields`, `resourceVersion`,
//! `selfLink`, `uid` and `ownerReferences` and adds `edge.kubestellar.io/projected=yes`.
//! orrery removes more, so that the copy says only what the workload author wants the WEC
//! to have and so that it changes only when that does:
//!
//! - `generation`, `creationTimestamp`, `deletionTimestamp`, `deletionGracePeriodSeconds`
//!   and `generateName`: the API server sets these for the copy itself (a client may not
//!   set the deletion fields at all); the source's values describe the source.
//! - `finalizers`: they name controllers of the WDS. In a mailbox (and in a WEC) nothing
//!   would ever remove them, so the copy could never be deleted. KubeStellar 0.2x removes
//!   them too.
//! - `status`: status flows the other way (WEC → mailbox → WDS); the mailbox's `.status`
//!   is the syncer's to write.
//! - annotations `kubectl.kubernetes.io/last-applied-configuration` (it describes the WDS
//!   object, and can be as large as the object) and `kubestellar.io/executing-count` (the
//!   summarizer's bookkeeping on the source; copying it would rewrite every mailbox copy
//!   whenever a count changes).
//! - labels and annotations of kcp's system keys (`kcp.io/…`, `….kcp.io/…`), which
//!   KubeStellar never merges into mailbox copies; among them `kcp.io/cluster`, which a
//!   multi-space watch adds to name the source's space.
//!
//! `apiVersion`, `kind`, `metadata.name`, `metadata.namespace`, the remaining labels and
//! annotations, and every other top-level section (`spec`, `data`, `rules`…) are kept.

use crate::object::metadata;
use orrery_api::keys::{EXECUTING_COUNT, LAST_APPLIED_CONFIGURATION, PROJECTED, PROJECTED_VALUE, SINGLETON_STATUS};
use orrery_api::object::SERVER_METADATA;
use serde_json::{Map, Value};

/// Annotations that describe the source (or its center bookkeeping), not the workload.
const DROPPED_ANNOTATIONS: &[&str] = &[LAST_APPLIED_CONFIGURATION, EXECUTING_COUNT, SINGLETON_STATUS];

/// kcp's system label and annotation keys, which KubeStellar's projector never copies.
fn is_kcp_system_key(key: &str) -> bool {
    key.starts_with("kcp.io/") || key.contains(".kcp.io/")
}

/// The mailbox copy of `source` (see the module doc for exactly what changes). A source
/// that is not a JSON object is returned as it is; one without `metadata` gets one, to
/// hold the `projected` label.
pub fn project(source: &Value) -> Value {
    let mut copy = source.clone();
    let Some(object) = copy.as_object_mut() else {
        return copy;
    };
    object.remove("status");
    let meta = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Some(meta) = meta.as_object_mut() {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
        clean_string_map(meta, "annotations", |k| DROPPED_ANNOTATIONS.contains(&k) || is_kcp_system_key(k));
        clean_string_map(meta, "labels", is_kcp_system_key);
        let labels = meta.entry("labels").or_insert_with(|| Value::Object(Map::new()));
        if !labels.is_object() {
            *labels = Value::Object(Map::new());
        }
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(PROJECTED.to_owned(), Value::String(PROJECTED_VALUE.to_owned()));
        }
    }
    copy
}

/// Removes the keys `drop` picks from `meta[field]`, and the map itself when that leaves it
/// empty or it is not a map (null), so that an unchanged source gives an unchanged copy.
fn clean_string_map(meta: &mut Map<String, Value>, field: &str, drop: impl Fn(&str) -> bool) {
    let Some(value) = meta.get_mut(field) else { return };
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| !drop(k));
        if !map.is_empty() {
            return;
        }
    }
    meta.remove(field);
}

/// Whether the object is on its way out (`metadata.deletionTimestamp` is set). Such a
/// source is not projected (KubeStellar ignores deleting WDS objects): its copies go as if
/// it were already gone.
pub fn is_being_deleted(object: &Value) -> bool {
    metadata(object).and_then(|m| m.get("deletionTimestamp")).is_some_and(|t| !t.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn project_table() {
        let table: Vec<(&str, Value, Value)> = vec![
            (
                "a Deployment as the API server returns it",
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {
                        "name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42", "generation": 3,
                        "creationTimestamp": "2024-01-01T00:00:00Z", "selfLink": "/apis/apps/v1/x",
                        "managedFields": [{"manager": "kubectl"}], "ownerReferences": [{"kind": "X", "name": "o", "uid": "u"}],
                        "finalizers": ["example.com/guard"], "generateName": "web-",
                        "labels": {"app": "web", "kcp.io/x": "1", "tenancy.kcp.io/y": "2"},
                        "annotations": {
                            "kubectl.kubernetes.io/last-applied-configuration": "{…}",
                            "kubestellar.io/executing-count": "2", "kcp.io/cluster": "wds1",
                            "edge.kubestellar.io/expand-parameters": "true", "note": "keep"
                        }
                    },
                    "spec": {"replicas": 2},
                    "status": {"readyReplicas": 2}
                }),
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {
                        "name": "web", "namespace": "shop",
                        "labels": {"app": "web", "edge.kubestellar.io/projected": "yes"},
                        "annotations": {"edge.kubestellar.io/expand-parameters": "true", "note": "keep"}
                    },
                    "spec": {"replicas": 2}
                }),
            ),
            (
                "annotations that become empty disappear; labels appear",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"kcp.io/cluster": "w"}}, "data": {"k": "v"}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"edge.kubestellar.io/projected": "yes"}}, "data": {"k": "v"}}),
            ),
            (
                "null maps and deletion fields",
                json!({"kind": "X", "metadata": {"name": "x", "labels": null, "annotations": null, "deletionTimestamp": "t", "deletionGracePeriodSeconds": 0}}),
                json!({"kind": "X", "metadata": {"name": "x", "labels": {"edge.kubestellar.io/projected": "yes"}}}),
            ),
            (
                "a projected label already there is kept as yes",
                json!({"kind": "X", "metadata": {"name": "x", "labels": {"edge.kubestellar.io/projected": "no"}}}),
                json!({"kind": "X", "metadata": {"name": "x", "labels": {"edge.kubestellar.io/projected": "yes"}}}),
            ),
            (
                "no metadata at all",
                json!({"kind": "X", "spec": {}}),
                json!({"kind": "X", "spec": {}, "metadata": {"labels": {"edge.kubestellar.io/projected": "yes"}}}),
            ),
            ("not an object", json!("text"), json!("text")),
        ];
        for (what, source, want) in table {
            let before = source.clone();
            assert_eq!(project(&source), want, "{what}");
            assert_eq!(source, before, "{what}: the source must not change");
        }
    }

    #[test]
    fn projecting_twice_changes_nothing_more() {
        let source = json!({"kind": "X", "metadata": {"name": "x", "uid": "u", "labels": {"a": "b"}}, "status": {}});
        let once = project(&source);
        assert_eq!(project(&once), once);
    }

    #[test]
    fn is_being_deleted_table() {
        let table = [
            (json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}), true),
            (json!({"metadata": {"deletionTimestamp": null}}), false),
            (json!({"metadata": {"name": "x"}}), false),
            (json!({"metadata": "weird"}), false),
            (json!({}), false),
            (json!(null), false),
        ];
        for (object, want) in table {
            assert_eq!(is_being_deleted(&object), want, "{object}");
        }
    }
}
