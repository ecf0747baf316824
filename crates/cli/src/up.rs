//! `orrery up`: the whole pipeline in one process on the embedded default — the space
//! server, every controller, the inventory space `imw1` and the WDS `wds1` — and, with
//! `--sim-wecs N`, N simulated WECs: spaces on a second embedded server (its own listener
//! and data directory, playing the clusters), each with its own syncer dialling its mailbox
//! over HTTPS with its mailbox token, registered in the inventory with labels.
//!
//! Everything lives under `--data-dir`, so running it again with the same directory
//! resumes where it was.

use crate::controllers::{RunArgs, UP_LEASE_DURATION, Wiring, run_controllers};
use crate::location::{ensure_location, mailbox_kubeconfig, parse_labels};
use anyhow::Context;
use http_body_util::BodyExt;
use kube::config::Kubeconfig;
use orrery_runtime::{Metrics, Shutdown};
use orrery_simcluster::SimCluster;
use orrery_spaces::connect::{Handler, Transport};
use orrery_spaces::{EmbeddedProvider, SpaceProvider, client_for};
use orrery_spaceserver::api::ApiServer;
use orrery_spaceserver::server::{RunningServer, ServerConfig, start};
use orrery_syncer::{Settings, Syncer};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::BoxError;

/// The inventory space and the workload description space `orrery up` makes.
pub const INVENTORY: &str = "imw1";
pub const WDS: &str = "wds1";

/// Regions the simulated WECs are spread over, in turn, unless labelled otherwise.
const REGIONS: [&str; 3] = ["us-east", "eu-west", "ap-south"];

#[derive(clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    server: crate::server::Args,
    /// How many simulated WECs to run (spaces of a second embedded server, each with its
    /// own syncer). Simulated: workloads get plausible status, nothing runs.
    #[arg(long, value_name = "N", default_value_t = 0)]
    sim_wecs: usize,
    /// Labels of the simulated WECs, one flag per WEC in order (`region=eu-west,env=dev`);
    /// they replace the defaults `region` (us-east, eu-west, ap-south in turn) and
    /// `env=prod`. Every WEC is also labelled `name=<wec>` and `id=<wec>`.
    #[arg(long = "sim-wec-labels", value_name = "KEY=VALUE,…")]
    sim_wec_labels: Vec<String>,
    /// Seconds a simulated workload takes to become ready.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    sim_delay: f64,
    #[command(flatten)]
    run: RunArgs,
}

