//! The syncer's connection to the center across what edge networks put in the way: a TCP
//! path that is cut and restored, and an HTTP CONNECT proxy (Debian's tinyproxy, which
//! `.ci/run` installs) reached through `HTTPS_PROXY`.

use kube::api::{Patch, PatchParams};
use orrery_e2e::objects::{api, configmaps, create, get, namespaces, placements, until};
use orrery_e2e::{Process, Server, ensure_location, mailbox_kubeconfig, syncer_metrics};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use tokio::net::{TcpListener, TcpStream};

/// A TCP forwarder on 127.0.0.1 that a test can cut (every connection dropped, nothing
/// accepted) and restore on the same port.
struct Cuttable {
    port: u16,
    target: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Cuttable {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        Self { port, target, task: Some(tokio::spawn(Self::serve(listener, target))) }
    }

    async fn serve(listener: TcpListener, target: SocketAddr) {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            connections.spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    }

    /// Drops every connection and stops listening (aborting the task drops its JoinSet).
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.expect("bind the same port again");
        self.task = Some(tokio::spawn(Self::serve(listener, self.target)));
    }
}

/// A center with an inventory of one (`edge1`), a WDS placing ConfigMap `app/cfg` there,
/// and the mailbox kubeconfig; controllers with a 2 s heartbeat timeout.
async fn center() -> (Server, Process, PathBuf, kube::Client, kube::Client) {
    center_with(&[]).await
}

/// [`center`], with more flags for the controllers.
async fn center_with(flags: &[&str]) -> (Server, Process, PathBuf, kube::Client, kube::Client) {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1", "wec1"] {
        server.create_space(s).await.expect("space");
    }
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let args = [&["controllers", "--kubeconfig", &kc, "--heartbeat-timeout", "2"], flags].concat();
    let controllers = Process::spawn(&args).expect("controllers");
    let inv = server.client("imw1").await.expect("client");
    ensure_location(&inv, "edge1", &[("env", "prod")]).await.expect("inventory");
    let wds = server.client("wds1").await.expect("client");
    create(&wds, &namespaces(), json!({"metadata": {"name": "app"}})).await;
    create(&wds, &configmaps(), json!({"metadata": {"name": "cfg", "namespace": "app"}, "data": {"v": "1"}})).await;
    create(
        &wds,
        &placements(),
        json!({"metadata": {"name": "p"},
               "spec": {"locationSelectors": [{"matchLabels": {"env": "prod"}}],
                        "downsync": [{"apiGroup": "", "resources": ["configmaps"], "namespaces": ["app"]}]}}),
    )
    .await;
    let (mailbox_kc, _) = mailbox_kubeconfig(&server, &inv, "edge1").await.expect("mailbox kubeconfig");
    (server, controllers, mailbox_kc, inv, wds)
}

/// The syncer of `wec1`, reporting in every 0.5 s, with `env` added to its environment.
fn syncer(server: &Server, mailbox_kc: &std::path::Path, env: &[(&str, &str)]) -> Process {
    let wec_kc = server.space_kubeconfig("wec1").expect("kubeconfig");
    let args = [
        "syncer",
        "--mailbox-kubeconfig",
        &mailbox_kc.to_string_lossy(),
        "--wec-kubeconfig",
        &wec_kc.to_string_lossy(),
        "--heartbeat-interval",
        "0.5",
    ];
    Process::spawn_with_env(&args, env).expect("syncer")
}

async fn value(wec: &kube::Client) -> Option<String> {
    get(wec, &configmaps(), Some("app"), "cfg").await.and_then(|o| o.data["data"]["v"].as_str().map(str::to_owned))
}

