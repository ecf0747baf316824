//! `metadata.managedFields`: reading and writing the entries, one per manager.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::fieldset::{
    FieldSet, FieldsV1Error, PathElement, from_fields_v1, read_fields_v1_text, write_fields_v1_text,
};
use super::stored::{EntryJson, EntryText, ManagedList, StoredEntries};

/// How a manager last wrote its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply: the set is exactly what the manager's configuration sets.
    Apply,
    /// Create, update or non-apply patch: the set is what the manager changed.
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// The most `Update` entries an object keeps; older ones are folded into `ancient-changes`, as
/// kube-apiserver does, so that a stream of writers with changing names cannot grow
/// `managedFields` without bound.
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager that the oldest `Update` entries are folded into past the cap.
pub const ANCIENT_CHANGES_MANAGER: &str = "ancient-changes";

/// The manager that owns an object's fields when it is first applied to after being written
/// without field tracking.
pub const BEFORE_FIRST_APPLY_MANAGER: &str = "before-first-apply";

/// One element of `metadata.managedFields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl ManagerEntry {
    /// Whether two entries are the same manager in Kubernetes' sense: name, operation and
    /// subresource, plus the API version for `Update` (an applier keeps one entry whichever
    /// version it applies with).
    pub fn same_manager(&self, other: &ManagerEntry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// The entry as a tree of values: [`ManagerEntry::to_text`] read back.
    pub fn to_json(&self) -> Value {
        self.to_text().to_value()
    }

    /// The entry as the JSON text a write stores: keys in byte order and no whitespace, as
    /// serde_json writes a map (`fieldsV1` by [`write_fields_v1_text`]).
    pub fn to_text(&self) -> EntryText {
        let mut out = Vec::with_capacity(256);
        let field = |out: &mut Vec<u8>, name: &str, value: &str| {
            out.extend_from_slice(if out.len() == 1 { b"\"" } else { b",\"" });
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            // Writing a string into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, value);
        };
        out.push(b'{');
        if !self.api_version.is_empty() {
            field(&mut out, "apiVersion", &self.api_version);
        }
        field(&mut out, "fieldsType", "FieldsV1");
        out.extend_from_slice(br#","fieldsV1":"#);
        write_fields_v1_text(&self.fields, &mut out);
        field(&mut out, "manager", &self.manager);
        field(&mut out, "operation", self.operation.as_str());
        if let Some(sub) = &self.subresource {
            field(&mut out, "subresource", sub);
        }
        if let Some(time) = &self.time {
            field(&mut out, "time", time);
        }
        out.push(b'}');
        EntryText::new(out.into())
    }

    /// [`ManagerEntry::from_json`] of a stored entry's text, read without building its tree
    /// (the tree is read only to say what is wrong with an unreadable entry).
    pub fn from_text(text: &EntryText) -> Result<Self, ManagedFieldsError> {
        let fast = || -> Option<Result<Self, ManagedFieldsError>> {
            let entry: Fields<'_> = serde_json::from_str(text.as_str()).ok()?;
            let fields = match entry.fields_v1 {
                None => FieldSet::new(),
                Some(raw) if raw.get() == "null" => FieldSet::new(),
                Some(raw) => read_fields_v1_text(raw.get())?,
            };
            let header = ManagerEntry::header_with(|name| entry.field(name), fields.is_empty());
            Some(header.map(|header| Self { fields, ..header }))
        };
        fast().unwrap_or_else(|| Self::from_json(&text.to_value()))
    }

    /// Reads one entry. An entry with neither an operation nor fields (the `{}` that clients
    /// send to reset tracking) reads as an empty `Update` entry, which the next write drops.
    pub fn from_json(entry: &Value) -> Result<Self, ManagedFieldsError> {
        let Value::Object(map) = entry else { return Err(ManagedFieldsError::NotAnObject) };
        let fields = match map.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(f) => from_fields_v1(f)?,
        };
        let header = Self::header(map, fields.is_empty())?;
        Ok(Self { fields, ..header })
    }

    /// Everything of an entry but its set (left empty). `fields_empty` says whether the set
    /// is: an entry without an operation is valid only then.
    fn header(map: &Map<String, Value>, fields_empty: bool) -> Result<Self, ManagedFieldsError> {
        Self::header_with(|name| map.get(name), fields_empty)
    }

    /// [`ManagerEntry::header`], each field looked up by `field`.
    fn header_with<'v>(
        field: impl Fn(&str) -> Option<&'v Value>,
        fields_empty: bool,
    ) -> Result<Self, ManagedFieldsError> {
        let string = |name: &str| -> Result<Option<String>, ManagedFieldsError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ManagedFieldsError::NotAString(name.to_string())),
            }
        };
        match string("fieldsType")?.as_deref() {
            None | Some("") | Some("FieldsV1") => {}
            Some(other) => return Err(ManagedFieldsError::FieldsType(other.to_string())),
        }
        let operation = match string("operation")?.as_deref() {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            None | Some("") if fields_empty => Operation::Update,
            other => return Err(ManagedFieldsError::Operation(other.unwrap_or_default().to_string())),
        };
        Ok(Self {
            manager: string("manager")?.unwrap_or_default(),
            operation,
            api_version: string("apiVersion")?.unwrap_or_default(),
            time: string("time")?,
            subresource: string("subresource")?.filter(|s| !s.is_empty()),
            fields: FieldSet::new(),
        })
    }

    /// The order kube-apiserver writes entries in: operation, then time, manager, API
    /// version, subresource.
    fn order(&self) -> (Operation, &Option<String>, &str, &str, &Option<String>) {
        (self.operation, &self.time, &self.manager, &self.api_version, &self.subresource)
    }
}

