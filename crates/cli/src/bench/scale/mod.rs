//! `orrery bench scale`: one workload placed on N simulated WECs, end to end, with every
//! stage timed per WEC.
//!
//! Three processes: the center (`orrery up`: the space server and every controller, the
//! process whose CPU and memory are reported), a second space server holding the N WEC
//! spaces, and this one, which runs the N syncers (each dialling its own mailbox over
//! HTTPS with its own token), the simulated clusters' status writer, and the bench's
//! watches. The run:
//!
//! 1. registers N WECs (a space each on the WEC server; SyncTarget + Location each in the
//!    center), waits for their mailboxes, starts their syncers and waits for each one's
//!    first heartbeat;
//! 2. writes the workload (namespace, M Deployments, a StatusCollector, P EdgePlacements)
//!    into the WDS and times, per WEC, every stage until the WDS's summary lists it ready;
//! 3. changes one Deployment `--updates` times and times each change reaching every WEC;
//! 4. reads everything back and checks it ([`check`]); a failed check makes `ok` false and
//!    the exit status non-zero.

mod check;
mod fleet;
mod observe;
mod plot;
mod report;
mod scaling;
mod timeline;
pub(super) mod workload;

use super::common::{Child9, cpu_seconds, dir_bytes, peak_rss_bytes, rss_bytes, spawn_ready};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kube::config::Kubeconfig;
use observe::{Observer, Progress};
use orrery_runtime::{Metrics, Shutdown};
use orrery_simcluster::SimCluster;
use orrery_spaces::{EmbeddedProvider, SpaceProvider};
use report::{Readings, Report};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use timeline::Stage;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Concurrent status writes of the simulated clusters, per cluster: they play N clusters,
/// each of which has its own controllers. A fixed pool (64 before) made the simulation,
/// not the pipeline, pace the status leg at 1,000 WECs and more.
const SIM_WORKERS_PER_WEC: usize = 1;
/// At least this many, for small runs.
const SIM_WORKERS_MIN: usize = 64;

#[derive(clap::Args)]
pub struct Args {
    /// How many simulated WECs; several (`10,100,1000`) make one run each, in order.
    #[arg(long, value_name = "N[,N…]", value_delimiter = ',', required = true)]
    wecs: Vec<usize>,
    /// How many Deployments the workload has.
    #[arg(long, value_name = "M", default_value_t = 10)]
    objects: usize,
    /// How many EdgePlacements share the Deployments (each selects every WEC).
    #[arg(long, value_name = "P", default_value_t = 1)]
    placements: usize,
    /// Print one JSON line on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// Write a chart as SVG: of the stages (share of WECs done over time) for one N, of
    /// latency against N for several.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Timed updates after convergence.
    #[arg(long, default_value_t = 5)]
    updates: usize,
    /// Concurrent clients registering WECs.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Concurrent reconciles per controller in the center.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// How often each syncer heartbeats, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    heartbeat: f64,
    /// Seconds a simulated Deployment takes to become ready.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    sim_delay: f64,
    /// How long to wait for convergence, and for each update, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    timeout: u64,
    /// Keep the run's data and logs here (default: a temporary directory, removed after).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Raises this process's open-file limit (its children inherit it) to fit `wecs`
/// syncers' connections, as far as it may.
fn raise_fd_limit(wecs: usize) -> anyhow::Result<u64> {
    use rlimit::Resource;
    let want = (wecs as u64) * 4 + 4096;
    let (soft, hard) = Resource::NOFILE.get()?;
    if soft >= want {
        return Ok(soft);
    }
    if want > hard && Resource::NOFILE.set(want, want).is_ok() {
        return Ok(want);
    }
    let got = rlimit::increase_nofile_limit(want)?;
    if got < want {
        eprintln!("warning: open files limited to {got} (wanted {want}); raise `ulimit -n` for {wecs} WECs");
    }
    Ok(got)
}

fn bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("[{elapsed:>4}] {bar:30} {pos:>6}/{len:6} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// A step done, for logs (the bar is only drawn on a terminal).
fn step(bar: &ProgressBar, started: Instant, what: &str) {
    let line = format!("[{:>6.1}s] {what}", started.elapsed().as_secs_f64());
    if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) }
}

