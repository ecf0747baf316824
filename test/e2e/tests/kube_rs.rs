//! kube-rs (the client every orrery controller uses) against a real `orrery server`:
//! watcher and reflector, relisting after an in-stream 410, streaming lists, the finalizer
//! helper, server-side apply and the status subresource.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, finalizer, reflector, watcher};
use orrery_e2e::{Server, ServerOptions, wait_for};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": value}})).expect("configmap")
}

/// Spawns a reflector over configmaps in `default` and returns its store.
fn reflect(api: Api<ConfigMap>, config: watcher::Config) -> reflector::Store<ConfigMap> {
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api, config)).default_backoff().applied_objects();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while stream.next().await.is_some() {}
    });
    reader
}

fn names(store: &reflector::Store<ConfigMap>) -> BTreeSet<String> {
    store.state().iter().filter_map(|c| c.metadata.name.clone()).collect()
}

async fn converges(store: &reflector::Store<ConfigMap>, api: &Api<ConfigMap>) {
    wait_for(Duration::from_secs(30), || async {
        let live: BTreeSet<String> =
            api.list(&Default::default()).await.ok()?.items.into_iter().filter_map(|c| c.metadata.name).collect();
        (names(store) == live).then_some(())
    })
    .await
    .expect("the reflector converges on the live state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_stays_consistent_across_watch_timeouts() {
    let server = Server::start().expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client("root").await.expect("client"), "default");
    // A one-second watch timeout makes the watcher resume from its resourceVersion many times.
    let store = reflect(api.clone(), watcher::Config::default().timeout(1));
    store.wait_until_ready().await.expect("initial list");
    // Rounds of changes until several one-second watch timeouts have passed; after each
    // round the reflector must have caught up.
    let started = std::time::Instant::now();
    let mut expected = 0;
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(4) {
        for i in 0..5 {
            api.create(&PostParams::default(), &cm(&format!("r{round}-{i}"), "x")).await.expect("create");
        }
        api.delete(&format!("r{round}-0"), &DeleteParams::default()).await.expect("delete");
        expected += 4;
        converges(&store, &api).await;
        round += 1;
    }
    assert_eq!(names(&store).len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_history_gives_an_in_stream_410_and_a_relist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let opts = ServerOptions { data_dir: Some(data.clone()), ..Default::default() };
    let mut server = Server::start_with(opts.clone()).expect("server");
    let client = server.client("root").await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("before", "1")).await.expect("create");
    let listed_rv = api.list(&Default::default()).await.expect("list").metadata.resource_version.expect("rv");

    // Writes to another resource move the global revision past what a configmap watch saw.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), "default");
    for i in 0..5 {
        let s = serde_json::from_value(json!({"metadata": {"name": format!("s{i}")}})).expect("secret");
        secrets.create(&PostParams::default(), &s).await.expect("create secret");
    }
    // A restart drops event history: resuming at the old resourceVersion is now too old.
    server.kill9();
    let server = Server::start_with(opts).expect("restart");
    let api: Api<ConfigMap> = Api::namespaced(server.client("root").await.expect("client"), "default");
    let mut raw =
        api.watch(&kube::api::WatchParams::default(), &listed_rv).await.expect("watch request is accepted").boxed();
    match raw.next().await {
        Some(Ok(kube::core::WatchEvent::Error(e))) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"), "{e:?}")
        }
        other => panic!("expected an in-stream 410, got {other:?}"),
    }
    // kube-runtime answers that 410 with a relist and converges.
    let store = reflect(api.clone(), watcher::Config::default());
    store.wait_until_ready().await.expect("list");
    api.create(&PostParams::default(), &cm("after", "2")).await.expect("create");
    converges(&store, &api).await;
    assert_eq!(names(&store), BTreeSet::from(["after".to_owned(), "before".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_lists_end_with_the_initial_events_bookmark() {
    let server = Server::start().expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client("root").await.expect("client"), "default");
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("s{i}"), "x")).await.expect("create");
    }
    let store = reflect(api.clone(), watcher::Config::default().streaming_lists());
    tokio::time::timeout(Duration::from_secs(20), store.wait_until_ready())
        .await
        .expect("InitDone arrives")
        .expect("ready");
    assert_eq!(names(&store).len(), 3);
    api.create(&PostParams::default(), &cm("s3", "x")).await.expect("create");
    converges(&store, &api).await;
}

