//! What happens around writes, as the apiserver's built-in controllers do it: namespace
//! phases and termination (deleting a namespace's contents, then the namespace), CRD
//! establishment and the resources a CRD adds, garbage collection by ownerReferences,
//! and the life of spaces themselves.

use super::crud::{delete_one, parse_stored, store_error};
use super::object::{self, meta_str};
use super::path::{ROOT_SPACE, ResourcePath};
use super::status::ApiError;
use super::{ApiServer, Ctx, Result, json_response, spaces};
use crate::store::{Key, ListRequest, Precondition, Prefix, Write};
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn is(ctx: &Ctx, group: &str, resource: &str) -> bool {
    ctx.info.group == group && ctx.info.resource == resource
}

/// Server-set fields of new objects.
pub(super) fn on_create(ctx: &Ctx, obj: &mut Value) {
    if is(ctx, "", "namespaces") {
        obj["spec"] = json!({"finalizers": ["kubernetes"]});
        obj["status"] = json!({"phase": "Active"});
    }
    if is(ctx, "apiextensions.k8s.io", "customresourcedefinitions") {
        super::crds::establish(obj);
    }
    if is(ctx, spaces::GROUP, "spaces") {
        obj["status"] = json!({"phase": "Initializing"});
    }
}

/// Namespaces hold deletion through `spec.finalizers` as well as metadata finalizers.
pub(super) fn held_by_spec_finalizers(ctx: &Ctx, obj: &Value) -> bool {
    is(ctx, "", "namespaces")
        && obj.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
}

pub(super) fn on_delete_requested(ctx: &Ctx, obj: &mut Value) {
    if is(ctx, "", "namespaces") {
        obj["status"] = json!({"phase": "Terminating"});
    }
}

/// Creating in a namespace needs the namespace to exist and not be terminating.
pub(super) async fn require_active_namespace(server: &Arc<ApiServer>, ctx: &Ctx, namespace: &str) -> Result<()> {
    let key = Key::new("core/namespaces", &ctx.space, "", namespace);
    let ns = server.store.get(&key).await.map_err(|e| store_error(ctx, namespace, e))?;
    let Some(ns) = ns else {
        return Err(ApiError::new(404, "NotFound", format!("namespaces \"{namespace}\" not found"))
            .with_details(json!({"name": namespace, "kind": "namespaces"})));
    };
    if stored_is_deleting(&ns)? {
        return Err(ApiError::forbidden(format!(
            "{} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
            ctx.info.resource
        )));
    }
    Ok(())
}

/// [`object::is_deleting`] of a stored object, decoding only its `deletionTimestamp`: every
/// create in a namespace asks it of the namespace, and building the namespace whole (its
/// `managedFields` most of it) was 3 % of the WEC server at 1,000 WECs.
fn stored_is_deleting(stored: &crate::store::Stored) -> Result<bool> {
    #[derive(serde::Deserialize)]
    struct Object {
        metadata: Option<Metadata>,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(rename = "deletionTimestamp")]
        deletion_timestamp: Option<serde::de::IgnoredAny>,
    }
    match serde_json::from_slice::<Object>(&stored.json) {
        Ok(object) => Ok(object.metadata.is_some_and(|m| m.deletion_timestamp.is_some())),
        // Not the shape the server stores (metadata not a map): read it whole.
        Err(_) => Ok(object::is_deleting(&parse_stored(stored)?)),
    }
}

/// Boxed (and so `Send` by declaration): writes here can trigger further writes that come
/// back here, a cycle the compiler cannot see through otherwise.
pub(super) fn after_write<'a>(server: &'a Arc<ApiServer>, ctx: &'a Ctx, obj: &'a Value) -> BoxFuture<'a, ()> {
    async move { after_write_inner(server, ctx, obj).await }.boxed()
}

async fn after_write_inner(server: &Arc<ApiServer>, ctx: &Ctx, obj: &Value) {
    if is(ctx, "apiextensions.k8s.io", "customresourcedefinitions") {
        super::crds::refresh(server, &ctx.space).await;
    }
    if ctx.space == ROOT_SPACE && is(ctx, spaces::GROUP, "spaces") && !object::is_deleting(obj) {
        spaces::ensure(server, obj).await;
    }
    if object::is_deleting(obj) {
        let finalizers = object::finalizers(obj);
        if is(ctx, "", "namespaces") {
            spawn_namespace_termination(
                server.clone(),
                ctx.space.clone(),
                meta_str(obj, "name").unwrap_or_default().to_owned(),
            );
        }
        if finalizers.iter().any(|f| f == "orphan" || f == "foregroundDeletion") {
            spawn_dependents(server.clone(), ctx_copy(ctx, obj), obj.clone());
        }
    }
}

/// Boxed for the same reason as [`after_write`].
pub(super) fn after_delete<'a>(server: &'a Arc<ApiServer>, ctx: &'a Ctx, obj: &'a Value) -> BoxFuture<'a, ()> {
    async move { after_delete_inner(server, ctx, obj).await }.boxed()
}

