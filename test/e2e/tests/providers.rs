//! The first half of the pipeline — inventory and placements to slices and mailboxes — run
//! by a real `orrery controllers` process, once per space provider: the spaces of an orrery
//! server (one wildcard watch per resource), and the same spaces given as the contexts of a
//! kubeconfig (one watch per space, mailboxes made on the server named as mailbox host).
//!
//! Two WDSes and an inventory of three targets; placements created, edited and deleted, and
//! the slices follow; a mailbox deleted by hand comes back; a SyncTarget deleted takes its
//! mailbox and its Secret with it.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use orrery_api::{EdgePlacement, Location, SinglePlacementSlice, SyncTarget};
use orrery_e2e::{Process, Server, ensure_location, space_resource, wait_for};
use serde_json::json;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("object literal")
}

/// The sync-target names a slice reaches, sorted; `None` while there is no slice.
async fn reached(slices: &Api<SinglePlacementSlice>, name: &str) -> Option<Vec<String>> {
    let sps = slices.get_opt(name).await.ok().flatten()?;
    let mut names: Vec<String> = sps.spec.destinations.iter().map(|d| d.sync_target_name.clone()).collect();
    names.sort();
    Some(names)
}

async fn until_reached(slices: &Api<SinglePlacementSlice>, name: &str, want: &[&str], what: &str) {
    if let Err(e) = wait_for(DEADLINE, || async { (reached(slices, name).await? == want).then_some(()) }).await {
        panic!("{what}: {e}; the slice has {:?}", reached(slices, name).await);
    }
}

fn placement(name: &str, env: &str) -> EdgePlacement {
    obj(json!({"metadata": {"name": name}, "spec": {"locationSelectors": [{"matchLabels": {"env": env}}]}}))
}

