//! Bad requests against a real `orrery server`: each gets the exact Kubernetes `Status`
//! (code, reason, and where clients look further: the message, `details.kind`, the causes)
//! and changes nothing in the store, which is checked by comparing every object's
//! resourceVersion (and the store-wide list resourceVersion) before and after the request.

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use orrery_e2e::{Server, ServerOptions, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

/// Raw HTTP against the server's root URL (no space prefix), with the admin token.
struct Raw {
    client: kube::Client,
    token: String,
}

impl Raw {
    async fn new(server: &Server) -> anyhow::Result<Self> {
        let (client, token) = server.raw_client().await?;
        Ok(Self { client, token })
    }

    /// Sends one request; returns the status code and the body (JSON, or the text as a string).
    async fn call(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<(u16, Value)> {
        let mut req = http::Request::builder().method(method).uri(path);
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {}", self.token));
        if !content_type.is_empty() {
            req = req.header(http::header::CONTENT_TYPE, content_type);
        }
        let res = self.client.send(req.body(kube::client::Body::from(body))?).await?;
        let code = res.status().as_u16();
        let bytes = res.into_body().collect_bytes().await?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((code, body))
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let (code, body) = self.call("GET", path, "", Vec::new()).await?;
        anyhow::ensure!(code == 200, "GET {path}: {code} {body}");
        Ok(body)
    }

    async fn send_json(&self, method: &str, path: &str, content_type: &str, body: &Value) -> anyhow::Result<Value> {
        let (code, reply) = self.call(method, path, content_type, serde_json::to_vec(body)?).await?;
        anyhow::ensure!((200..300).contains(&code), "{method} {path}: {code} {reply}");
        Ok(reply)
    }
}

const CM: &str = "/api/v1/namespaces/default/configmaps";
const WIDGETS: &str = "/clusters/s1/apis/example.com/v1/namespaces/default/widgets";
const PLACEMENTS: &str = "/clusters/s1/apis/edge.kubestellar.io/v2alpha1/edgeplacements";
const JSON: &str = "application/json";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

/// The lists whose items (and the store revision each reports) must not change.
const WATCHED_LISTS: [&str; 7] = [
    "/clusters/*/api/v1/configmaps",
    "/clusters/*/apis/apps/v1/deployments",
    "/clusters/*/api/v1/namespaces",
    "/clusters/*/api/v1/secrets",
    "/clusters/*/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/clusters/s1/apis/example.com/v1/widgets",
    PLACEMENTS,
];

/// Every watched object as `space/namespace/name@resourceVersion`, plus each list's revision.
async fn snapshot(raw: &Raw) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for path in WATCHED_LISTS {
        let list = raw.get(path).await?;
        out.push(format!("{path} rv={}", list["metadata"]["resourceVersion"]));
        for item in list["items"].as_array().into_iter().flatten() {
            let m = &item["metadata"];
            out.push(format!(
                "{}/{}/{}@{}",
                m["annotations"]["kcp.io/cluster"].as_str().unwrap_or("-"),
                m["namespace"].as_str().unwrap_or("-"),
                m["name"].as_str().unwrap_or("-"),
                m["resourceVersion"].as_str().unwrap_or("-"),
            ));
        }
    }
    Ok(out)
}

/// What else a case's Status must show.
enum Check {
    Nothing,
    MessageHas(&'static str),
    DetailsKind(&'static str),
    CauseField(&'static str),
    CauseMessageHas(&'static str),
}

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    code: u16,
    reason: &'static str,
    check: Check,
}

#[allow(clippy::too_many_arguments)]
fn case(
    what: &'static str,
    method: &'static str,
    path: impl Into<String>,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
    code: u16,
    reason: &'static str,
    check: Check,
) -> Case {
    Case { what, method, path: path.into(), content_type, body: body.into(), code, reason, check }
}

fn js(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).expect("json")
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn configmap_with(name: &str, bytes: usize) -> Vec<u8> {
    js(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"big": "x".repeat(bytes)}}))
}

fn widget(name: &str) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": 1}})
}

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }}}]
        }
    }))
    .expect("crd")
}

/// The objects the cases aim at: `cm1`, a ConfigMap held by a finalizer while being
/// deleted, space `s1` with the Widget CRD and a widget.
struct Fixture {
    cm1_uid: String,
    cm1_rv: String,
    w1_rv: String,
}

