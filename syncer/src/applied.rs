//! Whether applying an object again would change nothing, so that the syncer writes to the
//! WEC only when something is to be written.
//!
//! The syncer reconciles an object whenever either side changes: its own create echoing
//! back from the WEC, then every status update the cluster makes, then its own status
//! write arriving in the mailbox. Applying the unchanged object each time cost the WEC's
//! API server three or four server-side applies per object where one was needed. An apply
//! is skipped only when both hold:
//!
//! - the object to apply is the one this syncer last applied ([`Applied`], by
//!   fingerprint), so no field was dropped from it that server-side apply would remove; and
//! - the WEC object still holds every field of it with the same value ([`reflects`]), so
//!   nobody has changed what the syncer applied: a hand edit is still repaired.
//!
//! After a restart nothing is recorded, so every object is applied once more.

use crate::downstream::{Downstream, Field};
use crate::object::texts_satisfy;
use crate::wanted::ObjectKey;
use orrery_spaces::decode::JsonObject;
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::sync::Mutex;

/// Whether `current` holds every field of `desired` with the same value. Lists must have
/// the same length, item by item (an API server adds defaults inside list items, never
/// items). The top-level `apiVersion` and `kind` are identity, not content, and objects
/// read from a list lack them.
pub fn reflects(desired: &Value, current: &Value) -> bool {
    match (desired, current) {
        (Value::Object(d), Value::Object(c)) => {
            d.iter().all(|(k, v)| k == "apiVersion" || k == "kind" || c.get(k).is_some_and(|cv| contains(v, cv)))
        }
        (Value::Object(_), _) => false,
        _ => desired == current,
    }
}

/// [`reflects`] for an object given as its top-level fields, against the WEC object as
/// cached. A field kept as text is compared as text first: what the syncer wrote comes
/// back as it went (the same server encoding on both sides), and only a field the WEC
/// changed, or an API server that adds defaults, needs decoding to compare. `metadata` is
/// compared with the cached head's parts.
fn reflects_fields<'a>(mut desired: impl Iterator<Item = (&'a str, Field<'a>)>, current: &JsonObject) -> bool {
    desired.all(|(k, field)| match (k, field) {
        ("apiVersion" | "kind", _) => true,
        ("metadata", Field::Value(v)) => metadata_reflected(v, current),
        // [`Downstream`] makes no other field as a value.
        (_, Field::Value(_)) => false,
        (_, Field::Text(text)) => current.field(k).is_some_and(|ct| texts_satisfy(text, ct, contains)),
    })
}

/// Whether the cached object's metadata holds every field of `desired` (a JSON map) with
/// the same value: [`contains`], read from the head's parts without making its map.
fn metadata_reflected(desired: &Value, current: &JsonObject) -> bool {
    let Value::Object(desired) = desired else { return false };
    let meta = kube::Resource::meta(current);
    let pairs_hold = |want: &Value, have: Option<&[(String, String)]>| match (want, have) {
        (Value::Object(want), Some(have)) => {
            want.iter().all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && v.as_str() == Some(hv.as_str())))
        }
        _ => false,
    };
    let same = |want: &Value, have: &Option<String>| want.as_str().is_some_and(|w| have.as_deref() == Some(w));
    desired.iter().all(|(k, v)| match k.as_str() {
        "name" => same(v, &meta.name),
        "namespace" => same(v, &meta.namespace),
        "resourceVersion" => same(v, &meta.resource_version),
        "uid" => same(v, &meta.uid),
        "labels" => pairs_hold(v, current.labels()),
        "annotations" => pairs_hold(v, current.annotations()),
        _ => current.metadata_field(k).is_some_and(|cv| contains(v, cv)),
    })
}

fn contains(desired: &Value, current: &Value) -> bool {
    match (desired, current) {
        (Value::Object(d), Value::Object(c)) => d.iter().all(|(k, v)| c.get(k).is_some_and(|cv| contains(v, cv))),
        (Value::Array(d), Value::Array(c)) => d.len() == c.len() && d.iter().zip(c).all(|(d, c)| contains(d, c)),
        _ => desired == current,
    }
}

/// A fingerprint of an object to apply: equal objects have equal fingerprints. Each field's
/// name and value are hashed as the JSON text they are written as, never held.
fn fingerprint(object: &Downstream<'_>) -> u64 {
    struct Hashing(DefaultHasher);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hashing(DefaultHasher::new());
    for (name, field) in object.fields() {
        // Writing JSON into a sink that never fails cannot fail. A name and a value are each
        // one JSON text, so that no two objects write the same stream.
        let _ = serde_json::to_writer(&mut h, name);
        let _ = serde_json::to_writer(&mut h, &field);
    }
    h.0.finish()
}

/// What this syncer last applied to each WEC object, by fingerprint.
#[derive(Default)]
pub struct Applied(Mutex<HashMap<ObjectKey, u64>>);

impl Applied {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether applying `object` to `key`, whose WEC object is `current`, would change
    /// nothing (see the module doc).
    pub fn is_current(&self, key: &ObjectKey, object: &Downstream<'_>, current: Option<&JsonObject>) -> bool {
        let Some(current) = current else { return false };
        let print = fingerprint(object);
        self.lock().get(key) == Some(&print) && reflects_fields(object.fields(), current)
    }

