//! Admission of objects: names, defaulting the apiserver does (Secret `stringData`), CRDs,
//! orrery's own kinds, and the `/scale` subresource.

use super::crud::{self, guaranteed_update_with, present};
use super::current::Read;
use super::object::meta_str;
use super::status::ApiError;
use super::{ApiServer, Ctx, Result, json_response, spaces};
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use base64::Engine;
use orrery_api::validation::{FieldError, FieldErrors, FieldPath, names};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Prunes and defaults a custom resource by its schema. With `fieldValidation=Strict`
/// (what kubectl sends), an undeclared field is an error instead of silently dropped.
pub(super) fn apply_schema(ctx: &Ctx, obj: &mut Value) -> Result<()> {
    let Some(schema) = &ctx.info.schema else { return Ok(()) };
    let pruned = super::schema::prune_and_default(obj, schema);
    if !pruned.is_empty() && ctx.params.field_validation.as_deref() == Some("Strict") {
        let fields: Vec<String> =
            pruned.iter().map(|p| format!("unknown field \"{}\"", p.trim_start_matches('.'))).collect();
        return Err(ApiError::bad_request(format!("strict decoding error: {}", fields.join(", "))));
    }
    Ok(())
}

/// What the apiserver fills in before validation.
pub(super) fn normalize(ctx: &Ctx, obj: &mut Value) {
    if ctx.info.group.is_empty()
        && ctx.info.resource == "secrets"
        && let Some(Value::Object(string_data)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        let data = obj.as_object_mut().map(|o| o.entry("data").or_insert_with(|| json!({})));
        if let Some(Value::Object(data)) = data {
            for (k, v) in string_data {
                let text = v.as_str().unwrap_or_default();
                data.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
            }
        }
    }
}

fn name_problems(ctx: &Ctx, name: &str) -> Vec<String> {
    match (ctx.info.group.as_str(), ctx.info.resource.as_str()) {
        ("", "namespaces") | (spaces::GROUP, "spaces") => names::dns1123_label(name),
        ("rbac.authorization.k8s.io", _) => names::path_segment_name(name),
        _ => names::dns1123_subdomain(name),
    }
}

/// Decodes a built-in object into its Go-shaped type, as the apiserver's decoder does: a
/// value of the wrong type is a 400, not something stored for clients to trip over.
///
/// `managedFields` is checked on its own ([`ManagedFieldsEntry`]): decoded into its
/// Go-shaped type, each entry's `fieldsV1` is built as a tree of values only to be
/// dropped, and that was two thirds of checking a Deployment the syncers and the
/// simulated clusters write (`orrery bench scale`).
fn decode_check(ctx: &Ctx, obj: &mut Value) -> Result<()> {
    if ctx.path.subresource.as_deref() == Some("status") && ctx.info.has_status && !ctx.info.custom {
        return decode_check_status(ctx, obj);
    }
    let Some(metadata) = obj.get_mut("metadata") else { return decode_check_typed(ctx, obj) };
    let Some(metadata) = metadata.as_object_mut() else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    if ctx.info.custom {
        return Ok(());
    }
    let Some(managed) = metadata.remove("managedFields") else { return decode_check_typed(ctx, obj) };
    let checked = decode_check_typed(ctx, obj);
    let managed_checked = Vec::<Option<ManagedFieldsEntry>>::deserialize(&managed).map(drop);
    if let Some(metadata) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("managedFields".into(), managed);
    }
    checked?;
    managed_checked.map_err(|e| {
        ApiError::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: metadata.managedFields: {e}",
            ctx.info.version,
            kind = ctx.info.kind
        ))
    })
}

/// A status write changes only `status` (the rest is the stored object, checked when it
/// was written, and `managedFields` the server's own): only `status` is decoded, moved out
/// of the object and back.
fn decode_check_status(ctx: &Ctx, obj: &mut Value) -> Result<()> {
    let Some(top) = obj.as_object_mut() else { return Err(ApiError::bad_request("the object must be a JSON object")) };
    let Some(status) = top.remove("status") else { return Ok(()) };
    let probe = Value::Object(std::iter::once(("status".to_owned(), status)).collect());
    let checked = decode_check_typed(ctx, &probe);
    if let Value::Object(mut probe) = probe
        && let Some(status) = probe.remove("status")
    {
        top.insert("status".into(), status);
    }
    checked
}

