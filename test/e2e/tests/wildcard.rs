//! `/clusters/*` serves a custom resource that only the spaces (not the root space) have:
//! what a controller following every mailbox's objects with one watch relies on.

use futures::StreamExt;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use orrery_api::{SyncTarget, SyncTargetSpec};
use orrery_e2e::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_list_and_one_watch_cover_a_crd_in_every_space() {
    let server = Server::start().expect("server");
    for s in ["inv1", "inv2"] {
        server.create_space(s).await.expect("space");
    }
    let all: Api<SyncTarget> = Api::all(server.client("*").await.expect("wildcard client"));
    let rv = all.list(&ListParams::default()).await.expect("wildcard list").metadata.resource_version.expect("rv");
    let mut watch = all.watch(&WatchParams::default().timeout(30), &rv).await.expect("wildcard watch").boxed();
    for s in ["inv1", "inv2"] {
        let api: Api<SyncTarget> = Api::all(server.client(s).await.expect("client"));
        api.create(&PostParams::default(), &SyncTarget::new("edge", SyncTargetSpec::default())).await.expect("create");
    }
    let mut spaces = Vec::new();
    while spaces.len() < 2 {
        match watch.next().await {
            Some(Ok(WatchEvent::Added(st))) => {
                let ann = st.metadata.annotations.unwrap_or_default();
                spaces.push(ann.get("kcp.io/cluster").cloned().unwrap_or_default());
            }
            Some(Ok(WatchEvent::Bookmark(_))) => {}
            other => panic!("unexpected watch item {other:?}"),
        }
    }
    spaces.sort();
    assert_eq!(spaces, ["inv1", "inv2"]);
    let listed = all.list(&ListParams::default()).await.expect("list").items;
    assert_eq!(listed.len(), 2, "same-named SyncTargets of two spaces are both listed");
    assert!(
        listed.iter().all(|st| st.spec == SyncTargetSpec { unschedulable: Some(false), ..Default::default() }),
        "CRD defaults applied"
    );
}
