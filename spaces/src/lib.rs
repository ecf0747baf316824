//! Spaces, whatever serves them. Controllers reach spaces only through a [`SpaceProvider`],
//! so the same controllers run on orrery's embedded space server and on real Kubernetes
//! API servers reached through a kubeconfig.
//!
//! The one operation that decides scale is [`SpaceProvider::watch_all`]: one resource
//! across every space. The embedded provider makes it one wildcard watch
//! (`/clusters/*/…`), so a controller follows 10,000 mailboxes with a single stream; the
//! kubeconfig provider fans in one watch per space.

pub mod connect;
pub mod decode;
mod embedded;
mod kubeconfig;

pub use decode::Fields;
pub use embedded::{EmbeddedProvider, client_for};
pub use kubeconfig::KubeconfigProvider;

use futures::stream::BoxStream;
use kube::api::{ApiResource, DynamicObject};
use std::collections::BTreeMap;

/// The annotation the embedded server puts on objects of wildcard lists and watches.
pub use orrery_api::keys::SPACE as SPACE_ANNOTATION;

#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error("space {0:?} not found")]
    NotFound(String),
    #[error("space {space:?} is not ready after {waited:?}")]
    NotReady { space: String, waited: std::time::Duration },
    #[error("this provider cannot {0}")]
    Unsupported(&'static str),
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// An object of a multi-space watch, with the space it lives in.
#[derive(Clone, Debug)]
pub struct Tagged {
    pub space: String,
    pub object: DynamicObject,
}

/// What a multi-space watch reports. A relist covers every space (`scope: None`, the
/// wildcard watch) or one (`Some(space)`, a fanned-in watch): on `InitDone` a cache
/// replaces what it held for that scope with what arrived since `Init`.
#[derive(Clone, Debug)]
pub enum MultiEvent {
    Init { scope: Option<String> },
    InitApply(Tagged),
    InitDone { scope: Option<String> },
    Apply(Tagged),
    Delete(Tagged),
}

/// Creating, finding and watching spaces, and handing out clients for them.
#[async_trait::async_trait]
pub trait SpaceProvider: Send + Sync {
    /// Creates a space (with these annotations on it) and returns when it serves.
    /// Creating one that exists is fine.
    async fn create(&self, name: &str, annotations: &BTreeMap<String, String>) -> Result<(), SpaceError>;

    /// Deletes a space and everything in it. Deleting one that does not exist is fine.
    async fn delete(&self, name: &str) -> Result<(), SpaceError>;

    /// The spaces that exist now.
    async fn list(&self) -> Result<Vec<String>, SpaceError>;

    /// A client whose requests go to one space. Asking is cheap, and a caller holds the
    /// client for as long as it uses it: providers need not keep one per space.
    async fn client(&self, name: &str) -> Result<kube::Client, SpaceError>;

    /// Sends one request (its URI a path, as [`kube::core::Request`] builds it) to one
    /// space and returns the answer's text, undecoded; an answer other than success is
    /// [`kube::Error::Api`]. For writers that keep what they wrote and learn of changes
    /// from their watches: decoding each answer would cost about what the write did.
    async fn send(&self, name: &str, request: http::Request<Vec<u8>>) -> Result<String, SpaceError> {
        Ok(self.client(name).await?.request_text(request).await?)
    }

    /// A kubeconfig for one space (for syncers and users).
    async fn kubeconfig(&self, name: &str) -> Result<kube::config::Kubeconfig, SpaceError>;

    /// One resource in every space, as one stream (see [`MultiEvent`]), its objects decoded
    /// as far as `fields` says (whole, without `managedFields`, with their entries but not
    /// the entries' field sets, or metadata only).
    fn watch_all(&self, resource: ApiResource, fields: Fields) -> BoxStream<'static, Result<MultiEvent, SpaceError>>;

    /// One resource in the named spaces only: one watch per space, fanned in, each
    /// relisting on its own (`scope: Some(space)`). For a controller that follows a few
    /// spaces among thousands (the translator's WDSes among the mailboxes), the other
    /// spaces' events are never sent, let alone decoded. No spaces: a stream that stays
    /// silent. A space that does not exist is the provider's to handle: the embedded one
    /// reports the failed watch and retries it with backoff (so a space created later is
    /// followed), the kubeconfig one leaves out spaces it has no context for.
    fn watch_in(
        &self,
        resource: ApiResource,
        spaces: &[String],
        fields: Fields,
    ) -> BoxStream<'static, Result<MultiEvent, SpaceError>>;

    /// The spaces themselves coming and going, with their annotations: objects tagged with
    /// the space they describe, without `managedFields`. Providers whose spaces come from configuration never change,
    /// and return a stream that stays silent.
    fn watch_spaces(&self) -> BoxStream<'static, Result<MultiEvent, SpaceError>>;
}

/// Turns a watcher's events (of one scope) into multi-space events, tagging objects with
/// `space_of`.
pub(crate) fn tag(
    event: kube::runtime::watcher::Event<DynamicObject>,
    scope: Option<&str>,
    space_of: impl Fn(&DynamicObject) -> String,
) -> MultiEvent {
    use kube::runtime::watcher::Event;
    let tagged = |object: DynamicObject| Tagged { space: space_of(&object), object };
    match event {
        Event::Init => MultiEvent::Init { scope: scope.map(str::to_owned) },
        Event::InitApply(o) => MultiEvent::InitApply(tagged(o)),
        Event::InitDone => MultiEvent::InitDone { scope: scope.map(str::to_owned) },
        Event::Apply(o) => MultiEvent::Apply(tagged(o)),
        Event::Delete(o) => MultiEvent::Delete(tagged(o)),
    }
}

/// Watches `resource` with each client (one per space) and fans the watches in, each
/// tagged with its space and relisting on its own.
pub(crate) fn fan_in(
    clients: Vec<(String, kube::Client)>,
    resource: &ApiResource,
    fields: Fields,
) -> BoxStream<'static, Result<MultiEvent, SpaceError>> {
    use futures::StreamExt;
    if clients.is_empty() {
        return futures::stream::pending().boxed();
    }
    let streams = clients.into_iter().map(|(space, client)| {
        decode::watch(client, resource, fields)
            .map(move |r| {
                r.map(|e| tag(e, Some(&space), |_| space.clone()))
                    .map_err(|e| SpaceError::Kubeconfig(format!("watch in space {space}: {e}")))
            })
            .boxed()
    });
    futures::stream::select_all(streams).boxed()
}
