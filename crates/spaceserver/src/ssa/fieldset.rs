//! Field sets: the paths of an object one manager owns, and their `FieldsV1` wire form.
//!
//! A set is a trie of path elements. A node can be a *member* (the path itself is owned: a leaf,
//! a list element, an atomic list or map) and can also have children (paths below it that are
//! owned). `FieldsV1` writes a member without children as `{}` and marks a member that also has
//! children with a `"."` entry, which is why the trie keeps the two apart instead of treating every
//! prefix of a member as owned: owning `.spec.template.spec.containers[name="a"]` (the element) is
//! a different claim from owning only its `.image`.

use std::cmp::Ordering;
use std::fmt;

use compact_str::CompactString;
use serde_json::Value;

/// One step of a path into an object.
///
/// `Key` and `Value` hold *canonical JSON text* (object keys sorted, no whitespace) so that two
/// elements naming the same list item compare equal whatever order a client wrote the key fields
/// in. Build them with [`PathElement::key`] and [`PathElement::value`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of a map or struct: `f:<name>`.
    Field(CompactString),
    /// An element of a list of `type: map`, by its key fields: `k:{"name":"nginx"}`.
    Key(CompactString),
    /// An element of a list of `type: set`, by its value: `v:"example.com/finalizer"`.
    Value(CompactString),
    /// An element of an atomic list, by position: `i:0`. Kubernetes never writes these into
    /// `managedFields` (atomic lists are owned whole), but the wire format allows them.
    Index(usize),
}

impl PathElement {
    pub fn field(name: &str) -> Self {
        Self::Field(CompactString::new(name))
    }

