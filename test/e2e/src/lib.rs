//! Harness for end-to-end tests: start the real `orrery` binary on 127.0.0.1 with an
//! OS-chosen port, talk to it with kubectl and kube-rs, and wait on conditions with
//! deadlines (never fixed sleeps).

pub mod objects;

pub use objects::mailbox_kubeconfig;

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `orrery` binary: `$ORRERY_BIN`, else the workspace's debug build (which
/// `cargo test --workspace` builds for the CLI's own tests).
pub fn orrery_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ORRERY_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug/orrery")
}

/// A running `orrery server`, killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub kubeconfig: PathBuf,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    pub insecure_http: bool,
    pub event_history: Option<usize>,
    /// Reuse this data directory (for restarts); a fresh one otherwise.
    pub data_dir: Option<PathBuf>,
    /// Listen here (`127.0.0.1:PORT`, to come back on the same address after a restart);
    /// an OS-chosen port otherwise.
    pub listen: Option<String>,
    /// The store's `--compact-min-bytes`: small, to rewrite its log often.
    pub compact_min_bytes: Option<u64>,
}

impl Server {
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(ServerOptions::default())
    }

    pub fn start_with(opts: ServerOptions) -> anyhow::Result<Self> {
        let (tmp, data_dir) = match opts.data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir()?;
                let d = t.path().join("data");
                (Some(t), d)
            }
        };
        let bin = orrery_bin();
        if !bin.exists() {
            bail!("{} does not exist: build it with `cargo build --bin orrery` (or set ORRERY_BIN)", bin.display());
        }
        let mut cmd = Command::new(&bin);
        let listen = opts.listen.unwrap_or_else(|| "127.0.0.1:0".to_owned());
        cmd.args(["server", "--listen", &listen, "--data-dir"]).arg(&data_dir);
        if opts.insecure_http {
            cmd.arg("--insecure-http");
        }
        if let Some(n) = opts.event_history {
            cmd.args(["--event-history", &n.to_string()]);
        }
        if let Some(n) = opts.compact_min_bytes {
            cmd.args(["--compact-min-bytes", &n.to_string()]);
        }
        let mut child =
            cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().context("spawning orrery server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).context("the server did not report ready within 30s")?;
        let ready: serde_json::Value = serde_json::from_str(&line).with_context(|| format!("ready line {line:?}"))?;
        let url = ready["url"].as_str().context("url")?.to_owned();
        let kubeconfig = PathBuf::from(ready["kubeconfig"].as_str().context("kubeconfig")?);
        Ok(Self { child, url, kubeconfig, data_dir, _tmp: tmp })
    }

    /// Kills the server with SIGKILL (no chance to flush anything) and waits for it.
    /// `127.0.0.1:PORT` the server listens on.
    pub fn address(&self) -> String {
        self.url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_owned()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A kubeconfig for one space, written next to the admin one.
    pub fn space_kubeconfig(&self, space: &str) -> anyhow::Result<PathBuf> {
        let text = std::fs::read_to_string(&self.kubeconfig)?;
        let path = self.kubeconfig.with_file_name(format!("{space}.kubeconfig"));
        std::fs::write(&path, text.replace("/clusters/root", &format!("/clusters/{space}")))?;
        Ok(path)
    }

    /// One kubeconfig whose contexts are the given spaces (each named after its space), with
    /// the admin token; `spaces[0]` is the current context. What `orrery controllers
    /// --spaces-from-contexts` takes.
    pub fn contexts_kubeconfig(&self, spaces: &[&str]) -> anyhow::Result<PathBuf> {
        use kube::config::{Context, Kubeconfig, NamedCluster, NamedContext};
        let admin = Kubeconfig::read_from(&self.kubeconfig)?;
        let cluster = admin.clusters.first().and_then(|c| c.cluster.clone()).context("admin kubeconfig cluster")?;
        let user = admin.auth_infos.first().context("admin kubeconfig user")?.clone();
        let root = cluster.server.clone().context("server")?;
        let mut out = Kubeconfig { current_context: spaces.first().map(|s| (*s).to_owned()), ..Default::default() };
        for space in spaces {
            let mut c = cluster.clone();
            c.server = Some(root.replace("/clusters/root", &format!("/clusters/{space}")));
            out.clusters.push(NamedCluster { name: (*space).to_owned(), cluster: Some(c), other: Default::default() });
            out.contexts.push(NamedContext {
                name: (*space).to_owned(),
                context: Some(Context {
                    cluster: (*space).to_owned(),
                    user: Some(user.name.clone()),
                    ..Default::default()
                }),
                other: Default::default(),
            });
        }
        out.auth_infos.push(user);
        let path = self.kubeconfig.with_file_name(format!("contexts-{}.kubeconfig", spaces.join("-")));
        // JSON is YAML: every kubeconfig reader takes it.
        std::fs::write(&path, serde_json::to_vec_pretty(&out)?)?;
        Ok(path)
    }

    /// A kube-rs client for a space, with the admin token.
    pub async fn client(&self, space: &str) -> anyhow::Result<kube::Client> {
        client_from(&self.space_kubeconfig(space)?).await
    }

    /// A client for the server's root URL (no space prefix) that sends no credentials of its
    /// own, with the admin token: for tests that build raw requests and set headers.
    pub async fn raw_client(&self) -> anyhow::Result<(kube::Client, String)> {
        let text = std::fs::read_to_string(&self.kubeconfig)?;
        let doc: serde_json::Value = serde_saphyr::from_str(&text)?;
        let token =
            doc.pointer("/users/0/user/token").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
        config.cluster_url = self.url.parse()?;
        config.auth_info = Default::default();
        Ok((kube::Client::try_from(config)?, token))
    }

    /// Creates a space through the root space and waits until it is Ready.
    pub async fn create_space(&self, name: &str) -> anyhow::Result<()> {
        use kube::api::{Api, DynamicObject, PostParams};
        let root = self.client("root").await?;
        let ar = space_resource();
        let api: Api<DynamicObject> = Api::all_with(root, &ar);
        let mut obj = DynamicObject::new(name, &ar);
        obj.data = serde_json::json!({});
        api.create(&PostParams::default(), &obj).await?;
        wait_for(Duration::from_secs(20), || async {
            let s = api.get(name).await.ok()?;
            (s.data.pointer("/status/phase")? == "Ready").then_some(())
        })
        .await
        .with_context(|| format!("space {name} did not become Ready"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// KubeStellar's `ensure location`: a SyncTarget named `name` labelled `id=<name>` plus
/// `labels`, and a Location of the same name and labels selecting it by `id`.
pub async fn ensure_location(inventory: &kube::Client, name: &str, labels: &[(&str, &str)]) -> anyhow::Result<()> {
    use kube::api::{Api, DynamicObject, PostParams};
    let mut all: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v))).collect();
    all.insert("id".into(), name.into());
    let edge = |kind: &str, plural: &str| {
        kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("edge.kubestellar.io", "v2alpha1", kind),
            plural,
        )
    };
    let target: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "SyncTarget",
        "metadata": {"name": name, "labels": all}, "spec": {},
    }))?;
    let location: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "Location",
        "metadata": {"name": name, "labels": all},
        "spec": {"resource": {"group": "edge.kubestellar.io", "version": "v2alpha1", "resource": "synctargets"},
                 "instanceSelector": {"matchLabels": {"id": name}}},
    }))?;
    Api::<DynamicObject>::all_with(inventory.clone(), &edge("SyncTarget", "synctargets"))
        .create(&PostParams::default(), &target)
        .await
        .with_context(|| format!("SyncTarget {name}"))?;
    Api::<DynamicObject>::all_with(inventory.clone(), &edge("Location", "locations"))
        .create(&PostParams::default(), &location)
        .await
        .with_context(|| format!("Location {name}"))?;
    Ok(())
}

