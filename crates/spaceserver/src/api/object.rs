//! Reading and writing the metadata of objects held as JSON, with the apiserver's rules
//! for what the server sets and what it ignores from clients.

use rand::Rng;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.as_object()
}

pub fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    obj.get_mut("metadata")?.as_object_mut()
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)?.get(field)?.as_str()
}

pub fn labels(obj: &Value) -> BTreeMap<String, String> {
    string_map(obj, "labels")
}

pub fn string_map(obj: &Value, field: &str) -> BTreeMap<String, String> {
    meta(obj)
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    meta(obj).is_some_and(|m| m.get("deletionTimestamp").is_some_and(|t| !t.is_null()))
}

/// The current time as Kubernetes writes timestamps (RFC 3339, whole seconds, UTC).
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Five characters from the apiserver's generateName alphabet (no vowels, no look-alikes).
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// Removes metadata fields that are empty, as Go's `omitempty` leaves them out. kube-rs's
/// finalizer helper tests `finalizers` against null, which an empty list would fail.
pub fn omit_empty_metadata(obj: &mut Value) {
    if let Some(m) = meta_mut(obj) {
        for field in ["finalizers", "labels", "annotations", "ownerReferences", "managedFields"] {
            let empty = match m.get(field) {
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Object(o)) => o.is_empty(),
                Some(Value::Null) => true,
                _ => false,
            };
            if empty {
                m.remove(field);
            }
        }
    }
}

/// Stamps the resourceVersion an object is presented with.
pub fn set_revision(obj: &mut Value, revision: u64) {
    if let Some(m) = meta_mut(obj) {
        m.insert("resourceVersion".into(), Value::String(revision.to_string()));
    }
}

/// Drops `metadata.resourceVersion`, so a write derived from the stored object is not
/// taken as the client's optimistic-concurrency precondition.
pub fn forget_revision(obj: &mut Value) {
    if let Some(m) = meta_mut(obj) {
        m.remove("resourceVersion");
    }
}

/// Whether anything outside `metadata` and `status` differs: what bumps `generation`.
pub fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        v.as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    strip(old) != strip(new)
}

/// Whether an update would store nothing new: the objects are equal but for their
/// resourceVersion and the times in managedFields. kube-apiserver skips such writes (no new
/// resourceVersion, no watch event), and controllers depend on it: one that writes status
/// and watches what it writes would otherwise wake itself forever.
pub fn is_no_op(current: &Value, next: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = meta_mut(&mut v) {
            m.remove("resourceVersion");
            if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
                for e in entries.iter_mut().filter_map(Value::as_object_mut) {
                    e.remove("time");
                }
            }
        }
        v
    };
    strip(current) == strip(next)
}

/// Copies the server-owned metadata of `from` (the stored object) into `to` (a client's
/// update): uid, creation time, generation, deletion state, and the name and namespace.
pub fn keep_server_metadata(from: &Value, to: &mut Value) {
    let Some(old) = meta(from).cloned() else { return };
    if let Some(m) = meta_mut(to) {
        for field in [
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "name",
            "namespace",
        ] {
            match old.get(field) {
                Some(v) => m.insert(field.to_owned(), v.clone()),
                None => m.remove(field),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generation_follows_spec_changes_only() {
        let a = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"r": 1}, "status": {"s": 1}});
        let relabelled = json!({"metadata": {"name": "x", "labels": {"a": "2"}}, "spec": {"r": 1}, "status": {"s": 2}});
        let respecced = json!({"metadata": {"name": "x"}, "spec": {"r": 2}});
        let data = json!({"metadata": {"name": "x"}, "spec": {"r": 1}, "data": {"k": "v"}});
        assert!(!spec_changed(&a, &relabelled));
        assert!(spec_changed(&a, &respecced));
        assert!(spec_changed(&a, &data));
    }

    #[test]
    fn empty_metadata_is_omitted() {
        let mut o = json!({"metadata": {"name": "x", "finalizers": [], "labels": {}, "annotations": {"a": "b"}}});
        omit_empty_metadata(&mut o);
        assert_eq!(o, json!({"metadata": {"name": "x", "annotations": {"a": "b"}}}));
    }

    #[test]
    fn server_metadata_survives_client_updates() {
        let stored = json!({"metadata": {"name": "x", "uid": "u1", "creationTimestamp": "t", "generation": 3}});
        let mut update = json!({"metadata": {"name": "x", "uid": "forged", "labels": {"a": "b"}}});
        keep_server_metadata(&stored, &mut update);
        assert_eq!(
            update,
            json!({"metadata": {"name": "x", "uid": "u1", "creationTimestamp": "t", "generation": 3, "labels": {"a": "b"}}})
        );
    }

    #[test]
    fn generated_names_use_the_apiserver_alphabet() {
        let s = name_suffix();
        assert_eq!(s.len(), 5);
        assert!(s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{s}");
        assert!(now().ends_with('Z') && now().len() == 20);
    }
}
