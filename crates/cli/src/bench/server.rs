//! `orrery bench server`. The server runs as a child process (this same binary, `orrery
//! server`), so its memory is measured alone; the load comes from this process over
//! loopback. Every figure is printed as JSON on stdout and as a table on stderr.

use super::common::{client, percentile, rss_bytes, start_server};
use anyhow::bail;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use orrery_spaceserver::store::{EmbeddedStore, EmbeddedStoreConfig, Key, Precondition, Store, Write};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Creates per client in the create measurements.
    #[arg(long, default_value_t = 2000)]
    creates: usize,
    /// Concurrent clients in the concurrent-create measurement.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Objects in the list-latency measurement.
    #[arg(long, default_value_t = 10_000)]
    list_objects: usize,
    /// Watchers in the fan-out measurement.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Events each watcher must receive in the fan-out measurement.
    #[arg(long, default_value_t = 50)]
    fanout_events: usize,
    /// Spaces in the memory measurement.
    #[arg(long, default_value_t = 1000)]
    spaces: usize,
    /// Objects (in all) spread over those spaces.
    #[arg(long, default_value_t = 100_000)]
    memory_objects: usize,
}

fn cm(name: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.to_owned());
    c.data = Some([("key".to_owned(), "value".repeat(20))].into());
    c
}

/// Creates `per_client` configmaps from each of `clients` tasks; returns creates/s.
async fn create_rate(api: &Api<ConfigMap>, clients: usize, per_client: usize, prefix: &str) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let api = api.clone();
        let prefix = prefix.to_owned();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_client {
                api.create(&PostParams::default(), &cm(&format!("{prefix}-{c}-{i}"))).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((clients * per_client) as f64 / start.elapsed().as_secs_f64())
}

async fn raw_commit_rate(writers: usize, per_writer: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path().join("raw.log")))?);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let name = format!("w{w}-{i}");
                let value = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"key": "value".repeat(20)}});
                store.write(Write { key: Key::new("core/configmaps", "bench", "default", &name), value: Some(serde_json::to_vec(&value)?.into()), precondition: Precondition::Absent }).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((writers * per_writer) as f64 / start.elapsed().as_secs_f64())
}