async fn fixture(server: &Server, raw: &Raw) -> anyhow::Result<Fixture> {
    let cm1 = raw.send_json("POST", CM, JSON, &configmap("cm1")).await?;
    let d1 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
                    "spec": {"selector": {"matchLabels": {"app": "d1"}},
                             "template": {"metadata": {"labels": {"app": "d1"}},
                                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    raw.send_json("POST", DEPLOYMENTS, JSON, &d1).await?;
    let mut held = configmap("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    raw.send_json("POST", CM, JSON, &held).await?;
    raw.send_json("DELETE", &format!("{CM}/held"), JSON, &json!({})).await?;
    let held = raw.get(&format!("{CM}/held")).await?;
    anyhow::ensure!(held["metadata"]["deletionTimestamp"].is_string(), "held is being deleted: {held}");
    server.create_space("s1").await?;
    let crds: Api<CustomResourceDefinition> = Api::all(server.client("s1").await?);
    crds.create(&PostParams::default(), &widget_crd()).await?;
    wait_for(Duration::from_secs(20), || async {
        let crd = crds.get("widgets.example.com").await.ok()?;
        let conditions = crd.status?.conditions?;
        conditions.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
    })
    .await?;
    wait_for(Duration::from_secs(20), || async { raw.get(WIDGETS).await.ok() }).await?;
    let w1 = raw.send_json("POST", WIDGETS, JSON, &widget("w1")).await?;
    Ok(Fixture {
        cm1_uid: cm1["metadata"]["uid"].as_str().unwrap_or_default().to_owned(),
        cm1_rv: cm1["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned(),
        w1_rv: w1["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned(),
    })
}

#[rustfmt::skip]
fn cases(f: &Fixture) -> Vec<Case> {
    use Check::*;
    let cm1 = format!("{CM}/cm1");
    let stale_rv = (f.cm1_rv.parse::<u64>().expect("rv") - 1).to_string();
    let mut stale = configmap("cm1");
    stale["metadata"]["resourceVersion"] = json!(stale_rv);
    let mut stale_widget = widget("w1");
    stale_widget["metadata"]["resourceVersion"] = json!((f.w1_rv.parse::<u64>().expect("rv") - 1).to_string());
    let mut other_ns = configmap("c2");
    other_ns["metadata"]["namespace"] = json!("kube-system");
    // A custom resource: for built-in kinds the apiserver defaults a missing kind from the path.
    let mut no_kind = widget("w2");
    no_kind.as_object_mut().expect("object").remove("kind");
    let mut as_secret = configmap("c2");
    as_secret["kind"] = json!("Secret");
    let mut as_apps = configmap("c2");
    as_apps["apiVersion"] = json!("apps/v1");
    let mut big_widget = widget("big");
    big_widget["spec"]["blob"] = json!("x".repeat(2 * 1024 * 1024));
    let mut managed_not_a_list = configmap("c2");
    managed_not_a_list["metadata"]["managedFields"] = json!("kubectl");
    let mut managed_bad_time = configmap("c2");
    managed_bad_time["metadata"]["managedFields"] =
        json!([{"manager": "m", "operation": "Update", "time": "yesterday", "fieldsType": "FieldsV1", "fieldsV1": {}}]);
    let mut long_label = configmap("c2");
    long_label["metadata"]["labels"] = json!({"app": "v".repeat(64)});
    let mut secret_cm1 = configmap("cm1");
    secret_cm1["kind"] = json!("Secret");
    let mut widget_as_gadget = widget("w2");
    widget_as_gadget["kind"] = json!("Gadget");
    let bad_placement = json!({
        "apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "EdgePlacement", "metadata": {"name": "ep1"},
        "spec": {"locationSelectors": [{"matchExpressions": [{"key": "env", "operator": "Like", "values": ["x"]}]}]}
    });
    let bad_crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.nodot"},
        "spec": {"group": "nodot", "scope": "Namespaced", "names": {"plural": "things", "kind": "Thing"},
                 "versions": [{"name": "v1", "served": true, "storage": true}]}
    });
    let uid_mismatch = json!({"apiVersion": "v1", "kind": "DeleteOptions",
                              "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}});
    let add_finalizer = json!({"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}});
    let three_mib = 3 * 1024 * 1024;
    vec![
        // Bodies that are not an object of the path's kind.
        case("malformed JSON", "POST", CM, JSON, r#"{"apiVersion": "v1", "kind": "#, 400, "BadRequest", Nothing),
        case("malformed YAML", "POST", CM, "application/yaml", "kind: ConfigMap\nmetadata: {name: [c2\n", 400, "BadRequest", Nothing),
        case("JSON array body", "POST", CM, JSON, "[1, 2]", 400, "BadRequest", Nothing),
        case("JSON string body", "POST", CM, JSON, r#""configmap""#, 400, "BadRequest", Nothing),
        case("YAML sequence body", "POST", CM, "application/yaml", "- a\n- b\n", 400, "BadRequest", Nothing),
        case("empty body", "POST", CM, JSON, "", 400, "BadRequest", Nothing),
        case("kind not matching the path", "POST", CM, JSON, js(as_secret), 400, "BadRequest", Nothing),
        case("apiVersion not matching the path", "POST", CM, JSON, js(as_apps), 400, "BadRequest", Nothing),
        case("managedFields not a list", "POST", CM, JSON, js(managed_not_a_list), 400, "BadRequest", MessageHas("managedFields")),
        case("status of the wrong type", "PATCH", format!("{DEPLOYMENTS}/d1/status"), "application/merge-patch+json", r#"{"status": {"replicas": "three"}}"#, 400, "BadRequest", MessageHas("Deployment")),
        case("managedFields time not a time", "POST", CM, JSON, js(managed_bad_time), 400, "BadRequest", MessageHas("managedFields")),
        case("missing kind", "POST", WIDGETS, JSON, js(no_kind), 400, "BadRequest", MessageHas("Kind")),
        case("custom resource of another kind", "POST", WIDGETS, JSON, js(widget_as_gadget), 400, "BadRequest", Nothing),
        case("protobuf body", "POST", CM, "application/vnd.kubernetes.protobuf", b"k8s\0\n\x02v1".to_vec(), 415, "UnsupportedMediaType", Nothing),
        case("protobuf body for a custom resource", "POST", WIDGETS, "application/vnd.kubernetes.protobuf", b"k8s\0\n\x02v1".to_vec(), 415, "UnsupportedMediaType", Nothing),
        // Names and namespaces.
        case("uppercase name", "POST", CM, JSON, js(configmap("Upper")), 422, "Invalid", CauseField("metadata.name")),
        case("name longer than 253", "POST", CM, JSON, js(configmap(&"a".repeat(254))), 422, "Invalid", CauseField("metadata.name")),
        case("name ..", "POST", CM, JSON, js(configmap("..")), 422, "Invalid", CauseField("metadata.name")),
        case("namespace name with a dot", "POST", "/api/v1/namespaces", JSON,
             js(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})), 422, "Invalid", CauseField("metadata.name")),
        case("custom resource with an invalid name", "POST", WIDGETS, JSON, js(widget("W_1")), 422, "Invalid", CauseField("metadata.name")),
        case("missing name", "POST", CM, JSON, js(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})), 422, "Invalid", CauseField("metadata.name")),
        case("label value longer than 63", "POST", CM, JSON, js(long_label), 422, "Invalid", CauseField("metadata.labels[app]")),
        case("namespace in body differs from the path", "POST", CM, JSON, js(other_ns), 400, "BadRequest", Nothing),
        case("PUT of another kind", "PUT", &cm1, JSON, js(secret_cm1), 400, "BadRequest", Nothing),
        case("PUT name differs from the URL", "PUT", &cm1, JSON, js(configmap("c2")), 400, "BadRequest", MessageHas("does not match")),
        case("create in a missing namespace", "POST", "/api/v1/namespaces/nowhere/configmaps", JSON, js(configmap("c2")), 404, "NotFound", Nothing),
        case("dry-run create of an invalid object", "POST", format!("{CM}?dryRun=All"), JSON, js(configmap("Upper")), 422, "Invalid", CauseField("metadata.name")),
        // Sizes.
        case("body over 3 MiB", "POST", CM, JSON, configmap_with("huge", three_mib + 1024), 413, "RequestEntityTooLarge", MessageHas("limit")),
        case("object over 1.5 MiB in a body under 3 MiB", "POST", WIDGETS, JSON, js(big_widget), 413, "RequestEntityTooLarge", MessageHas("limit")),
        // Paths the server does not serve.
        case("unknown resource", "GET", "/api/v1/namespaces/default/widgets", "", "", 404, "NotFound", Nothing),
        case("unknown group", "GET", "/apis/nope.example.com/v1/things", "", "", 404, "NotFound", Nothing),
        case("unknown version", "GET", "/apis/apps/v9/deployments", "", "", 404, "NotFound", Nothing),
        case("space that does not exist", "GET", "/clusters/nospace/api/v1/namespaces/default/configmaps", "", "", 404, "NotFound", Nothing),
        case("POST to the all-namespaces path", "POST", "/api/v1/configmaps", JSON, js(configmap("c2")), 405, "MethodNotAllowed", Nothing),
        case("cluster-scoped resource under a namespace", "GET", "/api/v1/namespaces/default/nodes", "", "", 404, "NotFound", Nothing),
        case("POST to an object path", "POST", &cm1, JSON, js(configmap("cm1")), 405, "MethodNotAllowed", Nothing),
        // Objects that exist, or do not.
        case("create an existing object", "POST", CM, JSON, js(configmap("cm1")), 409, "AlreadyExists", DetailsKind("configmaps")),
        case("get a missing object", "GET", format!("{CM}/missing"), "", "", 404, "NotFound", DetailsKind("configmaps")),
        case("get a missing custom resource", "GET", format!("{WIDGETS}/missing"), "", "", 404, "NotFound", DetailsKind("widgets")),
        case("PUT a missing object", "PUT", format!("{CM}/missing"), JSON, js(configmap("missing")), 404, "NotFound", DetailsKind("configmaps")),
        case("PATCH a missing object", "PATCH", format!("{CM}/missing"), "application/merge-patch+json", "{}", 404, "NotFound", DetailsKind("configmaps")),
        case("DELETE a missing object", "DELETE", format!("{CM}/missing"), "", "", 404, "NotFound", DetailsKind("configmaps")),
        case("stale resourceVersion on PUT", "PUT", &cm1, JSON, js(stale), 409, "Conflict", DetailsKind("configmaps")),
        case("stale resourceVersion on a custom resource PUT", "PUT", format!("{WIDGETS}/w1"), JSON, js(stale_widget), 409, "Conflict", DetailsKind("widgets")),
        case("DELETE with a uid precondition mismatch", "DELETE", &cm1, JSON, js(uid_mismatch), 409, "Conflict", MessageHas("Precondition failed")),
        case("finalizer added to an object being deleted", "PATCH", format!("{CM}/held"), "application/merge-patch+json", js(add_finalizer), 422, "Invalid", MessageHas("finalizers")),
        // Query parameters.
        case("bad labelSelector syntax", "GET", format!("{CM}?labelSelector=a%20in%20(x"), "", "", 400, "BadRequest", Nothing),
        case("unsupported fieldSelector field", "GET", format!("{CM}?fieldSelector=spec.foo%3Dx"), "", "", 400, "BadRequest", MessageHas("field label not supported")),
        case("bad limit", "GET", format!("{CM}?limit=abc"), "", "", 400, "BadRequest", Nothing),
        case("bad resourceVersion on a list", "GET", format!("{CM}?resourceVersion=abc"), "", "", 400, "BadRequest", Nothing),
        case("bad watch flag", "GET", format!("{CM}?watch=maybe"), "", "", 400, "BadRequest", Nothing),
        case("fieldManager over 128 characters", "POST", format!("{CM}?fieldManager={}", "m".repeat(129)), JSON, js(configmap("c2")), 422, "Invalid", Nothing),
        // Patches.
        case("JSON patch that is not an array", "PATCH", &cm1, "application/json-patch+json", r#"{"op": "add"}"#, 400, "BadRequest", Nothing),
        case("JSON patch whose test fails", "PATCH", &cm1, "application/json-patch+json",
             js(json!([{"op": "test", "path": "/data/k", "value": "not-v"}, {"op": "replace", "path": "/data/k", "value": "w"}])), 422, "Invalid", Nothing),
        case("merge patch that is not an object", "PATCH", &cm1, "application/merge-patch+json", "[1]", 400, "BadRequest", Nothing),
        case("strategic merge patch on a custom resource", "PATCH", format!("{WIDGETS}/w1"), "application/strategic-merge-patch+json", r#"{"spec": {"size": 2}}"#, 415, "UnsupportedMediaType", Nothing),
        case("unknown patch content type", "PATCH", &cm1, "text/plain", r#"{"data": {"k": "w"}}"#, 415, "UnsupportedMediaType", Nothing),
        case("server-side apply of malformed YAML", "PATCH", format!("{cm1}?fieldManager=t"), "application/apply-patch+yaml", "metadata: {name: [cm1\n", 400, "BadRequest", Nothing),
        case("server-side apply without fieldManager", "PATCH", &cm1, "application/apply-patch+yaml", js(configmap("cm1")), 400, "BadRequest", MessageHas("fieldManager")),
        // Admission of orrery's own kinds and of CRDs.
        case("EdgePlacement with an invalid selector operator", "POST", PLACEMENTS, JSON, js(bad_placement), 422, "Invalid",
             CauseField("spec.locationSelectors[0].matchExpressions[0].operator")),
        case("CRD whose group has no dot", "POST", "/clusters/s1/apis/apiextensions.k8s.io/v1/customresourcedefinitions", JSON, js(bad_crd), 422, "Invalid",
             CauseField("spec.group")),
    ]
}

/// Checks a reply against its case; `None` when it matches.
fn mismatch(c: &Case, code: u16, body: &Value) -> Option<String> {
    let status_ok = body["kind"] == "Status"
        && body["apiVersion"] == "v1"
        && body["status"] == "Failure"
        && body["code"] == json!(c.code)
        && body["reason"] == c.reason;
    if code != c.code || !status_ok {
        return Some(format!("want {} {}, got {code} {body}", c.code, c.reason));
    }
    let message = body["message"].as_str().unwrap_or_default();
    let ok = match c.check {
        Check::Nothing => true,
        Check::MessageHas(s) => message.contains(s),
        Check::DetailsKind(k) => body["details"]["kind"] == k,
        Check::CauseField(f) => {
            body["details"]["causes"].as_array().is_some_and(|cs| cs.iter().any(|cause| cause["field"] == f))
        }
        Check::CauseMessageHas(m) => body["details"]["causes"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|cause| cause["message"].as_str().is_some_and(|t| t.contains(m)))),
    };
    (!ok).then(|| format!("the Status lacks {}: {body}", describe(&c.check)))
}

fn describe(check: &Check) -> String {
    match check {
        Check::Nothing => String::new(),
        Check::MessageHas(s) => format!("a message containing {s:?}"),
        Check::DetailsKind(k) => format!("details.kind {k:?}"),
        Check::CauseField(f) => format!("a cause with field {f:?}"),
        Check::CauseMessageHas(m) => format!("a cause whose message contains {m:?}"),
    }
}

/// Runs every case, collecting all failures so one run reports them all.
async fn run(raw: &Raw, cases: Vec<Case>) -> Vec<String> {
    let mut failures = Vec::new();
    for c in cases {
        let before = snapshot(raw).await.expect("snapshot before");
        let shown = format!("{} ({} {})", c.what, c.method, c.path.chars().take(100).collect::<String>());
        match raw.call(c.method, &c.path, c.content_type, c.body.clone()).await {
            Ok((code, body)) => {
                if let Some(m) = mismatch(&c, code, &body) {
                    failures.push(format!("{shown}: {}", m.chars().take(600).collect::<String>()));
                }
            }
            Err(e) => failures.push(format!("{shown}: request failed: {e:#}")),
        }
        let after = snapshot(raw).await.expect("snapshot after");
        if before != after {
            let changed: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
            failures.push(format!("{shown}: the store changed: {changed:?}"));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_exact_statuses_and_change_nothing() {
    let server = Server::start().expect("server");
    let raw = Raw::new(&server).await.expect("client");
    let f = fixture(&server, &raw).await.expect("fixture");
    let cases = cases(&f);
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let failures = run(&raw, cases).await;
    assert!(failures.is_empty(), "{} bad requests were mishandled:\n{}", failures.len(), failures.join("\n"));
    // The fixture is intact: cm1 is as it was created.
    let cm1 = raw.get(&format!("{CM}/cm1")).await.expect("cm1");
    assert_eq!((cm1["metadata"]["uid"].as_str(), cm1["data"]["k"].as_str()), (Some(f.cm1_uid.as_str()), Some("v")));
}

#[rustfmt::skip]
fn field_cases() -> Vec<Case> {
    use Check::*;
    let mut labels_number = configmap("c3");
    labels_number["metadata"]["labels"] = json!({"a": 1});
    let mut bad_annotation = configmap("c4");
    bad_annotation["metadata"]["annotations"] = json!({"bad key!": "v"});
    let one_mib_and_more = 1024 * 1024 + 1024;
    vec![
        case("data value that is not a string", "POST", CM, JSON,
             js(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"a": 1}})), 400, "BadRequest", Nothing),
        case("metadata that is not an object", "POST", CM, JSON,
             js(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": "c2"})), 400, "BadRequest", Nothing),
        case("label value that is not a string", "POST", CM, JSON, js(labels_number), 400, "BadRequest", Nothing),
        case("invalid annotation key", "POST", CM, JSON, js(bad_annotation), 422, "Invalid", CauseField("metadata.annotations")),
        case("invalid ConfigMap data key", "POST", CM, JSON,
             js(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c5"}, "data": {"bad key!": "v"}})), 422, "Invalid",
             CauseField("data[bad key!]")),
        case("invalid dryRun value", "POST", format!("{CM}?dryRun=Sometimes"), JSON, js(configmap("c7")), 422, "Invalid", CauseField("dryRun")),
        case("invalid fieldValidation value", "POST", format!("{CM}?fieldValidation=Loud"), JSON, js(configmap("c8")), 422, "Invalid", CauseField("fieldValidation")),
        case("invalid propagationPolicy", "DELETE", format!("{CM}/cm1?propagationPolicy=Now"), "", "", 422, "Invalid", CauseField("propagationPolicy")),
        case("dry-run create of an existing object", "POST", format!("{CM}?dryRun=All"), JSON, js(configmap("cm1")), 409, "AlreadyExists", DetailsKind("configmaps")),
        case("JSON patch whose test fails, saying which", "PATCH", format!("{CM}/cm1"), "application/json-patch+json",
             js(json!([{"op": "test", "path": "/data/k", "value": "not-v"}])), 422, "Invalid", CauseMessageHas("/data/k")),
        case("ConfigMap over 1 MiB", "POST", CM, JSON, configmap_with("c6", one_mib_and_more), 422, "Invalid", MessageHas("1048576")),
    ]
}

/// Bodies that decode into a Kubernetes object only by ignoring its types, fields the
/// apiserver validates beyond names and labels, request options it validates (422, as
/// `ValidateCreateOptions`/`ValidateDeleteOptions` do), and a dry run that must still
/// see the existing object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_and_option_validation_matches_kubernetes() {
    let server = Server::start().expect("server");
    let raw = Raw::new(&server).await.expect("client");
    fixture(&server, &raw).await.expect("fixture");
    let cases = field_cases();
    let failures = run(&raw, cases).await;
    assert!(failures.is_empty(), "{} bad requests were mishandled:\n{}", failures.len(), failures.join("\n"));
}

/// A watch from a resourceVersion older than the event history answers 200 and then an
/// in-stream ERROR event with a 410 Expired Status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_an_expired_resource_version_gets_an_in_stream_410() {
    let server = Server::start_with(ServerOptions { event_history: Some(5), ..Default::default() }).expect("server");
    let raw = Raw::new(&server).await.expect("client");
    let first = raw.send_json("POST", CM, JSON, &configmap("e0")).await.expect("create");
    let old_rv = first["metadata"]["resourceVersion"].as_str().expect("rv").to_owned();
    for i in 1..=12 {
        raw.send_json("POST", CM, JSON, &configmap(&format!("e{i}"))).await.expect("create");
    }
    let before = snapshot_configmaps(&raw).await;
    let req = http::Request::builder()
        .method("GET")
        .uri(format!("{CM}?watch=true&resourceVersion={old_rv}&timeoutSeconds=10"))
        .header(http::header::AUTHORIZATION, format!("Bearer {}", raw.token))
        .body(Vec::new())
        .expect("request");
    // `request_stream` fails on any non-2xx status, so reaching the lines means 200.
    let stream = raw.client.request_stream(req).await.expect("the watch is answered with 200");
    let mut lines = stream.lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next())
        .await
        .expect("an event within 10s")
        .expect("an event line")
        .expect("readable");
    let event: Value = serde_json::from_str(&line).expect("a JSON event");
    assert_eq!(event["type"], "ERROR", "{event}");
    let status = &event["object"];
    assert_eq!(
        (&status["kind"], &status["code"], &status["reason"]),
        (&json!("Status"), &json!(410), &json!("Expired"))
    );
    assert_eq!(snapshot_configmaps(&raw).await, before, "a watch changes nothing");
}

async fn snapshot_configmaps(raw: &Raw) -> Value {
    raw.get("/clusters/*/api/v1/configmaps").await.expect("list")["metadata"]["resourceVersion"].clone()
}
