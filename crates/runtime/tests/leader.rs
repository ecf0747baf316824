//! Leader election against a real orrery space server, started in-process on a port the OS
//! picks. Real time (short leases); every wait is on a condition with a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use orrery_runtime::{LeaderElector, LeaseConfig, Shutdown};
use orrery_spaceserver::server::{RunningServer, ServerConfig, start};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const NS: &str = "kube-system";
const LEASE: &str = "orrery-test";
/// Generous room for a loaded machine on top of what the protocol allows.
const SLACK: Duration = Duration::from_secs(3);

struct Env {
    _server: RunningServer,
    _dir: tempfile::TempDir,
    config: kube::Config,
}

impl Env {
    async fn start() -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let server = start(ServerConfig::loopback_for_tests(dir.path().to_owned())).await?;
        let kubeconfig = Kubeconfig::read_from(&server.admin_kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(Self { _server: server, _dir: dir, config })
    }

    fn client(&self) -> kube::Client {
        kube::Client::try_from(self.config.clone()).expect("client from a valid config")
    }

    fn leases(&self) -> Api<Lease> {
        Api::namespaced(self.client(), NS)
    }

    async fn lease(&self) -> Result<Lease, kube::Error> {
        self.leases().get(LEASE).await
    }
}

struct Timing {
    lease: Duration,
    renew: Duration,
    retry: Duration,
}

const FAST: Timing =
    Timing { lease: Duration::from_secs(1), renew: Duration::from_millis(700), retry: Duration::from_millis(200) };

/// A candidate running in its own task.
struct Running {
    id: String,
    leading: watch::Receiver<bool>,
    shutdown: Shutdown,
    task: JoinHandle<()>,
}

fn run(client: kube::Client, id: &str, t: &Timing) -> Running {
    let config = LeaseConfig {
        lease_duration: t.lease,
        renew_deadline: t.renew,
        retry_period: t.retry,
        ..LeaseConfig::new(NS, LEASE, id)
    };
    let elector = LeaderElector::new(client, config).expect("valid settings");
    let leading = elector.subscribe();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(elector.run(shutdown.clone()));
    Running { id: id.to_owned(), leading, shutdown, task }
}

async fn wait_leading(c: &mut Running, want: bool, within: Duration) -> TestResult {
    tokio::time::timeout(within, c.leading.wait_for(|l| *l == want))
        .await
        .map_err(|_| format!("{} did not become leading={want} within {within:?}", c.id))??;
    Ok(())
}

fn spec_of(lease: &Lease) -> (Option<String>, i32, Timestamp, Timestamp) {
    let spec = lease.spec.clone().unwrap_or_default();
    let time = |t: Option<MicroTime>| t.map(|t| t.0).unwrap_or_default();
    (
        spec.holder_identity.filter(|h| !h.is_empty()),
        spec.lease_transitions.unwrap_or(-1),
        time(spec.acquire_time),
        time(spec.renew_time),
    )
}

fn secs(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).expect("small duration")
}

#[tokio::test]
async fn exactly_one_of_several_candidates_leads() -> TestResult {
    let env = Env::start().await?;
    let candidates: Vec<Running> = ["a", "b", "c"].iter().map(|id| run(env.client(), id, &FAST)).collect();

    // Every change of any candidate's view is a moment to check; in between nothing changes.
    let (changed, mut changes) = mpsc::unbounded_channel();
    for c in &candidates {
        let (mut rx, changed) = (c.leading.clone(), changed.clone());
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let _ = changed.send(());
            }
        });
    }
    let leaders = || candidates.iter().filter(|c| *c.leading.borrow()).map(|c| c.id.clone()).collect::<Vec<_>>();
    let mut first = None;
    // Watch for three lease durations: long enough for many renewals and standby retries.
    let window = tokio::time::Instant::now() + FAST.lease * 3 + SLACK;
    while let Ok(Some(())) = tokio::time::timeout_at(window, changes.recv()).await {
        let now = leaders();
        assert!(now.len() <= 1, "two leaders at once: {now:?}");
        first = first.or(now.first().cloned());
    }
    let leader = first.ok_or("nobody became leader")?;
    assert_eq!(leaders(), vec![leader.clone()], "the leader kept leading while it could renew");
    let (holder, transitions, _, _) = spec_of(&env.lease().await?);
    assert_eq!(holder.as_deref(), Some(leader.as_str()));
    assert_eq!(transitions, 0, "nobody took over from a healthy leader");
    Ok(())
}

