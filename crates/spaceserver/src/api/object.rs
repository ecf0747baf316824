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

/// A random (version 4) UUID, its bytes from the thread's generator (`rand`'s, seeded from
/// the system): `Uuid::new_v4` asks the kernel for every one, a system call per object
/// created.
pub fn new_uid() -> String {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string()
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
    let empty = Map::new();
    let (old, new) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    !equal_but(old, new, &["metadata", "status", "apiVersion", "kind"], |_, a, b| a == b)
}

/// Whether an update would store nothing new: the objects are equal but for their
/// resourceVersion and the times in managedFields. kube-apiserver skips such writes (no new
/// resourceVersion, no watch event), and controllers depend on it: one that writes status
/// and watches what it writes would otherwise wake itself forever.
pub fn is_no_op(current: &Value, next: &Value) -> bool {
    let (Some(a), Some(b)) = (current.as_object(), next.as_object()) else { return current == next };
    equal_but(a, b, &[], |key, a, b| if key == "metadata" { same_metadata(a, b) } else { a == b })
}

/// `metadata` equal but for `resourceVersion` and the times in `managedFields`.
fn same_metadata(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return a == b };
    equal_but(a, b, &["resourceVersion"], |key, a, b| match (key, a.as_array(), b.as_array()) {
        ("managedFields", Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|(a, b)| match (a.as_object(), b.as_object()) {
                    (Some(a), Some(b)) => equal_but(a, b, &["time"], |_, a, b| a == b),
                    _ => a == b,
                })
        }
        _ => a == b,
    })
}

/// Whether `next` is `current` but for `status` (and `resourceVersion`, `apiVersion` and
/// `kind`, which a write takes from the stored object): a status write that changed
/// nothing else.
pub fn same_but_status(current: &Value, next: &Value) -> bool {
    let (Some(a), Some(b)) = (current.as_object(), next.as_object()) else { return false };
    equal_but(a, b, &["status", "apiVersion", "kind"], |key, a, b| match (key, a.as_object(), b.as_object()) {
        ("metadata", Some(a), Some(b)) => equal_but(a, b, &["resourceVersion"], |_, a, b| a == b),
        _ => a == b,
    })
}

/// Whether two maps hold the same keys, but for `skip`, with values that `eq` (given the
/// key) finds equal. The comparisons above were copies of both objects without the
/// skipped fields, compared whole: a copy of every object written, twice.
fn equal_but(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    skip: &[&str],
    eq: impl Fn(&str, &Value, &Value) -> bool,
) -> bool {
    let kept = |m: &Map<String, Value>| m.keys().filter(|k| !skip.contains(&k.as_str())).count();
    kept(a) == kept(b)
        && a.iter().filter(|(k, _)| !skip.contains(&k.as_str())).all(|(k, x)| b.get(k).is_some_and(|y| eq(k, x, y)))
}

