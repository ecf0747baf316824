//! Strategic merge patch (`application/strategic-merge-patch+json`) for the built-in kinds.
//!
//! Semantics follow `contributors/devel/sig-api-machinery/strategic-merge-patch.md` (kubernetes/
//! community) and, where that document is silent, the behaviour of the apiserver's implementation
//! (`apimachinery/pkg/util/strategicpatch`), because `kubectl apply`/`edit`/`patch` are written
//! against it:
//!
//! * maps merge recursively and `null` deletes a key;
//! * a list whose field is tagged `patchStrategy: merge` merges: lists of objects element by element,
//!   matched by the field's merge key (see [`super::merge_keys`]); lists of primitives as sets;
//! * every other list is replaced by the patch's list;
//! * directives: `$patch: replace | delete | merge` in maps and as list elements, `$retainKeys`,
//!   `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.
//!
//! Order of a merged list, as the apiserver computes it: `$setElementOrder` decides first; without
//! it, elements named in the patch take the patch's order, the remaining elements keep their current
//! order, and the two runs are interleaved using the current order wherever both elements have a
//! place in it. An element new to the list has no place in it, so it lands *before* the current
//! elements that follow it in the patch run: `kubectl patch` adding a container without
//! `$setElementOrder` puts it first, as on a real cluster (`kubectl apply` sends `$setElementOrder`).
//!
//! Where the apiserver leans on its typed decoding to clean up, we do it here, because our objects
//! stay JSON: no directive key ever reaches the result, also inside values that are added or
//! replaced whole, and `null`s inside such values are dropped rather than stored. Where the Go code
//! has accidental behaviour, we do the documented thing instead: `$patch: delete` on a map removes
//! the key (Go leaves `{}`), `$deleteFromPrimitiveList` on an absent list does nothing (Go stores
//! the deletion list as the field), `$patch: merge` is accepted as the no-op it names (Go rejects
//! it), and a list element carrying `$patch: replace` next to other fields replaces the list with
//! itself included (Go drops the element).

use serde_json::{Map, Value};

use super::merge_keys::{self, Field, Schema, Strategy};
use super::{GroupKind, PatchError, json::kind_of};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

// The apiserver's wording (`apimachinery/pkg/util/mergepatch/errors.go`), so that clients matching
// on messages see the same text.
const ERR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
const ERR_LIST_OF_LISTS: &str = "lists of lists are not supported";

/// Applies a strategic merge patch to `target`, an object of kind `kind`, and returns the result.
///
/// # Errors
///
/// [`PatchError::BadRequest`] when the patch is not an object or a directive is malformed,
/// [`PatchError::Invalid`] for lists of lists, and [`PatchError::Unclassified`] for the failures
/// the apiserver does not classify either (an element without its merge key, an unknown `$patch`,
/// list elements of different types, a patch list out of its `$setElementOrder` order).
///
/// Kinds outside the merge-key table (custom resources among them) are patched with the defaults:
/// only `metadata` lists merge. The apiserver refuses this patch type for custom resources with 415;
/// that decision belongs to the caller, which knows whether a resource is built in.
pub fn strategic_merge_patch(target: &Value, patch: &Value, kind: GroupKind<'_>) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::BadRequest(format!(
            "strategic merge patch must be a JSON object, got {}",
            kind_of(patch)
        )));
    };
    let Value::Object(current) = target else {
        return Err(PatchError::Unclassified(format!("cannot patch {}: not a JSON object", kind_of(target))));
    };
    let merged = merge_map(Some(current.clone()), patch.clone(), merge_keys::root(kind))?;
    // `$patch: delete` at the top leaves an empty object, as in the apiserver.
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// Merges `patch` into `current` (absent: the patch is materialized on its own, which processes and
/// removes its directives). `None` means the map is deleted (`$patch: delete`).
fn merge_map(
    current: Option<Map<String, Value>>,
    mut patch: Map<String, Value>,
    schema: Schema,
) -> Result<Option<Map<String, Value>>, PatchError> {
    if let Some(directive) = take_key(&mut patch, PATCH) {
        match directive.as_str() {
            Some("replace") => return merge_map(None, patch, schema),
            Some("delete") => return Ok(None),
            Some("merge") => {}
            _ => return Err(unknown_patch_type(&directive, &patch)),
        }
    }
    let mut result = current.unwrap_or_default();

    if let Some(retained) = take_key(&mut patch, RETAIN_KEYS) {
        retain_keys(&mut result, &patch, &retained)?;
    }

    // `$setElementOrder` first: it merges its list itself, which must happen before the plain
    // fields are walked (they then no longer contain that list).
    let orders: Vec<String> = patch.keys().filter(|key| key.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for key in orders {
        let Some(Value::Array(order)) = take_key(&mut patch, &key) else {
            return Err(PatchError::BadRequest(ERR_SET_ELEMENT_ORDER.to_owned()));
        };
        let name = directive_field(&key, SET_ELEMENT_ORDER)
            .ok_or_else(|| PatchError::BadRequest(ERR_SET_ELEMENT_ORDER.to_owned()))?;
        let patch_list = take_key(&mut patch, name);
        let current_list = result.get_mut(name).map(std::mem::take);
        if let Some(list) = ordered_list(current_list, patch_list, &order, schema.field(name))? {
            result.insert(name.to_owned(), list);
        } else {
            remove_key(&mut result, name);
        }
    }

    // Deletions from primitive lists go last, after any additions to the same list.
    let mut deletions = Vec::new();
    for (key, value) in patch {
        if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((key, value));
        } else {
            merge_field(&mut result, key, value, schema)?;
        }
    }
    for (key, value) in deletions {
        delete_from_primitive_list(&mut result, &key, value)?;
    }
    Ok(Some(result))
}

