//! Request bodies: size limits, content types, JSON and YAML.

use super::current::Kept;
use super::status::ApiError;
use crate::ssa::{EntryText, ManagedList};
use axum::body::Body;
use axum::http::HeaderMap;
use serde_json::Value;

/// The largest request body accepted (the apiserver's limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;
/// The largest object stored (etcd's request limit, which the apiserver inherits).
pub const MAX_OBJECT: usize = 1536 * 1024;

/// The media type of a request body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

pub async fn read(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(format!("the request body is larger than the limit of {MAX_BODY} bytes")))
}

/// Parses a body as JSON or YAML (a JSON document is valid YAML, but JSON errors are
/// clearer, so JSON is tried first when the body looks like it).
pub fn parse_document(bytes: &[u8], media: &str) -> Result<Value, ApiError> {
    if media == "application/vnd.kubernetes.protobuf" {
        return Err(ApiError::unsupported_media_type(
            "the body content type application/vnd.kubernetes.protobuf is not supported; send JSON \
             (kubectl 1.32+ sends protobuf for `create configmap|secret|namespace`: use \
             `--dry-run=client -o yaml | kubectl apply -f -`, or kubectl 1.31)",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let is_yaml = matches!(media, "application/yaml" | "application/apply-patch+yaml") && !trimmed.starts_with('{');
    if is_yaml {
        serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(format!("the body is not valid YAML: {e}")))
    } else {
        serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
    }
}

/// Checks that a body is an object body for the write it is used for.
pub fn require_object(v: Value) -> Result<Value, ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    Ok(v)
}

/// Serializes an object for storage, refusing one over the object size limit. Without
/// `metadata.resourceVersion`: the store's revision is the object's version, written in
/// as it is read, and a stored object without one can be presented without being read
/// past its first fields (`super::presenting`).
pub fn object_bytes(v: &Value) -> Result<bytes::Bytes, ApiError> {
    object_bytes_with(v, None, &Kept::default())
}

/// [`object_bytes`] of an object whose `managedFields` are kept apart (`managed`): written
/// into its `metadata`, in key order, in place of any list the object holds; and whose
/// `kept` fields are kept apart as stored text: written where they sort, in place of any
/// field of the same name the object holds.
pub(super) fn object_bytes_with(
    v: &Value,
    managed: Option<&ManagedList>,
    kept: &Kept,
) -> Result<bytes::Bytes, ApiError> {
    let bytes = serde_json::to_vec(&Storable(v, managed, kept.fields()))
        .map_err(|e| ApiError::internal(format!("serializing the object: {e}")))?;
    if bytes.len() > MAX_OBJECT {
        return Err(ApiError::too_large(format!(
            "the object is {} bytes, larger than the limit of {MAX_OBJECT} bytes",
            bytes.len()
        )));
    }
    // Exactly as long as the JSON: the stored object lives on, and the spare capacity of
    // the growing buffer (up to half of it) would live on with it.
    Ok(bytes::Bytes::from(bytes.into_boxed_slice()))
}

/// An object as stored: itself, less `metadata.resourceVersion`, with its `managedFields`
/// and top-level fields (in key order) when they are kept apart.
struct Storable<'a>(&'a Value, Option<&'a ManagedList>, &'a [(String, EntryText)]);

impl serde::Serialize for Storable<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(top) = self.0 else { return self.0.serialize(serializer) };
        let mut kept = self.2.iter().peekable();
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in top {
            // Written where they sort: stored keys stay in order, which presenting relies on.
            while let Some((name, text)) = kept.next_if(|(name, _)| name < key) {
                map.serialize_entry(name, text)?;
            }
            if let Some((name, text)) = kept.next_if(|(name, _)| name == key) {
                map.serialize_entry(name, text)?;
                continue;
            }
            match value {
                Value::Object(metadata) if key == "metadata" => {
                    map.serialize_entry(key, &Unversioned(metadata, self.1))?
                }
                _ => map.serialize_entry(key, value)?,
            }
        }
        for (name, text) in kept {
            map.serialize_entry(name, text)?;
        }
        map.end()
    }
}

/// Metadata less `resourceVersion`, with `managed` as its `managedFields` (an empty list:
/// none).
struct Unversioned<'a>(&'a serde_json::Map<String, Value>, Option<&'a ManagedList>);