/// A child `orrery` process whose stderr lines are kept for [`Process::said`]; killed when
/// dropped, whatever the test's outcome.
pub struct Process {
    pub child: Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `orrery ARGS` (stdout discarded).
    pub fn spawn(args: &[&str]) -> anyhow::Result<Self> {
        Self::spawn_with_env(args, &[])
    }

    /// Starts `orrery ARGS` with these environment variables set.
    pub fn spawn_with_env(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(orrery_bin());
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::adopt(cmd.spawn()?)
    }

    /// Follows the stderr of a child spawned with `Stdio::piped()` stderr (or none).
    pub fn adopt(mut child: Child) -> anyhow::Result<Self> {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(err) = child.stderr.take() {
            let sink = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(err).lines().map_while(Result::ok) {
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(l);
                }
            });
        }
        Ok(Self { child, lines })
    }

    /// Starts `command` (an `orrery up` or `server`, whose first stdout line is a JSON
    /// object once it serves) and waits for that line; returns the process and the line.
    pub fn ready(mut command: Command) -> anyhow::Result<(Self, serde_json::Value)> {
        let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("spawning")?;
        let mut process = Self::adopt(child)?;
        let mut line = String::new();
        BufReader::new(process.child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let ready =
            serde_json::from_str(&line).with_context(|| format!("ready line {line:?}: {}", process.output()))?;
        Ok((process, ready))
    }

    /// Whether the process wrote a stderr line containing `what`.
    pub fn said(&self, what: &str) -> bool {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|l| l.contains(what))
    }

    /// Every stderr line so far (to print when a test fails).
    pub fn output(&self) -> String {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    /// A guard that prints this process's log if the test panics while it lives.
    pub fn log_on_panic(&self, name: &str) -> LogOnPanic {
        LogOnPanic { lines: self.lines.clone(), name: name.to_owned() }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// See [`Process::log_on_panic`].
pub struct LogOnPanic {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    name: String,
}

impl Drop for LogOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
            eprintln!("--- {} ---\n{lines}", self.name);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn space_resource() -> kube::api::ApiResource {
    orrery_api::space::api_resource()
}

pub async fn client_from(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// Polls `check` until it returns `Some`, or fails after `deadline`.
pub async fn wait_for<T, F, Fut>(deadline: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() > until {
            bail!("condition not met within {deadline:?}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// A kubectl of one minor version, with its own discovery cache.
pub struct Kubectl {
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    /// `minor` picks `kubectl.1.<minor>` from `$KUBECTL_DIR` (default: the Google Cloud
    /// SDK's directory); `$KUBECTL` overrides the binary entirely.
    pub fn new(minor: u32, kubeconfig: &Path) -> anyhow::Result<Self> {
        let bin = match std::env::var_os("KUBECTL") {
            Some(k) => PathBuf::from(k),
            None => {
                let dir = std::env::var_os("KUBECTL_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/usr/lib/google-cloud-sdk/bin"));
                dir.join(format!("kubectl.1.{minor}"))
            }
        };
        if !bin.exists() {
            bail!("{} not found: install kubectl 1.{minor} or set KUBECTL / KUBECTL_DIR", bin.display());
        }
        Ok(Self { bin, kubeconfig: kubeconfig.to_owned(), cache: tempfile::tempdir()? })
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(self.cache.path()).args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"))
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// Runs with `stdin` as input and asserts success.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        succeeded(args, child.wait_with_output().expect("kubectl output"))
    }

    /// Runs, asserts failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// Asserts a kubectl run succeeded (showing what it printed if not); returns its stdout.
fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The syncer's `/metrics`, from the address it printed.
pub async fn syncer_metrics(syncer: &Process) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let output = syncer.output();
    let address = output
        .lines()
        .find_map(|l| l.split("syncer metrics at http://").nth(1))
        .and_then(|rest| rest.split('/').next())
        .expect("the syncer prints its metrics address")
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").await.expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response");
    response
}
