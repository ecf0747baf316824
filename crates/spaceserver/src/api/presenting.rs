//! Presenting a stored object straight from its stored JSON, without decoding it.
//!
//! The store keeps an object's JSON as the API layer wrote it, less what depends on how
//! it is read: `apiVersion` and `kind` (the version asked for), `metadata.resourceVersion`
//! (the revision it is read at) and, for a read across every space, the annotation naming
//! its space. Watches present every event this way, and decoding the object into a tree
//! of values only to encode it again with three fields changed was most of what an event
//! cost the server. Here the object is only scanned: each field stays the text it was
//! stored as, and the few that change are written in their places. Map keys are written
//! in sorted order, as `serde_json` writes a decoded object, so the result is the same
//! bytes the decoding path makes.

use super::convert::is_events_api;
use super::list::tag_space;
use super::object::set_revision;
use super::{Ctx, SPACE_ANNOTATION, crud};
use crate::store::Revision;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// A JSON object's fields, each still its text. Keys are borrowed: a stored key with an
/// escape in it does not scan (the caller decodes such an object instead).
type Fields<'a> = BTreeMap<&'a str, &'a RawValue>;

/// How one request presents stored objects: as `ctx`'s version and kind, scanned where
/// the resource allows it.
pub(super) struct Presenter<'a> {
    ctx: &'a Ctx,
    api_version: String,
    /// Events convert between versions, so they are decoded.
    scan: bool,
}

impl<'a> Presenter<'a> {
    pub(super) fn new(ctx: &'a Ctx) -> Self {
        let scan = !is_events_api(&ctx.info.group, &ctx.info.resource);
        Self { ctx, api_version: ctx.info.api_version(), scan }
    }

    /// The object stored as `stored` at `revision`, presented (naming `space`, for a read
    /// across every space) and encoded: scanned when it can be, else decoded and encoded
    /// again; `None` when the stored JSON is unreadable.
    pub(super) fn present(&self, stored: &[u8], revision: Revision, space: Option<&str>) -> Option<Box<RawValue>> {
        if self.scan {
            let reading = Reading { api_version: &self.api_version, kind: &self.ctx.info.kind, revision, space };
            if let Some(object) = present_stored(stored, &reading) {
                return Some(object);
            }
        }
        let mut obj: Value = serde_json::from_slice(stored).ok()?;
        set_revision(&mut obj, revision);
        let mut obj = crud::present(self.ctx, obj);
        if let Some(space) = space {
            tag_space(&mut obj, space);
        }
        serde_json::value::to_raw_value(&obj).ok()
    }
}

/// How an object is read: the version and kind it is presented as, the revision it is
/// read at, and the space to name (for a read across every space).
#[derive(Clone, Copy, Debug)]
struct Reading<'a> {
    api_version: &'a str,
    kind: &'a str,
    revision: Revision,
    space: Option<&'a str>,
}

/// The object stored as `stored`, as `reading` presents it, encoded; `None` when it cannot
/// be presented without decoding it (its top level or its metadata is not an object, or a
/// key there has an escape).
fn present_stored(stored: &[u8], reading: &Reading) -> Option<Box<RawValue>> {
    let api_version = text(reading.api_version)?;
    let kind = text(reading.kind)?;
    let revision = text(&reading.revision.to_string())?;
    let mut top: Fields = serde_json::from_slice(stored).ok()?;
    let mut metadata: Fields = serde_json::from_str(top.get("metadata")?.get()).ok()?;
    metadata.insert("resourceVersion", &revision);
    let annotations = match reading.space {
        Some(space) => tagged(metadata.get("annotations").copied(), space)?,
        None => None,
    };
    if let Some(annotations) = &annotations {
        metadata.insert("annotations", annotations);
    }
    let metadata = serde_json::value::to_raw_value(&metadata).ok()?;
    top.insert("apiVersion", &api_version);
    top.insert("kind", &kind);
    top.insert("metadata", &metadata);
    serde_json::value::to_raw_value(&top).ok()
}

/// A presented object's bytes, without copying them.
pub(super) fn into_bytes(object: Box<RawValue>) -> Vec<u8> {
    Box::<str>::from(object).into_boxed_bytes().into_vec()
}

/// A string as JSON text.
fn text(s: &str) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(s).ok()
}

/// `annotations` with the space named in it: `Some(None)` when they are there but not an
/// object (left alone, as the decoding path leaves them).
fn tagged(annotations: Option<&RawValue>, space: &str) -> Option<Option<Box<RawValue>>> {
    let space = text(space)?;
    let mut map: BTreeMap<String, &RawValue> = match annotations {
        None => BTreeMap::new(),
        Some(raw) => match serde_json::from_str(raw.get()) {
            Ok(map) => map,
            Err(_) => return Some(None),
        },
    };
    map.insert(SPACE_ANNOTATION.to_owned(), &space);
    Some(Some(serde_json::value::to_raw_value(&map).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the decoding path makes of the same stored object.
    fn decoded(stored: &Value, reading: &Reading) -> Vec<u8> {
        let mut obj = stored.clone();
        set_revision(&mut obj, reading.revision);
        let o = obj.as_object_mut().expect("an object");
        o.insert("apiVersion".into(), json!(reading.api_version));
        o.insert("kind".into(), json!(reading.kind));
        if let Some(space) = reading.space {
            tag_space(&mut obj, space);
        }
        serde_json::to_vec(&obj).expect("encoded")
    }

    #[test]
    fn presents_the_same_bytes_as_decoding_would() {
        let objects = [
            json!({"metadata": {"name": "a", "namespace": "n", "uid": "u"}, "data": {"k": "v\n\"q\""}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "resourceVersion": "3",
                   "annotations": {"a/b": "c", "z": "\u{e9}"}, "labels": {"x": "y"}},
                   "spec": {"replicas": 2, "ratio": 0.25, "big": 18_446_744_073_709_551_615_u64, "neg": -1},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"metadata": {"name": "n", "annotations": null}, "spec": {}}),
            json!({"metadata": {"name": "n", "annotations": "not a map"}}),
            json!({"metadata": {}, "zeta": [1, 2, {"b": null, "a": true}], "alpha": ""}),
        ];
        let readings = [
            Reading { api_version: "v1", kind: "ConfigMap", revision: 7, space: None },
            Reading { api_version: "apps/v1", kind: "Deployment", revision: 12_345, space: Some("wec-1") },
            Reading {
                api_version: "edge.kubestellar.io/v2alpha1",
                kind: "Odd\"Kind",
                revision: 0,
                space: Some("s\\p"),
            },
        ];
        for object in &objects {
            let stored = serde_json::to_vec(object).expect("stored");
            for reading in &readings {
                let raw = into_bytes(present_stored(&stored, reading).expect("presented"));
                assert_eq!(
                    String::from_utf8_lossy(&raw),
                    String::from_utf8_lossy(&decoded(object, reading)),
                    "{object} read as {reading:?}"
                );
            }
        }
    }

    #[test]
    fn what_it_cannot_scan_is_left_to_the_decoding_path() {
        let reading = Reading { api_version: "v1", kind: "ConfigMap", revision: 1, space: None };
        let cases: [&[u8]; 5] = [
            br#"{"metadata":{"name":"a"},"d\u0061ta":{}}"#,
            br#"{"metadata":{"na\u006de":"a"}}"#,
            br#"{"metadata":"not a map"}"#,
            br#"{"data":{}}"#,
            br#"["not","an","object"]"#,
        ];
        for stored in cases {
            assert!(present_stored(stored, &reading).is_none(), "{}", String::from_utf8_lossy(stored));
        }
    }
}
