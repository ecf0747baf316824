//! Clients that multiplex over HTTP/2.
//!
//! kube's default client speaks HTTP/1.1 only, so every watch holds a connection of its
//! own: a syncer with five watches keeps five TLS connections to the center, and 10,000
//! syncers keep 50,000. The clients made here offer `h2` by ALPN (falling back to
//! HTTP/1.1 when the server does not take it), so all of one client's requests and watches
//! share a single connection. The orrery space server speaks h2 and allows 100,000
//! concurrent streams per connection; so does kube-apiserver, with a lower limit (see
//! docs/operations.md).
//!
//! Through an HTTP or SOCKS proxy, clients are kube's own (HTTP/1.1 through the tunnel):
//! the proxy support there is what syncers behind proxies rely on.

use crate::SpaceError;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt};
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use kube::client::ConfigExt;
use orrery_spaceserver::cork::Corked;
use std::time::Duration;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder};

/// How often an idle HTTP/2 connection is pinged: a watch on a connection whose peer
/// vanished without a FIN (a sleeping laptop, a dropped NAT entry) fails within a minute
/// instead of waiting forever, and the watcher reconnects.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// TLS sessions a client keeps for resumption. A client talks to one server, so this is
/// one server's worth (rustls keeps up to 8 tickets a server); rustls' default, 256, is
/// room for 32 servers, allocated up front: 16 KiB a syncer, whose clients are two, and
/// 160 MB for 10,000 of them (heaptrack, `orrery bench scale`).
const SESSIONS: usize = 8;

/// A request handler in this process: a server's, called directly.
pub type Handler = BoxCloneSyncService<Request<kube::client::Body>, Response<UnsyncBoxBody<Bytes, BoxError>>, BoxError>;

/// How clients reach their server.
#[derive(Clone, Default)]
pub enum Transport {
    /// HTTPS (or HTTP) to the URL of their configuration, with [`client`].
    #[default]
    Network,
    /// Straight to the server's handler: no connection, TLS or HTTP/2 framing, and no
    /// copy of every request and watch event through the kernel. The requests are the
    /// same (URL, token, body), and so are the server's answers. At 1,000 WECs a
    /// quarter of the center's CPU went to HTTP/2 and TLS, much of it between the center's
    /// own controllers and its own server.
    InProcess(Handler),
}

impl Transport {
    /// A client for `config` over this transport.
    pub fn client(&self, config: kube::Config) -> Result<kube::Client, SpaceError> {
        match self {
            Self::Network => client(config),
            Self::InProcess(handler) => {
                let service = ServiceBuilder::new()
                    .layer(config.base_uri_layer())
                    .option_layer(config.auth_layer()?)
                    .layer(config.extra_headers_layer()?)
                    .service(handler.clone());
                Ok(kube::Client::new(service, config.default_namespace))
            }
        }
    }
}

/// What a client is made from, for making it on another runtime: a kube client sends
/// through a task on the runtime that made it, so a client made on a busy runtime is only
/// as prompt as that runtime (see `LeaderElector::spawn_dedicated` in orrery-runtime).
#[derive(Clone)]
pub struct ClientSpec {
    pub config: kube::Config,
    pub transport: Transport,
}

impl ClientSpec {
    /// HTTPS (or HTTP) to the current context of `kubeconfig`.
    pub async fn network(kubeconfig: kube::config::Kubeconfig) -> Result<Self, SpaceError> {
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| SpaceError::Kubeconfig(e.to_string()))?;
        Ok(Self { config, transport: Transport::Network })
    }

    /// A new client, whose task is on the current runtime.
    pub fn client(&self) -> Result<kube::Client, SpaceError> {
        self.transport.client(self.config.clone())
    }
}

