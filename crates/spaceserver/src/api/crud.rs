//! Single-object requests: get, create, update (and `/status`), delete, deletecollection.

use super::body::{self, parse_document, require_object};
use super::current::{Current, Kept, Read};
use super::object::{self, meta_mut, meta_str};
use super::presenting::Presenter;
use super::status::ApiError;
use super::{ApiServer, Ctx, Result, bytes_response, json_response, lifecycle, validate, watch};
use crate::ssa::{self, ManagedList};
use crate::store::{Precondition, Presentations, StoreError, Stored, Write};
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// How many times a write re-reads and retries after losing an optimistic-concurrency
/// race it did not ask to lose (no resourceVersion from the client).
const RETRIES: usize = 16;

/// A stored object as clients see it: its JSON with its revision as resourceVersion.
pub(super) fn parse_stored(s: &Stored) -> Result<Value> {
    let mut v: Value =
        serde_json::from_slice(&s.json).map_err(|e| ApiError::internal(format!("stored object unreadable: {e}")))?;
    object::set_revision(&mut v, s.revision);
    Ok(v)
}

/// The stored object as the requested version shows it (all versions share storage and
/// convert by rewriting `apiVersion`).
pub(super) fn present(ctx: &Ctx, mut obj: Value) -> Value {
    super::convert::from_storage(&ctx.info.group, &ctx.info.resource, &mut obj);
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(ctx.info.api_version()));
        o.insert("kind".into(), Value::String(ctx.info.kind.clone()));
    }
    obj
}

pub(super) fn store_error(ctx: &Ctx, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists => ApiError::already_exists(&ctx.subject(name)),
        StoreError::NotFound => ApiError::not_found(&ctx.subject(name)),
        StoreError::Conflict { .. } => ApiError::modified(&ctx.subject(name)),
        StoreError::Expired { .. } => ApiError::gone(e.to_string()),
        StoreError::TooLarge { .. } => ApiError::timeout(e.to_string()),
        StoreError::Backend(m) => ApiError::internal(m),
        StoreError::Closed => ApiError::new(503, "ServiceUnavailable", "the store is shutting down"),
    }
}

fn namespace_of(ctx: &Ctx) -> String {
    ctx.path.namespace.clone().unwrap_or_default()
}

fn name_of(ctx: &Ctx) -> String {
    ctx.path.name.clone().unwrap_or_default()
}

pub(super) async fn get(server: &Arc<ApiServer>, ctx: Ctx) -> Result<Response> {
    let name = name_of(&ctx);
    let stored = read(server, &ctx, &name).await?;
    let obj = parse_stored(&stored)?;
    match ctx.path.subresource.as_deref() {
        None | Some("status") => Ok(json_response(200, &present(&ctx, obj))),
        Some("scale") if ctx.info.scale.is_some() => Ok(json_response(200, &validate::scale_of(&ctx, &obj))),
        Some(other) => Err(ApiError::no_route().with_details(json!({"subresource": other}))),
    }
}

pub(super) async fn read(server: &Arc<ApiServer>, ctx: &Ctx, name: &str) -> Result<Stored> {
    server
        .store
        .get(&ctx.key(&namespace_of(ctx), name))
        .await
        .map_err(|e| store_error(ctx, name, e))?
        .ok_or_else(|| ApiError::not_found(&ctx.subject(name)))
}

/// The field manager of a write: `?fieldManager=`, else the client's User-Agent program.
pub(super) fn field_manager(ctx: &Ctx, headers: &axum::http::HeaderMap) -> String {
    ctx.params.field_manager.clone().unwrap_or_else(|| {
        headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_owned()
    })
}

/// Checks a body's `apiVersion` and `kind` against the path it was sent to.
pub(super) fn check_type(ctx: &Ctx, obj: &Value) -> Result<()> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind.is_empty() {
        return Err(ApiError::bad_request("Object 'Kind' is missing in the request body"));
    }
    if api_version.is_empty() {
        return Err(ApiError::bad_request("Object 'apiVersion' is missing in the request body"));
    }
    if api_version != ctx.info.api_version() || kind != ctx.info.kind {
        return Err(ApiError::bad_request(format!(
            "the API version and kind in the body ({api_version}, {kind}) do not match the expected ones ({}, {})",
            ctx.info.api_version(),
            ctx.info.kind
        )));
    }
    Ok(())
}