async fn heartbeat(inv: &kube::Client) -> Option<String> {
    let st = kube::Api::<orrery_api::SyncTarget>::all(inv.clone()).get("edge1").await.ok()?;
    st.status?.conditions?.into_iter().find(|c| c.type_ == "HeartbeatHealthy").map(|c| c.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_loses_nothing_and_converges_when_restored() {
    let (server, _controllers, mailbox_kc, inv, wds) = center().await;
    let target: SocketAddr = server.address().parse().expect("address");
    let mut path = Cuttable::start(target).await;
    let text = std::fs::read_to_string(&mailbox_kc)
        .expect("read")
        .replace(&server.address(), &format!("127.0.0.1:{}", path.port));
    std::fs::write(&mailbox_kc, text).expect("write");
    let syncer = syncer(&server, &mailbox_kc, &[]);
    let _log = syncer.log_on_panic("orrery syncer");
    let wec = server.client("wec1").await.expect("client");
    until("the ConfigMap arrives through the forwarder", || async { value(&wec).await.as_deref() == Some("1") }).await;

    // Silence is judged against a heartbeat the center has seen.
    until("the center hears the syncer", || async { heartbeat(&inv).await.as_deref() == Some("True") }).await;
    path.cut();
    until("the center sees the syncer go silent", || async { heartbeat(&inv).await.as_deref() == Some("False") }).await;
    let edit = Patch::Merge(json!({"data": {"v": "2"}}));
    api(&wds, &configmaps(), Some("app")).patch("cfg", &PatchParams::default(), &edit).await.expect("WDS edit");
    assert_eq!(value(&wec).await.as_deref(), Some("1"), "cut off, the WEC keeps what it has");

    path.restore().await;
    until("the change made while cut off arrives", || async { value(&wec).await.as_deref() == Some("2") }).await;
    until("and the syncer reports in again", || async { heartbeat(&inv).await.as_deref() == Some("True") }).await;
}

/// A fleet past the controllers' heartbeat budget (here one syncer, at 0.05 heartbeats a
/// second: half a syncer at the base 10 s) is granted a longer interval through `the-one`;
/// the syncer keeps it, and the longer timeout that comes with it keeps it healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syncer_keeps_the_heartbeat_interval_its_mailbox_grants() {
    let (server, _controllers, mailbox_kc, inv, _wds) = center_with(&["--heartbeats-per-second", "0.05"]).await;
    let syncer = syncer(&server, &mailbox_kc, &[]);
    let _log = syncer.log_on_panic("orrery syncer");
    until("the syncer keeps the granted 20 s", || async {
        syncer.said("syncer metrics at http://")
            && syncer_metrics(&syncer).await.lines().any(|l| l == "orrery_syncer_heartbeat_interval_seconds 20.0")
    })
    .await;
    // Well past the 2 s timeout and its own 0.5 s interval: still healthy.
    let wec = server.client("wec1").await.expect("client");
    until("the ConfigMap arrives", || async { value(&wec).await.as_deref() == Some("1") }).await;
    until("the center hears the syncer", || async { heartbeat(&inv).await.as_deref() == Some("True") }).await;
    // Silent for twice the 2 s timeout (the center judges every 0.5 s): still healthy.
    until("the syncer has been silent for 4 s", || async {
        silent_for(&inv).await.is_some_and(|s| s >= std::time::Duration::from_secs(4))
    })
    .await;
    assert_eq!(heartbeat(&inv).await.as_deref(), Some("True"), "judged against three granted intervals");
}

/// How long since `edge1`'s syncer last reported in, as its SyncTarget says.
async fn silent_for(inv: &kube::Client) -> Option<std::time::Duration> {
    let st = kube::Api::<orrery_api::SyncTarget>::all(inv.clone()).get("edge1").await.ok()?;
    let last = u64::try_from(st.status?.last_syncer_heartbeat_time?.0.as_second()).ok()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
    now.checked_sub(std::time::Duration::from_secs(last))
}

/// Installs Debian's tinyproxy-bin when `bin` is not on the PATH (as `.ci/run` does), so
/// the README's test command needs no manual step on a Debian machine.
fn install_if_missing(bin: &str) {
    let found = Command::new(bin).arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        let apt =
            |args: &[&str]| Command::new("apt-get").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !apt(&["install", "-y", "tinyproxy-bin"]).is_ok_and(|s| s.success()) {
            let _ = apt(&["update"]);
            let _ = apt(&["install", "-y", "tinyproxy-bin"]);
        }
    }
}

/// tinyproxy on a free loopback port, logging every CONNECT.
struct Tinyproxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        // No ConnectPort line: CONNECT to any port is allowed.
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 600\nAllow 127.0.0.1\nMaxClients 100\nLogLevel Info\nLogFile \"{}\"\n",
                log.display()
            ),
        )
        .expect("config");
        let bin = std::env::var("TINYPROXY").unwrap_or_else(|_| "tinyproxy".to_owned());
        install_if_missing(&bin);
        let child = Command::new(&bin)
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} (Debian package tinyproxy-bin; .ci/run installs it): {e}"));
        Self { child, port, log, _dir: dir }
    }

    fn connects_to(&self, address: &str) -> bool {
        std::fs::read_to_string(&self.log)
            .is_ok_and(|l| l.lines().any(|line| line.contains("CONNECT") && line.contains(address)))
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_syncer_reaches_its_mailbox_through_an_http_connect_proxy() {
    let (server, _controllers, mailbox_kc, _inv, _wds) = center().await;
    let proxy = Tinyproxy::start();
    // Both of the syncer's clients honour HTTPS_PROXY; the proxy's log shows the center
    // was reached through it.
    let url = format!("http://127.0.0.1:{}", proxy.port);
    let syncer = syncer(&server, &mailbox_kc, &[("HTTPS_PROXY", &url), ("NO_PROXY", "")]);
    let _log = syncer.log_on_panic("orrery syncer");
    let wec = server.client("wec1").await.expect("client");
    until("the ConfigMap arrives", || async { value(&wec).await.as_deref() == Some("1") }).await;
    until("through the proxy", || async { proxy.connects_to(&server.address()) }).await;
}