fn merge_field(result: &mut Map<String, Value>, key: String, value: Value, schema: Schema) -> Result<(), PatchError> {
    if value.is_null() {
        remove_key(result, &key);
        return Ok(());
    }
    let field = schema.field(&key);
    match result.get_mut(&key) {
        None => {
            if let Some(value) = materialize(value, field)? {
                result.insert(key, value);
            }
        }
        Some(slot) => {
            let current = std::mem::take(slot);
            match merge_value(current, value, field)? {
                Some(merged) => *slot = merged,
                None => remove_key(result, &key),
            }
        }
    }
    Ok(())
}

fn merge_value(current: Value, patch: Value, field: Field) -> Result<Option<Value>, PatchError> {
    match (current, patch) {
        (Value::Object(current), Value::Object(patch)) if field.strategy != Strategy::Replace => {
            Ok(merge_map(Some(current), patch, field.schema)?.map(Value::Object))
        }
        (Value::Array(current), Value::Array(patch)) => Ok(Some(Value::Array(merge_list(current, patch, field)?))),
        // A scalar, a change of type, or a map tagged `replace`: the patch's value wins.
        (_, patch) => materialize(patch, field),
    }
}

/// A patch value that is taken as it is (nothing to merge into): its directives are processed
/// against nothing, which also removes them.
fn materialize(value: Value, field: Field) -> Result<Option<Value>, PatchError> {
    match value {
        Value::Object(map) => Ok(merge_map(None, map, field.schema)?.map(Value::Object)),
        Value::Array(items) => Ok(Some(Value::Array(merge_list(Vec::new(), items, field)?))),
        scalar => Ok(Some(scalar)),
    }
}

fn merge_list(current: Vec<Value>, patch: Vec<Value>, field: Field) -> Result<Vec<Value>, PatchError> {
    let key = match field.strategy {
        Strategy::MergeByKey(key) => Some(key),
        Strategy::MergeSet => None,
        Strategy::Default | Strategy::Replace => return replace_list(patch, field.schema),
    };
    if current.is_empty() && patch.is_empty() {
        return Ok(current);
    }
    match (elements_are_objects(&current, &patch)?, key) {
        (false, _) => Ok(merge_set(current, patch)),
        (true, Some(key)) => merge_keyed(current, patch, key, field.schema),
        (true, None) => Err(PatchError::Unclassified("cannot merge lists without merge key for type map".to_owned())),
    }
}

/// The list of a field that is not merged: the patch's list, with its directives processed.
/// A bare `{"$patch": "replace"}` marker is dropped (it asks for what happens anyway).
fn replace_list(patch: Vec<Value>, schema: Schema) -> Result<Vec<Value>, PatchError> {
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        let item = match item {
            Value::Object(map) if is_bare_directive(&map) => None,
            Value::Object(map) => merge_map(None, map, schema)?.map(Value::Object),
            Value::Array(list) => Some(Value::Array(replace_list(list, Schema::Untagged)?)),
            scalar => Some(scalar),
        };
        items.extend(item);
    }
    Ok(items)
}

/// Whether a merged list holds objects (`true`) or primitives. Mixed lists and lists of lists are
/// refused, as by the apiserver.
fn elements_are_objects(current: &[Value], patch: &[Value]) -> Result<bool, PatchError> {
    let mut objects = None;
    for item in current.iter().chain(patch) {
        if item.is_array() {
            return Err(PatchError::Invalid(ERR_LIST_OF_LISTS.to_owned()));
        }
        match objects {
            None => objects = Some(item.is_object()),
            Some(objects) if objects != item.is_object() => {
                return Err(PatchError::Unclassified(format!(
                    "list element types are not identical: {} and {}",
                    Value::Array(current.to_vec()),
                    Value::Array(patch.to_vec())
                )));
            }
            Some(_) => {}
        }
    }
    Ok(objects.unwrap_or(false))
}