pub(super) async fn create(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    if ctx.path.subresource.is_some() {
        return Err(ApiError::method_not_allowed("POST", "a subresource"));
    }
    if ctx.info.namespaced && ctx.path.namespace.is_none() {
        return Err(ApiError::method_not_allowed("POST", &format!("all namespaces of {}", ctx.info.resource)));
    }
    let manager = field_manager(&ctx, req.headers());
    let media = body::content_type(req.headers());
    let obj = require_object(parse_document(&body::read(req.into_body()).await?, &media)?)?;
    check_type(&ctx, &obj)?;
    create_object(server, ctx, obj, Tracking::Record(&manager)).await
}

/// How a create tracks its fields.
pub(super) enum Tracking<'a> {
    /// A client's body: recorded as an `Update` by this manager.
    Record(&'a str),
    /// A server-side apply: its list, made by the apply, kept apart from the object.
    Made(ManagedList),
}

/// Creates an object from a client's body or from a server-side apply. The list of
/// `managedFields` is kept apart from the object's tree and written into it as text.
pub(super) async fn create_object(
    server: &Arc<ApiServer>,
    ctx: Ctx,
    mut obj: Value,
    tracking: Tracking<'_>,
) -> Result<Response> {
    super::convert::to_storage(&ctx.info.group, &ctx.info.resource, &mut obj);
    match obj.get("metadata") {
        None | Some(Value::Null) => obj["metadata"] = json!({}),
        Some(Value::Object(_)) => {}
        Some(_) => return Err(ApiError::bad_request("metadata must be an object")),
    }
    let namespace = namespace_of(&ctx);
    {
        let m = meta_mut(&mut obj).ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        if ctx.info.namespaced {
            match m.get("namespace").and_then(Value::as_str) {
                Some(ns) if !ns.is_empty() && ns != namespace => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    m.insert("namespace".into(), Value::String(namespace.clone()));
                }
            }
        } else {
            m.remove("namespace");
        }
        for server_owned in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "generation",
        ] {
            m.remove(server_owned);
        }
        m.insert("uid".into(), Value::String(object::new_uid()));
        m.insert("creationTimestamp".into(), Value::String(object::now()));
    }
    if ctx.info.has_status
        && ctx.info.custom
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
    if ctx.info.custom || obj.get("spec").is_some() {
        obj["metadata"]["generation"] = json!(1);
    }
    lifecycle::on_create(&ctx, &mut obj);
    validate::normalize(&ctx, &mut obj);
    validate::apply_schema(&ctx, &mut obj)?;
    if ctx.info.namespaced {
        lifecycle::require_active_namespace(server, &ctx, &namespace).await?;
    }
    validate::object(server, &ctx, &mut obj)?;
    let generate = meta_str(&obj, "name").is_none_or(str::is_empty);
    let prefix = meta_str(&obj, "generateName").unwrap_or_default().to_owned();
    let list = match tracking {
        Tracking::Record(manager) => {
            let (tracked, list) = super::managed::record_created(std::mem::take(&mut obj), manager, &ctx.info);
            obj = tracked;
            list
        }
        Tracking::Made(list) => list,
    };
    object::omit_empty_metadata(&mut obj);
    for attempt in 0..8 {
        if generate {
            obj["metadata"]["name"] = Value::String(format!("{prefix}{}", object::name_suffix()));
        }
        let name = meta_str(&obj, "name").unwrap_or_default().to_owned();
        if ctx.params.dry_run {
            // A dry run answers as the real create would, including for a taken name.
            if server.store.get(&ctx.key(&namespace, &name)).await.ok().flatten().is_some() {
                return Err(ApiError::already_exists(&ctx.subject(&name)));
            }
            ssa::write_list(&mut obj, list);
            return Ok(json_response(201, &present(&ctx, obj)));
        }
        let bytes = body::object_bytes_with(&obj, Some(&list), &Kept::default())?;
        let write =
            Write { key: ctx.key(&namespace, &name), value: Some(bytes.clone()), precondition: Precondition::Absent };
        let presented = Presentations::default();
        match server.store.write_presented(write, presented.clone()).await {
            Ok(stored) => {
                let mut created = obj;
                object::set_revision(&mut created, stored.revision);
                lifecycle::after_write(server, &ctx, &created).await;
                let written = Written { presented, stored: bytes, revision: stored.revision };
                return answer_written(&ctx, 201, created, "ADDED", Some(&written));
            }
            Err(StoreError::AlreadyExists) if generate && attempt < 7 => continue,
            Err(e) => return Err(store_error(&ctx, &name, e)),
        }
    }
    Err(ApiError::internal("could not generate a unique name"))
}

