//! The stored object as a write reads it: one tree, or (read lean) a tree without
//! `metadata.managedFields`, whose entries are kept as the text they were stored as; for a
//! status write, without every field a status write cannot change either.
//!
//! Most writes reach one or two of an object's `managedFields` entries (a status write,
//! only its own writer's), and `managedFields` is about half of a typical stored object.
//! A write that records its fields with [`crate::ssa::update_tracked`] or
//! [`crate::ssa::apply_tracked`] therefore reads the object lean: it decodes only the
//! entries it reaches, and writes the rest back as stored (see `ssa::stored`).
//!
//! A status write changes only `status`: the rest of what it stores is the stored object's
//! (`crud::updated_with`). Read for one ([`Read::Status`]), a Deployment's `spec` and every
//! other field but `apiVersion`, `kind`, `metadata` and `status` stay the text they were
//! stored as, and are written back as such: never built into a tree, copied or dropped.

use super::Result;
use crate::ssa::{self, EntryText, StoredEntries};
use crate::store::Stored;
use bytes::Bytes;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// How a write reads the stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Read {
    /// The whole object, one tree.
    Whole,
    /// The tree without `metadata.managedFields`, kept as stored text ([`Current::managed`]).
    Lean,
    /// [`Read::Lean`], and in the tree only the fields a status write reads: `apiVersion`,
    /// `kind`, `metadata` and `status`. The others are kept as stored text
    /// ([`Current::kept`]). Only for a write that stores the object with nothing but its
    /// `status` (and its own `managedFields` entry) changed.
    Status,
}

/// The top-level fields that a status write reads (`Read::Status`).
pub(super) const STATUS_WRITE_READS: [&str; 4] = ["apiVersion", "kind", "metadata", "status"];

/// The stored object as a write reads it.
#[derive(Debug)]
pub(super) struct Current {
    /// The object, with its revision as `resourceVersion`; read lean, without
    /// `metadata.managedFields`; read for a status write, without the [`Current::kept`]
    /// fields.
    pub obj: Value,
    /// Read lean: the stored `managedFields` entries (`None`: the object has none, or was
    /// read whole).
    pub managed: Option<StoredEntries>,
    /// Read for a status write: the other top-level fields, as stored.
    pub kept: Kept,
}

/// Top-level fields of a stored object kept out of its tree, each as its stored text (a
/// slice of it, not a copy), in key order. Written back in place of any field of the same
/// name in the object stored ([`super::body::object_bytes_with`]).
#[derive(Debug, Default)]
pub(super) struct Kept(Vec<(String, EntryText)>);

impl Kept {
    /// The fields, in key order.
    pub fn fields(&self) -> &[(String, EntryText)] {
        &self.0
    }

    /// Puts the fields into `obj`, as trees.
    pub fn put_back(self, obj: &mut Value) {
        if let Some(map) = obj.as_object_mut() {
            map.extend(self.0.into_iter().map(|(key, text)| (key, text.to_value())));
        }
    }
}

impl Current {
    pub fn read(stored: &Stored, read: Read) -> Result<Self> {
        if read != Read::Whole
            && let Ok((mut obj, managed, kept)) = lean(&stored.json, read == Read::Status)
        {
            super::object::set_revision(&mut obj, stored.revision);
            return Ok(Self { obj, managed, kept });
        }
        // Whole, or not an object lean reading can split (no writer stores one).
        Ok(Self { obj: super::crud::parse_stored(stored)?, managed: None, kept: Kept::default() })
    }

    /// The whole object, its entries and kept fields put back.
    pub fn into_whole(self) -> Value {
        let Self { mut obj, managed, kept } = self;
        if let Some(entries) = managed {
            ssa::write_list(&mut obj, ssa::ManagedList::stored(&entries));
        }
        kept.put_back(&mut obj);
        obj
    }
}

/// What [`lean`] keeps as text, borrowed from the stored JSON.
#[derive(Default)]
struct Texts<'de> {
    managed: Option<Vec<&'de RawValue>>,
    kept: Vec<(String, &'de RawValue)>,
}

/// Reads a stored object's JSON into a tree, keeping `metadata.managedFields` out of it as
/// one text per entry, and with `for_status` every top-level field a status write does
/// not read, each a slice of `json` (not a copy). Fails on anything but an object whose
/// `metadata` (if any) is a map and whose `managedFields` (if any) is a list.
fn lean(json: &Bytes, for_status: bool) -> serde_json::Result<(Value, Option<StoredEntries>, Kept)> {
    let mut texts = Texts::default();
    let mut de = serde_json::Deserializer::from_slice(json);
    let obj = Level { texts: &mut texts, at: At::Top { for_status } }.deserialize(&mut de)?;
    de.end()?;
    let Texts { managed, mut kept } = texts;
    let entries = managed.map(|texts| StoredEntries::new(texts.into_iter().map(|t| slice_of(json, t)).collect()));
    // Stored objects are written in key order; sorted again in case one was not.
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    let kept = Kept(kept.into_iter().map(|(key, text)| (key, slice_of(json, text))).collect());
    Ok((obj, entries, kept))
}

/// `text`, which was read out of `json`, as a slice of it (a copy if it somehow is not).
fn slice_of(json: &Bytes, text: &RawValue) -> EntryText {
    let text = text.get().as_bytes();
    let start = (text.as_ptr() as usize).wrapping_sub(json.as_ptr() as usize);
    match start.checked_add(text.len()) {
        Some(end) if end <= json.len() => EntryText::new(json.slice(start..end)),
        _ => EntryText::new(Bytes::copy_from_slice(text)),
    }
}

/// Where in the object [`Level`] reads.
#[derive(Clone, Copy)]
enum At {
    /// The top; `for_status`: keeping what a status write does not read as text.
    Top {
        for_status: bool,
    },
    Metadata,
}

