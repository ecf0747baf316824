//! [`JsonObject`]: an object of any kind, its head decoded into a few small parts and its
//! body kept as the JSON text it was sent in.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject};
use kube::core::DynamicResourceScope;
use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// An object of any kind as the syncer reads it: the parts it decides on decoded, the
/// rest kept as the JSON text it was sent in.
///
/// - The **head**: `apiVersion`, `kind` and `metadata` less `managedFields`, what every
///   decision reads (names, labels, annotations, ownership). The identity (`name`,
///   `namespace`, `resourceVersion`, `uid`) is its [`kube::Resource`] metadata, labels and
///   annotations are lists of string pairs, and every other metadata field is kept as the
///   JSON value it was sent as. As JSON maps, a head was four `BTreeMap` nodes with room
///   for 11 entries each, about 3.3 KB for a Deployment's few fields; each syncer caches
///   every placed object twice (mailbox and WEC), and that was a quarter of its memory.
/// - The **body**, every other top-level field (a Deployment's `spec` and `status`, a
///   ConfigMap's `data`), each as its text: the syncer only writes it (the spec to the WEC,
///   the status to the mailbox), fingerprints it and compares it with the other side's,
///   and text does all three. Decoded, a Deployment's spec is a tree of small maps: a
///   cached Deployment took about 20 KB (heaptrack, 300 WECs) against 3–4 KB of text.
///
/// A field is read as kube's typed decoding reads it: `null` is absent, and `apiVersion`,
/// `kind`, an identity field, a label or an annotation that is not a string is an error,
/// as is a `metadata`, `labels` or `annotations` that is not a map. All but the identity
/// is shared: kube's reflector clones each object it caches.
///
/// The body is kept by serde_json's `RawValue`, so it decodes from serde_json's own
/// decoders only: a JSON text, or a [`Value`]. A watch event decodes when its `type` comes
/// before its `object`, as every API server sends it (Go writes a struct's fields in
/// order); the other order is an error.
#[derive(Clone, Debug)]
pub struct JsonObject {
    meta: ObjectMeta,
    parts: Arc<Parts>,
}

#[derive(Debug, Default)]
struct Parts {
    api_version: Option<String>,
    kind: Option<String>,
    /// Whether the object has a `metadata` map (an empty one included).
    has_metadata: bool,
    labels: Option<Pairs>,
    annotations: Option<Pairs>,
    /// The other metadata fields, as sent.
    other: Vec<(String, Value)>,
    body: Vec<(String, Box<RawValue>)>,
}

/// A map of strings (labels, annotations) in the order sent: a few entries, found by
/// scanning.
type Pairs = Box<[(String, String)]>;

impl JsonObject {
    /// `apiVersion`, when present.
    pub fn api_version(&self) -> Option<&str> {
        self.parts.api_version.as_deref()
    }

    /// `kind`, when present (objects read from a list have none).
    pub fn kind(&self) -> Option<&str> {
        self.parts.kind.as_deref()
    }

