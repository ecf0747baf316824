//! Spaces on an orrery space server: Space objects in its root space, one client per space
//! by URL prefix, and multi-space watches as one wildcard watch.

use crate::connect::{ClientSpec, Transport};
use crate::{Fields, MultiEvent, SPACE_ANNOTATION, SpaceError, SpaceProvider, decode, fan_in, tag};
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The root space's name on an orrery server.
const ROOT: &str = "root";
/// Where a space's kubeconfig Secret lives in the root space.
const SYSTEM_NAMESPACE: &str = "orrery-system";

pub struct EmbeddedProvider {
    /// The server's root URL, no space: every space client sends through it, so requests
    /// to 10,000 spaces share one connection pool instead of opening 10,000.
    base: kube::Client,
    root: kube::Client,
    spaces: Api<DynamicObject>,
    wildcard: kube::Client,
    /// What `root` is made from, for a client of its own on another runtime.
    root_spec: ClientSpec,
    ready_timeout: Duration,
}

/// A client for one space that sends through `base` (the server's root URL) with its path
/// under `/clusters/<space>`.
fn space_client(base: &kube::Client, space: &str) -> kube::Client {
    let base = base.clone();
    let space = space.to_owned();
    let service = tower::service_fn(move |mut request: http::Request<kube::client::Body>| {
        let base = base.clone();
        let uri = in_space(&space, request.uri());
        async move {
            *request.uri_mut() = uri.map_err(|e| kube::Error::Service(Box::new(e)))?;
            base.send(request).await
        }
    });
    kube::Client::new(service, "default")
}

/// `uri`'s path and query under `/clusters/<space>`.
fn in_space(space: &str, uri: &http::Uri) -> Result<http::Uri, http::uri::InvalidUri> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("/clusters/{space}{path}").parse()
}

/// The kubeconfig with its current cluster's server pointed at `/clusters/<space>`.
pub(crate) fn for_space(mut kc: Kubeconfig, space: &str) -> Result<Kubeconfig, SpaceError> {
    let err = |m: &str| SpaceError::Kubeconfig(m.to_owned());
    let context = kc.current_context.clone().ok_or_else(|| err("no current-context"))?;
    let cluster_name = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .ok_or_else(|| err("the current context names no cluster"))?;
    let cluster = kc
        .clusters
        .iter_mut()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_mut())
        .ok_or_else(|| err("the current context's cluster is missing"))?;
    let server = cluster.server.clone().ok_or_else(|| err("the cluster has no server"))?;
    let base = server.find("/clusters/").map_or(server.trim_end_matches('/'), |i| &server[..i]);
    cluster.server = Some(format!("{base}/clusters/{space}"));
    Ok(kc)
}

/// A client for a kubeconfig's current context.
pub async fn client_for(kc: Kubeconfig) -> Result<kube::Client, SpaceError> {
    ClientSpec::network(kc).await?.client()
}

impl EmbeddedProvider {
    /// A provider for the server an admin kubeconfig (any space of it) points at.
    pub async fn new(admin: Kubeconfig) -> Result<Self, SpaceError> {
        Self::with_transport(admin, Transport::Network).await
    }

    /// A provider whose clients reach the server by `transport`: `orrery up` hands its
    /// controllers its server's handler, in process.
    pub async fn with_transport(admin: Kubeconfig, transport: Transport) -> Result<Self, SpaceError> {
        let config = |space: &str| {
            let kc = for_space(admin.clone(), space);
            async move {
                kube::Config::from_custom_kubeconfig(kc?, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| SpaceError::Kubeconfig(e.to_string()))
            }
        };
        let root_spec = ClientSpec { config: config(ROOT).await?, transport: transport.clone() };
        let base = {
            let mut config = root_spec.config.clone();
            let url = config.cluster_url.to_string();
            let root = url.find("/clusters/").map_or(url.trim_end_matches('/'), |i| &url[..i]);
            config.cluster_url = root.parse().map_err(|e| SpaceError::Kubeconfig(format!("server URL: {e}")))?;
            transport.client(config)?
        };
        let root = space_client(&base, ROOT);
        let wildcard = transport.client(config("*").await?)?;
        let spaces = Api::all_with(root.clone(), &orrery_api::space::api_resource());
        Ok(Self { base, root, spaces, wildcard, root_spec, ready_timeout: Duration::from_secs(60) })
    }

    /// What a client of the root space is made from, for one on another runtime.
    pub fn root_spec(&self) -> &ClientSpec {
        &self.root_spec
    }