impl serde::Serialize for Unversioned<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        const MANAGED: &str = "managedFields";
        let Some(managed) = self.1 else {
            let fields = self.0.iter().filter(|(key, _)| *key != "resourceVersion");
            return serializer.collect_map(fields);
        };
        // Written where it sorts: stored keys stay in order, which presenting relies on.
        let mut pending = (!managed.is_empty()).then_some(managed);
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0.iter().filter(|(key, _)| *key != "resourceVersion" && *key != MANAGED) {
            if key.as_str() > MANAGED
                && let Some(list) = pending.take()
            {
                map.serialize_entry(MANAGED, list)?;
            }
            map.serialize_entry(key, value)?;
        }
        if let Some(list) = pending {
            map.serialize_entry(MANAGED, list)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let ok = [
            (r#"{"a": 1}"#, "application/json"),
            ("a: 1\n", "application/yaml"),
            (r#"{"a": 1}"#, "application/apply-patch+yaml"),
            ("a: 1\n", "application/apply-patch+yaml"),
        ];
        for (body, media) in ok {
            assert_eq!(parse_document(body.as_bytes(), media).expect(body), serde_json::json!({"a": 1}));
        }
        let bad = [
            ("{", "application/json", 400),
            ("", "application/json", 400),
            ("a: [", "application/yaml", 400),
            ("k8s\0", "application/vnd.kubernetes.protobuf", 415),
        ];
        for (body, media, code) in bad {
            assert_eq!(parse_document(body.as_bytes(), media).expect_err(body).code, code, "{body:?}");
        }
        assert_eq!(require_object(serde_json::json!([1])).expect_err("array").code, 400);
    }

    /// What is stored: the object less `metadata.resourceVersion`, keys in sorted order
    /// (which `presenting` relies on: it fails here if `serde_json` ever keeps insertion
    /// order).
    #[test]
    fn objects_are_stored_sorted_and_without_their_resource_version() {
        use serde_json::json;
        let cases = [
            (
                json!({"metadata": {"resourceVersion": "7", "name": "a", "annotations": {"z": "1", "b": "2"}},
                       "kind": "ConfigMap", "apiVersion": "v1", "data": {"resourceVersion": "kept"}}),
                r#"{"apiVersion":"v1","data":{"resourceVersion":"kept"},"kind":"ConfigMap","metadata":{"annotations":{"b":"2","z":"1"},"name":"a"}}"#,
            ),
            (json!({"metadata": {"resourceVersion": "7"}}), r#"{"metadata":{}}"#),
            (json!({"metadata": "odd", "spec": {}}), r#"{"metadata":"odd","spec":{}}"#),
            (json!({}), "{}"),
        ];
        for (object, want) in cases {
            let stored = object_bytes(&object).expect("stored");
            assert_eq!(std::str::from_utf8(&stored).expect("UTF-8"), want, "{object}");
        }
    }

    /// A list kept apart goes where it sorts in `metadata`, in place of one in the object.
    #[test]
    fn managed_fields_kept_apart_are_stored_in_key_order() {
        use crate::ssa::EntryJson;
        use serde_json::json;
        let text = |s: &str| EntryJson::Text(crate::ssa::EntryText::from(s.to_owned()));
        let list = ManagedList::new(vec![text(r#"{"manager":"a"}"#), EntryJson::Tree(json!({"manager": "b"}))]);
        let cases = [
            (
                json!({"metadata": {"name": "n", "labels": {"x": "y"}, "resourceVersion": "7"}, "spec": {}}),
                r#"{"metadata":{"labels":{"x":"y"},"managedFields":[{"manager":"a"},{"manager":"b"}],"name":"n"},"spec":{}}"#,
            ),
            (
                json!({"metadata": {"annotations": {}}}),
                r#"{"metadata":{"annotations":{},"managedFields":[{"manager":"a"},{"manager":"b"}]}}"#,
            ),
            (
                json!({"metadata": {"name": "n", "managedFields": [{"manager": "old"}]}}),
                r#"{"metadata":{"managedFields":[{"manager":"a"},{"manager":"b"}],"name":"n"}}"#,
            ),
        ];
        for (object, want) in cases {
            let stored = object_bytes_with(&object, Some(&list), &Kept::default()).expect("stored");
            assert_eq!(std::str::from_utf8(&stored).expect("UTF-8"), want, "{object}");
        }
        let none = object_bytes_with(
            &json!({"metadata": {"name": "n", "managedFields": [{}]}}),
            Some(&ManagedList::default()),
            &Kept::default(),
        );
        assert_eq!(&none.expect("stored")[..], br#"{"metadata":{"name":"n"}}"#, "an empty list: none");
    }

    /// Fields kept apart as text go where they sort, as they are, in place of any of the
    /// same name in the object.
    #[test]
    fn fields_kept_apart_are_stored_in_key_order_as_they_are() {
        use crate::store::Stored;
        use serde_json::json;
        // Kept as a read for a status write keeps them: slices of a stored object.
        let stored = br#"{"apiVersion":"v1","a":[1, 2],"metadata":{},"spec":{"x" : 1},"zz":null}"#;
        let stored = Stored { revision: 3, json: bytes::Bytes::from_static(stored) };
        let kept = || {
            let read = super::super::current::Current::read(&stored, super::super::current::Read::Status);
            read.expect("reads").kept
        };
        let cases = [
            (
                json!({"apiVersion": "v1", "metadata": {"name": "n", "resourceVersion": "3"}, "status": {"s": 1}}),
                r#"{"a":[1, 2],"apiVersion":"v1","metadata":{"name":"n"},"spec":{"x" : 1},"status":{"s":1},"zz":null}"#,
            ),
            (json!({}), r#"{"a":[1, 2],"spec":{"x" : 1},"zz":null}"#),
            (json!({"spec": {"changed": true}, "zzz": 1}), r#"{"a":[1, 2],"spec":{"x" : 1},"zz":null,"zzz":1}"#),
        ];
        for (object, want) in cases {
            let bytes = object_bytes_with(&object, None, &kept()).expect("stored");
            assert_eq!(std::str::from_utf8(&bytes).expect("UTF-8"), want, "{object}");
        }
    }
}
