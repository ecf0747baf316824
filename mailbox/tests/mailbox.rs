//! The mailbox controller against a real space server: mailboxes follow SyncTargets,
//! come back when deleted, go with their SyncTarget, and their Secret opens them only.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::Kubeconfig;
use orrery_api::{SyncTarget, SyncTargetSpec};
use orrery_mailbox::{MailboxController, SECRET_NAMESPACE, secret_name};
use orrery_runtime::{Metrics, Shutdown};
use orrery_spaces::{EmbeddedProvider, SpaceProvider};
use orrery_spaceserver::server::{RunningServer, ServerConfig, start};
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

/// A space server with an inventory space `imw1`: what keeps it running, the provider, and
/// the inventory's SyncTargets.
async fn inventory() -> (tempfile::TempDir, RunningServer, Arc<dyn SpaceProvider>, Api<SyncTarget>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(ServerConfig::loopback_for_tests(dir.path().join("data"))).await.expect("server");
    let admin = Kubeconfig::read_from(&server.admin_kubeconfig).expect("kubeconfig");
    let provider: Arc<dyn SpaceProvider> = Arc::new(EmbeddedProvider::new(admin).await.expect("provider"));
    provider.create("imw1", &Default::default()).await.expect("inventory space");
    let targets: Api<SyncTarget> = Api::all(provider.client("imw1").await.expect("client"));
    (dir, server, provider, targets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailboxes_follow_sync_targets() {
    let (_dir, _server, provider, targets) = inventory().await;
    let florin = targets
        .create(&PostParams::default(), &SyncTarget::new("florin", SyncTargetSpec::default()))
        .await
        .expect("st");

    let shutdown = Shutdown::new();
    let controller = MailboxController::new(provider.clone(), &Metrics::new());
    let running = tokio::spawn(controller.run(shutdown.clone(), 2));

    let mailbox = orrery_api::mailbox_space_name("imw1", florin.metadata.uid.as_deref().expect("uid"));
    let exists = |name: String| {
        let p = provider.clone();
        async move { p.list().await.map(|l| l.contains(&name)).unwrap_or(false) }
    };
    until("the mailbox exists", || exists(mailbox.clone())).await;

    // Its Secret in the inventory space opens the mailbox, and only the mailbox.
    let secrets: Api<Secret> = Api::namespaced(provider.client("imw1").await.expect("client"), SECRET_NAMESPACE);
    let name = secret_name("florin");
    until("the mailbox Secret exists", || {
        let (secrets, name) = (secrets.clone(), name.clone());
        async move { secrets.get_opt(&name).await.ok().flatten().is_some() }
    })
    .await;
    let secret = secrets.get(&name).await.expect("secret");
    let text = String::from_utf8(secret.data.and_then(|mut d| d.remove("kubeconfig")).expect("kubeconfig key").0)
        .expect("utf-8");
    let kc = Kubeconfig::from_yaml(&text).expect("a kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("config");
    let in_mailbox: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(config).expect("client"), "default");
    in_mailbox.list(&Default::default()).await.expect("the mailbox token opens the mailbox");

    // A deleted mailbox comes back while its SyncTarget exists (a new Space object).
    let spaces: Api<kube::api::DynamicObject> =
        Api::all_with(provider.client("root").await.expect("root client"), &orrery_api::space::api_resource());
    let first_uid = spaces.get(&mailbox).await.expect("mailbox Space").metadata.uid;
    provider.delete(&mailbox).await.expect("delete mailbox");
    until("the mailbox is made again", || {
        let (spaces, mailbox, first_uid) = (spaces.clone(), mailbox.clone(), first_uid.clone());
        async move { spaces.get_opt(&mailbox).await.ok().flatten().is_some_and(|s| s.metadata.uid != first_uid) }
    })
    .await;

    // The mailbox goes with its SyncTarget.
    targets.delete("florin", &DeleteParams::default()).await.expect("delete st");
    until("the mailbox is deleted with its SyncTarget", || {
        let e = exists(mailbox.clone());
        async move { !e.await }
    })
    .await;

    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
}

/// A fleet past the heartbeat budget: each syncer that reports in is granted a longer
/// interval in its `the-one`, and stays healthy; when the fleet shrinks back within the
/// budget, the grant is taken back at the next heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_past_the_heartbeat_budget_is_told_to_report_in_less_often() {
    use orrery_api::keys::{HEARTBEAT_INTERVAL, SYNCER_CONFIG_NAME};
    use orrery_api::{SyncerConfig, SyncerConfigSpec};

    let (_dir, _server, provider, targets) = inventory().await;
    let mut mailboxes = Vec::new();
    for name in ["a", "b", "c"] {
        let st = targets.create(&PostParams::default(), &SyncTarget::new(name, SyncTargetSpec::default())).await;
        let uid = st.expect("st").metadata.uid.expect("uid");
        mailboxes.push(orrery_api::mailbox_space_name("imw1", &uid));
    }

    // 0.2 heartbeats a second at the base 10 s interval is two syncers: three are granted
    // twice the base interval.
    let shutdown = Shutdown::new();
    let controller = MailboxController::new(provider.clone(), &Metrics::new()).with_heartbeats_per_second(0.2);
    let running = tokio::spawn(controller.run(shutdown.clone(), 2));
    let the_one = |mailbox: String| {
        let p = provider.clone();
        async move { Api::<SyncerConfig>::all(p.client(&mailbox).await.expect("client")) }
    };
    let beat = |api: Api<SyncerConfig>| async move {
        let now = jiff::Timestamp::now().round(jiff::Unit::Second).expect("round").to_string();
        let patch = kube::api::Patch::Merge(serde_json::json!({"status": {"lastSyncerHeartbeatTime": now}}));
        api.patch_status(SYNCER_CONFIG_NAME, &Default::default(), &patch).await.expect("heartbeat");
    };
    let granted = |api: Api<SyncerConfig>| async move {
        let one = api.get(SYNCER_CONFIG_NAME).await.expect("the-one");
        one.metadata.annotations.and_then(|mut a| a.remove(HEARTBEAT_INTERVAL))
    };
    for mailbox in &mailboxes {
        let exists = |name: String| {
            let p = provider.clone();
            async move { p.list().await.map(|l| l.contains(&name)).unwrap_or(false) }
        };
        until("the mailbox exists", || exists(mailbox.clone())).await;
        let api = the_one(mailbox.clone()).await;
        let spec = SyncerConfig::new(SYNCER_CONFIG_NAME, SyncerConfigSpec::default());
        api.create(&PostParams::default(), &spec).await.expect("the-one");
        beat(api.clone()).await;
        until("the syncer is granted 20 s", || {
            let api = api.clone();
            async move { granted(api).await.as_deref() == Some("20") }
        })
        .await;
    }
    let healthy = |name: &'static str| {
        let targets = targets.clone();
        async move {
            let st = targets.get(name).await.expect("st");
            let conditions = st.status.and_then(|s| s.conditions).unwrap_or_default();
            conditions.iter().any(|c| c.type_ == "HeartbeatHealthy" && c.status == "True")
        }
    };
    until("the granted syncers are healthy", || healthy("a")).await;

    // Two left: within the budget again. The grant goes at the next heartbeat.
    targets.delete("c", &DeleteParams::default()).await.expect("delete c");
    let first = the_one(mailboxes[0].clone()).await;
    until("the grant is taken back", || {
        let api = first.clone();
        async move {
            beat(api.clone()).await;
            granted(api).await.is_none()
        }
    })
    .await;

    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
}
