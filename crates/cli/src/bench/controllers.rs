//! `orrery bench controllers`: the first half of the pipeline at inventory scale.
//!
//! For each inventory size N, on a fresh server (a child process, plain HTTP on loopback)
//! with the mailbox controller and the scheduler running in this process:
//! - N SyncTargets and N Locations in the shape KubeStellar's `ensure location` makes (one
//!   Location per SyncTarget, selecting it by `id`), plus G group Locations selecting by
//!   `group` and one EdgePlacement per group in a WDS;
//! - the time from the first create to all N mailbox spaces existing, and to the G slices
//!   holding all N destinations;
//! - the latency from a label change on one SyncTarget (moving it to the next group) to
//!   both slices saying so, as seen by a watch;
//! - the pure scheduler's cost per SyncTarget event on the same inventory (no I/O): the
//!   event itself (index upkeep and selector tests), and apart from it the answers of the
//!   placements it changes, which grow with those placements' destinations.

use super::common::{create_all, own_cpu_seconds, percentile, round, rss_bytes, typed};
use super::inventory::{INVENTORY, Pipeline, Stages, WDS, location, site_location, target};
use anyhow::{Context, bail};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use orrery_api::{EdgePlacement, Location, SinglePlacementSlice, SyncTarget};
use orrery_scheduler::{ObjectKey, Scheduler};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Inventory sizes (SyncTargets), each measured on a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    targets: Vec<usize>,
    /// Groups: a group Location and an EdgePlacement each.
    #[arg(long, default_value_t = 100)]
    groups: usize,
    /// Label changes timed per size.
    #[arg(long, default_value_t = 200)]
    changes: usize,
    /// Concurrent clients creating the inventory.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Concurrent reconciles per controller.
    #[arg(long, default_value_t = 16)]
    workers: usize,
}

/// How long any one stage may take before the run fails.
const STAGE_DEADLINE: Duration = Duration::from_secs(1800);

fn group_location(g: usize) -> Value {
    let group = format!("g{g}");
    location(&group, json!({"group": group, "kind": "group"}), json!({"group": group}))
}

fn placement(g: usize) -> Value {
    json!({"apiVersion": orrery_api::API_VERSION, "kind": "EdgePlacement",
           "metadata": {"name": format!("g{g}")},
           "spec": {"locationSelectors": [{"matchLabels": {"kind": "group", "group": format!("g{g}")}}]}})
}

/// The target moved by label change `j`, spread over the inventory.
fn moved(j: usize, n: usize) -> usize {
    (j * 7919) % n
}

/// What the bench's own watches see, published on every event.
#[derive(Default)]
struct Seen {
    mailboxes: HashSet<String>,
    /// Slice name → the SyncTargets it reaches.
    slices: HashMap<String, BTreeSet<String>>,
}

impl Seen {
    fn destinations(&self) -> usize {
        self.slices.values().map(BTreeSet::len).sum()
    }
}

/// Follows mailbox spaces and the WDS's slices into `seen`, bumping `tick` on each event.
fn follow(
    root: kube::Client,
    wds: kube::Client,
    seen: Arc<Mutex<Seen>>,
    tick: watch::Sender<u64>,
) -> [tokio::task::JoinHandle<()>; 2] {
    let prefix = format!("{INVENTORY}-mb-");
    let spaces: Api<DynamicObject> = Api::all_with(root, &orrery_api::space::api_resource());
    let (s, t) = (seen.clone(), tick.clone());
    let mailboxes = tokio::spawn(async move {
        let mut events = watcher(spaces, watcher::Config::default()).default_backoff().applied_objects().boxed();
        while let Some(Ok(space)) = events.next().await {
            if let Some(name) = space.metadata.name.filter(|n| n.starts_with(&prefix)) {
                s.lock().unwrap_or_else(|e| e.into_inner()).mailboxes.insert(name);
                t.send_modify(|v| *v += 1);
            }
        }
    });
    let slices: Api<SinglePlacementSlice> = Api::all(wds);
    let slices = tokio::spawn(async move {
        let mut events = watcher(slices, watcher::Config::default()).default_backoff().applied_objects().boxed();
        while let Some(Ok(slice)) = events.next().await {
            let reached = slice.spec.destinations.iter().map(|d| d.sync_target_name.clone()).collect();
            if let Some(name) = slice.metadata.name {
                seen.lock().unwrap_or_else(|e| e.into_inner()).slices.insert(name, reached);
                tick.send_modify(|v| *v += 1);
            }
        }
    });
    [mailboxes, slices]
}

