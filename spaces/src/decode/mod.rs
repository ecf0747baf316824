//! Decoding objects of any kind in one pass.
//!
//! kube's [`DynamicObject`] flattens its type fields and its data into the object
//! (`#[serde(flatten)]`), and serde decodes a struct with flattened fields by first
//! buffering the whole object into its own intermediate tree, then decoding that a second
//! time. Watches decode every event of every resource that way: in the bench's 1,000
//! syncers that buffering was a third of the process's CPU. [`Dynamic`] is the same object
//! with a decoder that reads `apiVersion`, `kind` and `metadata` into their types and every
//! other field straight into JSON values, once. [`JsonObject`] is for readers that decide
//! on an object's head and pass its body on: the head in a few small parts, the body as the
//! text it was sent in.

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, TypeMeta};
use kube::core::DynamicResourceScope;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher::watcher};
use serde::de::{Deserialize, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A [`DynamicObject`] that decodes in one pass; with `MANAGED` false, without
/// `metadata.managedFields`, with `SETS` false, without the field set of each of their
/// entries (`fieldsV1`), and of the fields besides `apiVersion`, `kind` and `metadata`,
/// with those [`body`] names in `BODY`: what is left out is skipped unread. Use it as the
/// `K` of an `Api` and take the object out with [`Decoded::into_inner`] or
/// [`into_dynamic`].
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded<const MANAGED: bool, const SETS: bool = true, const BODY: u8 = { body::ALL }>(pub DynamicObject);

/// Which of an object's fields besides `apiVersion`, `kind` and `metadata` a [`Decoded`]
/// keeps: its `BODY`.
pub mod body {
    /// Every one.
    pub const ALL: u8 = 0;
    /// None.
    pub const NONE: u8 = 1;
    /// `status` only.
    pub const STATUS: u8 = 2;
    /// `spec` only.
    pub const SPEC: u8 = 3;

    /// Whether `body` keeps the top-level field `name`.
    pub(super) fn keeps(body: u8, name: &str) -> bool {
        match body {
            ALL => true,
            STATUS => name == "status",
            SPEC => name == "spec",
            _ => false,
        }
    }
}

/// An object decoded whole, in one pass.
pub type Dynamic = Decoded<true>;

/// An object decoded in one pass without its `managedFields`: for readers that never look
/// at them, as the syncer. An object that was applied and had its status written carries
/// a field tree per manager, all of which would be decoded only to be dropped.
pub type Unmanaged = Decoded<false>;

/// An object decoded in one pass with its `managedFields` entries but not their field
/// sets: for readers of who wrote when, as the status summarizer (when the status was
/// returned). The largest entry of a copy, the placement translator's, is its field set.
pub type Managers = Decoded<true, false>;

/// An object's type, metadata with its `managedFields` entries but not their field sets,
/// and `status`: for readers of returned status and of when it was written, as the status
/// summarizer, which follows every copy in every mailbox and keeps only that. A copy's
/// spec, as large as the rest, is skipped unread.
pub type Returned = Decoded<true, false, { body::STATUS }>;

/// An object's type and metadata (without `managedFields`), for readers of labels and
/// annotations only, as the translator of Locations (their parameters).
pub type Metadata = Decoded<false, true, { body::NONE }>;

impl<const MANAGED: bool, const SETS: bool, const BODY: u8> Decoded<MANAGED, SETS, BODY> {
    pub fn into_inner(self) -> DynamicObject {
        self.0
    }
}

/// What of each object a watch decodes; the rest is skipped unread.
///
/// Controllers cache what they watch, and an object that was applied and had its status
/// written carries a field tree per manager: at 1,000 WECs these trees were 19 MB of the
/// center's 135 MB heap before any workload. Only a reader of the managers or their times
/// (the status summarizer) keeps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fields {
    /// The whole object.
    All,
    /// All but `metadata.managedFields`.
    Unmanaged,
    /// All but the field set (`fieldsV1`) of each `metadata.managedFields` entry.
    Managers,
    /// `apiVersion`, `kind` and `metadata` without `managedFields`: no spec, no status.
    Metadata,
    /// `apiVersion`, `kind`, `metadata` as [`Fields::Managers`] has it, and `status`.
    Returned,
    /// `apiVersion`, `kind`, `metadata` without `managedFields`, and `spec`: for readers
    /// of what an object asks for (the simulated clusters, which write its status and
    /// would otherwise decode that status back from their own writes' events).
    Spec,
    /// `apiVersion`, `kind`, `metadata` without `managedFields`, and `status`: for readers
    /// of what became of an object (the bench's observer of returned status).
    Status,
}

