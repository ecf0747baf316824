//! `PATCH`: JSON merge patch, JSON patch, strategic merge patch (built-in kinds only) and
//! server-side apply, on the main resource, `/status` and `/scale`.

use super::body::{self, parse_document};
use super::crud::{self, check_type, field_manager, guaranteed_update_with, present};
use super::current::{Read, STATUS_WRITE_READS};
use super::object::{self, meta_str};
use super::status::ApiError;
use super::{ApiServer, Ctx, Result, json_response, validate};
use crate::patch::{GroupKind, PatchError, json_patch, merge_patch, strategic_merge_patch};
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

const MERGE: &str = "application/merge-patch+json";
const JSON: &str = "application/json-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

fn patch_error(e: PatchError) -> ApiError {
    let reason = match e.reason() {
        "" => "InternalError",
        r => r,
    };
    let err = ApiError::new(e.status_code(), reason, e.message());
    match e {
        // The apiserver keeps what failed in a cause, since its message is generic.
        PatchError::TestFailed { .. } | PatchError::MissingPath { .. } | PatchError::Invalid(_) => {
            err.with_details(serde_json::json!({"causes": [{"message": e.to_string()}]}))
        }
        _ => err,
    }
}

pub(super) async fn patch(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    let media = body::content_type(req.headers());
    if ![MERGE, JSON, STRATEGIC, APPLY].contains(&media.as_str()) {
        return Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: {JSON}, {MERGE}, {APPLY}{}",
            if ctx.info.custom { "" } else { ", application/strategic-merge-patch+json" }
        )));
    }
    if media == STRATEGIC && ctx.info.custom {
        return Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: {JSON}, {MERGE}, {APPLY}"
        )));
    }
    match ctx.path.subresource.as_deref() {
        None => {}
        Some("status") if ctx.info.has_status => {}
        Some("scale") if ctx.info.scale.is_some() => {}
        Some(_) => return Err(ApiError::no_route()),
    }
    let manager = field_manager(&ctx, req.headers());
    let bytes = body::read(req.into_body()).await?;
    let patch_doc = parse_document(&bytes, &media)?;
    let name = ctx.path.name.clone().unwrap_or_default();
    if media == APPLY {
        return apply(server, ctx, &name, patch_doc, &bytes, manager).await;
    }
    let group_kind = (ctx.info.group.clone(), ctx.info.kind.clone());
    let patch_fn = |base: Value| -> Result<Value> {
        match media.as_str() {
            MERGE => merge_patch(base, &patch_doc),
            JSON => json_patch(base, &patch_doc),
            _ => strategic_merge_patch(&base, &patch_doc, GroupKind::new(&group_kind.0, &group_kind.1)),
        }
        .map_err(patch_error)
    };
    if ctx.path.subresource.as_deref() == Some("scale") {
        let main = ctx.at(ctx.path.namespace.clone(), ctx.path.name.clone(), None);
        let crud::Updated { obj, .. } = guaranteed_update_with(server, &main, &name, Read::Whole, |read| {
            let current = &read.obj;
            let mut scale = validate::scale_of(&ctx, current);
            object::forget_revision(&mut scale);
            let patched = patch_fn(scale)?;
            let replicas = patched.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
            let mut next = validate::with_replicas(&ctx, current, replicas)?;
            object::forget_revision(&mut next);
            crud::updated(&main, read, next, &manager)
        })
        .await?;
        return Ok(json_response(200, &validate::scale_of(&ctx, &present(&ctx, obj))));
    }
    let read_as = read_for(&media, &patch_doc, validate::status_write_reads_only_status(&ctx));
    guaranteed_update_with(server, &ctx, &name, read_as, |read| {
        let current = &read.obj;
        let mut base = present(&ctx, current.clone());
        object::forget_revision(&mut base);
        let patched = patch_fn(base)?;
        if !patched.is_object() {
            return Err(ApiError::bad_request("the patch does not produce an object"));
        }
        check_type(&ctx, &patched)?;
        if meta_str(&patched, "name") != meta_str(current, "name") {
            return Err(ApiError::bad_request("metadata.name cannot be changed by a patch"));
        }
        crud::updated(&ctx, read, patched, &manager)
    })
    .await?
    .answer(&ctx)
}

/// How a patch reads the stored object: lean unless the patch can reach `managedFields`
/// (then they are part of what it patches); for a status write that reads only the fields
/// such a write reads (`status_write`: its kind allows it), without the others when the
/// patch reaches nothing else either.
fn read_for(media: &str, patch: &Value, status_write: bool) -> Read {
    if reaches_managed_fields(media, patch) {
        Read::Whole
    } else if status_write && reaches_only_status_write_fields(media, patch) {
        Read::Status
    } else {
        Read::Lean
    }
}