/// A stored entry left as it was stored: a write that changes nothing under the top-level
/// fields its set holds neither decodes nor encodes it. A status write then costs the
/// status writer's entry, not the spec's, which is most of an applied object's tracking.
#[derive(Clone, Debug)]
pub struct Undecoded {
    /// The entry with an empty set.
    header: ManagerEntry,
    /// The stored entry, `fieldsV1` and all.
    json: EntryJson,
}

/// Where a write finds the stored entries: in the stored object's tree, or kept as text
/// ([`StoredEntries`]) by a read that left them out of the tree.
#[derive(Clone, Copy, Debug)]
pub enum Stored<'a> {
    /// The object has no list (absent or null).
    None,
    Tree(&'a [Value]),
    Text(&'a StoredEntries),
    /// `managedFields` is there but not a list.
    NotAList,
}

impl<'a> Stored<'a> {
    /// The entries in `obj`'s own tree.
    pub fn of(obj: &'a Value) -> Self {
        match obj.get("metadata").and_then(|m| m.get("managedFields")) {
            None | Some(Value::Null) => Self::None,
            Some(Value::Array(items)) => Self::Tree(items),
            Some(_) => Self::NotAList,
        }
    }

    /// Whether `list` (a client's, or what a patch left in the written object) is this list.
    pub(super) fn is(self, list: &Value) -> bool {
        match (self, list) {
            (Self::Tree(items), Value::Array(other)) => items == other.as_slice(),
            (Self::Text(entries), Value::Array(other)) => {
                entries.len() == other.len()
                    && entries.entries().iter().zip(other).all(|(text, v)| text.to_value() == *v)
            }
            _ => false,
        }
    }
}

/// Which stored entries a write reaches: those holding a top-level element (`f:status`, …)
/// the write may change or remove. `me`'s own entry is always reached.
pub struct Reach<'a> {
    /// The writer's entry (its set is not read).
    pub me: &'a ManagerEntry,
    /// The fields the write changes or removes, or for an apply the fields it configures.
    pub touched: &'a FieldSet,
    /// Whether the write also removes fields of `me`'s stored set (an apply prunes what it
    /// applied last and no longer applies), so that the top-level elements of that set are
    /// reached too.
    pub prunes_mine: bool,
}

