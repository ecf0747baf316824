//! Walking objects under a schema: the identity of list elements, the field set an object
//! sets, and the difference between two objects as field sets.
//!
//! These follow structured-merge-diff's rules, because the sets end up in `managedFields` where
//! kubectl and controllers read them:
//! - scalars, nulls, empty maps, atomic lists and atomic maps are leaves;
//! - every element of a set- or map-typed list owns itself (`.` next to its fields);
//! - an empty granular list is not a field of its own when read from an object (Kubernetes
//!   drops it), but a change between empty and absent is still a change.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::fieldset::{FieldPath, FieldSet, PathElement};
use super::schema::{ListType, ListTypes, MapType};

/// The fields of `metadata` a manager can own.
const OWNABLE_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

/// Which part of an object a write may own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A write to the main resource of a kind with a status subresource: everything but
    /// `status`.
    Object,
    /// A write to `/status`: only `status`.
    Status,
    /// A write to a kind without a status subresource: `status` is an ordinary field.
    Whole,
}

impl Scope {
    /// The scope of a write to `subresource` (`None` = the main resource).
    pub fn of_write(subresource: Option<&str>, types: &dyn ListTypes) -> Self {
        match subresource {
            Some("status") => Self::Status,
            _ if types.status_subresource() => Self::Object,
            _ => Self::Whole,
        }
    }

    /// Restricts a set to the fields a manager can own in this scope. Identity and
    /// server-populated metadata (`name`, `uid`, `resourceVersion`, `managedFields`, …) are
    /// never owned; of `metadata` only `labels`, `annotations`, `finalizers` and
    /// `ownerReferences` are.
    pub(crate) fn restrict(self, set: &mut FieldSet) {
        set.retain_top(|pe| matches!(pe, PathElement::Field(name) if self.may_own(name)));
        let metadata = PathElement::field("metadata");
        set.remove_member(&metadata);
        if let Some(meta) = set.child_mut(&metadata) {
            meta.retain_top(|pe| matches!(pe, PathElement::Field(n) if OWNABLE_METADATA.contains(&n.as_str())));
        }
        set.drop_empty_child(&metadata);
    }

    /// Whether a manager can own fields under top-level field `name` in this scope.
    fn may_own(self, name: &str) -> bool {
        match name {
            "apiVersion" | "kind" => false,
            "status" => self != Scope::Object,
            _ => self != Scope::Status,
        }
    }

    /// The part of an apply configuration this scope merges into the object: the
    /// configuration itself, with the top-level fields out of scope taken out.
    pub(crate) fn config(self, mut applied: Value) -> Value {
        let in_scope = |name: &str| match (self, name) {
            (Scope::Object, "status") => false,
            (Scope::Status, name) => matches!(name, "apiVersion" | "kind" | "status"),
            _ => true,
        };
        if let Value::Object(map) = &mut applied {
            map.retain(|k, _| in_scope(k));
        }
        applied
    }
}

/// Calls into [`ListTypes`] with a path of owned or borrowed strings.
pub(crate) struct Schema<'t> {
    pub(crate) types: &'t dyn ListTypes,
}

/// Calls `f` with `path` as string slices: on the stack for the depths objects have (the
/// walks ask the schema at every node, and made a vector for each question).
fn with_strs<P: AsRef<str>, R>(path: &[P], f: impl FnOnce(&[&str]) -> R) -> R {
    const DEPTH: usize = 24;
    if path.len() <= DEPTH {
        let mut strs = [""; DEPTH];
        for (slot, p) in strs.iter_mut().zip(path) {
            *slot = p.as_ref();
        }
        f(&strs[..path.len()])
    } else {
        f(&path.iter().map(AsRef::as_ref).collect::<Vec<&str>>())
    }
}

