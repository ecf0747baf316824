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

/// Starts `orrery server` (this binary) over plain HTTP on a free loopback port; returns
/// the process, its URL and its admin kubeconfig.
pub fn start_server(dir: &Path) -> anyhow::Result<(Child9, String, PathBuf)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["server", "--listen", "127.0.0.1:0", "--insecure-http", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting orrery server")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let ready: Value = serde_json::from_str(&line).with_context(|| format!("server ready line {line:?}"))?;
    let url = ready["url"].as_str().context("url")?.to_owned();
    let kubeconfig = ready["kubeconfig"].as_str().context("kubeconfig")?.into();
    Ok((Child9(child), url, kubeconfig))
}

/// A client for one space of the server an admin kubeconfig points at.
pub async fn client(kubeconfig: &Path, space: &str) -> anyhow::Result<kube::Client> {
    let text = std::fs::read_to_string(kubeconfig)?.replace("/clusters/root", &format!("/clusters/{space}"));
    let kc: kube::config::Kubeconfig = serde_saphyr::from_str(&text)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("VmRSS")?;
    Ok(kb * 1024)
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
