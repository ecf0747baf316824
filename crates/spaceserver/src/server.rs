//! Starting the space server: data directory, store, tokens, certificates, the listener
//! (HTTPS with h2 and HTTP/1.1, or plain HTTP for tests), and the admin kubeconfig.

pub use crate::api::inflight::InflightLimits;
use crate::api::{ApiServer, spaces};
use crate::auth::{Authenticator, new_token};
use crate::cork::Corked;
use crate::kubeconfig::{self, Endpoint};
use crate::pki::{self, write_private};
use crate::store::{EmbeddedStore, EmbeddedStoreConfig, Store};
use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// A further name or address clients use, added to the certificate and kubeconfigs.
    pub advertise_host: Option<String>,
    /// Serve plain HTTP (tests only: tokens then travel in the clear).
    pub insecure_http: bool,
    /// How many recent events watches can resume from.
    pub event_history: usize,
    /// The store's log is rewritten once it is twice the live state and at least this
    /// large ([`EmbeddedStoreConfig::compact_min_bytes`]).
    pub compact_min_bytes: u64,
    /// How many requests are served at once; more wait their turn.
    pub inflight: InflightLimits,
}

impl ServerConfig {
    /// A server on 127.0.0.1 with a port the OS picks, over plain HTTP: what in-process
    /// tests of other components start.
    pub fn loopback_for_tests(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise_host: None,
            insecure_http: true,
            event_history: 10_000,
            compact_min_bytes: EmbeddedStoreConfig::DEFAULT_COMPACT_MIN_BYTES,
            inflight: InflightLimits::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    // The cause is the error's source, which reports print after the message: naming it
    // in the message as well printed it twice.
    #[error("{what}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error("opening the store")]
    Store(#[from] crate::store::StoreError),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("starting spaces: {0}")]
    Spaces(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let what = what.into();
    move |source| ServerError::Io { what, source }
}

/// The HTTP/2 receive window of a connection: what its clients may send before the server
/// reads it. h2 also bounds the small DATA frames a connection may hold unread to half of
/// this window, and closes the connection (GOAWAY `ENHANCE_YOUR_CALM`) past it. At hyper's
/// 1 MB, one connection carrying 10,000 simulated clusters' writes (`orrery bench scale`)
/// was closed every few seconds, and every watch on it with it. kube-apiserver sizes the
/// window the same way: 256 KB per stream times its 250 streams.
const CONNECTION_WINDOW: u32 = 64 << 20;

/// A started server.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub endpoint: Endpoint,
    pub admin_token: String,
    pub admin_kubeconfig: PathBuf,
    pub api: Arc<ApiServer>,
    serve: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Serves until the task is dropped or the process ends.
    pub async fn wait(self) {
        let _ = self.serve.await;
    }

    pub fn stop(&self) {
        self.serve.abort();
    }
}

fn admin_token(dir: &std::path::Path) -> Result<String, ServerError> {
    let path = dir.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_owned();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let t = new_token();
    write_private(&path, &t).map_err(io(format!("writing {}", path.display())))?;
    Ok(t)
}

fn tls_config(certs: &pki::Certificates) -> Result<rustls::ServerConfig, ServerError> {
    let chain = CertificateDer::pem_slice_iter(certs.server_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_slice(certs.server_key_pem.as_bytes()).map_err(|e| ServerError::Tls(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Starts serving; returns once the listener is bound and every space is loaded.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut store_config = EmbeddedStoreConfig::new(dir.join("store.log"));
    store_config.event_history = config.event_history;
    store_config.compact_min_bytes = config.compact_min_bytes;
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(store_config)?);
    let token = admin_token(dir)?;
    let api = Arc::new(ApiServer::new(store, Authenticator::new(token.clone()), config.inflight));
    let listener = TcpListener::bind(config.listen).await.map_err(io(format!("listening on {}", config.listen)))?;
    let addr = listener.local_addr().map_err(io("reading the listen address"))?;
    let host = match &config.advertise_host {
        Some(h) => h.clone(),
        None if addr.ip().is_unspecified() => "127.0.0.1".to_owned(),
        None => addr.ip().to_string(),
    };
    let host_in_url = if host.contains(':') { format!("[{host}]") } else { host.clone() };
    let (tls, endpoint) = if config.insecure_http {
        (None, Endpoint { url: format!("http://{host_in_url}:{}", addr.port()), ca_pem: None })
    } else {
        let certs = pki::load_or_create(dir, &config.advertise_host.iter().cloned().collect::<Vec<_>>())?;
        let tls = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(&certs)?));
        (Some(tls), Endpoint { url: format!("https://{host_in_url}:{}", addr.port()), ca_pem: Some(certs.ca_pem) })
    };
    api.set_endpoint(endpoint.clone());
    spaces::bootstrap(&api).await.map_err(|e| ServerError::Spaces(e.to_string()))?;
    let admin_kubeconfig = dir.join("admin.kubeconfig");
    write_private(&admin_kubeconfig, &kubeconfig::render(&endpoint, crate::api::path::ROOT_SPACE, &token))
        .map_err(io(format!("writing {}", admin_kubeconfig.display())))?;
    let serve = tokio::spawn(accept_loop(listener, tls, api.clone()));
    tracing::info!(%addr, url = %endpoint.url, "space server listening");
    Ok(RunningServer { addr, endpoint, admin_token: token, admin_kubeconfig, api, serve })
}

async fn accept_loop(listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, api: Arc<ApiServer>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                // Boxed: hyper keeps a stream's task as large as the handler's state for as
                // long as the stream lives, and a watch lives long after its handler has
                // returned. 60,000 watches (10,000 syncers) each held a kilobyte of it.
                let handled = Box::pin(api.clone().handle(req.map(Body::new)));
                async move {
                    let mut response = handled.await;
                    if let Some(date) = crate::date::header_value(jiff::Timestamp::now()) {
                        response.headers_mut().insert(axum::http::header::DATE, date);
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http2()
                .max_concurrent_streams(100_000)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .auto_date_header(false);
            let result = match tls {
                Some(tls) => match tls.accept(Corked::new(stream)).await {
                    Ok(mut s) => {
                        let (tcp, session) = s.get_mut();
                        tcp.cork_if_h2(session.alpn_protocol());
                        builder.serve_connection(TokioIo::new(s), service).await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
                None => builder.serve_connection(TokioIo::new(stream), service).await,
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
