//! Merging an apply configuration into the live object, and removing what an applier stopped
//! applying.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::fieldset::{FieldPath, FieldSet, PathElement};
use super::schema::{ListType, MapType};
use super::walk::{Groups, Schema};

/// Merges `config` into `live`: granular maps merge per field, set- and map-typed lists merge
/// per element, everything else (scalars, atomic lists and maps, shape changes) takes the
/// configuration's value. Fails only if a live list cannot be matched against the
/// configuration's elements (an element without its key).
///
/// The configuration is consumed: its values move into the result, and of the live object
/// only what the configuration leaves alone is copied. (A copy of both, then dropping the
/// live values the configuration replaced, was a fifth of the server's work on a
/// 10,000-row CombinedStatus.)
pub(crate) fn merge(schema: &Schema<'_>, live: &Value, config: Value) -> Result<Value, String> {
    Merger { schema }.merge(live, config, &mut Vec::new(), &mut Vec::new())
}

struct Merger<'s, 't> {
    schema: &'s Schema<'t>,
}

impl Merger<'_, '_> {
    fn merge(
        &self,
        live: &Value,
        config: Value,
        path: &mut Vec<String>,
        at: &mut Vec<PathElement>,
    ) -> Result<Value, String> {
        match (live, config) {
            (Value::Object(l), Value::Object(mut c)) if self.schema.map_type(path) == MapType::Granular => {
                let mut out = Map::new();
                for (key, lv) in l {
                    let merged = match c.remove(key) {
                        Some(cv) => {
                            path.push(key.clone());
                            at.push(PathElement::field(key));
                            let merged = self.merge(lv, cv, path, at);
                            at.pop();
                            path.pop();
                            merged?
                        }
                        None => lv.clone(),
                    };
                    out.insert(key.clone(), merged);
                }
                // What only the configuration has.
                out.append(&mut c);
                Ok(Value::Object(out))
            }
            (Value::Array(l), Value::Array(c)) => match self.schema.list_type(path) {
                ListType::Atomic => Ok(Value::Array(c)),
                list_type => self.merge_lists(&list_type, l, c, path, at).map(Value::Array),
            },
            (_, config) => Ok(config),
        }
    }

    /// Interleaves the two lists the way structured-merge-diff does: walking both, a live
    /// element the configuration does not mention is kept where it is, and elements the
    /// configuration mentions come in the configuration's order (merged with their live
    /// counterpart). So appending to a list a controller also writes keeps the controller's
    /// elements in place, and reordering by the applier is honoured.
    fn merge_lists(
        &self,
        list_type: &ListType,
        live: &[Value],
        config: Vec<Value>,
        path: &mut Vec<String>,
        at: &mut Vec<PathElement>,
    ) -> Result<Vec<Value>, String> {
        let here = |e: String| format!("{}: {e}", FieldPath(at.clone()));
        let lpes = self.schema.elements(path, list_type, live).map_err(|e| here(format!("live object: {e}")))?;
        let cpes = self.schema.elements(path, list_type, &config).map_err(here)?;
        let lgroups = Groups::of(&lpes);
        let in_config: BTreeSet<&PathElement> = cpes.iter().collect();
        // Shared elements in configuration order: the next one is where the live walk waits.
        let mut shared = cpes.iter().filter(|pe| !lgroups.get(pe).is_empty());
        let mut next_shared = shared.next();
        let mut emitted: BTreeSet<&PathElement> = BTreeSet::new();
        let mut out = Vec::with_capacity(live.len().max(config.len()));
        let (mut li, mut ci) = (0, 0);
        // Taken in order: the walk moves on to the next configuration element only once it
        // has used this one.
        let mut items = config.into_iter();
        while li < live.len() || ci < cpes.len() {
            let (lpe, cpe) = (lpes.get(li), cpes.get(ci));
            if let Some(lpe) = lpe {
                if emitted.contains(lpe) {
                    // Already written at its configuration position (or a duplicate of one).
                    li += 1;
                    continue;
                }
                if Some(lpe) != cpe {
                    if !in_config.contains(lpe) {
                        out.push(live[li].clone());
                        li += 1;
                        continue;
                    }
                    if next_shared != Some(lpe) {
                        // The configuration moved it later: written when the walk gets there.
                        li += 1;
                        continue;
                    }
                    // The next shared element: configuration elements before it go first.
                }
            }
            let Some(cpe) = cpe else {
                li += 1;
                continue;
            };
            let Some(item) = items.next() else { break };
            let merged = match lgroups.get(cpe) {
                // Duplicates in the live list are replaced by the configuration's one element.
                &[only] => {
                    at.push(cpe.clone());
                    let merged = self.merge(&live[only], item, path, at);
                    at.pop();
                    merged?
                }
                _ => item,
            };
            out.push(merged);
            emitted.insert(cpe);
            if next_shared == Some(cpe) {
                next_shared = shared.next();
            }
            if lpe == Some(cpe) {
                li += 1;
            }
            ci += 1;
        }
        Ok(out)
    }
}