/// A watch of a quiet resource gets a bookmark shortly before its deadline, at the revision
/// the server has got to with other writes, not at the watch's own last event: a client
/// that resumes from there stays within the history of a busy server instead of relisting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_watch_is_bookmarked_at_the_servers_revision_before_its_deadline() {
    let server = Server::start().expect("server");
    let client = server.client("root").await.expect("client");
    let quiet: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let made = quiet.create(&PostParams::default(), &cm("quiet", "x")).await.expect("create");
    let since = made.metadata.resource_version.expect("resourceVersion");
    let params = kube::api::WatchParams::default().timeout(6); // bookmarks are allowed by default
    let mut watch = quiet.watch(&params, &since).await.expect("watch").boxed();
    let busy: Api<Deployment> = Api::namespaced(client, "default");
    let mut newest = 0;
    for i in 0..5 {
        let d = json!({"metadata": {"name": format!("busy{i}")}, "spec": {"selector": {"matchLabels": {"a": "b"}},
                       "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let d: Deployment = serde_json::from_value(d).expect("deployment");
        let made = busy.create(&PostParams::default(), &d).await.expect("create");
        newest = made.metadata.resource_version.expect("resourceVersion").parse::<u64>().expect("a number");
    }
    let mut bookmarks = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(20), watch.next()).await.expect("the watch ends") {
        match event.expect("an event") {
            kube::api::WatchEvent::Bookmark(b) => bookmarks.push(b.metadata.resource_version),
            other => panic!("nothing was written to the quiet resource: {other:?}"),
        }
    }
    let last = bookmarks.last().expect("a bookmark before the deadline");
    assert!(last.parse::<u64>().expect("a number") >= newest, "bookmarked at {last}, the server was at {newest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_finalizer_helper_adds_and_removes_its_finalizer() {
    let server = Server::start().expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client("root").await.expect("client"), "default");
    api.create(&PostParams::default(), &cm("guarded", "1")).await.expect("create");
    const NAME: &str = "orrery.test/cleanup";
    let reconcile = |api: Api<ConfigMap>| async move {
        let obj = std::sync::Arc::new(api.get("guarded").await.expect("get"));
        finalizer(&api, NAME, obj, |event| async move {
            match event {
                finalizer::Event::Apply(_) | finalizer::Event::Cleanup(_) => {
                    Ok::<_, std::convert::Infallible>(kube::runtime::controller::Action::await_change())
                }
            }
        })
        .await
    };
    // First pass: the helper adds its finalizer with a JSON patch that tests for null.
    reconcile(api.clone()).await.expect("apply pass");
    let held = api.get("guarded").await.expect("get");
    assert_eq!(held.metadata.finalizers.as_deref(), Some(&[NAME.to_owned()][..]));
    api.delete("guarded", &DeleteParams::default()).await.expect("delete is accepted");
    assert!(api.get("guarded").await.expect("still there").metadata.deletion_timestamp.is_some());
    // Cleanup pass: the helper removes its finalizer and the object goes.
    reconcile(api.clone()).await.expect("cleanup pass");
    wait_for(Duration::from_secs(10), || async { api.get_opt("guarded").await.ok()?.is_none().then_some(()) })
        .await
        .expect("deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_creates_updates_conflicts_and_forces() {
    let server = Server::start().expect("server");
    let api: Api<Deployment> = Api::namespaced(server.client("root").await.expect("client"), "default");
    let deploy = |replicas: i32, image: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "main", "image": image}]}}}
        })
    };
    let pp = |m: &str| PatchParams::apply(m);
    let created = api.patch("app", &pp("alice"), &Patch::Apply(deploy(1, "img:1"))).await.expect("create by apply");
    assert_eq!(created.spec.as_ref().and_then(|s| s.replicas), Some(1));
    let updated =
        api.patch("app", &pp("alice"), &Patch::Apply(deploy(2, "img:1"))).await.expect("update by the same manager");
    assert_eq!(updated.spec.as_ref().and_then(|s| s.replicas), Some(2));
    let err = api.patch("app", &pp("bob"), &Patch::Apply(deploy(3, "img:1"))).await.expect_err("conflict");
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message.contains("conflict with \"alice\"") && s.message.contains(".spec.replicas"),
                "{}",
                s.message
            );
        }
        other => panic!("expected a 409 Status, got {other:?}"),
    }
    let forced = api.patch("app", &pp("bob").force(), &Patch::Apply(deploy(3, "img:1"))).await.expect("forced");
    assert_eq!(forced.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let managers: Vec<String> =
        forced.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(managers.contains(&"bob".to_owned()) && managers.contains(&"alice".to_owned()), "{managers:?}");

    // Writes through `/status` and a replace sent back with the entries it read each keep
    // the others' entries and record their own (the server reads these writes with the
    // stored entries kept as text).
    let status =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"}, "status": {"replicas": 3}});
    api.patch_status("app", &pp("carol").force(), &Patch::Apply(status)).await.expect("status apply");
    let merge = PatchParams { field_manager: Some("dave".into()), ..Default::default() };
    api.patch_status("app", &merge, &Patch::Merge(json!({"status": {"readyReplicas": 1}})))
        .await
        .expect("status patch");
    let mut read = api.get("app").await.expect("get");
    if let Some(spec) = read.spec.as_mut() {
        spec.min_ready_seconds = Some(5);
    }
    let replace = PostParams { field_manager: Some("erin".into()), ..Default::default() };
    let replaced = api.replace("app", &replace, &read).await.expect("replace with the entries read");
    let entries: BTreeSet<(String, String, String)> = replaced
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.manager.unwrap_or_default(), m.operation.unwrap_or_default(), m.subresource.unwrap_or_default()))
        .collect();
    let want = [
        ("alice", "Apply", ""),
        ("bob", "Apply", ""),
        ("carol", "Apply", "status"),
        ("dave", "Update", "status"),
        ("erin", "Update", ""),
    ];
    let want: BTreeSet<(String, String, String)> =
        want.iter().map(|(m, o, s)| (m.to_string(), o.to_string(), s.to_string())).collect();
    assert_eq!(entries, want);
    assert_eq!(replaced.status.as_ref().and_then(|s| s.ready_replicas), Some(1));
}