/// A watcher of `resource` in every namespace `client` reaches, with backoff, its objects
/// decoded in one pass, as much of them as `fields` says.
pub fn watch(
    client: kube::Client,
    resource: &ApiResource,
    fields: Fields,
) -> BoxStream<'static, Result<Event<DynamicObject>, watcher::Error>> {
    fn of<const MANAGED: bool, const SETS: bool, const BODY: u8>(
        client: kube::Client,
        resource: &ApiResource,
    ) -> BoxStream<'static, Result<Event<DynamicObject>, watcher::Error>> {
        let api = kube::Api::<Decoded<MANAGED, SETS, BODY>>::all_with(client, resource);
        watcher(api, watcher::Config::default()).default_backoff().map(|r| r.map(into_dynamic)).boxed()
    }
    match fields {
        Fields::All => of::<true, true, { body::ALL }>(client, resource),
        Fields::Unmanaged => of::<false, true, { body::ALL }>(client, resource),
        Fields::Managers => of::<true, false, { body::ALL }>(client, resource),
        Fields::Metadata => of::<false, true, { body::NONE }>(client, resource),
        Fields::Returned => of::<true, false, { body::STATUS }>(client, resource),
        Fields::Spec => of::<false, true, { body::SPEC }>(client, resource),
        Fields::Status => of::<false, true, { body::STATUS }>(client, resource),
    }
}

/// A watcher's event of [`Decoded`] objects, as one of [`DynamicObject`]s.
pub fn into_dynamic<const MANAGED: bool, const SETS: bool, const BODY: u8>(
    event: Event<Decoded<MANAGED, SETS, BODY>>,
) -> Event<DynamicObject> {
    match event {
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(o.0),
        Event::InitDone => Event::InitDone,
        Event::Apply(o) => Event::Apply(o.0),
        Event::Delete(o) => Event::Delete(o.0),
    }
}

/// The type half of `kube::Resource` for an object read as any resource: its type is the
/// [`ApiResource`] it was read as, as for [`DynamicObject`].
macro_rules! read_as_api_resource {
    () => {
        type DynamicType = ApiResource;
        type Scope = DynamicResourceScope;

        fn kind(dt: &ApiResource) -> Cow<'_, str> {
            DynamicObject::kind(dt)
        }

        fn group(dt: &ApiResource) -> Cow<'_, str> {
            DynamicObject::group(dt)
        }

        fn version(dt: &ApiResource) -> Cow<'_, str> {
            DynamicObject::version(dt)
        }

        fn api_version(dt: &ApiResource) -> Cow<'_, str> {
            DynamicObject::api_version(dt)
        }

        fn plural(dt: &ApiResource) -> Cow<'_, str> {
            DynamicObject::plural(dt)
        }
    };
}

mod json_object;
pub use json_object::JsonObject;

impl<const MANAGED: bool, const SETS: bool, const BODY: u8> kube::Resource for Decoded<MANAGED, SETS, BODY> {
    read_as_api_resource!();

    fn meta(&self) -> &ObjectMeta {
        &self.0.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

impl<const MANAGED: bool, const SETS: bool, const BODY: u8> Serialize for Decoded<MANAGED, SETS, BODY> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, const MANAGED: bool, const SETS: bool, const BODY: u8> Deserialize<'de> for Decoded<MANAGED, SETS, BODY> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor::<MANAGED, SETS, BODY>)
    }
}

