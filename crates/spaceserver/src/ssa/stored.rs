//! `managedFields` kept as the text it was stored as.
//!
//! A write reaches few of an object's entries: a status write, only its own writer's. The
//! others are written back as they were stored, and reading them into trees of values only
//! to write them out again was about half of each write's JSON work (`managedFields` is
//! about half of a simulated cluster's Deployment). So a write may read the stored object
//! without its list ([`StoredEntries`], each entry as text), decode only the entries it
//! reaches, and write the rest back as the same text ([`ManagedList`]).

use std::borrow::Cow;

use bytes::Bytes;
use serde::ser::{Error as _, Serialize, SerializeSeq, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// One stored entry's JSON text: a slice of the stored object's bytes, not a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryText(Bytes);

impl EntryText {
    /// `text` is one JSON value, as the stored object holds it.
    pub fn new(text: Bytes) -> Self {
        Self(text)
    }

    /// The text; a text that is not UTF-8 (none is: it was read out of a string) reads as
    /// empty, which no JSON reader accepts.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The entry as a tree. The text was read as valid JSON when the object was read, so
    /// this cannot fail but for nesting beyond the parser's limit, which an entry the
    /// server wrote never has (`null` then).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.as_str()).unwrap_or(Value::Null)
    }
}

impl From<String> for EntryText {
    fn from(text: String) -> Self {
        Self(Bytes::from(text))
    }
}

impl Serialize for EntryText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Borrowed, not copied: checked as one JSON value and written as it is.
        let raw: &RawValue = serde_json::from_str(self.as_str()).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// A stored object's `metadata.managedFields`: each entry as its JSON text.
#[derive(Clone, Debug, Default)]
pub struct StoredEntries(Vec<EntryText>);

impl StoredEntries {
    pub fn new(entries: Vec<EntryText>) -> Self {
        Self(entries)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn entries(&self) -> &[EntryText] {
        &self.0
    }

    /// The list as a tree of values, as it reads in the whole object.
    pub fn to_value(&self) -> Value {
        Value::Array(self.0.iter().map(EntryText::to_value).collect())
    }
}

/// One entry of the list a write makes: decoded and written anew, or as stored.
#[derive(Clone, Debug)]
pub enum EntryJson {
    Tree(Value),
    Text(EntryText),
}

impl EntryJson {
    /// The entry as a tree of values.
    pub fn to_value(&self) -> Cow<'_, Value> {
        match self {
            Self::Tree(v) => Cow::Borrowed(v),
            Self::Text(t) => Cow::Owned(t.to_value()),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Self::Tree(v) => v,
            Self::Text(t) => t.to_value(),
        }
    }
}

impl Serialize for EntryJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Tree(v) => v.serialize(serializer),
            Self::Text(t) => t.serialize(serializer),
        }
    }
}

/// The `managedFields` list a write makes, in the order it is written.
#[derive(Clone, Debug, Default)]
pub struct ManagedList(Vec<EntryJson>);

impl ManagedList {
    pub fn new(entries: Vec<EntryJson>) -> Self {
        Self(entries)
    }

