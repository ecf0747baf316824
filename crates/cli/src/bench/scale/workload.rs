//! The workload a scale run places: namespace `bench`, Deployments `load-0` … `load-<M-1>`,
//! a StatusCollector listing the WECs where a Deployment is ready, and P EdgePlacements
//! that each select every WEC (by the label `bench=scale`) and carry a share of the
//! Deployments (`load-j` goes with placement `j mod P`), with the namespace.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

pub const NAMESPACE: &str = "bench";
/// The label every bench WEC's Location carries, and the placements select.
pub const WEC_LABEL: (&str, &str) = ("bench", "scale");
/// The pod-template annotation an update changes: a change that must reach every WEC.
pub const REV_ANNOTATION: &str = "bench.orrery.io/rev";
const OBJECT_PREFIX: &str = "load-";
const COLLECTOR: &str = "ready-wecs";

pub fn object_name(i: usize) -> String {
    format!("{OBJECT_PREFIX}{i}")
}

/// `load-7` → 7.
pub fn object_index(name: &str) -> Option<usize> {
    name.strip_prefix(OBJECT_PREFIX)?.parse().ok()
}

/// Whether a Deployment's status says all its replicas are ready (what the simulated
/// clusters report once the start-up delay has passed). A Deployment read without its
/// spec (the observer reads the mailbox copies' status only) is held to the replicas its
/// status counts.
pub fn is_ready(deployment: &Value) -> bool {
    let wanted = |at| deployment.pointer(at).and_then(Value::as_i64);
    let want = match deployment.get("spec") {
        Some(_) => wanted("/spec/replicas"),
        None => wanted("/status/replicas"),
    };
    let want = want.unwrap_or(1);
    deployment.pointer("/status/readyReplicas").and_then(Value::as_i64) == Some(want)
}

/// The update revision of a Deployment's pod template ([`REV_ANNOTATION`]).
pub fn rev(deployment: &Value) -> Option<&str> {
    deployment.pointer("/spec/template/metadata/annotations")?.get(REV_ANNOTATION)?.as_str()
}

/// The WECs the CombinedStatus's `ready-wecs` table lists. (Read typed: at 10,000 WECs a
/// CombinedStatus is half a megabyte, and decoding each version as a tree of values was a
/// twentieth of the bench process.)
pub fn ready_wecs(combined: &orrery_api::CombinedStatus) -> impl Iterator<Item = &str> {
    combined
        .spec
        .results
        .iter()
        .flatten()
        .filter(|r| r.name == COLLECTOR)
        .filter_map(|r| r.rows.as_ref())
        .flatten()
        .filter_map(|row| row.columns.first()?.string.as_deref())
}

/// The workload's Deployment `load-<i>`.
pub(in crate::bench) fn deployment(i: usize) -> Value {
    let name = object_name(i);
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": NAMESPACE},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}, "annotations": {REV_ANNOTATION: "0"}},
                                 "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}}})
}

/// Every WEC where the Deployment is ready, one row each; `limit` is the number of WECs so
/// that no row is cut.
fn collector(wecs: usize) -> Value {
    json!({"apiVersion": orrery_api::API_VERSION, "kind": "StatusCollector",
           "metadata": {"name": COLLECTOR},
           "spec": {"filter": "returned.status != null && has(returned.status.readyReplicas) && returned.status.readyReplicas == obj.spec.replicas",
                    "select": [{"name": "wec", "def": "inventory.name"}],
                    "limit": wecs}})
}

fn placement(k: usize, placements: usize, objects: usize) -> Value {
    let names: Vec<String> = (0..objects).filter(|j| j % placements == k).map(object_name).collect();
    json!({"apiVersion": orrery_api::API_VERSION, "kind": "EdgePlacement",
           "metadata": {"name": format!("scale-{k}")},
           "spec": {"locationSelectors": [{"matchLabels": {WEC_LABEL.0: WEC_LABEL.1}}],
                    "downsync": [
                        {"apiGroup": "", "resources": ["namespaces"], "objectNames": [NAMESPACE]},
                        {"apiGroup": "apps", "resources": ["deployments"], "namespaces": [NAMESPACE],
                         "objectNames": names, "statusCollectors": [COLLECTOR]}]}})
}

/// Every object of the workload, in the order they are written: what the placements
/// need first, the placements last.
pub fn objects(wecs: usize, objects: usize, placements: usize) -> Vec<Value> {
    let mut all =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}), collector(wecs)];
    all.extend((0..objects).map(deployment));
    all.extend((0..placements).map(|k| placement(k, placements, objects)));
    all
}

