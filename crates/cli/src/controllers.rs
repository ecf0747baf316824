//! `orrery controllers` and `orrery up`: the mailbox controller, the scheduler, the
//! placement translator and the status summarizer, behind leader election, with Prometheus
//! metrics.

use anyhow::Context;
use kube::config::Kubeconfig;
use orrery_mailbox::MailboxController;
use orrery_runtime::{LeaderElector, LeaseConfig, Metrics, Shutdown, serve_metrics, unique_identity};
use orrery_scheduler::SchedulerController;
use orrery_spaces::connect::ClientSpec;
use orrery_spaces::{EmbeddedProvider, KubeconfigProvider, SpaceProvider};
use orrery_summarizer::Summarizer;
use orrery_translator::TranslatorController;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The admin kubeconfig of the space server (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Take the spaces from configuration instead of from an orrery server: each context
    /// of --kubeconfig is a space, named after the context (real clusters, kcp workspaces,
    /// orrery spaces by URL). The leader-election Lease lives in the current context.
    #[arg(long)]
    spaces_from_contexts: bool,
    /// With --spaces-from-contexts: the admin kubeconfig of the orrery server that hosts
    /// the mailbox spaces. Without it, the mailbox controller does not run.
    #[arg(long, value_name = "FILE", requires = "spaces_from_contexts")]
    mailbox_host_kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

/// What the controllers run against.
pub(crate) struct Wiring {
    /// Where EdgePlacements, Locations and SyncTargets are followed.
    spaces: Arc<dyn SpaceProvider>,
    /// Where mailbox spaces are made; `None`: no mailbox controller.
    mailboxes: Option<Arc<dyn SpaceProvider>>,
    /// Where the leader-election Lease lives; its client is made on the elector's thread.
    lease: ClientSpec,
}

impl Wiring {
    /// Everything on one orrery server; the Lease in its root space.
    pub(crate) fn embedded(provider: Arc<EmbeddedProvider>) -> Self {
        let lease = provider.root_spec().clone();
        Self { spaces: provider.clone(), mailboxes: Some(provider), lease }
    }
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
    /// Default: 15 (`orrery controllers`), 60 (`orrery up`, see `docs/operations.md`).
    #[arg(long, value_name = "SECONDS")]
    lease_duration: Option<f64>,
    /// How long a syncer may be silent before its SyncTarget's `HeartbeatHealthy`
    /// condition turns False, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    heartbeat_timeout: f64,
    /// Heartbeats a second the whole fleet of syncers may send: past that, each mailbox's
    /// `the-one` grants its syncer a longer interval (a power of two times 10 s), and the
    /// timeout grows to three such intervals where that is longer.
    #[arg(long, value_name = "N", default_value_t = orrery_mailbox::HEARTBEATS_PER_SECOND)]
    heartbeats_per_second: f64,
}

/// Runs the controllers against `provider` until `shutdown`; only while this replica holds
/// the `kube-system/orrery-controllers` Lease of the root space.
/// The Lease of `orrery controllers`: client-go's default.
pub(crate) const LEASE_DURATION: f64 = 15.0;

/// The Lease of `orrery up`, whose controllers share a process with the space server: with
/// thousands of WECs connecting, the server's own load delays their renewals past the 10 s
/// a 15 s Lease allows (measured at 10,000 WECs), and losing the Lease stops them. A
/// standby against an `up` server takes over within a minute instead.
pub(crate) const UP_LEASE_DURATION: f64 = 60.0;

pub(crate) async fn run_controllers(
    wiring: Wiring,
    args: RunArgs,
    default_lease: f64,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.heartbeats_per_second.is_finite() && args.heartbeats_per_second > 0.0,
        "--heartbeats-per-second must be a positive number, not {}",
        args.heartbeats_per_second
    );
    let metrics = Metrics::new();
    let server = serve_metrics(args.metrics_listen, metrics.clone(), shutdown.clone()).await?;
    eprintln!("metrics at http://{}/metrics", server.local_addr());
    let identity = args.identity.clone().unwrap_or_else(|| unique_identity("orrery-controllers"));
    let mut lease = LeaseConfig::new("kube-system", "orrery-controllers", &identity);
    let seconds = args.lease_duration.unwrap_or(default_lease);
    let duration = std::time::Duration::try_from_secs_f64(seconds).context("--lease-duration")?;
    lease.lease_duration = duration;
    lease.renew_deadline = duration * 2 / 3;
    lease.retry_period = duration * 2 / 15;
    let elector = LeaderElector::spawn_dedicated(|| wiring.lease.client(), lease, shutdown.clone())?;
    let mut leading = elector.subscribe();
    eprintln!("{identity} waiting to lead");
    let controllers = if wiring.mailboxes.is_some() {
        "the mailbox controller, the scheduler, the placement translator and the status summarizer"
    } else {
        "the scheduler (no mailbox host)"
    };
    // One term per leadership: losing the Lease stops the controllers (a standby may lead
    // now, and two must never act), and the elector campaigns again. The process stays up:
    // under `orrery up` it is also the space server, which must not stop with them.
    while !shutdown.is_triggered() {
        tokio::select! {
            led = leading.wait_for(|l| *l) => if led.is_err() {
                anyhow::bail!("the leader election thread stopped");
            },
            _ = shutdown.wait() => break,
        }
        eprintln!("{identity} leads: running {controllers}");
        let term = Shutdown::new();
        let running = run_term(&wiring, &args, &metrics, &term)?;
        // An error here is the elector gone: no longer leading either.
        tokio::select! {
            _ = leading.wait_for(|l| !*l) => {}
            _ = shutdown.wait() => {}
        }
        term.trigger();
        futures::future::join_all(running).await;
        if !shutdown.is_triggered() {
            eprintln!("{identity} lost the lease: controllers stopped; campaigning again");
        }
    }
    elector.finished().await;
    Ok(())
}

