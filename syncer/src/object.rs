//! Reading and editing the few parts of a JSON object the syncer cares about, without
//! assuming the object is well formed: whatever a watch delivers must never panic here.

use orrery_spaces::decode::JsonObject;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

pub(crate) use orrery_api::object::SERVER_METADATA;

/// The parts of an object's head the syncer's decisions read: of an object as a JSON value
/// (a whole object, a test's), or as the syncer caches it ([`JsonObject`]).
pub trait Head {
    /// `kind`, when present (list items have none).
    fn kind(&self) -> Option<&str>;
    /// `metadata.name`, when present and a string.
    fn name(&self) -> Option<&str>;
    /// `metadata.namespace` as written (`""` included).
    fn raw_namespace(&self) -> Option<&str>;
    /// The value of annotation `key`, when present and a string.
    fn annotation(&self, key: &str) -> Option<&str>;
    /// Whether the object is on its way out (`metadata.deletionTimestamp` is set).
    fn is_terminating(&self) -> bool;

    /// `metadata.namespace`, with `""` (how Go clients write "none") read as no namespace.
    fn namespace(&self) -> Option<&str> {
        self.raw_namespace().filter(|ns| !ns.is_empty())
    }
}

impl Head for Value {
    fn kind(&self) -> Option<&str> {
        self.get("kind")?.as_str()
    }

    fn name(&self) -> Option<&str> {
        metadata(self)?.get("name")?.as_str()
    }

    fn raw_namespace(&self) -> Option<&str> {
        metadata(self)?.get("namespace")?.as_str()
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        metadata(self)?.get("annotations")?.get(key)?.as_str()
    }

    fn is_terminating(&self) -> bool {
        metadata(self).and_then(|m| m.get("deletionTimestamp")).is_some_and(|t| !t.is_null())
    }
}

impl Head for JsonObject {
    fn kind(&self) -> Option<&str> {
        JsonObject::kind(self)
    }

    fn name(&self) -> Option<&str> {
        kube::Resource::meta(self).name.as_deref()
    }

    fn raw_namespace(&self) -> Option<&str> {
        kube::Resource::meta(self).namespace.as_deref()
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        JsonObject::annotation(self, key)
    }

    fn is_terminating(&self) -> bool {
        self.metadata_field("deletionTimestamp").is_some_and(|t| !t.is_null())
    }
}

/// Whether `rule` holds between two fields kept as text: at once when the texts are the
/// same (what one server encoded comes back from the other as it went), else between the
/// values they decode to. Text that is not JSON satisfies nothing. `rule` must hold
/// between a value and itself.
pub(crate) fn texts_satisfy(a: &RawValue, b: &RawValue, rule: impl Fn(&Value, &Value) -> bool) -> bool {
    if a.get() == b.get() {
        return true;
    }
    let decode = |t: &RawValue| serde_json::from_str::<Value>(t.get()).ok();
    decode(a).zip(decode(b)).is_some_and(|(a, b)| rule(&a, &b))
}

/// `metadata` of `object`, when it has one that is a map.
pub(crate) fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.as_object()
}

/// `object`'s `metadata` map, made to exist (a missing or non-map `metadata` is replaced
/// by an empty map). `None` only when `object` itself is not a map.
pub(crate) fn metadata_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let meta = object.as_object_mut()?.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
}

/// Removes [`SERVER_METADATA`] from `object`.
pub(crate) fn strip_server_metadata(object: &mut Value) {
    if let Some(meta) = metadata_mut(object) {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
    }
}

/// Sets annotation `key` to `value`, creating the annotation map when needed (a `null` or
/// non-map `annotations` is replaced).
pub(crate) fn set_annotation(object: &mut Value, key: &str, value: &str) {
    let Some(meta) = metadata_mut(object) else { return };
    let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// Removes the annotations `drop` picks, and the map itself when that leaves it empty (or
/// it is not a map), so that the copy has no `annotations: {}` its source did not have.
pub(crate) fn remove_annotations(object: &mut Value, drop: impl Fn(&str) -> bool) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let Some(value) = meta.get_mut("annotations") else { return };
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| !drop(k));
        if !map.is_empty() {
            return;
        }
    }
    meta.remove("annotations");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readers_tolerate_malformed_objects() {
        let table: Vec<(Value, Option<&str>, Option<&str>, bool)> = vec![
            (json!(null), None, None, false),
            (json!("text"), None, None, false),
            (json!({"metadata": 3}), None, None, false),
            (json!({"metadata": {"namespace": ""}}), None, None, false),
            (json!({"metadata": {"namespace": 5, "annotations": {"a": 1}}}), None, None, false),
            (json!({"metadata": {"namespace": "ns", "annotations": {"a": "x"}}}), Some("ns"), Some("x"), false),
            (json!({"metadata": {"deletionTimestamp": null}}), None, None, false),
            (json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}), None, None, true),
        ];
        for (object, ns, a, terminating) in table {
            assert_eq!(object.namespace(), ns, "{object}");
            assert_eq!(object.annotation("a"), a, "{object}");
            assert_eq!(object.is_terminating(), terminating, "{object}");
        }
    }

    #[test]
    fn editors_repair_what_they_touch() {
        let table: Vec<(Value, Value)> = vec![
            (json!({}), json!({"metadata": {"annotations": {"k": "v"}}})),
            (json!({"metadata": null}), json!({"metadata": {"annotations": {"k": "v"}}})),
            (json!({"metadata": {"annotations": null}}), json!({"metadata": {"annotations": {"k": "v"}}})),
            (
                json!({"metadata": {"annotations": {"k": "old", "o": "1"}}}),
                json!({"metadata": {"annotations": {"k": "v", "o": "1"}}}),
            ),
            (json!([1]), json!([1])),
        ];
        for (mut object, want) in table {
            set_annotation(&mut object, "k", "v");
            assert_eq!(object, want);
        }
        let table: Vec<(Value, Value)> = vec![
            (json!({"metadata": {"annotations": {"k": "v"}}}), json!({"metadata": {}})),
            (
                json!({"metadata": {"annotations": {"k": "v", "o": "1"}}}),
                json!({"metadata": {"annotations": {"o": "1"}}}),
            ),
            (json!({"metadata": {"annotations": null}}), json!({"metadata": {}})),
            (json!({"metadata": {}}), json!({"metadata": {}})),
            (json!({}), json!({})),
        ];
        for (mut object, want) in table {
            remove_annotations(&mut object, |k| k == "k");
            assert_eq!(object, want);
        }
    }
}