struct ObjectVisitor<const MANAGED: bool, const SETS: bool, const BODY: u8>;

impl<'de, const MANAGED: bool, const SETS: bool, const BODY: u8> Visitor<'de> for ObjectVisitor<MANAGED, SETS, BODY> {
    type Value = Decoded<MANAGED, SETS, BODY>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded<MANAGED, SETS, BODY>, A::Error> {
        let (mut api_version, mut kind, mut metadata) = (None, None, None);
        let mut data = Map::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "apiVersion" => api_version = Some(map.next_value::<String>()?),
                "kind" => kind = Some(map.next_value::<String>()?),
                "metadata" if MANAGED && SETS => metadata = Some(map.next_value::<ObjectMeta>()?),
                "metadata" => metadata = Some(map.next_value_seed(Gathered(MetadataMap { headers: MANAGED }))?),
                other if !body::keeps(BODY, other) => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    let value = map.next_value::<Value>()?;
                    data.insert(key.into_owned(), value);
                }
            }
        }
        // As DynamicObject's own decoding: the type fields only when both are there.
        let types = match (api_version, kind) {
            (Some(api_version), Some(kind)) => Some(TypeMeta { api_version, kind }),
            _ => None,
        };
        Ok(Decoded(DynamicObject { types, metadata: metadata.unwrap_or_default(), data: data.into() }))
    }
}

/// Metadata gathered as [`MetadataMap`] gathers it, then decoded: without what it skips
/// unread, the rest (names, labels, annotations, a few scalars) is small.
struct Gathered(MetadataMap);

impl<'de> DeserializeSeed<'de> for Gathered {
    type Value = ObjectMeta;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ObjectMeta, D::Error> {
        let kept = self.0.deserialize(deserializer)?;
        ObjectMeta::deserialize(Value::Object(kept)).map_err(D::Error::custom)
    }
}

/// Metadata as a JSON map without `managedFields`, or with `headers`, with each entry of
/// them less its field set (`fieldsV1`): what is left out is skipped unread.
struct MetadataMap {
    headers: bool,
}

impl<'de> DeserializeSeed<'de> for MetadataMap {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MetadataMap {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("object metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "managedFields" if self.headers => {
                    let entries = map.next_value_seed(EntryHeaders)?;
                    kept.insert(key.into_owned(), entries);
                }
                "managedFields" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    let value = map.next_value::<Value>()?;
                    kept.insert(key.into_owned(), value);
                }
            }
        }
        Ok(kept)
    }
}

/// `managedFields` less each entry's `fieldsV1`; anything but a list of maps is kept as it
/// is, for the metadata's decoding to judge.
struct EntryHeaders;

impl<'de> DeserializeSeed<'de> for EntryHeaders {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntryHeaders {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("managedFields")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = seq.next_element_seed(EntryHeader)? {
            entries.push(entry);
        }
        Ok(Value::Array(entries))
    }
}

/// One `managedFields` entry less its `fieldsV1`.
struct EntryHeader;