/// A `managedFields` entry as the apiserver decodes it, but for `fieldsV1`, which is any
/// JSON there (the field manager reads it, and resets what it cannot).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Read only to be checked.
struct ManagedFieldsEntry {
    api_version: Option<String>,
    fields_type: Option<String>,
    fields_v1: Option<serde::de::IgnoredAny>,
    manager: Option<String>,
    operation: Option<String>,
    subresource: Option<String>,
    time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

fn decode_check_typed(ctx: &Ctx, obj: &Value) -> Result<()> {
    struct Decode<'a>(&'a Value, Option<String>);
    impl super::builtin_types::TypeVisitor for Decode<'_> {
        fn visit<T: schemars::JsonSchema + serde::de::DeserializeOwned>(&mut self) {
            if let Err(e) = T::deserialize(self.0) {
                self.1 = Some(e.to_string());
            }
        }
    }
    if ctx.info.custom {
        return Ok(());
    }
    let (group, kind) = if ctx.info.storage == "core/events" {
        ("", "Event")
    } else {
        (ctx.info.group.as_str(), ctx.info.kind.as_str())
    };
    let mut d = Decode(obj, None);
    super::builtin_types::visit(group, kind, &mut d);
    match d.1 {
        Some(e) => Err(ApiError::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: {e}",
            ctx.info.version
        ))),
        None => Ok(()),
    }
}

