//! Losing the center never breaks the WEC: the center (a real `orrery server`, with the
//! controllers) is killed with SIGKILL for 30 seconds while the WEC — a second server —
//! keeps running with its syncer. Nothing is deleted during the outage; hand edits made in
//! the WEC meanwhile are reverted and status changes made meanwhile go up once the center
//! is back on the same address; WDS changes made after the restart arrive.

use kube::api::{Patch, PatchParams};
use orrery_e2e::objects::{api, configmaps, crds, create, get, namespaces, placements, until, widget_crd, widgets};
use orrery_e2e::{Process, Server, ServerOptions, ensure_location, mailbox_kubeconfig};
use serde_json::json;
use std::time::Duration;

/// How long the center stays down: the scenario's outage, not a synchronisation.
const OUTAGE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wec_keeps_running_while_the_center_is_down_and_converges_after() {
    let mut center = Server::start().expect("center");
    let wec_server = Server::start().expect("WEC");
    for s in ["imw1", "wds1"] {
        center.create_space(s).await.expect("space");
    }
    let kc = center.kubeconfig.to_string_lossy().into_owned();
    let controllers =
        || Process::spawn(&["controllers", "--kubeconfig", &kc, "--lease-duration", "2"]).expect("controllers");
    let mut first_controllers = controllers();
    let inv = center.client("imw1").await.expect("client");
    ensure_location(&inv, "edge1", &[("env", "prod")]).await.expect("inventory");
    let wds = center.client("wds1").await.expect("client");
    create(&wds, &namespaces(), json!({"metadata": {"name": "app"}})).await;
    create(&wds, &configmaps(), json!({"metadata": {"name": "cfg", "namespace": "app"}, "data": {"v": "1"}})).await;
    create(&wds, &crds(), widget_crd()).await;
    until("the Widget resource is served", || async {
        api(&wds, &widgets(), Some("app")).list(&Default::default()).await.is_ok()
    })
    .await;
    create(&wds, &widgets(), json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "app"}, "spec": {"size": 1}})).await;
    create(
        &wds,
        &placements(),
        json!({"metadata": {"name": "p"},
               "spec": {"locationSelectors": [{"matchLabels": {"env": "prod"}}],
                        "downsync": [{"apiGroup": "", "resources": ["configmaps"], "namespaces": ["app"]},
                                     {"apiGroup": "apiextensions.k8s.io", "resources": ["customresourcedefinitions"], "objectNames": ["widgets.example.com"]},
                                     {"apiGroup": "example.com", "resources": ["widgets"]}]}}),
    )
    .await;

    // The syncer, with the mailbox kubeconfig the mailbox controller left.
    let (mailbox_kc, mailbox) = mailbox_kubeconfig(&center, &inv, "edge1").await.expect("mailbox kubeconfig");
    let syncer = Process::spawn(&[
        "syncer",
        "--mailbox-kubeconfig",
        &mailbox_kc.to_string_lossy(),
        "--wec-kubeconfig",
        &wec_server.kubeconfig.to_string_lossy(),
        "--heartbeat-interval",
        "1",
    ])
    .expect("syncer");
    let _log = syncer.log_on_panic("orrery syncer");
    let wec = wec_server.client("root").await.expect("client");
    until("the workload runs in the WEC", || async {
        get(&wec, &configmaps(), Some("app"), "cfg").await.is_some()
            && get(&wec, &widgets(), Some("app"), "w1").await.is_some()
    })
    .await;

    // The center goes away.
    let address = center.address();
    let data_dir = center.data_dir.clone();
    first_controllers.kill();
    center.kill9();
    let hand = Patch::Merge(json!({"data": {"v": "hand"}}));
    api(&wec, &configmaps(), Some("app")).patch("cfg", &PatchParams::default(), &hand).await.expect("hand edit");
    let running = Patch::Merge(json!({"status": {"phase": "Running"}}));
    api(&wec, &widgets(), Some("app")).patch_status("w1", &PatchParams::default(), &running).await.expect("status");
    tokio::time::sleep(OUTAGE).await;
    assert!(
        get(&wec, &configmaps(), Some("app"), "cfg").await.is_some(),
        "nothing is deleted while the center is away"
    );
    assert!(get(&wec, &widgets(), Some("app"), "w1").await.is_some(), "nothing is deleted while the center is away");

    // It comes back on the same address, from the same data.
    let center =
        Server::start_with(ServerOptions { data_dir: Some(data_dir), listen: Some(address), ..Default::default() })
            .expect("the center restarts");
    let _controllers = controllers();
    let wds = center.client("wds1").await.expect("client");
    let mb = center.client(&mailbox).await.expect("client");
    until("the hand edit made during the outage is reverted", || async {
        get(&wec, &configmaps(), Some("app"), "cfg").await.is_some_and(|o| o.data["data"]["v"] == "1")
    })
    .await;
    until("the status changed during the outage goes up", || async {
        get(&mb, &widgets(), Some("app"), "w1").await.is_some_and(|o| o.data["status"]["phase"] == "Running")
    })
    .await;
    let edit = Patch::Merge(json!({"data": {"v": "2"}}));
    api(&wds, &configmaps(), Some("app")).patch("cfg", &PatchParams::default(), &edit).await.expect("WDS edit");
    until("a WDS change after the restart arrives", || async {
        get(&wec, &configmaps(), Some("app"), "cfg").await.is_some_and(|o| o.data["data"]["v"] == "2")
    })
    .await;
}
