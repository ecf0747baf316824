//! `orrery syncer`: the agent that runs in a workload execution cluster and dials inward to
//! its mailbox.

use anyhow::Context;
use kube::config::Kubeconfig;
use orrery_runtime::{Metrics, Shutdown, serve_metrics};
use orrery_syncer::{Settings, Syncer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The mailbox kubeconfig (the Secret `kube-system/mailbox-<SyncTarget>` of the
    /// inventory space holds it, key `kubeconfig`); its token opens that mailbox only.
    #[arg(long, value_name = "FILE")]
    mailbox_kubeconfig: PathBuf,
    /// The WEC's kubeconfig; without it, the in-cluster configuration (or $KUBECONFIG).
    #[arg(long, value_name = "FILE")]
    wec_kubeconfig: Option<PathBuf>,
    /// Seconds between heartbeats to the mailbox.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    heartbeat_interval: f64,
    /// Where Prometheus scrapes `/metrics` (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    metrics_listen: SocketAddr,
    /// Concurrent reconciles.
    #[arg(long, default_value_t = 4)]
    workers: usize,
}

async fn client(path: &PathBuf) -> anyhow::Result<kube::Client> {
    let kc = Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(orrery_spaces::client_for(kc).await?)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mailbox = client(&args.mailbox_kubeconfig).await.context("the mailbox client")?;
    let wec = match &args.wec_kubeconfig {
        Some(path) => client(path).await.context("the WEC client")?,
        None => kube::Client::try_default().await.context("the in-cluster WEC client")?,
    };
    let heartbeat = Duration::try_from_secs_f64(args.heartbeat_interval).context("--heartbeat-interval")?;
    let shutdown = Shutdown::on_signals();
    let metrics = Metrics::new();
    let server = serve_metrics(args.metrics_listen, metrics.clone(), shutdown.clone()).await?;
    eprintln!("syncer metrics at http://{}/metrics", server.local_addr());
    let syncer = Syncer::new(mailbox, wec, Settings { heartbeat, workers: args.workers }, &metrics);
    eprintln!("syncer running");
    syncer.run(shutdown).await;
    Ok(())
}
