//! Spaces: `Space` objects in the root space (`space.kubestellar.io/v1alpha1`). Creating one
//! makes a space seeded like a new cluster and serving orrery's API, a token for it and a
//! Secret in the root space holding its kubeconfig; deleting one removes the space and
//! everything in it. Space tokens come from TokenRequests in the space.

use super::crud;
use super::lifecycle::{internal_ctx, seed};
use super::object::{self, meta_str};
use super::path::ROOT_SPACE;
use super::resources::{ResourceInfo, Resources};
use super::status::ApiError;
use super::{ApiServer, Ctx, Result, json_response};
use crate::auth::new_token;
use crate::store::{Key, ListRequest, Precondition, Prefix, Write};
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};

pub use orrery_api::space::{GROUP, VERSION};
/// The root-space namespace that holds each space's kubeconfig Secret.
pub const SYSTEM_NAMESPACE: &str = "orrery-system";
/// The label on the Secrets that hold space tokens.
const TOKEN_LABEL: &str = "orrery.io/space-token";

/// The Space kind, served in the root space only.
fn space_kind() -> ResourceInfo {
    ResourceInfo {
        group: GROUP.into(),
        version: VERSION.into(),
        resource: "spaces".into(),
        singular: "space".into(),
        kind: "Space".into(),
        namespaced: false,
        short_names: vec![],
        categories: vec![],
        has_status: true,
        scale: None,
        storage: format!("{GROUP}/spaces"),
        schema: None,
        printer_columns: vec![],
        custom: false,
    }
}

/// orrery's API (`edge.kubestellar.io`), served in every space but the root the way kcp
/// serves an APIBinding's: discovered, validated, pruned and stored like a CRD's resources,
/// with no CRD object in the space. Six CRDs stored in each of 10,000 mailboxes were 45 KB
/// a space, in both servers, and six writes more for every space made. A space may still
/// create a CRD for one of these resources: its own then takes the place of the bound one.
static BOUND: LazyLock<Vec<Arc<ResourceInfo>>> = LazyLock::new(|| {
    orrery_api::crds::all()
        .into_iter()
        .filter_map(|crd| serde_json::to_value(crd).ok())
        .flat_map(|crd| super::crds::resources_of(&crd))
        .map(super::crds::shared)
        .collect()
});

/// What a space serves before any CRD of its own; every space but the root shares it.
pub(super) fn base_resources(space: &str) -> Resources {
    static ROOT: LazyLock<Resources> = LazyLock::new(|| Resources::builtin(&[Arc::new(space_kind())]));
    static OTHER: LazyLock<Resources> = LazyLock::new(|| Resources::builtin(&BOUND));
    if space == ROOT_SPACE { ROOT.clone() } else { OTHER.clone() }
}

fn seed_objects() -> Vec<(&'static str, &'static str, Value)> {
    let ns = |name: &str| {
        (
            "core/namespaces",
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        )
    };
    vec![
        ns("default"),
        ns("kube-system"),
        ns("kube-public"),
        ns("kube-node-lease"),
        (
            "core/serviceaccounts",
            "default",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "default"}}),
        ),
        (
            "core/serviceaccounts",
            "kube-system",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "kube-system"}}),
        ),
        (
            "core/services",
            "default",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                   "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}], "sessionAffinity": "None"}}),
        ),
        (
            "rbac.authorization.k8s.io/clusterroles",
            "",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                   "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]}),
        ),
    ]
}

/// Seeds a space's standard objects.
async fn seed_space(server: &Arc<ApiServer>, space: &str) -> Result<()> {
    server.set_resources(space, base_resources(space));
    for (storage, namespace, obj) in seed_objects() {
        seed(server, space, storage, namespace, obj).await?;
    }
    super::crds::refresh(server, space).await;
    Ok(())
}

/// Starts the server's spaces: the root space, then every space a Space object names, and
/// the tokens stored for them.
pub async fn bootstrap(server: &Arc<ApiServer>) -> Result<()> {
    seed_space(server, ROOT_SPACE).await?;
    seed(server, ROOT_SPACE, "core/namespaces", "", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})).await?;
    let all = |resource: &str, space: Option<&str>| Prefix {
        resource: resource.into(),
        space: space.map(str::to_owned),
        namespace: None,
    };
    let latest = || ListRequest::latest();
    let spaces = server
        .store
        .list(&all(&format!("{GROUP}/spaces"), Some(ROOT_SPACE)), latest())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    for (key, _) in spaces.items {
        super::crds::refresh(server, key.name()).await;
    }
    let secrets =
        server.store.list(&all("core/secrets", None), latest()).await.map_err(|e| ApiError::internal(e.to_string()))?;
    for (key, stored) in secrets.items {
        let Ok(secret) = crud::parse_stored(&stored) else { continue };
        if object::labels(&secret).contains_key(TOKEN_LABEL) {
            let token = secret
                .pointer("/data/token")
                .and_then(Value::as_str)
                .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok());
            if let Some(token) = token.and_then(|t| String::from_utf8(t).ok()) {
                server.auth.add_space_token(token, key.space().to_owned());
            }
        }
    }
    Ok(())
}