/// Applies racing on one object: each is merged over the object as it is when its write
/// lands, so every applier's fields are there at the end. (An apply that loses the race
/// is merged again, with its configuration read again from the request.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_applies_to_one_object_all_land() {
    let server = Server::start().expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client("root").await.expect("client"), "default");
    api.create(&PostParams::default(), &cm("shared", "0")).await.expect("create");
    let appliers = 8;
    let writes = (0..appliers).map(|i| {
        let api = api.clone();
        async move {
            let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "shared", "labels": {format!("by-{i}"): "yes"}},
                                "data": {format!("k{i}"): i.to_string()}});
            api.patch("shared", &PatchParams::apply(&format!("applier-{i}")), &Patch::Apply(config)).await
        }
    });
    for (i, result) in futures::future::join_all(writes).await.into_iter().enumerate() {
        result.unwrap_or_else(|e| panic!("applier {i}: {e}"));
    }
    let stored = api.get("shared").await.expect("get");
    let data = stored.data.unwrap_or_default();
    let labels = stored.metadata.labels.unwrap_or_default();
    for i in 0..appliers {
        assert_eq!(data.get(&format!("k{i}")), Some(&i.to_string()), "{data:?}");
        assert_eq!(labels.get(&format!("by-{i}")).map(String::as_str), Some("yes"), "{labels:?}");
    }
    assert_eq!(data.get("v").map(String::as_str), Some("0"), "the creator's field stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_written_only_through_its_subresource() {
    let server = Server::start().expect("server");
    let api: Api<Deployment> = Api::namespaced(server.client("root").await.expect("client"), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "s"},
        "spec": {"selector": {"matchLabels": {"app": "s"}}, "template": {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": {"replicas": 9}
    }))
    .expect("deployment");
    let created = api.create(&PostParams::default(), &d).await.expect("create");
    let _ = created;
    let patched = api
        .patch_status("s", &PatchParams::default(), &Patch::Merge(json!({"status": {"readyReplicas": 2}})))
        .await
        .expect("status patch");
    assert_eq!(patched.status.as_ref().and_then(|s| s.ready_replicas), Some(2));
    let generation = patched.metadata.generation;
    // A write to the main resource leaves status alone.
    let after = api
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 7}, "metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("main patch");
    assert_eq!(after.status.as_ref().and_then(|s| s.ready_replicas), Some(2));
    assert_eq!(after.metadata.generation, generation, "status and labels do not bump generation");
    // A write to status leaves the spec alone.
    let st = api
        .patch_status(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}, "status": {"readyReplicas": 3}})),
        )
        .await
        .expect("status patch");
    assert_eq!(
        (st.spec.as_ref().and_then(|s| s.replicas), st.status.as_ref().and_then(|s| s.ready_replicas)),
        (None, Some(3))
    );
}