/// Copies the server-owned metadata of `from` (the stored object) into `to` (a client's
/// update): uid, creation time, generation, deletion state, and the name and namespace.
pub fn keep_server_metadata(from: &Value, to: &mut Value) {
    let Some(old) = meta(from) else { return };
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

    /// UIDs are version 4 (random) UUIDs in their usual text, and never the same.
    #[test]
    fn uids_are_random_uuids() {
        let uids: std::collections::HashSet<String> = (0..1000).map(|_| new_uid()).collect();
        assert_eq!(uids.len(), 1000);
        for uid in &uids {
            let parsed = uuid::Uuid::parse_str(uid).expect("a UUID");
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random), "{uid}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{uid}");
            assert_eq!(parsed.hyphenated().to_string(), *uid, "{uid}");
        }
    }

    #[test]
    fn status_writes_that_change_only_status() {
        let stored = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": "d", "resourceVersion": "7", "labels": {"a": "b"},
                                         "managedFields": [{"manager": "m", "time": "t"}]},
                            "spec": {"replicas": 1}, "status": {"replicas": 0}});
        let with = |pointer: &str, v: Value| {
            let mut o = stored.clone();
            match o.pointer_mut(pointer) {
                Some(slot) => *slot = v,
                None => o["metadata"]["extra"] = v,
            }
            o
        };
        let mut no_status = stored.clone();
        no_status.as_object_mut().expect("object").remove("status");
        let mut no_revision = stored.clone();
        no_revision["metadata"].as_object_mut().expect("object").remove("resourceVersion");
        // (next, only status changed?)
        let cases = [
            (stored.clone(), true),
            (with("/status", json!({"replicas": 1})), true),
            (no_status, true),
            (no_revision, true),
            (with("/metadata/resourceVersion", json!("8")), true),
            (with("/apiVersion", json!("apps/v1beta1")), true),
            (with("/spec/replicas", json!(2)), false),
            (with("/metadata/labels/a", json!("c")), false),
            (with("/metadata/managedFields/0/time", json!("u")), false),
            (with("/metadata/missing", json!(1)), false),
            (json!("not an object"), false),
        ];
        for (next, want) in cases {
            assert_eq!(same_but_status(&stored, &next), want, "{next}");
        }
    }

    #[test]
    fn generation_follows_spec_changes_only() {
        let a = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"r": 1}, "status": {"s": 1}});
        let relabelled = json!({"metadata": {"name": "x", "labels": {"a": "2"}}, "spec": {"r": 1}, "status": {"s": 2}});
        let respecced = json!({"metadata": {"name": "x"}, "spec": {"r": 2}});
        let data = json!({"metadata": {"name": "x"}, "spec": {"r": 1}, "data": {"k": "v"}});
        let retyped = json!({"apiVersion": "v2", "kind": "K", "metadata": {}, "spec": {"r": 1}});
        assert!(!spec_changed(&a, &relabelled));
        assert!(!spec_changed(&a, &retyped));
        assert!(spec_changed(&a, &respecced));
        assert!(spec_changed(&a, &data));
        assert!(spec_changed(&data, &a));
        assert!(spec_changed(&json!("not an object"), &a));
        assert!(!spec_changed(&json!("not an object"), &json!({"status": {}})));
    }

    #[test]
    fn a_no_op_differs_at_most_in_revision_and_managed_times() {
        let base = json!({"metadata": {"name": "x", "resourceVersion": "1", "labels": {"a": "1"},
                          "managedFields": [{"manager": "m", "time": "t1", "fieldsV1": {"f:a": {}}}, "odd"]},
                          "spec": {"r": 1}});
        let with = |path: &str, v: Value| {
            let mut o = base.clone();
            *o.pointer_mut(path).expect("path") = v;
            o
        };
        let without = |field: &str| {
            let mut o = base.clone();
            o["metadata"].as_object_mut().expect("metadata").remove(field);
            o
        };
        let cases = [
            (base.clone(), true),
            (with("/metadata/resourceVersion", json!("2")), true),
            (without("resourceVersion"), true),
            (with("/metadata/managedFields/0/time", json!("t2")), true),
            (with("/metadata/managedFields/0/manager", json!("n")), false),
            (with("/metadata/managedFields/1", json!("other")), false),
            (with("/metadata/managedFields", json!([])), false),
            (with("/metadata/labels/a", json!("2")), false),
            (without("labels"), false),
            (with("/spec/r", json!(2)), false),
            (with("/metadata", json!("not a map")), false),
            (json!({"metadata": base["metadata"].clone(), "spec": {"r": 1}, "status": {}}), false),
            (json!("not an object"), false),
        ];
        for (next, want) in cases {
            assert_eq!(is_no_op(&base, &next), want, "{next}");
            assert_eq!(is_no_op(&next, &base), want, "{next}, the other way");
        }
        assert!(is_no_op(&json!(null), &json!(null)));
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
