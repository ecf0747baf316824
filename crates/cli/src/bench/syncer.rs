//! `orrery bench syncer`: from a change in a mailbox until the syncer has applied it in the
//! WEC, and the syncer's memory idle and with 1,000 synced objects.
//!
//! One fresh server (child process, plain HTTP, durable commits) with the mailbox
//! controller, the scheduler and the translator running in this process; one SyncTarget
//! with its Location; a space `wec1` of the same server playing the WEC; and `orrery syncer`
//! as a child process of its own between the mailbox and `wec1` — with the kubeconfig the
//! mailbox controller left in the inventory and wec1's own kubeconfig — so that its memory
//! is measured alone. An EdgePlacement in the WDS downsyncs namespace `bench` and its
//! ConfigMaps.
//!
//! - *apply* (mailbox change → applied in the WEC): the mailbox copy of ConfigMap `probe`
//!   (an object `the-one` lists) is changed directly, `--changes` times, one at a time. Two
//!   watches of this process, one on the mailbox and one on the WEC, see each new value
//!   arrive; the time between the two arrivals (one clock) is the syncer's part: its watch,
//!   its reconcile and its write, plus one watch delivery. The same again once the objects
//!   below are synced.
//! - *WDS change → applied in the WEC*: the same, changing the WDS object (translator and
//!   syncer). Not used for *apply*: the translator runs in this process, and while it
//!   works it delays this process's watches, so the mailbox arrival would be stamped late.
//! - *memory*: the syncer's VmRSS once it has synced the namespace and `probe` (idle), and
//!   once `--objects` more ConfigMaps, created in the WDS, have all reached the WEC.

use super::common::{Child9, cpu_seconds, create_all, percentile, round, typed};
use super::inventory::{INVENTORY, Pipeline, Stages, WDS, site_location, target};
use anyhow::{Context, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::{WatchStreamExt, watcher};
use orrery_api::{EdgePlacement, Location, SyncTarget};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Timed changes, one at a time (before and again after the objects are synced).
    #[arg(long, default_value_t = 200)]
    changes: usize,
    /// ConfigMaps synced for the memory reading.
    #[arg(long, default_value_t = 1000)]
    objects: usize,
    /// Bytes of data in each of those ConfigMaps (besides its metadata).
    #[arg(long, default_value_t = 0)]
    object_bytes: usize,
    /// Concurrent clients creating them.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Concurrent reconciles per controller in the center (the syncer keeps its default).
    #[arg(long, default_value_t = 16)]
    workers: usize,
    /// The JSON report goes to stdout either way; accepted for the command line of issue #6.
    #[arg(long)]
    json: bool,
}

const NAMESPACE: &str = "bench";
const PROBE: &str = "probe";
const OBJECT_PREFIX: &str = "obj-";
const TARGET: &str = "st-0";
const WEC: &str = "wec1";
const DEADLINE: Duration = Duration::from_secs(600);