/// The status writes clusters send all the time (a JSON patch adding `status`, a merge
/// patch of it, a status replace) store the rest of the object as it was: the server keeps
/// it as stored text through such writes, and every answer, dry run, no-op and watch event
/// still carries the whole object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_writes_keep_the_rest_of_the_object_as_stored() {
    let server = Server::start().expect("server");
    let api: Api<Deployment> = Api::namespaced(server.client("root").await.expect("client"), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "w", "labels": {"app": "w"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "w"}},
                 "template": {"metadata": {"labels": {"app": "w"}},
                              "spec": {"containers": [{"name": "c", "image": "i", "args": ["a", "b"]}]}}}
    }))
    .expect("deployment");
    let created = api.create(&PostParams::default(), &d).await.expect("create");
    let spec = created.spec.clone();
    let mut watch = api
        .watch(&kube::api::WatchParams::default(), created.metadata.resource_version.as_deref().expect("rv"))
        .await
        .expect("watch")
        .boxed();

    // The simulated clusters' write: a JSON patch adding `status`.
    let sim = PatchParams { field_manager: Some("sim".into()), ..Default::default() };
    let add = json!([{"op": "add", "path": "/status", "value": {"replicas": 2, "readyReplicas": 1}}]);
    let added = api
        .patch_status("w", &sim, &Patch::Json::<()>(serde_json::from_value(add).expect("patch")))
        .await
        .expect("json patch of status");
    assert_eq!((added.spec.clone(), added.status.as_ref().and_then(|s| s.ready_replicas)), (spec.clone(), Some(1)));
    let managers: Vec<(String, String)> = added
        .metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.manager.unwrap_or_default(), m.subresource.unwrap_or_default()))
        .collect();
    assert!(managers.contains(&("sim".into(), "status".into())), "{managers:?}");
    match tokio::time::timeout(Duration::from_secs(10), watch.next()).await.expect("an event") {
        Some(Ok(kube::api::WatchEvent::Modified(seen))) => {
            assert_eq!((seen.spec, seen.metadata.labels), (spec.clone(), created.metadata.labels.clone()))
        }
        other => panic!("expected the status write as an event, got {other:?}"),
    }

    // A dry run answers with the whole object and stores nothing.
    let dry = PatchParams { dry_run: true, ..sim.clone() };
    let merge = Patch::Merge(json!({"status": {"readyReplicas": 2}}));
    let tried = api.patch_status("w", &dry, &merge).await.expect("dry run");
    assert_eq!((tried.spec.clone(), tried.status.as_ref().and_then(|s| s.ready_replicas)), (spec.clone(), Some(2)));
    let read = api.get("w").await.expect("get");
    assert_eq!(read.metadata.resource_version, added.metadata.resource_version, "a dry run stores nothing");

    // A write that changes nothing stores nothing, and answers with the whole object.
    let same =
        api.patch_status("w", &sim, &Patch::Merge(json!({"status": {"readyReplicas": 1}}))).await.expect("no-op");
    assert_eq!((same.metadata.resource_version, same.spec), (added.metadata.resource_version.clone(), spec.clone()));

    // A status replace takes only the status of what it sends.
    let mut sent = read.clone();
    if let Some(s) = sent.spec.as_mut() {
        s.replicas = Some(9);
    }
    sent.status = serde_json::from_value(json!({"replicas": 2, "readyReplicas": 2})).expect("status");
    let replaced = api.replace_status("w", &PostParams::default(), &sent).await.expect("status replace");
    assert_eq!(
        (replaced.spec.clone(), replaced.status.as_ref().and_then(|s| s.ready_replicas)),
        (spec.clone(), Some(2))
    );
    let last = api.get("w").await.expect("get");
    assert_eq!((last.spec, last.metadata.generation), (spec, created.metadata.generation));
    assert_ne!(last.metadata.resource_version, added.metadata.resource_version);
}

