//! `orrery controllers` as separate processes: one leads, a standby takes over when the
//! leader is killed, and the pipeline keeps working. And `orrery up` all in one.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use orrery_api::{EdgePlacement, SinglePlacementSlice, SyncTarget};
use orrery_e2e::{Process, Server, orrery_bin, wait_for};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("object literal")
}

/// A SyncTarget + Location in `inv` and a placement in `wds`; waits for the slice.
async fn place(server: &Server, inv: &str, wds: &str, target: &str) {
    let inv = server.client(inv).await.expect("client");
    orrery_e2e::ensure_location(&inv, target, &[]).await.expect("SyncTarget and Location");
    let wds = server.client(wds).await.expect("client");
    Api::<EdgePlacement>::all(wds.clone())
        .create(
            &PostParams::default(),
            &obj(
                json!({"metadata": {"name": target}, "spec": {"locationSelectors": [{"matchLabels": {"id": target}}]}}),
            ),
        )
        .await
        .expect("ep");
    let slices: Api<SinglePlacementSlice> = Api::all(wds);
    wait_for(Duration::from_secs(30), || async {
        let sps = slices.get_opt(target).await.ok().flatten()?;
        (sps.spec.destinations.len() == 1).then_some(())
    })
    .await
    .expect("the slice appears");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_leader_is_killed() {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1"] {
        server.create_space(s).await.expect("space");
    }
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let start = |id: &str| {
        Process::spawn(&["controllers", "--kubeconfig", &kc, "--identity", id, "--lease-duration", "2"]).expect("spawn")
    };
    let a = start("replica-a");
    let b = start("replica-b");
    wait_for(Duration::from_secs(30), || async { (a.said("leads") || b.said("leads")).then_some(()) })
        .await
        .expect("one leads");
    assert!(!(a.said("leads") && b.said("leads")), "never two leaders");
    place(&server, "imw1", "wds1", "one").await;
    let a_led = a.said("leads");
    let (mut leader, standby) = if a_led { (a, b) } else { (b, a) };
    leader.kill();
    wait_for(Duration::from_secs(30), || async { standby.said("leads").then_some(()) })
        .await
        .expect("the standby takes over");
    place(&server, "imw1", "wds1", "two").await;
}

/// A leader that finds the Lease taken stops its controllers, stays up, and leads again
/// once the other holder's Lease expires; only then does the pipeline move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_the_lease_stands_down_and_leads_again() {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1"] {
        server.create_space(s).await.expect("space");
    }
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let mut replica =
        Process::spawn(&["controllers", "--kubeconfig", &kc, "--identity", "replica", "--lease-duration", "2"])
            .expect("spawn");
    let _log = replica.log_on_panic("controllers");
    let terms = |p: &Process| p.output().matches("replica leads").count();
    wait_for(Duration::from_secs(30), || async { (terms(&replica) == 1).then_some(()) }).await.expect("leads");
    place(&server, "imw1", "wds1", "one").await;

    // Another holder writes the Lease, with a Lease long enough to see the stand-down in.
    let leases: Api<Lease> = Api::namespaced(server.client("root").await.expect("client"), "kube-system");
    wait_for(Duration::from_secs(10), || async {
        let mut lease = leases.get("orrery-controllers").await.ok()?;
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.holder_identity = Some("intruder".into());
        spec.lease_duration_seconds = Some(4);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        leases.replace("orrery-controllers", &PostParams::default(), &lease).await.ok().map(|_| ())
    })
    .await
    .expect("the intruder writes the lease");
    wait_for(Duration::from_secs(10), || async { replica.said("lost the lease").then_some(()) })
        .await
        .expect("the replica stands down");
    assert_eq!(replica.child.try_wait().expect("status"), None, "the replica process stays up");

    // Placed while nobody leads: its slice appears only in the replica's second term.
    place(&server, "imw1", "wds1", "two").await;
    assert_eq!(terms(&replica), 2, "the slice appeared before the replica led again");
    let lease = leases.get("orrery-controllers").await.expect("lease");
    let spec = lease.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("replica"));
    replica.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orrery_up_runs_the_pipeline_in_one_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let child = Command::new(orrery_bin())
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("orrery up");
    let mut up = Process::adopt(child).expect("adopt");
    let mut line = String::new();
    BufReader::new(up.child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!((ready["inventory"].as_str(), ready["wds"].as_str()), (Some("imw1"), Some("wds1")));
    let kubeconfig = std::path::PathBuf::from(ready["kubeconfig"].as_str().expect("kubeconfig"));
    assert!(kubeconfig.starts_with(&data));
    let client = |space: &str| {
        let text = std::fs::read_to_string(&kubeconfig)
            .expect("kubeconfig")
            .replace("/clusters/root", &format!("/clusters/{space}"));
        let path = dir.path().join(format!("{space}.kubeconfig"));
        std::fs::write(&path, text).expect("write");
        path
    };
    let inv = orrery_e2e::client_from(&client("imw1")).await.expect("client");
    Api::<SyncTarget>::all(inv.clone())
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "edge1", "labels": {"id": "edge1"}}, "spec": {}})),
        )
        .await
        .expect("st");
    let st = Api::<SyncTarget>::all(inv).get("edge1").await.expect("st");
    let mailbox = orrery_api::mailbox_space_name("imw1", st.metadata.uid.as_deref().expect("uid"));
    let root = orrery_e2e::client_from(&client("root")).await.expect("client");
    let spaces: Api<kube::api::DynamicObject> = Api::all_with(root, &orrery_api::space::api_resource());
    wait_for(Duration::from_secs(30), || async { spaces.get_opt(&mailbox).await.ok().flatten().map(|_| ()) })
        .await
        .expect("the mailbox of the new SyncTarget appears");
    drop(up);
}