/// Reads an object's stored entries as [`decode_managed_fields`] does, but leaves
/// undecoded each entry that `reach` does not reach. Entries naming one manager twice are
/// all decoded, to be merged.
///
/// `carried` is the written object's own list when it equals the stored one (a patch's
/// result, a status write): undecoded entries are moved out of it instead of copied from
/// the stored object, which left their equal copies in the written object to be dropped.
pub fn decode_touched(
    stored: Stored<'_>,
    reach: &Reach<'_>,
    carried: Option<&mut [Value]>,
) -> Result<(Vec<ManagerEntry>, Vec<Undecoded>), ManagedFieldsError> {
    let items: Vec<Item<'_>> = match stored {
        Stored::None => return Ok((Vec::new(), Vec::new())),
        Stored::NotAList => return Err(ManagedFieldsError::NotAList),
        Stored::Tree(items) => items.iter().map(Item::tree).collect::<Result<_, _>>()?,
        Stored::Text(entries) => entries.entries().iter().map(Item::text).collect::<Result<_, _>>()?,
    };
    // Empty or malformed sets: all decoded, to be dropped or refused as before.
    if items.iter().any(|i| i.top.is_none()) {
        return decode_stored(stored).map(|all| (all, Vec::new()));
    }
    let mut keys: Vec<String> = reach.touched.top().map(PathElement::to_fields_v1_key).collect();
    if reach.prunes_mine {
        for item in items.iter().filter(|i| i.header.same_manager(reach.me)) {
            keys.extend(item.top.iter().flatten().map(|k| k.to_string()));
        }
    }
    let twice = items.iter().enumerate().any(|(i, a)| items[..i].iter().any(|b| a.header.same_manager(&b.header)));
    if twice {
        return decode_stored(stored).map(|all| (all, Vec::new()));
    }
    let (mut decoded, mut undecoded) = (Vec::new(), Vec::new());
    let mut carried = carried.filter(|c| c.len() == items.len()).map(|c| c.iter_mut());
    for item in items {
        let twin = carried.as_mut().and_then(Iterator::next);
        let top = item.top.as_deref().unwrap_or_default();
        if item.header.same_manager(reach.me) || keys.iter().any(|k| top.iter().any(|t| t == k)) {
            decoded.push(match item.source {
                EntrySource::Tree(v) => ManagerEntry::from_json(&v)?,
                EntrySource::Text(t) => ManagerEntry::from_text(t)?,
            });
        } else {
            let json = match (twin, item.source) {
                (Some(twin), _) => EntryJson::Tree(std::mem::take(twin)),
                (None, EntrySource::Tree(v)) => EntryJson::Tree(v.into_owned()),
                (None, EntrySource::Text(t)) => EntryJson::Text(t.clone()),
            };
            undecoded.push(Undecoded { header: item.header, json });
        }
    }
    Ok((decoded, undecoded))
}

/// A stored entry as [`decode_touched`] reads it: its header, the top-level keys of its
/// set (`None`: empty or not a map), and where it is.
struct Item<'a> {
    header: ManagerEntry,
    top: Option<Vec<Cow<'a, str>>>,
    source: EntrySource<'a>,
}