/// Nothing new is created in a namespace being deleted (403), as the apiserver's
/// namespace lifecycle admission refuses it; until then creates go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminating_namespace_takes_no_new_objects() {
    use k8s_openapi::api::core::v1::Namespace;
    let server = Server::start().expect("server");
    let client = server.client("root").await.expect("client");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})).expect("ns");
    namespaces.create(&PostParams::default(), &ns).await.expect("create namespace");
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "held");
    configmaps.create(&PostParams::default(), &cm("before", "1")).await.expect("a create before the delete");
    namespaces.delete("held", &DeleteParams::default()).await.expect("delete namespace");
    match configmaps.create(&PostParams::default(), &cm("after", "1")).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403, "{s:?}");
            assert!(s.message.contains("being terminated"), "{}", s.message);
        }
        other => panic!("expected 403 for a create in a terminating namespace, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_events_are_read_back_through_the_core_api() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let server = Server::start().expect("server");
    let client = server.client("root").await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let subject = api.create(&PostParams::default(), &cm("subject", "1")).await.expect("create");
    let recorder = Recorder::new(client.clone(), Reporter { controller: "orrery-test".into(), instance: None });
    let event = Event {
        type_: EventType::Normal,
        reason: "Tested".into(),
        note: Some("recorded by kube-runtime".into()),
        action: "Test".into(),
        secondary: None,
    };
    let reference = subject.object_ref(&());
    recorder.publish(&event, &reference).await.expect("first publish (POST)");
    recorder.publish(&event, &reference).await.expect("second publish (series PATCH)");
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "default");
    let found = core
        .list(&kube::api::ListParams::default().fields("involvedObject.name=subject"))
        .await
        .expect("list core events")
        .items;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].message.as_deref(), Some("recorded by kube-runtime"));
    assert_eq!(found[0].reporting_component.as_deref(), Some("orrery-test"));
}