/// A client for `config`, over HTTP/2 when the server offers it.
pub fn client(config: kube::Config) -> Result<kube::Client, SpaceError> {
    if config.proxy_url.is_some() {
        return Ok(kube::Client::try_from(config)?);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(config.connect_timeout);
    http.set_nodelay(true);
    let mut tls = config.rustls_client_config()?;
    tls.resumption = rustls::client::Resumption::in_memory_sessions(SESSIONS);
    let mut builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = name.clone().try_into().map_err(|e| SpaceError::Kubeconfig(format!("tls-server-name: {e}")))?;
        builder = builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let https = CorkH2(builder.enable_all_versions().wrap_connector(Corking(http)));
    let hyper = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .http2_keep_alive_interval(KEEP_ALIVE)
        .http2_keep_alive_while_idle(true)
        .build(https);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(hyper);
    Ok(kube::Client::new(service, config.default_namespace))
}

/// A TCP connection under a [`Corked`] stream, uncorked until TLS has chosen HTTP/2.
type Tcp = TokioIo<Corked<tokio::net::TcpStream>>;

/// Connects as the wrapped connector does, under a [`Corked`] stream.
#[derive(Clone)]
struct Corking(HttpConnector);

impl tower::Service<http::Uri> for Corking {
    type Response = Tcp;
    type Error = <HttpConnector as tower::Service<http::Uri>>::Error;
    type Future = BoxFuture<'static, Result<Tcp, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        self.0.call(uri).map_ok(|tcp| TokioIo::new(Corked::new(tcp.into_inner()))).boxed()
    }
}

/// Corks a connection whose TLS chose HTTP/2 (see `orrery_spaceserver::cork`): its
/// requests and watches share it, and what they send together goes out together.
#[derive(Clone)]
struct CorkH2<C>(C);

impl<C> tower::Service<http::Uri> for CorkH2<C>
where
    C: tower::Service<http::Uri, Response = MaybeHttpsStream<Tcp>>,
    C::Future: Send + 'static,
{
    type Response = MaybeHttpsStream<Tcp>;
    type Error = C::Error;
    type Future = BoxFuture<'static, Result<Self::Response, C::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), C::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        self.0
            .call(uri)
            .map_ok(|mut stream| {
                if let MaybeHttpsStream::Https(tls) = &mut stream {
                    let (tcp, session) = tls.inner_mut().get_mut();
                    tcp.inner_mut().inner_mut().cork_if_h2(session.alpn_protocol());
                }
                stream
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> kube::Config {
        kube::Config::new(url.parse().expect("url"))
    }

    /// In process, a request reaches the handler as it would reach the server: the path
    /// under the configured URL, and the token.
    #[tokio::test]
    async fn in_process_requests_carry_the_path_and_the_token() {
        use http_body_util::{BodyExt, Full};
        let handler = Handler::new(tower::service_fn(|req: Request<kube::client::Body>| async move {
            let seen = serde_json::json!({
                "path": req.uri().path(),
                "auth": req.headers().get("authorization").and_then(|v| v.to_str().ok()),
            });
            let body = Full::new(Bytes::from(seen.to_string())).map_err(BoxError::from).boxed_unsync();
            Ok::<_, BoxError>(Response::new(body))
        }));
        let mut config = config("https://127.0.0.1:6443/clusters/wds1");
        config.auth_info.token = Some("secret".to_owned().into());
        let client = Transport::InProcess(handler).client(config).expect("client");
        let request = Request::get("/api/v1/namespaces").body(Vec::new()).expect("request");
        let seen: serde_json::Value = client.request(request).await.expect("answered");
        assert_eq!(seen, serde_json::json!({"path": "/clusters/wds1/api/v1/namespaces", "auth": "Bearer secret"}));
    }

    #[tokio::test]
    async fn builds_for_https_http_and_proxies() {
        assert!(client(config("https://127.0.0.1:6443")).is_ok());
        assert!(client(config("http://127.0.0.1:8080")).is_ok());
        let mut proxied = config("https://127.0.0.1:6443");
        proxied.proxy_url = Some("http://127.0.0.1:3128".parse().expect("proxy url"));
        assert!(client(proxied).is_ok());
    }
}
