//! Authentication and space scoping against a real `orrery server`: no or wrong
//! credentials get 401, a space token (from a TokenRequest, or from the kubeconfig Secret
//! a new space gets) opens its own space and nothing else (403, also for `/clusters/*`),
//! the admin token opens everything, and every refusal is a proper `Status`.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, PostParams};
use orrery_e2e::{Server, ServerOptions, client_from, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

/// Raw HTTP against the server's root URL with whatever `Authorization` a test gives.
struct Raw {
    client: kube::Client,
    admin: String,
}

impl Raw {
    async fn new(server: &Server) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(&server.kubeconfig)?;
        let doc: Value = serde_saphyr::from_str(&text)?;
        let admin = doc.pointer("/users/0/user/token").and_then(Value::as_str).unwrap_or_default().to_owned();
        let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig)?;
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
        config.cluster_url = server.url.parse()?;
        config.auth_info = Default::default();
        Ok(Self { client: kube::Client::try_from(config)?, admin })
    }

    /// One request with `authorization` as the header value (none when `None`).
    async fn call(&self, authorization: Option<&str>, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let mut req = http::Request::builder().method(method).uri(path);
        if let Some(a) = authorization {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        let bytes = if body.is_null() { Vec::new() } else { serde_json::to_vec(body).expect("json") };
        if !bytes.is_empty() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(kube::client::Body::from(bytes)).expect("request");
        let res = self.client.send(req).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let code = res.status().as_u16();
        let bytes = res.into_body().collect_bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (code, body)
    }

    async fn with_token(&self, token: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
        self.call(Some(&format!("Bearer {token}")), method, path, body).await
    }

    async fn admin(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        self.with_token(&self.admin, method, path, body).await
    }

    /// Mints a token for `space` through a TokenRequest on `kube-system/default`.
    async fn space_token(&self, space: &str) -> String {
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
        let (code, body) =
            self.admin("POST", &format!("/clusters/{space}/api/v1/namespaces/kube-system/serviceaccounts"), &sa).await;
        assert!(code == 201 || code == 409, "service account in {space}: {code} {body}");
        let (code, body) = self.admin("POST", &token_path(space, "default"), &token_request()).await;
        assert_eq!(code, 201, "TokenRequest in {space}: {body}");
        body["status"]["token"].as_str().expect("status.token").to_owned()
    }
}

fn token_path(space: &str, sa: &str) -> String {
    format!("/clusters/{space}/api/v1/namespaces/kube-system/serviceaccounts/{sa}/token")
}