/// [`EntryJson`], borrowed from the stored object.
enum EntrySource<'a> {
    Tree(Cow<'a, Value>),
    Text(&'a EntryText),
}

impl<'a> Item<'a> {
    fn tree(item: &'a Value) -> Result<Self, ManagedFieldsError> {
        let Value::Object(map) = item else { return Err(ManagedFieldsError::NotAnObject) };
        let top = match map.get("fieldsV1") {
            Some(Value::Object(f)) if !f.is_empty() => Some(f.keys().map(|k| Cow::Borrowed(k.as_str())).collect()),
            _ => None,
        };
        Ok(Self { header: ManagerEntry::header(map, false)?, top, source: EntrySource::Tree(Cow::Borrowed(item)) })
    }

    /// Reads the header and the set's top-level keys out of the text, the set itself
    /// skipped over.
    fn text(text: &'a EntryText) -> Result<Self, ManagedFieldsError> {
        let entry: Fields<'_> = serde_json::from_str(text.as_str()).map_err(|_| ManagedFieldsError::NotAnObject)?;
        let top = entry.fields_v1.and_then(|f| {
            let keys: BTreeMap<String, IgnoredAny> = serde_json::from_str(f.get()).ok()?;
            (!keys.is_empty()).then(|| keys.into_keys().map(Cow::Owned).collect())
        });
        Ok(Self {
            header: ManagerEntry::header_with(|name| entry.field(name), false)?,
            top,
            source: EntrySource::Text(text),
        })
    }
}

/// A stored entry's header fields, and its set as text (skipped over, not read).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields<'a> {
    manager: Option<Value>,
    operation: Option<Value>,
    api_version: Option<Value>,
    time: Option<Value>,
    subresource: Option<Value>,
    fields_type: Option<Value>,
    #[serde(borrow, rename = "fieldsV1")]
    fields_v1: Option<&'a RawValue>,
}

impl Fields<'_> {
    /// A header field by its name in the entry.
    fn field(&self, name: &str) -> Option<&Value> {
        match name {
            "manager" => self.manager.as_ref(),
            "operation" => self.operation.as_ref(),
            "apiVersion" => self.api_version.as_ref(),
            "time" => self.time.as_ref(),
            "subresource" => self.subresource.as_ref(),
            "fieldsType" => self.fields_type.as_ref(),
            _ => None,
        }
    }
}

/// Errors reading `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagedFieldsError {
    #[error("managedFields must be a list")]
    NotAList,
    #[error("a managedFields entry must be an object")]
    NotAnObject,
    #[error("managedFields entry field {0:?} must be a string")]
    NotAString(String),
    #[error("managedFields operation must be `Apply` or `Update`, not {0:?}")]
    Operation(String),
    #[error("managedFields fieldsType must be `FieldsV1`, not {0:?}")]
    FieldsType(String),
    #[error(transparent)]
    FieldsV1(#[from] FieldsV1Error),
}

/// Reads an object's `metadata.managedFields` (absent or null reads as no entries). Entries
/// naming the same manager twice are merged.
pub fn decode_managed_fields(obj: &Value) -> Result<Vec<ManagerEntry>, ManagedFieldsError> {
    decode_list(obj.get("metadata").and_then(|m| m.get("managedFields")))
}

/// [`decode_managed_fields`] of a `managedFields` list taken out of its object.
pub fn decode_list(list: Option<&Value>) -> Result<Vec<ManagerEntry>, ManagedFieldsError> {
    match list {
        None | Some(Value::Null) => decode_stored(Stored::None),
        Some(Value::Array(items)) => decode_stored(Stored::Tree(items)),
        Some(_) => decode_stored(Stored::NotAList),
    }
}

/// Every stored entry, decoded.
fn decode_stored(stored: Stored<'_>) -> Result<Vec<ManagerEntry>, ManagedFieldsError> {
    let entries: Vec<ManagerEntry> = match stored {
        Stored::None => Vec::new(),
        Stored::NotAList => return Err(ManagedFieldsError::NotAList),
        Stored::Tree(items) => items.iter().map(ManagerEntry::from_json).collect::<Result<_, _>>()?,
        Stored::Text(entries) => entries.entries().iter().map(ManagerEntry::from_text).collect::<Result<_, _>>()?,
    };
    let mut out: Vec<ManagerEntry> = Vec::with_capacity(entries.len());
    for entry in entries {
        match out.iter_mut().find(|e| e.same_manager(&entry)) {
            Some(existing) => {
                existing.fields.absorb(&entry.fields);
                existing.time = existing.time.take().max(entry.time);
            }
            None => out.push(entry),
        }
    }
    Ok(out)
}

/// Drops empty entries, folds old `Update` entries past the cap, sorts as kube-apiserver does
/// (operation, then time, manager, API version, subresource) and writes the result into
/// `obj.metadata.managedFields` (removing the field when nothing is tracked).
pub fn encode_managed_fields(obj: &mut Value, entries: Vec<ManagerEntry>) {
    write_list(obj, encode_list(entries, Vec::new()))
}

