//! Discovery, per space: `/version`, legacy (`/api`, `/apis`, `/apis/g`, `/apis/g/v`) and
//! aggregated v2 (`/api`, `/apis` with the APIGroupDiscoveryList Accept). kubectl silently
//! finds no resources unless the aggregated answer carries its exact Content-Type.

use super::path::Route;
use super::resources::{ResourceInfo, Resources};
use super::status::ApiError;
use super::{ApiServer, KUBE_MINOR, Result, json_response, openapi};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub(super) fn version() -> Response {
    json_response(
        200,
        &json!({
            "major": "1",
            "minor": KUBE_MINOR,
            "gitVersion": format!("v1.{KUBE_MINOR}.0+orrery-{}", env!("CARGO_PKG_VERSION")),
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": "",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }),
    )
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| accept.split(',').next())
        .is_some_and(|first| first.contains("as=APIGroupDiscoveryList") && first.contains("v=v2"))
}

pub(super) fn serve(server: &ApiServer, space: &str, route: Route, headers: &HeaderMap) -> Result<Response> {
    let resources = server.resources(space).ok_or_else(ApiError::no_route)?;
    match route {
        Route::CoreVersions if wants_aggregated(headers) => Ok(aggregated(&resources, true)),
        Route::Groups if wants_aggregated(headers) => Ok(aggregated(&resources, false)),
        Route::CoreVersions => Ok(json_response(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}),
        )),
        Route::Groups => {
            let groups: Vec<Value> =
                resources.groups().iter().filter(|(g, _)| !g.is_empty()).map(|(g, vs)| api_group(g, vs)).collect();
            Ok(json_response(200, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})))
        }
        Route::Group { group } => {
            let groups = resources.groups();
            let versions = groups.get(&group).filter(|_| !group.is_empty()).ok_or_else(ApiError::no_route)?;
            let mut g = api_group(&group, versions);
            g["kind"] = json!("APIGroup");
            g["apiVersion"] = json!("v1");
            Ok(json_response(200, &g))
        }
        Route::GroupVersion { group, version } => {
            let list: Vec<&ResourceInfo> =
                resources.iter().filter(|r| r.group == group && r.version == version).map(|r| r.as_ref()).collect();
            if list.is_empty() {
                return Err(ApiError::no_route());
            }
            let gv = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
            let mut entries = Vec::new();
            for r in list {
                entries.push(json!({
                    "name": r.resource,
                    "singularName": r.singular,
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": r.verbs(),
                    "shortNames": r.short_names,
                    "categories": r.categories,
                    "storageVersionHash": "",
                }));
                for (sub, [group, version, kind], verbs) in subresources(r) {
                    let mut e = json!({
                        "name": format!("{}/{sub}", r.resource),
                        "singularName": "",
                        "namespaced": r.namespaced,
                        "kind": kind,
                        "verbs": verbs,
                    });
                    if group != r.group {
                        e["group"] = json!(group);
                        e["version"] = json!(version);
                    }
                    entries.push(e);
                }
            }
            Ok(json_response(
                200,
                &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}),
            ))
        }
        Route::OpenApiV3Root => Ok(json_response(200, &openapi::root(space, &resources))),
        Route::OpenApiV3 { group, version } => {
            openapi::group_version(&resources, &group, &version).map(|d| json_response(200, &d))
        }
        Route::OpenApiV2 => Err(ApiError::no_route()),
        Route::Version | Route::Health | Route::Resource(_) => Err(ApiError::no_route()),
    }
}

fn api_group(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or_default()})
}

/// A resource's subresources: name, the group/version/kind they answer with, and verbs.
fn subresources(r: &ResourceInfo) -> Vec<(&'static str, [String; 3], Vec<&'static str>)> {
    let own = || [r.group.clone(), r.version.clone(), r.kind.clone()];
    let mut out = Vec::new();
    if r.has_status {
        out.push(("status", own(), vec!["get", "patch", "update"]));
    }
    if r.scale.is_some() {
        out.push((
            "scale",
            ["autoscaling".to_owned(), "v1".to_owned(), "Scale".to_owned()],
            vec!["get", "patch", "update"],
        ));
    }
    if r.group.is_empty() && r.resource == "namespaces" {
        out.push(("finalize", own(), vec!["update"]));
    }
    out
}

fn aggregated(resources: &Resources, core: bool) -> Response {
    let mut by_group: BTreeMap<&str, BTreeMap<&str, Vec<Value>>> = BTreeMap::new();
    for r in resources.iter().filter(|r| r.group.is_empty() == core) {
        let subs: Vec<Value> = subresources(r)
            .into_iter()
            .map(|(sub, [g, v, k], verbs)| {
                json!({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": verbs})
            })
            .collect();
        let mut entry = json!({
            "resource": r.resource,
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": r.singular,
            "verbs": r.verbs(),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        if !subs.is_empty() {
            entry["subresources"] = json!(subs);
        }
        by_group.entry(r.group.as_str()).or_default().entry(r.version.as_str()).or_default().push(entry);
    }
    let items: Vec<Value> = by_group
        .into_iter()
        .map(|(g, versions)| {
            let vs: Vec<Value> = versions
                .into_iter()
                .rev()
                .map(|(v, rs)| json!({"version": v, "resources": rs, "freshness": "Current"}))
                .collect();
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": vs})
        })
        .collect();
    let body = json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items});
    ([(axum::http::header::CONTENT_TYPE, AGGREGATED)], serde_json::to_vec(&body).unwrap_or_default()).into_response()
}