/// Removes from `merged` what `last` (the applier's previous set) owned and neither the new
/// configuration nor another manager (`keep`) still owns.
///
/// A field owned in `last` and touched by nobody in `keep` goes, with everything below it (so
/// a dropped container goes with the fields the server defaulted into it). A map or element
/// that still holds fields of other managers stays, and only this applier's leaves inside it
/// go; a map or list left empty by that, and owned by nobody, goes too. Key fields of a kept
/// list-map element are never removed: they are its identity.
pub(crate) fn prune(schema: &Schema<'_>, merged: &mut Value, last: &FieldSet, keep: &FieldSet) {
    Pruner { schema }.node(merged, last, Some(keep), &mut Vec::new(), &[]);
}

struct Pruner<'s, 't> {
    schema: &'s Schema<'t>,
}

enum Decision<'a> {
    Keep,
    Remove,
    Descend(&'a FieldSet, Option<&'a FieldSet>, bool),
}

fn decide<'a>(pe: &PathElement, last: &'a FieldSet, keep: Option<&'a FieldSet>) -> Decision<'a> {
    let owned_before = last.is_member(pe);
    let kept = keep.is_some_and(|k| k.touches(pe));
    match last.child(pe) {
        _ if owned_before && !kept => Decision::Remove,
        Some(below) => Decision::Descend(below, keep.and_then(|k| k.child(pe)), kept),
        None => Decision::Keep,
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

impl Pruner<'_, '_> {
    fn node(
        &self,
        value: &mut Value,
        last: &FieldSet,
        keep: Option<&FieldSet>,
        path: &mut Vec<String>,
        protect: &[String],
    ) {
        match value {
            Value::Object(map) => self.map(map, last, keep, path, protect),
            Value::Array(items) => self.list(items, last, keep, path),
            _ => {}
        }
    }

    fn map(
        &self,
        map: &mut Map<String, Value>,
        last: &FieldSet,
        keep: Option<&FieldSet>,
        path: &mut Vec<String>,
        protect: &[String],
    ) {
        let keys: Vec<String> = map.keys().filter(|k| !protect.contains(k)).cloned().collect();
        for key in keys {
            match decide(&PathElement::field(&key), last, keep) {
                Decision::Keep => {}
                Decision::Remove => {
                    map.remove(&key);
                }
                Decision::Descend(below, keep_below, kept) => {
                    let Some(child) = map.get_mut(&key) else { continue };
                    let was_empty = is_empty_container(child);
                    path.push(key.clone());
                    self.node(child, below, keep_below, path, &[]);
                    path.pop();
                    if !kept && !was_empty && is_empty_container(child) {
                        map.remove(&key);
                    }
                }
            }
        }
    }

    fn list(&self, items: &mut Vec<Value>, last: &FieldSet, keep: Option<&FieldSet>, path: &mut Vec<String>) {
        let list_type = self.schema.list_type(path);
        // Atomic lists are leaves, decided by the caller; unidentifiable elements cannot be
        // matched against ownership, so they are left alone.
        let Ok(pes) = self.schema.elements(path, &list_type, items) else { return };
        let keys = match &list_type {
            ListType::Map { keys } => keys.clone(),
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(items.len());
        for (pe, mut item) in pes.iter().zip(std::mem::take(items)) {
            match decide(pe, last, keep) {
                Decision::Keep => out.push(item),
                Decision::Remove => {}
                Decision::Descend(below, keep_below, _) => {
                    self.node(&mut item, below, keep_below, path, &keys);
                    out.push(item);
                }
            }
        }
        *items = out;
    }
}
