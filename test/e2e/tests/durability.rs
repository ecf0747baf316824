//! Durability under `kill -9`: rounds of many concurrent writers against a server on one
//! data directory, killed while writes are in flight and restarted on the same directory.
//! Every acknowledged write must survive with its data and its resourceVersion, nothing
//! unacknowledged may appear beyond the one write each writer had in flight, and
//! resourceVersions keep growing across restarts.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use orrery_e2e::{Server, ServerOptions, wait_for};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 20;
const WRITERS: usize = 16;
/// How many acknowledged creates a round waits for before the kill.
const ACKS_BEFORE_KILL: usize = 50;
/// A bound on each writer, should the kill never come.
const MAX_PER_WRITER: usize = 2_000;

/// One acknowledged create.
#[derive(Clone, Debug)]
struct Ack {
    name: String,
    value: String,
    rv: u64,
}

fn configmap(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"value": value}})).expect("configmap")
}

fn rv_of(cm: &ConfigMap) -> u64 {
    cm.metadata.resource_version.as_deref().and_then(|rv| rv.parse().ok()).expect("a numeric resourceVersion")
}

async fn start(dir: &Path) -> (Server, Api<ConfigMap>) {
    let server =
        Server::start_with(ServerOptions { data_dir: Some(dir.to_owned()), ..Default::default() }).expect("server");
    let api = Api::namespaced(server.client("root").await.expect("client"), "default");
    (server, api)
}

/// Checks the store after a restart against every acknowledged write so far. Returns the
/// list's resourceVersion, and the writes that were in flight at the kill and made it (from
/// then on they must stay like any acknowledged write).
async fn verify(
    api: &Api<ConfigMap>,
    acked: &BTreeMap<String, Ack>,
    in_flight: &BTreeSet<String>,
    max_rv: u64,
) -> (u64, Vec<Ack>) {
    let list = api.list(&ListParams::default()).await.expect("list after restart");
    let list_rv: u64 = list.metadata.resource_version.as_deref().and_then(|rv| rv.parse().ok()).expect("list rv");
    assert!(list_rv >= max_rv, "the list resourceVersion {list_rv} is behind the newest acknowledged {max_rv}");
    let stored: BTreeMap<String, ConfigMap> =
        list.items.into_iter().map(|c| (c.metadata.name.clone().unwrap_or_default(), c)).collect();
    let mut lost = Vec::new();
    for (name, ack) in acked {
        match stored.get(name) {
            None => lost.push(name.clone()),
            Some(cm) => {
                let value = cm.data.as_ref().and_then(|d| d.get("value")).cloned().unwrap_or_default();
                assert_eq!((value.as_str(), rv_of(cm)), (ack.value.as_str(), ack.rv), "{name} changed across a kill");
            }
        }
    }
    assert!(lost.is_empty(), "{} acknowledged writes were lost: {:?}", lost.len(), &lost[..lost.len().min(20)]);
    let phantoms: Vec<&String> = stored.keys().filter(|n| !acked.contains_key(*n) && !in_flight.contains(*n)).collect();
    assert!(phantoms.is_empty(), "objects nobody wrote (or beyond what was in flight): {phantoms:?}");
    let landed = in_flight
        .iter()
        .filter_map(|name| {
            let cm = stored.get(name)?;
            let value = cm.data.as_ref().and_then(|d| d.get("value")).cloned().unwrap_or_default();
            Some(Ack { name: name.clone(), value, rv: rv_of(cm) })
        })
        .collect();
    (list_rv, landed)
}

