//! Attaching a cluster with `orrery prep-for-cluster`, and the CLI as a kubectl plugin.
//!
//! An embedded space stands in for the real cluster: the bundle is applied to it with
//! kubectl, and the syncer the bundle describes is run as a process with the bundle's
//! Secret (the mailbox kubeconfig) — in a cluster its Deployment would run it. Then
//! `kubectl orrery status`, through kubectl's plugin mechanism, shows the placement
//! reaching it.

use kube::api::{Api, ListParams};
use orrery_e2e::objects::{configmaps, create, get, namespaces, placements, until};
use orrery_e2e::{Kubectl, Process, Server, orrery_bin};
use serde_json::json;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_cluster_syncs_and_kubectl_orrery_shows_it() {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1", "cluster1"] {
        server.create_space(s).await.expect("space");
    }
    let admin = server.kubeconfig.to_string_lossy().into_owned();
    let controllers = Process::spawn(&["controllers", "--kubeconfig", &admin]).expect("controllers");
    let _log = controllers.log_on_panic("orrery controllers");
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("edge1.yaml");

    // Bad input changes nothing.
    let bad = Command::new(orrery_bin())
        .args(["prep-for-cluster", "edge1", "env", "--kubeconfig", &admin, "-o"])
        .arg(&bundle)
        .output()
        .expect("prep-for-cluster");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"env\" is not KEY=VALUE"), "{bad:?}");
    assert!(!bundle.exists());

    let out = Command::new(orrery_bin())
        .args(["prep-for-cluster", "edge1", "env=prod", "region=eu", "--kubeconfig", &admin])
        .args(["--syncer-image", "registry.example/orrery:test", "-o"])
        .arg(&bundle)
        .output()
        .expect("prep-for-cluster");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let inv = server.client("imw1").await.expect("client");
    let st = Api::<orrery_api::SyncTarget>::all(inv.clone()).get("edge1").await.expect("the SyncTarget");
    assert_eq!(st.metadata.labels.unwrap_or_default().get("region").map(String::as_str), Some("eu"));

    // The bundle, applied to the stand-in cluster.
    let cluster_kc = server.space_kubeconfig("cluster1").expect("kubeconfig");
    let kubectl = Kubectl::new(31, &cluster_kc).expect("kubectl");
    kubectl.ok(&["apply", "-f", &bundle.to_string_lossy()]);
    let cluster = server.client("cluster1").await.expect("client");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(cluster.clone(), "orrery-syncer-edge1");
    let d = deployments.get("orrery-syncer").await.expect("the syncer Deployment");
    let container = &d.spec.expect("spec").template.spec.expect("pod spec").containers[0];
    assert_eq!(container.image.as_deref(), Some("registry.example/orrery:test"));
    let secret: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(cluster.clone(), "orrery-syncer-edge1");
    let data = secret.get("orrery-mailbox").await.expect("the mailbox Secret").data.expect("data");
    let mailbox_kc = dir.path().join("mailbox.kubeconfig");
    std::fs::write(&mailbox_kc, &data["kubeconfig"].0).expect("write");

    // Its syncer, as the Deployment would run it.
    let syncer = Process::spawn(&[
        "syncer",
        "--mailbox-kubeconfig",
        &mailbox_kc.to_string_lossy(),
        "--wec-kubeconfig",
        &cluster_kc.to_string_lossy(),
    ])
    .expect("syncer");
    let _slog = syncer.log_on_panic("orrery syncer");
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
    until("the ConfigMap reaches the cluster", || async {
        get(&cluster, &configmaps(), Some("app"), "cfg").await.is_some()
    })
    .await;
    until("the SyncTarget shows the syncer's heartbeat", || async {
        Api::<orrery_api::SyncTarget>::all(inv.clone())
            .get("edge1")
            .await
            .is_ok_and(|st| st.status.is_some_and(|s| s.last_syncer_heartbeat_time.is_some()))
    })
    .await;

    // `orrery location list` and `kubectl orrery status`, the binary installed as a plugin.
    let list = Command::new(orrery_bin()).args(["location", "list", "--kubeconfig", &admin]).output().expect("list");
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("edge1") && list.contains("env=prod") && list.contains("(healthy)"), "{list}");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins");
    std::os::unix::fs::symlink(orrery_bin(), plugins.join("kubectl-orrery")).expect("plugin");
    let path = format!("{}:{}", plugins.display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new(&kubectl.bin)
        .args(["orrery", "status", "--kubeconfig", &admin])
        .env("PATH", path)
        .output()
        .expect("kubectl orrery");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}\n{}", String::from_utf8_lossy(&status.stderr));
    assert!(text.contains("EdgePlacement p (1 destination)"), "{text}");
    assert!(text.contains("edge1  heartbeat") && text.contains("configmaps app/cfg"), "{text}");

    // Deleting the location removes its mailbox; the syncer's cluster keeps what it has.
    let del = Command::new(orrery_bin())
        .args(["location", "delete", "edge1", "--kubeconfig", &admin])
        .output()
        .expect("delete");
    assert!(del.status.success(), "{del:?}");
    until("the SyncTarget is gone", || async {
        Api::<orrery_api::SyncTarget>::all(inv.clone())
            .list(&ListParams::default())
            .await
            .is_ok_and(|l| l.items.is_empty())
    })
    .await;
}
