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
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt;
use std::time::Duration;
use tower::{BoxError, ServiceBuilder};

/// How often an idle HTTP/2 connection is pinged: a watch on a connection whose peer
/// vanished without a FIN (a sleeping laptop, a dropped NAT entry) fails within a minute
/// instead of waiting forever, and the watcher reconnects.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// A client for `config`, over HTTP/2 when the server offers it.
pub fn client(config: kube::Config) -> Result<kube::Client, SpaceError> {
    if config.proxy_url.is_some() {
        return Ok(kube::Client::try_from(config)?);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(config.connect_timeout);
    http.set_nodelay(true);
    let tls = config.rustls_client_config()?;
    let mut builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = name.clone().try_into().map_err(|e| SpaceError::Kubeconfig(format!("tls-server-name: {e}")))?;
        builder = builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let https = builder.enable_all_versions().wrap_connector(http);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> kube::Config {
        kube::Config::new(url.parse().expect("url"))
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