    /// `object` was written to `key` (created or applied).
    pub fn record(&self, key: &ObjectKey, object: &Downstream<'_>) {
        self.lock().insert(key.clone(), fingerprint(object));
    }

    /// `key` is no longer the syncer's to apply (deleted, or left alone).
    pub fn forget(&self, key: &ObjectKey) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: u64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                            "annotations": {"mark": "Deployment/shop/web"}, "finalizers": ["example.com/f"]},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    /// The head of `object` as top-level values (made here).
    fn head_of(object: &JsonObject) -> Vec<(&'static str, Value)> {
        let whole = object.to_value().expect("the body is JSON");
        ["apiVersion", "kind", "metadata"].into_iter().filter_map(|k| Some((k, whole.get(k)?.clone()))).collect()
    }

    #[test]
    fn reflects_table() {
        let desired = deployment(2, "nginx");
        let mut served = deployment(2, "nginx");
        // What an API server adds: server metadata, defaults inside list items, status.
        served["metadata"]["resourceVersion"] = json!("17");
        served["metadata"]["annotations"]["other"] = json!("x");
        served["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        served["status"] = json!({"readyReplicas": 2});
        let mut listed = served.clone();
        listed.as_object_mut().map(|o| (o.remove("kind"), o.remove("apiVersion")));
        let mut extra_container = served.clone();
        if let Some(c) = extra_container["spec"]["template"]["spec"]["containers"].as_array_mut() {
            c.push(json!({"name": "sidecar", "image": "x"}));
        }
        let mut lost_annotation = served.clone();
        lost_annotation["metadata"]["annotations"].as_object_mut().map(|a| a.remove("mark"));
        let mut relabelled = served.clone();
        relabelled["metadata"]["labels"]["app"] = json!("shop");
        let mut unlabelled = served.clone();
        unlabelled["metadata"].as_object_mut().map(|m| m.remove("labels"));
        let mut renamed = served.clone();
        renamed["metadata"]["name"] = json!("other");
        let mut finalized = served.clone();
        finalized["metadata"]["finalizers"] = json!([]);
        let table: Vec<(&str, Value, bool)> = vec![
            ("the same object", desired.clone(), true),
            ("as served, with what the server adds", served, true),
            ("as listed, without kind and apiVersion", listed, true),
            ("a hand edit of an applied field", deployment(3, "nginx"), false),
            ("a changed list item", deployment(2, "httpd"), false),
            ("an item added to a list", extra_container, false),
            ("an applied annotation removed", lost_annotation, false),
            ("an applied label changed", relabelled, false),
            ("the labels removed", unlabelled, false),
            ("another name", renamed, false),
            ("another metadata field changed", finalized, false),
            ("not an object", json!("web"), false),
        ];
        let cached = JsonObject::from_value(desired.clone()).expect("an object");
        for (what, current, want) in table {
            assert_eq!(reflects(&desired, &current), want, "{what}");
            // The same rule on the cached form, its body compared as text or decoded.
            let current = JsonObject::from_value(current).ok();
            let head = head_of(&cached);
            let fields = head.iter().map(|(k, v)| (*k, Field::Value(v)));
            let fields = fields.chain(cached.body().map(|(k, text)| (k, Field::Text(text))));
            assert_eq!(current.is_some_and(|c| reflects_fields(fields, &c)), want, "{what}: as cached");
        }
    }

    #[test]
    fn an_apply_is_current_only_when_recorded_and_reflected() {
        let applied = Applied::default();
        let key = ObjectKey {
            group: "apps".into(),
            resource: "deployments".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        let cached = |object: &Value| JsonObject::from_value(object.clone()).expect("an object");
        let wec_object = |copy: &Value| cached(&Downstream::of(&cached(copy), "Deployment").build());
        let copy = cached(&deployment(2, "nginx"));
        let object = Downstream::of(&copy, "Deployment");
        let served = wec_object(&deployment(2, "nginx"));
        assert!(!applied.is_current(&key, &object, Some(&served)), "nothing recorded (a restarted syncer)");
        applied.record(&key, &object);
        assert!(applied.is_current(&key, &object, Some(&served)));
        assert!(!applied.is_current(&key, &object, None), "the WEC object is gone");
        assert!(!applied.is_current(&key, &object, Some(&wec_object(&deployment(3, "nginx")))), "edited by hand");
        // The copy's status is not applied: its changes change nothing here.
        let mut with_status = deployment(2, "nginx");
        with_status["status"] = json!({"readyReplicas": 2});
        let with_status = cached(&with_status);
        let same = Downstream::of(&with_status, "Deployment");
        assert!(applied.is_current(&key, &same, Some(&served)), "a status change in the mailbox");
        // A field dropped from the copy: the WEC object still reflects the smaller object,
        // but server-side apply must run to remove the field.
        let mut smaller = deployment(2, "nginx");
        smaller["spec"].as_object_mut().map(|s| s.remove("replicas"));
        let smaller = cached(&smaller);
        let smaller = Downstream::of(&smaller, "Deployment");
        assert!(!applied.is_current(&key, &smaller, Some(&served)));
        // Another kind is another object.
        let other = Downstream::of(&copy, "StatefulSet");
        assert!(!applied.is_current(&key, &other, Some(&served)));
        applied.forget(&key);
        assert!(!applied.is_current(&key, &object, Some(&served)));
    }
}