/// What a write does to the stored object: the new object, or `None` to delete it (a
/// deleting object whose last finalizer went away).
pub(super) enum Outcome {
    /// The object to store. Over an object read lean ([`Read::Lean`]), the stored
    /// `managedFields` stay unless it carries a list of its own.
    Put(Value),
    /// The object to store without `managedFields`, and its list ([`ssa::update_tracked`]).
    Tracked(Value, ManagedList),
    Delete,
}

/// The answer to a write: the object as written, presented. With the write's event's
/// `presented`, its JSON is the object of the line its watchers of this space send, made
/// once for them and the answer.
pub(super) fn answer_written(
    ctx: &Ctx,
    code: u16,
    obj: Value,
    kind: &str,
    written: Option<&Written>,
) -> Result<Response> {
    let Some(written) = written else { return Ok(json_response(code, &present(ctx, obj))) };
    // Presented from what was stored, as its watchers present it: not encoded again.
    drop(obj);
    let object = || Presenter::new(ctx).present_bytes(&written.stored, written.revision, None);
    let line = watch::shared_line(ctx, &written.presented[0], kind, object);
    match line.as_ref().and_then(watch::object_of_line) {
        Some(object) => Ok(bytes_response(code, object)),
        None => Err(ApiError::internal("encoding the object written")),
    }
}

/// What [`guaranteed_update`] did.
pub(super) struct Updated {
    /// The object as it now is; for a finished delete, its last state. Written after a
    /// lean read ([`Read::Lean`]), without `managedFields`; after a read for a status
    /// write ([`Read::Status`]), without the fields kept as text as well.
    pub obj: Value,
    /// Whether the object is gone.
    pub deleted: bool,
    /// What was written (`None`: nothing was).
    written: Option<Written>,
}

/// A write's event, for its answer: its presentations, shared with its watchers, and the
/// object as stored, at its revision.
pub(super) struct Written {
    presented: Presentations,
    stored: bytes::Bytes,
    revision: crate::store::Revision,
}

impl Updated {
    /// The answer to an update: the object, encoded once for the answer and the watchers.
    pub(super) fn answer(self, ctx: &Ctx) -> Result<Response> {
        answer_written(ctx, 200, self.obj, "MODIFIED", self.written.as_ref())
    }
}

/// Read, compute, compare-and-swap; retried on races the client did not ask to lose.
/// `compute` gets the current object and returns what to write. A resourceVersion the
/// client sent (in `expected`) turns a race into 409 Conflict instead of a retry.
pub(super) async fn guaranteed_update<F>(
    server: &Arc<ApiServer>,
    ctx: &Ctx,
    name: &str,
    mut compute: F,
) -> Result<Updated>
where
    F: FnMut(&Value) -> Result<(Outcome, Option<u64>)>,
{
    guaranteed_update_with(server, ctx, name, Read::Whole, |current| compute(&current.obj)).await
}

