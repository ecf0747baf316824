//! Spaces are separate clusters: objects, CRDs, discovery, OpenAPI and watches of one space
//! never show in another; the same names live side by side; `/clusters/*` lists and watches
//! see every space with each object tagged by its space (`kcp.io/cluster`); a deleted space
//! is gone with everything in it, and a space made again under its name starts empty.

use futures::{AsyncBufReadExt, StreamExt};
use orrery_e2e::{Server, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

/// Raw HTTP against the server's root URL with the admin token.
struct Raw {
    client: kube::Client,
    token: String,
}

impl Raw {
    async fn new(server: &Server) -> anyhow::Result<Self> {
        let (client, token) = server.raw_client().await?;
        Ok(Self { client, token })
    }

    fn request(&self, method: &str, path: &str, body: &Value) -> http::Request<Vec<u8>> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::AUTHORIZATION, format!("Bearer {}", self.token));
        if !body.is_null() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let bytes = if body.is_null() { Vec::new() } else { serde_json::to_vec(body).expect("json") };
        req.body(bytes).expect("request")
    }

    async fn call(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let req = self.request(method, path, body).map(kube::client::Body::from);
        let res = self.client.send(req).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let code = res.status().as_u16();
        let bytes = res.into_body().collect_bytes().await.expect("body");
        (code, serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())))
    }

    async fn ok(&self, method: &str, path: &str, body: &Value) -> Value {
        let (code, reply) = self.call(method, path, body).await;
        assert!((200..300).contains(&code), "{method} {path}: {code} {reply}");
        reply
    }

    async fn code(&self, path: &str) -> u16 {
        self.call("GET", path, &Value::Null).await.0
    }

    /// The resourceVersion of a list of every space's ConfigMaps: where a watch starts.
    async fn configmaps_revision(&self) -> String {
        let list = self.ok("GET", "/clusters/*/api/v1/configmaps", &Value::Null).await;
        list["metadata"]["resourceVersion"].as_str().expect("rv").to_owned()
    }

    /// A watch, as its JSON lines.
    async fn watch(&self, path: &str) -> impl futures::Stream<Item = std::io::Result<String>> + use<> {
        let stream = self.client.request_stream(self.request("GET", path, &Value::Null)).await.expect("watch");
        stream.lines()
    }
}

fn cms(space: &str) -> String {
    format!("/clusters/{space}/api/v1/namespaces/default/configmaps")
}

fn configmap(name: &str, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"space": data}})
}

fn gadget_crd(scope: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.iso.example.com"},
        "spec": {
            "group": "iso.example.com", "scope": scope,
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }}}]
        }
    })
}