#[tokio::test]
async fn a_standby_takes_over_once_a_crashed_leaders_lease_expires() -> TestResult {
    let env = Env::start().await?;
    let mut a = run(env.client(), "a", &FAST);
    wait_leading(&mut a, true, SLACK).await?;
    let mut b = run(env.client(), "b", &FAST);
    // Give b a chance to see a's lease: it must stand by.
    let (_, _, _, renewed_before) = spec_of(&env.lease().await?);
    tokio::time::timeout(SLACK, async {
        loop {
            let (_, _, _, renewed) = spec_of(&env.lease().await.expect("lease"));
            if renewed > renewed_before + secs(FAST.retry * 2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await; // poll interval
        }
    })
    .await?;
    assert!(!*b.leading.borrow(), "b leads while a renews");

    // Crash: no release; the lease still names a until it expires.
    a.task.abort();
    assert!(a.task.await.is_err_and(|e| e.is_cancelled()));
    assert!(!*a.leading.borrow(), "a dropped elector stops saying it leads");
    let (holder, _, _, last_renewal) = spec_of(&env.lease().await?);
    assert_eq!(holder.as_deref(), Some("a"));

    wait_leading(&mut b, true, FAST.lease + FAST.retry.mul_f64(1.2) + SLACK).await?;
    let (holder, transitions, acquired, _) = spec_of(&env.lease().await?);
    assert_eq!(holder.as_deref(), Some("b"));
    assert_eq!(transitions, 1);
    assert!(acquired > last_renewal + secs(FAST.lease), "b took the lease at {acquired} before it expired");
    Ok(())
}

#[tokio::test]
async fn a_graceful_shutdown_hands_over_without_waiting_for_expiry() -> TestResult {
    let env = Env::start().await?;
    // A long lease: without the release, b would wait five seconds.
    let slow = Timing { lease: Duration::from_secs(5), renew: Duration::from_secs(3), retry: FAST.retry };
    let mut a = run(env.client(), "a", &slow);
    wait_leading(&mut a, true, SLACK).await?;
    let mut b = run(env.client(), "b", &slow);

    let stopped_at = Timestamp::now();
    a.shutdown.trigger();
    tokio::time::timeout(SLACK, &mut a.task).await??;
    assert!(!*a.leading.borrow());

    wait_leading(&mut b, true, slow.lease + SLACK).await?;
    let (holder, transitions, acquired, _) = spec_of(&env.lease().await?);
    assert_eq!(holder.as_deref(), Some("b"));
    assert_eq!(transitions, 1);
    // a renewed at most one retry period before stopping; expiry would have let b in no
    // earlier than lease - retry after the stop.
    assert!(
        acquired < stopped_at + secs(slow.lease - slow.retry),
        "b took over at {acquired}, stop at {stopped_at}: it waited for expiry, so the lease was not released"
    );
    b.shutdown.trigger();
    tokio::time::timeout(SLACK, &mut b.task).await??;
    assert_eq!(spec_of(&env.lease().await?).0, None, "the last leader released too");
    Ok(())
}

#[tokio::test]
async fn a_leader_that_finds_another_holder_steps_down_and_campaigns_again() -> TestResult {
    let env = Env::start().await?;
    let mut a = run(env.client(), "a", &FAST);
    wait_leading(&mut a, true, SLACK).await?;

    // Someone else writes the lease (e.g. a candidate that misjudged expiry).
    let mut lease = env.lease().await?;
    let spec = lease.spec.get_or_insert_with(Default::default);
    spec.holder_identity = Some("intruder".into());
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    env.leases().replace(LEASE, &PostParams::default(), &lease).await?;

    wait_leading(&mut a, false, FAST.retry + SLACK).await?;
    // The intruder never renews, so a gets the lease back after it expires.
    wait_leading(&mut a, true, FAST.lease + FAST.retry * 2 + SLACK).await?;
    let (holder, transitions, _, _) = spec_of(&env.lease().await?);
    assert_eq!(holder.as_deref(), Some("a"));
    assert_eq!(transitions, 1, "taking the lease back from the intruder is a transition");
    Ok(())
}

/// A TCP proxy the test can cut, closing every connection through it.
async fn proxy(upstream: SocketAddr) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((mut down, _)) = listener.accept().await {
            connections.spawn(async move {
                if let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                }
            });
        }
    });
    Ok((addr, task))
}