/// Waits until `done(progress)` or the deadline, moving the bar along.
async fn wait_for(
    rx: &mut watch::Receiver<Progress>,
    bar: &ProgressBar,
    timeout: Duration,
    value: impl Fn(&Progress) -> usize,
    target: usize,
) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let now = value(&rx.borrow_and_update());
        bar.set_position(now as u64);
        if now >= target {
            return true;
        }
        if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
            return false;
        }
    }
}

struct Processes {
    center: Child9,
    center_kubeconfig: PathBuf,
    wec_server: Child9,
    wec_kubeconfig: PathBuf,
}

fn start_processes(dir: &Path, workers: usize) -> anyhow::Result<Processes> {
    let center_dir = dir.join("center");
    let workers = workers.to_string();
    let (center, ready) = spawn_ready(
        &[
            OsStr::new("up"),
            OsStr::new("--listen"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new("--workers"),
            OsStr::new(&workers),
            OsStr::new("--data-dir"),
            center_dir.as_os_str(),
        ],
        Some(&dir.join("center.log")),
    )?;
    let center_kubeconfig = ready["kubeconfig"].as_str().context("the center's kubeconfig")?.into();
    let wec_dir = dir.join("wecs");
    let (wec_server, ready) = spawn_ready(
        &[
            OsStr::new("server"),
            OsStr::new("--listen"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new("--data-dir"),
            wec_dir.as_os_str(),
        ],
        Some(&dir.join("wecs.log")),
    )?;
    let wec_kubeconfig = ready["kubeconfig"].as_str().context("the WEC server's kubeconfig")?.into();
    Ok(Processes { center, center_kubeconfig, wec_server, wec_kubeconfig })
}

/// A client for every space of a server at once (`/clusters/*`), for reading back.
async fn wildcard_client(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let kc = crate::space::for_space(Kubeconfig::read_from(kubeconfig)?, "*")?;
    crate::space::client(kc).await
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.wecs.iter().all(|&n| n >= 1), "--wecs must be at least 1");
    anyhow::ensure!(args.objects >= 1, "--objects must be at least 1");
    anyhow::ensure!(
        (1..=args.objects).contains(&args.placements),
        "--placements must be between 1 and --objects ({}): each placement carries at least one object",
        args.objects
    );
    let timing = Timing {
        heartbeat: Duration::try_from_secs_f64(args.heartbeat).context("--heartbeat")?,
        sim_delay: Duration::try_from_secs_f64(args.sim_delay).context("--sim-delay")?,
        timeout: Duration::from_secs(args.timeout),
    };
    raise_fd_limit(args.wecs.iter().copied().max().unwrap_or(1))?;
    let several = args.wecs.len() > 1;
    let mut reports = Vec::new();
    for &n in &args.wecs {
        // Removed when dropped, after the run's processes are gone.
        let temp = args.data_dir.is_none().then(tempfile::tempdir).transpose()?;
        let dir = match (&args.data_dir, &temp) {
            (Some(d), _) if several => d.join(format!("wecs-{n}")),
            (Some(d), _) => d.clone(),
            (None, t) => t.as_ref().map(|t| t.path().to_owned()).unwrap_or_default(),
        };
        std::fs::create_dir_all(&dir)?;
        let (report, stages) = run_one(&args, &timing, n, &dir).await?;
        if args.json {
            eprint!("{}", report.table());
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print!("{}", report.table());
        }
        if let (Some(path), false) = (&args.plot, several) {
            let title = format!("orrery bench scale: {n} WECs × {} objects", args.objects);
            write_chart(path, &plot::cdf_svg(&title, &stages))?;
        }
        reports.push(report);
    }
    if let (Some(path), true) = (&args.plot, several) {
        let title = format!("orrery bench scale: latency against WECs ({} objects)", args.objects);
        write_chart(path, &scaling::scaling_svg(&title, &scaling::lines(&reports)))?;
    }
    let failed: Vec<String> =
        reports.iter().filter(|r| !r.ok).map(|r| format!("{} WECs: {}", r.wecs, r.problems.join("; "))).collect();
    anyhow::ensure!(failed.is_empty(), "the correctness check failed: {}", failed.join(" | "));
    Ok(())
}

fn write_chart(path: &Path, svg: &str) -> anyhow::Result<()> {
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

/// The run's durations, read from the arguments once.
#[derive(Clone, Copy)]
struct Timing {
    heartbeat: Duration,
    sim_delay: Duration,
    timeout: Duration,
}

/// The CPU seconds each of the run's three processes has used so far. Together they share
/// the machine, and a run that took longer than the last one either had more to do or was
/// given less per second: on a shared machine the same work costs more CPU seconds in a
/// busy hour (docs/benchmarks.md), and only all three together tell which it was.
struct Cpu {
    center: f64,
    wec_server: f64,
    bench: f64,
}

impl Cpu {
    fn read(procs: &Processes) -> anyhow::Result<Self> {
        Ok(Self {
            center: cpu_seconds(procs.center.0.id())?,
            wec_server: cpu_seconds(procs.wec_server.0.id())?,
            bench: cpu_seconds(std::process::id())?,
        })
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            center: self.center - before.center,
            wec_server: self.wec_server - before.wec_server,
            bench: self.bench - before.bench,
        }
    }
}

/// One run on `n` WECs with its data in `dir`: the report and each stage's per-WEC
/// latencies (for the chart).
async fn run_one(args: &Args, timing: &Timing, n: usize, dir: &Path) -> anyhow::Result<(Report, Vec<plot::Series>)> {
    let Timing { heartbeat, sim_delay, timeout } = *timing;
    let m = args.objects;

    let started = Instant::now();
    let progress = bar(n as u64);
    let procs = start_processes(dir, args.workers)?;
    let center: Arc<dyn SpaceProvider> =
        Arc::new(EmbeddedProvider::new(Kubeconfig::read_from(&procs.center_kubeconfig)?).await?);
    let wecs: Arc<dyn SpaceProvider> =
        Arc::new(EmbeddedProvider::new(Kubeconfig::read_from(&procs.wec_kubeconfig)?).await?);
    step(&progress, started, "center (orrery up) and the WEC server started");

    let fleet = fleet::register(center.as_ref(), wecs.as_ref(), n, args.clients, &progress).await?;
    step(&progress, started, &format!("{n} WECs registered; their mailboxes exist"));
    let shutdown = Shutdown::new();
    let rss_before = rss_bytes(std::process::id())?;
    let settings = orrery_syncer::Settings { heartbeat, workers: 2 };
    let mut syncers = fleet.start_syncers(center.as_ref(), wecs.as_ref(), &settings, &shutdown, &progress).await?;
    let wds = center.client(crate::up::WDS).await?;
    let observer = Observer::start(center.clone(), wds.clone(), fleet.index.clone(), m);
    let sim = SimCluster::witnessed(wecs.clone(), sim_delay, &Metrics::new(), Some(observer.witness()));
    tokio::spawn(sim.run(shutdown.clone(), (n * SIM_WORKERS_PER_WEC).max(SIM_WORKERS_MIN)));
    step(&progress, started, &format!("{n} syncers connected to their mailboxes"));

    let mut rx = observer.progress();
    let watching = wait_for(&mut rx, &progress, timeout, |p| p.watching, observe::WATCHES).await;
    anyhow::ensure!(watching, "the bench's watches had not listed after {} s", args.timeout);
    let setup_s = started.elapsed().as_secs_f64();

    let cpu_before = Cpu::read(&procs)?;
    progress.set_position(0);
    progress.set_message("WECs converged (summary in the WDS)");
    let t0 = observer.start_clock();
    workload::write(&wds, &workload::objects(n, m, args.placements)).await.context("writing the workload")?;
    let converged = wait_for(&mut rx, &progress, timeout, |p| p.summarized, n).await;
    // Counted now: WECs may still converge while the run goes on to its check.
    let summarized = rx.borrow().summarized;
    let late = n.saturating_sub(summarized);
    let converge_s = t0.elapsed().as_secs_f64();
    let cpu = Cpu::read(&procs)?.since(&cpu_before);
    step(&progress, started, &format!("converged: {summarized} of {n} WECs in {converge_s:.2} s"));

    let mut update_samples = Vec::new();
    let mut rev = "0".to_owned();
    for u in 1..=if converged { args.updates } else { 0 } {
        rev = u.to_string();
        progress.set_position(0);
        progress.set_message(format!("update {u}/{} applied in WECs", args.updates));
        observer.start_update(&rev, n);
        workload::update(&wds, &rev).await.context("updating load-0")?;
        let done = wait_for(&mut rx, &progress, timeout, |p| p.updated, n).await;
        update_samples.extend(observer.update_samples());
        if !done {
            break;
        }
    }
    update_samples.sort_by(f64::total_cmp);
    let rss_after = rss_bytes(std::process::id())?;
    progress.finish_and_clear();
    step(&progress, started, "updates done; checking");

    let found = check::read(
        &wildcard_client(&procs.center_kubeconfig).await?,
        &wildcard_client(&procs.wec_kubeconfig).await?,
        &wds,
        &fleet.index,
    )
    .await?;
    let expect = check::Expect { wecs: n, objects: m, placements: args.placements, rev };
    let mut problems = check::problems(&expect, &found, fleet::wec_name);
    if !converged {
        let missing = observer.with_timeline(|t| t.missing(Stage::Summary).len());
        problems.insert(
            0,
            format!(
                "{late} WECs had not converged after {} s ({missing} had not by the end of the check)",
                args.timeout
            ),
        );
    }

    let readings = Readings {
        setup_s,
        converge_s: observer.with_timeline(|t| t.per_wec(Stage::Summary).last().copied()).unwrap_or(converge_s),
        center_cpu_s: cpu.center,
        wec_server_cpu_s: cpu.wec_server,
        bench_cpu_s: cpu.bench,
        center_peak_rss_mib: peak_rss_bytes(procs.center.0.id())? as f64 / 1048576.0,
        wec_server_peak_rss_mib: peak_rss_bytes(procs.wec_server.0.id())? as f64 / 1048576.0,
        syncer_rss_kib: rss_after.saturating_sub(rss_before) as f64 / 1024.0 / n as f64,
        store_mib: dir_bytes(&dir.join("center"))? as f64 / 1048576.0,
        update_samples,
    };
    let report = observer.with_timeline(|t| Report::new((n, m, args.placements), t, readings, args.updates, problems));
    let stages = observer.with_timeline(|t| {
        Stage::ALL.iter().map(|&s| plot::Series { label: s.label().to_owned(), samples: t.per_wec(s) }).collect()
    });
    shutdown.trigger();
    stop(&mut syncers, SYNCERS_STOP).await;
    Ok((report, stages))
}

/// How long the syncers have to stop before the processes under them do.
const SYNCERS_STOP: Duration = Duration::from_secs(30);

/// Waits for the syncers, told to stop, to end (aborting those still running `within`):
/// the center and the WEC server stop next, and a syncer still watching them would report
/// each watch the stop broke, 1,763 warnings after a 10,000-WEC run's report.
async fn stop(syncers: &mut JoinSet<()>, within: Duration) {
    let all = async { while syncers.join_next().await.is_some() {} };
    if tokio::time::timeout(within, all).await.is_err() {
        tracing::warn!(left = syncers.len(), "syncers still running {} s after the stop", within.as_secs());
        syncers.abort_all();
        while syncers.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Syncers that end when told to are all waited for; one that does not is aborted once
    /// the time is up, and the stop still returns.
    #[tokio::test]
    async fn stopping_waits_for_the_syncers_and_no_longer_than_it_may() {
        let (shutdown, ended) = (Shutdown::new(), Arc::new(AtomicUsize::new(0)));
        let mut syncers = JoinSet::new();
        for _ in 0..3 {
            let (shutdown, ended) = (shutdown.clone(), ended.clone());
            syncers.spawn(async move {
                shutdown.wait().await;
                tokio::task::yield_now().await;
                ended.fetch_add(1, Ordering::SeqCst);
            });
        }
        shutdown.trigger();
        stop(&mut syncers, Duration::from_secs(60)).await;
        assert_eq!(ended.load(Ordering::SeqCst), 3, "every syncer ran to its end");
        assert!(syncers.is_empty());

        let dropped = Arc::new(AtomicUsize::new(0));
        struct Count(Arc<AtomicUsize>);
        impl Drop for Count {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let held = Count(dropped.clone());
        syncers.spawn(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        stop(&mut syncers, Duration::from_millis(50)).await;
        assert!(syncers.is_empty());
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "the stuck syncer was aborted, its state dropped");
    }
}