    fn phase(s: &DynamicObject) -> Option<&str> {
        s.data.pointer("/status/phase").and_then(Value::as_str)
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

#[async_trait::async_trait]
impl SpaceProvider for EmbeddedProvider {
    async fn create(&self, name: &str, annotations: &BTreeMap<String, String>) -> Result<(), SpaceError> {
        let mut obj = DynamicObject::new(name, &orrery_api::space::api_resource());
        obj.data = json!({});
        if !annotations.is_empty() {
            obj.metadata.annotations = Some(annotations.clone());
        }
        match self.spaces.create(&PostParams::default(), &obj).await {
            Ok(_) => {}
            Err(e) if is_status(&e, 409) => {}
            Err(e) => return Err(e.into()),
        }
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            if Self::phase(&self.spaces.get(name).await?) == Some("Ready") {
                return Ok(());
            }
            if started.elapsed() > self.ready_timeout {
                return Err(SpaceError::NotReady { space: name.to_owned(), waited: started.elapsed() });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    async fn delete(&self, name: &str) -> Result<(), SpaceError> {
        match self.spaces.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self) -> Result<Vec<String>, SpaceError> {
        let list = self.spaces.list(&ListParams::default()).await?;
        Ok(list.items.into_iter().filter_map(|s| s.metadata.name).collect())
    }

    /// Made anew each time and not kept: a client is a task and a 10 KB channel in front of
    /// `base` (`kube::Client` always buffers), and keeping one per mailbox held 100 MB at
    /// 10,000 WECs for writes that come in bursts. Making one costs microseconds.
    async fn client(&self, name: &str) -> Result<kube::Client, SpaceError> {
        Ok(if name == ROOT { self.root.clone() } else { space_client(&self.base, name) })
    }

    /// Sent through `base` with the space's path in front: no client is made for it.
    async fn send(&self, name: &str, mut request: http::Request<Vec<u8>>) -> Result<String, SpaceError> {
        if name == ROOT {
            return Ok(self.root.request_text(request).await?);
        }
        *request.uri_mut() = in_space(name, request.uri()).map_err(|e| kube::Error::Service(Box::new(e)))?;
        Ok(self.base.request_text(request).await?)
    }

    /// The space's own kubeconfig, whose token opens that space only.
    async fn kubeconfig(&self, name: &str) -> Result<Kubeconfig, SpaceError> {
        let space = self.spaces.get_opt(name).await?.ok_or_else(|| SpaceError::NotFound(name.to_owned()))?;
        let secret_name = space
            .data
            .pointer("/status/kubeconfigSecret/name")
            .and_then(Value::as_str)
            .ok_or_else(|| SpaceError::NotReady { space: name.to_owned(), waited: Duration::ZERO })?
            .to_owned();
        let secret = Api::<Secret>::namespaced(self.root.clone(), SYSTEM_NAMESPACE).get(&secret_name).await?;
        let bytes = secret
            .data
            .and_then(|mut d| d.remove("kubeconfig"))
            .ok_or_else(|| SpaceError::Kubeconfig(format!("Secret {secret_name} has no kubeconfig")))?;
        let text =
            String::from_utf8(bytes.0).map_err(|_| SpaceError::Kubeconfig("the kubeconfig is not UTF-8".into()))?;
        Kubeconfig::from_yaml(&text).map_err(|e| SpaceError::Kubeconfig(e.to_string()))
    }

    fn watch_spaces(&self) -> BoxStream<'static, Result<MultiEvent, SpaceError>> {
        decode::watch(self.root.clone(), &orrery_api::space::api_resource(), Fields::Unmanaged)
            .map(|r| {
                r.map(|e| tag(e, Some(ROOT), |o| o.metadata.name.clone().unwrap_or_default()))
                    .map_err(|e| SpaceError::Kubeconfig(format!("space watch: {e}")))
            })
            .boxed()
    }

    fn watch_in(
        &self,
        resource: ApiResource,
        spaces: &[String],
        fields: Fields,
    ) -> BoxStream<'static, Result<MultiEvent, SpaceError>> {
        fan_in(spaces.iter().map(|s| (s.clone(), space_client(&self.base, s))).collect(), &resource, fields)
    }

    fn watch_all(&self, resource: ApiResource, fields: Fields) -> BoxStream<'static, Result<MultiEvent, SpaceError>> {
        decode::watch(self.wildcard.clone(), &resource, fields)
            .map(|r| {
                r.map(|e| tag(e, None, |o| o.annotations().get(SPACE_ANNOTATION).cloned().unwrap_or_default()))
                    .map_err(|e| SpaceError::Kubeconfig(format!("wildcard watch: {e}")))
            })
            .boxed()
    }
}