/// Whether a patch reads and changes nothing but `apiVersion`, `kind`, `metadata` and
/// `status`: a JSON patch whose every path (and `from`) is in one of them, or a merge
/// patch (strategic or not) naming only them, without directives at the top.
fn reaches_only_status_write_fields(media: &str, patch: &Value) -> bool {
    if media == JSON {
        let Value::Array(ops) = patch else { return false };
        let within = |path: &Value| {
            path.as_str()
                .and_then(|p| p.strip_prefix('/'))
                .is_some_and(|p| STATUS_WRITE_READS.contains(&p.split('/').next().unwrap_or_default()))
        };
        return ops.iter().all(|op| within(&op["path"]) && op.get("from").is_none_or(within));
    }
    let Value::Object(top) = patch else { return false };
    top.keys().all(|k| STATUS_WRITE_READS.contains(&k.as_str()))
}

/// Whether a patch may read or change `metadata.managedFields`: a JSON patch operating at
/// or above that path, or a merge patch (strategic or not) naming it or replacing
/// `metadata` whole. Directives of a strategic merge patch count as reaching it.
fn reaches_managed_fields(media: &str, patch: &Value) -> bool {
    const PATH: &str = "/metadata/managedFields";
    if media == JSON {
        let Value::Array(ops) = patch else { return true };
        return ops.iter().any(|op| {
            ["path", "from"].iter().any(|field| match op.get(*field) {
                None => false,
                Some(Value::String(p)) => {
                    p.is_empty() || p == "/metadata" || p == PATH || p.starts_with("/metadata/managedFields/")
                }
                Some(_) => true,
            })
        });
    }
    let Value::Object(top) = patch else { return true };
    if top.keys().any(|k| k.starts_with('$')) {
        return true;
    }
    match top.get("metadata") {
        None => false,
        Some(Value::Object(meta)) => meta.keys().any(|k| k == "managedFields" || k.starts_with('$')),
        Some(_) => true,
    }
}