/// ConfigMap and Secret data: keys of `[-._a-zA-Z0-9]+`, at most 1 MiB in all.
fn data_problems(ctx: &Ctx, obj: &Value, errs: &mut FieldErrors) {
    if !(ctx.info.group.is_empty() && matches!(ctx.info.resource.as_str(), "configmaps" | "secrets")) {
        return;
    }
    let mut total = 0usize;
    for field in ["data", "binaryData"] {
        for (k, v) in obj.get(field).and_then(Value::as_object).into_iter().flatten() {
            let ok = !k.is_empty()
                && k.len() <= 253
                && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                errs.push(FieldError::invalid(
                    FieldPath::new(field).key(k),
                    k,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name')",
                ));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
    }
    const MAX: usize = 1024 * 1024;
    if total > MAX {
        errs.push(FieldError::invalid(
            FieldPath::new("data"),
            "",
            format!("Too long: may not be more than {MAX} bytes"),
        ));
    }
}

/// Whether a write is a status write whose checks, and whose effects after it is stored,
/// read nothing of the object but `apiVersion`, `kind`, `metadata` and `status`, so that
/// it can leave the rest of the stored object as text ([`Read::Status`]). Built-in kinds,
/// but CRDs (checked whole, and read again after every write) and orrery's own kinds;
/// custom resources are pruned, defaulted and checked by their schema as a whole.
pub(super) fn status_write_reads_only_status(ctx: &Ctx) -> bool {
    let kind = (ctx.info.group.as_str(), ctx.info.resource.as_str());
    ctx.path.subresource.as_deref() == Some("status")
        && ctx.info.has_status
        && !ctx.info.custom
        && ctx.info.schema.is_none()
        && !matches!(kind, ("apiextensions.k8s.io", _) | (spaces::GROUP, _) | (orrery_api::types::GROUP, _))
}

/// Validates an object about to be stored; 422 with every problem.
pub(super) fn object(_server: &Arc<ApiServer>, ctx: &Ctx, obj: &mut Value) -> Result<()> {
    decode_check(ctx, obj)?;
    let name = meta_str(obj, "name").unwrap_or_default();
    let mut errs = FieldErrors::default();
    let meta = FieldPath::new("metadata");
    let prefix = meta_str(obj, "generateName").unwrap_or_default();
    if name.is_empty() && prefix.is_empty() {
        errs.push(FieldError::required(meta.child("name"), "name or generateName is required"));
    } else if name.is_empty() {
        // The name will be the prefix and five characters: the prefix must start a valid name.
        for msg in name_problems(ctx, &format!("{prefix}x")) {
            errs.push(FieldError::invalid(meta.child("generateName"), prefix, msg));
        }
    } else {
        for msg in name_problems(ctx, name) {
            errs.push(FieldError::invalid(meta.child("name"), name, msg));
        }
    }
    for (i, f) in super::object::finalizers(obj).iter().enumerate() {
        if !f.contains('/') && !matches!(f.as_str(), "kubernetes" | "orphan" | "foregroundDeletion") {
            errs.push(FieldError::invalid(
                meta.child("finalizers").index(i),
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        } else {
            for msg in names::qualified_name(f) {
                errs.push(FieldError::invalid(meta.child("finalizers").index(i), f, msg));
            }
        }
    }
    for (k, v) in super::object::string_map(obj, "labels") {
        for msg in names::qualified_name(&k) {
            errs.push(FieldError::invalid(meta.child("labels").key(&k), &k, msg));
        }
        for msg in names::label_value(&v) {
            errs.push(FieldError::invalid(meta.child("labels").key(&k), &v, msg));
        }
    }
    for k in super::object::string_map(obj, "annotations").keys() {
        for msg in names::qualified_name(&k.to_ascii_lowercase()) {
            errs.push(FieldError::invalid(meta.child("annotations"), k, msg));
        }
    }
    data_problems(ctx, obj, &mut errs);
    if ctx.info.group == spaces::GROUP && ctx.info.resource == "spaces" && name == super::path::ROOT_SPACE {
        errs.push(FieldError::invalid(meta.child("name"), name, "is reserved for the root space"));
    }
    match (ctx.info.group.as_str(), ctx.info.resource.as_str()) {
        ("apiextensions.k8s.io", "customresourcedefinitions") => errs.extend(super::crds::validate(obj)),
        ("edge.kubestellar.io", "edgeplacements") => {
            match serde_json::from_value::<orrery_api::EdgePlacement>(obj.clone()) {
                Ok(ep) => errs.extend(orrery_api::validation::validate_edge_placement(&ep)),
                Err(e) => errs.push(FieldError::invalid(
                    FieldPath::new("spec"),
                    "",
                    format!("does not match the EdgePlacement schema: {e}"),
                )),
            }
        }
        _ => {}
    }
    if let Some(schema) = &ctx.info.schema {
        errs.extend(super::schema::validate(obj, schema));
    }
    if errs.is_empty() { Ok(()) } else { Err(ApiError::invalid(&ctx.info.kind, &ctx.subject(name), &errs)) }
}

fn replicas_at(obj: &Value, path: &str) -> Option<i64> {
    super::table::eval(obj, path).and_then(|v| v.as_i64())
}

/// The `autoscaling/v1` Scale of an object.
pub(super) fn scale_of(ctx: &Ctx, obj: &Value) -> Value {
    let Some(paths) = &ctx.info.scale else { return json!({}) };
    let selector = paths
        .label_selector
        .as_deref()
        .and_then(|p| super::table::eval(obj, p))
        .and_then(|v| v.as_str().map(str::to_owned));
    let mut status = json!({"replicas": replicas_at(obj, &paths.status_replicas).unwrap_or(0)});
    if let Some(s) = selector {
        status["selector"] = json!(s);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj.pointer("/metadata/name"),
            "namespace": obj.pointer("/metadata/namespace"),
            "uid": obj.pointer("/metadata/uid"),
            "resourceVersion": obj.pointer("/metadata/resourceVersion"),
            "creationTimestamp": obj.pointer("/metadata/creationTimestamp"),
        },
        "spec": {"replicas": replicas_at(obj, &paths.spec_replicas).unwrap_or(0)},
        "status": status,
    })
}

/// Sets `spec.replicas` (or the CRD's specReplicasPath) from a Scale.
pub(super) fn with_replicas(ctx: &Ctx, obj: &Value, replicas: i64) -> Result<Value> {
    let Some(paths) = &ctx.info.scale else { return Err(ApiError::no_route()) };
    let mut next = obj.clone();
    let mut cur = &mut next;
    let parts: Vec<&str> = paths.spec_replicas.trim_start_matches('.').split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cur[*part] = json!(replicas);
        } else {
            if !cur.get(*part).is_some_and(Value::is_object) {
                cur[*part] = json!({});
            }
            cur = &mut cur[*part];
        }
    }
    Ok(next)
}

/// `PUT …/scale`.
pub(super) async fn put_scale(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    let name = ctx.path.name.clone().unwrap_or_default();
    let media = super::body::content_type(req.headers());
    let scale = super::body::parse_document(&super::body::read(req.into_body()).await?, &media)?;
    let replicas = scale.pointer("/spec/replicas").and_then(Value::as_i64).ok_or_else(|| {
        ApiError::invalid(
            &ctx.info.kind,
            &ctx.subject(&name),
            &FieldError::required(FieldPath::new("spec").child("replicas"), "").into(),
        )
    })?;
    let main = ctx.at(ctx.path.namespace.clone(), ctx.path.name.clone(), None);
    let crud::Updated { obj, .. } = guaranteed_update_with(server, &main, &name, Read::Whole, |read| {
        let mut next = with_replicas(&ctx, &read.obj, replicas)?;
        super::object::forget_revision(&mut next);
        crud::updated(&main, read, next, "scale")
    })
    .await?;
    Ok(json_response(200, &scale_of(&ctx, &present(&ctx, obj))))
}
