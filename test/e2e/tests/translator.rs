//! The placement translator, run by a real `orrery controllers` process against a real
//! server: a WDS with a namespace, a ConfigMap using `%(…)`, a ReplicaSet with a
//! Customizer, a CRD with a custom resource, an APIService and a labelled namespace; two
//! placements reaching different Locations. Every mailbox holds exactly the right
//! customized objects and the right `the-one`; WDS edits and deletions propagate;
//! deleting a placement prunes what only it placed; a broken Customizer shows up in the
//! placement's status and as an Event.

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ApiResource, DeleteParams, ListParams, Patch, PatchParams};
use orrery_api::SyncTarget;
use orrery_e2e::objects::{api, configmaps, crds, create, get, namespaces, placements, resource, until, widgets};
use orrery_e2e::{Process, Server, ensure_location};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn replicasets() -> ApiResource {
    resource("apps", "v1", "ReplicaSet", "replicasets")
}
fn apiservices() -> ApiResource {
    resource("apiregistration.k8s.io", "v1", "APIService", "apiservices")
}
fn syncer_configs() -> ApiResource {
    resource("edge.kubestellar.io", "v2alpha1", "SyncerConfig", "syncerconfigs")
}

/// The names (`ns/name` or `name`) of the projected objects of a resource in a mailbox.
async fn projected(client: &kube::Client, r: &ApiResource) -> BTreeSet<String> {
    let list = api(client, r, None)
        .list(&ListParams::default().labels("edge.kubestellar.io/projected=yes"))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    list.into_iter()
        .filter_map(|o| {
            let name = o.metadata.name?;
            Some(o.metadata.namespace.map_or(name.clone(), |ns| format!("{ns}/{name}")))
        })
        .collect()
}

async fn the_one(client: &kube::Client) -> Option<Value> {
    get(client, &syncer_configs(), None, "the-one").await.map(|o| o.data["spec"].clone())
}