impl Schema<'_> {
    pub(crate) fn list_type<P: AsRef<str>>(&self, path: &[P]) -> ListType {
        match with_strs(path, |p| self.types.list_type(p)) {
            // A map without keys cannot tell elements apart except by value.
            ListType::Map { keys } if keys.is_empty() => ListType::Set,
            other => other,
        }
    }

    pub(crate) fn map_type<P: AsRef<str>>(&self, path: &[P]) -> MapType {
        with_strs(path, |p| self.types.map_type(p))
    }

    pub(crate) fn is_map_entry<P: AsRef<str>>(&self, path: &[P]) -> bool {
        with_strs(path, |p| self.types.is_map_entry(p))
    }

    /// The path element of each item of a set- or map-typed list, or a message (worded as
    /// structured-merge-diff words it) saying why an item has none.
    pub(crate) fn elements<P: AsRef<str>>(
        &self,
        path: &[P],
        list_type: &ListType,
        items: &[Value],
    ) -> Result<Vec<PathElement>, String> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.element(path, list_type, item).map_err(|e| format!("element {i}: {e}")))
            .collect()
    }

    fn element<P: AsRef<str>>(&self, path: &[P], list_type: &ListType, item: &Value) -> Result<PathElement, String> {
        match list_type {
            ListType::Atomic => Err("atomic lists have no element identity".to_string()),
            ListType::Set => match item {
                Value::Null => Err("associative list without keys has an element that's an explicit null".to_string()),
                Value::Object(_) | Value::Array(_) => {
                    Err("associative list without keys has an element that's a map or list type".to_string())
                }
                scalar => Ok(PathElement::value(scalar)),
            },
            ListType::Map { keys } => {
                let Value::Object(fields) = item else {
                    return Err("associative list with keys may not have non-map elements".to_string());
                };
                let mut key = Vec::with_capacity(keys.len());
                for name in keys {
                    let value = match fields.get(name) {
                        Some(v) => Cow::Borrowed(v),
                        None => Cow::Owned(with_strs(path, |p| self.types.key_default(p, name)).ok_or_else(|| {
                            format!("associative list with keys has an element that omits key field {name:?} (and doesn't have default value)")
                        })?),
                    };
                    key.push((name.as_str(), value));
                }
                Ok(PathElement::key(key.iter().map(|(k, v)| (*k, v.as_ref()))))
            }
        }
    }
}

/// Positions of each element in a list, grouped by identity (duplicates are legal in stored
/// objects: Kubernetes accepts duplicate `env` names, for one): the positions in one
/// vector, ordered by their elements, rather than a map holding a vector per element.
pub(crate) struct Groups<'p> {
    pes: &'p [PathElement],
    /// Every position, by element and, for equal elements, by position.
    order: Vec<usize>,
}

impl<'p> Groups<'p> {
    pub(crate) fn of(pes: &'p [PathElement]) -> Self {
        let mut order: Vec<usize> = (0..pes.len()).collect();
        if !pes.is_sorted() {
            // Stable: equal elements keep their positions' order.
            order.sort_by(|&a, &b| pes[a].cmp(&pes[b]));
        }
        Self { pes, order }
    }

    /// Each element with its positions, in element order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'p PathElement, &[usize])> {
        let pes = self.pes;
        self.order.chunk_by(move |&a, &b| pes[a] == pes[b]).map(move |positions| (&pes[positions[0]], positions))
    }

    /// The positions of `pe`: none when the list does not hold it.
    pub(crate) fn get(&self, pe: &PathElement) -> &[usize] {
        let start = self.order.partition_point(|&i| self.pes[i] < *pe);
        let len = self.order[start..].partition_point(|&i| self.pes[i] == *pe);
        &self.order[start..start + len]
    }
}

/// The set of fields `obj` sets, restricted to `scope`. Lists whose elements cannot be
/// identified are owned whole.
pub fn field_set_in_scope(obj: &Value, types: &dyn ListTypes, scope: Scope) -> FieldSet {
    let mut walker = SetWalker { schema: Schema { types }, strict: false, errors: Vec::new() };
    let (_, mut set) = walker.node(obj, &mut Vec::new(), &mut Vec::new());
    scope.restrict(&mut set);
    set
}

/// The set of fields an apply configuration sets, or the reasons it is not a valid
/// configuration (an element without its key, a duplicate key).
pub(crate) fn config_field_set(config: &Value, types: &dyn ListTypes, scope: Scope) -> Result<FieldSet, Vec<String>> {
    let mut walker = SetWalker { schema: Schema { types }, strict: true, errors: Vec::new() };
    let (_, mut set) = walker.node(config, &mut Vec::new(), &mut Vec::new());
    if !walker.errors.is_empty() {
        return Err(walker.errors);
    }
    scope.restrict(&mut set);
    Ok(set)
}

struct SetWalker<'t> {
    schema: Schema<'t>,
    strict: bool,
    errors: Vec<String>,
}

