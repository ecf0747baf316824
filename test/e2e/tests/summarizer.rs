//! The status summarizer, end to end: real `orrery controllers` and three real `orrery
//! syncer` processes, each between its mailbox and an embedded space playing its WEC. The
//! test plays the clusters' controllers by writing the WEC objects' status.
//!
//! - one WEC: its status appears in the WDS object, with executing-count 1;
//! - three WECs: executing-count 3, no status copied, and why;
//! - a StatusCollector counting and summing ready replicas across the WECs, and one with
//!   an invalid expression reported in its status;
//! - the singleton placement moved to a Location that selects nothing: status reset.

use kube::ResourceExt;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use orrery_e2e::objects::{api, create, get, namespaces, placements, resource, until};
use orrery_e2e::{Process, Server, ensure_location, mailbox_kubeconfig};
use serde_json::{Value, json};

const EXECUTING_COUNT: &str = "kubestellar.io/executing-count";
const SINGLETON: &str = "orrery.io/singleton-status";

fn deployments() -> ApiResource {
    resource("apps", "v1", "Deployment", "deployments")
}

fn collectors() -> ApiResource {
    resource("edge.kubestellar.io", "v2alpha1", "StatusCollector", "statuscollectors")
}

fn combined_statuses() -> ApiResource {
    resource("edge.kubestellar.io", "v2alpha1", "CombinedStatus", "combinedstatuses")
}

fn annotation<'a>(o: &'a DynamicObject, key: &str) -> Option<&'a str> {
    o.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": "app"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
}

