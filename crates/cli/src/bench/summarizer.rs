//! `orrery bench summarizer`: from a WEC's status reaching its mailbox copy until the WDS
//! shows it, in the object's status (singleton) and in its CombinedStatus (many).
//!
//! For each number of WECs N, on a fresh server with the mailbox controller, the scheduler,
//! the translator and the summarizer running in this process: N SyncTargets with one
//! Location each, a WDS Deployment placed on all of them by a placement asking for
//! singleton status and naming a StatusCollector that counts the WECs and sums their ready
//! replicas. The bench plays the syncers: it writes each copy's status in its mailbox
//! through the status subresource, as a syncer returning a WEC's status does (the syncer's
//! own WEC → mailbox leg is `orrery bench syncer`'s). It measures:
//!
//! - **burst**: every WEC reports at once; the time until the summary counts all N, and
//!   how many CombinedStatus updates that took (coalescing);
//! - **one WEC**: `--writes` times, one copy's status changes; the time until the summary's
//!   sum shows it (and, at N = 1, until the object's `.status` does).

use super::common::{create_all, percentile, round, typed};
use super::inventory::{INVENTORY, Pipeline, Stages, WDS, site_location, target};
use anyhow::{Context, bail};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use orrery_api::{EdgePlacement, Location, StatusCollector, SyncTarget};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Numbers of WECs, each measured on a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    wecs: Vec<usize>,
    /// Timed single-WEC status changes per size.
    #[arg(long, default_value_t = 20)]
    writes: usize,
    /// Concurrent clients creating the inventory and writing the burst.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Concurrent reconciles per controller.
    #[arg(long, default_value_t = 16)]
    workers: usize,
}

const NAMESPACE: &str = "bench";
const PAYLOAD: &str = "payload";
const STAGE_DEADLINE: Duration = Duration::from_secs(1800);

