//! The stored object as a write reads it: one tree, or (read lean) a tree without
//! `metadata.managedFields`, whose entries are kept as the text they were stored as.
//!
//! Most writes reach one or two of an object's `managedFields` entries (a status write,
//! only its own writer's), and `managedFields` is about half of a typical stored object.
//! A write that records its fields with [`crate::ssa::update_tracked`] or
//! [`crate::ssa::apply_tracked`] therefore reads the object lean: it decodes only the
//! entries it reaches, and writes the rest back as stored (see `ssa::stored`).

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
}

/// The stored object as a write reads it.
#[derive(Debug)]
pub(super) struct Current {
    /// The object, with its revision as `resourceVersion`; read lean, without
    /// `metadata.managedFields`.
    pub obj: Value,
    /// Read lean: the stored `managedFields` entries (`None`: the object has none, or was
    /// read whole).
    pub managed: Option<StoredEntries>,
}

impl Current {
    pub fn read(stored: &Stored, read: Read) -> Result<Self> {
        if read == Read::Lean
            && let Ok((mut obj, managed)) = lean(&stored.json)
        {
            super::object::set_revision(&mut obj, stored.revision);
            return Ok(Self { obj, managed });
        }
        // Whole, or not an object lean reading can split (no writer stores one).
        Ok(Self { obj: super::crud::parse_stored(stored)?, managed: None })
    }

    /// The whole object, its entries put back.
    pub fn into_whole(self) -> Value {
        let Self { mut obj, managed } = self;
        if let Some(entries) = managed {
            ssa::write_list(&mut obj, ssa::ManagedList::stored(&entries));
        }
        obj
    }
}

/// Reads a stored object's JSON into a tree, keeping `metadata.managedFields` out of it as
/// one text per entry, each a slice of `json` (not a copy). Fails on anything but an
/// object whose `metadata` (if any) is a map and whose `managedFields` (if any) is a list.
fn lean(json: &Bytes) -> serde_json::Result<(Value, Option<StoredEntries>)> {
    let mut managed: Option<Vec<&RawValue>> = None;
    let mut de = serde_json::Deserializer::from_slice(json);
    let obj = Level { managed: &mut managed, metadata: false }.deserialize(&mut de)?;
    de.end()?;
    let entries = managed.map(|texts| StoredEntries::new(texts.into_iter().map(|t| slice_of(json, t)).collect()));
    Ok((obj, entries))
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

/// One level of the object as [`lean`] reads it: at the top, `metadata` is read as the
/// next level; in `metadata`, `managedFields` is kept as text; everything else is a value.
struct Level<'m, 'de> {
    managed: &'m mut Option<Vec<&'de RawValue>>,
    metadata: bool,
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
        f.write_str(if self.metadata { "metadata as a map" } else { "an object" })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match (self.metadata, key.as_str()) {
                (true, "managedFields") => *self.managed = map.next_value()?,
                (false, "metadata") => {
                    let value = map.next_value_seed(Level { managed: &mut *self.managed, metadata: true })?;
                    out.insert(key, value);
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
    fn what_a_lean_read_cannot_split_is_read_whole() {
        let cases = [
            ("no managedFields", json!({"metadata": {"name": "c"}, "data": {}}), false),
            ("managedFields null", json!({"metadata": {"name": "c", "managedFields": null}}), false),
            ("managedFields not a list", json!({"metadata": {"name": "c", "managedFields": "x"}}), false),
            ("metadata not a map", json!({"metadata": "c"}), false),
            ("a list", json!({"metadata": {"name": "c", "managedFields": [{"manager": "a"}]}}), true),
        ];
        for (what, obj, lean) in cases {
            let current = Current::read(&stored(&obj), Read::Lean).expect(what);
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
