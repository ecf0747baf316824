//! The store's log rewritten under load, and killed: a server whose log is compacted every
//! few dozen writes (`--compact-min-bytes` 8 KiB) is killed with `kill -9` while writers
//! overwrite a few ConfigMaps as fast as they can, and restarted on the same data directory,
//! round after round. Whatever a kill interrupts (a commit, a snapshot being written, the
//! switch to it), every ConfigMap holds its last acknowledged write, or the one write that
//! was in flight after it, and the log stays a fraction of what was written.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use orrery_e2e::{Server, ServerOptions, wait_for};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROUNDS: usize = 8;
const KEYS: usize = 8;
/// How many acknowledged overwrites a round waits for before the kill.
const ACKS_BEFORE_KILL: usize = 300;
/// Each write carries this much, so that the log outgrows the live state quickly.
const PAD: usize = 400;

/// A key's last acknowledged write: its index and resourceVersion.
type Acked = BTreeMap<usize, (u64, u64)>;

async fn start(dir: &Path) -> (Server, Api<ConfigMap>) {
    let options =
        ServerOptions { data_dir: Some(dir.to_owned()), compact_min_bytes: Some(8 << 10), ..Default::default() };
    let server = Server::start_with(options).expect("server");
    let api = Api::namespaced(server.client("root").await.expect("client"), "default");
    (server, api)
}

fn name(key: usize) -> String {
    format!("hot-{key}")
}

/// The write index and resourceVersion a ConfigMap holds.
fn held(cm: &ConfigMap) -> (u64, u64) {
    let index = cm.data.as_ref().and_then(|d| d.get("value")).and_then(|v| v.parse().ok()).expect("a numeric value");
    let rv = cm.metadata.resource_version.as_deref().and_then(|rv| rv.parse().ok()).expect("a numeric resourceVersion");
    (index, rv)
}

/// After a restart: each key holds its last acknowledged write or the next one (in flight at
/// the kill). Returns what each holds.
async fn check(api: &Api<ConfigMap>, acked: &Acked) -> Acked {
    let mut now = Acked::new();
    for (&key, &(index, rv)) in acked {
        let cm = api.get(&name(key)).await.unwrap_or_else(|e| panic!("{} after a restart: {e}", name(key)));
        let (got, got_rv) = held(&cm);
        assert!(got == index || got == index + 1, "{}: write {got} stored, {index} acknowledged last", name(key));
        if got == index {
            assert_eq!(got_rv, rv, "{}: the acknowledged write's resourceVersion changed", name(key));
        } else {
            assert!(got_rv > rv, "{}: the write in flight landed below the acknowledged one", name(key));
        }
        now.insert(key, (got, got_rv));
    }
    now
}

fn write(index: u64) -> serde_json::Value {
    json!({"data": {"value": index.to_string(), "pad": "x".repeat(PAD)}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrites_survive_kill9_while_the_log_is_rewritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let mut acked = Acked::new();
    let mut written = 0usize;
    for round in 0..ROUNDS {
        let (mut server, api) = start(&dir).await;
        acked = check(&api, &acked).await;
        if round == 0 {
            for key in 0..KEYS {
                let cm = serde_json::from_value(json!({"metadata": {"name": name(key)}, "data": write(0)["data"]}))
                    .expect("configmap");
                let created = api.create(&PostParams::default(), &cm).await.expect("create");
                acked.insert(key, held(&created));
            }
        }
        let latest = Arc::new(Mutex::new(acked.clone()));
        let (count, killed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let writers: Vec<_> = (0..KEYS)
            .map(|key| {
                let (api, latest, count, killed) = (api.clone(), latest.clone(), count.clone(), killed.clone());
                let from = acked[&key].0 + 1;
                tokio::spawn(async move {
                    for index in from.. {
                        let patch = Patch::Merge(write(index));
                        match api.patch(&name(key), &PatchParams::default(), &patch).await {
                            Ok(cm) => {
                                latest.lock().expect("latest").insert(key, held(&cm));
                                count.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => return (!killed.load(Ordering::SeqCst)).then(|| format!("{}: {e}", name(key))),
                        }
                    }
                    None
                })
            })
            .collect();
        wait_for(Duration::from_secs(30), || async {
            (count.load(Ordering::SeqCst) >= ACKS_BEFORE_KILL).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("round {round}: {ACKS_BEFORE_KILL} acknowledgements: {e}"));
        killed.store(true, Ordering::SeqCst);
        server.kill9();
        for writer in writers {
            match tokio::time::timeout(Duration::from_secs(10), writer).await {
                Ok(Ok(None)) => {}
                Ok(Ok(Some(error))) => panic!("round {round}: a write failed before the kill: {error}"),
                Ok(Err(e)) => panic!("round {round}: writer task: {e}"),
                Err(_) => panic!("round {round}: a writer was still busy 10 s after the kill"),
            }
        }
        written += count.load(Ordering::SeqCst) * PAD;
        acked = std::mem::take(&mut *latest.lock().expect("latest"));
        drop(server);
    }
    let (_server, api) = start(&dir).await;
    check(&api, &acked).await;
    let log = std::fs::metadata(dir.join("store.log")).expect("the store's log").len() as usize;
    assert!(log < written / 4, "the log ({log} bytes) was not rewritten: {written} bytes of writes acknowledged");
}