/// The resource of one of [`objects`]'s objects.
fn resource(object: &Value) -> anyhow::Result<ApiResource> {
    Ok(match object["kind"].as_str().unwrap_or_default() {
        "Namespace" => ApiResource::erase::<Namespace>(&()),
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "StatusCollector" => ApiResource::erase::<orrery_api::StatusCollector>(&()),
        "EdgePlacement" => ApiResource::erase::<orrery_api::EdgePlacement>(&()),
        other => anyhow::bail!("the workload has no {other:?}"),
    })
}

/// Writes the workload into the WDS, one object after the other.
pub async fn write(wds: &kube::Client, all: &[Value]) -> anyhow::Result<()> {
    for object in all {
        let resource = resource(object)?;
        let api: Api<DynamicObject> = match object.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(ns) => Api::namespaced_with(wds.clone(), ns, &resource),
            None => Api::all_with(wds.clone(), &resource),
        };
        api.create(&PostParams::default(), &serde_json::from_value(object.clone())?).await?;
    }
    Ok(())
}

/// Changes `load-0`'s pod template to revision `rev`.
pub async fn update(wds: &kube::Client, rev: &str) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(wds.clone(), NAMESPACE, &resource(&deployment(0))?);
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {REV_ANNOTATION: rev}}}}});
    api.patch(&object_name(0), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_round_trip_and_others_are_not_the_workloads() {
        assert_eq!(object_index(&object_name(42)), Some(42));
        for other in ["load-", "load-x", "hello", "xload-1"] {
            assert_eq!(object_index(other), None, "{other}");
        }
    }

    #[test]
    fn the_revision_is_read_from_the_pod_template() {
        assert_eq!(rev(&deployment(0)), Some("0"));
        assert_eq!(rev(&json!({"spec": {}})), None);
    }

    #[test]
    fn readiness_is_all_replicas_ready() {
        let cases = [
            (json!({"spec": {"replicas": 1}, "status": {"readyReplicas": 1}}), true),
            (json!({"spec": {"replicas": 2}, "status": {"readyReplicas": 1}}), false),
            (json!({"spec": {"replicas": 1}, "status": {}}), false),
            (json!({"spec": {"replicas": 1}}), false),
            (json!({"spec": {}, "status": {"replicas": 2, "readyReplicas": 1}}), true),
            (json!({"status": {"replicas": 2, "readyReplicas": 2}}), true),
            (json!({"status": {"replicas": 2, "readyReplicas": 1}}), false),
            (json!({"status": {"readyReplicas": 1}}), true),
            (json!({}), false),
        ];
        for (d, want) in cases {
            assert_eq!(is_ready(&d), want, "{d}");
        }
    }

    #[test]
    fn ready_wecs_come_from_the_collectors_rows_only() {
        let typed = |v: Value| serde_json::from_value::<orrery_api::CombinedStatus>(v).expect("a CombinedStatus");
        let head = |results: Value| {
            json!({"apiVersion": orrery_api::API_VERSION, "kind": "CombinedStatus", "metadata": {"name": "cs"},
                   "results": results})
        };
        let combined = typed(head(json!([
            {"name": "other", "columnNames": ["wec"], "rows": [{"columns": [{"type": "String", "string": "wec9"}]}]},
            {"name": COLLECTOR, "columnNames": ["wec"], "rows": [{"columns": [{"type": "String", "string": "wec1"}]},
                                                               {"columns": [{"type": "String", "string": "wec2"}]}]}])));
        assert_eq!(ready_wecs(&combined).collect::<Vec<_>>(), ["wec1", "wec2"]);
        assert_eq!(ready_wecs(&typed(head(Value::Null))).count(), 0);
    }

    #[test]
    fn placements_share_the_objects_and_all_select_the_bench_wecs() {
        let all = objects(10, 5, 2);
        assert_eq!(all.len(), 2 + 5 + 2);
        let placements: Vec<&Value> = all.iter().filter(|o| o["kind"] == "EdgePlacement").collect();
        let names = |p: &Value| p.pointer("/spec/downsync/1/objectNames").cloned();
        assert_eq!(names(placements[0]), Some(json!(["load-0", "load-2", "load-4"])));
        assert_eq!(names(placements[1]), Some(json!(["load-1", "load-3"])));
        for p in placements {
            assert_eq!(p.pointer("/spec/locationSelectors/0/matchLabels/bench"), Some(&json!("scale")));
        }
        assert_eq!(all[1].pointer("/spec/limit"), Some(&json!(10)));
        for o in &all {
            assert!(resource(o).is_ok(), "{o}");
        }
    }
}