impl SetWalker<'_> {
    /// Returns whether the node at `path` is itself a member, and the set below it.
    fn node<'v>(&mut self, value: &'v Value, path: &mut Vec<&'v str>, at: &mut Vec<PathElement>) -> (bool, FieldSet) {
        match value {
            Value::Object(map) if map.is_empty() || self.schema.map_type(path) == MapType::Atomic => {
                (true, FieldSet::new())
            }
            Value::Object(map) => {
                let mut set = FieldSet::new();
                for (key, child) in map {
                    path.push(key);
                    at.push(PathElement::field(key));
                    let (member, below) = self.node(child, path, at);
                    let member = member || self.schema.is_map_entry(path);
                    at.pop();
                    path.pop();
                    set.add(PathElement::field(key), member, below);
                }
                (false, set)
            }
            Value::Array(items) => {
                let list_type = self.schema.list_type(path);
                if list_type == ListType::Atomic {
                    return (true, FieldSet::new());
                }
                if items.is_empty() {
                    return (false, FieldSet::new());
                }
                let pes = match self.schema.elements(path, &list_type, items) {
                    Ok(pes) => pes,
                    Err(e) => {
                        if self.strict {
                            self.errors.push(format!("{}: {e}", FieldPath(at.clone())));
                        }
                        return (true, FieldSet::new());
                    }
                };
                let mut set = FieldSet::new();
                for (pe, positions) in Groups::of(&pes).iter() {
                    if positions.len() > 1 {
                        if self.strict {
                            self.errors.push(format!("{}: duplicate entries for key {pe}", FieldPath(at.clone())));
                        }
                        set.add(pe.clone(), true, FieldSet::new());
                        continue;
                    }
                    let below = match (&list_type, items.get(positions[0])) {
                        (ListType::Map { .. }, Some(item)) => {
                            at.push(pe.clone());
                            let (_, below) = self.node(item, path, at);
                            at.pop();
                            below
                        }
                        _ => FieldSet::new(),
                    };
                    set.add(pe.clone(), true, below);
                }
                (false, set)
            }
            _ => (true, FieldSet::new()),
        }
    }
}

/// What changed between two objects, as field sets (structured-merge-diff's `Comparison`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Paths present only in the new object (including the roots of added subtrees).
    pub added: FieldSet,
    /// Leaves present in both with different values.
    pub modified: FieldSet,
    /// Paths present only in the old object (including the roots of removed subtrees).
    pub removed: FieldSet,
}

impl Comparison {
    /// Compares `old` (absent on create) with `new`, restricted to `scope`.
    ///
    /// Of two objects only what a manager can own in `scope` is walked ([`Scope::restrict`]
    /// drops the rest anyway): skipping `metadata.managedFields`, and for a status write the
    /// spec, is most of the work of recording a write.
    pub fn of(old: Option<&Value>, new: &Value, types: &dyn ListTypes, scope: Scope) -> Self {
        let mut out = Comparison::default();
        let schema = Schema { types };
        let mut walk = |path: &[&str], lhs: Option<&Value>, rhs: Option<&Value>| {
            let mut at: Vec<PathElement> = path.iter().map(|p| PathElement::field(p)).collect();
            compare(&schema, lhs, rhs, &mut path.to_vec(), &mut at, &mut out);
        };
        match (old, new) {
            (None | Some(Value::Object(_)), Value::Object(n)) => {
                let o = old.and_then(Value::as_object);
                join(o.into_iter().flatten(), n, |key, lhs, rhs| {
                    if !scope.may_own(key) {
                        return;
                    }
                    if key == "metadata" {
                        for field in OWNABLE_METADATA {
                            walk(&["metadata", field], lhs.and_then(|m| m.get(field)), rhs.and_then(|m| m.get(field)));
                        }
                    } else {
                        walk(&[key], lhs, rhs);
                    }
                });
            }
            _ => walk(&[], old, Some(new)),
        }
        scope.restrict(&mut out.added);
        scope.restrict(&mut out.modified);
        scope.restrict(&mut out.removed);
        out
    }

    /// Fields whose value this write decided: added or modified. The added fields are
    /// taken out rather than copied (a create adds every field of the object).
    pub fn take_changed(&mut self) -> FieldSet {
        let mut changed = std::mem::take(&mut self.added);
        changed.absorb(&self.modified);
        changed
    }
}