/// The names the-one lists for one resource (`clusterScope` or `namespacedObjects`).
fn listed(spec: &Value, resource: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in spec["clusterScope"].as_array().into_iter().flatten().filter(|c| c["resource"] == resource) {
        out.extend(c["objects"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned));
    }
    for n in spec["namespacedObjects"].as_array().into_iter().flatten().filter(|c| c["resource"] == resource) {
        for by_ns in n["objectsByNamespace"].as_array().into_iter().flatten() {
            let ns = by_ns["namespace"].as_str().unwrap_or_default();
            out.extend(
                by_ns["names"].as_array().into_iter().flatten().filter_map(Value::as_str).map(|n| format!("{ns}/{n}")),
            );
        }
    }
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn workload(wds: &kube::Client) {
    create(wds, &namespaces(), json!({"metadata": {"name": "commonstuff", "labels": {"common": "yes"}}})).await;
    create(wds, &namespaces(), json!({"metadata": {"name": "special", "labels": {"team": "a"}}})).await;
    create(
        wds,
        &configmaps(),
        json!({"metadata": {"name": "httpd-htdocs", "namespace": "commonstuff",
                            "annotations": {"edge.kubestellar.io/expand-parameters": "true"}},
               "data": {"index.html": "Running in %(region) at %(id)."}}),
    )
    .await;
    create(
        wds,
        &resource("edge.kubestellar.io", "v2alpha1", "Customizer", "customizers"),
        json!({"metadata": {"name": "example-customizer", "namespace": "commonstuff",
                            "annotations": {"edge.kubestellar.io/expand-parameters": "true"}},
               "replacements": [{"path": "$.spec.template.spec.containers.0.env.0.value", "value": "\"env is %(env)\""}]}),
    )
    .await;
    create(
        wds,
        &replicasets(),
        json!({"metadata": {"name": "commond", "namespace": "commonstuff",
                            "annotations": {"edge.kubestellar.io/customizer": "example-customizer"}},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "common"}},
                        "template": {"metadata": {"labels": {"app": "common"}},
                                     "spec": {"containers": [{"name": "httpd", "image": "httpd:2.4",
                                                              "env": [{"name": "EXAMPLE_VAR", "value": "example value"}]}]}}}}),
    )
    .await;
    create(
        wds,
        &crds(),
        json!({"metadata": {"name": "widgets.example.com"},
               "spec": {"group": "example.com", "scope": "Namespaced",
                        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                        "versions": [{"name": "v1", "served": true, "storage": true,
                                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}),
    )
    .await;
    until("the Widget resource is served", || async {
        api(wds, &widgets(), Some("commonstuff")).list(&ListParams::default()).await.is_ok()
    })
    .await;
    create(wds, &widgets(), json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "commonstuff"}, "spec": {"size": 3}})).await;
    create(
        wds,
        &apiservices(),
        json!({"metadata": {"name": "v1.example.io"},
               "spec": {"group": "example.io", "version": "v1", "groupPriorityMinimum": 1000, "versionPriority": 15,
                        "service": {"namespace": "special", "name": "example-api"}}}),
    )
    .await;
    create(
        wds,
        &placements(),
        json!({"metadata": {"name": "prod-common"},
               "spec": {"locationSelectors": [{"matchLabels": {"env": "prod"}}],
                        "downsync": [
                            {"apiGroup": "", "resources": ["namespaces"], "objectNames": ["commonstuff"]},
                            {"apiGroup": "", "resources": ["configmaps"], "namespaces": ["commonstuff"]},
                            {"apiGroup": "apps", "resources": ["replicasets"], "namespaces": ["commonstuff"]},
                            {"apiGroup": "example.com", "resources": ["widgets"], "namespaces": ["commonstuff"]},
                            {"apiGroup": "apiextensions.k8s.io", "resources": ["customresourcedefinitions"], "objectNames": ["widgets.example.com"]}]}}),
    )
    .await;
    create(
        wds,
        &placements(),
        json!({"metadata": {"name": "eu-special"},
               "spec": {"locationSelectors": [{"matchLabels": {"region": "eu"}}],
                        "downsync": [
                            {"apiGroup": "", "resources": ["namespaces"], "labelSelectors": [{"matchLabels": {"team": "a"}}]},
                            {"apiGroup": "apiregistration.k8s.io", "resources": ["apiservices"]},
                            {"apiGroup": "", "resources": ["configmaps"], "namespaces": ["commonstuff"], "objectNames": ["httpd-htdocs"]}]}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailboxes_hold_exactly_the_customized_objects() {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1"] {
        server.create_space(s).await.expect("space");
    }
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let controllers = Process::spawn(&["controllers", "--kubeconfig", &kc]).expect("controllers");
    let _log = controllers.log_on_panic("orrery controllers");
    let inv = server.client("imw1").await.expect("client");
    for (name, env, region) in [("florin", "prod", "eu"), ("guilder", "prod", "us"), ("kiev", "dev", "eu")] {
        ensure_location(&inv, name, &[("env", env), ("region", region)]).await.expect("inventory");
    }
    let wds = server.client("wds1").await.expect("client");
    workload(&wds).await;

    let mut mailbox = std::collections::BTreeMap::new();
    for name in ["florin", "guilder", "kiev"] {
        let uid = Api::<SyncTarget>::all(inv.clone()).get(name).await.expect("st").metadata.uid.expect("uid");
        let space = orrery_api::mailbox_space_name("imw1", &uid);
        until(&format!("the mailbox of {name} exists"), || async {
            server.client(&space).await.is_ok() && the_one_exists(&server, &space).await
        })
        .await;
        mailbox.insert(name, server.client(&space).await.expect("client"));
    }
    let (florin, guilder, kiev) = (&mailbox["florin"], &mailbox["guilder"], &mailbox["kiev"]);

    // Exactly the right objects, customized per destination.
    let index = |c: &kube::Client| {
        let c = c.clone();
        async move {
            get(&c, &configmaps(), Some("commonstuff"), "httpd-htdocs")
                .await
                .map(|o| o.data["data"]["index.html"].clone())
        }
    };
    until("florin's page names florin in eu", || async {
        index(florin).await == Some(json!("Running in eu at florin."))
    })
    .await;
    until("guilder's page names guilder in us", || async {
        index(guilder).await == Some(json!("Running in us at guilder."))
    })
    .await;
    until("kiev's page (through eu-special) names kiev", || async {
        index(kiev).await == Some(json!("Running in eu at kiev."))
    })
    .await;
    let env_of = |c: &kube::Client| {
        let c = c.clone();
        async move {
            get(&c, &replicasets(), Some("commonstuff"), "commond")
                .await
                .map(|o| o.data["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"].clone())
        }
    };
    until("the Customizer sets florin's env", || async { env_of(florin).await == Some(json!("env is prod")) }).await;
    until("and guilder's", || async { env_of(guilder).await == Some(json!("env is prod")) }).await;
    until("the Widget reaches florin", || async { get(florin, &widgets(), Some("commonstuff"), "w1").await.is_some() })
        .await;
    let widget = get(florin, &widgets(), Some("commonstuff"), "w1").await.expect("widget");
    assert_eq!(widget.data["spec"]["size"], 3);
    assert_eq!(
        widget.metadata.labels.unwrap_or_default().get("edge.kubestellar.io/projected").map(String::as_str),
        Some("yes")
    );
    let source = get(&wds, &widgets(), Some("commonstuff"), "w1").await.expect("source");
    assert_ne!(widget.metadata.uid, source.metadata.uid, "a copy, not the object");

    let want = |items: &[&str]| set(items);
    until("every mailbox holds exactly its objects", || async {
        projected(florin, &configmaps()).await == want(&["commonstuff/httpd-htdocs"])
            && projected(florin, &replicasets()).await == want(&["commonstuff/commond"])
            && projected(florin, &crds()).await == want(&["widgets.example.com"])
            && projected(florin, &namespaces()).await == want(&["commonstuff", "special"])
            && projected(florin, &apiservices()).await == want(&["v1.example.io"])
            && projected(guilder, &namespaces()).await == want(&["commonstuff"])
            && projected(guilder, &apiservices()).await.is_empty()
            && projected(kiev, &namespaces()).await == want(&["special"])
            && projected(kiev, &replicasets()).await.is_empty()
            && projected(kiev, &widgets()).await.is_empty()
    })
    .await;
    // `the-one` is written after the copies.
    until("each the-one lists exactly its mailbox's objects", || async {
        let (Some(florin_config), Some(kiev_config)) = (the_one(florin).await, the_one(kiev).await) else {
            return false;
        };
        listed(&florin_config, "configmaps") == want(&["commonstuff/httpd-htdocs"])
            && listed(&florin_config, "namespaces") == want(&["commonstuff", "special"])
            && listed(&florin_config, "customresourcedefinitions") == want(&["widgets.example.com"])
            && listed(&florin_config, "widgets") == want(&["commonstuff/w1"])
            && listed(&kiev_config, "apiservices") == want(&["v1.example.io"])
            && listed(&kiev_config, "replicasets").is_empty()
    })
    .await;

    // WDS edits propagate; deletions too.
    let edit = json!({"data": {"index.html": "Updated in %(region)."}});
    api(&wds, &configmaps(), Some("commonstuff"))
        .patch("httpd-htdocs", &PatchParams::default(), &Patch::Merge(edit))
        .await
        .expect("edit");
    until("the edit reaches florin, customized", || async { index(florin).await == Some(json!("Updated in eu.")) })
        .await;
    api(&wds, &replicasets(), Some("commonstuff")).delete("commond", &DeleteParams::default()).await.expect("delete");
    until("the ReplicaSet leaves every mailbox", || async {
        projected(florin, &replicasets()).await.is_empty() && projected(guilder, &replicasets()).await.is_empty()
    })
    .await;
    until("and the-one stops listing it", || async {
        the_one(florin).await.is_some_and(|s| listed(&s, "replicasets").is_empty())
    })
    .await;

    // Deleting a placement prunes what only it placed; what another still places stays,
    // and Namespaces are never deleted.
    api(&wds, &placements(), None).delete("eu-special", &DeleteParams::default()).await.expect("delete placement");
    until("kiev loses what eu-special placed", || async {
        projected(kiev, &apiservices()).await.is_empty() && projected(kiev, &configmaps()).await.is_empty()
    })
    .await;
    until("and kiev's the-one is empty", || async { the_one(kiev).await == Some(json!({"namespaceScope": {}})) }).await;
    assert_eq!(projected(kiev, &namespaces()).await, want(&["special"]), "Namespaces stay");
    assert_eq!(index(florin).await, Some(json!("Updated in eu.")), "prod-common still places the page in florin");
    assert!(projected(florin, &apiservices()).await.is_empty());

    // A broken Customizer is reported, never silently skipped.
    create(
        &wds,
        &configmaps(),
        json!({"metadata": {"name": "broken", "namespace": "commonstuff", "annotations": {"edge.kubestellar.io/customizer": "no-such"}}, "data": {"k": "v"}}),
    )
    .await;
    until("the placement's status says what went wrong", || async {
        let Some(p) = get(&wds, &placements(), None, "prod-common").await else { return false };
        p.data["status"]["conditions"].as_array().into_iter().flatten().any(|c| {
            c["type"] == "Translated"
                && c["status"] == "False"
                && c["message"].as_str().is_some_and(|m| m.contains("no-such"))
        })
    })
    .await;
    until("and an Event on the object says so", || async {
        let events = Api::<Event>::namespaced(wds.clone(), "commonstuff")
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        events.iter().any(|e| {
            e.involved_object.name.as_deref() == Some("broken")
                && e.reason.as_deref() == Some("CustomizationFailed")
                && e.message.as_deref().is_some_and(|m| m.contains("no-such"))
        })
    })
    .await;
    // The object still travels, unmodified.
    until("the broken object is still copied", || async {
        get(florin, &configmaps(), Some("commonstuff"), "broken").await.is_some()
    })
    .await;
}

async fn the_one_exists(server: &Server, space: &str) -> bool {
    match server.client(space).await {
        Ok(c) => the_one(&c).await.is_some(),
        Err(_) => false,
    }
}

/// What a translator wrote is recorded in each mailbox's `the-one`: a new translator
/// process, started after WDS changes it did not see, prunes and updates the same copies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_translator_picks_up_where_the_last_one_stopped() {
    let server = Server::start().expect("server");
    for s in ["imw1", "wds1"] {
        server.create_space(s).await.expect("space");
    }
    let kc = server.kubeconfig.to_string_lossy().into_owned();
    let start = || Process::spawn(&["controllers", "--kubeconfig", &kc, "--lease-duration", "2"]).expect("controllers");
    let mut first = start();
    let inv = server.client("imw1").await.expect("client");
    ensure_location(&inv, "florin", &[("env", "prod")]).await.expect("inventory");
    let wds = server.client("wds1").await.expect("client");
    create(&wds, &namespaces(), json!({"metadata": {"name": "ns1"}})).await;
    for name in ["a", "b"] {
        create(&wds, &configmaps(), json!({"metadata": {"name": name, "namespace": "ns1"}, "data": {"v": "1"}})).await;
    }
    create(
        &wds,
        &placements(),
        json!({"metadata": {"name": "p"},
               "spec": {"locationSelectors": [{"matchLabels": {"env": "prod"}}],
                        "downsync": [{"apiGroup": "", "resources": ["namespaces", "configmaps"], "namespaces": ["ns1"]},
                                     {"apiGroup": "", "resources": ["namespaces"], "objectNames": ["ns1"]}]}}),
    )
    .await;
    let uid = Api::<SyncTarget>::all(inv.clone()).get("florin").await.expect("st").metadata.uid.expect("uid");
    let space = orrery_api::mailbox_space_name("imw1", &uid);
    until("the mailbox exists", || async { the_one_exists(&server, &space).await }).await;
    let mailbox = server.client(&space).await.expect("client");
    // Copies first, `the-one` last: the restart below reads back what was written from it.
    until("both copies are there, and the-one lists them", || async {
        projected(&mailbox, &configmaps()).await == set(&["ns1/a", "ns1/b"])
            && the_one(&mailbox).await.is_some_and(|spec| listed(&spec, "configmaps") == set(&["ns1/a", "ns1/b"]))
    })
    .await;

    first.kill();
    api(&wds, &configmaps(), Some("ns1")).delete("b", &DeleteParams::default()).await.expect("delete");
    api(&wds, &configmaps(), Some("ns1"))
        .patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"v": "2"}})))
        .await
        .expect("edit");
    assert_eq!(
        projected(&mailbox, &configmaps()).await,
        set(&["ns1/a", "ns1/b"]),
        "nobody translates while it is down"
    );

    let second = start();
    let _log = second.log_on_panic("orrery controllers (second)");
    until("the copy of the deleted object is pruned", || async {
        projected(&mailbox, &configmaps()).await == set(&["ns1/a"])
    })
    .await;
    until("and the edit arrives", || async {
        get(&mailbox, &configmaps(), Some("ns1"), "a").await.is_some_and(|o| o.data["data"]["v"] == "2")
    })
    .await;
}