/// What the WDS shows, as the bench's watches see it: the summary's (count, sum), the
/// object's returned ready replicas, each with when it was seen; and how many summary
/// updates arrived.
#[derive(Default)]
struct Seen {
    summary: Option<(i64, i64, Instant)>,
    status: Option<(i64, Instant)>,
    summary_updates: usize,
    copies: BTreeSet<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn number(cell: &Value) -> Option<i64> {
    cell.get("float")?.as_str()?.parse::<f64>().ok().map(|f| f as i64)
}

/// Follows the WDS's CombinedStatuses and Deployment, and the copies in every mailbox.
fn follow(
    pipeline_wds: kube::Client,
    wildcard: kube::Client,
    seen: Shared,
    tick: watch::Sender<u64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let cs = ApiResource::erase::<orrery_api::CombinedStatus>(&());
    let summaries: Api<DynamicObject> = Api::namespaced_with(pipeline_wds.clone(), NAMESPACE, &cs);
    let (s1, t1) = (seen.clone(), tick.clone());
    let summary = tokio::spawn(async move {
        let mut events = watcher(summaries, watcher::Config::default()).default_backoff().applied_objects().boxed();
        while let Some(Ok(o)) = events.next().await {
            let at = Instant::now();
            let row =
                o.data.pointer("/results/0/rows/0/columns").and_then(Value::as_array).cloned().unwrap_or_default();
            if let (Some(count), Some(sum)) = (row.first().and_then(number), row.get(1).and_then(number)) {
                let mut s = lock(&s1);
                s.summary_updates += 1;
                if s.summary.is_none_or(|(c, v, _)| (c, v) != (count, sum)) {
                    s.summary = Some((count, sum, at));
                }
            }
            t1.send_modify(|t| *t += 1);
        }
    });
    let deployments: Api<Deployment> = Api::namespaced(pipeline_wds, NAMESPACE);
    let (s2, t2) = (seen.clone(), tick.clone());
    let status = tokio::spawn(async move {
        let mut events = watcher(deployments, watcher::Config::default()).default_backoff().applied_objects().boxed();
        while let Some(Ok(d)) = events.next().await {
            let at = Instant::now();
            if let Some(ready) = d.status.as_ref().and_then(|s| s.ready_replicas) {
                let mut s = lock(&s2);
                if s.status.is_none_or(|(v, _)| v != i64::from(ready)) {
                    s.status = Some((i64::from(ready), at));
                }
            }
            t2.send_modify(|t| *t += 1);
        }
    });
    let copies: Api<Deployment> = Api::all(wildcard);
    let config = watcher::Config::default().labels("edge.kubestellar.io/projected=yes");
    let copied = tokio::spawn(async move {
        let mut events = watcher(copies, config).default_backoff().applied_objects().boxed();
        while let Some(Ok(d)) = events.next().await {
            let space = d.metadata.annotations.as_ref().and_then(|a| a.get(orrery_spaces::SPACE_ANNOTATION)).cloned();
            if let Some(space) = space {
                lock(&seen).copies.insert(space);
                tick.send_modify(|t| *t += 1);
            }
        }
    });
    vec![summary, status, copied]
}

/// Waits until `done` holds of what the bench has seen.
async fn until<T>(
    seen: &Shared,
    tick: &mut watch::Receiver<u64>,
    what: &str,
    done: impl Fn(&Seen) -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = tokio::time::Instant::now() + STAGE_DEADLINE;
    loop {
        if let Some(t) = done(&lock(seen)) {
            return Ok(t);
        }
        match tokio::time::timeout_at(deadline, tick.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => bail!("the watches ended while waiting for {what}"),
            Err(_) => bail!("timed out waiting for {what}"),
        }
    }
}

/// Writes a copy's status in its mailbox, as its syncer would.
async fn report(client: kube::Client, ready: i64) -> anyhow::Result<()> {
    let status = json!({"status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": ready}});
    Api::<Deployment>::namespaced(client, NAMESPACE)
        .patch_status(PAYLOAD, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

async fn one_size(n: usize, args: &Args) -> anyhow::Result<Value> {
    let pipeline = Pipeline::start(args.workers, Stages::Summarizer).await?;
    let (inv, wds) = (pipeline.client(INVENTORY).await?, pipeline.client(WDS).await?);
    let seen: Shared = Arc::default();
    let (tick, mut ticks) = watch::channel(0u64);
    let watches = follow(wds.clone(), pipeline.client("*").await?, seen.clone(), tick);

    eprintln!("  {n} WECs…");
    let started = Instant::now();
    let targets = create_all(Api::<SyncTarget>::all(inv.clone()), (0..n).map(|i| target(i, 0)).collect(), args.clients);
    let locations = create_all(Api::<Location>::all(inv.clone()), (0..n).map(site_location).collect(), args.clients);
    let (t, l) = tokio::join!(targets, locations);
    t?;
    l?;
    Api::<Namespace>::all(wds.clone())
        .create(&PostParams::default(), &typed(json!({"metadata": {"name": NAMESPACE}}))?)
        .await?;
    let deployment = json!({"metadata": {"name": PAYLOAD, "namespace": NAMESPACE},
                            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": PAYLOAD}},
                                     "template": {"metadata": {"labels": {"app": PAYLOAD}},
                                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    Api::<Deployment>::namespaced(wds.clone(), NAMESPACE).create(&PostParams::default(), &typed(deployment)?).await?;
    let collector = json!({"apiVersion": orrery_api::API_VERSION, "kind": "StatusCollector", "metadata": {"name": "ready"},
                           "spec": {"combinedFields": [{"name": "wecs", "type": "COUNT"},
                                                       {"name": "ready", "type": "SUM", "subject": "returned.status.readyReplicas"}]}});
    Api::<StatusCollector>::all(wds.clone()).create(&PostParams::default(), &typed(collector)?).await?;
    let placement = json!({"apiVersion": orrery_api::API_VERSION, "kind": "EdgePlacement", "metadata": {"name": "everywhere"},
                           "spec": {"locationSelectors": [{"matchLabels": {"kind": "site"}}], "wantSingletonReportedState": true,
                                    "downsync": [{"apiGroup": "", "resources": ["namespaces"], "objectNames": [NAMESPACE]},
                                                 {"apiGroup": "apps", "resources": ["deployments"], "namespaces": [NAMESPACE],
                                                  "statusCollectors": ["ready"]}]}});
    Api::<EdgePlacement>::all(wds.clone()).create(&PostParams::default(), &typed(placement)?).await?;
    let mailboxes: Vec<String> =
        until(&seen, &mut ticks, "every copy", |s| (s.copies.len() >= n).then(|| s.copies.iter().cloned().collect()))
            .await?;
    let initial_s = started.elapsed().as_secs_f64();
    eprintln!("  inventory, mailboxes and copies in {initial_s:.1}s");
    let mut clients = Vec::with_capacity(n);
    for m in &mailboxes {
        clients.push(pipeline.space_client(m).await.with_context(|| format!("a client for {m}"))?);
    }

    // Burst: every WEC reports 1 ready replica at once.
    let before = lock(&seen).summary_updates;
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients = Arc::new(clients);
    let writers: Vec<_> = (0..args.clients.max(1))
        .map(|_| {
            let (clients, next) = (clients.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(c) = clients.get(i) else { return anyhow::Ok(()) };
                    report(c.clone(), 1).await?;
                }
            })
        })
        .collect();
    for w in writers {
        w.await??;
    }
    let wrote_s = t.elapsed().as_secs_f64();
    let total = n as i64;
    let at = until(&seen, &mut ticks, "the summary of the burst", |s| {
        s.summary.and_then(|(c, v, at)| (c == total && v == total).then_some(at))
    })
    .await?;
    let burst_s = at.saturating_duration_since(t).as_secs_f64();
    let burst_updates = lock(&seen).summary_updates - before;

    // One WEC at a time.
    let (mut summary_ms, mut status_ms) = (Vec::new(), Vec::new());
    let mut ready = vec![1i64; n];
    for w in 0..args.writes {
        let i = w % n;
        let value = 2 + w as i64;
        let expected: i64 = ready.iter().sum::<i64>() - ready[i] + value;
        ready[i] = value;
        let t = Instant::now();
        report(clients[i].clone(), value).await?;
        let at = until(&seen, &mut ticks, "the summary of one change", |s| {
            s.summary.and_then(|(c, v, at)| (c == total && v == expected).then_some(at))
        })
        .await?;
        summary_ms.push(at.saturating_duration_since(t).as_secs_f64() * 1000.0);
        if n == 1 {
            let at = until(&seen, &mut ticks, "the singleton status", |s| {
                s.status.and_then(|(v, at)| (v == value).then_some(at))
            })
            .await?;
            status_ms.push(at.saturating_duration_since(t).as_secs_f64() * 1000.0);
        }
    }
    summary_ms.sort_by(f64::total_cmp);
    status_ms.sort_by(f64::total_cmp);
    let server_rss = pipeline.server_rss_mib()?;
    for w in watches {
        w.abort();
    }
    pipeline.stop().await;
    let quantiles = |v: &[f64]| {
        if v.is_empty() {
            Value::Null
        } else {
            json!({"p50": round(percentile(v, 0.5), 1), "p99": round(percentile(v, 0.99), 1)})
        }
    };
    Ok(json!({
        "wecs": n,
        "initial_s": round(initial_s, 1),
        "burst": {"writes_s": round(wrote_s, 2), "summary_s": round(burst_s, 2), "summary_updates": burst_updates},
        "writes": args.writes,
        "summary_ms": quantiles(&summary_ms),
        "status_ms": quantiles(&status_ms),
        "server_rss_mib": server_rss.round(),
    }))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut sizes = Vec::new();
    for &n in &args.wecs {
        anyhow::ensure!(n > 0, "--wecs: sizes must be positive");
        anyhow::ensure!(args.writes > 0, "--writes must be positive");
        eprintln!("{n} WECs:");
        sizes.push(one_size(n, &args).await?);
    }
    let report = json!({
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "os": std::env::consts::OS},
        "sizes": sizes,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!(
        "\n{:>6} {:>12} {:>12} {:>10} {:>12} {:>12} {:>11} {:>11}",
        "WECs", "burst s", "CS updates", "writes s", "summary p50", "summary p99", "status p50", "status p99"
    );
    for s in &sizes {
        let cells = [
            &s["wecs"],
            &s["burst"]["summary_s"],
            &s["burst"]["summary_updates"],
            &s["burst"]["writes_s"],
            &s["summary_ms"]["p50"],
            &s["summary_ms"]["p99"],
            &s["status_ms"]["p50"],
            &s["status_ms"]["p99"],
        ]
        .map(Value::to_string);
        eprintln!(
            "{:>6} {:>12} {:>12} {:>10} {:>12} {:>12} {:>11} {:>11}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
        );
    }
    Ok(())
}