/// [`guaranteed_update`], reading the current object as `read_as` says. Read lean and
/// written, the [`Updated`] object has no `managedFields`, and read for a status write,
/// none of the fields kept as text (its answer is presented from what was stored).
pub(super) async fn guaranteed_update_with<F>(
    server: &Arc<ApiServer>,
    ctx: &Ctx,
    name: &str,
    read_as: Read,
    mut compute: F,
) -> Result<Updated>
where
    F: FnMut(&Current) -> Result<(Outcome, Option<u64>)>,
{
    let namespace = namespace_of(ctx);
    for _ in 0..RETRIES {
        let stored = read(server, ctx, name).await?;
        let current = Current::read(&stored, read_as)?;
        let (outcome, expected) = compute(&current)?;
        if let Some(rv) = expected
            && rv != stored.revision
        {
            return Err(ApiError::modified(&ctx.subject(name)));
        }
        let (v, list) = match outcome {
            Outcome::Put(v) => {
                // Over a lean read, a write that did not track its fields keeps the stored list.
                let has_list = v.get("metadata").and_then(|m| m.get("managedFields")).is_some();
                let list = current.managed.as_ref().filter(|_| !has_list).map(ManagedList::stored);
                (Some(v), list)
            }
            Outcome::Tracked(v, list) => (Some(v), Some(list)),
            Outcome::Delete => (None, None),
        };
        let (next, bytes, kept) = match v {
            Some(mut v) => {
                object::omit_empty_metadata(&mut v);
                let same_list = match (&list, &current.managed) {
                    (None, _) => true,
                    (Some(list), Some(stored)) => list.same_but_times(stored),
                    (Some(list), None) => list.is_empty(),
                };
                if same_list && object::is_no_op(&current.obj, &v) {
                    // Nothing changes: nothing is written, and no watcher hears of it.
                    return Ok(Updated { obj: current.into_whole(), deleted: false, written: None });
                }
                validate::object(server, ctx, &mut v)?;
                let bytes = body::object_bytes_with(&v, list.as_ref(), &current.kept)?;
                // Not held while the write waits for its commit: thousands of writes wait
                // at once. (What is kept as text is slices of `stored`.)
                let Current { kept, .. } = current;
                (v, Some(bytes), kept)
            }
            None => (current.into_whole(), None, Kept::default()),
        };
        let deleting = bytes.is_none();
        if ctx.params.dry_run {
            let mut obj = next;
            if let Some(list) = list {
                ssa::write_list(&mut obj, list);
            }
            kept.put_back(&mut obj);
            return Ok(Updated { obj, deleted: deleting, written: None });
        }
        drop(kept);
        drop(list);
        let write = Write {
            key: ctx.key(&namespace, name),
            value: bytes.clone(),
            precondition: Precondition::Revision(stored.revision),
        };
        let presented = Presentations::default();
        match server.store.write_presented(write, presented.clone()).await {
            Ok(written) => {
                let mut obj = next;
                object::set_revision(&mut obj, written.revision);
                if deleting {
                    lifecycle::after_delete(server, ctx, &obj).await;
                } else {
                    lifecycle::after_write(server, ctx, &obj).await;
                }
                // A delete's answer is not its watchers' line (DELETED carries the last state).
                let written = bytes.map(|bytes| Written { presented, stored: bytes, revision: written.revision });
                return Ok(Updated { obj, deleted: deleting, written });
            }
            Err(StoreError::Conflict { .. }) if expected.is_none() => continue,
            Err(e) => return Err(store_error(ctx, name, e)),
        }
    }
    Err(ApiError::modified(&ctx.subject(name)))
}

fn requested_revision(obj: &Value) -> Result<Option<u64>> {
    match meta_str(obj, "resourceVersion") {
        None | Some("") => Ok(None),
        Some(rv) => rv
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}: not one this server issued"))),
    }
}

/// Merges a client's new version of an object with what the server keeps, for the main
/// resource or the status subresource.
pub(super) fn updated(ctx: &Ctx, current: &Current, incoming: Value, manager: &str) -> Result<(Outcome, Option<u64>)> {
    updated_with(ctx, current, incoming, Fields::Record(manager))
}

/// How [`updated_with`] tracks a write's fields.
pub(super) enum Fields<'a> {
    /// Recorded as an `Update` by this manager.
    Record(&'a str),
    /// A server-side apply tracked them already: in the object, or (over a lean read) in
    /// this list.
    Applied(Option<ManagedList>),
}

