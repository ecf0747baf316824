//! `orrery server`: the embedded space server on its own.

use anyhow::Context;
use orrery_spaceserver::server::{InflightLimits, ServerConfig, start};
use orrery_spaceserver::store::EmbeddedStoreConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The space server's flags, shared by `orrery server` and `orrery up`.
#[derive(clap::Args, Clone)]
pub struct Args {
    /// Where the store, the CA, the admin token and admin.kubeconfig live (for `up`, also
    /// kubeconfigs/ for its spaces and wecs/ for its simulated WECs).
    #[arg(long, value_name = "DIR", default_value = ".orrery")]
    pub data_dir: PathBuf,
    /// The address to listen on; port 0 picks a free one (printed when ready).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Another host name or address clients (and real clusters' syncers) use, added to the
    /// certificate and to the kubeconfigs the server hands out.
    #[arg(long, value_name = "HOST")]
    pub advertise_host: Option<String>,
    /// Serve plain HTTP instead of HTTPS. For tests only: tokens travel in the clear.
    #[arg(long)]
    pub insecure_http: bool,
    /// How many recent events watches can resume from (older resource versions get 410).
    #[arg(long, value_name = "N", default_value_t = 200_000, hide = true)]
    pub event_history: usize,
    /// The store's log is rewritten from the live state once it is twice that and at least
    /// this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = EmbeddedStoreConfig::DEFAULT_COMPACT_MIN_BYTES, hide = true)]
    pub compact_min_bytes: u64,
    /// How many gets and lists are served at once, as kube-apiserver's flag; more wait
    /// their turn. Watches are not counted.
    #[arg(long, value_name = "N", default_value_t = InflightLimits::default().readonly,
          value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u32).range(1..), |n| n as usize))]
    pub max_requests_inflight: usize,
    /// How many creates, updates, patches and deletes are served at once; more wait
    /// their turn.
    #[arg(long, value_name = "N", default_value_t = InflightLimits::default().mutating,
          value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u32).range(1..), |n| n as usize))]
    pub max_mutating_requests_inflight: usize,
}

impl Args {
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            advertise_host: self.advertise_host.clone(),
            insecure_http: self.insecure_http,
            event_history: self.event_history,
            compact_min_bytes: self.compact_min_bytes,
            inflight: self.inflight(),
        }
    }

    pub fn inflight(&self) -> InflightLimits {
        InflightLimits { readonly: self.max_requests_inflight, mutating: self.max_mutating_requests_inflight }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let server = start(args.config()).await.context("starting the space server")?;
    // One JSON line on stdout says the server is ready and where: scripts and tests read it.
    println!(
        "{}",
        serde_json::json!({"url": server.endpoint.url, "kubeconfig": server.admin_kubeconfig, "address": server.addr.to_string()})
    );
    eprintln!(
        "orrery space server at {}; admin kubeconfig: {}",
        server.endpoint.url,
        server.admin_kubeconfig.display()
    );
    tokio::select! {
        _ = shutdown_signal() => eprintln!("shutting down"),
        _ = server.wait() => {}
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