/// Writes that change nothing store nothing: same resourceVersion, no watch event. A
/// controller that writes status and watches what it writes depends on this to settle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_change_nothing_are_not_stored() {
    let server = Server::start().expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client("root").await.expect("client"), "default");
    let created = api.create(&PostParams::default(), &cm("same", "x")).await.expect("create");
    let rv = created.metadata.resource_version.clone();
    let apply = PatchParams::apply("tester").force();
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "same"}, "data": {"v": "x"}});
    let first = api.patch("same", &apply, &Patch::Apply(&applied)).await.expect("first apply");
    assert_ne!(first.metadata.resource_version, rv, "the first apply adds a manager: a change");
    let settled = first.metadata.resource_version.clone();
    let mut watch = api
        .watch(&kube::api::WatchParams::default(), settled.as_deref().expect("resourceVersion"))
        .await
        .expect("watch")
        .boxed();
    let again = api.patch("same", &apply, &Patch::Apply(&applied)).await.expect("same apply");
    let merged = api.patch("same", &PatchParams::default(), &Patch::Merge(json!({"data": {"v": "x"}}))).await;
    let replaced = api.replace("same", &PostParams::default(), &again).await.expect("same replace");
    for (what, rv) in [
        ("apply", again.metadata.resource_version),
        ("merge patch", merged.expect("merge").metadata.resource_version),
        ("replace", replaced.metadata.resource_version),
    ] {
        assert_eq!(rv, settled, "a no-op {what} keeps the resourceVersion");
    }
    // A real change comes through the watch; nothing came before it.
    api.patch("same", &PatchParams::default(), &Patch::Merge(json!({"data": {"v": "y"}}))).await.expect("change");
    let first_event = tokio::time::timeout(Duration::from_secs(10), watch.next()).await.expect("an event");
    match first_event {
        Some(Ok(kube::api::WatchEvent::Modified(cm))) => {
            assert_eq!(cm.data.and_then(|d| d.get("v").cloned()).as_deref(), Some("y"), "the first event is the change")
        }
        other => panic!("expected the change as the first event, got {other:?}"),
    }
}

/// A create records its field manager's `Update` entry, owning every field it set: in the
/// answer, in what is stored (read back and watched), and in a dry run's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_records_its_managers_fields() {
    let server = Server::start().expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client("root").await.expect("client"), "default");
    let entry = |cm: &ConfigMap| {
        let entries = cm.metadata.managed_fields.clone().unwrap_or_default();
        let found: Vec<_> = entries
            .iter()
            .map(|m| {
                let fields = m.fields_v1.as_ref().map(|f| f.0.clone()).unwrap_or_default();
                (m.manager.clone(), m.operation.clone(), m.subresource.clone(), fields)
            })
            .collect();
        found
    };
    let want = vec![(
        Some("maker".to_string()),
        Some("Update".to_string()),
        None,
        json!({"f:data": {".": {}, "f:k.e-y": {}, "f:v": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}),
    )];
    let made: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "made", "labels": {"app": "a"}},
        "data": {"v": "1", "k.e-y": "2"}
    }))
    .expect("configmap");
    let mut watch = api.watch(&kube::api::WatchParams::default(), "0").await.expect("watch").boxed();
    let params = PostParams { field_manager: Some("maker".into()), ..Default::default() };
    let dry = PostParams { dry_run: true, ..params.clone() };
    assert_eq!(entry(&api.create(&dry, &made).await.expect("dry-run create")), want, "dry run");
    assert_eq!(entry(&api.create(&params, &made).await.expect("create")), want, "answer");
    assert_eq!(entry(&api.get("made").await.expect("get")), want, "read back");
    match tokio::time::timeout(Duration::from_secs(10), watch.next()).await.expect("an event") {
        Some(Ok(kube::api::WatchEvent::Added(seen))) => assert_eq!(entry(&seen), want, "watched"),
        other => panic!("expected the create as an event, got {other:?}"),
    }
}

/// `generateName` gives a fresh name on each create; an invalid prefix is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_name_makes_names() {
    let server = Server::start().expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client("root").await.expect("client"), "default");
    let generated: ConfigMap = serde_json::from_value(json!({"metadata": {"generateName": "job-"}})).expect("cm");
    let a = api.create(&PostParams::default(), &generated).await.expect("first");
    let b = api.create(&PostParams::default(), &generated).await.expect("second");
    let (a, b) = (a.metadata.name.expect("name"), b.metadata.name.expect("name"));
    assert!(a.starts_with("job-") && a.len() == "job-".len() + 5, "{a}");
    assert_ne!(a, b);
    let bad: ConfigMap = serde_json::from_value(json!({"metadata": {"generateName": "Bad_"}})).expect("cm");
    match api.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.message.contains("generateName")), (422, true), "{}", s.message)
        }
        other => panic!("expected 422, got {other:?}"),
    }
}
