//! The status a cluster's controllers and kubelet would give a workload object, without
//! running anything: what `orrery up --sim-wecs` shows, so that status return and
//! StatusCollectors have something real-looking to carry. Every condition message says
//! it is simulated.
//!
//! An object goes through two phases per generation: [`Phase::Starting`] as soon as it is
//! seen (observed, nothing ready yet), [`Phase::Ready`] after the simulated start-up delay
//! (every replica ready; a Job complete; a Pod running).

use kube::api::DynamicObject;
use serde_json::{Value, json};

/// Said by every simulated condition.
pub const SIMULATED: &str = "simulated by orrery simcluster: nothing runs";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Ready,
}

/// The kinds that get a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    Pod,
}

impl Kind {
    /// All of them, with (group, version, kind, plural).
    pub const ALL: [(Kind, &'static str, &'static str, &'static str, &'static str); 6] = [
        (Kind::Deployment, "apps", "v1", "Deployment", "deployments"),
        (Kind::ReplicaSet, "apps", "v1", "ReplicaSet", "replicasets"),
        (Kind::StatefulSet, "apps", "v1", "StatefulSet", "statefulsets"),
        (Kind::DaemonSet, "apps", "v1", "DaemonSet", "daemonsets"),
        (Kind::Job, "batch", "v1", "Job", "jobs"),
        (Kind::Pod, "", "v1", "Pod", "pods"),
    ];
}

fn int(v: &Value, pointer: &str, default: i64) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(default)
}

fn condition(type_: &str, ok: bool, reason: &str, now: &str) -> Value {
    json!({"type": type_, "status": if ok { "True" } else { "False" }, "reason": reason,
           "message": SIMULATED, "lastTransitionTime": now})
}

/// What a status is made from: an object's name and generation, and the few fields of its
/// spec that a status reports on. A simulated cluster keeps one for every object it
/// follows, in place of the object: decoded, a Deployment's spec is a tree of a dozen
/// maps, and a simulated cluster follows every object of every WEC.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Workload {
    pub name: Option<String>,
    /// `metadata.generation` (1 when not set).
    pub generation: i64,
    /// `spec.replicas` (1 when not set).
    pub replicas: i64,
    /// A Job's `spec.completions` (1 when not set).
    pub completions: i64,
    /// A Job's `spec.parallelism` (1 when not set).
    pub parallelism: i64,
    /// A Pod's containers: the `name` and `image` of each of `spec.containers`.
    pub containers: Vec<(Value, Value)>,
}

impl From<&DynamicObject> for Workload {
    /// Read in place: the object is not turned into JSON first.
    fn from(object: &DynamicObject) -> Self {
        let spec = object.data.get("spec").unwrap_or(&Value::Null);
        let containers = spec.get("containers").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        Self {
            name: object.metadata.name.clone(),
            generation: object.metadata.generation.unwrap_or(1),
            replicas: int(spec, "/replicas", 1),
            completions: int(spec, "/completions", 1),
            parallelism: int(spec, "/parallelism", 1),
            containers: containers.iter().map(|c| (c["name"].clone(), c["image"].clone())).collect(),
        }
    }
}

