//! The syncer, as a real `orrery syncer` process between a mailbox of a real center and an
//! embedded space playing the WEC: downsync (implicit namespaces, CRD before custom
//! resource, downsync-overwrite, drift repair, deletion of what it owns and only that, the
//! conflict policy), status return, heartbeats, and a mailbox token that opens only its
//! own mailbox.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use orrery_api::SyncTarget;
use orrery_e2e::objects::{api, configmaps, create, get, namespaces, resource, until, widget_crd, widgets};
use orrery_e2e::{Process, Server, ensure_location, mailbox_kubeconfig, syncer_metrics};
use serde_json::json;

const DOWNSYNCED: &str = "edge.kubestellar.io/downsynced";
const CONFLICT: &str = "edge.kubestellar.io/syncer-conflict";

fn annotation<'a>(o: &'a DynamicObject, key: &str) -> Option<&'a str> {
    o.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

/// A server with the spaces `imw1`, `wds1` and `wec1`, the controllers, and the Location
/// `edge1` (`env=prod`) with its mailbox: where the tests of one syncer start.
struct OneWec {
    server: Server,
    controllers: Process,
    mailbox_kc: std::path::PathBuf,
    mailbox: String,
}

impl OneWec {
    async fn start() -> Self {
        let server = Server::start().expect("server");
        for s in ["imw1", "wds1", "wec1"] {
            server.create_space(s).await.expect("space");
        }
        let kc = server.kubeconfig.to_string_lossy().into_owned();
        let controllers = Process::spawn(&["controllers", "--kubeconfig", &kc]).expect("controllers");
        let inv = server.client("imw1").await.expect("client");
        ensure_location(&inv, "edge1", &[("env", "prod")]).await.expect("inventory");
        let (mailbox_kc, mailbox) = mailbox_kubeconfig(&server, &inv, "edge1").await.expect("mailbox kubeconfig");
        Self { server, controllers, mailbox_kc, mailbox }
    }