fn crds(space: &str) -> String {
    format!("/clusters/{space}/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
}

/// Creates the Gadget CRD in a space and waits until it is Established and served.
async fn install_gadgets(raw: &Raw, space: &str, scope: &str, served_at: &str) {
    raw.ok("POST", &crds(space), &gadget_crd(scope)).await;
    wait_for(Duration::from_secs(20), || async {
        let (code, crd) = raw.call("GET", &format!("{}/gadgets.iso.example.com", crds(space)), &Value::Null).await;
        let established = crd["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
        (code == 200 && established && raw.code(served_at).await == 200).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("the Gadget CRD in {space}: {e}"));
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    v.sort();
    v
}

/// `(space annotation, name, data.space)` of each item of a wildcard list named `name`.
fn tagged(list: &Value, name: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["metadata"]["name"] == name)
        .map(|i| {
            let space = i["metadata"]["annotations"]["kcp.io/cluster"].as_str().unwrap_or("<untagged>").to_owned();
            (space, i["data"]["space"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    v.sort();
    v
}

/// `space/namespace/name@resourceVersion` of a wildcard list item.
fn identity(item: &Value) -> String {
    let m = &item["metadata"];
    format!("{}/{}/{}@{}", m["annotations"]["kcp.io/cluster"], m["namespace"], m["name"], m["resourceVersion"])
}

fn groups(discovery: &Value) -> Vec<String> {
    discovery["groups"].as_array().into_iter().flatten().filter_map(|g| g["name"].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_and_crds_of_one_space_never_show_in_another() {
    let server = Server::start().expect("server");
    server.create_space("a").await.expect("space a");
    server.create_space("b").await.expect("space b");
    let raw = Raw::new(&server).await.expect("client");

    // The same name in both spaces, with different data; one name only in a.
    raw.ok("POST", &cms("a"), &configmap("shared", "a")).await;
    raw.ok("POST", &cms("b"), &configmap("shared", "b")).await;
    raw.ok("POST", &cms("a"), &configmap("only-a", "a")).await;
    for space in ["a", "b"] {
        let cm = raw.ok("GET", &format!("{}/shared", cms(space)), &Value::Null).await;
        assert_eq!(cm["data"]["space"], space, "each space keeps its own shared: {cm}");
    }
    assert_eq!(raw.code(&format!("{}/only-a", cms("b"))).await, 404);
    assert_eq!(raw.code(&format!("{}/only-a", cms("root"))).await, 404);
    assert_eq!(names(&raw.ok("GET", &cms("b"), &Value::Null).await), ["shared"]);
    assert_eq!(names(&raw.ok("GET", "/clusters/b/api/v1/configmaps", &Value::Null).await), ["shared"]);
    assert_eq!(names(&raw.ok("GET", &cms("root"), &Value::Null).await), Vec::<String>::new());

    // A CRD and a custom resource in a.
    let gadgets_a = "/clusters/a/apis/iso.example.com/v1/namespaces/default/gadgets";
    install_gadgets(&raw, "a", "Namespaced", gadgets_a).await;
    let gadget =
        json!({"apiVersion": "iso.example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"n": 1}});
    raw.ok("POST", gadgets_a, &gadget).await;
    assert!(groups(&raw.ok("GET", "/clusters/a/apis", &Value::Null).await).contains(&"iso.example.com".to_owned()));
    let openapi_a = raw.ok("GET", "/clusters/a/openapi/v3", &Value::Null).await;
    assert!(openapi_a["paths"].get("apis/iso.example.com/v1").is_some(), "a's OpenAPI has the CRD");

    // None of it in b, nor in root.
    for space in ["b", "root"] {
        let gadgets = format!("/clusters/{space}/apis/iso.example.com/v1/namespaces/default/gadgets");
        assert_eq!(raw.code(&gadgets).await, 404, "{space} serves no gadgets");
        assert_eq!(raw.code(&format!("{gadgets}/g1")).await, 404, "{space} has no g1");
        assert_eq!(raw.code(&format!("/clusters/{space}/apis/iso.example.com")).await, 404);
        assert_eq!(raw.code(&format!("/clusters/{space}/apis/iso.example.com/v1")).await, 404);
        assert_eq!(raw.code(&format!("/clusters/{space}/openapi/v3/apis/iso.example.com/v1")).await, 404);
        let discovery = raw.ok("GET", &format!("/clusters/{space}/apis"), &Value::Null).await;
        assert!(!groups(&discovery).contains(&"iso.example.com".to_owned()), "{space}'s /apis: {discovery}");
        let openapi = raw.ok("GET", &format!("/clusters/{space}/openapi/v3"), &Value::Null).await;
        assert!(openapi["paths"].get("apis/iso.example.com/v1").is_none(), "{space}'s /openapi/v3 lacks the CRD");
        assert!(!names(&raw.ok("GET", &crds(space), &Value::Null).await).contains(&"gadgets.iso.example.com".into()));
    }

    // The same CRD name in b, cluster-scoped there: both spaces serve their own.
    let gadgets_b = "/clusters/b/apis/iso.example.com/v1/gadgets";
    install_gadgets(&raw, "b", "Cluster", gadgets_b).await;
    raw.ok(
        "POST",
        gadgets_b,
        &json!({"apiVersion": "iso.example.com/v1", "kind": "Gadget", "metadata": {"name": "g2"}}),
    )
    .await;
    assert_eq!(names(&raw.ok("GET", gadgets_b, &Value::Null).await), ["g2"]);
    assert_eq!(names(&raw.ok("GET", gadgets_a, &Value::Null).await), ["g1"]);
    assert_eq!(raw.code("/clusters/b/apis/iso.example.com/v1/namespaces/default/gadgets").await, 404);

    // The wildcard list sees both `shared`, each tagged with its space, and every item tagged.
    let all = raw.ok("GET", "/clusters/*/api/v1/configmaps", &Value::Null).await;
    assert_eq!(tagged(&all, "shared"), [("a".to_owned(), "a".to_owned()), ("b".to_owned(), "b".to_owned())]);
    assert_eq!(tagged(&all, "only-a"), [("a".to_owned(), "a".to_owned())]);
    let untagged: Vec<&Value> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| !i["metadata"]["annotations"]["kcp.io/cluster"].is_string())
        .collect();
    assert!(untagged.is_empty(), "untagged items in a wildcard list: {untagged:?}");
    // Paging through the wildcard list, one item a page, returns the same items once each.
    let mut paged = Vec::new();
    let mut next = String::new();
    for _ in 0..100 {
        let page = raw.ok("GET", &format!("/clusters/*/api/v1/configmaps?limit=1{next}"), &Value::Null).await;
        paged.extend(page["items"].as_array().expect("items").iter().map(identity));
        match page["metadata"]["continue"].as_str() {
            Some(c) if !c.is_empty() => next = format!("&continue={c}"),
            _ => break,
        }
    }
    let mut whole: Vec<String> = all["items"].as_array().expect("items").iter().map(identity).collect();
    whole.sort();
    paged.sort();
    assert_eq!(paged, whole, "the paged wildcard list");
    let (code, body) = raw.call("GET", "/clusters/*/api/v1/namespaces/default/configmaps/shared", &Value::Null).await;
    assert!(code == 405 || code == 400, "a wildcard GET of one object is refused: {code} {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_see_their_own_space_and_the_wildcard_sees_all() {
    let server = Server::start().expect("server");
    server.create_space("a").await.expect("space a");
    server.create_space("b").await.expect("space b");
    let raw = Raw::new(&server).await.expect("client");
    let rv = raw.configmaps_revision().await;
    let all = raw.watch(&format!("/clusters/*/api/v1/configmaps?watch=true&resourceVersion={rv}")).await;
    let only_b = raw.watch(&format!("/clusters/b/api/v1/configmaps?watch=true&resourceVersion={rv}")).await;
    // A selector the key decides (the usual watch of one object), across every space.
    let only_w_b = raw
        .watch(&format!(
            "/clusters/*/api/v1/configmaps?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Dw-b"
        ))
        .await;
    futures::pin_mut!(all, only_b, only_w_b);

    // Created in a first, then in b: b's watch must see b's first, having never seen a's.
    raw.ok("POST", &cms("a"), &configmap("w-a", "a")).await;
    raw.ok("POST", &cms("b"), &configmap("w-b", "b")).await;
    let event = next_event(&mut only_b).await;
    assert_eq!((&event["type"], &event["object"]["metadata"]["name"]), (&json!("ADDED"), &json!("w-b")), "{event}");
    let event = next_event(&mut only_w_b).await;
    let m = &event["object"]["metadata"];
    assert_eq!((&m["name"], &m["annotations"]["kcp.io/cluster"]), (&json!("w-b"), &json!("b")), "{event}");

    let mut seen = Vec::new();
    for _ in 0..2 {
        let event = next_event(&mut all).await;
        let m = &event["object"]["metadata"];
        seen.push((
            event["type"].as_str().unwrap_or_default().to_owned(),
            m["name"].as_str().unwrap_or_default().to_owned(),
            m["annotations"]["kcp.io/cluster"].as_str().unwrap_or("<untagged>").to_owned(),
        ));
    }
    seen.sort();
    let want =
        [("ADDED", "w-a", "a"), ("ADDED", "w-b", "b")].map(|(t, n, s)| (t.to_owned(), n.to_owned(), s.to_owned()));
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writes_answer_is_the_object_its_watchers_see_and_names_no_space() {
    let server = Server::start().expect("server");
    server.create_space("a").await.expect("space a");
    let raw = Raw::new(&server).await.expect("client");
    let rv = raw.configmaps_revision().await;
    // The one-space watch's line is made once for it and for the write's answer.
    let one = raw.watch(&format!("/clusters/a/api/v1/configmaps?watch=true&resourceVersion={rv}")).await;
    let all = raw.watch(&format!("/clusters/*/api/v1/configmaps?watch=true&resourceVersion={rv}")).await;
    futures::pin_mut!(one, all);

    let created = raw.ok("POST", &cms("a"), &configmap("answered", "a")).await;
    let mut changed = created.clone();
    changed["data"]["space"] = json!("changed");
    let updated = raw.ok("PUT", &format!("{}/answered", cms("a")), &changed).await;
    for (answer, kind) in [(&created, "ADDED"), (&updated, "MODIFIED")] {
        assert_eq!(answer["kind"], json!("ConfigMap"), "{answer}");
        assert!(answer["metadata"].get("annotations").is_none(), "the answer names no space: {answer}");
        let event = next_event(&mut one).await;
        assert_eq!((event["type"].as_str(), &event["object"]), (Some(kind), answer), "{event}");
        let event = next_event(&mut all).await;
        let mut tagged = answer.clone();
        tagged["metadata"]["annotations"] = json!({"kcp.io/cluster": "a"});
        assert_eq!((event["type"].as_str(), &event["object"]), (Some(kind), &tagged), "{event}");
    }
    assert_eq!(updated["data"]["space"], json!("changed"));
    assert_ne!(updated["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
}

async fn next_event(stream: &mut (impl futures::Stream<Item = std::io::Result<String>> + Unpin)) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10s")
        .expect("the watch is open")
        .expect("readable");
    // As the Kubernetes API server writes it: clients that decode the event as a tagged
    // enum read the object directly only when the tag comes first.
    assert!(line.starts_with(r#"{"type":""#), "the type leads the line: {line}");
    serde_json::from_str(&line).expect("a JSON event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_space_is_gone_and_a_new_one_of_its_name_starts_empty() {
    let server = Server::start().expect("server");
    server.create_space("a").await.expect("space a");
    server.create_space("b").await.expect("space b");
    let raw = Raw::new(&server).await.expect("client");
    raw.ok("POST", &cms("a"), &configmap("shared", "a")).await;
    raw.ok("POST", &cms("b"), &configmap("shared", "b")).await;
    raw.ok("POST", &cms("b"), &configmap("only-b", "b")).await;
    let gadgets_b = "/clusters/b/apis/iso.example.com/v1/namespaces/default/gadgets";
    install_gadgets(&raw, "b", "Namespaced", gadgets_b).await;
    raw.ok(
        "POST",
        gadgets_b,
        &json!({"apiVersion": "iso.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}),
    )
    .await;

    raw.ok("DELETE", "/apis/space.kubestellar.io/v1alpha1/spaces/b", &Value::Null).await;
    wait_for(Duration::from_secs(20), || async { (raw.code(&cms("b")).await == 404).then_some(()) })
        .await
        .expect("space b's URLs go 404");
    for path in
        [format!("{}/shared", cms("b")), gadgets_b.to_owned(), "/clusters/b/apis".into(), "/clusters/b/api/v1".into()]
    {
        let (code, body) = raw.call("GET", &path, &Value::Null).await;
        assert_eq!((code, &body["reason"]), (404, &json!("NotFound")), "GET {path}: {body}");
    }
    let (code, body) = raw.call("POST", &cms("b"), &configmap("late", "b")).await;
    assert_eq!(code, 404, "no writes into a deleted space: {body}");
    assert_eq!(raw.code("/api/v1/namespaces/orrery-system/secrets/b-kubeconfig").await, 404);
    for list in ["/clusters/*/api/v1/configmaps", "/clusters/*/api/v1/namespaces", "/clusters/*/api/v1/secrets"] {
        let all = raw.ok("GET", list, &Value::Null).await;
        let from_b: Vec<&Value> = all["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["metadata"]["annotations"]["kcp.io/cluster"] == "b")
            .collect();
        assert!(from_b.is_empty(), "{list} still has objects of space b: {from_b:?}");
    }
    let all = raw.ok("GET", "/clusters/*/api/v1/configmaps", &Value::Null).await;
    assert_eq!(tagged(&all, "shared"), [("a".to_owned(), "a".to_owned())], "space a is untouched");

    // A space made again under the name starts empty: nothing comes back.
    server.create_space("b").await.expect("space b again");
    assert_eq!(names(&raw.ok("GET", &cms("b"), &Value::Null).await), Vec::<String>::new());
    assert_eq!(raw.code(gadgets_b).await, 404, "the old CRD does not come back");
    assert!(!names(&raw.ok("GET", &crds("b"), &Value::Null).await).contains(&"gadgets.iso.example.com".into()));
}

/// `root` is the space that holds the Space objects themselves; a Space object named `root`
/// must not become a handle on it (deleting such an object would delete the root space and
/// with it every Space object and every space's kubeconfig Secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_object_cannot_take_over_the_root_space() {
    let server = Server::start().expect("server");
    server.create_space("a").await.expect("space a");
    let raw = Raw::new(&server).await.expect("client");
    raw.ok("POST", &cms("root"), &configmap("keep", "root")).await;
    let spaces = "/apis/space.kubestellar.io/v1alpha1/spaces";
    let root_space =
        json!({"apiVersion": "space.kubestellar.io/v1alpha1", "kind": "Space", "metadata": {"name": "root"}});
    let (create_code, created) = raw.call("POST", spaces, &root_space).await;
    if (200..300).contains(&create_code) {
        // Accepted: deleting it must still leave the root space alone.
        raw.call("DELETE", &format!("{spaces}/root"), &Value::Null).await;
    }
    let mut failures = Vec::new();
    if !(400..500).contains(&create_code) {
        failures.push(format!("creating a Space named root: want a 4xx refusal, got {create_code} {created}"));
    }
    for (what, path) in [
        ("root's configmap", format!("{}/keep", cms("root"))),
        ("root's namespaces", "/api/v1/namespaces".to_owned()),
        ("Space a", format!("{spaces}/a")),
        ("a's kubeconfig Secret", "/api/v1/namespaces/orrery-system/secrets/a-kubeconfig".to_owned()),
        ("space a", cms("a")),
    ] {
        let (code, body) = raw.call("GET", &path, &Value::Null).await;
        if code != 200 {
            failures.push(format!("{what} (GET {path}): want 200, got {code} {body}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