/// What a cluster's deployment controller would report.
async fn report(wec: &kube::Client, name: &str, ready: i64) {
    let status = json!({"status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": ready}});
    api(wec, &deployments(), Some("app"))
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("WEC status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_comes_back_singly_and_combined() {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1", "wec1", "wec2", "wec3"] {
        server.create_space(s).await.expect("space");
    }
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let controllers = Process::spawn(&["controllers", "--kubeconfig", &kc]).expect("controllers");
    let _log = controllers.log_on_panic("orrery controllers");
    let inv = server.client("imw1").await.expect("client");
    let mut syncers = Vec::new();
    let mut wecs = Vec::new();
    for (i, site) in ["1", "2", "3"].iter().enumerate() {
        let target = format!("edge{site}");
        ensure_location(&inv, &target, &[("env", "prod"), ("site", site)]).await.expect("inventory");
        let (mailbox_kc, _) = mailbox_kubeconfig(&server, &inv, &target).await.expect("mailbox kubeconfig");
        let wec = format!("wec{}", i + 1);
        syncers.push(
            Process::spawn(&[
                "syncer",
                "--mailbox-kubeconfig",
                &mailbox_kc.to_string_lossy(),
                "--wec-kubeconfig",
                &server.space_kubeconfig(&wec).expect("kubeconfig").to_string_lossy(),
            ])
            .expect("syncer"),
        );
        wecs.push(server.client(&wec).await.expect("client"));
    }
    let wds = server.client("wds1").await.expect("client");

    create(&wds, &namespaces(), json!({"metadata": {"name": "app"}})).await;
    create(&wds, &deployments(), deployment("solo")).await;
    create(&wds, &deployments(), deployment("fleet")).await;
    create(
        &wds,
        &collectors(),
        json!({"apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "StatusCollector", "metadata": {"name": "ready"},
               "spec": {"combinedFields": [{"name": "wecs", "type": "COUNT"},
                                           {"name": "ready", "type": "SUM", "subject": "returned.status.readyReplicas"}]}}),
    )
    .await;
    create(
        &wds,
        &collectors(),
        json!({"apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "StatusCollector", "metadata": {"name": "lagging"},
               "spec": {"filter": "returned.status.readyReplicas < obj.spec.replicas",
                        "select": [{"name": "wec", "def": "inventory.name"},
                                   {"name": "ready", "def": "returned.status.readyReplicas"}]}}),
    )
    .await;
    create(
        &wds,
        &collectors(),
        json!({"apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "StatusCollector", "metadata": {"name": "broken"},
               "spec": {"filter": "returned.status.(", "select": [{"name": "x", "def": "1"}]}}),
    )
    .await;
    create(
        &wds,
        &placements(),
        json!({"metadata": {"name": "one"},
               "spec": {"locationSelectors": [{"matchLabels": {"site": "1"}}], "wantSingletonReportedState": true,
                        "downsync": [{"apiGroup": "apps", "resources": ["deployments"], "namespaces": ["app"], "objectNames": ["solo"]}]}}),
    )
    .await;
    create(
        &wds,
        &placements(),
        json!({"metadata": {"name": "all"},
               "spec": {"locationSelectors": [{"matchLabels": {"env": "prod"}}], "wantSingletonReportedState": true,
                        "downsync": [{"apiGroup": "apps", "resources": ["deployments"], "namespaces": ["app"], "objectNames": ["fleet"],
                                      "statusCollectors": ["ready", "lagging", "broken"]}]}}),
    )
    .await;

    // An invalid collector says why in its status.
    until("the broken StatusCollector reports its error", || async {
        get(&wds, &collectors(), None, "broken").await.is_some_and(|c| {
            c.data.pointer("/status/errors/0").and_then(Value::as_str).is_some_and(|e| e.starts_with("filter: "))
        })
    })
    .await;

    // One WEC: its status comes back.
    until("solo reaches wec1", || async { get(&wecs[0], &deployments(), Some("app"), "solo").await.is_some() }).await;
    report(&wecs[0], "solo", 2).await;
    until("solo's status is wec1's", || async {
        get(&wds, &deployments(), Some("app"), "solo").await.is_some_and(|d| {
            d.data.pointer("/status/readyReplicas") == Some(&json!(2))
                && annotation(&d, EXECUTING_COUNT) == Some("1")
                && annotation(&d, SINGLETON) == Some("returned from edge1")
        })
    })
    .await;
    report(&wecs[0], "solo", 3).await;
    until("solo's status follows wec1's", || async {
        get(&wds, &deployments(), Some("app"), "solo")
            .await
            .is_some_and(|d| d.data.pointer("/status/readyReplicas") == Some(&json!(3)))
    })
    .await;

    // Three WECs: counted, not copied; combined by the collectors.
    for (i, wec) in wecs.iter().enumerate() {
        until("fleet reaches every WEC", || async { get(wec, &deployments(), Some("app"), "fleet").await.is_some() })
            .await;
        report(wec, "fleet", i as i64 + 1).await;
    }
    let fleet = get(&wds, &deployments(), Some("app"), "fleet").await.expect("fleet");
    let all = get(&wds, &placements(), None, "all").await.expect("placement");
    let cs_name = format!("{}.{}", fleet.metadata.uid.clone().expect("uid"), all.metadata.uid.clone().expect("uid"));
    until("fleet runs in 3 WECs and its status is not copied", || async {
        get(&wds, &deployments(), Some("app"), "fleet").await.is_some_and(|d| {
            annotation(&d, EXECUTING_COUNT) == Some("3")
                && annotation(&d, SINGLETON).is_some_and(|n| n.starts_with("not returned: 3 qualified WECs"))
                && d.data.get("status").is_none_or(|s| s.get("readyReplicas").is_none())
        })
    })
    .await;
    let table = |cs: &DynamicObject, name: &str| -> Option<Value> {
        let results = cs.data.get("results")?.as_array()?;
        let r = results.iter().find(|r| r["name"] == name)?;
        let rows: Vec<Vec<Value>> = r["rows"]
            .as_array()?
            .iter()
            .map(|row| {
                row["columns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c.get("float").or(c.get("string")).cloned().unwrap_or_default())
                    .collect()
            })
            .collect();
        Some(json!({"columns": r["columnNames"], "rows": rows}))
    };
    until("the CombinedStatus counts 3 WECs and 6 ready replicas, and lists the lagging ones", || async {
        let Some(cs) = get(&wds, &combined_statuses(), Some("app"), &cs_name).await else { return false };
        table(&cs, "ready") == Some(json!({"columns": ["wecs", "ready"], "rows": [["3", "6"]]}))
            && table(&cs, "lagging")
                == Some(json!({"columns": ["wec", "ready"], "rows": [["edge1", "1"], ["edge2", "2"]]}))
            && table(&cs, "broken").is_none()
            && cs.labels().get("status.kubestellar.io/name").map(String::as_str) == Some("fleet")
            && cs.labels().get("status.kubestellar.io/binding-policy").map(String::as_str) == Some("all")
    })
    .await;
    // One WEC's change updates the summary.
    report(&wecs[2], "fleet", 0).await;
    until("the summary follows wec3", || async {
        let Some(cs) = get(&wds, &combined_statuses(), Some("app"), &cs_name).await else { return false };
        table(&cs, "ready") == Some(json!({"columns": ["wecs", "ready"], "rows": [["3", "3"]]}))
            && table(&cs, "lagging").is_some_and(|t| t["rows"].as_array().is_some_and(|r| r.len() == 3))
    })
    .await;

    // The singleton placement moved to a Location that selects nothing: status reset.
    api(&wds, &placements(), None)
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"locationSelectors": [{"matchLabels": {"site": "nowhere"}}]}})),
        )
        .await
        .expect("move the placement");
    until("solo's status is cleared", || async {
        get(&wds, &deployments(), Some("app"), "solo").await.is_some_and(|d| {
            d.data.get("status").is_none_or(|s| s.get("readyReplicas").is_none())
                && annotation(&d, EXECUTING_COUNT) == Some("0")
                && annotation(&d, SINGLETON).is_none()
        })
    })
    .await;
    // The annotations stay at the center: the WEC's copy never carries them.
    let in_wec = get(&wecs[1], &deployments(), Some("app"), "fleet").await.expect("fleet in wec2");
    assert_eq!(annotation(&in_wec, EXECUTING_COUNT), None);
    assert_eq!(annotation(&in_wec, SINGLETON), None);
    drop(syncers);
}
