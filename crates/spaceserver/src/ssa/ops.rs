//! The two writes that track fields: server-side apply, and every other write (create, update,
//! patch) recorded as an `Update`.

use serde_json::{Map, Value};

use super::conflict::{ApplyError, Conflict};
use super::fieldset::FieldSet;
use super::managers::{
    BEFORE_FIRST_APPLY_MANAGER, ManagerEntry, Operation, Reach, Stored, decode_list, decode_touched, encode_list,
    write_list,
};
use super::merge::{merge, prune};
use super::schema::ListTypes;
use super::stored::ManagedList;
use super::walk::{Comparison, Schema, Scope, config_field_set};

/// Server-side apply of `applied` by `manager` to the main resource. See [`apply_subresource`].
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    types: &dyn ListTypes,
    now: &str,
) -> Result<Value, ApplyError> {
    apply_subresource(live, applied.clone(), manager, None, force, types, now)
}

/// Server-side apply of `applied` by `manager`, to the main resource or to `subresource`
/// (`Some("status")` merges and owns only `status`).
///
/// `live` is the stored object (`None` creates). Returns the new object with
/// `metadata.managedFields` updated; the caller still validates it, bumps `resourceVersion` and
/// stores it. `now` (RFC 3339) is written as the applier's `time`.
///
/// Steps, as in kube-apiserver:
/// 1. an object written without field tracking is first attributed whole to
///    `before-first-apply`, so the applier conflicts on what it would change;
/// 2. the configuration merges into the live object;
/// 3. fields the manager applied last time and no longer applies are removed unless another
///    manager owns them;
/// 4. every field whose value changed and that another manager owns is a conflict, an error
///    unless `force`, which takes the field from them;
/// 5. the manager's `Apply` entry becomes exactly the configuration's fields.
///
/// The configuration is consumed: its values become the object's.
pub fn apply_subresource(
    live: Option<&Value>,
    applied: Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    types: &dyn ListTypes,
    now: &str,
) -> Result<Value, ApplyError> {
    let stored = live.map_or(Stored::None, Stored::of);
    let (mut merged, list) = apply_tracked(live, stored, applied, manager, subresource, force, types, now)?;
    write_list(&mut merged, list);
    Ok(merged)
}

/// [`apply_subresource`] over a live object whose stored entries are `stored` (in `live`'s
/// tree, or kept as text by a read that left them out of it). Returns the new object
/// without `metadata.managedFields`, and the list to write.
#[allow(clippy::too_many_arguments)]
pub fn apply_tracked(
    live: Option<&Value>,
    stored: Stored<'_>,
    applied: Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    types: &dyn ListTypes,
    now: &str,
) -> Result<(Value, ManagedList), ApplyError> {
    let scope = Scope::of_write(subresource, types);
    let schema = Schema { types };
    if !applied.is_object() {
        return Err(ApplyError::Invalid("apply configuration must be a JSON object".into()));
    }
    if applied.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::Invalid("metadata.managedFields must be nil".into()));
    }
    let empty = Value::Object(Map::new());
    let base = live.unwrap_or(&empty);
    let api_version = Some(string_field(&applied, "apiVersion"))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| string_field(base, "apiVersion"));
    let config = scope.config(applied);
    let config_set =
        config_field_set(&config, types, scope).map_err(|errors| ApplyError::Invalid(errors.join("\n")))?;
    let me = ManagerEntry {
        manager: manager.to_string(),
        operation: Operation::Apply,
        api_version,
        time: Some(now.to_string()),
        subresource: subresource.map(str::to_string),
        fields: config_set,
    };
    // Merging changes only configured fields and pruning removes only fields of the last
    // applied set, so an entry holding neither's top-level elements can neither conflict nor
    // keep a field: it stays as stored. (At each rollout the placement translator's copy
    // applies pass over the syncer's status entry this way.)
    let (mut managers, undecoded) =
        decode_touched(stored, &Reach { me: &me, touched: &me.fields, prunes_mine: true }, None)?;
    if let Some(obj) = live
        && managers.is_empty()
        && undecoded.is_empty()
    {
        let owned = Comparison::of(None, obj, types, scope).added;
        managers.push(ManagerEntry {
            manager: BEFORE_FIRST_APPLY_MANAGER.to_string(),
            operation: Operation::Update,
            api_version: string_field(obj, "apiVersion"),
            time: Some(now.to_string()),
            subresource: None,
            fields: owned,
        });
    }
    let mut merged = merge(&schema, base, config).map_err(ApplyError::Invalid)?;

    let (mine, mut others): (Vec<ManagerEntry>, Vec<ManagerEntry>) =
        managers.into_iter().partition(|e| e.same_manager(&me));
    if let Some(last) = mine.into_iter().next() {
        let keep = others.iter().fold(me.fields.clone(), |mut acc, e| {
            acc.absorb(&e.fields);
            acc
        });
        prune(&schema, &mut merged, &last.fields, &keep);
    }

    let mut diff = Comparison::of(live, &merged, types, scope);
    let changed = diff.take_changed();
    let conflicts = conflicts_with(&others, &changed);
    if !force && !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(conflicts));
    }
    for other in &mut others {
        other.fields.subtract(&changed);
        other.fields.subtract(&diff.removed);
    }
    others.push(me);
    if let Some(meta) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    Ok((merged, encode_list(others, undecoded)))
}

