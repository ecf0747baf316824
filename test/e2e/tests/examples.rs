//! `examples/scenario`, end to end on `orrery up` with two simulated WECs labelled as its
//! README says: customized content per WEC, the special workload on one WEC only, its
//! status returned (singleton) with executing-count, upsync from a WEC, and pruning when a
//! placement is deleted.

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use orrery_e2e::objects::{api, configmaps, create, get, namespaces, placements, resource, until, widgets};
use orrery_e2e::{Kubectl, Process, client_from, orrery_bin};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn deployments() -> kube::api::ApiResource {
    resource("apps", "v1", "Deployment", "deployments")
}

fn annotation(o: &DynamicObject, key: &str) -> Option<String> {
    o.metadata.annotations.as_ref()?.get(key).cloned()
}

/// A kubeconfig for `space` from the admin one (the admin's token opens every space).
fn space_kubeconfig(admin: &Path, dir: &Path, space: &str) -> PathBuf {
    let text = std::fs::read_to_string(admin)
        .expect("admin kubeconfig")
        .replace("/clusters/root", &format!("/clusters/{space}"));
    let path = dir.join(format!("{space}.kubeconfig"));
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_example_runs_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join(".orrery");
    let mut command = Command::new(orrery_bin());
    command
        // A short Lease: the restart below follows a kill, and waits for it to expire.
        .args(["up", "--listen", "127.0.0.1:0", "--sim-wecs", "2", "--sim-delay", "0.5", "--lease-duration", "2"])
        .args(["--sim-wec-labels", "env=prod,region=eu-west"])
        .args(["--sim-wec-labels", "env=prod,region=us-east,special=yes"])
        .arg("--data-dir")
        .arg(&data);
    let (mut up, _) = Process::ready(command).expect("orrery up");
    let _log = up.log_on_panic("orrery up");
    let kubeconfigs = data.join("kubeconfigs");
    let client = |space: &str| {
        let path = kubeconfigs.join(format!("{space}.kubeconfig"));
        async move { client_from(&path).await }
    };
    let (wds, wec1, wec2) =
        (client("wds1").await.expect("wds"), client("wec1").await.expect("wec1"), client("wec2").await.expect("wec2"));

    // kubectl apply of the whole directory; the Widget needs its CRD served first.
    let kubectl = Kubectl::new(31, &kubeconfigs.join("wds1.kubeconfig")).expect("kubectl");
    let scenario = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scenario"));
    until("kubectl applies the scenario", || async {
        kubectl.run(&["apply", "-f", &scenario.to_string_lossy()]).status.success()
    })
    .await;

    // The common workload, customized per WEC.
    for (wec, name, region) in [(&wec1, "wec1", "eu-west"), (&wec2, "wec2", "us-east")] {
        until(&format!("{name}'s greeting is expanded"), || async {
            get(wec, &configmaps(), Some("common"), "greeting")
                .await
                .is_some_and(|c| c.data["data"]["message"] == format!("Hello from {name} in {region}"))
        })
        .await;
        until(&format!("{name}'s web Deployment is customized"), || async {
            get(wec, &deployments(), Some("common"), "web").await.is_some_and(|d| {
                d.data["spec"]["replicas"] == 2
                    && d.metadata.labels.as_ref().and_then(|l| l.get("region")).map(String::as_str) == Some(region)
            })
        })
        .await;
        // The placed Namespace is the syncer's own, whether the Namespace object or one of
        // its objects arrived first (the syncer makes namespaces for the objects it applies).
        let ns = get(wec, &namespaces(), None, "common").await.expect("namespace common");
        assert_eq!(annotation(&ns, "edge.kubestellar.io/downsynced").as_deref(), Some("Namespace//common"), "{name}");
    }

    // The special workload: on wec2 only; its status comes back to the WDS.
    until("the Widget and special-app reach wec2", || async {
        get(&wec2, &widgets(), Some("special"), "gizmo").await.is_some()
            && get(&wec2, &deployments(), Some("special"), "special-app").await.is_some()
    })
    .await;
    assert!(get(&wec1, &deployments(), Some("special"), "special-app").await.is_none(), "not on wec1");
    until("special-app's simulated status comes back from wec2", || async {
        get(&wds, &deployments(), Some("special"), "special-app").await.is_some_and(|d| {
            d.data.pointer("/status/readyReplicas") == Some(&json!(3))
                && annotation(&d, "kubestellar.io/executing-count").as_deref() == Some("1")
                && annotation(&d, "orrery.io/singleton-status").as_deref() == Some("returned from wec2")
        })
    })
    .await;
    until("web runs in 2 WECs, with no status copied", || async {
        get(&wds, &deployments(), Some("common"), "web").await.is_some_and(|d| {
            annotation(&d, "kubestellar.io/executing-count").as_deref() == Some("2")
                && d.data.get("status").is_none_or(|s| s.get("readyReplicas").is_none())
        })
    })
    .await;

    // Upsync: a report made in wec1 appears in wec1's mailbox.
    create(&wec1, &namespaces(), json!({"metadata": {"name": "reports"}})).await;
    create(&wec1, &configmaps(), json!({"metadata": {"name": "daily", "namespace": "reports"}, "data": {"ok": "yes"}}))
        .await;
    let inv = client("imw1").await.expect("imw1");
    let uid = Api::<orrery_api::SyncTarget>::all(inv).get("wec1").await.expect("st").metadata.uid.expect("uid");
    let mailbox_kc =
        space_kubeconfig(&data.join("admin.kubeconfig"), dir.path(), &orrery_api::mailbox_space_name("imw1", &uid));
    let mailbox = client_from(&mailbox_kc).await.expect("mailbox");
    until("the report is upsynced into wec1's mailbox", || async {
        get(&mailbox, &configmaps(), Some("reports"), "daily")
            .await
            .is_some_and(|c| annotation(&c, "edge.kubestellar.io/upsynced").is_some() && c.data["data"]["ok"] == "yes")
    })
    .await;

    // Pruning: the special placement goes, and so does its workload.
    api(&wds, &placements(), None).delete("special", &DeleteParams::default()).await.expect("delete");
    until("special-app leaves wec2 and its status is cleared", || async {
        get(&wec2, &deployments(), Some("special"), "special-app").await.is_none()
            && get(&wds, &deployments(), Some("special"), "special-app").await.is_some_and(|d| {
                d.data.get("status").is_none_or(|s: &Value| s.get("readyReplicas").is_none())
                    && annotation(&d, "kubestellar.io/executing-count").as_deref() == Some("0")
            })
    })
    .await;
    assert!(get(&wec1, &configmaps(), Some("common"), "greeting").await.is_some(), "the common workload stays");

    // Stopped and started again on the same data directory (a new port): it resumes.
    drop(_log);
    up.kill();
    let mut command = Command::new(orrery_bin());
    command
        // (the killed run's Lease is taken over after --lease-duration)
        .args(["up", "--listen", "127.0.0.1:0", "--sim-wecs", "2", "--sim-delay", "0.5", "--lease-duration", "2"])
        .arg("--data-dir")
        .arg(&data);
    let (again, _) = Process::ready(command).expect("orrery up again");
    let _log = again.log_on_panic("orrery up (again)");
    let (wds, wec1) = (client("wds1").await.expect("wds"), client("wec1").await.expect("wec1"));
    assert!(get(&wds, &placements(), None, "common").await.is_some(), "the WDS kept its objects");
    api(&wds, &configmaps(), Some("common"))
        .patch("greeting", &PatchParams::default(), &Patch::Merge(json!({"data": {"message": "Hi from %(name)"}})))
        .await
        .expect("edit");
    until("the edit reaches wec1 through the resumed pipeline", || async {
        get(&wec1, &configmaps(), Some("common"), "greeting")
            .await
            .is_some_and(|c| c.data["data"]["message"] == "Hi from wec1")
    })
    .await;
}