/// [`updated`], or a server-side apply's result when `fields` says it tracked its fields.
pub(super) fn updated_with(
    ctx: &Ctx,
    read: &Current,
    mut incoming: Value,
    fields: Fields<'_>,
) -> Result<(Outcome, Option<u64>)> {
    let current = &read.obj;
    super::convert::to_storage(&ctx.info.group, &ctx.info.resource, &mut incoming);
    let expected = requested_revision(&incoming)?;
    let mut new = match ctx.path.subresource.as_deref() {
        None => {
            let mut new = incoming;
            object::keep_server_metadata(current, &mut new);
            if ctx.info.has_status {
                match current.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            if object::spec_changed(current, &new)
                && let Some(g) = current["metadata"].get("generation").and_then(Value::as_i64)
            {
                new["metadata"]["generation"] = json!(g + 1);
            }
            new
        }
        Some("status") if ctx.info.has_status => {
            // Only `status` changes through the status subresource. A patch's result is
            // the stored object with the patch applied, and usually differs from it in
            // nothing else: then it is the new object as it is, not another copy of the
            // stored one (copying and later dropping it was most of a status write's cost
            // beyond parsing).
            let status = incoming.as_object_mut().and_then(|o| o.remove("status"));
            let mut new = if object::same_but_status(current, &incoming) { incoming } else { current.clone() };
            if let Some(o) = new.as_object_mut() {
                match status {
                    Some(s) => o.insert("status".into(), s),
                    None => o.remove("status"),
                };
            }
            new
        }
        Some(_) => return Err(ApiError::no_route()),
    };
    if let Some(m) = meta_mut(&mut new) {
        m.remove("resourceVersion");
    }
    validate::normalize(ctx, &mut new);
    validate::apply_schema(ctx, &mut new)?;
    new["apiVersion"] = current["apiVersion"].clone();
    new["kind"] = current["kind"].clone();
    if object::is_deleting(current) {
        let before = object::finalizers(current);
        let added = object::finalizers(&new).into_iter().any(|f| !before.contains(&f));
        if added {
            return Err(ApiError::invalid_message(format!(
                "{} \"{}\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted",
                ctx.info.kind,
                meta_str(current, "name").unwrap_or_default()
            )));
        }
        if object::finalizers(&new).is_empty() {
            return Ok((Outcome::Delete, expected));
        }
    }
    let subresource = ctx.path.subresource.as_deref();
    match (fields, &read.managed) {
        (Fields::Record(manager), Some(entries)) => {
            let (new, list) = super::managed::record_tracked(new, current, entries, manager, subresource, &ctx.info);
            Ok((Outcome::Tracked(new, list), expected))
        }
        (Fields::Record(manager), None) => {
            super::managed::record_update(&mut new, Some(current), manager, subresource, &ctx.info)?;
            Ok((Outcome::Put(new), expected))
        }
        (Fields::Applied(Some(list)), _) => Ok((Outcome::Tracked(new, list), expected)),
        (Fields::Applied(None), _) => Ok((Outcome::Put(new), expected)),
    }
}

pub(super) async fn update(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    let name = name_of(&ctx);
    if let Some(sub) = ctx.path.subresource.as_deref() {
        if sub == "scale" && ctx.info.scale.is_some() {
            return validate::put_scale(server, ctx, req).await;
        }
        if sub == "finalize" && ctx.info.resource == "namespaces" && ctx.info.group.is_empty() {
            return lifecycle::finalize_namespace(server, ctx, req).await;
        }
        if sub != "status" || !ctx.info.has_status {
            return Err(ApiError::no_route());
        }
    }
    let manager = field_manager(&ctx, req.headers());
    let media = body::content_type(req.headers());
    let incoming = require_object(parse_document(&body::read(req.into_body()).await?, &media)?)?;
    check_type(&ctx, &incoming)?;
    if let Some(n) = meta_str(&incoming, "name")
        && n != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    if ctx.info.namespaced
        && let Some(ns) = meta_str(&incoming, "namespace").filter(|ns| !ns.is_empty())
        && Some(ns) != ctx.path.namespace.as_deref()
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    // A status update stores the object as it is but for `status`: the rest of `incoming`
    // is not read, nor the rest of the stored object decoded.
    let read_as = if validate::status_write_reads_only_status(&ctx) { Read::Status } else { Read::Lean };
    guaranteed_update_with(server, &ctx, &name, read_as, |current| updated(&ctx, current, incoming.clone(), &manager))
        .await?
        .answer(&ctx)
}

pub(super) async fn patch(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    super::patching::patch(server, ctx, req).await
}

/// `DeleteOptions` from the body (kubectl and client-go send one; it may be empty).
fn delete_options(bytes: &[u8]) -> Result<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    Ok(v)
}

