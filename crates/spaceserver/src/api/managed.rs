//! The bridge between the request handlers and field tracking (`crate::ssa`): which schema
//! facts a resource merges with, and Status errors for failed applies.

use super::Result;
use super::object;
use super::resources::ResourceInfo;
use super::status::ApiError;
use crate::ssa::{self, ApplyError, BuiltinListTypes, CrdListTypes, ListTypes};
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};

fn types_for(info: &ResourceInfo) -> Box<dyn ListTypes> {
    match &info.schema {
        Some(schema) => Box::new(CrdListTypes::from_schema(schema.clone()).with_status_subresource(info.has_status)),
        None if info.custom => {
            static ANY_OBJECT: LazyLock<Arc<Value>> = LazyLock::new(|| Arc::new(json!({"type": "object"})));
            Box::new(CrdListTypes::from_schema(ANY_OBJECT.clone()).with_status_subresource(info.has_status))
        }
        None => Box::new(BuiltinListTypes::for_kind(&info.api_version(), &info.kind)),
    }
}

/// Records an ordinary write (`old` → `obj`) as an `Update` by `manager`.
pub(super) fn record_update(
    obj: &mut Value,
    old: Option<&Value>,
    manager: &str,
    subresource: Option<&str>,
    info: &ResourceInfo,
) -> Result<()> {
    *obj = ssa::update(old, std::mem::take(obj), manager, subresource, types_for(info).as_ref(), &object::now());
    Ok(())
}

/// [`record_update`] of a create: the object without `managedFields`, and its list, kept
/// apart to be written into the stored object as text ([`super::body::object_bytes_with`])
/// instead of built into the object's tree.
pub(super) fn record_created(obj: Value, manager: &str, info: &ResourceInfo) -> (Value, ssa::ManagedList) {
    let types = types_for(info);
    ssa::update_tracked(None, ssa::Stored::None, obj, manager, None, types.as_ref(), &object::now())
}

/// [`record_update`] of a write over an object read lean: `old` without `managedFields`,
/// `stored` its entries. Returns the object without a list, and its list.
pub(super) fn record_tracked(
    obj: Value,
    old: &Value,
    stored: &ssa::StoredEntries,
    manager: &str,
    subresource: Option<&str>,
    info: &ResourceInfo,
) -> (Value, ssa::ManagedList) {
    let types = types_for(info);
    ssa::update_tracked(Some(old), ssa::Stored::Text(stored), obj, manager, subresource, types.as_ref(), &object::now())
}

/// [`apply`] over an object read lean: `live` without `managedFields`, `stored` its
/// entries. Returns the object without a list, and its list.
pub(super) fn apply_tracked(
    live: &Value,
    stored: &ssa::StoredEntries,
    applied: Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    info: &ResourceInfo,
) -> Result<(Value, ssa::ManagedList)> {
    let types = types_for(info);
    let stored = ssa::Stored::Text(stored);
    ssa::apply_tracked(Some(live), stored, applied, manager, subresource, force, types.as_ref(), &object::now())
        .map_err(apply_error)
}

/// Server-side apply of `applied` creating the object: the object without
/// `managedFields`, and its list, kept apart as [`record_created`] keeps a create's.
pub(super) fn apply_created(
    applied: Value,
    manager: &str,
    force: bool,
    info: &ResourceInfo,
) -> Result<(Value, ssa::ManagedList)> {
    let types = types_for(info);
    ssa::apply_tracked(None, ssa::Stored::None, applied, manager, None, force, types.as_ref(), &object::now())
        .map_err(apply_error)
}

/// Server-side apply of `applied` over `live`.
pub(super) fn apply(
    live: Option<&Value>,
    applied: Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    info: &ResourceInfo,
) -> Result<Value> {
    ssa::apply_subresource(live, applied, manager, subresource, force, types_for(info).as_ref(), &object::now())
        .map_err(apply_error)
}

fn apply_error(e: ApplyError) -> ApiError {
    match &e {
        ApplyError::Conflicts(_) => {
            ApiError::new(409, "Conflict", e.message()).with_details(json!({"causes": e.causes()}))
        }
        _ => ApiError::new(e.code(), "InternalError", e.message()),
    }
}
