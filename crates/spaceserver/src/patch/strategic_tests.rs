//! Behaviour of [`strategic_merge_patch`] on objects and patches as real clients send them.

use serde_json::{Value, json};

use super::{GroupKind, PatchError, merge_patch, strategic_merge_patch};

const DEPLOYMENT: GroupKind<'static> = GroupKind::new("apps", "Deployment");

/// A Deployment as the apiserver stores it after `kubectl apply` (trimmed of defaults that play no
/// part here).
fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "4a1d5c7e-0000-4000-8000-000000000001",
            "resourceVersion": "4711",
            "generation": 3,
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "finalizers": ["example.com/cleanup", "orrery.io/protect"],
            "ownerReferences": [{
                "apiVersion": "orrery.io/v1alpha1", "kind": "Placement", "name": "web",
                "uid": "9b0e1f2a-0000-4000-8000-000000000002", "controller": true
            }]
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "prod"}, {"name": "LOG_LEVEL", "value": "info"}],
                            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]
                        },
                        {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "infinity"]}
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {}}],
                    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]
                }
            }
        },
        "status": {
            "observedGeneration": 3,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
            ]
        }
    })
}

const CONTAINERS: &str = "/spec/template/spec/containers";

/// `(pointer, expected value)`; `None` means the pointer must not resolve.
type Checks = Vec<(&'static str, Option<Value>)>;

fn names(doc: &Value, pointer: &str, key: &str) -> Vec<String> {
    doc.pointer(pointer)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|item| item.get(key)?.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Every key anywhere in `doc` that is a patch directive.
fn directives(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![doc];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    if key == "$patch"
                        || key == "$retainKeys"
                        || key.starts_with("$setElementOrder")
                        || key.starts_with("$deleteFromPrimitiveList")
                    {
                        found.push(key.clone());
                    }
                    stack.push(value);
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

#[test]
fn deployment_patches() {
    let cases: Vec<(&str, Value, Checks)> = vec![
        (
            "kubectl set image: one container changes, the other is untouched",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}}}),
            vec![
                ("/spec/template/spec/containers/0/image", Some(json!("nginx:1.26"))),
                ("/spec/template/spec/containers/0/ports", Some(json!([{"containerPort": 80, "protocol": "TCP"}]))),
                ("/spec/template/spec/containers/0/env/1/name", Some(json!("LOG_LEVEL"))),
                (
                    "/spec/template/spec/containers/1",
                    Some(deployment()["spec"]["template"]["spec"]["containers"][1].clone()),
                ),
                ("/spec/template/spec/containers/2", None),
            ],
        ),
        (
            "kubectl apply adding a container: $setElementOrder puts it last",
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "metrics"}],
                "containers": [{"name": "metrics", "image": "prom/statsd-exporter:v0.26"}]
            }}}}),
            vec![
                ("/spec/template/spec/containers/0/image", Some(json!("nginx:1.25"))),
                ("/spec/template/spec/containers/1/name", Some(json!("sidecar"))),
                (
                    "/spec/template/spec/containers/2",
                    Some(json!({"name": "metrics", "image": "prom/statsd-exporter:v0.26"})),
                ),
            ],
        ),
        (
            "kubectl apply changing an image with $setElementOrder",
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"image": "busybox:1.37", "name": "sidecar"}]
            }}}}),
            vec![
                ("/spec/template/spec/containers/0/name", Some(json!("app"))),
                ("/spec/template/spec/containers/1/image", Some(json!("busybox:1.37"))),
                ("/spec/template/spec/containers/1/args", Some(json!(["sleep", "infinity"]))),
            ],
        ),
        (
            "kubectl apply removing a container",
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{"$patch": "delete", "name": "sidecar"}]
            }}}}),
            vec![
                ("/spec/template/spec/containers/0/name", Some(json!("app"))),
                ("/spec/template/spec/containers/1", None),
            ],
        ),
        (
            "$setElementOrder alone reorders",
            json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}}}),
            vec![
                ("/spec/template/spec/containers/0/name", Some(json!("sidecar"))),
                ("/spec/template/spec/containers/1/image", Some(json!("nginx:1.25"))),
            ],
        ),
        (
            "env merged by name: one entry deleted, one changed, one added",
            json!({"spec": {"template": {"spec": {"containers": [{
                "name": "app",
                "env": [{"name": "LOG_LEVEL", "$patch": "delete"}, {"name": "MODE", "value": "staging"}, {"name": "REGION", "value": "eu"}]
            }]}}}}),
            vec![
                (
                    "/spec/template/spec/containers/0/env",
                    Some(json!([{"name": "MODE", "value": "staging"}, {"name": "REGION", "value": "eu"}])),
                ),
                ("/spec/template/spec/containers/0/image", Some(json!("nginx:1.25"))),
            ],
        ),
        (
            "ports merged by containerPort, volumeMounts by mountPath",
            json!({"spec": {"template": {"spec": {"containers": [{
                "name": "app",
                "ports": [{"containerPort": 80, "name": "http"}],
                "volumeMounts": [{"mountPath": "/cache", "readOnly": true}]
            }]}}}}),
            vec![
                (
                    "/spec/template/spec/containers/0/ports",
                    Some(json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])),
                ),
                (
                    "/spec/template/spec/containers/0/volumeMounts",
                    Some(json!([{"name": "cache", "mountPath": "/cache", "readOnly": true}])),
                ),
            ],
        ),
        (
            "kubectl apply switching a volume source: $retainKeys inside a merged element",
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/volumes": [{"name": "cache"}],
                "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "web-cache"}, "name": "cache"}]
            }}}}),
            vec![("/spec/template/spec/volumes", Some(json!([{"name": "cache", "configMap": {"name": "web-cache"}}])))],
        ),
        (
            "$setElementOrder on a primitive list together with a deletion",
            json!({"metadata": {
                "$setElementOrder/finalizers": ["orrery.io/protect", "example.com/new"],
                "finalizers": ["example.com/new"],
                "$deleteFromPrimitiveList/finalizers": ["example.com/cleanup"]
            }}),
            vec![("/metadata/finalizers", Some(json!(["orrery.io/protect", "example.com/new"])))],
        ),
        (
            "a list without a merge key (tolerations) is replaced",
            json!({"spec": {"template": {"spec": {"tolerations": [{"key": "gpu", "operator": "Exists"}]}}}}),
            vec![("/spec/template/spec/tolerations", Some(json!([{"key": "gpu", "operator": "Exists"}])))],
        ),
        (
            "container args (no merge key) are replaced",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "args": ["sleep", "60"]}]}}}}),
            vec![("/spec/template/spec/containers/1/args", Some(json!(["sleep", "60"])))],
        ),
        (
            "$deleteFromPrimitiveList/finalizers removes one finalizer",
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/cleanup"]}}),
            vec![("/metadata/finalizers", Some(json!(["orrery.io/protect"])))],
        ),
        (
            "finalizers merge as a set without duplicates",
            json!({"metadata": {"finalizers": ["orrery.io/protect", "example.com/audit"]}}),
            vec![(
                "/metadata/finalizers",
                Some(json!(["example.com/cleanup", "orrery.io/protect", "example.com/audit"])),
            )],
        ),
        (
            "ownerReferences merge by uid",
            json!({"metadata": {"ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "1c2d3e4f-0000-4000-8000-000000000003"
            }]}}),
            vec![
                ("/metadata/ownerReferences/0/name", Some(json!("owner"))),
                ("/metadata/ownerReferences/1/kind", Some(json!("Placement"))),
            ],
        ),
        (
            "$retainKeys clears the other member of a union (Recreate needs no rollingUpdate)",
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
            vec![("/spec/strategy", Some(json!({"type": "Recreate"})))],
        ),
        (
            "$retainKeys without null: unlisted keys are cleared all the same",
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            vec![("/spec/strategy", Some(json!({"type": "Recreate"})))],
        ),
        (
            "$patch: replace on a map replaces instead of merging",
            json!({"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "app": "web", "track": "canary"}}}}}),
            vec![("/spec/template/metadata/labels", Some(json!({"app": "web", "track": "canary"})))],
        ),
        (
            "$patch: replace on a map with fewer keys drops the others",
            json!({"spec": {"selector": {"$patch": "replace", "matchExpressions": [{"key": "app", "operator": "Exists"}]}}}),
            vec![("/spec/selector", Some(json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]})))],
        ),
        (
            "$patch: delete on a map removes it",
            json!({"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}}),
            vec![("/spec/strategy", Some(json!({"type": "RollingUpdate"})))],
        ),
        (
            "$patch: replace as a list element replaces the whole list",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "solo", "image": "alpine"}, {"$patch": "replace"}]}}}}),
            vec![(CONTAINERS, Some(json!([{"name": "solo", "image": "alpine"}])))],
        ),
        (
            "$patch: merge is the default and changes nothing",
            json!({"spec": {"$patch": "merge", "replicas": 5}}),
            vec![("/spec/replicas", Some(json!(5))), ("/spec/selector/matchLabels/app", Some(json!("web")))],
        ),
        (
            "null deletes a key; maps merge recursively",
            json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": null, "team": "shop"}}, "spec": {"replicas": 3}}),
            vec![("/metadata/annotations", Some(json!({"team": "shop"}))), ("/spec/replicas", Some(json!(3)))],
        ),
        (
            "status conditions merge by type",
            json!({"status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}}),
            vec![
                ("/status/conditions/0/type", Some(json!("Available"))),
                (
                    "/status/conditions/1",
                    Some(json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"})),
                ),
            ],
        ),
        (
            "directives inside values that are added whole are processed, not stored",
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "init-like"}],
                "containers": [{
                    "name": "init-like",
                    "image": "alpine",
                    "$setElementOrder/env": [{"name": "A"}],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "$patch": "delete"}],
                    "resources": {"$patch": "replace", "limits": {"cpu": "1"}, "requests": null}
                }],
                "affinity": {"$retainKeys": ["nodeAffinity"], "nodeAffinity": {"$patch": "replace"}}
            }}}}),
            vec![
                (
                    "/spec/template/spec/containers/2",
                    Some(
                        json!({"name": "init-like", "image": "alpine", "env": [{"name": "A", "value": "1"}], "resources": {"limits": {"cpu": "1"}}}),
                    ),
                ),
                ("/spec/template/spec/affinity", Some(json!({"nodeAffinity": {}}))),
            ],
        ),
    ];
    for (name, patch, checks) in cases {
        let before = deployment();
        let doc = strategic_merge_patch(&before, &patch, DEPLOYMENT).unwrap_or_else(|err| panic!("{name}: {err:?}"));
        assert_eq!(before, deployment(), "{name}: the target must not change");
        for (pointer, want) in checks {
            assert_eq!(doc.pointer(pointer), want.as_ref(), "{name}: {pointer}");
        }
        assert_eq!(directives(&doc), Vec::<String>::new(), "{name}: directives leaked");
        assert_eq!(doc["metadata"]["uid"], deployment()["metadata"]["uid"], "{name}");
    }
}

