//! What the benchmarks share: the server as a child process, clients for its spaces,
//! percentiles and memory readings.

use anyhow::Context;
use kube::api::{Api, PostParams};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Child9(pub Child);

impl Drop for Child9 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts this binary with `args`, its stderr into `log` (or nowhere), and returns it with
/// the JSON ready line it prints first on stdout.
pub fn spawn_ready(args: &[&std::ffi::OsStr], log: Option<&Path>) -> anyhow::Result<(Child9, Value)> {
    let exe = std::env::current_exe()?;
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Stdio::null(),
    };
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting orrery {args:?}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let child = Child9(child);
    let ready: Value = serde_json::from_str(&line).with_context(|| format!("orrery {args:?}: ready line {line:?}"))?;
    Ok((child, ready))
}

/// Starts `orrery server` (this binary) over plain HTTP on a free loopback port; returns
/// the process, its URL and its admin kubeconfig.
pub fn start_server(dir: &Path) -> anyhow::Result<(Child9, String, PathBuf)> {
    let args = ["server", "--listen", "127.0.0.1:0", "--insecure-http", "--data-dir"].map(std::ffi::OsStr::new);
    let (child, ready) = spawn_ready(&[&args[..], &[dir.as_os_str()]].concat(), None)?;
    let url = ready["url"].as_str().context("url")?.to_owned();
    let kubeconfig = ready["kubeconfig"].as_str().context("kubeconfig")?.into();
    Ok((child, url, kubeconfig))
}

/// A client for one space of the server an admin kubeconfig points at.
pub async fn client(kubeconfig: &Path, space: &str) -> anyhow::Result<kube::Client> {
    let text = std::fs::read_to_string(kubeconfig)?.replace("/clusters/root", &format!("/clusters/{space}"));
    let kc: kube::config::Kubeconfig = serde_saphyr::from_str(&text)?;
    Ok(orrery_spaces::client_for(kc).await?)
}

/// The `p` quantile (0..=1) of sorted samples, nearest rank; 0 for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// The most resident memory a process has had, in bytes.
pub fn peak_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
}

fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{field} of process {pid}"))
}

/// The size of the files under `dir`, in bytes.
pub fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_bytes(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

/// CPU time (user + system) this process has used, in seconds.
pub fn own_cpu_seconds() -> anyhow::Result<f64> {
    stat_cpu_seconds("/proc/self/stat")
}

/// CPU time (user + system) another process has used, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    stat_cpu_seconds(&format!("/proc/{pid}/stat"))
}

fn stat_cpu_seconds(path: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(path)?;
    // Fields after the command (which may hold spaces), which ends at the last ')'.
    let rest = stat.rsplit_once(')').with_context(|| path.to_owned())?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).context("utime/stime");
    // utime and stime, fields 14 and 15 of proc(5), in USER_HZ (100) ticks.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// `v` rounded to `digits` decimals, for reports.
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// A typed object from JSON.
pub fn typed<T: serde::de::DeserializeOwned>(v: Value) -> anyhow::Result<T> {
    Ok(serde_json::from_value(v)?)
}

/// Creates `objects` through `api` from `clients` concurrent tasks.
pub async fn create_all<K>(api: Api<K>, objects: Vec<Value>, clients: usize) -> anyhow::Result<()>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let objects = Arc::new(objects);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (api, objects, next) = (api.clone(), objects.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(v) = objects.get(i) else { return anyhow::Ok(()) };
                    let mut v = v.clone();
                    // The UIDs in the objects are for the pure measurement; servers assign their own.
                    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("uid");
                    }
                    api.create(&PostParams::default(), &typed(v)?).await?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}