/// The status of `object` (of `kind`) in `phase`, stamped `now` (RFC 3339).
pub fn status(kind: Kind, object: &Workload, phase: Phase, now: &str) -> Value {
    let generation = object.generation;
    let ready = phase == Phase::Ready;
    let replicas = object.replicas.max(0);
    let up = if ready { replicas } else { 0 };
    match kind {
        Kind::Deployment => {
            let mut conditions = vec![condition(
                "Available",
                ready || replicas == 0,
                if ready { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                now,
            )];
            let mut progressing =
                condition("Progressing", true, if ready { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" }, now);
            progressing["lastUpdateTime"] = json!(now);
            conditions.push(progressing);
            let mut s = json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                               "readyReplicas": up, "availableReplicas": up, "conditions": conditions});
            if replicas > up {
                s["unavailableReplicas"] = json!(replicas - up);
            }
            s
        }
        Kind::ReplicaSet => json!({"observedGeneration": generation, "replicas": replicas,
                                   "fullyLabeledReplicas": replicas, "readyReplicas": up, "availableReplicas": up}),
        Kind::StatefulSet => {
            let revision = format!("{}-sim", object.name.as_deref().unwrap_or("set"));
            json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": up,
                   "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": up,
                   "currentRevision": revision, "updateRevision": revision, "collisionCount": 0})
        }
        Kind::DaemonSet => {
            // One simulated node.
            let up = i64::from(ready);
            json!({"observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                   "updatedNumberScheduled": 1, "numberMisscheduled": 0, "numberReady": up, "numberAvailable": up})
        }
        Kind::Job => {
            let completions = object.completions.max(0);
            if ready {
                json!({"startTime": now, "completionTime": now, "succeeded": completions, "active": 0, "ready": 0,
                       "terminating": 0, "uncountedTerminatedPods": {},
                       "conditions": [condition("SuccessCriteriaMet", true, "CompletionsReached", now),
                                      condition("Complete", true, "CompletionsReached", now)]})
            } else {
                let parallelism = object.parallelism.clamp(0, completions.max(1));
                json!({"startTime": now, "active": parallelism, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}})
            }
        }
        Kind::Pod => {
            let containers: Vec<Value> = object
                .containers
                .iter()
                .map(|(name, image)| {
                    let state = if ready {
                        json!({"running": {"startedAt": now}})
                    } else {
                        json!({"waiting": {"reason": "ContainerCreating", "message": SIMULATED}})
                    };
                    json!({"name": name, "image": image, "imageID": "", "ready": ready, "started": ready,
                           "restartCount": 0, "state": state})
                })
                .collect();
            json!({"phase": if ready { "Running" } else { "Pending" }, "startTime": now,
                   "hostIP": "10.0.0.1", "podIP": "10.0.0.2", "qosClass": "BestEffort",
                   "conditions": [condition("PodScheduled", true, "Scheduled", now),
                                  condition("Initialized", true, "Initialized", now),
                                  condition("ContainersReady", ready, "Simulated", now),
                                  condition("Ready", ready, "Simulated", now)],
                   "containerStatuses": containers})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-22T10:00:00Z";

    /// `object` (JSON, metadata optional) as the simulated clusters' watch decodes it.
    fn dynamic(object: &Value) -> DynamicObject {
        let mut object = object.clone();
        object.as_object_mut().expect("an object").entry("metadata").or_insert_with(|| json!({}));
        serde_json::from_value(object).expect("a DynamicObject")
    }

    #[test]
    fn workloads_start_then_are_ready() {
        let d = json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2}});
        let cases: &[(Kind, &Value, &str, Value, Value)] = &[
            // (kind, object, field, starting, ready)
            (Kind::Deployment, &d, "/readyReplicas", json!(0), json!(2)),
            (Kind::Deployment, &d, "/observedGeneration", json!(3), json!(3)),
            (Kind::Deployment, &d, "/unavailableReplicas", json!(2), Value::Null),
            (Kind::Deployment, &d, "/conditions/0/status", json!("False"), json!("True")),
            (Kind::ReplicaSet, &d, "/availableReplicas", json!(0), json!(2)),
            (Kind::StatefulSet, &d, "/readyReplicas", json!(0), json!(2)),
            (Kind::StatefulSet, &d, "/currentRevision", json!("web-sim"), json!("web-sim")),
            (Kind::DaemonSet, &d, "/numberReady", json!(0), json!(1)),
            (Kind::Job, &d, "/succeeded", Value::Null, json!(1)),
            (Kind::Job, &d, "/active", json!(1), json!(0)),
            (Kind::Job, &d, "/conditions/1/type", Value::Null, json!("Complete")),
        ];
        for (kind, object, field, starting, ready) in cases {
            let s = status(*kind, &Workload::from(&dynamic(object)), Phase::Starting, NOW);
            let r = status(*kind, &Workload::from(&dynamic(object)), Phase::Ready, NOW);
            assert_eq!(s.pointer(field).unwrap_or(&Value::Null), starting, "{kind:?} starting {field}");
            assert_eq!(r.pointer(field).unwrap_or(&Value::Null), ready, "{kind:?} ready {field}");
        }
    }

    /// What is kept of an object: its name, generation, and the spec fields a status reads,
    /// with the defaults of the fields left unset.
    #[test]
    fn a_workload_is_what_its_status_is_made_from() {
        let full = json!({"metadata": {"name": "web", "generation": 4, "labels": {"app": "web"}},
                          "spec": {"replicas": 3, "completions": 5, "parallelism": 2,
                                   "selector": {"matchLabels": {"app": "web"}},
                                   "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]},
                                                  {"image": "busybox"}]}});
        let cases = [
            (
                &full,
                Workload {
                    name: Some("web".into()),
                    generation: 4,
                    replicas: 3,
                    completions: 5,
                    parallelism: 2,
                    containers: vec![(json!("c"), json!("nginx")), (Value::Null, json!("busybox"))],
                },
            ),
            (
                &json!({}),
                Workload { generation: 1, replicas: 1, completions: 1, parallelism: 1, ..Workload::default() },
            ),
        ];
        for (object, want) in cases {
            assert_eq!(Workload::from(&dynamic(object)), want, "{object}");
        }
    }

    #[test]
    fn pods_run_and_say_they_are_simulated() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let starting = status(Kind::Pod, &Workload::from(&dynamic(&pod)), Phase::Starting, NOW);
        assert_eq!(starting["phase"], "Pending");
        let running = status(Kind::Pod, &Workload::from(&dynamic(&pod)), Phase::Ready, NOW);
        assert_eq!(running["phase"], "Running");
        assert_eq!(running["containerStatuses"][0]["ready"], true);
        assert_eq!(running["conditions"][3]["message"], SIMULATED);
        // A Deployment scaled to zero is available at once; a Job of 3 completions succeeds 3.
        let zero = json!({"spec": {"replicas": 0}});
        assert_eq!(
            status(Kind::Deployment, &Workload::from(&dynamic(&zero)), Phase::Starting, NOW)["conditions"][0]["status"],
            "True"
        );
        let job = json!({"spec": {"completions": 3, "parallelism": 2}});
        assert_eq!(status(Kind::Job, &Workload::from(&dynamic(&job)), Phase::Starting, NOW)["active"], 2);
        assert_eq!(status(Kind::Job, &Workload::from(&dynamic(&job)), Phase::Ready, NOW)["succeeded"], 3);
    }
}