/// A list of primitives merged as a set: the union without duplicates, ordered as described in the
/// module docs.
fn merge_set(current: Vec<Value>, patch: Vec<Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::with_capacity(current.len() + patch.len());
    for item in current.iter().chain(&patch) {
        if !merged.contains(item) {
            merged.push(item.clone());
        }
    }
    let current_ids: Vec<Option<&Value>> = current.iter().map(Some).collect();
    let patch_ids: Vec<Option<&Value>> = patch.iter().map(Some).collect();
    reorder(merged, &patch_ids, &current_ids, |item| Some(item))
}

/// A list of objects merged by `key`.
fn merge_keyed(
    current: Vec<Value>,
    patch: Vec<Value>,
    key: &'static str,
    schema: Schema,
) -> Result<Vec<Value>, PatchError> {
    let mut merged = current;
    let mut elements = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(mut element) = item else { continue };
        let Some(directive) = element.get(PATCH).cloned() else {
            elements.push(element);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let id = element.get(key).ok_or_else(|| no_merge_key(&element, key))?;
                merged.retain(|item| item.get(key) != Some(id));
            }
            Some("replace" | "merge") => {
                replace |= directive.as_str() == Some("replace");
                remove_key(&mut element, PATCH);
                if !element.is_empty() {
                    elements.push(element);
                }
            }
            _ => return Err(unknown_patch_type(&directive, &element)),
        }
    }
    if replace {
        let mut items = Vec::with_capacity(elements.len());
        for element in elements {
            items.extend(merge_map(None, element, schema)?.map(Value::Object));
        }
        return Ok(items);
    }

    let server_order = merged.clone();
    let mut patch_ids = Vec::with_capacity(elements.len());
    for element in elements {
        let id = element.get(key).cloned().ok_or_else(|| no_merge_key(&element, key))?;
        match merged.iter().position(|item| item.get(key) == Some(&id)) {
            Some(index) => {
                let current = match std::mem::take(&mut merged[index]) {
                    Value::Object(map) => Some(map),
                    _ => None,
                };
                match merge_map(current, element, schema)? {
                    Some(map) => merged[index] = Value::Object(map),
                    None => {
                        merged.remove(index);
                    }
                }
            }
            None => merged.extend(merge_map(None, element, schema)?.map(Value::Object)),
        }
        patch_ids.push(id);
    }
    let patch_ids: Vec<Option<&Value>> = patch_ids.iter().map(Some).collect();
    let server_ids: Vec<Option<&Value>> = server_order.iter().map(|item| item.get(key)).collect();
    Ok(reorder(merged, &patch_ids, &server_ids, |item| item.get(key)))
}

/// The list of field `field` under `$setElementOrder`: merged as usual, then ordered by `order`.
/// `None` when there is no such list at all.
fn ordered_list(
    current: Option<Value>,
    patch: Option<Value>,
    order: &[Value],
    field: Field,
) -> Result<Option<Value>, PatchError> {
    let key = match field.strategy {
        Strategy::MergeByKey(key) => Some(key),
        _ => None,
    };
    let id = move |item: &Value| -> Option<Value> {
        match key {
            Some(key) => item.get(key).cloned(),
            None => Some(item.clone()),
        }
    };
    let current = match current {
        None => None,
        Some(Value::Array(items)) => Some(items),
        Some(other) => {
            return Err(PatchError::Unclassified(format!("expected a list, but received {}", kind_of(&other))));
        }
    };
    let patch = match patch {
        None => None,
        Some(Value::Array(items)) => Some(items),
        Some(other) => {
            return Err(PatchError::Unclassified(format!("expected a list, but received {}", kind_of(&other))));
        }
    };
    let order_ids: Vec<Option<Value>> = order.iter().map(id).collect();
    if let Some(patch) = &patch {
        check_order(patch, &order_ids, order, id)?;
    }
    let server_ids: Vec<Option<Value>> = current.iter().flatten().map(id).collect();
    let merged = match (current, patch) {
        (None, None) => return Ok(None),
        (Some(current), None) => current,
        (current, Some(patch)) => merge_list(current.unwrap_or_default(), patch, field)?,
    };
    let order_refs: Vec<Option<&Value>> = order_ids.iter().map(Option::as_ref).collect();
    let server_refs: Vec<Option<&Value>> = server_ids.iter().map(Option::as_ref).collect();
    let ordered = match key {
        Some(key) => reorder(merged, &order_refs, &server_refs, |item| item.get(key)),
        None => reorder(merged, &order_refs, &server_refs, |item| Some(item)),
    };
    Ok(Some(Value::Array(ordered)))
}