enum Shape<'v> {
    Map(Option<&'v Map<String, Value>>, Option<&'v Map<String, Value>>),
    List(&'v [Value], &'v [Value]),
    Leaf,
}

fn shape<'v>(lhs: Option<&'v Value>, rhs: Option<&'v Value>) -> Shape<'v> {
    match (lhs, rhs) {
        (Some(Value::Object(l)), Some(Value::Object(r))) => Shape::Map(Some(l), Some(r)),
        (None, Some(Value::Object(r))) => Shape::Map(None, Some(r)),
        (Some(Value::Object(l)), None) => Shape::Map(Some(l), None),
        (Some(Value::Array(l)), Some(Value::Array(r))) => Shape::List(l, r),
        (None, Some(Value::Array(r))) => Shape::List(&[], r),
        (Some(Value::Array(l)), None) => Shape::List(l, &[]),
        _ => Shape::Leaf,
    }
}

fn compare<'v>(
    schema: &Schema<'_>,
    lhs: Option<&'v Value>,
    rhs: Option<&'v Value>,
    path: &mut Vec<&'v str>,
    at: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let Some(lhs) = lhs else {
        // A subtree that appeared: built whole, then added at its root in one step.
        if let Some(rhs) = rhs {
            let below = added_below(schema, rhs, path);
            out.added.add_at(at, below);
        }
        return;
    };
    let lhs = Some(lhs);
    let descended = match shape(lhs, rhs) {
        Shape::Map(l, r) => {
            let empty = l.is_none_or(Map::is_empty) && r.is_none_or(Map::is_empty);
            if empty || schema.map_type(path) == MapType::Atomic {
                false
            } else {
                join(l.into_iter().flatten(), r.into_iter().flatten(), |key, lhs, rhs| {
                    path.push(key);
                    at.push(PathElement::field(key));
                    compare(schema, lhs, rhs, path, at, out);
                    at.pop();
                    path.pop();
                });
                true
            }
        }
        Shape::List(l, r) => {
            let list_type = schema.list_type(path);
            if (l.is_empty() && r.is_empty()) || list_type == ListType::Atomic {
                false
            } else {
                match (schema.elements(path, &list_type, l), schema.elements(path, &list_type, r)) {
                    (Ok(lpes), Ok(rpes)) => {
                        compare_items(schema, (l, &lpes), (r, &rpes), path, at, out);
                        true
                    }
                    // Items without identity: compare the list as one value.
                    _ => false,
                }
            }
        }
        Shape::Leaf => false,
    };
    // A subtree that vanished is recorded at its root as well as at its leaves (as one that
    // appeared is, above), so that the writer owns the map or element itself (the `.` of
    // `fieldsV1`).
    match rhs {
        None => out.removed.insert(at),
        Some(r) if !descended && lhs != Some(r) => out.modified.insert(at),
        Some(_) => {}
    }
}