    /// Label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        find(self.parts.labels.as_deref(), key)
    }

    /// Annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        find(self.parts.annotations.as_deref(), key)
    }

    /// The labels, when the object has a `labels` map (an empty one included).
    pub fn labels(&self) -> Option<&[(String, String)]> {
        self.parts.labels.as_deref()
    }

    /// The annotations, when the object has an `annotations` map (an empty one included).
    pub fn annotations(&self) -> Option<&[(String, String)]> {
        self.parts.annotations.as_deref()
    }

    /// A metadata field other than the identity, the labels and the annotations
    /// (`deletionTimestamp`, `ownerReferences`, …), as sent.
    pub fn metadata_field(&self, name: &str) -> Option<&Value> {
        self.parts.other.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Every metadata field [`Self::metadata_field`] finds, in the order sent.
    pub fn metadata_fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.parts.other.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// `metadata` (less `managedFields`) as one JSON map, made anew; `None` when the
    /// object has none.
    pub fn metadata_value(&self) -> Option<Value> {
        if !self.parts.has_metadata {
            return None;
        }
        let mut map = Map::new();
        let identity = [
            ("name", &self.meta.name),
            ("namespace", &self.meta.namespace),
            ("resourceVersion", &self.meta.resource_version),
            ("uid", &self.meta.uid),
        ];
        for (name, value) in identity {
            if let Some(value) = value {
                map.insert(name.to_owned(), Value::String(value.clone()));
            }
        }
        let pairs =
            |pairs: &Pairs| Value::Object(pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect());
        if let Some(labels) = &self.parts.labels {
            map.insert("labels".to_owned(), pairs(labels));
        }
        if let Some(annotations) = &self.parts.annotations {
            map.insert("annotations".to_owned(), pairs(annotations));
        }
        map.extend(self.parts.other.iter().map(|(k, v)| (k.clone(), v.clone())));
        Some(Value::Object(map))
    }

    /// Every other top-level field, as the text it was sent in, in the order it was sent.
    pub fn body(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.parts.body.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    /// The top-level body field `name`.
    pub fn field(&self, name: &str) -> Option<&RawValue> {
        self.parts.body.iter().find(|(k, _)| k == name).map(|(_, v)| &**v)
    }

    /// The whole object as one JSON value, its body decoded: for the rare readers of
    /// everything (upsync).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        let mut whole = Map::new();
        let strings = [("apiVersion", &self.parts.api_version), ("kind", &self.parts.kind)];
        for (name, value) in strings {
            if let Some(value) = value {
                whole.insert(name.to_owned(), Value::String(value.clone()));
            }
        }
        if let Some(metadata) = self.metadata_value() {
            whole.insert("metadata".to_owned(), metadata);
        }
        for (name, text) in &self.parts.body {
            whole.insert(name.clone(), serde_json::from_str(text.get())?);
        }
        Ok(Value::Object(whole))
    }

    /// `value`, a JSON object, as a watch would have delivered it.
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(value)
    }
}

fn find<'a>(pairs: Option<&'a [(String, String)]>, key: &str) -> Option<&'a str> {
    pairs?.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Sets `key` in a list of fields, the last one sent counting, as in a JSON map.
fn set<V>(fields: &mut Vec<(String, V)>, key: Cow<'_, str>, value: V) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => fields.push((key.into_owned(), value)),
    }
}

impl kube::Resource for JsonObject {
    read_as_api_resource!();

    fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// The identity fields only: a change here is not a change of the JSON.
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(JsonObjectVisitor)
    }
}

struct JsonObjectVisitor;

impl<'de> Visitor<'de> for JsonObjectVisitor {
    type Value = JsonObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let (mut meta, mut parts) = (ObjectMeta::default(), Parts::default());
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "apiVersion" => parts.api_version = map.next_value()?,
                "kind" => parts.kind = map.next_value()?,
                "metadata" => {
                    // A repeated `metadata` replaces the first, as in a JSON map.
                    (meta, parts.labels, parts.annotations, parts.other) =
                        (ObjectMeta::default(), None, None, Vec::new());
                    map.next_value_seed(Metadata { meta: &mut meta, parts: &mut parts })?;
                    parts.has_metadata = true;
                }
                _ => {
                    let text = map.next_value()?;
                    set(&mut parts.body, key, text);
                }
            }
        }
        Ok(JsonObject { meta, parts: Arc::new(parts) })
    }
}

/// `metadata` read into a [`JsonObject`]'s parts, `managedFields` skipped unread.
struct Metadata<'a> {
    meta: &'a mut ObjectMeta,
    parts: &'a mut Parts,
}

impl<'de> DeserializeSeed<'de> for Metadata<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Metadata<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("object metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "managedFields" => {
                    map.next_value::<IgnoredAny>()?;
                }
                "name" => self.meta.name = map.next_value()?,
                "namespace" => self.meta.namespace = map.next_value()?,
                "resourceVersion" => self.meta.resource_version = map.next_value()?,
                "uid" => self.meta.uid = map.next_value()?,
                "labels" => self.parts.labels = map.next_value::<Option<StringPairs>>()?.map(|p| p.0),
                "annotations" => self.parts.annotations = map.next_value::<Option<StringPairs>>()?.map(|p| p.0),
                _ => {
                    let value = map.next_value()?;
                    set(&mut self.parts.other, key, value);
                }
            }
        }
        Ok(())
    }
}