/// The elements a patch list sends must appear in its `$setElementOrder` list in the same relative
/// order; the apiserver refuses the patch otherwise.
fn check_order(
    patch: &[Value],
    order_ids: &[Option<Value>],
    order: &[Value],
    id: impl Fn(&Value) -> Option<Value>,
) -> Result<(), PatchError> {
    let mut position = 0;
    for item in patch.iter().filter(|item| item.get(PATCH).is_none()) {
        let item_id = id(item);
        match order_ids[position..].iter().position(|candidate| *candidate == item_id) {
            Some(offset) => position += offset + 1,
            None => {
                return Err(PatchError::Unclassified(format!(
                    "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
                    Value::Array(patch.to_vec()),
                    Value::Array(order.to_vec())
                )));
            }
        }
    }
    Ok(())
}

/// Orders a merged list: the elements whose id is in `wanted` in that order, the others in
/// `server` order, then interleaves the two runs by `server` order where both elements have a
/// place in it, and otherwise takes the `wanted` run first (the apiserver's `mergeSortedSlice`).
fn reorder(
    merged: Vec<Value>,
    wanted: &[Option<&Value>],
    server: &[Option<&Value>],
    id: impl Fn(&Value) -> Option<&Value>,
) -> Vec<Value> {
    let position = |ids: &[Option<&Value>], item: &Value| -> Option<usize> {
        let item_id = id(item)?;
        ids.iter().position(|candidate| *candidate == Some(item_id))
    };
    let (mut named, mut rest): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|item| position(wanted, item).is_some());
    named.sort_by_cached_key(|item| position(wanted, item));
    rest.sort_by_cached_key(|item| position(server, item).unwrap_or(usize::MAX));

    let mut ordered = Vec::with_capacity(named.len() + rest.len());
    let mut named = named.into_iter().peekable();
    let mut rest = rest.into_iter().peekable();
    loop {
        let take_rest = match (rest.peek(), named.peek()) {
            (Some(left), Some(right)) => matches!(
                (position(server, left), position(server, right)),
                (Some(left), Some(right)) if left < right
            ),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_rest { rest.next() } else { named.next() };
        ordered.extend(next);
    }
    ordered
}

fn retain_keys(
    result: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    retained: &Value,
) -> Result<(), PatchError> {
    let Value::Array(retained) = retained else {
        return Err(PatchError::BadRequest(ERR_RETAIN_KEYS.to_owned()));
    };
    let retained: Vec<&str> = retained.iter().filter_map(Value::as_str).collect();
    let sent_but_not_retained = patch.iter().any(|(key, value)| {
        !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !key.starts_with(SET_ELEMENT_ORDER)
            && !retained.contains(&key.as_str())
    });
    if sent_but_not_retained {
        return Err(PatchError::BadRequest(ERR_RETAIN_KEYS.to_owned()));
    }
    result.retain(|key, _| retained.contains(&key.as_str()));
    Ok(())
}

fn delete_from_primitive_list(result: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), PatchError> {
    let name = directive_field(key, DELETE_FROM_PRIMITIVE_LIST)
        .ok_or_else(|| PatchError::BadRequest(ERR_PRIMITIVE_LIST.to_owned()))?;
    let Value::Array(doomed) = value else {
        return Err(PatchError::BadRequest(ERR_PRIMITIVE_LIST.to_owned()));
    };
    if let Some(Value::Array(items)) = result.get_mut(name) {
        items.retain(|item| !doomed.contains(item));
    }
    Ok(())
}

/// The field a prefixed directive key (`$setElementOrder/containers`) names.
fn directive_field<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix && !field.is_empty() => Some(field),
        _ => None,
    }
}

/// A list element that only carries `$patch` (a list-level marker, not an element).
fn is_bare_directive(map: &Map<String, Value>) -> bool {
    map.len() == 1 && map.contains_key(PATCH)
}

/// Takes a key's value out of a map without disturbing the order of the others.
fn take_key(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let value = map.get_mut(key).map(std::mem::take)?;
    remove_key(map, key);
    Some(value)
}

/// Removes a key without disturbing the order of the others (`Map::remove` swaps the last key into
/// its place when `serde_json/preserve_order` is on).
fn remove_key(map: &mut Map<String, Value>, key: &str) {
    map.retain(|candidate, _| candidate != key);
}

fn unknown_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    PatchError::Unclassified(format!("unknown patch type: {directive} in map: {}", Value::Object(map.clone())))
}

fn no_merge_key(map: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Unclassified(format!("map: {} does not contain declared merge key: {key}", Value::Object(map.clone())))
}