    /// The syncer of `edge1`: its mailbox, and `wec1` as its WEC.
    fn syncer(&self) -> Process {
        Process::spawn(&[
            "syncer",
            "--mailbox-kubeconfig",
            &self.mailbox_kc.to_string_lossy(),
            "--wec-kubeconfig",
            &self.server.space_kubeconfig("wec1").expect("kubeconfig").to_string_lossy(),
        ])
        .expect("syncer")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_syncer_downsyncs_returns_status_and_reports_in() {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1", "wec1"] {
        server.create_space(s).await.expect("space");
    }
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let _controllers =
        Process::spawn(&["controllers", "--kubeconfig", &kc, "--heartbeat-timeout", "3"]).expect("controllers");
    let inv = server.client("imw1").await.expect("client");
    ensure_location(&inv, "edge1", &[("env", "prod")]).await.expect("inventory");
    let (mailbox_kc, mailbox) = mailbox_kubeconfig(&server, &inv, "edge1").await.expect("mailbox kubeconfig");
    let wec = server.client("wec1").await.expect("client");
    let wds = server.client("wds1").await.expect("client");

    // In the WEC before anything is placed: an object the syncer did not create.
    create(&wec, &namespaces(), json!({"metadata": {"name": "app"}})).await;
    create(&wec, &configmaps(), json!({"metadata": {"name": "theirs", "namespace": "app"}, "data": {"v": "wec"}}))
        .await;

    create(&wds, &namespaces(), json!({"metadata": {"name": "app"}})).await;
    create(&wds, &configmaps(), json!({"metadata": {"name": "cfg", "namespace": "app"}, "data": {"v": "1"}})).await;
    create(&wds, &configmaps(), json!({"metadata": {"name": "theirs", "namespace": "app"}, "data": {"v": "wds"}}))
        .await;
    create(
        &wds,
        &configmaps(),
        json!({"metadata": {"name": "once", "namespace": "app", "annotations": {"edge.kubestellar.io/downsync-overwrite": "false"}},
               "data": {"v": "1"}}),
    )
    .await;
    create(&wds, &orrery_e2e::objects::crds(), widget_crd()).await;
    until("the Widget resource is served in the WDS", || async {
        api(&wds, &widgets(), Some("app")).list(&ListParams::default()).await.is_ok()
    })
    .await;
    create(&wds, &widgets(), json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "app"}, "spec": {"size": 3}})).await;
    create(
        &wds,
        &resource("edge.kubestellar.io", "v2alpha1", "EdgePlacement", "edgeplacements"),
        json!({"metadata": {"name": "p"},
               "spec": {"locationSelectors": [{"matchLabels": {"env": "prod"}}],
                        "downsync": [{"apiGroup": "", "resources": ["configmaps"], "namespaces": ["app"]},
                                     {"apiGroup": "apiextensions.k8s.io", "resources": ["customresourcedefinitions"]},
                                     // (orrery's own CRDs, in every space, never travel)
                                     {"apiGroup": "example.com", "resources": ["widgets"]}]}}),
    )
    .await;

    let mut syncer = Process::spawn(&[
        "syncer",
        "--mailbox-kubeconfig",
        &mailbox_kc.to_string_lossy(),
        "--wec-kubeconfig",
        &server.space_kubeconfig("wec1").expect("kubeconfig").to_string_lossy(),
        "--heartbeat-interval",
        "0.5",
    ])
    .expect("syncer");
    let _log = syncer.log_on_panic("orrery syncer");

    // Downsync, marked; the custom resource after its CRD.
    until("the ConfigMap reaches the WEC, marked as downsynced", || async {
        get(&wec, &configmaps(), Some("app"), "cfg")
            .await
            .is_some_and(|o| o.data["data"]["v"] == "1" && annotation(&o, DOWNSYNCED) == Some("ConfigMap/app/cfg"))
    })
    .await;
    until("the custom resource reaches the WEC once its CRD is there", || async {
        get(&wec, &widgets(), Some("app"), "w1").await.is_some_and(|o| o.data["spec"]["size"] == 3)
    })
    .await;

    // Conflict policy: what the syncer did not create is left alone, and the center hears of it.
    let mb = server.client(&mailbox).await.expect("mailbox client");
    until("the mailbox copy records the conflict", || async {
        get(&mb, &configmaps(), Some("app"), "theirs").await.is_some_and(|o| annotation(&o, CONFLICT).is_some())
    })
    .await;
    let theirs = get(&wec, &configmaps(), Some("app"), "theirs").await.expect("theirs");
    assert_eq!(theirs.data["data"]["v"], "wec", "not overwritten");

    // WDS edits arrive; hand edits in the WEC are reverted; create-only objects are not updated.
    let edit = |v: &str| Patch::Merge(json!({"data": {"v": v}}));
    api(&wds, &configmaps(), Some("app")).patch("cfg", &PatchParams::default(), &edit("2")).await.expect("edit");
    until("the edit reaches the WEC", || async {
        get(&wec, &configmaps(), Some("app"), "cfg").await.is_some_and(|o| o.data["data"]["v"] == "2")
    })
    .await;
    api(&wec, &configmaps(), Some("app"))
        .patch("cfg", &PatchParams::default(), &edit("hand"))
        .await
        .expect("hand edit");
    until("the drift is repaired", || async {
        get(&wec, &configmaps(), Some("app"), "cfg").await.is_some_and(|o| o.data["data"]["v"] == "2")
    })
    .await;
    until("the create-only object exists", || async { get(&wec, &configmaps(), Some("app"), "once").await.is_some() })
        .await;
    api(&wds, &configmaps(), Some("app")).patch("once", &PatchParams::default(), &edit("2")).await.expect("edit once");
    until("the mailbox has the edit", || async {
        get(&mb, &configmaps(), Some("app"), "once").await.is_some_and(|o| o.data["data"]["v"] == "2")
    })
    .await;

    // Status return: the WEC's status goes to the mailbox copy.
    let status = Patch::Merge(json!({"status": {"phase": "Running"}}));
    api(&wec, &widgets(), Some("app")).patch_status("w1", &PatchParams::default(), &status).await.expect("WEC status");
    until("the status reaches the mailbox copy", || async {
        get(&mb, &widgets(), Some("app"), "w1").await.is_some_and(|o| o.data["status"]["phase"] == "Running")
    })
    .await;
    let once = get(&wec, &configmaps(), Some("app"), "once").await.expect("once");
    assert_eq!(once.data["data"]["v"], "1", "downsync-overwrite: false is never overwritten");

    // Deletion: what the syncer owns goes; what it does not own stays.
    api(&wds, &configmaps(), Some("app")).delete("cfg", &DeleteParams::default()).await.expect("delete");
    api(&wds, &configmaps(), Some("app")).delete("theirs", &DeleteParams::default()).await.expect("delete");
    until("the owned object leaves the WEC", || async { get(&wec, &configmaps(), Some("app"), "cfg").await.is_none() })
        .await;
    assert!(
        get(&wec, &configmaps(), Some("app"), "theirs").await.is_some(),
        "never delete what the syncer did not create"
    );

    // Its metrics say what it did.
    let scrape = syncer_metrics(&syncer).await;
    for family in ["orrery_syncer_objects_synced_total", "orrery_syncer_last_contact_timestamp_seconds"] {
        let value = scrape
            .lines()
            .find(|l| l.starts_with(family))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok());
        assert!(value.is_some_and(|v| v > 0.0), "{family} in\n{scrape}");
    }

    // Heartbeats: the SyncTarget shows the syncer, and says when it goes silent.
    let targets: Api<SyncTarget> = Api::all(inv.clone());
    let condition = |st: &SyncTarget| {
        st.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "HeartbeatHealthy")
            .map(|c| c.status.clone())
    };
    until("the SyncTarget shows a healthy heartbeat", || async {
        targets.get("edge1").await.ok().is_some_and(|st| {
            condition(&st).as_deref() == Some("True")
                && st.status.as_ref().is_some_and(|s| s.last_syncer_heartbeat_time.is_some())
        })
    })
    .await;
    syncer.kill();
    until("the SyncTarget says the syncer went silent", || async {
        targets.get("edge1").await.ok().is_some_and(|st| condition(&st).as_deref() == Some("False"))
    })
    .await;
    assert!(get(&wec, &widgets(), Some("app"), "w1").await.is_some(), "a silent syncer leaves the WEC as it is");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_token_opens_only_its_own_mailbox() {
    let server = Server::start().expect("server");
    server.create_space("imw1").await.expect("space");
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let _controllers = Process::spawn(&["controllers", "--kubeconfig", &kc]).expect("controllers");
    let inv = server.client("imw1").await.expect("client");
    for name in ["edge1", "edge2"] {
        ensure_location(&inv, name, &[]).await.expect("inventory");
    }
    let (kc1, mailbox1) = mailbox_kubeconfig(&server, &inv, "edge1").await.expect("mailbox kubeconfig");
    let (_, mailbox2) = mailbox_kubeconfig(&server, &inv, "edge2").await.expect("mailbox kubeconfig");
    let own = orrery_e2e::client_from(&kc1).await.expect("client");
    Api::<k8s_openapi::api::core::v1::Namespace>::all(own).list(&ListParams::default()).await.expect("its own mailbox");
    let text = std::fs::read_to_string(&kc1).expect("read").replace(&mailbox1, &mailbox2);
    let other = kc1.with_file_name("mailbox-crossed.kubeconfig");
    std::fs::write(&other, text).expect("write");
    let crossed = orrery_e2e::client_from(&other).await.expect("client");
    match Api::<k8s_openapi::api::core::v1::Namespace>::all(crossed).list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert!(s.code == 401 || s.code == 403, "{s:?}"),
        other => panic!("another mailbox must refuse the token, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsync_copies_wec_objects_into_the_mailbox() {
    let one = OneWec::start().await;
    let _log = one.controllers.log_on_panic("orrery controllers");
    let (server, mailbox) = (&one.server, &one.mailbox);
    let wds = server.client("wds1").await.expect("client");
    create(
        &wds,
        &orrery_e2e::objects::placements(),
        json!({"metadata": {"name": "reports"},
               "spec": {"locationSelectors": [{"matchLabels": {"env": "prod"}}],
                        "upsync": [{"apiGroup": "", "resources": ["configmaps"], "namespaces": ["reports"], "names": ["*"]}]}}),
    )
    .await;
    let syncer = one.syncer();
    let _slog = syncer.log_on_panic("orrery syncer");

    let wec = server.client("wec1").await.expect("client");
    let mb = server.client(mailbox).await.expect("mailbox client");
    create(&wec, &namespaces(), json!({"metadata": {"name": "reports"}})).await;
    create(&wec, &configmaps(), json!({"metadata": {"name": "r1", "namespace": "reports"}, "data": {"v": "1"}})).await;
    create(&wec, &configmaps(), json!({"metadata": {"name": "elsewhere", "namespace": "default"}, "data": {"v": "1"}}))
        .await;
    until("the report reaches the mailbox, marked as upsynced", || async {
        get(&mb, &configmaps(), Some("reports"), "r1").await.is_some_and(|o| {
            o.data["data"]["v"] == "1" && annotation(&o, "edge.kubestellar.io/upsynced") == Some("ConfigMap/reports/r1")
        })
    })
    .await;
    let edit = Patch::Merge(json!({"data": {"v": "2"}}));
    api(&wec, &configmaps(), Some("reports")).patch("r1", &PatchParams::default(), &edit).await.expect("edit");
    until("the update follows", || async {
        get(&mb, &configmaps(), Some("reports"), "r1").await.is_some_and(|o| o.data["data"]["v"] == "2")
    })
    .await;
    assert!(get(&mb, &configmaps(), Some("default"), "elsewhere").await.is_none(), "only what the upsync sets select");
    api(&wec, &configmaps(), Some("reports")).delete("r1", &DeleteParams::default()).await.expect("delete");
    until("the deletion follows", || async { get(&mb, &configmaps(), Some("reports"), "r1").await.is_none() }).await;
}

/// A placed Namespace is written to the WEC once, as placed, by the syncer, even when the
/// objects in it are reconciled first (before, they created it as an implicit namespace
/// and its own reconcile then applied the placed one over it: two writes, two managers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placed_namespace_is_created_once_as_placed() {
    let one = OneWec::start().await;
    let _log = one.controllers.log_on_panic("orrery controllers");
    let (server, mailbox) = (&one.server, &one.mailbox);
    let wds = server.client("wds1").await.expect("client");
    create(&wds, &namespaces(), json!({"metadata": {"name": "shop", "labels": {"team": "a"}}})).await;
    for i in 0..8 {
        create(
            &wds,
            &configmaps(),
            json!({"metadata": {"name": format!("c{i}"), "namespace": "shop"}, "data": {"v": "1"}}),
        )
        .await;
    }
    create(
        &wds,
        &orrery_e2e::objects::placements(),
        json!({"metadata": {"name": "shop"},
               "spec": {"locationSelectors": [{"matchLabels": {"env": "prod"}}],
                        "downsync": [{"apiGroup": "", "resources": ["namespaces"], "names": ["shop"]},
                                     {"apiGroup": "", "resources": ["configmaps"], "namespaces": ["shop"]}]}}),
    )
    .await;
    // Everything is in the mailbox before the syncer starts: its first lists find the
    // ConfigMaps and the Namespace together, in whatever order its watches list them.
    let mb = server.client(mailbox).await.expect("mailbox client");
    until("the copies are in the mailbox", || async {
        get(&mb, &namespaces(), None, "shop").await.is_some()
            && api(&mb, &configmaps(), Some("shop"))
                .list(&ListParams::default())
                .await
                .is_ok_and(|l| l.items.len() == 8)
    })
    .await;
    let syncer = one.syncer();
    let _slog = syncer.log_on_panic("orrery syncer");

    let wec = server.client("wec1").await.expect("client");
    until("the ConfigMaps reach the WEC", || async {
        api(&wec, &configmaps(), Some("shop")).list(&ListParams::default()).await.is_ok_and(|l| l.items.len() == 8)
    })
    .await;
    let ns = get(&wec, &namespaces(), None, "shop").await.expect("the namespace");
    assert_eq!(ns.metadata.labels.as_ref().and_then(|l| l.get("team")).map(String::as_str), Some("a"), "as placed");
    assert_eq!(annotation(&ns, DOWNSYNCED), Some("Namespace//shop"));
    let writers: Vec<(String, String)> = ns
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.manager.unwrap_or_default(), m.operation.unwrap_or_default()))
        .collect();
    assert_eq!(writers, [("orrery-syncer".to_owned(), "Update".to_owned())], "created once, by the syncer");
}