async fn scenario(server: &Server, controllers: &Process) {
    let inv = server.client("imw1").await.expect("client");
    let targets: Api<SyncTarget> = Api::all(inv.clone());
    let locations: Api<Location> = Api::all(inv.clone());
    for (name, env) in [("florin", "prod"), ("guilder", "prod"), ("kiev", "dev")] {
        ensure_location(&inv, name, &[("env", env)]).await.expect("SyncTarget and Location");
    }
    let wds1 = server.client("wds1").await.expect("client");
    let wds2 = server.client("wds2").await.expect("client");
    let (eps1, sps1): (Api<EdgePlacement>, Api<SinglePlacementSlice>) = (Api::all(wds1.clone()), Api::all(wds1));
    let (eps2, sps2): (Api<EdgePlacement>, Api<SinglePlacementSlice>) = (Api::all(wds2.clone()), Api::all(wds2));

    eps1.create(&PostParams::default(), &placement("p", "prod")).await.expect("EdgePlacement");
    eps2.create(&PostParams::default(), &placement("p", "dev")).await.expect("EdgePlacement");
    until_reached(&sps1, "p", &["florin", "guilder"], "wds1's placement reaches the prod targets").await;
    until_reached(&sps2, "p", &["kiev"], "wds2's placement, same name, reaches the dev target").await;
    assert!(controllers.said("leads"), "the controllers lead");

    // Edits: a selector change, then a Location label change.
    let edit = json!({"spec": {"locationSelectors": [{"matchLabels": {"env": "dev"}}]}});
    eps1.patch("p", &PatchParams::default(), &Patch::Merge(edit)).await.expect("edit");
    until_reached(&sps1, "p", &["kiev"], "the slice follows a selector edit").await;
    let relabel = json!({"metadata": {"labels": {"env": "dev"}}});
    locations.patch("florin", &PatchParams::default(), &Patch::Merge(relabel)).await.expect("relabel");
    until_reached(&sps1, "p", &["florin", "kiev"], "the slice follows a Location label edit").await;
    until_reached(&sps2, "p", &["florin", "kiev"], "so does the other WDS's").await;

    // Deletion: the slice goes with its placement; the other WDS keeps its own.
    eps1.delete("p", &DeleteParams::default()).await.expect("delete");
    wait_for(DEADLINE, || async { sps1.get_opt("p").await.ok()?.is_none().then_some(()) })
        .await
        .expect("the slice goes with its placement");
    assert_eq!(reached(&sps2, "p").await.as_deref(), Some(&["florin".to_owned(), "kiev".to_owned()][..]));

    // Mailboxes: one per SyncTarget, with its kubeconfig Secret in the inventory space.
    let root = server.client("root").await.expect("client");
    let spaces: Api<DynamicObject> = Api::all_with(root, &space_resource());
    let secrets: Api<Secret> = Api::namespaced(inv, "kube-system");
    let mut mailboxes = Vec::new();
    for name in ["florin", "guilder", "kiev"] {
        let uid = targets.get(name).await.expect("st").metadata.uid.expect("uid");
        let mailbox = orrery_api::mailbox_space_name("imw1", &uid);
        wait_for(DEADLINE, || async { spaces.get_opt(&mailbox).await.ok()?.map(|_| ()) })
            .await
            .unwrap_or_else(|e| panic!("the mailbox of {name}: {e}"));
        let secret = wait_for(DEADLINE, || async { secrets.get_opt(&format!("mailbox-{name}")).await.ok()? })
            .await
            .unwrap_or_else(|e| panic!("the mailbox Secret of {name}: {e}"));
        let mailbox_field = secret.data.as_ref().and_then(|d| d.get("mailbox")).map(|b| b.0.clone());
        assert_eq!(mailbox_field.as_deref(), Some(mailbox.as_bytes()), "the Secret names the mailbox of {name}");
        mailboxes.push(mailbox);
    }

    // A mailbox deleted while its SyncTarget exists comes back.
    let uid_of = |o: &DynamicObject| o.metadata.uid.clone();
    let first_uid = uid_of(&spaces.get(&mailboxes[0]).await.expect("mailbox"));
    spaces.delete(&mailboxes[0], &DeleteParams::default()).await.expect("delete mailbox");
    wait_for(DEADLINE, || async {
        let again = spaces.get_opt(&mailboxes[0]).await.ok()??;
        (uid_of(&again) != first_uid).then_some(())
    })
    .await
    .expect("the mailbox is made again");

    // A SyncTarget deleted takes its mailbox and Secret with it.
    targets.delete("kiev", &DeleteParams::default()).await.expect("delete SyncTarget");
    wait_for(DEADLINE, || async { spaces.get_opt(&mailboxes[2]).await.ok()?.is_none().then_some(()) })
        .await
        .expect("the mailbox goes with its SyncTarget");
    wait_for(DEADLINE, || async { secrets.get_opt("mailbox-kiev").await.ok()?.is_none().then_some(()) })
        .await
        .expect("the Secret goes with its SyncTarget");
    until_reached(&sps2, "p", &["florin"], "and the slices lose it").await;
}

async fn server_with_spaces() -> Server {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1", "wds2"] {
        server.create_space(s).await.expect("space");
    }
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_provider_runs_the_scenario() {
    let server = server_with_spaces().await;
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let controllers = Process::spawn(&["controllers", "--kubeconfig", &kc]).expect("controllers");
    scenario(&server, &controllers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubeconfig_provider_runs_the_scenario() {
    let server = server_with_spaces().await;
    let contexts = server.contexts_kubeconfig(&["imw1", "wds1", "wds2"]).expect("contexts kubeconfig");
    let (contexts, admin) = (contexts.to_string_lossy().into_owned(), server.kubeconfig.to_string_lossy().into_owned());
    let controllers = Process::spawn(&[
        "controllers",
        "--kubeconfig",
        &contexts,
        "--spaces-from-contexts",
        "--mailbox-host-kubeconfig",
        &admin,
    ])
    .expect("controllers");
    scenario(&server, &controllers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_mailbox_host_only_the_scheduler_runs() {
    let server = server_with_spaces().await;
    let contexts = server.contexts_kubeconfig(&["imw1", "wds1"]).expect("contexts kubeconfig");
    let contexts = contexts.to_string_lossy().into_owned();
    let controllers =
        Process::spawn(&["controllers", "--kubeconfig", &contexts, "--spaces-from-contexts"]).expect("controllers");
    wait_for(DEADLINE, || async { controllers.said("leads").then_some(()) }).await.expect("leads");
    assert!(controllers.said("no mailbox host"), "it says the mailbox controller is off");
}