/// The fields below `value`, a subtree that appeared, as [`compare`] records them: every
/// map field and every list element that can be told apart is a member, and so is the
/// subtree's root (recorded by the caller). Built bottom-up: inserting each path from the
/// root of the set was most of recording a create.
fn added_below<'v>(schema: &Schema<'_>, value: &'v Value, path: &mut Vec<&'v str>) -> FieldSet {
    let mut set = FieldSet::new();
    match value {
        Value::Object(map) if !map.is_empty() && schema.map_type(path) != MapType::Atomic => {
            for (key, child) in map {
                path.push(key);
                let below = added_below(schema, child, path);
                path.pop();
                set.add(PathElement::field(key), true, below);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let list_type = schema.list_type(path);
            if list_type != ListType::Atomic
                && let Ok(pes) = schema.elements(path, &list_type, items)
            {
                for (pe, positions) in Groups::of(&pes).iter() {
                    // Duplicated elements are owned as one, with nothing below.
                    let below = match positions {
                        [only] => items.get(*only).map(|item| added_below(schema, item, path)).unwrap_or_default(),
                        _ => FieldSet::new(),
                    };
                    set.add(pe.clone(), true, below);
                }
            }
        }
        _ => {}
    }
    set
}

fn compare_items<'v>(
    schema: &Schema<'_>,
    (l, lpes): (&'v [Value], &[PathElement]),
    (r, rpes): (&'v [Value], &[PathElement]),
    path: &mut Vec<&'v str>,
    at: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let (lgroups, rgroups) = (Groups::of(lpes), Groups::of(rpes));
    join(lgroups.iter(), rgroups.iter(), |pe, lpos, rpos| {
        let (lpos, rpos) = (lpos.unwrap_or_default(), rpos.unwrap_or_default());
        let (first_l, first_r) = (lpos.first().and_then(|&i| l.get(i)), rpos.first().and_then(|&i| r.get(i)));
        at.push(pe.clone());
        // Duplicated elements are compared as one atomic value, as structured-merge-diff does.
        match (lpos.len(), rpos.len()) {
            (0..=1, 0..=1) => compare(schema, first_l, first_r, path, at, out),
            (2.., 2..) => {
                if !lpos.iter().map(|&i| l.get(i)).eq(rpos.iter().map(|&i| r.get(i))) {
                    out.modified.insert(at);
                }
            }
            // (A side without the element makes `compare` record nothing.)
            (2.., _) => {
                compare(schema, None, first_r, path, at, out);
                out.removed.insert(at);
            }
            (_, 2..) => {
                compare(schema, first_l, None, path, at, out);
                out.added.insert(at);
            }
        }
        at.pop();
    });
}

/// Joins two sequences of entries sorted by key: `f` gets each key once, in order, with
/// the value of each side that has it. (Maps' keys and a list's groups of elements come
/// sorted; this walks them side by side instead of collecting and sorting their keys.)
fn join<K: Ord, A, B>(
    lhs: impl IntoIterator<Item = (K, A)>,
    rhs: impl IntoIterator<Item = (K, B)>,
    mut f: impl FnMut(K, Option<A>, Option<B>),
) {
    let (mut lhs, mut rhs) = (lhs.into_iter().fuse().peekable(), rhs.into_iter().fuse().peekable());
    loop {
        // The side with the smaller key steps; both step on the same key.
        let (a, b) = match (lhs.peek(), rhs.peek()) {
            (Some((ka, _)), Some((kb, _))) => match ka.cmp(kb) {
                Ordering::Less => (lhs.next(), None),
                Ordering::Greater => (None, rhs.next()),
                Ordering::Equal => (lhs.next(), rhs.next()),
            },
            _ => (lhs.next(), rhs.next()),
        };
        match (a, b) {
            (Some((k, a)), b) => f(k, Some(a), b.map(|(_, b)| b)),
            (None, Some((k, b))) => f(k, None, Some(b)),
            (None, None) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of a subtree that appeared, as they were recorded before they were built
    /// bottom-up: every path of the subtree inserted from the root.
    fn added_by_insertion(
        schema: &Schema<'_>,
        value: &Value,
        path: &mut Vec<String>,
        at: &mut Vec<PathElement>,
        out: &mut FieldSet,
    ) {
        match value {
            Value::Object(map) if !map.is_empty() && schema.map_type(path) != MapType::Atomic => {
                for (key, child) in map {
                    path.push(key.clone());
                    at.push(PathElement::field(key));
                    added_by_insertion(schema, child, path, at, out);
                    at.pop();
                    path.pop();
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let list_type = schema.list_type(path);
                if list_type != ListType::Atomic
                    && let Ok(pes) = schema.elements(path, &list_type, items)
                {
                    for (pe, positions) in Groups::of(&pes).iter() {
                        at.push(pe.clone());
                        match positions {
                            [only] => added_by_insertion(schema, &items[*only], path, at, out),
                            _ => out.insert(at),
                        }
                        at.pop();
                    }
                }
            }
            _ => {}
        }
        out.insert(at);
    }

    /// What a create, or a write adding a subtree, owns: the same built bottom-up as
    /// inserted path by path, for objects with every kind of node.
    #[test]
    fn added_subtrees_are_recorded_whole() {
        use serde_json::json;
        let types = crate::ssa::BuiltinListTypes::for_kind("apps/v1", "Deployment");
        let schema = Schema { types: &types };
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"a": "b"}, "finalizers": ["x/y", "x/z"], "annotations": {}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [
                                      {"name": "a", "image": "i", "args": ["1", "2"],
                                       "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81}],
                                       "env": [{"name": "E", "value": "1"}, {"name": "E", "value": "2"}]},
                                      {"name": "b", "image": "j", "resources": {}}],
                                           "volumes": []}}},
            "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
        });
        for scope in [Scope::Whole, Scope::Object, Scope::Status] {
            let mut want = FieldSet::new();
            for (key, value) in deployment.as_object().into_iter().flatten().filter(|(k, _)| scope.may_own(k)) {
                if key == "metadata" {
                    for field in OWNABLE_METADATA {
                        if let Some(v) = value.get(field) {
                            let (mut path, mut at) = (
                                vec!["metadata".to_owned(), field.to_owned()],
                                vec![PathElement::field("metadata"), PathElement::field(field)],
                            );
                            added_by_insertion(&schema, v, &mut path, &mut at, &mut want);
                        }
                    }
                } else {
                    added_by_insertion(
                        &schema,
                        value,
                        &mut vec![key.clone()],
                        &mut vec![PathElement::field(key)],
                        &mut want,
                    );
                }
            }
            scope.restrict(&mut want);
            assert!(!want.is_empty(), "{scope:?}");
            assert_eq!(Comparison::of(None, &deployment, &types, scope).added, want, "{scope:?}: created");
            // The same subtrees added to an object that had none of them.
            let bare = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
            assert_eq!(Comparison::of(Some(&bare), &deployment, &types, scope).added, want, "{scope:?}: added");
        }
    }

    /// Each element's positions, in element order, whatever the list's order.
    #[test]
    fn groups_hold_every_position_of_each_element() {
        type Positions = Vec<(PathElement, Vec<usize>)>;
        let f = PathElement::field;
        let table: Vec<(Vec<PathElement>, Positions)> = vec![
            (vec![], vec![]),
            (vec![f("a"), f("b")], vec![(f("a"), vec![0]), (f("b"), vec![1])]),
            (
                vec![f("b"), f("a"), f("b"), f("c"), f("a")],
                vec![(f("a"), vec![1, 4]), (f("b"), vec![0, 2]), (f("c"), vec![3])],
            ),
            (vec![f("x"), f("x"), f("x")], vec![(f("x"), vec![0, 1, 2])]),
        ];
        for (pes, want) in table {
            let groups = Groups::of(&pes);
            let got: Positions = groups.iter().map(|(pe, at)| (pe.clone(), at.to_vec())).collect();
            assert_eq!(got, want, "{pes:?}");
            for (pe, at) in &want {
                assert_eq!(groups.get(pe), at.as_slice(), "{pe}");
            }
            for absent in [f(""), f("aa"), f("z")] {
                assert!(groups.get(&absent).is_empty(), "{absent}");
            }
        }
    }

    /// Two sorted sequences joined: every key once, in order, with each side's value.
    #[test]
    fn join_meets_every_key_once_in_order() {
        type Met = Vec<(u8, Option<char>, Option<i32>)>;
        type Case = (Vec<(u8, char)>, Vec<(u8, i32)>, Met);
        let table: Vec<Case> = vec![
            (vec![], vec![], vec![]),
            (vec![(1, 'a')], vec![], vec![(1, Some('a'), None)]),
            (vec![], vec![(1, 10)], vec![(1, None, Some(10))]),
            (
                vec![(1, 'a'), (3, 'c'), (4, 'd')],
                vec![(2, 20), (3, 30), (5, 50)],
                vec![
                    (1, Some('a'), None),
                    (2, None, Some(20)),
                    (3, Some('c'), Some(30)),
                    (4, Some('d'), None),
                    (5, None, Some(50)),
                ],
            ),
        ];
        for (lhs, rhs, want) in table {
            let mut met = Vec::new();
            join(lhs.clone(), rhs.clone(), |k, a, b| met.push((k, a, b)));
            assert_eq!(met, want, "{lhs:?} {rhs:?}");
        }
    }

    /// Paths reach the schema as they are, on the stack or (deeper than any object) not.
    #[test]
    fn paths_reach_the_schema_whole_at_any_depth() {
        for depth in [0, 1, 3, 24, 25, 40] {
            let owned: Vec<String> = (0..depth).map(|i| format!("f{i}")).collect();
            let borrowed: Vec<&str> = owned.iter().map(String::as_str).collect();
            assert_eq!(with_strs(&owned, |p| p.join(".")), borrowed.join("."), "depth {depth}");
            assert_eq!(with_strs(&borrowed, |p| p.len()), depth);
        }
    }
}
