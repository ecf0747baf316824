//! Presenting a stored object straight from its stored JSON, without decoding it.
//!
//! The store keeps an object's JSON as the API layer wrote it, less what depends on how
//! it is read: `apiVersion` and `kind` (the version asked for), `metadata.resourceVersion`
//! (the revision it is read at) and, for a read across every space, the annotation naming
//! its space. Watches present every event this way, and decoding the object into a tree
//! of values only to encode it again with three fields changed was most of what an event
//! cost the server.
//!
//! Two ways, the cheaper first:
//! - *Spliced* ([`present_spliced`]): the stored JSON is copied with the changed fields
//!   written in at the start of `metadata`, and nothing past its first field is read.
//!   This relies on how the server stores objects: `serde_json` writes map keys in sorted
//!   order, so `apiVersion`, `kind` and `metadata` come first and `annotations` first in
//!   `metadata`, and [`super::body::object_bytes`] leaves `resourceVersion` out. What it
//!   cannot be sure of (a `"resourceVersion":` anywhere in the text, an escape in a key
//!   it reads, annotations that are not a map) goes the second way.
//! - *Scanned* ([`present_stored`]): every top-level and `metadata` field is scanned to
//!   its end and the object written again with the changed fields in their sorted places.
//!   Objects stored before `resourceVersion` was left out take this way.
//!
//! Measured with `orrery bench scale` at 1,000 WECs, scanning was 6 % of the center's CPU
//! and 9 % of the WEC server's: it read each object twice (`metadata` once as part of the
//! object, once on its own), and `managedFields` is most of `metadata`.

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
        if let Some(object) = self.reading(revision, space).and_then(|r| present_stored(stored, &r)) {
            return Some(object);
        }
        let mut obj: Value = serde_json::from_slice(stored).ok()?;
        set_revision(&mut obj, revision);
        let mut obj = crud::present(self.ctx, obj);
        if let Some(space) = space {
            tag_space(&mut obj, space);
        }
        serde_json::value::to_raw_value(&obj).ok()
    }

    /// [`Self::present`], as bytes: spliced when it can be ([`present_spliced`]), which
    /// makes no `RawValue` (one would have to be scanned to be made).
    pub(super) fn present_bytes(&self, stored: &[u8], revision: Revision, space: Option<&str>) -> Option<Vec<u8>> {
        if let Some(object) = self.reading(revision, space).and_then(|r| present_spliced(stored, &r)) {
            return Some(object);
        }
        self.present(stored, revision, space).map(into_bytes)
    }

    /// How this request reads an object at `revision` (naming `space`), when it may be
    /// presented without decoding it.
    fn reading<'r>(&'r self, revision: Revision, space: Option<&'r str>) -> Option<Reading<'r>> {
        self.scan.then_some(Reading { api_version: &self.api_version, kind: &self.ctx.info.kind, revision, space })
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

/// The object stored as `stored`, as `reading` presents it: the stored JSON with
/// `apiVersion`, `kind`, `resourceVersion` and (for a read across every space) the space's
/// annotation written in at the start of `metadata`. `None` when the stored JSON is not as
/// the server writes it now (see the module's documentation), or not readable that way.
fn present_spliced(stored: &[u8], reading: &Reading) -> Option<Vec<u8>> {
    // The fields before `metadata` (keys are sorted: `apiVersion`, `kind`, and a few
    // such as a ConfigMap's `data`), kept as they are but for the version and kind, which
    // are the reading's.
    let mut rest = stored.strip_prefix(b"{")?;
    let mut before = Vec::new();
    let metadata = loop {
        let (key, after) = plain_string(rest)?;
        let value = after.strip_prefix(b":")?;
        match key {
            "metadata" => break value.strip_prefix(b"{")?,
            _ if key > "metadata" => return None,
            _ => {}
        }
        let raw = serde_json::Deserializer::from_slice(value).into_iter::<&RawValue>().next()?.ok()?;
        let end = stored.len() - value.len() + raw.get().len();
        if key != "apiVersion" && key != "kind" {
            before.push(&stored[stored.len() - rest.len()..end]);
        }
        rest = stored[end..].strip_prefix(b",")?;
    };
    if memchr::memmem::find(metadata, br#""resourceVersion":"#).is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(stored.len() + 96);
    out.push(b'{');
    for field in before {
        out.extend_from_slice(field);
        out.push(b',');
    }
    out.extend_from_slice(br#""apiVersion":"#);
    serde_json::to_writer(&mut out, reading.api_version).ok()?;
    out.extend_from_slice(br#","kind":"#);
    serde_json::to_writer(&mut out, reading.kind).ok()?;
    out.extend_from_slice(br#","metadata":{"resourceVersion":""#);
    out.extend_from_slice(reading.revision.to_string().as_bytes());
    out.push(b'"');
    // What follows, in a map whose first entries were just written.
    let rest = match reading.space {
        None => metadata,
        Some(space) => {
            out.extend_from_slice(br#","annotations":{"#);
            serde_json::to_writer(&mut out, SPACE_ANNOTATION).ok()?;
            out.push(b':');
            serde_json::to_writer(&mut out, space).ok()?;
            match metadata.strip_prefix(br#""annotations":"#) {
                Some(annotations) => {
                    // Fields<'_> refuses a key with an escape: such maps are decoded.
                    let map = serde_json::Deserializer::from_slice(annotations).into_iter::<Fields>().next()?.ok()?;
                    if map.contains_key(SPACE_ANNOTATION) {
                        return None;
                    }
                    annotations.strip_prefix(b"{")?
                }
                None => {
                    // Keys are sorted: a first key after "annotations" means there are none.
                    if !metadata.starts_with(b"}") && plain_string(metadata)?.0 < "annotations" {
                        return None;
                    }
                    out.push(b'}');
                    metadata
                }
            }
        }
    };
    if !rest.starts_with(b"}") {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// The JSON string `text` starts with, when it has no escape in it, and what follows it.
fn plain_string(text: &[u8]) -> Option<(&str, &[u8])> {
    let inner = text.strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', inner)?;
    if inner[end] != b'"' {
        return None;
    }
    Some((std::str::from_utf8(&inner[..end]).ok()?, &inner[end + 1..]))
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
fn into_bytes(object: Box<RawValue>) -> Vec<u8> {
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

    /// Readings of one space and of every space, with characters JSON escapes.
    const READINGS: [Reading; 3] = [
        Reading { api_version: "v1", kind: "ConfigMap", revision: 7, space: None },
        Reading { api_version: "apps/v1", kind: "Deployment", revision: 12_345, space: Some("wec-1") },
        Reading { api_version: "edge.kubestellar.io/v2alpha1", kind: "Odd\"Kind", revision: 0, space: Some("s\\p") },
    ];

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
        for object in &objects {
            let stored = serde_json::to_vec(object).expect("stored");
            for reading in &READINGS {
                let raw = into_bytes(present_stored(&stored, reading).expect("presented"));
                assert_eq!(
                    String::from_utf8_lossy(&raw),
                    String::from_utf8_lossy(&decoded(object, reading)),
                    "{object} read as {reading:?}"
                );
            }
        }
    }

    /// Spliced, an object stored as the server stores it now reads as the same object as
    /// decoding makes, whatever the order of its fields.
    #[test]
    fn splices_the_same_object_as_decoding_would() {
        let objects = [
            json!({"metadata": {"name": "a", "namespace": "n", "uid": "u"}, "data": {"k": "v\n\"q\""}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "resourceVersion": "3",
                   "annotations": {"a/b": "c", "z": "\u{e9}"}, "labels": {"x": "y"}},
                   "spec": {"replicas": 2, "template": {"metadata": {"annotations": {"t": "1"}}}},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"apiVersion": "old/v0", "metadata": {"annotations": {}}, "spec": {}}),
            json!({"kind": "Old", "metadata": {}}),
            json!({"metadata": {"name": "n", "zz": 1}}),
        ];
        for object in &objects {
            let stored = super::super::body::object_bytes(object).expect("stored");
            for reading in &READINGS {
                let spliced = present_spliced(&stored, reading)
                    .unwrap_or_else(|| panic!("{} not spliced as {reading:?}", String::from_utf8_lossy(&stored)));
                let spliced: Value = serde_json::from_slice(&spliced).expect("JSON");
                let decoded: Value = serde_json::from_slice(&decoded(object, reading)).expect("JSON");
                assert_eq!(spliced, decoded, "{object} read as {reading:?}");
            }
        }
    }

    /// What splicing cannot be sure of is left to scanning (or decoding).
    #[test]
    fn what_it_cannot_splice_is_left_to_scanning() {
        let reading = Reading { api_version: "v1", kind: "ConfigMap", revision: 1, space: Some("s") };
        let cases: [&[u8]; 8] = [
            // Stored with its resourceVersion (before the server left it out), or one
            // elsewhere that may be it.
            br#"{"metadata":{"name":"a","resourceVersion":"4"}}"#,
            br#"{"metadata":{"name":"a"},"spec":{"template":{"metadata":{"resourceVersion":"1"}}}}"#,
            // Not in the order the server writes, or not as it writes them.
            br#"{"spec":{},"metadata":{}}"#,
            br#"{"metadata":{"Zed":"a","annotations":{}}}"#,
            // Escapes where it reads, annotations that are not a map, or that name a space.
            br#"{"\u0061piVersion":"v1","metadata":{}}"#,
            br#"{"metadata":{"annotations":{"\u0061":"b"}}}"#,
            br#"{"metadata":{"annotations":null}}"#,
            br#"{"metadata":{"annotations":{"kcp.io/cluster":"x"}}}"#,
        ];
        assert_eq!(SPACE_ANNOTATION, "kcp.io/cluster", "the last case names the space");
        for stored in cases {
            assert!(present_spliced(stored, &reading).is_none(), "{}", String::from_utf8_lossy(stored));
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