#[test]
fn new_container_without_set_element_order_goes_first() {
    // `kubectl patch deployment web -p '{"spec":{"template":{"spec":{"containers":[…]}}}}'`: the
    // apiserver puts an element it cannot place by the current order ahead of the current ones.
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "metrics", "image": "prom/statsd-exporter"}]}}}});
    let doc = strategic_merge_patch(&deployment(), &patch, DEPLOYMENT).unwrap();
    assert_eq!(names(&doc, CONTAINERS, "name"), ["metrics", "app", "sidecar"]);
}

#[test]
fn patch_order_wins_over_current_order() {
    // The apiserver's own table case: elements named in the patch take the patch's order, the rest
    // keep theirs, and both are interleaved by the current order.
    let pod =
        |names: &[&str]| json!({"spec": {"containers": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()}});
    let cases = [
        (["one", "two", "three"], vec!["three", "one"], vec!["two", "three", "one"]),
        (["one", "two", "three"], vec!["three", "one", "two"], vec!["three", "one", "two"]),
        (["one", "two", "three"], vec!["two"], vec!["one", "two", "three"]),
    ];
    for (current, patched, want) in cases {
        let doc = strategic_merge_patch(&pod(&current), &pod(&patched), GroupKind::new("", "Pod")).unwrap();
        assert_eq!(names(&doc, "/spec/containers", "name"), want, "{patched:?}");
    }
}