async fn after_delete_inner(server: &Arc<ApiServer>, ctx: &Ctx, obj: &Value) {
    if is(ctx, "apiextensions.k8s.io", "customresourcedefinitions") {
        super::crds::refresh(server, &ctx.space).await;
        super::crds::delete_instances(server, &ctx.space, obj).await;
    }
    if ctx.space == ROOT_SPACE && is(ctx, spaces::GROUP, "spaces") {
        spaces::remove(server, meta_str(obj, "name").unwrap_or_default()).await;
    }
    if let Some(uid) = meta_str(obj, "uid") {
        let server = server.clone();
        let (space, uid) = (ctx.space.clone(), uid.to_owned());
        tokio::spawn(async move { collect_garbage(&server, &space, &uid, false).await });
    }
}

fn ctx_copy(ctx: &Ctx, obj: &Value) -> Ctx {
    let mut c = ctx.at(meta_str(obj, "namespace").map(str::to_owned), meta_str(obj, "name").map(str::to_owned), None);
    c.params = super::params::Params::default();
    c.accept = String::new();
    c
}

/// A context for writing an arbitrary object of `space` as the server itself.
pub(super) fn internal_ctx(
    server: &ApiServer,
    space: &str,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Option<Ctx> {
    let resources = server.resources(space)?;
    let info = resources.iter().find(|r| r.group == group && r.resource == resource)?.clone();
    Some(Ctx {
        space: space.to_owned(),
        path: ResourcePath {
            group: group.to_owned(),
            version: info.version.clone(),
            resource: resource.to_owned(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            name: Some(name.to_owned()),
            subresource: None,
        },
        info,
        params: super::params::Params::default(),
        accept: String::new(),
    })
}

/// Deletes everything in a terminating namespace, then the namespace. Objects with
/// finalizers are marked deleting and waited for, as Kubernetes' namespace controller does.
fn spawn_namespace_termination(server: Arc<ApiServer>, space: String, namespace: String) {
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(20);
        loop {
            let Some(resources) = server.resources(&space) else { return };
            let mut remaining = 0usize;
            for r in resources.iter().filter(|r| r.namespaced) {
                let prefix = Prefix {
                    resource: r.storage.clone(),
                    space: Some(space.clone()),
                    namespace: Some(namespace.clone()),
                };
                let Ok(page) = server.store.list(&prefix, ListRequest::latest()).await else {
                    continue;
                };
                for (key, stored) in page.items {
                    remaining += 1;
                    let deleting = parse_stored(&stored).map(|o| object::is_deleting(&o)).unwrap_or(false);
                    if deleting {
                        continue;
                    }
                    if let Some(ctx) = internal_ctx(&server, &space, &r.group, &r.resource, &namespace, key.name()) {
                        let _ = delete_one(&server, &ctx, key.name(), &json!({})).await;
                    }
                }
            }
            if remaining == 0 {
                finish_namespace(&server, &space, &namespace).await;
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    });
}

/// Drops the `kubernetes` spec finalizer; the namespace goes when nothing else holds it.
async fn finish_namespace(server: &Arc<ApiServer>, space: &str, namespace: &str) {
    let Some(ctx) = internal_ctx(server, space, "", "namespaces", "", namespace) else { return };
    let _ = super::crud::guaranteed_update(server, &ctx, namespace, |current| {
        let mut next = current.clone();
        next["spec"]["finalizers"] = json!([]);
        if object::finalizers(&next).is_empty() {
            return Ok((super::crud::Outcome::Delete, None));
        }
        Ok((super::crud::Outcome::Put(next), None))
    })
    .await;
}

/// `PUT /api/v1/namespaces/<n>/finalize`: replaces `spec.finalizers`.
pub(super) async fn finalize_namespace(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    let name = ctx.path.name.clone().unwrap_or_default();
    let media = super::body::content_type(req.headers());
    let incoming = super::body::parse_document(&super::body::read(req.into_body()).await?, &media)?;
    let finalizers = incoming.pointer("/spec/finalizers").cloned().unwrap_or_else(|| json!([]));
    let super::crud::Updated { obj, .. } = super::crud::guaranteed_update(server, &ctx, &name, |current| {
        let mut next = current.clone();
        next["spec"]["finalizers"] = finalizers.clone();
        let empty = finalizers.as_array().is_none_or(Vec::is_empty);
        if object::is_deleting(current) && empty && object::finalizers(current).is_empty() {
            return Ok((super::crud::Outcome::Delete, None));
        }
        Ok((super::crud::Outcome::Put(next), None))
    })
    .await?;
    Ok(json_response(200, &super::crud::present(&ctx, obj)))
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| refs.iter().filter_map(|r| r.get("uid")?.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The dependents of a deleting owner under the orphan or foreground policy; then the
/// owner's policy finalizer goes, which lets its deletion finish.
fn spawn_dependents(server: Arc<ApiServer>, ctx: Ctx, owner: Value) {
    tokio::spawn(async move {
        let Some(uid) = meta_str(&owner, "uid").map(str::to_owned) else { return };
        let orphan = object::finalizers(&owner).iter().any(|f| f == "orphan");
        collect_garbage(&server, &ctx.space, &uid, orphan).await;
        let name = ctx.path.name.clone().unwrap_or_default();
        let policy = if orphan { "orphan" } else { "foregroundDeletion" };
        let _ = super::crud::guaranteed_update(&server, &ctx, &name, |current| {
            let mut next = current.clone();
            let kept: Vec<String> = object::finalizers(current).into_iter().filter(|f| f != policy).collect();
            if kept.is_empty() {
                return Ok((super::crud::Outcome::Delete, None));
            }
            next["metadata"]["finalizers"] = json!(kept);
            Ok((super::crud::Outcome::Put(next), None))
        })
        .await;
    });
}

/// Deletes (or, orphaning, unlinks) the objects of a space that an owner with `uid` owns.
/// An object with other owners still alive only loses the reference.
async fn collect_garbage(server: &Arc<ApiServer>, space: &str, uid: &str, orphan: bool) {
    let Some(resources) = server.resources(space) else { return };
    for r in resources.iter() {
        let prefix = Prefix { resource: r.storage.clone(), space: Some(space.to_owned()), namespace: None };
        let owned = {
            let uid = uid.to_owned();
            Box::new(move |_: &Key, s: &crate::store::Stored| {
                // A cheap byte test first: most objects name no owner at all.
                std::str::from_utf8(&s.json).is_ok_and(|t| t.contains(uid.as_str()))
            }) as crate::store::ListFilter
        };
        let Ok(page) = server.store.list(&prefix, ListRequest::latest_filtered(owned)).await else {
            continue;
        };
        for (key, stored) in page.items {
            let Ok(dependent) = parse_stored(&stored) else { continue };
            let owners = owner_uids(&dependent);
            if !owners.iter().any(|o| o == uid) {
                continue;
            }
            let Some(ctx) = internal_ctx(server, space, &r.group, &r.resource, key.namespace(), key.name()) else {
                continue;
            };
            if orphan || owners.len() > 1 {
                let uid = uid.to_owned();
                let _ = super::crud::guaranteed_update(server, &ctx, key.name(), |current| {
                    let mut next = current.clone();
                    if let Some(refs) = next.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                    }
                    Ok((super::crud::Outcome::Put(next), None))
                })
                .await;
            } else {
                let _ = delete_one(server, &ctx, key.name(), &json!({})).await;
            }
        }
    }
}

/// Removes every object under `prefix` directly from the store, past finalizers: what
/// goes with a deleted space or CRD.
pub(super) async fn purge(server: &Arc<ApiServer>, prefix: &Prefix) {
    let Ok(page) = server.store.list(prefix, ListRequest::latest()).await else { return };
    for (key, _) in page.items {
        let _ = server.store.write(Write { key, value: None, precondition: Precondition::None }).await;
    }
}

/// Writes an object as the server (seeding spaces), creating it when absent.
pub(super) async fn seed(
    server: &Arc<ApiServer>,
    space: &str,
    storage: &str,
    namespace: &str,
    mut obj: Value,
) -> Result<()> {
    let name = meta_str(&obj, "name").unwrap_or_default().to_owned();
    if let Some(m) = object::meta_mut(&mut obj) {
        m.insert("uid".into(), Value::String(object::new_uid()));
        m.insert("creationTimestamp".into(), Value::String(object::now()));
    }
    let value = Some(super::body::object_bytes(&obj)?);
    let write = Write { key: Key::new(storage, space, namespace, &name), value, precondition: Precondition::Absent };
    match server.store.write(write).await {
        Ok(_) | Err(crate::store::StoreError::AlreadyExists) => Ok(()),
        Err(e) => Err(ApiError::internal(format!("seeding {storage} {name} in space {space}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Stored;

    #[test]
    fn whether_a_stored_object_is_deleting_is_read_without_building_it() {
        let cases = [
            ("being deleted", r#"{"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z","name":"n"}}"#, true),
            ("with managedFields", r#"{"metadata":{"deletionTimestamp":"t","managedFields":[{"manager":"m"}]}}"#, true),
            ("not deleted", r#"{"metadata":{"name":"n"},"status":{"phase":"Active"}}"#, false),
            ("deletionTimestamp null", r#"{"metadata":{"deletionTimestamp":null}}"#, false),
            ("no metadata", r#"{"spec":{}}"#, false),
            ("metadata null", r#"{"metadata":null}"#, false),
            ("metadata not a map", r#"{"metadata":"x"}"#, false),
            ("not an object", r#"[1]"#, false),
        ];
        for (what, json, want) in cases {
            let stored = Stored { revision: 1, json: bytes::Bytes::from_static(json.as_bytes()) };
            assert_eq!(stored_is_deleting(&stored).expect(what), want, "{what}");
            let whole = object::is_deleting(&parse_stored(&stored).expect(what));
            assert_eq!(whole, want, "{what}: as the whole object says");
        }
        let broken = Stored { revision: 1, json: bytes::Bytes::from_static(b"{") };
        assert!(stored_is_deleting(&broken).is_err(), "unreadable");
    }
}