    /// A list-map element identified by `fields` (key name and value; any order).
    ///
    /// A repeated name counts once, with its last value, as in a JSON map. Written as
    /// [`canonical_json`] writes the map of those fields, without making the map: every
    /// element of every keyed list read or written has one.
    pub fn key<'a>(fields: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut fields: Vec<(&str, &Value)> = fields.into_iter().collect();
        // Stable, so that of a repeated name the last comes last, and is kept.
        fields.sort_by(|a, b| a.0.cmp(b.0));
        fields.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                *earlier = *later;
            }
            same
        });
        let mut out = CompactString::default();
        out.push('{');
        for (i, (name, value)) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_name(name, &mut out);
            out.push(':');
            write_canonical(value, &mut out);
        }
        out.push('}');
        Self::Key(out)
    }

    /// A set element identified by its (scalar) value.
    pub fn value(value: &Value) -> Self {
        Self::Value(canonical_json(value))
    }

    /// The `FieldsV1` object key for this element.
    pub fn to_fields_v1_key(&self) -> String {
        let tagged = |tag: &str, text: &str| {
            let mut key = String::with_capacity(tag.len() + text.len());
            key.push_str(tag);
            key.push_str(text);
            key
        };
        match self {
            Self::Field(name) => tagged("f:", name),
            Self::Key(text) => tagged("k:", text),
            Self::Value(text) => tagged("v:", text),
            Self::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` object key (`f:…`, `k:…`, `v:…`, `i:…`), canonicalising JSON payloads.
    pub fn from_fields_v1_key(key: &str) -> Result<Self, FieldsV1Error> {
        let bad = |why: &str| FieldsV1Error::BadElement { element: key.to_string(), reason: why.to_string() };
        let (prefix, rest) = key.split_at_checked(2).ok_or_else(|| bad("too short"))?;
        match prefix {
            "f:" => Ok(Self::Field(CompactString::new(rest))),
            "k:" => match serde_json::from_str::<Value>(rest) {
                Ok(v @ Value::Object(_)) => Ok(Self::Key(canonical_json(&v))),
                Ok(_) => Err(bad("key of a list-map element must be a JSON object")),
                Err(e) => Err(bad(&e.to_string())),
            },
            "v:" => serde_json::from_str::<Value>(rest)
                .map(|v| Self::Value(canonical_json(&v)))
                .map_err(|e| bad(&e.to_string())),
            "i:" => rest.parse().map(Self::Index).map_err(|_| bad("index must be a non-negative integer")),
            _ => Err(bad("unknown prefix; expected f:, k:, v: or i:")),
        }
    }
}

/// Renders like structured-merge-diff does in conflict messages and errors: `.name`,
/// `[name="nginx"]`, `[containerPort=80,protocol="TCP"]`, `[=value]`, `[0]`. Clients (and
/// people's scripts) match on these strings, so the format is kept exactly.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, ".{name}"),
            Self::Key(text) => {
                let parts = match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(map)) => {
                        let mut fields: Vec<_> = map.iter().collect();
                        fields.sort_by(|a, b| a.0.cmp(b.0));
                        fields.iter().map(|(k, v)| format!("{k}={}", go_value_string(v))).collect::<Vec<_>>()
                    }
                    _ => vec![text.to_string()],
                };
                write!(f, "[{}]", parts.join(","))
            }
            Self::Value(text) => match serde_json::from_str::<Value>(text) {
                Ok(v) => write!(f, "[={}]", go_value_string(&v)),
                Err(_) => write!(f, "[={text}]"),
            },
            Self::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the object root, rendered as Kubernetes prints it in conflicts
/// (`.spec.template.spec.containers[name="nginx"].image`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<PathElement>);

impl FieldPath {
    /// Builds a path of plain field names: `FieldPath::fields(&["spec", "replicas"])`.
    pub fn fields(names: &[&str]) -> Self {
        Self(names.iter().map(|n| PathElement::field(n)).collect())
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|pe| write!(f, "{pe}"))
    }
}

/// A set of owned paths: a trie kept as one vector of entries per node, sorted by element.
///
/// Sets are built in element order (serde_json's maps iterate their keys sorted, list
/// elements are grouped in order, `fieldsV1` text is read in key order), so an entry is
/// nearly always appended; a lookup checks the last entry before searching. Before, each
/// node was a `BTreeSet` of members and a `BTreeMap` of children: two B-tree nodes, each
/// with room for eleven entries, for nodes that mostly hold one to three.
///
/// Invariant: entries are sorted, no element repeats, and every entry is a member or has
/// paths below it (so `is_empty` is cheap and two sets with the same paths are `==`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    entries: Vec<Entry>,
}

/// One element of a node: whether the path to it is a member, and the paths below it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    pe: PathElement,
    member: bool,
    below: FieldSet,
}

impl Entry {
    fn is_empty(&self) -> bool {
        !self.member && self.below.is_empty()
    }
}

/// Up to this many entries, one set's new elements are inserted into another, and its
/// paths taken out of another, one by one (a search and a move each); more are merged in
/// one pass.
const FEW: usize = 4;

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of member paths.
    pub fn len(&self) -> usize {
        self.entries.iter().map(|e| usize::from(e.member) + e.below.len()).sum()
    }

    /// Where `pe` is (`Ok`) or would go (`Err`). The last entry is looked at first: sets
    /// are built in element order.
    fn find(&self, pe: &PathElement) -> Result<usize, usize> {
        let Some(last) = self.entries.last() else { return Err(0) };
        match last.pe.cmp(pe) {
            Ordering::Less => Err(self.entries.len()),
            Ordering::Equal => Ok(self.entries.len() - 1),
            Ordering::Greater => self.entries.binary_search_by(|e| e.pe.cmp(pe)),
        }
    }

    fn get(&self, pe: &PathElement) -> Option<&Entry> {
        self.find(pe).ok().map(|i| &self.entries[i])
    }

    /// The entry of `pe`, made (neither a member nor with anything below, which the
    /// caller then changes) when there is none.
    fn entry(&mut self, pe: &PathElement) -> &mut Entry {
        let i = match self.find(pe) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, Entry { pe: pe.clone(), member: false, below: FieldSet::new() });
                i
            }
        };
        &mut self.entries[i]
    }

    /// Adds `path` as a member. The empty path (the object itself) is never a member, as in
    /// Kubernetes: nobody owns "the object".
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => self.entry(last).member = true,
            [first, rest @ ..] => self.entry(first).below.insert(rest),
        }
    }

    /// Adds `path` as a member with `below` as the paths under it: [`FieldSet::insert`] of a
    /// whole subtree at once. At the empty path (the object itself, never a member), adds
    /// `below`.
    pub(crate) fn add_at(&mut self, path: &[PathElement], below: FieldSet) {
        match path {
            [] => self.merge(below),
            [last] => self.add(last.clone(), true, below),
            [first, rest @ ..] => self.entry(first).below.add_at(rest, below),
        }
    }

    /// Whether `path` is a member (not merely a prefix of one).
    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.is_member(last),
            [first, rest @ ..] => self.get(first).is_some_and(|e| e.below.contains(rest)),
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.absorb(other);
        out
    }

    /// Adds the paths of `other` to `self`: [`FieldSet::union`] in place. What both hold
    /// is joined where it is; only elements `self` lacks are copied, and put in at once.
    pub fn absorb(&mut self, other: &FieldSet) {
        if self.entries.is_empty() {
            self.entries.clone_from(&other.entries);
            return;
        }
        let mut new = Vec::new();
        let mut at = 0;
        for theirs in &other.entries {
            at += self.entries[at..].partition_point(|e| e.pe < theirs.pe);
            match self.entries.get_mut(at) {
                Some(mine) if mine.pe == theirs.pe => {
                    mine.member |= theirs.member;
                    mine.below.absorb(&theirs.below);
                }
                _ => new.push(theirs.clone()),
            }
        }
        self.put_in(new);
    }

    /// Adds the paths of `other` to `self`, taking them over: [`FieldSet::absorb`] without
    /// copies.
    fn merge(&mut self, other: FieldSet) {
        if self.entries.is_empty() {
            *self = other;
            return;
        }
        let mut new = Vec::new();
        let mut at = 0;
        for theirs in other.entries {
            at += self.entries[at..].partition_point(|e| e.pe < theirs.pe);
            match self.entries.get_mut(at) {
                Some(mine) if mine.pe == theirs.pe => {
                    mine.member |= theirs.member;
                    mine.below.merge(theirs.below);
                }
                _ => new.push(theirs),
            }
        }
        self.put_in(new);
    }

    /// Puts in `new`, entries in element order of elements `self` does not hold: appended
    /// when they come after its own (as when a set is built), inserted when they are few,
    /// else merged with its own in one pass.
    fn put_in(&mut self, new: Vec<Entry>) {
        if self.entries.last().is_none_or(|last| new.first().is_none_or(|first| last.pe < first.pe)) {
            self.entries.extend(new);
        } else if new.len() <= FEW {
            for e in new {
                let (Ok(i) | Err(i)) = self.find(&e.pe);
                self.entries.insert(i, e);
            }
        } else {
            let mine = std::mem::take(&mut self.entries);
            let mut out = Vec::with_capacity(mine.len() + new.len());
            let mut new = new.into_iter().peekable();
            for e in mine {
                while let Some(n) = new.next_if(|n| n.pe < e.pe) {
                    out.push(n);
                }
                out.push(e);
            }
            out.extend(new);
            self.entries = out;
        }
    }

    /// Paths in `self` that are not in `other`. Like structured-merge-diff this is not
    /// recursive: removing member `a` leaves members below `a` alone, because owning an atomic
    /// value and owning fields inside it are separate claims.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.subtract(other);
        out
    }

    /// Takes the paths of `other` out of `self`: [`FieldSet::difference`] in place. Every
    /// write takes its changes out of every other manager's set, and most sets share nothing
    /// with them, so a few paths are looked up, and more are taken out in one pass.
    pub fn subtract(&mut self, other: &FieldSet) {
        if self.entries.is_empty() {
            return;
        }
        let take = |mine: &mut Entry, theirs: &Entry| {
            mine.member &= !theirs.member;
            mine.below.subtract(&theirs.below);
        };
        if other.entries.len() <= FEW {
            for theirs in &other.entries {
                if let Ok(i) = self.find(&theirs.pe) {
                    take(&mut self.entries[i], theirs);
                    if self.entries[i].is_empty() {
                        self.entries.remove(i);
                    }
                }
            }
        } else {
            let mut theirs = other.entries.iter().peekable();
            self.entries.retain_mut(|mine| {
                while theirs.next_if(|t| t.pe < mine.pe).is_some() {}
                if let Some(t) = theirs.next_if(|t| t.pe == mine.pe) {
                    take(mine, t);
                }
                !mine.is_empty()
            });
        }
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut entries = Vec::new();
        let mut theirs = other.entries.iter().peekable();
        for mine in &self.entries {
            while theirs.next_if(|t| t.pe < mine.pe).is_some() {}
            if let Some(t) = theirs.next_if(|t| t.pe == mine.pe) {
                let both = Entry {
                    pe: mine.pe.clone(),
                    member: mine.member && t.member,
                    below: mine.below.intersection(&t.below),
                };
                if !both.is_empty() {
                    entries.push(both);
                }
            }
        }
        FieldSet { entries }
    }

    /// Every member path: members of a node before the paths below its children, each group in
    /// element order (the order structured-merge-diff iterates, hence the order of conflicts).
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<FieldPath>) {
        for e in self.entries.iter().filter(|e| e.member) {
            let mut p = prefix.clone();
            p.push(e.pe.clone());
            out.push(FieldPath(p));
        }
        for e in self.entries.iter().filter(|e| !e.below.is_empty()) {
            prefix.push(e.pe.clone());
            e.below.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The top-level elements: members and those with paths below them.
    pub fn top(&self) -> impl Iterator<Item = &PathElement> {
        self.entries.iter().map(|e| &e.pe)
    }

    pub(crate) fn is_member(&self, pe: &PathElement) -> bool {
        self.get(pe).is_some_and(|e| e.member)
    }

    /// The paths below `pe`, when there are any.
    pub(crate) fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.get(pe).map(|e| &e.below).filter(|b| !b.is_empty())
    }

    /// Whether the set owns `pe` itself or anything below it.
    pub(crate) fn touches(&self, pe: &PathElement) -> bool {
        self.find(pe).is_ok()
    }

    /// Records `pe` (a member if `member`) with `below` as the paths under it.
    pub(crate) fn add(&mut self, pe: PathElement, member: bool, below: FieldSet) {
        match self.find(&pe) {
            Ok(i) => {
                let e = &mut self.entries[i];
                e.member |= member;
                e.below.merge(below);
            }
            Err(i) if member || !below.is_empty() => self.entries.insert(i, Entry { pe, member, below }),
            Err(_) => {}
        }
    }

    /// Keeps only the top-level elements `keep` accepts (members and subtrees alike).
    pub(crate) fn retain_top(&mut self, keep: impl Fn(&PathElement) -> bool) {
        self.entries.retain(|e| keep(&e.pe));
    }

    pub(crate) fn remove_member(&mut self, pe: &PathElement) {
        if let Ok(i) = self.find(pe) {
            self.entries[i].member = false;
            if self.entries[i].is_empty() {
                self.entries.remove(i);
            }
        }
    }

    /// The paths below `pe`, when there are any, to change; [`FieldSet::drop_empty_child`]
    /// afterwards keeps the invariant.
    pub(crate) fn child_mut(&mut self, pe: &PathElement) -> Option<&mut FieldSet> {
        let i = self.find(pe).ok()?;
        Some(&mut self.entries[i].below).filter(|b| !b.is_empty())
    }

    pub(crate) fn drop_empty_child(&mut self, pe: &PathElement) {
        if let Ok(i) = self.find(pe)
            && self.entries[i].is_empty()
        {
            self.entries.remove(i);
        }
    }
}

/// Errors reading a `fieldsV1` trie.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsV1Error {
    #[error("fieldsV1 must be a JSON object at {at:?}")]
    NotAnObject { at: String },
    #[error("invalid fieldsV1 path element {element:?}: {reason}")]
    BadElement { element: String, reason: String },
}

impl FieldsV1Error {
    /// The error as seen from the node above, whose element `pe` leads to where it was found.
    fn below(self, pe: &PathElement) -> Self {
        match self {
            Self::NotAnObject { at } => Self::NotAnObject { at: format!("{pe}{at}") },
            other => other,
        }
    }
}

/// Encodes a set as the `fieldsV1` trie Kubernetes stores in `managedFields`, as a tree
/// of values: [`write_fields_v1_text`] read back. Writes store the text; this is for
/// readers of whole trees.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut text = Vec::new();
    write_fields_v1_text(set, &mut text);
    // JSON this module wrote always reads.
    serde_json::from_slice(&text).unwrap_or_default()
}

/// Writes `set` as `fieldsV1` JSON text into `out`, keys in byte order and no whitespace:
/// the bytes serde_json writes for the same trie as a tree of values, which is never built.
/// Every write encodes each entry it changes; as a tree, a Deployment's set was a few
/// hundred small maps made, serialized and dropped.
pub fn write_fields_v1_text(set: &FieldSet, out: &mut Vec<u8>) {
    write_text_node(set, false, out);
}

fn write_text_node(set: &FieldSet, dot: bool, out: &mut Vec<u8>) {
    out.push(b'{');
    if dot {
        out.extend_from_slice(br#"".":{}"#);
    }
    let mut first = !dot;
    let mut write = |e: &Entry| {
        if !first {
            out.push(b',');
        }
        first = false;
        write_key(&e.pe, out);
        out.push(b':');
        if e.below.is_empty() {
            out.extend_from_slice(b"{}");
        } else {
            write_text_node(&e.below, e.member, out);
        }
    };
    // In the order of the keys' text: element order but for indices (`i:` sorts between
    // `f:` and `k:`, and as text), which Kubernetes never writes.
    if set.entries.iter().any(|e| matches!(e.pe, PathElement::Index(_))) {
        let mut sorted: Vec<&Entry> = set.entries.iter().collect();
        sorted.sort_by(|a, b| key_order(&a.pe, &b.pe));
        sorted.into_iter().for_each(&mut write);
    } else {
        set.entries.iter().for_each(&mut write);
    }
    out.push(b'}');
}

/// The order of two elements' `fieldsV1` keys as text.
fn key_order(a: &PathElement, b: &PathElement) -> std::cmp::Ordering {
    fn tag(pe: &PathElement) -> u8 {
        match pe {
            PathElement::Field(_) => b'f',
            PathElement::Index(_) => b'i',
            PathElement::Key(_) => b'k',
            PathElement::Value(_) => b'v',
        }
    }
    match (a, b) {
        (PathElement::Index(x), PathElement::Index(y)) => x.to_string().cmp(&y.to_string()),
        _ if tag(a) != tag(b) => tag(a).cmp(&tag(b)),
        _ => a.cmp(b),
    }
}

/// The element's key as a JSON string.
fn write_key(pe: &PathElement, out: &mut Vec<u8>) {
    match pe {
        PathElement::Field(name) => write_tagged(b"f:", name, out),
        PathElement::Key(text) => write_tagged(b"k:", text, out),
        PathElement::Value(text) => write_tagged(b"v:", text, out),
        PathElement::Index(i) => {
            out.extend_from_slice(b"\"i:");
            out.extend_from_slice(i.to_string().as_bytes());
            out.push(b'"');
        }
    }
}

/// `tag` and `text` as one JSON string. Text with nothing to escape (most field names) is
/// copied as it is; other text (a list key's JSON) is escaped by serde_json, and the tag
/// put in after its opening quote.
fn write_tagged(tag: &[u8; 2], text: &str, out: &mut Vec<u8>) {
    if needs_no_escapes(text) {
        out.push(b'"');
        out.extend_from_slice(tag);
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let start = out.len();
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
        out.splice(start + 1..start + 1, tag.iter().copied());
    }
}

/// Reads a `fieldsV1` trie from its JSON text, as [`from_fields_v1`] reads its tree,
/// without building the tree. `None` when the text is not a readable trie:
/// [`from_fields_v1`] of its tree then says why.
pub fn read_fields_v1_text(text: &str) -> Option<FieldSet> {
    let mut de = serde_json::Deserializer::from_str(text);
    let TextNode(_, set) = serde::Deserialize::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(set)
}

/// One node of a `fieldsV1` trie: whether it carries `"."`, and the set below it.
struct TextNode(bool, FieldSet);

impl<'de> serde::Deserialize<'de> for TextNode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = TextNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a fieldsV1 node")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<TextNode, A::Error> {
        use serde::de::Error as _;
        let (mut dot, mut set) = (false, FieldSet::new());
        while let Some(Key(key)) = map.next_key()? {
            if key == "." {
                map.next_value::<serde::de::IgnoredAny>()?;
                dot = true;
                continue;
            }
            let pe = PathElement::from_fields_v1_key(&key).map_err(A::Error::custom)?;
            let TextNode(child_dot, below) = map.next_value()?;
            let member = child_dot || below.is_empty();
            set.add(pe, member, below);
        }
        Ok(TextNode(dot, set))
    }
}

/// A map key, borrowed from the text when it has no escapes (serde's own `Cow<str>`
/// always copies).
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Decodes a `fieldsV1` trie. Key JSON is canonicalised, so sets read from clients compare
/// equal to sets computed here.
pub fn from_fields_v1(fields: &Value) -> Result<FieldSet, FieldsV1Error> {
    decode_node(fields).map(|(_, set)| set)
}

/// Returns whether the node carries `"."` (is itself a member) and the set below it. The
/// path in an error is built on the way out, so a readable trie costs no text per node.
fn decode_node(node: &Value) -> Result<(bool, FieldSet), FieldsV1Error> {
    let Value::Object(map) = node else {
        return Err(FieldsV1Error::NotAnObject { at: String::new() });
    };
    let mut dot = false;
    let mut set = FieldSet::new();
    for (key, child) in map {
        if key == "." {
            dot = true;
            continue;
        }
        let pe = PathElement::from_fields_v1_key(key)?;
        let (child_dot, below) = decode_node(child).map_err(|e| e.below(&pe))?;
        let member = child_dot || below.is_empty();
        set.add(pe, member, below);
    }
    Ok((dot, set))
}

/// JSON text with object keys sorted and no whitespace: the identity of list-map keys and set
/// values, and exactly what Kubernetes writes after `k:` / `v:`. Short enough, as most are,
/// to be kept without an allocation.
pub(crate) fn canonical_json(value: &Value) -> CompactString {
    let mut out = CompactString::default();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut CompactString) {
    match value {
        Value::Object(map) => {
            let mut fields: Vec<_> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_name(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// Whether serde_json writes `text` as a string as it is, between quotes.
fn needs_no_escapes(text: &str) -> bool {
    text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// A map key as serde_json writes it: as it is, quoted, when it has nothing to escape.
fn write_name(name: &str, out: &mut CompactString) {
    if needs_no_escapes(name) {
        out.push('"');
        out.push_str(name);
        out.push('"');
    } else {
        write_scalar(&Value::String(name.to_owned()), out);
    }
}

/// A scalar as serde_json writes it.
fn write_scalar(scalar: &Value, out: &mut CompactString) {
    use std::fmt::Write as _;
    // `Display` of a value is its JSON; writing into a string cannot fail.
    let _ = write!(out, "{scalar}");
}

/// A value as structured-merge-diff's `value.ToString` prints it: strings Go-quoted (`%q`),
/// numbers and booleans bare.
fn go_value_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Array(items) => format!("[{}]", items.iter().map(go_value_string).collect::<Vec<_>>().join(",")),
        Value::Object(map) => map.iter().map(|(k, v)| format!("{k}={}", go_value_string(v))).collect(),
    }
}

/// Go's `%q` for the characters that occur in practice: backslash escapes for quotes,
/// backslashes and common controls, `\x` for other control bytes, printable text as is.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