/// Per ConfigMap name, the value of its `v` and when this process saw that value arrive.
type Arrivals = HashMap<String, (String, Instant)>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The ConfigMaps of namespace `bench` in one space, as a watch of this process sees them.
struct Follow {
    space: String,
    seen: Arc<Mutex<Arrivals>>,
    tick: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Follow {
    fn start(space: &str, client: kube::Client) -> Self {
        let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
        let seen: Arc<Mutex<Arrivals>> = Arc::default();
        let (tick_tx, tick) = watch::channel(0u64);
        let arrivals = seen.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).default_backoff().applied_objects().boxed();
            while let Some(event) = events.next().await {
                let at = Instant::now();
                let Ok(cm) = event else { continue };
                let Some(name) = cm.metadata.name else { continue };
                let value = cm.data.as_ref().and_then(|d| d.get("v")).cloned().unwrap_or_default();
                {
                    let mut seen = lock(&arrivals);
                    if seen.get(&name).is_none_or(|(v, _)| *v != value) {
                        seen.insert(name, (value, at));
                    }
                }
                tick_tx.send_modify(|t| *t += 1);
            }
        });
        Self { space: space.to_owned(), seen, tick, task }
    }

    /// Waits until `check` finds what it looks for in what the watch has seen.
    async fn until<T>(&mut self, what: &str, mut check: impl FnMut(&Arrivals) -> Option<T>) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let found = check(&lock(&self.seen));
            if let Some(found) = found {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, self.tick.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("the watch on {} ended while waiting for {what}", self.space),
                Err(_) => bail!("timed out after {DEADLINE:?} waiting for {what} in {}", self.space),
            }
        }
    }

    /// When ConfigMap `name` arrived with `v` = `value`.
    async fn arrival(&mut self, name: &str, value: &str) -> anyhow::Result<Instant> {
        self.until(&format!("ConfigMap {NAMESPACE}/{name} with v={value}"), |seen| {
            seen.get(name).filter(|(v, _)| v == value).map(|(_, at)| *at)
        })
        .await
    }

    /// When the last of the `n` objects arrived, once all have.
    async fn all_objects(&mut self, n: usize) -> anyhow::Result<Instant> {
        self.until(&format!("{n} ConfigMaps {OBJECT_PREFIX}*"), |seen| {
            let at: Vec<Instant> =
                seen.iter().filter(|(name, _)| name.starts_with(OBJECT_PREFIX)).map(|(_, (_, at))| *at).collect();
            if at.len() >= n { at.into_iter().max() } else { None }
        })
        .await
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The kubeconfig the mailbox controller leaves for the SyncTarget (Secret
/// `kube-system/mailbox-<SyncTarget>` of the inventory space), and the mailbox's name.
async fn mailbox_secret(inventory: kube::Client) -> anyhow::Result<(String, String)> {
    let name = format!("mailbox-{TARGET}");
    let secrets: Api<Secret> = Api::namespaced(inventory, "kube-system");
    let secret = tokio::time::timeout(DEADLINE, await_condition(secrets, &name, |s: Option<&Secret>| s.is_some()))
        .await
        .with_context(|| format!("timed out waiting for Secret kube-system/{name} in {INVENTORY}"))??
        .with_context(|| format!("Secret kube-system/{name} is gone"))?;
    let field = |key: &str| -> anyhow::Result<String> {
        let bytes =
            secret.data.as_ref().and_then(|d| d.get(key)).with_context(|| format!("Secret {name} has no {key}"))?;
        String::from_utf8(bytes.0.clone()).with_context(|| format!("Secret {name}: {key} is not UTF-8"))
    };
    Ok((field("kubeconfig")?, field("mailbox")?))
}

/// A process's memory and threads, from `/proc/<pid>/status`.
fn memory(pid: u32) -> anyhow::Result<Value> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .with_context(|| format!("{key} in /proc/{pid}/status"))
    };
    let mib = |key: &str| -> anyhow::Result<f64> { Ok(round(field(key)? as f64 / 1024.0, 1)) };
    Ok(json!({
        "rss_mib": mib("VmRSS")?,
        "anon_mib": mib("RssAnon")?,
        "file_mib": mib("RssFile")?,
        "peak_mib": mib("VmHWM")?,
        "threads": field("Threads")?,
    }))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(mut samples: Vec<f64>) -> Value {
    samples.sort_by(f64::total_cmp);
    json!({
        "p50": round(percentile(&samples, 0.5), 1),
        "p99": round(percentile(&samples, 0.99), 1),
        "max": round(samples.last().copied().unwrap_or_default(), 1),
        "changes": samples.len(),
    })
}

/// The times of one series of changes.
struct Series {
    /// From the mailbox copy's arrival to the WEC object's, as this process's watches saw them.
    mailbox_to_wec: Vec<f64>,
    /// From sending the patch to the WEC object's arrival.
    sent_to_wec: Vec<f64>,
}

/// Changes ConfigMap `probe` through `via` (the WDS or the mailbox) `changes` times, one at
/// a time, each to a value `<tag><i>` never used before, and waits for each to reach the WEC.
async fn changes(
    via: &Api<ConfigMap>,
    mailbox: &mut Follow,
    wec: &mut Follow,
    tag: &str,
    changes: usize,
) -> anyhow::Result<Series> {
    let mut series = Series { mailbox_to_wec: Vec::new(), sent_to_wec: Vec::new() };
    for c in 1..=changes {
        let value = format!("{tag}{c}");
        let sent = Instant::now();
        via.patch(PROBE, &PatchParams::default(), &Patch::Merge(json!({"data": {"v": value}}))).await?;
        let applied = wec.arrival(PROBE, &value).await?;
        let copied = mailbox.arrival(PROBE, &value).await?;
        series.mailbox_to_wec.push(ms(applied.saturating_duration_since(copied)));
        series.sent_to_wec.push(ms(applied.saturating_duration_since(sent)));
    }
    Ok(series)
}

/// `orrery syncer` running as a child process, and what can be read about it from outside.
struct SyncerProcess {
    child: Child9,
    log: PathBuf,
}

impl SyncerProcess {
    /// `orrery syncer` (this binary) between a mailbox and a WEC, its log in `log`.
    fn start(mailbox_kubeconfig: &Path, wec_kubeconfig: &Path, log: PathBuf) -> anyhow::Result<Self> {
        let child = Command::new(std::env::current_exe()?)
            .arg("syncer")
            .arg("--mailbox-kubeconfig")
            .arg(mailbox_kubeconfig)
            .arg("--wec-kubeconfig")
            .arg(wec_kubeconfig)
            .args(["--heartbeat-interval", "10"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting orrery syncer")?;
        Ok(Self { child: Child9(child), log })
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// The last lines the syncer logged, for an error report.
    fn last_words(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("the syncer's last log lines:\n{}", lines[lines.len().saturating_sub(20)..].join("\n"))
    }

    /// The reconciles the syncer has finished, from its `/metrics` (whose address it logs
    /// when it starts); `None` when they cannot be read.
    async fn reconciles(&self) -> Option<u64> {
        let text = std::fs::read_to_string(&self.log).ok()?;
        let url = text.lines().find_map(|l| l.strip_prefix("syncer metrics at http://"))?;
        let (addr, path) = url.split_once('/')?;
        let get = async {
            let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
            let request = format!("GET /{path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            stream.write_all(request.as_bytes()).await.ok()?;
            let mut body = String::new();
            stream.read_to_string(&mut body).await.ok()?;
            Some(body)
        };
        let body = tokio::time::timeout(Duration::from_secs(10), get).await.ok()??;
        let samples = body
            .lines()
            .filter(|l| l.starts_with("orrery_reconcile_total{") && l.contains("controller=\"syncer\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
        Some(samples.sum())
    }
}

async fn measure(pipeline: &Pipeline, dir: &Path, args: &Args) -> anyhow::Result<Value> {
    pipeline.create_space(WEC).await?;
    let (inv, wds) = (pipeline.client(INVENTORY).await?, pipeline.client(WDS).await?);
    create_all(Api::<SyncTarget>::all(inv.clone()), vec![target(0, 0)], 1).await?;
    create_all(Api::<Location>::all(inv.clone()), vec![site_location(0)], 1).await?;
    let post = PostParams::default();
    Api::<Namespace>::all(wds.clone()).create(&post, &typed(json!({"metadata": {"name": NAMESPACE}}))?).await?;
    let in_wds: Api<ConfigMap> = Api::namespaced(wds.clone(), NAMESPACE);
    in_wds.create(&post, &typed(json!({"metadata": {"name": PROBE}, "data": {"v": "0"}}))?).await?;
    let placement = json!({"apiVersion": orrery_api::API_VERSION, "kind": "EdgePlacement", "metadata": {"name": "bench"},
                           "spec": {"locationSelectors": [{"matchLabels": {"id": TARGET}}],
                                    "downsync": [{"apiGroup": "", "resources": ["namespaces"], "objectNames": [NAMESPACE]},
                                                 {"apiGroup": "", "resources": ["configmaps"], "namespaces": [NAMESPACE]}]}});
    Api::<EdgePlacement>::all(wds.clone()).create(&post, &typed(placement)?).await?;

    let (mailbox_kubeconfig, mailbox) = mailbox_secret(inv).await?;
    let mailbox_client = pipeline.client(&mailbox).await?;
    let in_mailbox: Api<ConfigMap> = Api::namespaced(mailbox_client.clone(), NAMESPACE);
    let mut at_mailbox = Follow::start(&mailbox, mailbox_client);
    let mut at_wec = Follow::start(WEC, pipeline.client(WEC).await?);
    let (mailbox_path, wec_path) = (dir.join("mailbox.kubeconfig"), dir.join("wec1.kubeconfig"));
    std::fs::write(&mailbox_path, mailbox_kubeconfig)?;
    // JSON is YAML: every kubeconfig reader takes it.
    std::fs::write(&wec_path, serde_json::to_vec_pretty(&pipeline.space_kubeconfig(WEC).await?)?)?;

    eprintln!("  starting the syncer…");
    let started = Instant::now();
    let syncer = SyncerProcess::start(&mailbox_path, &wec_path, dir.join("syncer.log"))?;
    let pid = syncer.pid();
    let run = async {
        // The namespace and the probe ConfigMap in the WEC: the syncer is up and has synced.
        at_wec.arrival(PROBE, "0").await?;
        let first_sync_s = started.elapsed().as_secs_f64();
        let idle = memory(pid)?;

        // The syncer alone: the mailbox copy is changed directly. The translator neither
        // watches mailbox copies nor rewrites one whose WDS object has not changed (it
        // writes only differences from what it last wrote), so it leaves the change be.
        eprintln!("  first sync in {first_sync_s:.2}s; {} changes in the mailbox…", args.changes);
        let direct = changes(&in_mailbox, &mut at_mailbox, &mut at_wec, "m", args.changes).await?;
        eprintln!("  {} changes in the WDS…", args.changes);
        let through_wds = changes(&in_wds, &mut at_mailbox, &mut at_wec, "w", args.changes).await?;

        eprintln!("  {} objects…", args.objects);
        let (cpu_before, reconciles_before) = (cpu_seconds(pid)?, syncer.reconciles().await);
        let data = "x".repeat(args.object_bytes);
        let objects: Vec<Value> = (0..args.objects)
            .map(|i| json!({"metadata": {"name": format!("{OBJECT_PREFIX}{i}"), "namespace": NAMESPACE}, "data": {"v": "1", "data": data}}))
            .collect();
        let started = Instant::now();
        create_all(in_wds.clone(), objects, args.clients).await?;
        let created_s = started.elapsed().as_secs_f64();
        let copied = at_mailbox.all_objects(args.objects).await?;
        let applied = at_wec.all_objects(args.objects).await?;
        let with_objects = memory(pid)?;
        let (cpu_objects_s, reconciles_objects) = (cpu_seconds(pid)? - cpu_before, syncer.reconciles().await);

        eprintln!("  {} changes in the mailbox, {} in the WDS, with the objects synced…", args.changes, args.changes);
        let direct_loaded = changes(&in_mailbox, &mut at_mailbox, &mut at_wec, "n", args.changes).await?;
        let through_wds_loaded = changes(&in_wds, &mut at_mailbox, &mut at_wec, "x", args.changes).await?;
        let (after, reconciles_end) = (memory(pid)?, syncer.reconciles().await);
        let since = |t: Instant| round(t.saturating_duration_since(started).as_secs_f64(), 2);
        anyhow::Ok(json!({
            "apply_ms": summary(direct.mailbox_to_wec),
            "apply_ms_with_objects": summary(direct_loaded.mailbox_to_wec),
            "wds_to_wec_ms": summary(through_wds.sent_to_wec),
            "wds_to_wec_ms_with_objects": summary(through_wds_loaded.sent_to_wec),
            "first_sync_s": round(first_sync_s, 2),
            "syncer_rss_idle_mib": idle["rss_mib"],
            "syncer_rss_mib": with_objects["rss_mib"],
            "objects": args.objects,
            "object_bytes": args.object_bytes,
            "create_objects_s": round(created_s, 2),
            "mailbox_objects_s": since(copied),
            "sync_objects_s": since(applied),
            "syncer_cpu_objects_s": round(cpu_objects_s, 2),
            "syncer_reconciles": {"before_objects": reconciles_before, "objects_in_wec": reconciles_objects, "end": reconciles_end},
            "syncer_memory": {"idle": idle, "with_objects": with_objects, "end": after},
        }))
    };
    let report = run.await.with_context(|| syncer.last_words())?;
    drop(syncer);
    Ok(report)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.changes > 0, "--changes: must be positive");
    anyhow::ensure!(args.objects > 0, "--objects: must be positive");
    // `--json` changes nothing: the report is JSON on stdout, the table on stderr.
    let _ = args.json;
    let dir = tempfile::tempdir()?;
    eprintln!("syncer:");
    let pipeline = Pipeline::start(args.workers, Stages::Translator).await?;
    let measured = measure(&pipeline, dir.path(), &args).await;
    pipeline.stop().await;
    let mut report = measured?;
    let machine =
        json!({"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "os": std::env::consts::OS});
    if let Some(r) = report.as_object_mut() {
        r.insert("machine".into(), machine);
    }
    println!("{}", serde_json::to_string_pretty(&report)?);

    let r = &report;
    let triple = |v: &Value| format!("{} / {} / {} ms", v["p50"], v["p99"], v["max"]);
    let rows = [
        ("mailbox change → applied in the WEC, p50 / p99 / max", triple(&r["apply_ms"]), "p99 ≤ 200 ms"),
        ("… with the objects synced", triple(&r["apply_ms_with_objects"]), ""),
        ("WDS change → applied in the WEC, p50 / p99 / max", triple(&r["wds_to_wec_ms"]), ""),
        ("… with the objects synced", triple(&r["wds_to_wec_ms_with_objects"]), ""),
        ("syncer start → first objects in the WEC", format!("{} s", r["first_sync_s"]), ""),
        ("syncer RSS, idle", format!("{} MiB", r["syncer_rss_idle_mib"]), ""),
        ("syncer RSS, objects synced", format!("{} MiB ({} objects)", r["syncer_rss_mib"], r["objects"]), "≤ 30 MiB"),
        (
            "objects: created / in the mailbox / in the WEC",
            format!("{} / {} / {} s", r["create_objects_s"], r["mailbox_objects_s"], r["sync_objects_s"]),
            "",
        ),
        ("syncer CPU for the objects", format!("{} s", r["syncer_cpu_objects_s"]), ""),
    ];
    eprintln!("\n{:<54} {:>28} {:>14}", "measure", "value", "target");
    for (measure, value, target) in rows {
        eprintln!("{measure:<54} {value:>28} {target:>14}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_reads_this_process() {
        let m = memory(std::process::id()).expect("memory");
        assert!(m["rss_mib"].as_f64().is_some_and(|v| v > 0.0), "{m}");
        assert!(m["threads"].as_u64().is_some_and(|v| v >= 1), "{m}");
    }

    #[test]
    fn summary_takes_nearest_ranks() {
        let s = summary((1..=100).rev().map(f64::from).collect());
        assert_eq!((s["p50"].as_f64(), s["p99"].as_f64(), s["max"].as_f64()), (Some(51.0), Some(99.0), Some(100.0)));
        assert_eq!(s["changes"], 100);
    }
}