/// One level of the object as [`lean`] reads it: at the top, `metadata` is read as the
/// next level (and for a status write, the fields it does not read are kept as text); in
/// `metadata`, `managedFields` is kept as text; everything else is a value.
struct Level<'t, 'de> {
    texts: &'t mut Texts<'de>,
    at: At,
}

impl<'de> DeserializeSeed<'de> for Level<'_, 'de> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Level<'_, 'de> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self.at {
            At::Metadata => "metadata as a map",
            At::Top { .. } => "an object",
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match (self.at, key.as_str()) {
                (At::Metadata, "managedFields") => self.texts.managed = map.next_value()?,
                (At::Top { .. }, "metadata") => {
                    let value = map.next_value_seed(Level { texts: &mut *self.texts, at: At::Metadata })?;
                    out.insert(key, value);
                }
                (At::Top { for_status: true }, field) if !STATUS_WRITE_READS.contains(&field) => {
                    let text: &RawValue = map.next_value()?;
                    self.texts.kept.push((key, text));
                }
                _ => {
                    let value = map.next_value()?;
                    out.insert(key, value);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(v: &Value) -> Stored {
        Stored { revision: 7, json: bytes::Bytes::from(serde_json::to_vec(v).expect("JSON")) }
    }

    #[test]
    fn a_lean_read_keeps_managed_fields_out_of_the_tree() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "c", "managedFields": [
                             {"manager": "a", "fieldsV1": {"f:data": {"f:x": {}}}},
                             {"manager": "b", "fieldsV1": {"f:data": {"f:y": {}}}}]},
                         "data": {"x": "1", "y": "2"}});
        let read = stored(&obj);
        let current = Current::read(&read, Read::Lean).expect("reads");
        let texts = current.managed.as_ref().map(StoredEntries::entries).unwrap_or_default();
        let within = read.json.as_ptr_range();
        assert!(texts.iter().all(|t| within.contains(&t.as_str().as_ptr())), "slices of what was stored, not copies");
        assert_eq!(
            texts.iter().map(EntryText::as_str).collect::<Vec<_>>(),
            [
                r#"{"fieldsV1":{"f:data":{"f:x":{}}},"manager":"a"}"#,
                r#"{"fieldsV1":{"f:data":{"f:y":{}}},"manager":"b"}"#
            ]
        );
        assert_eq!(current.obj["metadata"], json!({"name": "c", "resourceVersion": "7"}));
        assert_eq!(current.obj["data"], obj["data"]);
        assert_eq!(current.managed.as_ref().map(StoredEntries::len), Some(2));
        let mut whole = obj.clone();
        whole["metadata"]["resourceVersion"] = json!("7");
        assert_eq!(current.into_whole(), whole);
        let read_whole = Current::read(&stored(&obj), Read::Whole).expect("reads");
        assert!(read_whole.managed.is_none());
        assert_eq!(read_whole.obj, whole);
    }

    #[test]
    fn a_read_for_a_status_write_keeps_the_fields_it_does_not_read_as_text() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "d", "labels": {"a": "b"},
                                      "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]},
                         "aaa": [1, {"x": null}],
                         "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}]}}},
                         "status": {"replicas": 1},
                         "zzz": "last"});
        let read = stored(&obj);
        let current = Current::read(&read, Read::Status).expect("reads");
        assert_eq!(
            current.obj,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "d", "labels": {"a": "b"}, "resourceVersion": "7"},
                   "status": {"replicas": 1}})
        );
        let kept: Vec<(&str, &str)> = current.kept.fields().iter().map(|(k, t)| (k.as_str(), t.as_str())).collect();
        assert_eq!(
            kept,
            [
                ("aaa", r#"[1,{"x":null}]"#),
                ("spec", r#"{"replicas":2,"template":{"spec":{"containers":[{"name":"c"}]}}}"#),
                ("zzz", r#""last""#)
            ]
        );
        let within = read.json.as_ptr_range();
        assert!(
            current.kept.fields().iter().all(|(_, t)| within.contains(&t.as_str().as_ptr())),
            "slices of what was stored, not copies"
        );
        assert_eq!(current.managed.as_ref().map(StoredEntries::len), Some(1));
        let mut whole = obj.clone();
        whole["metadata"]["resourceVersion"] = json!("7");
        assert_eq!(current.into_whole(), whole);
        // The other reads keep nothing.
        for read_as in [Read::Whole, Read::Lean] {
            assert!(Current::read(&read, read_as).expect("reads").kept.fields().is_empty(), "{read_as:?}");
        }
    }

    #[test]
    fn what_a_lean_read_cannot_split_is_read_whole() {
        let cases = [
            ("no managedFields", json!({"metadata": {"name": "c"}, "data": {}}), false),
            ("managedFields null", json!({"metadata": {"name": "c", "managedFields": null}}), false),
            ("managedFields not a list", json!({"metadata": {"name": "c", "managedFields": "x"}}), false),
            ("metadata not a map", json!({"metadata": "c"}), false),
            ("a list", json!({"metadata": {"name": "c", "managedFields": [{"manager": "a"}]}}), true),
        ];
        for ((what, obj, lean), read_as) in cases.into_iter().flat_map(|c| [(c.clone(), Read::Lean), (c, Read::Status)])
        {
            let current = Current::read(&stored(&obj), read_as).expect(what);
            assert_eq!(current.managed.is_some(), lean, "{what}");
            let mut whole = obj.clone();
            if let Some(m) = whole.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("resourceVersion".into(), json!("7"));
                if m.get("managedFields") == Some(&Value::Null) {
                    m.remove("managedFields");
                }
            }
            assert_eq!(current.into_whole(), whole, "{what}");
        }
    }
}