#[test]
fn strategic_versus_merge_patch_on_containers() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}}});
    let strategic = strategic_merge_patch(&deployment(), &patch, DEPLOYMENT).unwrap();
    let merged = merge_patch(deployment(), &patch).unwrap();
    assert_eq!(names(&strategic, CONTAINERS, "name"), ["app", "sidecar"]);
    assert_eq!(strategic.pointer("/spec/template/spec/containers/0/env/0/value"), Some(&json!("prod")));
    // RFC 7396 knows no merge keys: the list is replaced and the container loses everything else.
    assert_eq!(merged.pointer(CONTAINERS), Some(&json!([{"name": "app", "image": "nginx:1.26"}])));
}

#[test]
fn other_kinds() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}, {"containerPort": 443}]}]},
        "status": {"podIPs": [{"ip": "10.0.0.7"}], "conditions": [{"type": "Ready", "status": "False"}]}
    });
    let cron = json!({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure",
            "containers": [{"name": "backup", "image": "restic:0.16"}, {"name": "notify", "image": "curl"}]
        }}}}}
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "https", "port": 443}]}
    });
    let node = json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1"}],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}]
        }
    });
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": "10.0.0.7"}], "ports": [{"port": 8080}]}]
    });
    let widget = json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "finalizers": ["a"]},
        "spec": {"containers": [{"name": "x"}, {"name": "y"}]}
    });
    let cases: Vec<(&str, GroupKind<'_>, &Value, Value, Checks)> = vec![
        (
            "Pod: spec.containers by name, ports by containerPort",
            GroupKind::new("", "Pod"),
            &pod,
            json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.26", "ports": [{"containerPort": 443, "name": "https"}]}]}}),
            vec![
                ("/spec/containers/0/image", Some(json!("nginx:1.26"))),
                (
                    "/spec/containers/0/ports",
                    Some(json!([{"containerPort": 80}, {"containerPort": 443, "name": "https"}])),
                ),
            ],
        ),
        (
            "Pod status: conditions by type, podIPs by ip",
            GroupKind::new("", "Pod"),
            &pod,
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}], "podIPs": [{"ip": "fd00::7"}]}}),
            vec![
                ("/status/conditions", Some(json!([{"type": "Ready", "status": "True"}]))),
                ("/status/podIPs", Some(json!([{"ip": "fd00::7"}, {"ip": "10.0.0.7"}]))),
            ],
        ),
        (
            "CronJob: jobTemplate.spec.template.spec.containers by name",
            GroupKind::new("batch", "CronJob"),
            &cron,
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "backup", "image": "restic:0.17"}]}}}}}}),
            vec![
                ("/spec/jobTemplate/spec/template/spec/containers/0/image", Some(json!("restic:0.17"))),
                ("/spec/jobTemplate/spec/template/spec/containers/1/name", Some(json!("notify"))),
            ],
        ),
        (
            "Service: spec.ports by port",
            GroupKind::new("", "Service"),
            &service,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            vec![
                ("/spec/ports/0", Some(json!({"name": "http", "port": 80, "targetPort": 9090}))),
                ("/spec/ports/1/name", Some(json!("https"))),
            ],
        ),
        (
            "Node: status.addresses and status.conditions by type",
            GroupKind::new("", "Node"),
            &node,
            json!({"status": {
                "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}],
                "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]
            }}),
            vec![
                (
                    "/status/addresses",
                    Some(json!([{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n1"}])),
                ),
                ("/status/conditions/0/reason", Some(json!("KubeletNotReady"))),
                ("/status/conditions/1/type", Some(json!("MemoryPressure"))),
            ],
        ),
        (
            "Endpoints: subsets are replaced",
            GroupKind::new("", "Endpoints"),
            &endpoints,
            json!({"subsets": [{"addresses": [{"ip": "10.0.0.8"}], "ports": [{"port": 8080}]}]}),
            vec![("/subsets", Some(json!([{"addresses": [{"ip": "10.0.0.8"}], "ports": [{"port": 8080}]}])))],
        ),
        (
            "unknown kind: only metadata lists merge",
            GroupKind::new("example.com", "Widget"),
            &widget,
            json!({"metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "z"}]}}),
            vec![("/metadata/finalizers", Some(json!(["b", "a"]))), ("/spec/containers", Some(json!([{"name": "z"}])))],
        ),
        (
            "a top-level $patch: replace replaces the whole object",
            GroupKind::new("", "Endpoints"),
            &endpoints,
            json!({"$patch": "replace", "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"}}),
            vec![("/subsets", None), ("/metadata/name", Some(json!("web")))],
        ),
    ];
    for (name, kind, target, patch, checks) in cases {
        let doc = strategic_merge_patch(target, &patch, kind).unwrap_or_else(|err| panic!("{name}: {err:?}"));
        for (pointer, want) in checks {
            assert_eq!(doc.pointer(pointer), want.as_ref(), "{name}: {pointer}");
        }
        assert_eq!(directives(&doc), Vec::<String>::new(), "{name}: directives leaked");
    }
}

#[test]
fn errors() {
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("patch is not an object", json!([{"name": "app"}]), 400, "BadRequest"),
        (
            "$retainKeys is not a list",
            json!({"spec": {"strategy": {"$retainKeys": "type", "type": "Recreate"}}}),
            400,
            "BadRequest",
        ),
        (
            "$retainKeys does not list a key the patch sets",
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            400,
            "BadRequest",
        ),
        (
            "$setElementOrder without a field",
            json!({"spec": {"template": {"spec": {"$setElementOrder": []}}}}),
            400,
            "BadRequest",
        ),
        (
            "$setElementOrder is not a list",
            json!({"spec": {"template": {"spec": {"$setElementOrder/containers": {"name": "app"}}}}}),
            400,
            "BadRequest",
        ),
        (
            "$deleteFromPrimitiveList is not a list",
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
            400,
            "BadRequest",
        ),
        (
            "list of lists in a merging list",
            json!({"spec": {"template": {"spec": {"containers": [["app"]]}}}}),
            422,
            "Invalid",
        ),
        (
            "element without its merge key",
            json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.26"}]}}}}),
            500,
            "",
        ),
        ("unknown $patch value", json!({"spec": {"$patch": "frobnicate"}}), 500, ""),
        (
            "patch list out of the $setElementOrder order",
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"name": "sidecar", "image": "a"}, {"name": "app", "image": "b"}]
            }}}}),
            500,
            "",
        ),
        ("mixed element types", json!({"metadata": {"finalizers": [{"name": "a"}]}}), 500, ""),
    ];
    for (name, patch, code, reason) in cases {
        match strategic_merge_patch(&deployment(), &patch, DEPLOYMENT) {
            Ok(doc) => panic!("{name}: expected an error, got {doc}"),
            Err(err) => assert_eq!((err.status_code(), err.reason()), (code, reason), "{name}: {err:?}"),
        }
    }
    let err = strategic_merge_patch(
        &deployment(),
        &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
        DEPLOYMENT,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Unclassified(r#"map: {"image":"x"} does not contain declared merge key: name"#.to_owned())
    );
}
