//! Reading the few metadata fields the translator decides on from an object as JSON.
//!
//! The translator handles every kind — including custom resources it has no Rust type
//! for — so it works on `serde_json::Value`. Absent, null and wrongly-typed fields all
//! read as "not there", the way the API server treats them.

use serde_json::{Map, Value};

/// `metadata`, when it is an object.
pub(crate) fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.as_object()
}

/// A string field of `metadata` (`name`, `namespace`, …); empty reads as absent.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    metadata(object)?.get(field)?.as_str().filter(|s| !s.is_empty())
}

/// The value of annotation `key`.
pub(crate) fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    metadata(object)?.get("annotations")?.get(key)?.as_str()
}

/// The value of label `key`.
pub(crate) fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    metadata(object)?.get("labels")?.get(key)?.as_str()
}
