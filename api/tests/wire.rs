//! Wire compatibility: objects in the shape of KubeStellar's documentation round-trip
//! through orrery's types with nothing dropped and nothing added, and every field they use
//! is declared in the generated CRD (so an API server would not prune it).

use kube::{Resource, ResourceExt};
use orrery_api::{
    CombinedStatus, Customizer, EdgePlacement, Location, SinglePlacementSlice, StatusCollector, SyncTarget,
    SyncerConfig, crds,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::path::Path;

fn read(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads `file` untyped and typed, and checks the typed value writes back exactly the
/// untyped one, through YAML and through JSON alike.
fn round_trip<K>(file: &str) -> K
where
    K: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let text = read(file);
    let untyped: Value = serde_saphyr::from_str(&text).expect("valid YAML");
    let typed: K = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let written = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(written, untyped, "{file}: what was written differs from what was read");
    let from_json: K = serde_json::from_value(untyped.clone()).expect("reads from JSON");
    assert_eq!(from_json, typed, "{file}: JSON and YAML readings differ");
    let yaml_again = serde_saphyr::to_string(&typed).expect("serializes to YAML");
    let reread: Value = serde_saphyr::from_str(&yaml_again).expect("re-reads");
    assert_eq!(reread, untyped, "{file}: YAML written back differs");
    assert_declared_in_crd(file, &untyped);
    typed
}

/// Every key of `obj` must be declared by the kind's CRD schema, or sit under a
/// `x-kubernetes-preserve-unknown-fields` / `additionalProperties` node.
fn assert_declared_in_crd(file: &str, obj: &Value) {
    let kind = obj["kind"].as_str().expect("kind");
    let crd = crds::all().into_iter().find(|c| c.spec.names.kind == kind).expect("a CRD for the kind");
    let schema = serde_json::to_value(crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()))
        .expect("schema serializes");
    let mut undeclared = Vec::new();
    for (key, value) in obj.as_object().expect("object") {
        if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        walk(&schema["properties"][key], value, key, &mut undeclared);
    }
    assert!(undeclared.is_empty(), "{file}: fields the CRD would prune: {undeclared:?}");
}

fn walk(schema: &Value, value: &Value, path: &str, undeclared: &mut Vec<String>) {
    if schema.is_null() {
        undeclared.push(path.to_owned());
        return;
    }
    if schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true) {
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let sub = if schema["additionalProperties"].is_object() {
                    &schema["additionalProperties"]
                } else {
                    &schema["properties"][k]
                };
                walk(sub, v, &format!("{path}.{k}"), undeclared);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(&schema["items"], v, &format!("{path}[{i}]"), undeclared);
            }
        }
        _ => {}
    }
}

#[test]
fn edge_placement() {
    let ep: EdgePlacement = round_trip("edgeplacement.yaml");
    let downsync = ep.spec.downsync.as_deref().unwrap_or_default();
    assert_eq!(downsync.len(), 5);
    assert_eq!(downsync[0].api_group.as_deref(), Some(""), "apiGroup \"\" stays the core group");
    assert_eq!(downsync[4].create_only, Some(true));
    assert_eq!(ep.spec.want_singleton_reported_state, Some(true));
    assert_eq!(ep.status.map(|s| s.matching_location_count), Some(2));
    assert!(orrery_api::validation::validate_edge_placement(&round_trip("edgeplacement.yaml")).is_empty());
}

#[test]
fn location() {
    let loc: Location = round_trip("location.yaml");
    assert_eq!(loc.spec.resource, orrery_api::GroupVersionResource::sync_targets());
    assert!(loc.spec.instance_selector.is_some());
}

#[test]
fn sync_target() {
    let st: SyncTarget = round_trip("synctarget.yaml");
    assert_eq!(st.labels().get("id").map(String::as_str), Some("florin"));
    let conditions = st.status.and_then(|s| s.conditions).unwrap_or_default();
    assert_eq!(conditions[1].severity.as_deref(), Some("Warning"));
}

#[test]
fn customizer() {
    let c: Customizer = round_trip("customizer.yaml");
    assert_eq!(c.spec.replacements.as_deref().map(<[_]>::len), Some(2));
    assert_eq!(c.meta().namespace.as_deref(), Some("commonstuff"));
}

#[test]
fn syncer_config_with_all_three_scopes() {
    let sc: SyncerConfig = round_trip("syncerconfig.yaml");
    assert!(sc.spec.namespace_scope.is_some());
    assert_eq!(sc.spec.namespaced_objects.as_deref().map(<[_]>::len), Some(1));
    assert_eq!(sc.spec.cluster_scope.as_deref().map(<[_]>::len), Some(3));
}

#[test]
fn single_placement_slice() {
    let sps: SinglePlacementSlice = round_trip("singleplacementslice.yaml");
    let d = &sps.spec.destinations[0];
    assert_eq!(d.mailbox_name(), "imw1-mb-5d8e2f30-8a61-4c4f-9f7e-2b9c6f0d1e2a");
}

#[test]
fn status_collector() {
    let sc: StatusCollector = round_trip("statuscollector.yaml");
    assert_eq!(sc.spec.limit, 10);
}

#[test]
fn combined_status() {
    let cs: CombinedStatus = round_trip("combinedstatus.yaml");
    let results = cs.spec.results.unwrap_or_default();
    assert_eq!(results[0].rows.as_deref().unwrap_or_default()[0].columns[0].number.as_deref(), Some("2"));
}

#[test]
fn kinds_without_a_spec_default_it_in_the_crd() {
    // KubeStellar's tooling creates SyncTargets with labels only; the CRD default fills in
    // `spec: {}` so that typed readers get an object they can decode.
    for crd in crds::all() {
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema");
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        if !spec.is_null() {
            assert_eq!(spec["default"], serde_json::json!({}), "{}", crd.spec.names.kind);
        }
    }
    let mut bare: Value = serde_saphyr::from_str(&read("synctarget.yaml")).expect("yaml");
    if let Some(o) = bare.as_object_mut() {
        o.retain(|k, _| k != "spec" && k != "status");
    }
    bare["spec"] = serde_json::json!({});
    let st: SyncTarget = serde_json::from_value(bare).expect("a defaulted bare SyncTarget decodes");
    assert_eq!(st.spec, Default::default());
}
