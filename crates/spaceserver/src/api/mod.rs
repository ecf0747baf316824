//! The Kubernetes API of every space: routing, discovery, CRUD, list, watch, patch.

pub mod body;
mod builtin_types;
mod convert;
mod crds;
mod crud;
mod current;
mod discovery;
pub mod inflight;
mod lifecycle;
mod list;
mod managed;
pub mod object;
mod openapi;
pub mod params;
mod patching;
pub mod path;
mod presenting;
pub mod resources;
mod schema;
mod selection;
pub mod spaces;
pub mod status;
mod table;
mod validate;
mod watch;

use crate::auth::Authenticator;
use crate::store::{Key, Store};
use axum::body::Body;
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use params::Params;
use path::{ResourcePath, Route, SpaceRef};
use resources::{ResourceInfo, Resources};
use serde_json::Value;
use status::{ApiError, Subject};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The annotation that names an object's space in wildcard (`/clusters/*`) lists and
/// watches, where names from different spaces collide. kcp's key, so kcp-aware tools work.
pub use orrery_api::keys::SPACE as SPACE_ANNOTATION;

/// The Kubernetes version `/version` reports. kubectl's dispatcher on our machines picks
/// the kubectl binary from it; 1.31 keeps kubectl on JSON request bodies.
pub const KUBE_MINOR: &str = "31";

/// The API of all spaces.
pub struct ApiServer {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) auth: Authenticator,
    /// The resources each existing space serves, keyed by space name.
    spaces: RwLock<BTreeMap<String, Arc<Resources>>>,
    /// Where clients reach this server (for the kubeconfigs of new spaces).
    endpoint: RwLock<Option<crate::kubeconfig::Endpoint>>,
    inflight: inflight::Inflight,
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Everything a resource handler needs to know about its request.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub space: String,
    pub info: Arc<ResourceInfo>,
    pub path: ResourcePath,
    pub params: Params,
    /// The request's `Accept` header (Table and metadata-only answers depend on it).
    pub accept: String,
}

impl Ctx {
    /// The same request aimed at another object or subresource of the same resource.
    pub fn at(&self, namespace: Option<String>, name: Option<String>, subresource: Option<String>) -> Self {
        Ctx { path: ResourcePath { namespace, name, subresource, ..self.path.clone() }, ..self.clone() }
    }

    pub fn subject(&self, name: &str) -> Subject {
        Subject { group: self.info.group.clone(), resource: self.info.resource.clone(), name: name.to_owned() }
    }

    pub fn key(&self, namespace: &str, name: &str) -> Key {
        Key::new(&self.info.storage, &self.space, namespace, name)
    }
}

impl ApiServer {
    pub fn new(store: Arc<dyn Store>, auth: Authenticator, limits: inflight::InflightLimits) -> Self {
        Self {
            store,
            auth,
            spaces: RwLock::new(BTreeMap::new()),
            endpoint: RwLock::new(None),
            inflight: inflight::Inflight::new(limits),
        }
    }

    pub fn set_endpoint(&self, endpoint: crate::kubeconfig::Endpoint) {
        *self.endpoint.write().unwrap_or_else(|e| e.into_inner()) = Some(endpoint);
    }

