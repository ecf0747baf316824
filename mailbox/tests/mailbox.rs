//! The mailbox controller against a real space server: mailboxes follow SyncTargets,
//! come back when deleted, go with their SyncTarget, and their Secret opens them only.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::Kubeconfig;
use orrery_api::{SyncTarget, SyncTargetSpec};
use orrery_mailbox::{MailboxController, SECRET_NAMESPACE, secret_name};
use orrery_runtime::{Metrics, Shutdown};
use orrery_spaces::{EmbeddedProvider, SpaceProvider};
use orrery_spaceserver::server::{ServerConfig, start};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailboxes_follow_sync_targets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(ServerConfig::loopback_for_tests(dir.path().join("data"))).await.expect("server");
    let admin = Kubeconfig::read_from(&server.admin_kubeconfig).expect("kubeconfig");
    let provider: Arc<dyn SpaceProvider> = Arc::new(EmbeddedProvider::new(admin).await.expect("provider"));
    provider.create("imw1", &Default::default()).await.expect("inventory space");
    let targets: Api<SyncTarget> = Api::all(provider.client("imw1").await.expect("client"));
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