/// Server-side apply: create when absent, else merge with field ownership. `body` is the
/// request's text, which `applied` was read from.
async fn apply(
    server: &Arc<ApiServer>,
    ctx: Ctx,
    name: &str,
    applied: Value,
    body: &[u8],
    manager: String,
) -> Result<Response> {
    if ctx.params.field_manager.is_none() {
        return Err(ApiError::bad_request(
            "PATCH with application/apply-patch+yaml requires the fieldManager parameter",
        ));
    }
    if !applied.is_object() {
        return Err(ApiError::bad_request("an apply configuration must be an object"));
    }
    check_type(&ctx, &applied)?;
    if meta_str(&applied, "name").is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta_str(&applied, "name").unwrap_or_default()
        )));
    }
    let force = ctx.params.force.unwrap_or(false);
    let exists = server
        .store
        .get(&ctx.key(ctx.path.namespace.as_deref().unwrap_or_default(), name))
        .await
        .ok()
        .flatten()
        .is_some();
    if !exists {
        if ctx.path.subresource.is_some() {
            return Err(ApiError::not_found(&ctx.subject(name)));
        }
        let (mut obj, list) = super::managed::apply_created(applied, &manager, force, &ctx.info)?;
        obj["metadata"]["name"] = Value::String(name.to_owned());
        return crud::create_object(server, ctx, obj, crud::Tracking::Made(list)).await;
    }
    let expected = match meta_str(&applied, "resourceVersion") {
        Some(rv) if !rv.is_empty() => {
            Some(rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?)
        }
        _ => None,
    };
    let keeps_revision = applied.pointer("/metadata/resourceVersion").is_some();
    // The merge consumes its configuration. The first attempt merges this one; one retried
    // after a conflicting write reads the body again (a copy for every attempt was a
    // tenth of the work of applying a large object).
    let mut first = Some(applied);
    guaranteed_update_with(server, &ctx, name, Read::Lean, |read| {
        let current = &read.obj;
        let config = match first.take() {
            Some(config) => config,
            None => parse_document(body, APPLY)?,
        };
        // Merged over the stored object as it is, not over a copy without its
        // resourceVersion (at 10,000 rows a copy is ten megabytes); the stored revision
        // is then taken out again unless the configuration's own replaced it.
        let subresource = ctx.path.subresource.as_deref();
        let (mut merged, list) = match &read.managed {
            Some(stored) => {
                let (merged, list) =
                    super::managed::apply_tracked(current, stored, config, &manager, subresource, force, &ctx.info)?;
                (merged, Some(list))
            }
            None => (super::managed::apply(Some(current), config, &manager, subresource, force, &ctx.info)?, None),
        };
        if subresource.is_some() || !keeps_revision {
            object::forget_revision(&mut merged);
        }
        let (outcome, _) = crud::updated_with(&ctx, read, merged, crud::Fields::Applied(list))?;
        Ok((outcome, expected))
    })
    .await?
    .answer(&ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn how_patches_read_the_stored_object() {
        let add_status = json!([{"op": "add", "path": "/status", "value": {"replicas": 1}}]);
        let cases = [
            ("merge, status only", MERGE, json!({"status": {"replicas": 1}}), true, Read::Status),
            ("merge, not a status write", MERGE, json!({"status": {"replicas": 1}}), false, Read::Lean),
            (
                "merge, head fields",
                MERGE,
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"resourceVersion": "3"}, "status": {}}),
                true,
                Read::Status,
            ),
            ("merge, spec", MERGE, json!({"spec": {"replicas": 2}, "status": {}}), true, Read::Lean),
            ("merge, managedFields", MERGE, json!({"metadata": {"managedFields": []}}), true, Read::Whole),
            ("merge, not an object", MERGE, json!(null), true, Read::Whole),
            ("strategic, status only", STRATEGIC, json!({"status": {"conditions": []}}), true, Read::Status),
            ("strategic, directive", STRATEGIC, json!({"$patch": "replace", "status": {}}), true, Read::Whole),
            ("json, add /status", JSON, add_status.clone(), true, Read::Status),
            ("json, add /status elsewhere", JSON, add_status, false, Read::Lean),
            (
                "json, under status",
                JSON,
                json!([{"op": "replace", "path": "/status/replicas", "value": 2},
                {"op": "test", "path": "/metadata/name", "value": "d"}]),
                true,
                Read::Status,
            ),
            (
                "json, test spec",
                JSON,
                json!([{"op": "test", "path": "/spec/replicas", "value": 1},
                {"op": "add", "path": "/status", "value": {}}]),
                true,
                Read::Lean,
            ),
            (
                "json, copy from spec",
                JSON,
                json!([{"op": "copy", "from": "/spec/replicas",
                "path": "/status/replicas"}]),
                true,
                Read::Lean,
            ),
            ("json, status prefix", JSON, json!([{"op": "add", "path": "/statusX", "value": 1}]), true, Read::Lean),
            ("json, escaped slash", JSON, json!([{"op": "add", "path": "/status~1x", "value": 1}]), true, Read::Lean),
            ("json, root", JSON, json!([{"op": "add", "path": "", "value": {}}]), true, Read::Whole),
            ("json, path not a string", JSON, json!([{"op": "add", "path": 1, "value": {}}]), true, Read::Whole),
            ("json, no ops", JSON, json!([]), true, Read::Status),
        ];
        for (what, media, patch, status_write, want) in cases {
            assert_eq!(read_for(media, &patch, status_write), want, "{what}");
        }
    }

    #[test]
    fn which_patches_reach_managed_fields() {
        let cases = [
            (MERGE, json!({"status": {"replicas": 1}}), false),
            (MERGE, json!({"metadata": {"labels": {"a": "b"}}}), false),
            (MERGE, json!({"metadata": {"managedFields": [{}]}}), true),
            (MERGE, json!({"metadata": null}), true),
            (MERGE, json!(null), true),
            (STRATEGIC, json!({"metadata": {"annotations": {"a": "b"}}}), false),
            (STRATEGIC, json!({"metadata": {"$setElementOrder/finalizers": ["x"]}}), true),
            (STRATEGIC, json!({"$patch": "replace", "spec": {}}), true),
            (JSON, json!([{"op": "replace", "path": "/spec/replicas", "value": 2}]), false),
            (JSON, json!([{"op": "test", "path": "/metadata/name", "value": "x"}]), false),
            (JSON, json!([{"op": "replace", "path": "/metadata/managedFields", "value": [{}]}]), true),
            (JSON, json!([{"op": "remove", "path": "/metadata/managedFields/0"}]), true),
            (JSON, json!([{"op": "copy", "from": "/metadata/managedFields/0/manager", "path": "/spec/x"}]), true),
            (JSON, json!([{"op": "test", "path": "/metadata", "value": {}}]), true),
            (JSON, json!([{"op": "replace", "path": "", "value": {}}]), true),
            (JSON, json!([{"op": "add", "path": "/metadata/managedFieldsX", "value": 1}]), false),
            (JSON, json!({"op": "add"}), true),
        ];
        for (media, patch, want) in cases {
            assert_eq!(reaches_managed_fields(media, &patch), want, "{media} {patch}");
        }
    }
}