pub(super) async fn delete(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    if ctx.path.subresource.is_some() {
        return Err(ApiError::method_not_allowed("DELETE", "a subresource"));
    }
    let opts = delete_options(&body::read(req.into_body()).await?)?;
    let name = name_of(&ctx);
    let (obj, deleted) = delete_one(server, &ctx, &name, &opts).await?;
    // A finished delete answers with the last state, a pending one (finalizers) with the
    // object as it now is; kubectl and kube-rs accept both, and both are what the apiserver sends.
    Ok(json_response(if deleted { 200 } else { 202 }, &present(&ctx, obj)))
}

/// Deletes one object, or marks it deleting when finalizers hold it.
pub(super) async fn delete_one(server: &Arc<ApiServer>, ctx: &Ctx, name: &str, opts: &Value) -> Result<(Value, bool)> {
    let policy = ctx
        .params
        .propagation_policy
        .clone()
        .or_else(|| opts.get("propagationPolicy").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "Background".to_owned());
    let uid_precondition = opts.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_owned);
    let rv_precondition = match opts.pointer("/preconditions/resourceVersion").and_then(Value::as_str) {
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion precondition {rv:?}")))?,
        ),
        None => None,
    };
    guaranteed_update(server, ctx, name, |current| {
        if let Some(uid) = &uid_precondition
            && meta_str(current, "uid") != Some(uid.as_str())
        {
            return Err(ApiError::conflict(
                &ctx.subject(name),
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(current, "uid").unwrap_or_default()
                ),
            ));
        }
        let mut finalizers = object::finalizers(current);
        match policy.as_str() {
            "Foreground" if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
                finalizers.push("foregroundDeletion".into())
            }
            "Orphan" if !finalizers.iter().any(|f| f == "orphan") => finalizers.push("orphan".into()),
            _ => {}
        }
        let held = !finalizers.is_empty() || lifecycle::held_by_spec_finalizers(ctx, current);
        if !held {
            return Ok((Outcome::Delete, rv_precondition));
        }
        let mut next = current.clone();
        if let Some(m) = meta_mut(&mut next) {
            if m.get("deletionTimestamp").is_none_or(Value::is_null) {
                m.insert("deletionTimestamp".into(), Value::String(object::now()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            if !finalizers.is_empty() {
                m.insert("finalizers".into(), json!(finalizers));
            }
            m.remove("resourceVersion");
        }
        lifecycle::on_delete_requested(ctx, &mut next);
        Ok((Outcome::Put(next), rv_precondition))
    })
    .await
    .map(|u| (u.obj, u.deleted))
}

pub(super) async fn delete_collection(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    let opts = delete_options(&body::read(req.into_body()).await?)?;
    let items = super::list::matching(server, &ctx, false).await?;
    let mut deleted = Vec::new();
    for (key, _) in items {
        let item_ctx = ctx.at(
            (!key.namespace().is_empty()).then(|| key.namespace().to_owned()),
            Some(key.name().to_owned()),
            None,
        );
        match delete_one(server, &item_ctx, key.name(), &opts).await {
            Ok((obj, _)) => deleted.push(present(&ctx, obj)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json_response(
        200,
        &json!({"apiVersion": ctx.info.api_version(), "kind": ctx.info.list_kind(), "metadata": {}, "items": deleted}),
    ))
}