/// Mints a token for `space` and keeps it (as a Secret in its kube-system namespace) so it
/// survives restarts.
async fn mint_token(server: &Arc<ApiServer>, space: &str, purpose: &str) -> Result<String> {
    let token = new_token();
    let name = format!("orrery-token-{}", object::name_suffix());
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "kube-system", "labels": {TOKEN_LABEL: "true"}, "annotations": {"orrery.io/purpose": purpose}},
        "type": "orrery.io/space-token",
        "data": {"token": base64::engine::general_purpose::STANDARD.encode(&token)},
    });
    seed(server, space, "core/secrets", "kube-system", secret).await?;
    server.auth.add_space_token(token.clone(), space.to_owned());
    Ok(token)
}

/// Makes the space a Space object names, once, and reports it Ready.
pub(super) async fn ensure(server: &Arc<ApiServer>, space_obj: &Value) {
    let name = meta_str(space_obj, "name").unwrap_or_default().to_owned();
    if space_obj.pointer("/status/phase") == Some(&json!("Ready")) && server.resources(&name).is_some() {
        return;
    }
    if let Err(e) = make(server, &name).await {
        tracing::error!(space = %name, error = %e, "creating space failed");
    }
}

async fn make(server: &Arc<ApiServer>, name: &str) -> Result<()> {
    if server.resources(name).is_none() {
        seed_space(server, name).await?;
    }
    let secret_name = format!("{name}-kubeconfig");
    if let Some(endpoint) = server.endpoint() {
        let token = mint_token(server, name, "space kubeconfig").await?;
        let kubeconfig = crate::kubeconfig::render(&endpoint, name, &token);
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": secret_name, "namespace": SYSTEM_NAMESPACE, "labels": {"orrery.io/space": name}},
            "type": "Opaque",
            "data": {"kubeconfig": base64::engine::general_purpose::STANDARD.encode(kubeconfig)},
        });
        seed(server, ROOT_SPACE, "core/secrets", SYSTEM_NAMESPACE, secret).await?;
    }
    let Some(ctx) = internal_ctx(server, ROOT_SPACE, GROUP, "spaces", "", name) else { return Ok(()) };
    let ctx = ctx.at(None, Some(name.to_owned()), Some("status".into()));
    crud::guaranteed_update(server, &ctx, name, |current| {
        let mut next = current.clone();
        next["status"] = json!({
            "phase": "Ready",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Seeded", "message": "the space is serving", "lastTransitionTime": object::now()}],
            "kubeconfigSecret": {"namespace": SYSTEM_NAMESPACE, "name": secret_name},
        });
        Ok((crud::Outcome::Put(next), None))
    })
    .await?;
    Ok(())
}

/// Removes a space and everything in it.
pub(super) async fn remove(server: &Arc<ApiServer>, name: &str) {
    let Some(resources) = server.resources(name) else { return };
    server.forget_space(name);
    server.auth.remove_space(name);
    for storage in resources.storages() {
        super::lifecycle::purge(server, &Prefix { resource: storage, space: Some(name.to_owned()), namespace: None })
            .await;
    }
    let secret = Key::new("core/secrets", ROOT_SPACE, SYSTEM_NAMESPACE, &format!("{name}-kubeconfig"));
    let _ = server.store.write(Write { key: secret, value: None, precondition: Precondition::None }).await;
}

/// `POST …/namespaces/<ns>/serviceaccounts/<name>/token` (TokenRequest): a bearer token
/// for this space only.
pub(super) async fn token_request(server: &Arc<ApiServer>, ctx: Ctx, req: Request<Body>) -> Result<Response> {
    let name = ctx.path.name.clone().unwrap_or_default();
    let _ = super::body::read(req.into_body()).await?;
    crud::read(server, &ctx, &name).await?;
    let token = mint_token(server, &ctx.space, &format!("TokenRequest for serviceaccount {name}")).await?;
    Ok(json_response(
        201,
        &json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"name": name, "namespace": ctx.path.namespace, "creationTimestamp": object::now()},
            "spec": {"audiences": [], "expirationSeconds": 0},
            "status": {"token": token, "expirationTimestamp": "9999-12-31T23:59:59Z"},
        }),
    ))
}
