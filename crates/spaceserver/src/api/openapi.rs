//! OpenAPI v3, per space: what `kubectl create -f` / `apply` need to validate (a PATCH
//! operation per kind carrying `x-kubernetes-group-version-kind` and a `fieldValidation`
//! parameter) and what `kubectl explain` reads (`components.schemas` with descriptions).
//! Built-in schemas come from k8s-openapi; custom resources use their CRD's schema.

use super::Result;
use super::builtin_types::{TypeVisitor, visit};
use super::resources::{ResourceInfo, Resources};
use super::status::ApiError;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use std::hash::{Hash, Hasher};

pub(super) fn root(space: &str, resources: &Resources) -> Value {
    let mut paths = Map::new();
    for (group, versions) in resources.groups() {
        for version in versions {
            let gv_path = if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") };
            let hash = gv_digest(resources, &group, &version);
            paths.insert(
                gv_path.clone(),
                json!({"serverRelativeURL": format!("/clusters/{space}/openapi/v3/{gv_path}?hash={hash}")}),
            );
        }
    }
    json!({"paths": paths})
}

/// The cache key clients use for a group-version's document. The document follows from the
/// resources served there (and this build), so they are hashed instead of building every
/// document on each request for the root.
fn gv_digest(resources: &Resources, group: &str, version: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    for r in resources.iter().filter(|r| r.group == group && r.version == version) {
        format!("{r:?}").hash(&mut h);
    }
    format!("{:016X}", h.finish())
}

/// The schema name Kubernetes uses for a kind.
fn schema_name(r: &ResourceInfo) -> String {
    if r.custom {
        let reversed: Vec<&str> = r.group.split('.').rev().collect();
        return format!("{}.{}.{}", reversed.join("."), r.version, r.kind);
    }
    let package = match r.group.as_str() {
        "" => "core".to_owned(),
        "apiextensions.k8s.io" => {
            return format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{}.{}", r.version, r.kind);
        }
        "apiregistration.k8s.io" => {
            return format!("io.k8s.kube-aggregator.pkg.apis.apiregistration.{}.{}", r.version, r.kind);
        }
        g => g.split('.').next().unwrap_or(g).to_owned(),
    };
    format!("io.k8s.api.{package}.{}.{}", r.version, r.kind)
}

/// Registers a built-in kind's schema (and everything it refers to) with the generator.
fn builtin_schema(generator: &mut SchemaGenerator, r: &ResourceInfo) -> bool {
    struct Register<'a>(&'a mut SchemaGenerator);
    impl TypeVisitor for Register<'_> {
        fn visit<T: schemars::JsonSchema + serde::de::DeserializeOwned>(&mut self) {
            self.0.subschema_for::<T>();
        }
    }
    visit(&r.group, &r.kind, &mut Register(generator))
}

fn operation(r: &ResourceInfo, action: &str, params: &[&str]) -> Value {
    let mut parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
        .collect();
    parameters.push(json!({"name": "pretty", "in": "query", "schema": {"type": "string", "uniqueItems": true}}));
    json!({
        "operationId": format!("{action}{}", r.kind),
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", schema_name(r))}}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    })
}

pub(super) fn group_version(resources: &Resources, group: &str, version: &str) -> Result<Value> {
    let kinds: Vec<&ResourceInfo> =
        resources.iter().filter(|r| r.group == group && r.version == version).map(|r| r.as_ref()).collect();
    if kinds.is_empty() {
        return Err(ApiError::no_route());
    }
    let base = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for r in kinds {
        let name = schema_name(r);
        let gvk = json!([{"group": r.group, "version": r.version, "kind": r.kind}]);
        if let Some(s) = &r.schema {
            let mut s = s.as_ref().clone();
            s["x-kubernetes-group-version-kind"] = gvk;
            schemas.insert(name.clone(), s);
        } else if !builtin_schema(&mut generator, r) {
            schemas.insert(name.clone(), json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-group-version-kind": gvk}));
        }
        let collection = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", r.resource)
        } else {
            format!("{base}/{}", r.resource)
        };
        let write = ["dryRun", "fieldManager", "fieldValidation"];
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": operation(r, "get", &[]),
                "put": operation(r, "put", &write),
                "patch": operation(r, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
                "delete": operation(r, "delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
            }),
        );
        paths.insert(
            collection,
            json!({"get": operation(r, "list", &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"]), "post": operation(r, "post", &write)}),
        );
    }
    for (name, mut schema) in generator.take_definitions(true) {
        if let Some(r) =
            resources.iter().find(|r| !r.custom && schema_name(r) == name && r.group == group && r.version == version)
        {
            schema["x-kubernetes-group-version-kind"] =
                json!([{"group": r.group, "version": r.version, "kind": r.kind}]);
        }
        schemas.entry(name).or_insert(schema);
    }
    Ok(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::KUBE_MINOR)},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}