/// Writes `list` into `obj.metadata.managedFields` (removing the field when it is empty).
pub fn write_list(obj: &mut Value, list: ManagedList) {
    let Value::Object(root) = obj else { return };
    let meta = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    match list.into_value() {
        None => meta.remove("managedFields"),
        Some(list) => meta.insert("managedFields".into(), list),
    };
}

/// The list [`encode_managed_fields`] writes, with the entries [`decode_touched`] left as
/// they were stored written back as they were: empty entries dropped, old `Update` entries
/// folded past the cap, sorted as kube-apiserver sorts them (operation, then time, manager,
/// API version, subresource).
pub fn encode_list(mut entries: Vec<ManagerEntry>, mut undecoded: Vec<Undecoded>) -> ManagedList {
    entries.retain(|e| !e.fields.is_empty());
    let updates = entries.iter().map(|e| &e.operation).chain(undecoded.iter().map(|u| &u.header.operation));
    if updates.filter(|op| **op == Operation::Update).count() > MAX_UPDATE_MANAGERS {
        // Folding merges sets: every entry is decoded for it (they were readable when stored).
        entries.extend(undecoded.drain(..).filter_map(|u| ManagerEntry::from_json(&u.json.to_value()).ok()));
    }
    cap_update_managers(&mut entries);
    let mut out: Vec<(ManagerEntry, EntryJson)> = entries
        .into_iter()
        .map(|e| {
            let json = EntryJson::Text(e.to_text());
            (e, json)
        })
        .collect();
    out.extend(undecoded.into_iter().map(|u| (u.header, u.json)));
    out.sort_by(|a, b| a.0.order().cmp(&b.0.order()));
    ManagedList::new(out.into_iter().map(|(_, json)| json).collect())
}

/// Folds the oldest `Update` entries into one `ancient-changes` entry per API version until at
/// most [`MAX_UPDATE_MANAGERS`] remain. Folding needs two entries of a version (the first
/// becomes the bucket, later ones merge into it), so a cap overrun made of all-different
/// versions stays as it is.
fn cap_update_managers(entries: &mut Vec<ManagerEntry>) {
    let count = |entries: &[ManagerEntry]| entries.iter().filter(|e| e.operation == Operation::Update).count();
    if count(entries) <= MAX_UPDATE_MANAGERS {
        return;
    }
    let mut order: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].operation == Operation::Update).collect();
    order.sort_by(|&a, &b| (&entries[a].time, &entries[a].manager).cmp(&(&entries[b].time, &entries[b].manager)));
    let mut remove = vec![false; entries.len()];
    let mut excess = count(entries) - MAX_UPDATE_MANAGERS;
    for (n, &i) in order.iter().enumerate() {
        if excess == 0 {
            break;
        }
        let version = entries[i].api_version.clone();
        let is_bucket = |e: &ManagerEntry| e.manager == ANCIENT_CHANGES_MANAGER && e.subresource.is_none();
        let bucket = (0..entries.len()).find(|&j| {
            !remove[j]
                && j != i
                && entries[j].operation == Operation::Update
                && entries[j].api_version == version
                && is_bucket(&entries[j])
        });
        match bucket {
            Some(b) => {
                let fields = std::mem::take(&mut entries[i].fields);
                entries[b].fields.absorb(&fields);
                entries[b].time = entries[i].time.clone().max(entries[b].time.take());
                remove[i] = true;
                excess -= 1;
            }
            None if !is_bucket(&entries[i]) => {
                // Becomes the bucket if a later entry of the same version will fold into it.
                let more = order[n + 1..].iter().any(|&j| entries[j].api_version == version);
                if more {
                    entries[i].manager = ANCIENT_CHANGES_MANAGER.to_string();
                    entries[i].subresource = None;
                }
            }
            None => {}
        }
    }
    let mut keep = remove.iter().map(|r| !r);
    entries.retain(|_| keep.next().unwrap_or(true));
}