/// Records an ordinary write (create, update, patch; `old` is `None` on create) by `manager`:
/// the fields this write added or changed move to the manager's `Update` entry (for
/// `subresource` if given) and out of every other entry; removed fields leave every entry.
/// Returns `new` with `metadata.managedFields` set.
///
/// The managed fields to start from are the ones the request carries when it carries a
/// non-empty, readable list (a client may rewrite them; sending back what it read changes
/// nothing), otherwise the stored ones. A list holding one empty entry (`[{}]`) therefore
/// resets tracking, and an empty list (`[]`) does not: Kubernetes' documented way to clear
/// `managedFields`, chosen so that clients unaware of the field never clear it by accident.
/// Writes to a subresource always start from the stored entries.
pub fn update(
    old: Option<&Value>,
    new: Value,
    manager: &str,
    subresource: Option<&str>,
    types: &dyn ListTypes,
    now: &str,
) -> Value {
    if !new.is_object() {
        return new;
    }
    let stored = old.map_or(Stored::None, Stored::of);
    let (mut new, list) = update_tracked(old, stored, new, manager, subresource, types, now);
    write_list(&mut new, list);
    new
}

/// [`update`], for an object whose stored entries are `stored` (in `old`'s tree, or kept as
/// text by a read that left them out of it). Returns `new` without `metadata.managedFields`,
/// and the list to write.
pub fn update_tracked(
    old: Option<&Value>,
    stored: Stored<'_>,
    mut new: Value,
    manager: &str,
    subresource: Option<&str>,
    types: &dyn ListTypes,
    now: &str,
) -> (Value, ManagedList) {
    let scope = Scope::of_write(subresource, types);
    let mut diff = Comparison::of(old, &new, types, scope);
    let changed = diff.take_changed();
    let me = ManagerEntry {
        manager: manager.to_string(),
        operation: Operation::Update,
        api_version: string_field(&new, "apiVersion"),
        time: Some(now.to_string()),
        subresource: subresource.map(str::to_string),
        fields: FieldSet::new(),
    };
    // Taken out of `new`, which is returned without a list. A patch leaves the stored
    // entries in `new`: those are read as stored ones.
    let mut carried = new.get_mut("metadata").and_then(Value::as_object_mut).and_then(|m| m.remove("managedFields"));
    let as_stored = carried.as_ref().is_some_and(|c| stored.is(c));
    let sent = match &carried {
        Some(list @ Value::Array(items)) if !items.is_empty() && subresource.is_none() && !as_stored => {
            decode_list(Some(list)).ok()
        }
        _ => None,
    };
    // Unreadable stored entries are dropped rather than failing the write, as kube-apiserver
    // does for non-apply writes. Of the stored ones, only those holding a top-level field
    // this write changed or removed are decoded: the others come out as they went in.
    let (mut managers, undecoded) = match sent {
        Some(sent) => (sent, Vec::new()),
        // Nothing stored (a create): no entries to reach.
        None if matches!(stored, Stored::None) => (Vec::new(), Vec::new()),
        None => {
            let mut touched = changed.clone();
            touched.absorb(&diff.removed);
            let carried = match &mut carried {
                Some(Value::Array(items)) if as_stored => Some(items.as_mut_slice()),
                _ => None,
            };
            decode_touched(stored, &Reach { me: &me, touched: &touched, prunes_mine: false }, carried)
                .unwrap_or_default()
        }
    };
    let mut found = false;
    for entry in &mut managers {
        if entry.same_manager(&me) {
            found = true;
            entry.fields.subtract(&diff.removed);
            if !changed.is_empty() {
                entry.fields.absorb(&changed);
                entry.time = me.time.clone();
            }
        } else {
            entry.fields.subtract(&changed);
            entry.fields.subtract(&diff.removed);
        }
    }
    // A write that changed nothing this manager could own leaves no trace (and keeps the
    // timestamp of its last real change).
    if !found && !changed.is_empty() {
        managers.push(ManagerEntry { fields: changed, ..me });
    }
    (new, encode_list(managers, undecoded))
}

/// The fields in `changed` that each of `others` owns, one conflict per field, managers in
/// sorted order.
fn conflicts_with(others: &[ManagerEntry], changed: &FieldSet) -> Vec<Conflict> {
    let mut sorted: Vec<&ManagerEntry> = others.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.manager, a.operation, &a.api_version, &a.subresource).cmp(&(
            &b.manager,
            b.operation,
            &b.api_version,
            &b.subresource,
        ))
    });
    let mut out = Vec::new();
    for entry in sorted {
        for path in entry.fields.intersection(changed).paths() {
            out.push(Conflict {
                manager: entry.manager.clone(),
                operation: entry.operation,
                api_version: entry.api_version.clone(),
                subresource: entry.subresource.clone(),
                field: path.to_string(),
            });
        }
    }
    out
}

fn string_field(obj: &Value, name: &str) -> String {
    obj.get(name).and_then(Value::as_str).unwrap_or_default().to_string()
}