    /// The stored list, unchanged.
    pub fn stored(stored: &StoredEntries) -> Self {
        Self(stored.0.iter().cloned().map(EntryJson::Text).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The list as a tree of values (`None`: empty, no list).
    pub fn into_value(self) -> Option<Value> {
        (!self.0.is_empty()).then(|| Value::Array(self.0.into_iter().map(EntryJson::into_value).collect()))
    }

    /// Whether this list is `stored` but for the entries' times: a write that makes it
    /// stores nothing new (see `api::object::is_no_op`).
    pub fn same_but_times(&self, stored: &StoredEntries) -> bool {
        self.0.len() == stored.0.len()
            && self.0.iter().zip(&stored.0).all(|(mine, theirs)| match mine {
                EntryJson::Text(t) => t == theirs || same_text_but_time(t, theirs),
                EntryJson::Tree(v) => same_but_time(v, &theirs.to_value()),
            })
    }
}

/// An entry's fields as their text, `time` apart. Only the fields an entry has: one with
/// any other does not read as this, and then compares as different.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Header<'a> {
    #[serde(borrow)]
    manager: Option<&'a RawValue>,
    #[serde(borrow)]
    operation: Option<&'a RawValue>,
    #[serde(borrow)]
    api_version: Option<&'a RawValue>,
    #[serde(borrow)]
    subresource: Option<&'a RawValue>,
    #[serde(borrow)]
    fields_type: Option<&'a RawValue>,
    #[serde(borrow, rename = "fieldsV1")]
    fields_v1: Option<&'a RawValue>,
    #[serde(borrow, rename = "time")]
    _time: Option<&'a RawValue>,
}

impl<'a> Header<'a> {
    fn parts(self) -> [Option<&'a str>; 6] {
        [self.manager, self.operation, self.api_version, self.subresource, self.fields_type, self.fields_v1]
            .map(|raw| raw.map(RawValue::get))
    }
}

/// Whether two entries' texts differ only in `time`. Entries are written in one canonical
/// form (sorted keys, no whitespace), so equal fields are equal text.
fn same_text_but_time(a: &EntryText, b: &EntryText) -> bool {
    fn read(t: &EntryText) -> Option<[Option<&str>; 6]> {
        serde_json::from_str::<Header<'_>>(t.as_str()).ok().map(Header::parts)
    }
    matches!((read(a), read(b)), (Some(x), Some(y)) if x == y)
}

fn same_but_time(a: &Value, b: &Value) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let rest = |m: &serde_json::Map<String, Value>| m.iter().filter(|(k, _)| *k != "time").count();
            rest(a) == rest(b) && a.iter().filter(|(k, _)| *k != "time").all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

impl Serialize for ManagedList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for entry in &self.0 {
            seq.serialize_element(entry)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: Value) -> EntryText {
        EntryText::from(v.to_string())
    }

    #[test]
    fn a_list_serializes_trees_and_texts_alike() {
        let list = ManagedList::new(vec![
            EntryJson::Text(text(json!({"manager": "a", "fieldsV1": {"f:spec": {}}}))),
            EntryJson::Tree(json!({"manager": "b", "fieldsV1": {"f:status": {}}})),
        ]);
        let written: Value = serde_json::from_slice(&serde_json::to_vec(&list).expect("encodes")).expect("JSON");
        assert_eq!(
            written,
            json!([{"manager": "a", "fieldsV1": {"f:spec": {}}}, {"manager": "b", "fieldsV1": {"f:status": {}}}])
        );
        assert_eq!(list.into_value(), Some(written));
        assert_eq!(ManagedList::default().into_value(), None);
    }

    #[test]
    fn same_but_times_table() {
        let stored = StoredEntries::new(vec![
            text(json!({"manager": "a", "time": "t1", "fieldsV1": {"f:spec": {}}})),
            text(json!({"manager": "b", "time": "t1", "fieldsV1": {"f:status": {}}})),
        ]);
        let tree = |manager: &str, time: &str, field: &str| {
            EntryJson::Tree(json!({"manager": manager, "time": time, "fieldsV1": {field: {}}}))
        };
        let as_stored = || EntryJson::Text(stored.entries()[0].clone());
        let written = |manager: &str, time: &str, field: &str| {
            EntryJson::Text(text(json!({"manager": manager, "time": time, "fieldsV1": {field: {}}})))
        };
        let odd = || EntryJson::Text(text(json!({"manager": "b", "time": "t1", "fieldsV1": {"f:status": {}}, "x": 1})));
        let cases = [
            ("as stored", vec![as_stored(), EntryJson::Text(stored.entries()[1].clone())], true),
            ("a decoded entry, its time changed", vec![as_stored(), tree("b", "t2", "f:status")], true),
            ("a decoded entry, its set changed", vec![as_stored(), tree("b", "t2", "f:spec")], false),
            ("an entry written as text, its time changed", vec![as_stored(), written("b", "t2", "f:status")], true),
            ("an entry written as text, its set changed", vec![as_stored(), written("b", "t1", "f:spec")], false),
            ("an entry written as text, another manager", vec![as_stored(), written("c", "t1", "f:status")], false),
            ("a text with a field entries do not have", vec![as_stored(), odd()], false),
            ("an entry fewer", vec![as_stored()], false),
            ("another entry's text", vec![as_stored(), as_stored()], false),
        ];
        for (what, entries, want) in cases {
            assert_eq!(ManagedList::new(entries).same_but_times(&stored), want, "{what}");
        }
        assert!(ManagedList::stored(&stored).same_but_times(&stored));
        assert_eq!(stored.to_value()[1]["manager"], "b");
    }
}