    pub(crate) fn endpoint(&self) -> Option<crate::kubeconfig::Endpoint> {
        self.endpoint.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn resources(&self, space: &str) -> Option<Arc<Resources>> {
        self.spaces.read().unwrap_or_else(|e| e.into_inner()).get(space).cloned()
    }

    pub(crate) fn set_resources(&self, space: &str, resources: Resources) {
        self.spaces.write().unwrap_or_else(|e| e.into_inner()).insert(space.to_owned(), Arc::new(resources));
    }

    pub(crate) fn forget_space(&self, space: &str) {
        self.spaces.write().unwrap_or_else(|e| e.into_inner()).remove(space);
    }

    fn any_space_serving(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceInfo>> {
        let spaces = self.spaces.read().unwrap_or_else(|e| e.into_inner());
        spaces.values().find_map(|r| r.get(group, version, resource))
    }

    pub fn space_names(&self) -> Vec<String> {
        self.spaces.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    /// Serves one request, once the bound of its class admits it ([`inflight`]).
    ///
    /// Each request is logged at `debug` when it ends (method, path and query, status, and
    /// how long it took, waiting included; a watch ends when it closes):
    /// `RUST_LOG=orrery_spaceserver::api=debug` shows who asks the server for what.
    pub async fn handle(self: Arc<Self>, req: Request<Body>) -> Response {
        let started = std::time::Instant::now();
        let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| (req.method().clone(), req.uri().clone()));
        let response = match self.admitted(req).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        if let Some((method, uri)) = logged {
            let status = response.status().as_u16();
            tracing::debug!(%method, %uri, status, micros = started.elapsed().as_micros() as u64, "request");
        }
        response
    }

    /// Dispatches the request once its class has a slot.
    async fn admitted(self: Arc<Self>, req: Request<Body>) -> Result<Response> {
        let class = inflight::class(req.method(), req.uri().path(), req.uri().query());
        let req = buffered(class, req).await?;
        let _slot = self.inflight.admit(class).await;
        // Boxed, so a request waiting for its slot holds its headers and body only, not room
        // for the largest handler's state.
        Box::pin(self.clone().dispatch(req)).await
    }

    async fn dispatch(self: Arc<Self>, req: Request<Body>) -> Result<Response> {
        let identity = self.auth.authenticate(req.headers()).ok_or_else(ApiError::unauthorized)?;
        let (space_ref, rest) = path::split_space(req.uri().path()).map_err(ApiError::bad_request)?;
        let rest = rest.to_owned();
        if !identity.may_access(&space_ref) {
            let target = match &space_ref {
                SpaceRef::Named(s) => format!("space {s:?}"),
                SpaceRef::All => "all spaces".to_owned(),
            };
            return Err(ApiError::forbidden(format!("this token does not grant access to {target}")));
        }
        let route = path::route(&rest).ok_or_else(ApiError::no_route)?;
        let space = match (&space_ref, &route) {
            (SpaceRef::Named(s), _) => s.clone(),
            (SpaceRef::All, Route::Resource(_)) => String::new(),
            (SpaceRef::All, _) => {
                return Err(ApiError::bad_request("/clusters/* serves only list and watch of resources"));
            }
        };
        if !space.is_empty() && self.resources(&space).is_none() {
            return Err(ApiError::new(404, "NotFound", format!("space {space:?} not found")));
        }
        match route {
            Route::Version => Ok(discovery::version()),
            Route::Health => Ok((axum::http::StatusCode::OK, "ok").into_response()),
            Route::Resource(rp) => self.resource(req, space_ref, space, rp).await,
            other => discovery::serve(&self, &space, other, req.headers()),
        }
    }

    async fn resource(
        self: Arc<Self>,
        req: Request<Body>,
        space_ref: SpaceRef,
        space: String,
        rp: ResourcePath,
    ) -> Result<Response> {
        let params = Params::parse(req.uri().query())?;
        let info = match space_ref {
            SpaceRef::Named(_) => self.resources(&space).and_then(|r| r.get(&rp.group, &rp.version, &rp.resource)),
            // Across spaces, a resource is served if any space serves it (a CRD installed in
            // every mailbox, say, but not in the root space).
            SpaceRef::All => self.any_space_serving(&rp.group, &rp.version, &rp.resource),
        }
        .ok_or_else(ApiError::no_route)?;
        if rp.namespace.is_some() && !info.namespaced {
            return Err(ApiError::no_route());
        }
        let accept =
            req.headers().get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let ctx = Ctx { space, info, path: rp, params, accept };
        let method = req.method().clone();
        if matches!(space_ref, SpaceRef::All) {
            if method != Method::GET || ctx.path.name.is_some() {
                return Err(ApiError::method_not_allowed(method.as_str(), "/clusters/*"));
            }
            return if ctx.params.watch {
                watch::watch(&self, ctx, true).await
            } else {
                list::list(&self, ctx, true).await
            };
        }
        match (method, ctx.path.name.is_some()) {
            (Method::GET, false) if ctx.params.watch => watch::watch(&self, ctx, false).await,
            (Method::GET, false) => list::list(&self, ctx, false).await,
            (Method::GET, true) => crud::get(&self, ctx).await,
            (Method::POST, false) => crud::create(&self, ctx, req).await,
            (Method::POST, true)
                if ctx.path.subresource.as_deref() == Some("token")
                    && ctx.info.group.is_empty()
                    && ctx.info.resource == "serviceaccounts" =>
            {
                spaces::token_request(&self, ctx, req).await
            }
            (Method::PUT, true) => crud::update(&self, ctx, req).await,
            (Method::PATCH, true) => crud::patch(&self, ctx, req).await,
            (Method::DELETE, true) => crud::delete(&self, ctx, req).await,
            (Method::DELETE, false) => crud::delete_collection(&self, ctx, req).await,
            (m, _) => Err(ApiError::method_not_allowed(m.as_str(), &ctx.info.resource)),
        }
    }
}

/// A write with its body read, before it waits for its slot. HTTP/2 gives a connection's
/// flow-control window back only as request bodies are read, so the unread bodies of writes
/// queued on one connection (a client multiplexing hundreds) would use up the window, and
/// the writes already admitted on it could never receive theirs.
async fn buffered(class: inflight::Class, req: Request<Body>) -> Result<Request<Body>> {
    if !matches!(class, inflight::Class::Mutating | inflight::Class::LeaderElection) {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let bytes = body::read(body).await?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// A JSON response.
pub(crate) fn json_response(code: u16, body: &Value) -> Response {
    bytes_response(code, serde_json::to_vec(body).unwrap_or_default())
}

/// A response of JSON already encoded.
pub(crate) fn bytes_response(code: u16, body: impl Into<bytes::Bytes>) -> Response {
    let body: bytes::Bytes = body.into();
    let code = axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::OK);
    (code, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}
