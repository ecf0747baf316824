//! `orrery bench translator`: from a write in a WDS until every mailbox holds the new copy.
//!
//! For each number of destinations D, on a fresh server with the mailbox controller, the
//! scheduler and the translator running in this process: D SyncTargets with one Location
//! each, a WDS with a Namespace and a ConfigMap, and one EdgePlacement selecting every
//! Location. Once every mailbox holds the ConfigMap, the ConfigMap is changed `--writes`
//! times, one at a time; for each write, the time from sending the patch until the bench's
//! wildcard watch over every space shows each mailbox's copy with the new value.

use super::common::{create_all, percentile, round, typed};
use super::inventory::{INVENTORY, Pipeline, Stages, WDS, site_location, target};
use anyhow::bail;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use orrery_api::{EdgePlacement, Location, SyncTarget};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Numbers of destinations, each measured on a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000,10000")]
    destinations: Vec<usize>,
    /// Timed writes per size.
    #[arg(long, default_value_t = 5)]
    writes: usize,
    /// Concurrent clients creating the inventory.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Concurrent reconciles per controller.
    #[arg(long, default_value_t = 16)]
    workers: usize,
}

const NAMESPACE: &str = "bench";
const PAYLOAD: &str = "payload";
const STAGE_DEADLINE: Duration = Duration::from_secs(1800);

/// Per mailbox, the payload value its copy has and when the bench saw it arrive.
type Arrivals = Arc<Mutex<HashMap<String, (String, Instant)>>>;

/// Watches the projected ConfigMaps of every space (one wildcard watch).
fn follow(wildcard: kube::Client, arrivals: Arrivals, tick: watch::Sender<u64>) -> tokio::task::JoinHandle<()> {
    let api: Api<ConfigMap> = Api::all(wildcard);
    let config = watcher::Config::default().labels("edge.kubestellar.io/projected=yes");
    tokio::spawn(async move {
        let mut events = watcher(api, config).default_backoff().applied_objects().boxed();
        while let Some(Ok(cm)) = events.next().await {
            let at = Instant::now();
            let space = cm.metadata.annotations.as_ref().and_then(|a| a.get(orrery_spaces::SPACE_ANNOTATION)).cloned();
            let value = cm.data.as_ref().and_then(|d| d.get("v")).cloned();
            if let (Some(space), Some(value), Some(PAYLOAD)) = (space, value, cm.metadata.name.as_deref()) {
                let mut seen = arrivals.lock().unwrap_or_else(|e| e.into_inner());
                if seen.get(&space).is_none_or(|(v, _)| *v != value) {
                    seen.insert(space, (value, at));
                }
                drop(seen);
                tick.send_modify(|t| *t += 1);
            }
        }
    })
}

/// Waits until `d` mailboxes hold `value`; returns each one's arrival time.
async fn all_hold(
    arrivals: &Arrivals,
    tick: &mut watch::Receiver<u64>,
    d: usize,
    value: &str,
) -> anyhow::Result<Vec<Instant>> {
    let deadline = tokio::time::Instant::now() + STAGE_DEADLINE;
    loop {
        {
            let seen = arrivals.lock().unwrap_or_else(|e| e.into_inner());
            let at: Vec<Instant> = seen.values().filter(|(v, _)| v == value).map(|(_, t)| *t).collect();
            if at.len() >= d {
                return Ok(at);
            }
        }
        match tokio::time::timeout_at(deadline, tick.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => bail!("the watch ended while waiting for {d} copies of {value:?}"),
            Err(_) => bail!("timed out waiting for {d} copies of {value:?}"),
        }
    }
}

