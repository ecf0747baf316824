//! Untyped objects for tests that create whatever a WDS may hold (custom resources
//! included): resources by name, and create/get/wait helpers that fail the test loudly.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;
use std::time::Duration;

/// How long a test waits for any one condition.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

pub fn configmaps() -> ApiResource {
    resource("", "v1", "ConfigMap", "configmaps")
}
pub fn namespaces() -> ApiResource {
    resource("", "v1", "Namespace", "namespaces")
}
pub fn crds() -> ApiResource {
    resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions")
}
pub fn placements() -> ApiResource {
    resource("edge.kubestellar.io", "v2alpha1", "EdgePlacement", "edgeplacements")
}
/// The `Widget` custom resource the tests define with a CRD.
pub fn widgets() -> ApiResource {
    resource("example.com", "v1", "Widget", "widgets")
}

pub fn api(client: &kube::Client, r: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, r),
        None => Api::all_with(client.clone(), r),
    }
}

/// Creates an object given as JSON (namespace from its metadata); panics on failure.
pub async fn create(client: &kube::Client, r: &ApiResource, object: Value) {
    let ns = object["metadata"]["namespace"].as_str().map(str::to_owned);
    let what = format!("{} {}", r.kind, object["metadata"]["name"]);
    let mut object: DynamicObject = serde_json::from_value(object).expect("object literal");
    object.types = Some(kube::api::TypeMeta { api_version: r.api_version.clone(), kind: r.kind.clone() });
    api(client, r, ns.as_deref())
        .create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

pub async fn get(client: &kube::Client, r: &ApiResource, ns: Option<&str>, name: &str) -> Option<DynamicObject> {
    api(client, r, ns).get_opt(name).await.ok().flatten()
}

/// Waits until `check` holds, polling; panics naming `what` after [`DEADLINE`].
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let found = crate::wait_for(DEADLINE, || {
        let f = check();
        async move { f.await.then_some(()) }
    })
    .await;
    assert!(found.is_ok(), "timed out waiting until {what}");
}

/// The CRD of [`widgets`], with a status subresource.
pub fn widget_crd() -> Value {
    serde_json::json!({"metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                    "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

/// The mailbox kubeconfig the mailbox controller leaves for a SyncTarget (Secret
/// `kube-system/mailbox-<target>` of the inventory space), written next to the server's
/// admin kubeconfig; with the mailbox's name.
pub async fn mailbox_kubeconfig(
    server: &crate::Server,
    inventory: &kube::Client,
    target: &str,
) -> anyhow::Result<(std::path::PathBuf, String)> {
    use anyhow::Context;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(inventory.clone(), "kube-system");
    let secret = crate::wait_for(DEADLINE, || async { secrets.get_opt(&format!("mailbox-{target}")).await.ok()? })
        .await
        .context("the mailbox Secret")?;
    let data = secret.data.context("the mailbox Secret has no data")?;
    let field = |k: &str| -> anyhow::Result<String> {
        Ok(String::from_utf8(data.get(k).with_context(|| format!("no {k}"))?.0.clone())?)
    };
    let path = server.kubeconfig.with_file_name(format!("mailbox-{target}.kubeconfig"));
    std::fs::write(&path, field("kubeconfig")?)?;
    Ok((path, field("mailbox")?))
}