#[tokio::test]
async fn a_leader_cut_off_from_the_server_steps_down_before_its_lease_expires() -> TestResult {
    let env = Env::start().await?;
    let upstream = env.config.cluster_url.authority().ok_or("no authority")?.as_str().parse()?;
    let (via, cut) = proxy(upstream).await?;
    let mut config = env.config.clone();
    config.cluster_url = format!("http://{via}{}", env.config.cluster_url.path()).parse()?;
    let timing = Timing { lease: Duration::from_secs(3), renew: Duration::from_secs(1), retry: FAST.retry };
    let mut a = run(kube::Client::try_from(config)?, "a", &timing);
    wait_leading(&mut a, true, SLACK).await?;

    cut.abort();
    let _ = cut.await;
    wait_leading(&mut a, false, timing.renew + SLACK).await?;
    let stepped_down = Timestamp::now();
    let (holder, _, _, last_renewal) = spec_of(&env.lease().await?);
    assert_eq!(holder.as_deref(), Some("a"), "nobody else wrote the lease");
    assert!(
        stepped_down < last_renewal + secs(timing.lease),
        "a still led at {stepped_down}, after its lease (renewed {last_renewal}) expired"
    );
    Ok(())
}

/// A process whose runtime runs nothing for twice the lease (here: a current-thread runtime
/// outside `block_on`; in `orrery up`, thousands of tasks ahead in the queue). The elector
/// that is one of its tasks finds its renew deadline passed and steps down the moment it
/// runs again; the elector on a thread of its own renews throughout.
#[test]
fn an_elector_on_its_own_thread_keeps_leading_while_the_process_is_starved() -> TestResult {
    // The server on a runtime of its own, so that only the candidates' runtime starves.
    let server_runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let env = server_runtime.block_on(Env::start())?;
    let process = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let config = |lease: &str, id: &str| LeaseConfig {
        lease_duration: FAST.lease,
        renew_deadline: FAST.renew,
        retry_period: FAST.retry,
        ..LeaseConfig::new(NS, lease, id)
    };
    let stop_own = Shutdown::new();
    let (own, own_leading, mut task_leading) = process.block_on(async {
        let kube = env.config.clone();
        let own =
            LeaderElector::spawn_dedicated(move || kube::Client::try_from(kube), config("own", "a"), stop_own.clone())?;
        let task = LeaderElector::new(env.client(), config("task", "b"))?;
        let (mut own_leading, mut task_leading) = (own.subscribe(), task.subscribe());
        tokio::spawn(task.run(Shutdown::new()));
        tokio::time::timeout(SLACK, own_leading.wait_for(|l| *l)).await??;
        tokio::time::timeout(SLACK, task_leading.wait_for(|l| *l)).await??;
        own_leading.mark_unchanged();
        Ok::<_, Box<dyn std::error::Error>>((own, own_leading, task_leading))
    })?;

    let starved_at = Timestamp::now();
    std::thread::sleep(FAST.lease * 2); // the starvation itself, not a wait for anything

    let leases = |name: &'static str| server_runtime.block_on(async { env.leases().get(name).await });
    process.block_on(async { tokio::time::timeout(SLACK, task_leading.wait_for(|l| !*l)).await })??;
    assert!(*own_leading.borrow() && !own_leading.has_changed()?, "the elector on its own thread stepped down");
    let (holder, transitions, _, renewed) = spec_of(&leases("own")?);
    assert_eq!((holder.as_deref(), transitions), (Some("a"), 0));
    assert!(renewed > starved_at + secs(FAST.lease), "no renewal late in the starvation: last at {renewed}");

    stop_own.trigger();
    process.block_on(async { tokio::time::timeout(SLACK, own.finished()).await })?;
    assert!(!*own_leading.borrow());
    assert_eq!(spec_of(&leases("own")?).0, None, "released on shutdown");
    Ok(())
}