async fn fanout(kubeconfig: &std::path::Path, watchers: usize, events: usize) -> anyhow::Result<(f64, f64)> {
    let c = client(kubeconfig, "root").await?;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "fanout");
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
    let mut n = k8s_openapi::api::core::v1::Namespace::default();
    n.metadata.name = Some("fanout".into());
    ns.create(&PostParams::default(), &n).await?;
    let rv = api.list(&ListParams::default()).await?.metadata.resource_version.unwrap_or_default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let mut handles = Vec::new();
    for _ in 0..watchers {
        // One client (and so one connection) per watcher, as separate syncers would have.
        let api: Api<ConfigMap> = Api::namespaced(client(kubeconfig, "root").await?, "fanout");
        let tx = tx.clone();
        let rv = rv.clone();
        handles.push(tokio::spawn(async move {
            let mut stream = api.watch(&WatchParams::default().timeout(290), &rv).await?.boxed();
            while let Some(ev) = stream.next().await {
                if let WatchEvent::Added(o) = ev? {
                    let _ = tx.send((o.metadata.name.unwrap_or_default(), Instant::now()));
                }
            }
            anyhow::Ok(())
        }));
    }
    drop(tx);
    // Event 0 is a barrier, not measured: every watcher has it once its watch is up (they
    // all resume from the same resourceVersion), so timing starts with every watch live.
    let mut latencies = Vec::with_capacity(watchers * events);
    for i in 0..=events {
        let name = format!("ev-{i}");
        let sent = Instant::now();
        api.create(&PostParams::default(), &cm(&name)).await?;
        let mut got = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while got < watchers {
            let Ok(Some((n, at))) =
                tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), rx.recv()).await
            else {
                bail!("fan-out: only {got} of {watchers} watchers received {name} within 30s");
            };
            if n == name {
                got += 1;
                if i > 0 {
                    latencies.push(at.duration_since(sent).as_secs_f64() * 1000.0);
                }
            }
        }
    }
    for h in handles {
        h.abort();
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok((percentile(&latencies, 0.5), percentile(&latencies, 0.99)))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, url, kubeconfig) = start_server(&dir.path().join("data"))?;
    let pid = server.0.id();
    let c = client(&kubeconfig, "root").await?;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");

    eprintln!("measuring creates with 1 client…");
    let creates_1 = create_rate(&api, 1, args.creates, "one").await?;
    eprintln!("measuring creates with {} clients…", args.clients);
    let creates_n =
        create_rate(&api, args.clients, args.creates.max(args.clients) / args.clients.max(1) * 4, "many").await?;
    eprintln!("measuring gets…");
    let start = Instant::now();
    let gets = args.creates;
    for i in 0..gets {
        api.get(&format!("one-0-{}", i % args.creates)).await?;
    }
    let gets_per_s = gets as f64 / start.elapsed().as_secs_f64();

    eprintln!("measuring list latency at {} objects…", args.list_objects);
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
    let mut n = k8s_openapi::api::core::v1::Namespace::default();
    n.metadata.name = Some("listing".into());
    ns.create(&PostParams::default(), &n).await?;
    let listing: Api<ConfigMap> = Api::namespaced(c.clone(), "listing");
    create_rate(&listing, args.clients, args.list_objects / args.clients.max(1), "l").await?;
    let mut list_ms = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let items = listing.list(&ListParams::default()).await?.items.len();
        list_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(items >= args.list_objects / args.clients.max(1) * args.clients, "list returned {items}");
    }
    list_ms.sort_by(|a, b| a.total_cmp(b));

    eprintln!("measuring watch fan-out to {} watchers…", args.watchers);
    let (fanout_p50, fanout_p99) = fanout(&kubeconfig, args.watchers, args.fanout_events).await?;

    eprintln!("measuring memory with {} objects in {} spaces…", args.memory_objects, args.spaces);
    let spaces_api: Api<kube::api::DynamicObject> = Api::all_with(c.clone(), &orrery_api::space::api_resource());
    let per_space = args.memory_objects / args.spaces.max(1);
    let mut tasks = Vec::new();
    let chunk = args.spaces.div_ceil(args.clients.max(1));
    for start_space in (0..args.spaces).step_by(chunk.max(1)) {
        let spaces_api = spaces_api.clone();
        let kubeconfig = kubeconfig.clone();
        let end = (start_space + chunk).min(args.spaces);
        tasks.push(tokio::spawn(async move {
            for s in start_space..end {
                let name = format!("mem-{s}");
                let mut obj = kube::api::DynamicObject::new(&name, &orrery_api::space::api_resource());
                obj.data = json!({});
                spaces_api.create(&PostParams::default(), &obj).await?;
                let api: Api<ConfigMap> = Api::namespaced(client(&kubeconfig, &name).await?, "default");
                for i in 0..per_space {
                    api.create(&PostParams::default(), &cm(&format!("m{i}"))).await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rss = rss_bytes(pid)?;

    eprintln!("measuring the raw commit rate of the store…");
    let raw_1 = raw_commit_rate(1, args.creates).await?;
    let raw_n = raw_commit_rate(args.clients, args.creates.max(args.clients) / args.clients.max(1) * 4).await?;

    let report = json!({
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "os": std::env::consts::OS},
        "server": url,
        "durable_creates_per_s": {"1_client": creates_1.round(), format!("{}_clients", args.clients): creates_n.round()},
        "gets_per_s": gets_per_s.round(),
        "list_latency_ms": {"objects": args.list_objects, "p50": percentile(&list_ms, 0.5), "max": list_ms.last().copied().unwrap_or_default()},
        "watch_fanout_ms": {"watchers": args.watchers, "events": args.fanout_events, "p50": fanout_p50, "p99": fanout_p99},
        "memory": {"spaces": args.spaces, "objects": per_space * args.spaces, "server_rss_mib": (rss as f64 / 1048576.0).round()},
        "store_raw_commits_per_s": {"1_writer": raw_1.round(), format!("{}_writers", args.clients): raw_n.round()},
        "server_to_store_ratio": {format!("{}_clients", args.clients): ((creates_n / raw_n) * 100.0).round() / 100.0},
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("\n{:<38} {:>14}", "measure", "value");
    eprintln!("{:<38} {:>14.0}", "durable creates/s, 1 client", creates_1);
    eprintln!("{:<38} {:>14.0}", format!("durable creates/s, {} clients", args.clients), creates_n);
    eprintln!("{:<38} {:>14.0}", "gets/s, 1 client", gets_per_s);
    eprintln!("{:<38} {:>14.1}", format!("list p50 ms, {} objects", args.list_objects), percentile(&list_ms, 0.5));
    eprintln!("{:<38} {:>14.1}", format!("watch fan-out p99 ms, {} watchers", args.watchers), fanout_p99);
    eprintln!(
        "{:<38} {:>14.0}",
        format!("server RSS MiB, {} objects", per_space * args.spaces),
        rss as f64 / 1048576.0
    );
    eprintln!("{:<38} {:>14.0}", format!("raw store commits/s, {} writers", args.clients), raw_n);
    drop(server);
    Ok(())
}
