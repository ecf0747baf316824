//! The scheduler controller against a real space server: two WDSes, an inventory of three
//! targets; placements created, edited and deleted, and the slices follow.

use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use orrery_api::{EdgePlacement, Location, SinglePlacementSlice, SyncTarget};
use orrery_runtime::{Metrics, Shutdown};
use orrery_scheduler::SchedulerController;
use orrery_spaces::{EmbeddedProvider, SpaceProvider};
use orrery_spaceserver::server::{ServerConfig, start};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("object literal")
}

/// The sync-target names a slice reaches, sorted.
async fn reached(slices: &Api<SinglePlacementSlice>, name: &str) -> Option<Vec<String>> {
    let sps = slices.get_opt(name).await.ok().flatten()?;
    let mut names: Vec<String> = sps.spec.destinations.iter().map(|d| d.sync_target_name.clone()).collect();
    names.sort();
    Some(names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slices_follow_placements_and_inventory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(ServerConfig::loopback_for_tests(dir.path().join("data"))).await.expect("server");
    let provider: Arc<dyn SpaceProvider> = Arc::new(
        EmbeddedProvider::new(Kubeconfig::read_from(&server.admin_kubeconfig).expect("kc")).await.expect("provider"),
    );
    for s in ["imw1", "wds1", "wds2"] {
        provider.create(s, &Default::default()).await.expect("space");
    }
    let inv = provider.client("imw1").await.expect("client");
    let targets: Api<SyncTarget> = Api::all(inv.clone());
    let locations: Api<Location> = Api::all(inv);
    // KubeStellar's `ensure location`: a SyncTarget and a Location per cluster, same labels.
    for (name, env) in [("florin", "prod"), ("guilder", "prod"), ("kiev", "dev")] {
        let labels = json!({"id": name, "env": env});
        targets
            .create(&PostParams::default(), &obj(json!({"metadata": {"name": name, "labels": labels}, "spec": {}})))
            .await
            .expect("st");
        locations
            .create(
                &PostParams::default(),
                &obj(json!({"metadata": {"name": name, "labels": labels},
                            "spec": {"resource": {"group": "edge.kubestellar.io", "version": "v2alpha1", "resource": "synctargets"},
                                     "instanceSelector": {"matchLabels": {"id": name}}}})),
            )
            .await
            .expect("location");
    }

    let shutdown = Shutdown::new();
    let running = tokio::spawn(SchedulerController::new(provider.clone(), &Metrics::new()).run(shutdown.clone(), 2));

    let wds1 = provider.client("wds1").await.expect("client");
    let wds2 = provider.client("wds2").await.expect("client");
    let (eps1, sps1): (Api<EdgePlacement>, Api<SinglePlacementSlice>) = (Api::all(wds1.clone()), Api::all(wds1));
    let (eps2, sps2): (Api<EdgePlacement>, Api<SinglePlacementSlice>) = (Api::all(wds2.clone()), Api::all(wds2));
    let placement = |env: &str| {
        obj::<EdgePlacement>(
            json!({"metadata": {"name": "p"}, "spec": {"locationSelectors": [{"matchLabels": {"env": env}}]}}),
        )
    };
    eps1.create(&PostParams::default(), &placement("prod")).await.expect("ep1");
    eps2.create(&PostParams::default(), &placement("dev")).await.expect("ep2");
    until("wds1's slice reaches the prod clusters", || async {
        reached(&sps1, "p").await == Some(vec!["florin".into(), "guilder".into()])
    })
    .await;
    until("wds2's slice reaches the dev cluster", || async { reached(&sps2, "p").await == Some(vec!["kiev".into()]) })
        .await;
    let status = eps1.get("p").await.expect("ep").status.map(|s| s.matching_location_count);
    assert_eq!(status, Some(2));
    let sps = sps1.get("p").await.expect("slice");
    assert_eq!(sps.metadata.owner_references.unwrap_or_default()[0].kind, "EdgePlacement");
    assert_eq!(sps.spec.destinations[0].cluster, "imw1");

    // Editing the selectors moves the destinations.
    let pp = PatchParams::default();
    eps1.patch("p", &pp, &Patch::Merge(json!({"spec": {"locationSelectors": [{"matchLabels": {"id": "kiev"}}, {"matchLabels": {"id": "florin"}}]}})))
        .await
        .expect("edit");
    until("the edit is followed", || async { reached(&sps1, "p").await == Some(vec!["florin".into(), "kiev".into()]) })
        .await;

    // A label change on a target (here: its Location's) reaches the placements that see it.
    locations
        .patch("guilder", &pp, &Patch::Merge(json!({"metadata": {"labels": {"env": "dev"}}})))
        .await
        .expect("relabel");
    until("wds2 gains guilder", || async { reached(&sps2, "p").await == Some(vec!["guilder".into(), "kiev".into()]) })
        .await;

    // A SyncTarget that goes away leaves every slice.
    targets.delete("kiev", &DeleteParams::default()).await.expect("delete st");
    until("kiev leaves wds1", || async { reached(&sps1, "p").await == Some(vec!["florin".into()]) }).await;
    until("kiev leaves wds2", || async { reached(&sps2, "p").await == Some(vec!["guilder".into()]) }).await;

    // An invalid placement is reported and its slice left as it was.
    let raw = json!({"spec": {"locationSelectors": [{"matchExpressions": [{"key": "env", "operator": "Like", "values": ["x"]}]}]}});
    match eps1.patch("p", &pp, &Patch::Merge(raw)).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 422, "the space server refuses an invalid EdgePlacement"),
        other => panic!("expected 422, got {other:?}"),
    }
    assert_eq!(reached(&sps1, "p").await, Some(vec!["florin".into()]));

    // Deleting the placement deletes its slice (ownerReference).
    eps2.delete("p", &DeleteParams::default()).await.expect("delete ep");
    until("the slice goes with its placement", || async { sps2.get_opt("p").await.ok().flatten().is_none() }).await;

    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
}