fn token_request() -> Value {
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn cms(space: &str) -> String {
    format!("/clusters/{space}/api/v1/namespaces/default/configmaps")
}

/// Asserts a refusal: the code, and a `Status` body with the matching reason.
#[track_caller]
fn assert_status(what: &str, (code, body): &(u16, Value), want: u16, reason: &str) {
    assert_eq!(*code, want, "{what}: {body}");
    assert_eq!(
        (&body["kind"], &body["apiVersion"], &body["status"], &body["code"], &body["reason"]),
        (&json!("Status"), &json!("v1"), &json!("Failure"), &json!(want), &json!(reason)),
        "{what}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_credentials_are_unauthorized() {
    let server = Server::start().expect("server");
    server.create_space("a").await.expect("space a");
    let raw = Raw::new(&server).await.expect("client");
    let a_tail = &raw.admin[1..];
    let credentials = [
        ("no Authorization header", None),
        ("a wrong bearer token", Some("Bearer not-a-token".to_owned())),
        ("an empty bearer token", Some("Bearer ".to_owned())),
        ("basic credentials", Some("Basic YWRtaW46YWRtaW4=".to_owned())),
        ("the admin token minus its first character", Some(format!("Bearer {a_tail}"))),
        ("the admin token with a suffix", Some(format!("Bearer {}x", raw.admin))),
    ];
    let requests = [
        ("GET", cms("root")),
        ("GET", "/api/v1/namespaces/default/configmaps".to_owned()),
        ("GET", cms("a")),
        ("GET", "/clusters/*/api/v1/configmaps".to_owned()),
        ("GET", "/clusters/a/apis".to_owned()),
        ("GET", "/clusters/nospace/api/v1/namespaces".to_owned()),
        ("POST", cms("a")),
        ("POST", token_path("a", "default")),
    ];
    for (what, auth) in &credentials {
        for (method, path) in &requests {
            let body = if *method == "POST" { configmap("sneaky") } else { Value::Null };
            let reply = raw.call(auth.as_deref(), method, path, &body).await;
            assert_status(&format!("{what}: {method} {path}"), &reply, 401, "Unauthorized");
        }
    }
    for space in ["root", "a"] {
        let (code, body) = raw.admin("GET", &format!("{}/sneaky", cms(space)), &Value::Null).await;
        assert_eq!(code, 404, "nothing was created in {space} without credentials: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_token_opens_its_space_and_nothing_else() {
    let server = Server::start().expect("server");
    server.create_space("a").await.expect("space a");
    server.create_space("b").await.expect("space b");
    let raw = Raw::new(&server).await.expect("client");
    let token = raw.space_token("a").await;

    // Its own space: reads and writes.
    let (code, list) = raw.with_token(&token, "GET", &cms("a"), &Value::Null).await;
    assert_eq!((code, &list["kind"]), (200, &json!("ConfigMapList")), "{list}");
    let (code, created) = raw.with_token(&token, "POST", &cms("a"), &configmap("mine")).await;
    assert_eq!(code, 201, "{created}");
    let (code, _) = raw.with_token(&token, "GET", "/clusters/a/apis", &Value::Null).await;
    assert_eq!(code, 200, "discovery of its own space");

    // Everything else: 403, and nothing is written.
    let refused = [
        ("GET", cms("b")),
        ("POST", cms("b")),
        ("GET", "/clusters/b/api".to_owned()),
        ("POST", token_path("b", "default")),
        ("GET", cms("root")),
        ("GET", "/api/v1/namespaces/default/configmaps".to_owned()),
        ("POST", "/api/v1/namespaces/default/configmaps".to_owned()),
        ("GET", "/apis/space.kubestellar.io/v1alpha1/spaces".to_owned()),
        ("GET", "/api/v1/namespaces/orrery-system/secrets".to_owned()),
        ("GET", "/clusters/*/api/v1/configmaps".to_owned()),
        ("GET", "/clusters/*/api/v1/configmaps?watch=true".to_owned()),
        ("GET", "/clusters/nospace/api/v1/namespaces".to_owned()),
    ];
    for (method, path) in &refused {
        let body = match (*method, path.ends_with("/token")) {
            ("POST", true) => token_request(),
            ("POST", false) => configmap("sneaky"),
            _ => Value::Null,
        };
        let reply = raw.with_token(&token, method, path, &body).await;
        assert_status(&format!("space-a token: {method} {path}"), &reply, 403, "Forbidden");
    }
    for space in ["root", "b"] {
        let (code, body) = raw.admin("GET", &format!("{}/sneaky", cms(space)), &Value::Null).await;
        assert_eq!(code, 404, "the space-a token created nothing in {space}: {body}");
    }

    // The admin token opens every space and the wildcard.
    for path in
        [cms("root"), cms("a"), cms("b"), "/api/v1/namespaces".to_owned(), "/clusters/*/api/v1/configmaps".to_owned()]
    {
        let (code, body) = raw.admin("GET", &path, &Value::Null).await;
        assert_eq!(code, 200, "admin GET {path}: {body}");
    }
    let (_, all) = raw.admin("GET", "/clusters/*/api/v1/configmaps", &Value::Null).await;
    let mine: Vec<&Value> =
        all["items"].as_array().expect("items").iter().filter(|i| i["metadata"]["name"] == "mine").collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["metadata"]["annotations"]["kcp.io/cluster"], "a");

    // A TokenRequest names an existing service account.
    let reply = raw.admin("POST", &token_path("a", "nobody"), &token_request()).await;
    assert_status("TokenRequest for a missing service account", &reply, 404, "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubeconfig_secret_of_a_space_opens_that_space_only() {
    let server = Server::start().expect("server");
    server.create_space("a").await.expect("space a");
    server.create_space("b").await.expect("space b");
    let raw = Raw::new(&server).await.expect("client");
    let (code, space) = raw.admin("GET", "/apis/space.kubestellar.io/v1alpha1/spaces/a", &Value::Null).await;
    assert_eq!(code, 200, "{space}");
    assert_eq!(space["status"]["kubeconfigSecret"], json!({"namespace": "orrery-system", "name": "a-kubeconfig"}));
    // Secret data is base64 on the wire; k8s-openapi's ByteString decodes it.
    let secrets: Api<Secret> = Api::namespaced(server.client("root").await.expect("client"), "orrery-system");
    let secret = secrets.get("a-kubeconfig").await.expect("the kubeconfig Secret of space a");
    let bytes = secret.data.and_then(|d| d.get("kubeconfig").cloned()).expect("data.kubeconfig").0;
    let text = String::from_utf8(bytes).expect("UTF-8");
    let kubeconfig: Value = serde_saphyr::from_str(&text).expect("kubeconfig YAML");
    assert_eq!(kubeconfig["kind"], "Config");
    let server_url = kubeconfig.pointer("/clusters/0/cluster/server").and_then(Value::as_str).expect("server");
    assert_eq!(server_url, format!("{}/clusters/a", server.url));
    let token = kubeconfig.pointer("/users/0/user/token").and_then(Value::as_str).expect("token").to_owned();
    assert_ne!(token, raw.admin, "a space kubeconfig does not carry the admin token");

    // kube-rs with the kubeconfig as it is: works in space a.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.kubeconfig");
    std::fs::write(&path, &text).expect("write kubeconfig");
    let api: Api<ConfigMap> = Api::namespaced(client_from(&path).await.expect("client"), "default");
    let cm: ConfigMap = serde_json::from_value(configmap("from-kubeconfig")).expect("configmap");
    api.create(&PostParams::default(), &cm).await.expect("create in space a");
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(names, ["from-kubeconfig"]);

    // The same token anywhere else: 403.
    for path in [cms("b"), cms("root"), "/api/v1/namespaces".to_owned(), "/clusters/*/api/v1/configmaps".to_owned()] {
        let reply = raw.with_token(&token, "GET", &path, &Value::Null).await;
        assert_status(&format!("kubeconfig token of a: GET {path}"), &reply, 403, "Forbidden");
    }
    let (code, body) = raw.admin("GET", &format!("{}/from-kubeconfig", cms("b")), &Value::Null).await;
    assert_eq!(code, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_tokens_survive_restarts_and_die_with_their_space() {
    let mut first = Server::start().expect("server");
    first.create_space("c").await.expect("space c");
    let raw = Raw::new(&first).await.expect("client");
    let token = raw.space_token("c").await;
    assert_eq!(raw.with_token(&token, "GET", &cms("c"), &Value::Null).await.0, 200);
    first.kill9();

    let second = Server::start_with(ServerOptions { data_dir: Some(first.data_dir.clone()), ..Default::default() })
        .expect("restart");
    let raw = Raw::new(&second).await.expect("client");
    let (code, body) = raw.with_token(&token, "GET", &cms("c"), &Value::Null).await;
    assert_eq!(code, 200, "the token still opens space c after a restart: {body}");
    let reply = raw.with_token(&token, "GET", &cms("root"), &Value::Null).await;
    assert_status("the token after a restart, on root", &reply, 403, "Forbidden");

    let (code, body) = raw.admin("DELETE", "/apis/space.kubestellar.io/v1alpha1/spaces/c", &Value::Null).await;
    assert!(code == 200 || code == 202, "delete space c: {code} {body}");
    wait_for(Duration::from_secs(20), || async {
        (raw.admin("GET", &cms("c"), &Value::Null).await.0 == 404).then_some(())
    })
    .await
    .expect("space c goes away");
    let reply = raw.with_token(&token, "GET", &cms("c"), &Value::Null).await;
    assert_status("the token of a deleted space", &reply, 401, "Unauthorized");
    let reply = raw.with_token(&token, "GET", &cms("root"), &Value::Null).await;
    assert_status("the token of a deleted space, on root", &reply, 401, "Unauthorized");
}
