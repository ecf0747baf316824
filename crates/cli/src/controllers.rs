//! `orrery controllers` and `orrery up`: the mailbox controller and the scheduler, behind
//! leader election, with Prometheus metrics.

use anyhow::Context;
use kube::config::Kubeconfig;
use orrery_mailbox::MailboxController;
use orrery_runtime::{LeaderElector, LeaseConfig, Metrics, Shutdown, serve_metrics, unique_identity};
use orrery_scheduler::SchedulerController;
use orrery_spaces::{EmbeddedProvider, SpaceProvider};
use orrery_spaceserver::server::{ServerConfig, start};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The admin kubeconfig of the space server (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// Where Prometheus scrapes `/metrics` (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    metrics_listen: SocketAddr,
    /// Concurrent reconciles per controller.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// This replica's name in the leader-election Lease (default: host name, pid, random).
    #[arg(long)]
    identity: Option<String>,
    /// How long a standby waits for a silent leader before taking over, in seconds; the
    /// leader renews every 2/15 of it and steps down after 2/3 of it without renewing.
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0)]
    lease_duration: f64,
}

/// Runs the controllers against `provider` until `shutdown`; only while this replica holds
/// the `kube-system/orrery-controllers` Lease of the root space.
async fn run_controllers(provider: Arc<dyn SpaceProvider>, args: RunArgs, shutdown: Shutdown) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let server = serve_metrics(args.metrics_listen, metrics.clone(), shutdown.clone()).await?;
    eprintln!("metrics at http://{}/metrics", server.local_addr());
    let identity = args.identity.unwrap_or_else(|| unique_identity("orrery-controllers"));
    let mut lease = LeaseConfig::new("kube-system", "orrery-controllers", &identity);
    let duration = std::time::Duration::try_from_secs_f64(args.lease_duration).context("--lease-duration")?;
    lease.lease_duration = duration;
    lease.renew_deadline = duration * 2 / 3;
    lease.retry_period = duration * 2 / 15;
    let elector = LeaderElector::new(provider.client("root").await?, lease)?;
    let mut leading = elector.subscribe();
    tokio::spawn(elector.run(shutdown.clone()));
    eprintln!("{identity} waiting to lead");
    tokio::select! {
        _ = leading.wait_for(|l| *l) => {}
        _ = shutdown.wait() => return Ok(()),
    }
    eprintln!("{identity} leads: running the mailbox controller and the scheduler");
    // Losing the Lease stops the controllers: a standby now leads, and two must never act.
    let lost = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if leading.wait_for(|l| !*l).await.is_ok() && !shutdown.is_triggered() {
                eprintln!("lost the lease; stopping");
                shutdown.trigger();
            }
        })
    };
    let mailbox = tokio::spawn(MailboxController::new(provider.clone(), &metrics).run(shutdown.clone(), args.workers));
    let scheduler = tokio::spawn(SchedulerController::new(provider, &metrics).run(shutdown.clone(), args.workers));
    let _ = tokio::join!(mailbox, scheduler);
    lost.abort();
    Ok(())
}

fn read_kubeconfig(path: Option<&PathBuf>) -> anyhow::Result<Kubeconfig> {
    match path {
        Some(p) => Kubeconfig::read_from(p).with_context(|| format!("reading {}", p.display())),
        None => Kubeconfig::read().context("reading the kubeconfig ($KUBECONFIG or ~/.kube/config); pass --kubeconfig"),
    }
}

pub async fn controllers(args: Args) -> anyhow::Result<()> {
    let provider = Arc::new(EmbeddedProvider::new(read_kubeconfig(args.kubeconfig.as_ref())?).await?);
    run_controllers(provider, args.run, Shutdown::on_signals()).await
}

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where the server keeps its store, CA, tokens and admin.kubeconfig.
    #[arg(long, value_name = "DIR", default_value = ".orrery")]
    data_dir: PathBuf,
    /// The server's address; port 0 picks a free one (printed when ready).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Serve plain HTTP (tests only).
    #[arg(long)]
    insecure_http: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// The inventory space and the workload description space `orrery up` makes.
pub const INVENTORY: &str = "imw1";
pub const WDS: &str = "wds1";

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals();
    let server = start(ServerConfig {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        advertise_host: None,
        insecure_http: args.insecure_http,
        event_history: 200_000,
    })
    .await
    .context("starting the space server")?;
    let provider = Arc::new(EmbeddedProvider::new(Kubeconfig::read_from(&server.admin_kubeconfig)?).await?);
    for space in [INVENTORY, WDS] {
        provider.create(space, &Default::default()).await.with_context(|| format!("creating space {space}"))?;
    }
    println!(
        "{}",
        serde_json::json!({"url": server.endpoint.url, "kubeconfig": server.admin_kubeconfig, "inventory": INVENTORY, "wds": WDS})
    );
    eprintln!(
        "orrery is up at {}\n  admin kubeconfig: {}\n  inventory space: {INVENTORY}   workload description space: {WDS}\n  orrery space kubeconfig {WDS} > {WDS}.kubeconfig",
        server.endpoint.url,
        server.admin_kubeconfig.display()
    );
    let controllers = run_controllers(provider, args.run, shutdown.clone());
    tokio::select! {
        r = controllers => r?,
        _ = shutdown.wait() => {}
    }
    server.stop();
    Ok(())
}