/// Starts the controllers of one leadership term, to stop on `term`.
fn run_term(
    wiring: &Wiring,
    args: &RunArgs,
    metrics: &Metrics,
    term: &Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut running = Vec::new();
    if let Some(host) = &wiring.mailboxes {
        let timeout = std::time::Duration::try_from_secs_f64(args.heartbeat_timeout).context("--heartbeat-timeout")?;
        let mailbox = MailboxController::with_mailbox_host(wiring.spaces.clone(), host.clone(), metrics)
            .with_heartbeat_timeout(timeout)
            .with_heartbeats_per_second(args.heartbeats_per_second);
        running.push(tokio::spawn(mailbox.run(term.clone(), args.workers)));
        let translator = TranslatorController::with_mailbox_host(wiring.spaces.clone(), host.clone(), metrics);
        if let Some(routes) = translator.subscribe_routes() {
            let summarizer = Summarizer::new(wiring.spaces.clone(), host.clone(), routes, metrics);
            running.push(tokio::spawn(summarizer.run(term.clone(), args.workers)));
        }
        running.push(tokio::spawn(translator.run(term.clone(), args.workers)));
    }
    let scheduler = SchedulerController::new(wiring.spaces.clone(), metrics);
    running.push(tokio::spawn(scheduler.run(term.clone(), args.workers)));
    Ok(running)
}

fn read_kubeconfig(path: Option<&PathBuf>) -> anyhow::Result<Kubeconfig> {
    match path {
        Some(p) => Kubeconfig::read_from(p).with_context(|| format!("reading {}", p.display())),
        None => Kubeconfig::read().context("reading the kubeconfig ($KUBECONFIG or ~/.kube/config); pass --kubeconfig"),
    }
}

pub async fn controllers(args: Args) -> anyhow::Result<()> {
    let kubeconfig = read_kubeconfig(args.kubeconfig.as_ref())?;
    let wiring = if args.spaces_from_contexts {
        let lease = ClientSpec::network(kubeconfig.clone()).await.context("the current context of --kubeconfig")?;
        let spaces: Arc<dyn SpaceProvider> = Arc::new(KubeconfigProvider::from_contexts(kubeconfig).await?);
        let mailboxes: Option<Arc<dyn SpaceProvider>> = match &args.mailbox_host_kubeconfig {
            Some(path) => Some(Arc::new(EmbeddedProvider::new(read_kubeconfig(Some(path))?).await?)),
            None => None,
        };
        Wiring { spaces, mailboxes, lease }
    } else {
        Wiring::embedded(Arc::new(EmbeddedProvider::new(kubeconfig).await?))
    };
    run_controllers(wiring, args.run, LEASE_DURATION, Shutdown::on_signals()).await
}