/// The labels of simulated WEC `i` (0-based), named `name` (`id=<name>` is added when it
/// is registered).
pub fn wec_labels(i: usize, name: &str, given: Option<&str>) -> anyhow::Result<BTreeMap<String, String>> {
    let mut labels = match given {
        Some(text) => parse_labels(text.split(',')).with_context(|| format!("--sim-wec-labels {text:?}"))?,
        None => BTreeMap::from([
            ("region".to_owned(), REGIONS[i % REGIONS.len()].to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ]),
    };
    labels.insert("name".into(), name.into());
    Ok(labels)
}

fn step(started: Instant, what: &str) {
    eprintln!("[{:>5.1}s] {what}", started.elapsed().as_secs_f64());
}

fn write_kubeconfig(dir: &Path, space: &str, kc: &Kubeconfig) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{space}.kubeconfig"));
    std::fs::write(&path, serde_saphyr::to_string(kc)?).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// `kc` with every cluster's server moved to `base` (scheme, host and port), keeping the
/// path: a kubeconfig the server issued in an earlier run, on another port (`--listen
/// …:0`), still opens the same space with the same token and CA.
fn rebase(mut kc: Kubeconfig, base: &str) -> anyhow::Result<Kubeconfig> {
    for c in kc.clusters.iter_mut().filter_map(|c| c.cluster.as_mut()) {
        if let Some(server) = &c.server {
            let uri: http::Uri = server.parse().with_context(|| format!("server URL {server:?}"))?;
            c.server = Some(format!("{}{}", base.trim_end_matches('/'), uri.path()));
        }
    }
    Ok(kc)
}

/// The simulated WECs: their server, spaces, inventory entries, syncers and simulation.
async fn start_wecs(
    args: &UpArgs,
    center: &Arc<EmbeddedProvider>,
    center_url: &str,
    kubeconfigs: &Path,
    shutdown: &Shutdown,
    started: Instant,
) -> anyhow::Result<RunningServer> {
    let n = args.sim_wecs;
    anyhow::ensure!(
        args.sim_wec_labels.len() <= n,
        "--sim-wec-labels was given {} times for {n} simulated WECs",
        args.sim_wec_labels.len()
    );
    let wec_server = start(ServerConfig {
        data_dir: args.server.data_dir.join("wecs"),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise_host: None,
        insecure_http: false,
        event_history: 100_000,
        compact_min_bytes: args.server.compact_min_bytes,
        inflight: args.server.inflight(),
    })
    .await
    .context("starting the simulated WECs' server")?;
    let wecs = Arc::new(EmbeddedProvider::new(Kubeconfig::read_from(&wec_server.admin_kubeconfig)?).await?);
    step(started, &format!("simulated WECs' server at {}", wec_server.endpoint.url));
    let inventory = center.client(INVENTORY).await?;
    let names: Vec<String> = (1..=n).map(|i| format!("wec{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let labels = wec_labels(i, name, args.sim_wec_labels.get(i).map(String::as_str))?;
        wecs.create(name, &Default::default()).await.with_context(|| format!("creating WEC space {name}"))?;
        ensure_location(&inventory, name, &labels).await?;
        write_kubeconfig(kubeconfigs, name, &rebase(wecs.kubeconfig(name).await?, &wec_server.endpoint.url)?)?;
    }
    step(started, &format!("{n} WECs registered in {INVENTORY} (SyncTarget + Location each)"));
    let metrics = Metrics::new();
    let delay = Duration::try_from_secs_f64(args.sim_delay).context("--sim-delay")?;
    tokio::spawn(SimCluster::new(wecs.clone(), delay, &metrics).run(shutdown.clone(), 2));
    for (i, name) in names.iter().enumerate() {
        let text = tokio::select! {
            text = mailbox_kubeconfig(&inventory, name) => text?,
            () = shutdown.wait() => anyhow::bail!("stopped"),
        };
        let kc = rebase(Kubeconfig::from_yaml(&text)?, center_url)?;
        let mailbox = client_for(kc).await?;
        let wec = wecs.client(name).await?;
        let settings = Settings { heartbeat: Duration::from_secs(10), workers: 2 };
        tokio::spawn(Syncer::new(mailbox, wec, settings, &metrics).run(shutdown.clone()));
        if (i + 1) % 100 == 0 || i + 1 == n {
            step(started, &format!("syncers connected to their mailboxes: {}/{n}", i + 1));
        }
    }
    Ok(wec_server)
}

/// The server's handler as a transport, for the controllers `up` runs beside it: they
/// reach it in process, with the same requests (URL, token, body) and the same answers as
/// over HTTPS, but no TLS, HTTP/2 framing or socket copies (see [`Transport::InProcess`]).
fn in_process(api: Arc<ApiServer>) -> Transport {
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let api = api.clone();
        async move {
            let response = api.handle(req.map(axum::body::Body::new)).await;
            Ok::<_, BoxError>(response.map(|body| body.map_err(BoxError::from).boxed_unsync()))
        }
    });
    Transport::InProcess(Handler::new(service))
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let shutdown = Shutdown::on_signals();
    let server = start(args.server.config()).await.context("starting the space server")?;
    step(started, &format!("space server at {}", server.endpoint.url));
    let admin = Kubeconfig::read_from(&server.admin_kubeconfig)?;
    let provider = Arc::new(EmbeddedProvider::with_transport(admin, in_process(server.api.clone())).await?);
    let kubeconfigs = args.server.data_dir.join("kubeconfigs");
    for space in [INVENTORY, WDS] {
        provider.create(space, &Default::default()).await.with_context(|| format!("creating space {space}"))?;
        write_kubeconfig(&kubeconfigs, space, &rebase(provider.kubeconfig(space).await?, &server.endpoint.url)?)?;
    }
    step(started, &format!("spaces {INVENTORY} (inventory) and {WDS} (workload description)"));
    let controllers = tokio::spawn(run_controllers(
        Wiring::embedded(provider.clone()),
        args.run.clone(),
        UP_LEASE_DURATION,
        shutdown.clone(),
    ));
    let wec_server = if args.sim_wecs > 0 {
        Some(start_wecs(&args, &provider, &server.endpoint.url, &kubeconfigs, &shutdown, started).await?)
    } else {
        None
    };
    println!(
        "{}",
        json!({"url": server.endpoint.url, "kubeconfig": server.admin_kubeconfig, "kubeconfigs": kubeconfigs,
               "inventory": INVENTORY, "wds": WDS, "wecs": args.sim_wecs})
    );
    let wds_kc = kubeconfigs.join(format!("{WDS}.kubeconfig"));
    eprintln!(
        "\norrery is up ({:.1}s). Next:\n  export KUBECONFIG={}\n  kubectl apply -f examples/quickstart/   # a workload and an EdgePlacement\n  orrery status --kubeconfig {}   # placements → WECs, sync state, status\n  kubectl --kubeconfig {} get deployments -A   # a WEC's view{}",
        started.elapsed().as_secs_f64(),
        wds_kc.display(),
        server.admin_kubeconfig.display(),
        kubeconfigs.join("wec1.kubeconfig").display(),
        if args.sim_wecs == 0 { "  (start with --sim-wecs 3 for simulated WECs)" } else { "" },
    );
    tokio::select! {
        r = controllers => r??,
        _ = shutdown.wait() => {}
    }
    if let Some(w) = wec_server {
        w.stop();
    }
    server.stop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_kubeconfigs_follow_the_center() {
        let kc = Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:4000/clusters/imw1-mb-1\n",
        )
        .expect("kubeconfig");
        let moved = rebase(kc, "https://127.0.0.1:5000").expect("rebase");
        let server = moved.clusters[0].cluster.as_ref().and_then(|c| c.server.clone());
        assert_eq!(server.as_deref(), Some("https://127.0.0.1:5000/clusters/imw1-mb-1"));
    }

    #[test]
    fn wec_labels_default_and_given() {
        let d = wec_labels(4, "wec5", None).expect("labels");
        assert_eq!(d.get("region").map(String::as_str), Some("eu-west"));
        assert_eq!(d.get("env").map(String::as_str), Some("prod"));
        assert_eq!(d.get("name").map(String::as_str), Some("wec5"));
        let g = wec_labels(0, "wec1", Some("region=mars, tier=edge")).expect("labels");
        assert_eq!(g.len(), 3);
        assert_eq!(g.get("region").map(String::as_str), Some("mars"));
        assert!(!g.contains_key("env"));
        for bad in ["region", "=x", "a=b c", "bad key=v"] {
            assert!(wec_labels(0, "wec1", Some(bad)).is_err(), "{bad}");
        }
    }
}