impl<'de> DeserializeSeed<'de> for EntryHeader {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntryHeader {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a managedFields entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "fieldsV1" {
                map.next_value::<IgnoredAny>()?;
            } else {
                kept.insert(key.into_owned(), map.next_value::<Value>()?);
            }
        }
        Ok(Value::Object(kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Whatever kube's own decoding makes of an object, this makes the same.
    #[test]
    fn decodes_as_dynamic_object_does() {
        let cases = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "a", "namespace": "n", "resourceVersion": "7", "labels": {"x": "y"}},
                   "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}]}}},
                   "status": {"readyReplicas": 2}}),
            json!({"metadata": {"name": "no-types"}, "data": {"k": "v"}}),
            json!({"apiVersion": "v1", "metadata": {"name": "no-kind"}}),
            json!({"kind": "Thing", "spec": null, "items": [1, "two", {"three": 3.5}]}),
            json!({}),
        ];
        for case in cases {
            let text = case.to_string();
            let theirs: DynamicObject = serde_json::from_str(&text).expect("kube decodes it");
            let ours: Dynamic = serde_json::from_str(&text).expect("this decodes it");
            assert_eq!(ours.0, theirs, "{text}");
            assert_eq!(serde_json::to_value(&ours).ok(), serde_json::to_value(&theirs).ok(), "{text}");
        }
    }

    /// Without managedFields, the object is the same object less its managedFields.
    #[test]
    fn unmanaged_is_the_object_without_managed_fields() {
        let cases = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "a", "namespace": "n", "labels": {"x": "y"},
                                "managedFields": [{"manager": "m", "operation": "Apply",
                                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
                   "spec": {"replicas": 2}}),
            json!({"metadata": {"name": "none", "managedFields": []}}),
            json!({"metadata": {"name": "absent"}, "data": {"k": "v"}}),
        ];
        for case in cases {
            let text = case.to_string();
            let mut want: DynamicObject = serde_json::from_str(&text).expect("kube decodes it");
            want.metadata.managed_fields = None;
            let ours: Unmanaged = serde_json::from_str(&text).expect("this decodes it");
            assert_eq!(ours.0, want, "{text}");
        }
    }

    /// With the managers but not their sets: the object as kube decodes it, every entry's
    /// `fieldsV1` left out.
    #[test]
    fn managers_is_the_object_without_field_sets() {
        let cases = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "a", "namespace": "n", "labels": {"x": "y"},
                                "managedFields": [
                                    {"manager": "translator", "operation": "Apply", "apiVersion": "apps/v1",
                                     "time": "2026-11-22T10:00:00Z", "fieldsType": "FieldsV1",
                                     "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                                    {"manager": "syncer", "operation": "Update", "subresource": "status",
                                     "time": "2026-11-22T10:00:05Z", "fieldsType": "FieldsV1",
                                     "fieldsV1": {"f:status": {".": {}, "f:readyReplicas": {}}}}]},
                   "spec": {"replicas": 2}, "status": {"readyReplicas": 2}}),
            json!({"metadata": {"name": "empty", "managedFields": []}}),
            json!({"metadata": {"name": "null", "managedFields": null}}),
            json!({"metadata": {"name": "absent"}, "data": {"k": "v"}}),
        ];
        for case in cases {
            let text = case.to_string();
            let mut want: DynamicObject = serde_json::from_str(&text).expect("kube decodes it");
            for entry in want.metadata.managed_fields.iter_mut().flatten() {
                entry.fields_v1 = None;
            }
            let ours: Managers = serde_json::from_str(&text).expect("this decodes it");
            assert_eq!(ours.0, want, "{text}");
        }
        for text in [r#"{"metadata": {"managedFields": 3}}"#, r#"{"metadata": {"managedFields": [3]}}"#] {
            assert!(serde_json::from_str::<Managers>(text).is_err(), "{text}");
        }
    }

    /// Returned status: the type, metadata as with the managers but not their sets, and
    /// `status`; nothing else, wherever `status` comes.
    #[test]
    fn returned_is_the_managers_and_the_status_only() {
        let cases = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "a", "labels": {"x": "y"},
                                "managedFields": [{"manager": "syncer", "operation": "Update", "subresource": "status",
                                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]},
                   "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}]}}},
                   "status": {"readyReplicas": 2}}),
            json!({"status": {"phase": "Active"}, "spec": {"finalizers": ["kubernetes"]}, "metadata": {"name": "first"}}),
            json!({"metadata": {"name": "none"}, "spec": {"x": 1}, "data": {"k": "v"}}),
            json!({"metadata": {"name": "null"}, "status": null}),
        ];
        for case in cases {
            let text = case.to_string();
            let mut want: DynamicObject = serde_json::from_str(&text).expect("kube decodes it");
            for entry in want.metadata.managed_fields.iter_mut().flatten() {
                entry.fields_v1 = None;
            }
            want.data = match case.get("status") {
                Some(status) => json!({"status": status}),
                None => json!({}),
            };
            let ours: Returned = serde_json::from_str(&text).expect("this decodes it");
            assert_eq!(ours.0, want, "{text}");
        }
    }

    /// One body field: the type, metadata without managedFields, and that field only,
    /// wherever it comes; an object without it decodes with none.
    #[test]
    fn one_body_field_is_that_field_and_the_unmanaged_metadata() {
        let cases = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "a", "namespace": "n", "generation": 3, "labels": {"x": "y"},
                                "managedFields": [{"manager": "m", "operation": "Update", "subresource": "status",
                                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]},
                   "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}]}}},
                   "status": {"readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}}),
            json!({"status": {"phase": "Active"}, "spec": {"finalizers": ["kubernetes"]}, "metadata": {"name": "first"}}),
            json!({"metadata": {"name": "none"}, "data": {"k": "v"}}),
            json!({"metadata": {"name": "null"}, "status": null, "spec": null}),
        ];
        fn only<const BODY: u8>(case: &Value, field: &str) {
            let text = case.to_string();
            let mut want: DynamicObject = serde_json::from_str(&text).expect("kube decodes it");
            want.metadata.managed_fields = None;
            want.data = match case.get(field) {
                Some(value) => json!({ field: value }),
                None => json!({}),
            };
            let ours: Decoded<false, true, BODY> = serde_json::from_str(&text).expect("this decodes it");
            assert_eq!(ours.into_inner(), want, "{field} of {text}");
        }
        for case in &cases {
            only::<{ body::STATUS }>(case, "status");
            only::<{ body::SPEC }>(case, "spec");
        }
    }

    /// Metadata only: the type and metadata as without managedFields, no other field.
    #[test]
    fn metadata_is_the_object_without_data_or_managed_fields() {
        let cases = [
            json!({"apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "Location",
                   "metadata": {"name": "a", "labels": {"x": "y"}, "annotations": {"p": "q"},
                                "managedFields": [{"manager": "m", "operation": "Apply"}]},
                   "spec": {"instanceSelector": {"matchLabels": {"x": "y"}}}, "status": {"n": 1}}),
            json!({"metadata": {"name": "bare"}}),
            json!({"kind": "Thing", "items": [1, {"two": 2}], "metadata": {"name": "late"}}),
        ];
        for case in cases {
            let text = case.to_string();
            let mut want: DynamicObject = serde_json::from_str(&text).expect("kube decodes it");
            want.metadata.managed_fields = None;
            want.data = json!({});
            let ours: Metadata = serde_json::from_str(&text).expect("this decodes it");
            assert_eq!(ours.0, want, "{text}");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_default() {
        for text in [r#"{"metadata": 5}"#, r#"{"kind": 1}"#, "[1]", "7", r#"{"a": }"#, r#"{"metadata": {"name": 5}}"#] {
            assert!(serde_json::from_str::<Dynamic>(text).is_err(), "{text}");
            assert!(serde_json::from_str::<Unmanaged>(text).is_err(), "{text}");
            assert!(serde_json::from_str::<Metadata>(text).is_err(), "{text}");
            assert!(serde_json::from_str::<Managers>(text).is_err(), "{text}");
            assert!(serde_json::from_str::<Returned>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_watch_event_decodes_whichever_field_comes_first() {
        for text in [
            r#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}}"#,
            r#"{"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}},"type":"ADDED"}"#,
        ] {
            let event: kube::core::WatchEvent<Dynamic> = serde_json::from_str(text).expect("decodes");
            let kube::core::WatchEvent::Added(o) = event else { panic!("not ADDED: {text}") };
            assert_eq!(o.0.metadata.name.as_deref(), Some("a"));
            assert_eq!(o.0.data, json!({"data": {"k": "v"}}));
        }
    }
}