/// Writers creating ConfigMaps as fast as they can until the server goes away.
fn spawn_writers(
    api: &Api<ConfigMap>,
    round: usize,
    acks: &Arc<Mutex<Vec<Ack>>>,
    killed: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Option<String>>> {
    (0..WRITERS)
        .map(|w| {
            let (api, acks, killed) = (api.clone(), acks.clone(), killed.clone());
            tokio::spawn(async move {
                for i in 0..MAX_PER_WRITER {
                    let name = format!("r{round}-w{w}-{i}");
                    let value = format!("round {round} writer {w} write {i}");
                    match api.create(&PostParams::default(), &configmap(&name, &value)).await {
                        Ok(cm) => acks.lock().expect("acks").push(Ack { name, value, rv: rv_of(&cm) }),
                        // A failure before the kill is a bug; after it, the end of this writer.
                        Err(e) => return (!killed.load(Ordering::SeqCst)).then(|| format!("{name}: {e}")),
                    }
                }
                None
            })
        })
        .collect()
}

/// The name each writer of a round may have had in flight at the kill: its next index.
fn in_flight_names(round: usize, acks: &[Ack]) -> BTreeSet<String> {
    let mut per_writer = [0usize; WRITERS];
    for a in acks {
        let w = a.name.split('-').nth(1).and_then(|w| w.strip_prefix('w')).and_then(|w| w.parse::<usize>().ok());
        per_writer[w.expect("writer index")] += 1;
    }
    per_writer.iter().enumerate().map(|(w, n)| format!("r{round}-w{w}-{n}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill9_and_revisions_keep_growing() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let mut acked: BTreeMap<String, Ack> = BTreeMap::new();
    let mut in_flight: BTreeSet<String> = BTreeSet::new();
    let mut max_rv = 0u64;
    let mut landed_unacknowledged = 0usize;
    for round in 0..ROUNDS {
        let (mut server, api) = start(&dir).await;
        let (list_rv, landed) = verify(&api, &acked, &in_flight, max_rv).await;
        max_rv = max_rv.max(list_rv);
        landed_unacknowledged += landed.len();
        for a in landed {
            max_rv = max_rv.max(a.rv);
            acked.insert(a.name.clone(), a);
        }
        // The first write after a restart gets a resourceVersion above all seen before.
        let probe = format!("probe-{round}");
        let created = api.create(&PostParams::default(), &configmap(&probe, "probe")).await.expect("probe write");
        let rv = rv_of(&created);
        assert!(rv > max_rv, "round {round}: a new write got resourceVersion {rv}, not above {max_rv}");
        acked.insert(probe.clone(), Ack { name: probe, value: "probe".into(), rv });
        max_rv = rv;

        let acks = Arc::new(Mutex::new(Vec::new()));
        let killed = Arc::new(AtomicBool::new(false));
        let writers = spawn_writers(&api, round, &acks, &killed);
        wait_for(Duration::from_secs(20), || async {
            (acks.lock().expect("acks").len() >= ACKS_BEFORE_KILL).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("round {round}: {ACKS_BEFORE_KILL} acknowledgements: {e}"));
        killed.store(true, Ordering::SeqCst);
        server.kill9();
        for writer in writers {
            let abort = writer.abort_handle();
            match tokio::time::timeout(Duration::from_secs(10), writer).await {
                Ok(result) => {
                    if let Some(error) = result.expect("writer task") {
                        panic!("round {round}: a write failed before the kill: {error}");
                    }
                }
                Err(_) => {
                    abort.abort();
                    panic!("round {round}: a writer was still busy 10s after the kill");
                }
            }
        }
        let acks = std::mem::take(&mut *acks.lock().expect("acks"));
        let mut rvs: Vec<u64> = acks.iter().map(|a| a.rv).collect();
        rvs.sort_unstable();
        rvs.dedup();
        assert_eq!(rvs.len(), acks.len(), "round {round}: two creates were acknowledged with one resourceVersion");
        assert!(rvs.first().is_none_or(|&first| first > rv), "round {round}: writes went below the probe's {rv}");
        in_flight = in_flight_names(round, &acks);
        for a in acks {
            max_rv = max_rv.max(a.rv);
            acked.insert(a.name.clone(), a);
        }
        drop(server);
    }
    let (_server, api) = start(&dir).await;
    let (list_rv, landed) = verify(&api, &acked, &in_flight, max_rv).await;
    max_rv = max_rv.max(list_rv);
    landed_unacknowledged += landed.len();
    for a in landed {
        max_rv = max_rv.max(a.rv);
        acked.insert(a.name.clone(), a);
    }
    let probe = api.create(&PostParams::default(), &configmap("probe-final", "probe")).await.expect("final write");
    assert!(rv_of(&probe) > max_rv, "the final write's resourceVersion is above all seen before");
    assert!(acked.len() >= ROUNDS * ACKS_BEFORE_KILL, "{} acknowledged writes", acked.len());
    eprintln!(
        "{ROUNDS} kills: {} writes acknowledged and kept, {landed_unacknowledged} unacknowledged in-flight writes landed, newest resourceVersion {max_rv}, {:?}",
        acked.len(),
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
