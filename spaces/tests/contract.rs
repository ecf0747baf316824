//! One contract, two providers: the embedded provider, and the kubeconfig provider with
//! contexts that point at spaces of the same embedded server.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DeleteParams, PostParams};
use kube::config::Kubeconfig;
use orrery_spaces::{EmbeddedProvider, Fields, KubeconfigProvider, MultiEvent, SpaceProvider};
use orrery_spaceserver::server::{RunningServer, ServerConfig, start};
use std::collections::BTreeMap;
use std::time::Duration;

async fn server() -> (RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig::loopback_for_tests(dir.path().join("data"));
    (start(config).await.expect("server starts"), dir)
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"k": "v"}})).expect("cm")
}

/// Waits (bounded) for a multi-space event matching `want`.
async fn expect_event(
    stream: &mut futures::stream::BoxStream<'static, Result<MultiEvent, orrery_spaces::SpaceError>>,
    mut want: impl FnMut(&MultiEvent) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(e) = stream.next().await {
            if want(&e.expect("watch event")) {
                return;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("the event arrives within 20s");
}

/// What every provider must do, given two spaces `a` and `b` it serves.
async fn contract(p: &dyn SpaceProvider) {
    let spaces = p.list().await.expect("list");
    assert!(spaces.contains(&"a".to_owned()) && spaces.contains(&"b".to_owned()), "{spaces:?}");

    let a: Api<ConfigMap> = Api::namespaced(p.client("a").await.expect("client a"), "default");
    let b: Api<ConfigMap> = Api::namespaced(p.client("b").await.expect("client b"), "default");
    let mut all = p.watch_all(ApiResource::erase::<ConfigMap>(&()), Fields::Unmanaged);
    // Listed in every space (one relist of all of them, or one per space).
    let mut listed = std::collections::BTreeSet::new();
    let all_listed = |l: &std::collections::BTreeSet<String>| l.contains("*") || (l.contains("a") && l.contains("b"));
    while !all_listed(&listed) {
        let next = tokio::time::timeout(Duration::from_secs(20), all.next()).await.expect("initial list within 20s");
        if let Some(Ok(MultiEvent::InitDone { scope })) = next {
            listed.insert(scope.unwrap_or_else(|| "*".to_owned()));
        }
    }

    let mut only_b = p.watch_in(ApiResource::erase::<ConfigMap>(&()), &["b".to_owned()], Fields::Unmanaged);
    expect_event(&mut only_b, |e| matches!(e, MultiEvent::InitDone { scope: Some(s) } if s == "b")).await;
    let mut kept = p.watch_in(ApiResource::erase::<ConfigMap>(&()), &["a".to_owned()], Fields::All);
    expect_event(&mut kept, |e| matches!(e, MultiEvent::InitDone { scope: Some(s) } if s == "a")).await;
    let mut bare = p.watch_in(ApiResource::erase::<ConfigMap>(&()), &["a".to_owned()], Fields::Metadata);
    expect_event(&mut bare, |e| matches!(e, MultiEvent::InitDone { scope: Some(s) } if s == "a")).await;

    a.create(&PostParams::default(), &cm("only-in-a")).await.expect("create in a");
    assert!(b.get_opt("only-in-a").await.expect("get in b").is_none(), "spaces are isolated");
    b.create(&PostParams::default(), &cm("only-in-b")).await.expect("create in b");
    // Events of different spaces may arrive in any order.
    let mut seen = std::collections::BTreeSet::new();
    expect_event(&mut all, |e| {
        if let MultiEvent::Apply(t) = e {
            assert_eq!(t.object.metadata.managed_fields, None, "skipped managedFields arrived");
            seen.insert((t.space.clone(), t.object.metadata.name.clone().unwrap_or_default()));
        }
        seen.contains(&("a".to_owned(), "only-in-a".to_owned()))
            && seen.contains(&("b".to_owned(), "only-in-b".to_owned()))
    })
    .await;
    // Created after a's, b's object is the first that a watch of b alone hears of.
    let first = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match only_b.next().await {
                Some(Ok(MultiEvent::Apply(t))) => return (t.space, t.object.metadata.name.unwrap_or_default()),
                Some(_) => continue,
                None => panic!("the watch of b ended"),
            }
        }
    })
    .await
    .expect("b's object within 20s");
    assert_eq!(first, ("b".to_owned(), "only-in-b".to_owned()));
    // A watch that keeps them has the create's manager.
    expect_event(&mut kept, |e| {
        matches!(e, MultiEvent::Apply(t) if t.object.metadata.managed_fields.as_ref().is_some_and(|m| !m.is_empty()))
    })
    .await;
    // A watch of metadata only has the object's name and nothing of its data.
    expect_event(&mut bare, |e| match e {
        MultiEvent::Apply(t) if t.object.metadata.name.as_deref() == Some("only-in-a") => {
            assert_eq!(t.object.data, serde_json::json!({}), "data arrived in a metadata-only watch");
            assert_eq!(t.object.metadata.managed_fields, None, "managedFields arrived in a metadata-only watch");
            true
        }
        _ => false,
    })
    .await;
    a.delete("only-in-a", &DeleteParams::default()).await.expect("delete");
    expect_event(&mut all, |e| matches!(e, MultiEvent::Delete(t) if t.space == "a")).await;

    // A request sent to one space reaches that space only, and its answer comes back as text.
    let relabel = |value: &str| {
        let patch = kube::api::Patch::Merge(serde_json::json!({"data": {"k": value}}));
        kube::core::Request::new("/api/v1/namespaces/default/configmaps")
            .patch("only-in-b", &kube::api::PatchParams::default(), &patch)
            .expect("request")
    };
    let answer = p.send("b", relabel("sent")).await.expect("sent to b");
    let answered: ConfigMap = serde_json::from_str(&answer).expect("the answer is the object");
    assert_eq!(answered.data.and_then(|d| d.get("k").cloned()).as_deref(), Some("sent"));
    let stored = b.get("only-in-b").await.expect("get in b").data.unwrap_or_default();
    assert_eq!(stored.get("k").map(String::as_str), Some("sent"));
    match p.send("a", relabel("lost")).await {
        Err(orrery_spaces::SpaceError::Kube(kube::Error::Api(s))) => assert_eq!(s.code, 404),
        other => panic!("a has no such object: {other:?}"),
    }
    assert!(a.get_opt("only-in-b").await.expect("get in a").is_none(), "a failed send wrote nothing");

    let kc = p.kubeconfig("a").await.expect("kubeconfig for a");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("config");
    let via: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(config).expect("client"), "default");
    via.create(&PostParams::default(), &cm("via-kubeconfig")).await.expect("the kubeconfig reaches a");
    assert!(a.get_opt("via-kubeconfig").await.expect("get").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_provider() {
    let (server, _dir) = server().await;
    let admin = Kubeconfig::read_from(&server.admin_kubeconfig).expect("admin kubeconfig");
    let p = EmbeddedProvider::new(admin).await.expect("provider");
    for s in ["a", "b"] {
        p.create(s, &Default::default()).await.expect("create");
    }
    p.create("a", &Default::default()).await.expect("creating an existing space is fine");
    contract(&p).await;

    // The space kubeconfig is scoped: its token does not open another space.
    let mut kc = p.kubeconfig("a").await.expect("kubeconfig");
    for c in kc.clusters.iter_mut().filter_map(|c| c.cluster.as_mut()) {
        c.server = c.server.as_ref().map(|s| s.replace("/clusters/a", "/clusters/b"));
    }
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("config");
    let elsewhere: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(config).expect("client"), "default");
    match elsewhere.list(&Default::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403),
        other => panic!("a's token must not open b: {other:?}"),
    }

    p.delete("b").await.expect("delete");
    p.delete("b").await.expect("deleting a missing space is fine");
    assert!(!p.list().await.expect("list").contains(&"b".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_provider_over_embedded_spaces() {
    let (server, _dir) = server().await;
    let admin = Kubeconfig::read_from(&server.admin_kubeconfig).expect("admin kubeconfig");
    let embedded = EmbeddedProvider::new(admin.clone()).await.expect("provider");
    for s in ["a", "b"] {
        embedded.create(s, &Default::default()).await.expect("create");
    }
    // A kubeconfig with one context per space, as a platform team would write for real clusters.
    let mut kc = Kubeconfig::default();
    let base = admin.clusters[0].clone();
    let user = admin.auth_infos[0].clone();
    for s in ["a", "b"] {
        let mut cluster = base.clone();
        cluster.name = s.into();
        if let Some(c) = cluster.cluster.as_mut() {
            c.server = Some(format!("{}/clusters/{s}", server.endpoint.url));
        }
        kc.clusters.push(cluster);
        kc.contexts.push(kube::config::NamedContext {
            name: s.into(),
            context: Some(kube::config::Context {
                cluster: s.into(),
                user: Some(user.name.clone()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    kc.auth_infos.push(user);
    kc.current_context = Some("a".into());
    let p = KubeconfigProvider::new(kc, BTreeMap::from([("a".into(), "a".into()), ("b".into(), "b".into())]))
        .await
        .expect("provider");
    contract(&p).await;
    assert!(p.delete("a").await.is_err(), "spaces come from configuration");
}