/// A JSON map of strings, as pairs in the order sent.
struct StringPairs(Pairs);

impl<'de> Deserialize<'de> for StringPairs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StringPairsVisitor)
    }
}

struct StringPairsVisitor;

impl<'de> Visitor<'de> for StringPairsVisitor {
    type Value = StringPairs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringPairs, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: String = map.next_value()?;
            set(&mut pairs, key, value);
        }
        Ok(StringPairs(pairs.into_boxed_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The top-level fields of the head.
    const HEAD: [&str; 3] = ["apiVersion", "kind", "metadata"];

    /// `value` as kube's typed decoding reads it: `null` metadata fields, labels and
    /// annotations are absent, and `managedFields` is left out.
    fn as_read(mut value: Value) -> Value {
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            meta.retain(|k, v| {
                !(v.is_null()
                    && ["name", "namespace", "resourceVersion", "uid", "labels", "annotations"].contains(&k.as_str()))
            });
        }
        if let Some(top) = value.as_object_mut() {
            top.retain(|k, v| !(v.is_null() && (k == "apiVersion" || k == "kind")));
        }
        value
    }

    /// As JSON, the object as sent less its managedFields; as a resource, its identity.
    #[test]
    fn a_json_object_is_the_object_without_managed_fields() {
        let cases = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "a", "namespace": "n", "resourceVersion": "7", "uid": "u-1",
                                "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"x": "y"},
                                "annotations": {"b": "2", "a": "1"}, "generation": 3,
                                "ownerReferences": [{"kind": "X", "name": "o", "uid": "u"}],
                                "managedFields": [{"manager": "m", "operation": "Apply",
                                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
                   "spec": {"replicas": 2, "odd": [1, "two", null, {"three": 3.5}]}, "status": {"readyReplicas": 2}}),
            json!({"metadata": {"name": "listed", "namespace": null, "labels": {}}, "data": {"k": "v"}}),
            json!({"kind": "Thing", "items": [1], "metadata": {"name": "late", "managedFields": [], "annotations": null}}),
            json!({"apiVersion": null, "metadata": {}}),
            json!({}),
        ];
        for case in cases {
            let text = case.to_string();
            let ours: JsonObject = serde_json::from_str(&text).expect("decodes");
            let want = as_read(case.clone());
            assert_eq!(ours.to_value().expect("the body is JSON"), want, "{text}");
            assert_eq!(ours.metadata_value(), want.get("metadata").cloned(), "{text}: metadata");
            assert_eq!(ours.kind(), want["kind"].as_str(), "{text}: kind");
            assert_eq!(ours.api_version(), want["apiVersion"].as_str(), "{text}: apiVersion");
            let body = ours.body().collect::<Vec<_>>();
            assert!(body.iter().all(|(k, _)| !HEAD.contains(k)), "{text}: the body holds the rest");
            for (name, field) in &body {
                assert_eq!(
                    want.get(*name).map(Value::to_string).as_deref(),
                    Some(field.get()),
                    "{text}: {name} as sent"
                );
                assert_eq!(ours.field(name).map(RawValue::get), Some(field.get()), "{text}: {name} found by name");
            }
            let again = JsonObject::from_value(case.clone()).expect("decodes from a value");
            assert_eq!(again.to_value().expect("the body is JSON"), want, "{text}: from a value");
            let theirs: DynamicObject = serde_json::from_str(&text).expect("kube decodes it");
            let meta = kube::Resource::meta(&ours);
            assert_eq!(meta.name, theirs.metadata.name, "{text}");
            assert_eq!(meta.namespace, theirs.metadata.namespace, "{text}");
            assert_eq!(meta.resource_version, theirs.metadata.resource_version, "{text}");
            assert_eq!(meta.uid, theirs.metadata.uid, "{text}");
            let (labels, annotations) =
                (theirs.metadata.labels.unwrap_or_default(), theirs.metadata.annotations.unwrap_or_default());
            for (k, v) in &labels {
                assert_eq!(ours.label(k), Some(v.as_str()), "{text}: label {k}");
            }
            for (k, v) in &annotations {
                assert_eq!(ours.annotation(k), Some(v.as_str()), "{text}: annotation {k}");
            }
            assert_eq!(ours.labels().map_or(0, <[_]>::len), labels.len(), "{text}");
            assert_eq!(ours.annotations().map_or(0, <[_]>::len), annotations.len(), "{text}");
        }
    }

    #[test]
    fn the_other_metadata_fields_are_found_by_name() {
        let object =
            JsonObject::from_value(json!({"metadata": {"name": "a", "deletionTimestamp": "t", "generation": 2}}))
                .expect("decodes");
        assert_eq!(object.metadata_field("deletionTimestamp"), Some(&json!("t")));
        assert_eq!(object.metadata_field("generation"), Some(&json!(2)));
        assert_eq!(object.metadata_field("name"), None, "the identity is the resource's metadata");
        assert_eq!(object.metadata_field("finalizers"), None);
        let all: Vec<_> = object.metadata_fields().collect();
        assert_eq!(all, [("deletionTimestamp", &json!("t")), ("generation", &json!(2))]);
    }

    /// A repeated field counts as in a JSON map: the last one.
    #[test]
    fn the_last_of_a_repeated_field_counts() {
        let text = r#"{"data":{"k":"old"},"metadata":{"name":"first","labels":{"a":"1","a":"2"},"x":1,"x":2},
                       "data":{"k":"new"},"kind":"A","kind":"B"}"#;
        let object: JsonObject = serde_json::from_str(text).expect("decodes");
        assert_eq!(object.body().map(|(k, v)| (k, v.get())).collect::<Vec<_>>(), [("data", r#"{"k":"new"}"#)]);
        assert_eq!(object.label("a"), Some("2"));
        assert_eq!(object.labels().map(<[_]>::len), Some(1));
        assert_eq!(object.metadata_field("x"), Some(&json!(2)));
        assert_eq!(object.kind(), Some("B"));
        let again: JsonObject =
            serde_json::from_str(r#"{"metadata":{"name":"a","labels":{"x":"y"}},"metadata":{"name":"b"}}"#)
                .expect("decodes");
        assert_eq!(kube::Resource::meta(&again).name.as_deref(), Some("b"));
        assert_eq!(again.labels(), None, "the second metadata replaces the first whole");
    }

    /// A head that is not a Kubernetes object's is an error, not a default: a metadata
    /// field of the wrong type as kube's typed decoding makes it, `apiVersion` and `kind`
    /// as the space server's decoding makes them.
    #[test]
    fn bad_heads_are_errors() {
        let bad = [
            r#"{"metadata": 5}"#,
            r#"{"metadata": null}"#,
            r#"{"kind": 1}"#,
            r#"{"apiVersion": {}}"#,
            r#"{"metadata": {"name": 5}}"#,
            r#"{"metadata": {"uid": 3}}"#,
            r#"{"metadata": {"resourceVersion": 7}}"#,
            r#"{"metadata": {"labels": ["a"]}}"#,
            r#"{"metadata": {"labels": {"a": 1}}}"#,
            r#"{"metadata": {"annotations": {"a": null}}}"#,
            "[1]",
        ];
        for text in bad {
            assert!(serde_json::from_str::<JsonObject>(text).is_err(), "{text}");
            if text.contains("metadata") {
                assert!(serde_json::from_str::<DynamicObject>(text).is_err(), "{text}: kube refuses it too");
            }
        }
    }

    /// `type` first, as API servers send it; the other order would need the body buffered
    /// as a tree, and is refused rather than decoded differently.
    #[test]
    fn a_json_object_decodes_from_a_watch_event_as_servers_send_it() {
        let first = r#"{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}}"#;
        let event: kube::core::WatchEvent<JsonObject> = serde_json::from_str(first).expect("decodes");
        let kube::core::WatchEvent::Added(o) = event else { panic!("not ADDED") };
        assert_eq!(kube::Resource::meta(&o).name.as_deref(), Some("a"));
        assert_eq!(o.field("data").map(RawValue::get), Some(r#"{"k":"v"}"#));
        let last = r#"{"object":{"kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}},"type":"ADDED"}"#;
        assert!(serde_json::from_str::<kube::core::WatchEvent<JsonObject>>(last).is_err());
    }
}