async fn one_size(d: usize, args: &Args) -> anyhow::Result<Value> {
    let pipeline = Pipeline::start(args.workers, Stages::Translator).await?;
    let (inv, wds) = (pipeline.client(INVENTORY).await?, pipeline.client(WDS).await?);
    let arrivals: Arrivals = Arc::default();
    let (tick, mut ticks) = watch::channel(0u64);
    let watch = follow(pipeline.client("*").await?, arrivals.clone(), tick);

    eprintln!("  {d} destinations…");
    let started = Instant::now();
    let targets = create_all(Api::<SyncTarget>::all(inv.clone()), (0..d).map(|i| target(i, 0)).collect(), args.clients);
    let locations = create_all(Api::<Location>::all(inv.clone()), (0..d).map(site_location).collect(), args.clients);
    let (t, l) = tokio::join!(targets, locations);
    t?;
    l?;
    Api::<Namespace>::all(wds.clone())
        .create(&PostParams::default(), &typed(json!({"metadata": {"name": NAMESPACE}}))?)
        .await?;
    let payload = json!({"metadata": {"name": PAYLOAD, "namespace": NAMESPACE}, "data": {"v": "0"}});
    Api::<ConfigMap>::namespaced(wds.clone(), NAMESPACE).create(&PostParams::default(), &typed(payload)?).await?;
    let placement = json!({"apiVersion": orrery_api::API_VERSION, "kind": "EdgePlacement", "metadata": {"name": "everywhere"},
                           "spec": {"locationSelectors": [{"matchLabels": {"kind": "site"}}],
                                    "downsync": [{"apiGroup": "", "resources": ["namespaces"], "objectNames": [NAMESPACE]},
                                                 {"apiGroup": "", "resources": ["configmaps"], "namespaces": [NAMESPACE]}]}});
    Api::<EdgePlacement>::all(wds.clone()).create(&PostParams::default(), &typed(placement)?).await?;
    all_hold(&arrivals, &mut ticks, d, "0").await?;
    let initial_s = started.elapsed().as_secs_f64();
    eprintln!("  inventory, mailboxes and first copies in {initial_s:.1}s");

    let configmaps: Api<ConfigMap> = Api::namespaced(wds, NAMESPACE);
    let (mut per_destination, mut totals) = (Vec::new(), Vec::new());
    for w in 1..=args.writes {
        let value = w.to_string();
        let t = Instant::now();
        configmaps.patch(PAYLOAD, &PatchParams::default(), &Patch::Merge(json!({"data": {"v": value}}))).await?;
        let at = all_hold(&arrivals, &mut ticks, d, &value).await?;
        let mut ms: Vec<f64> = at.iter().map(|a| a.saturating_duration_since(t).as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        totals.push(ms.last().copied().unwrap_or_default());
        per_destination.extend(ms);
    }
    per_destination.sort_by(f64::total_cmp);
    totals.sort_by(f64::total_cmp);
    let server_rss = pipeline.server_rss_mib()?;
    watch.abort();
    pipeline.stop().await;
    Ok(json!({
        "destinations": d,
        "initial_s": round(initial_s, 1),
        "writes": args.writes,
        "per_destination_ms": {"p50": round(percentile(&per_destination, 0.5), 1), "p99": round(percentile(&per_destination, 0.99), 1)},
        "total_ms": {"p50": round(percentile(&totals, 0.5), 1), "max": round(totals.last().copied().unwrap_or_default(), 1)},
        "server_rss_mib": server_rss.round(),
    }))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut sizes = Vec::new();
    for &d in &args.destinations {
        anyhow::ensure!(d > 0, "--destinations: sizes must be positive");
        eprintln!("{d} destinations:");
        sizes.push(one_size(d, &args).await?);
    }
    let report = json!({
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "os": std::env::consts::OS},
        "sizes": sizes,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!(
        "\n{:>12} {:>12} {:>14} {:>14} {:>12} {:>12}",
        "destinations", "initial s", "per-dest p50", "per-dest p99", "total p50", "total max"
    );
    for s in &sizes {
        let cells = [
            &s["destinations"],
            &s["initial_s"],
            &s["per_destination_ms"]["p50"],
            &s["per_destination_ms"]["p99"],
            &s["total_ms"]["p50"],
            &s["total_ms"]["max"],
        ]
        .map(Value::to_string);
        eprintln!(
            "{:>12} {:>12} {:>14} {:>14} {:>12} {:>12}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
        );
    }
    Ok(())
}