/// Waits until `done(seen)`, waking on each watch event.
async fn until(
    seen: &Mutex<Seen>,
    tick: &mut watch::Receiver<u64>,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STAGE_DEADLINE;
    loop {
        if done(&seen.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, tick.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => bail!("the watches ended while waiting for {what}"),
            Err(_) => bail!("timed out waiting for {what}"),
        }
    }
}

/// One inventory size, end to end through the server.
async fn through_server(n: usize, args: &Args) -> anyhow::Result<Value> {
    let pipeline = Pipeline::start(args.workers, Stages::Scheduler).await?;
    let (inv, wds) = (pipeline.client(INVENTORY).await?, pipeline.client(WDS).await?);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (tick, mut ticks) = watch::channel(0u64);
    let watches = follow(pipeline.client("root").await?, wds.clone(), seen.clone(), tick);

    let g = args.groups.max(1);
    create_all(Api::<Location>::all(inv.clone()), (0..g).map(group_location).collect(), args.clients).await?;
    create_all(Api::<EdgePlacement>::all(wds.clone()), (0..g).map(placement).collect(), args.clients).await?;

    eprintln!("  {n} SyncTargets and {n} Locations…");
    let started = Instant::now();
    let targets =
        create_all(Api::<SyncTarget>::all(inv.clone()), (0..n).map(|i| target(i, i % g)).collect(), args.clients);
    let locations = create_all(Api::<Location>::all(inv.clone()), (0..n).map(site_location).collect(), args.clients);
    let (t, l) = tokio::join!(targets, locations);
    t.context("creating SyncTargets")?;
    l.context("creating Locations")?;
    let created_s = started.elapsed().as_secs_f64();
    until(&seen, &mut ticks, "the slices", |s| s.destinations() == n).await?;
    let slices_s = started.elapsed().as_secs_f64();
    until(&seen, &mut ticks, "the mailboxes", |s| s.mailboxes.len() == n).await?;
    let mailboxes_s = started.elapsed().as_secs_f64();
    eprintln!("  created in {created_s:.1}s; slices complete at {slices_s:.1}s; {n} mailboxes at {mailboxes_s:.1}s");

    eprintln!("  {} label changes…", args.changes);
    let targets_api: Api<SyncTarget> = Api::all(inv);
    let mut groups: Vec<usize> = (0..n).map(|i| i % g).collect();
    let mut latencies = Vec::with_capacity(args.changes);
    let cpu_before = own_cpu_seconds()?;
    for j in 0..args.changes {
        let i = moved(j, n);
        let (from, to) = (groups[i], (groups[i] + 1) % g);
        groups[i] = to;
        let name = format!("st-{i}");
        let patch = json!({"metadata": {"labels": {"group": format!("g{to}")}}});
        let t = Instant::now();
        targets_api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
        let (from, to) = (format!("g{from}"), format!("g{to}"));
        until(&seen, &mut ticks, "a label change", |s| {
            let has = |slice: &str| s.slices.get(slice).is_some_and(|d| d.contains(&name));
            has(&to) && (from == to || !has(&from))
        })
        .await?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let cpu_per_change_ms = (own_cpu_seconds()? - cpu_before) * 1000.0 / args.changes.max(1) as f64;
    latencies.sort_by(f64::total_cmp);
    let server_rss = pipeline.server_rss_mib()?;
    let own_rss = rss_bytes(std::process::id())? as f64 / 1048576.0;
    watches.iter().for_each(|w| w.abort());
    pipeline.stop().await;
    Ok(json!({
        "create_s": round(created_s, 1),
        "slices_complete_s": round(slices_s, 1),
        "mailboxes_complete_s": round(mailboxes_s, 1),
        "label_change_to_slice_ms": {"changes": args.changes, "p50": round(percentile(&latencies, 0.5), 1),
                                     "p99": round(percentile(&latencies, 0.99), 1), "max": round(latencies.last().copied().unwrap_or_default(), 1)},
        "controllers_cpu_ms_per_change": round(cpu_per_change_ms, 2),
        "server_rss_mib": server_rss.round(),
        "controllers_rss_mib": own_rss.round(),
    }))
}

/// The pure scheduler on the same inventory: per SyncTarget label change, the event and the
/// answers of the placements it affects.
fn pure_scheduler(n: usize, args: &Args) -> anyhow::Result<Value> {
    let g = args.groups.max(1);
    let mut s = Scheduler::new();
    for k in 0..g {
        s.upsert_location(INVENTORY, &typed(group_location(k))?);
        s.upsert_placement(WDS, &typed(placement(k))?);
    }
    for i in 0..n {
        s.upsert_sync_target(INVENTORY, &typed(target(i, i % g))?);
        s.upsert_location(INVENTORY, &typed(site_location(i))?);
    }
    let events = args.changes.max(1000);
    let mut groups: Vec<usize> = (0..n).map(|i| i % g).collect();
    let changes: Vec<SyncTarget> = (0..events)
        .map(|j| {
            let i = moved(j, n);
            groups[i] = (groups[i] + 1) % g;
            typed(target(i, groups[i]))
        })
        .collect::<anyhow::Result<_>>()?;
    // The event (index upkeep and selector tests) and the answers it changes (the slices to
    // write, whose size is the placement's, not the inventory's) are timed apart.
    let (mut event_us, mut answer_us) = (Vec::with_capacity(events), Vec::with_capacity(events));
    let evaluations = s.evaluations();
    let mut destinations = 0usize;
    for st in &changes {
        let t = Instant::now();
        let affected: BTreeSet<ObjectKey> = s.upsert_sync_target(INVENTORY, st);
        event_us.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        for key in &affected {
            if let Some(Ok(decision)) = s.result(key) {
                destinations += decision.destinations.len();
            }
        }
        answer_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        json!({"p50": round(percentile(v, 0.5), 1), "p99": round(percentile(v, 0.99), 1),
               "mean": round(v.iter().sum::<f64>() / v.len().max(1) as f64, 1)})
    };
    Ok(json!({
        "events": events,
        "event_us": stats(&mut event_us),
        "selector_tests_per_event": (s.evaluations() - evaluations) as f64 / events as f64,
        "answers_us": stats(&mut answer_us),
        "destinations_answered_per_event": destinations as f64 / events as f64,
    }))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut sizes = Vec::new();
    for &n in &args.targets {
        anyhow::ensure!(n > 0, "--targets: sizes must be positive");
        eprintln!("inventory of {n}:");
        let pure = pure_scheduler(n, &args)?;
        let live = through_server(n, &args).await?;
        sizes.push(json!({"targets": n, "groups": args.groups, "pipeline": live, "scheduler": pure}));
    }
    let report = json!({
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "os": std::env::consts::OS},
        "sizes": sizes,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!(
        "\n{:>8} {:>10} {:>12} {:>14} {:>12} {:>12} {:>14} {:>14}",
        "targets", "create s", "slices s", "mailboxes s", "change p50", "change p99", "event us", "tests/event"
    );
    for s in &sizes {
        let p = &s["pipeline"];
        let cells = [
            &s["targets"],
            &p["create_s"],
            &p["slices_complete_s"],
            &p["mailboxes_complete_s"],
            &p["label_change_to_slice_ms"]["p50"],
            &p["label_change_to_slice_ms"]["p99"],
            &s["scheduler"]["event_us"]["mean"],
            &s["scheduler"]["selector_tests_per_event"],
        ]
        .map(Value::to_string);
        eprintln!(
            "{:>8} {:>10} {:>12} {:>14} {:>12} {:>12} {:>14} {:>14}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
        );
    }
    Ok(())
}
