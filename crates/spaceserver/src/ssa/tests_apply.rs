//! Server-side apply, as scenarios: a sequence of writes to one Deployment, then what the object
//! holds, who owns what, or the exact error kube-apiserver would answer with.

use serde_json::{Value, json};

use super::*;

/// One write of a scenario.
enum Step {
    Apply {
        manager: &'static str,
        force: bool,
        config: Value,
    },
    /// An ordinary write (`kubectl edit`, a controller's update): `edit` turns the current
    /// object into the written one.
    Update {
        manager: &'static str,
        edit: fn(&mut Value),
    },
    /// Stores an object as is, without tracking (an object from before field tracking).
    Store(Value),
}

/// What the last step must produce.
enum Expect {
    /// Success: JSON pointer → value (`None`: absent), and manager → every path it owns.
    Object { values: Vec<(&'static str, Option<Value>)>, owners: Vec<(&'static str, Vec<&'static str>)> },
    /// Failure with this message and these `(cause message, cause field)` pairs.
    Error { message: &'static str, causes: Vec<(&'static str, &'static str)> },
}

struct Case {
    name: &'static str,
    steps: Vec<Step>,
    expect: Expect,
}

fn apply_by(manager: &'static str, config: Value) -> Step {
    Step::Apply { manager, force: false, config }
}

fn force_by(manager: &'static str, config: Value) -> Step {
    Step::Apply { manager, force: true, config }
}

/// A Deployment configuration with `spec` (and optionally `metadata`) merged over the
/// identity fields.
fn config(spec: Value) -> Value {
    let mut obj =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}});
    obj["spec"] = spec;
    obj
}

fn with_labels(mut obj: Value, labels: Value) -> Value {
    obj["metadata"]["labels"] = labels;
    obj
}

fn container(name: &str, image: &str) -> Value {
    json!({"name": name, "image": image})
}

fn full(replicas: i64, image: &str) -> Value {
    config(json!({
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container("nginx", image)]}}
    }))
}

fn containers(items: Vec<Value>) -> Value {
    config(json!({"template": {"spec": {"containers": items}}}))
}

const FULL_PATHS: [&str; 6] = [
    ".spec.replicas",
    ".spec.selector",
    ".spec.template.metadata.labels.app",
    ".spec.template.spec.containers[name=\"nginx\"]",
    ".spec.template.spec.containers[name=\"nginx\"].image",
    ".spec.template.spec.containers[name=\"nginx\"].name",
];

fn full_paths_except(skip: &[&str]) -> Vec<&'static str> {
    FULL_PATHS.iter().copied().filter(|p| !skip.contains(p)).collect()
}

fn owned_by(obj: &Value, manager: &str) -> Vec<String> {
    let entries = decode_managed_fields(obj).expect("managedFields decode");
    let mut paths: Vec<String> =
        entries.iter().filter(|e| e.manager == manager).flat_map(|e| e.fields.paths()).map(|p| p.to_string()).collect();
    paths.sort();
    paths
}

fn run(case: &Case) -> Result<Value, ApplyError> {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let mut live: Option<Value> = None;
    let last = case.steps.len() - 1;
    for (i, step) in case.steps.iter().enumerate() {
        let now = format!("2024-05-01T00:00:{i:02}Z");
        let result = match step {
            Step::Apply { manager, force, config } => apply(live.as_ref(), config, manager, *force, &types, &now),
            Step::Update { manager, edit } => {
                let mut new = live.clone().unwrap_or(Value::Null);
                edit(&mut new);
                Ok(update(live.as_ref(), new.clone(), manager, None, &types, &now))
            }
            Step::Store(obj) => Ok(obj.clone()),
        };
        match result {
            Ok(obj) => live = Some(obj),
            Err(e) if i == last => return Err(e),
            Err(e) => panic!("{}: step {i} failed: {e}", case.name),
        }
    }
    live.ok_or_else(|| ApplyError::Invalid("no steps".into()))
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "create by apply: the applier owns every field it applied",
            steps: vec![apply_by("alice", full(3, "nginx:1"))],
            expect: Expect::Object {
                values: vec![("/spec/replicas", Some(json!(3))), ("/metadata/name", Some(json!("web")))],
                owners: vec![("alice", FULL_PATHS.to_vec())],
            },
        },
        Case {
            name: "re-apply by the same manager changes its own fields without conflict",
            steps: vec![apply_by("alice", full(3, "nginx:1")), apply_by("alice", full(5, "nginx:2"))],
            expect: Expect::Object {
                values: vec![
                    ("/spec/replicas", Some(json!(5))),
                    ("/spec/template/spec/containers/0/image", Some(json!("nginx:2"))),
                ],
                owners: vec![("alice", FULL_PATHS.to_vec())],
            },
        },
        Case {
            name: "a second applier changing a field the first owns conflicts",
            steps: vec![apply_by("alice", full(3, "nginx:1")), apply_by("bob", config(json!({"replicas": 5})))],
            expect: Expect::Error {
                message: "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas",
                causes: vec![("conflict with \"alice\"", ".spec.replicas")],
            },
        },
        Case {
            name: "force moves ownership to the forcing applier",
            steps: vec![apply_by("alice", full(3, "nginx:1")), force_by("bob", config(json!({"replicas": 5})))],
            expect: Expect::Object {
                values: vec![("/spec/replicas", Some(json!(5)))],
                owners: vec![("bob", vec![".spec.replicas"]), ("alice", full_paths_except(&[".spec.replicas"]))],
            },
        },
        Case {
            name: "force drops an entry left empty",
            steps: vec![
                apply_by("alice", config(json!({"replicas": 3}))),
                force_by("bob", config(json!({"replicas": 5}))),
            ],
            expect: Expect::Object {
                values: vec![("/spec/replicas", Some(json!(5)))],
                owners: vec![("bob", vec![".spec.replicas"]), ("alice", vec![])],
            },
        },
        Case {
            name: "applying the same value shares ownership",
            steps: vec![apply_by("alice", full(3, "nginx:1")), apply_by("bob", config(json!({"replicas": 3})))],
            expect: Expect::Object {
                values: vec![("/spec/replicas", Some(json!(3)))],
                owners: vec![("bob", vec![".spec.replicas"]), ("alice", FULL_PATHS.to_vec())],
            },
        },
        Case {
            name: "a field the applier alone owned and no longer applies is removed",
            steps: vec![
                apply_by("alice", config(json!({"replicas": 3, "minReadySeconds": 10}))),
                apply_by("alice", config(json!({"replicas": 3}))),
            ],
            expect: Expect::Object {
                values: vec![("/spec/minReadySeconds", None), ("/spec/replicas", Some(json!(3)))],
                owners: vec![("alice", vec![".spec.replicas"])],
            },
        },
        Case {
            name: "a field also owned by another manager is kept when the applier drops it",
            steps: vec![
                apply_by("alice", full(3, "nginx:1")),
                apply_by("bob", config(json!({"replicas": 3}))),
                apply_by(
                    "alice",
                    config(json!({
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [container("nginx", "nginx:1")]}
                        }
                    })),
                ),
            ],
            expect: Expect::Object {
                values: vec![("/spec/replicas", Some(json!(3)))],
                owners: vec![("bob", vec![".spec.replicas"]), ("alice", full_paths_except(&[".spec.replicas"]))],
            },
        },
        Case {
            // Alice's configuration no longer reaches `metadata` at all; bob's entry is still
            // read, through the fields alice applied last.
            name: "a label shared with another applier is kept when the applier drops all its labels",
            steps: vec![
                apply_by("alice", with_labels(config(json!({"replicas": 1})), json!({"team": "a"}))),
                apply_by(
                    "bob",
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"team": "a"}}}),
                ),
                apply_by("alice", config(json!({"replicas": 1}))),
            ],
            expect: Expect::Object {
                values: vec![("/metadata/labels/team", Some(json!("a")))],
                owners: vec![("alice", vec![".spec.replicas"]), ("bob", vec![".metadata.labels.team"])],
            },
        },
        Case {
            name: "list-map: two appliers each own one container",
            steps: vec![
                apply_by("alice", full(3, "nginx:1")),
                apply_by("bob", containers(vec![container("sidecar", "busybox")])),
            ],
            expect: Expect::Object {
                values: vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("nginx"))),
                    ("/spec/template/spec/containers/1/name", Some(json!("sidecar"))),
                    ("/spec/template/spec/containers/2", None),
                ],
                owners: vec![
                    ("alice", FULL_PATHS.to_vec()),
                    (
                        "bob",
                        vec![
                            ".spec.template.spec.containers[name=\"sidecar\"]",
                            ".spec.template.spec.containers[name=\"sidecar\"].image",
                            ".spec.template.spec.containers[name=\"sidecar\"].name",
                        ],
                    ),
                ],
            },
        },
        Case {
            name: "list-map: changing another applier's container conflicts at the element's field",
            steps: vec![
                apply_by("alice", full(3, "nginx:1")),
                apply_by("bob", containers(vec![container("sidecar", "busybox")])),
                apply_by("bob", containers(vec![container("sidecar", "busybox"), container("nginx", "nginx:2")])),
            ],
            expect: Expect::Error {
                message: "Apply failed with 1 conflict: conflict with \"alice\": .spec.template.spec.containers[name=\"nginx\"].image",
                causes: vec![("conflict with \"alice\"", ".spec.template.spec.containers[name=\"nginx\"].image")],
            },
        },
        Case {
            name: "list-map: a container its applier stops applying goes, the other's stays",
            steps: vec![
                apply_by("alice", full(3, "nginx:1")),
                apply_by("bob", containers(vec![container("sidecar", "busybox")])),
                apply_by("bob", containers(vec![])),
            ],
            expect: Expect::Object {
                values: vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("nginx"))),
                    ("/spec/template/spec/containers/1", None),
                ],
                owners: vec![("alice", FULL_PATHS.to_vec()), ("bob", vec![])],
            },
        },
        Case {
            name: "ports without a protocol match the defaulted TCP element",
            steps: vec![
                apply_by("alice", containers(vec![json!({"name": "nginx", "ports": [{"containerPort": 80}]})])),
                apply_by(
                    "bob",
                    containers(vec![
                        json!({"name": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}),
                    ]),
                ),
            ],
            expect: Expect::Object {
                values: vec![
                    ("/spec/template/spec/containers/0/ports/0/name", Some(json!("http"))),
                    ("/spec/template/spec/containers/0/ports/1", None),
                ],
                owners: vec![(
                    "bob",
                    vec![
                        ".spec.template.spec.containers[name=\"nginx\"]",
                        ".spec.template.spec.containers[name=\"nginx\"].name",
                        ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"]",
                        ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].containerPort",
                        ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].name",
                        ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].protocol",
                    ],
                )],
            },
        },
        Case {
            name: "labels are owned per key",
            steps: vec![
                apply_by("alice", with_labels(config(json!({"replicas": 1})), json!({"team": "a"}))),
                apply_by(
                    "bob",
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"tier": "web"}}}),
                ),
                apply_by("alice", config(json!({"replicas": 1}))),
            ],
            expect: Expect::Object {
                values: vec![("/metadata/labels/team", None), ("/metadata/labels/tier", Some(json!("web")))],
                owners: vec![("alice", vec![".spec.replicas"]), ("bob", vec![".metadata.labels.tier"])],
            },
        },
        Case {
            name: "set-typed lists are owned per value",
            steps: vec![
                apply_by("alice", with_labels(config(json!({"replicas": 1})), json!({"a": "1"}))),
                apply_by("alice", {
                    let mut c = config(json!({"replicas": 1}));
                    c["metadata"]["finalizers"] = json!(["example.com/a", "example.com/b"]);
                    c
                }),
                apply_by(
                    "bob",
                    json!({
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {"name": "web", "finalizers": ["example.com/c"]}
                    }),
                ),
                apply_by("alice", {
                    let mut c = config(json!({"replicas": 1}));
                    c["metadata"]["finalizers"] = json!(["example.com/a"]);
                    c
                }),
            ],
            expect: Expect::Object {
                values: vec![
                    ("/metadata/finalizers", Some(json!(["example.com/a", "example.com/c"]))),
                    ("/metadata/labels", None),
                ],
                owners: vec![
                    ("alice", vec![".metadata.finalizers[=\"example.com/a\"]", ".spec.replicas"]),
                    ("bob", vec![".metadata.finalizers[=\"example.com/c\"]"]),
                ],
            },
        },
        Case {
            name: "an update after apply takes the changed field; re-applying the old value conflicts",
            steps: vec![
                apply_by("alice", full(3, "nginx:1")),
                Step::Update { manager: "kubectl-edit", edit: |o| o["spec"]["replicas"] = json!(5) },
                apply_by("alice", full(3, "nginx:1")),
            ],
            expect: Expect::Error {
                message: "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas",
                causes: vec![("conflict with \"kubectl-edit\" using apps/v1", ".spec.replicas")],
            },
        },
        Case {
            name: "an update after apply: ownership moved to the updater",
            steps: vec![
                apply_by("alice", full(3, "nginx:1")),
                Step::Update { manager: "kubectl-edit", edit: |o| o["spec"]["replicas"] = json!(5) },
            ],
            expect: Expect::Object {
                values: vec![("/spec/replicas", Some(json!(5)))],
                owners: vec![
                    ("kubectl-edit", vec![".spec.replicas"]),
                    ("alice", full_paths_except(&[".spec.replicas"])),
                ],
            },
        },
        Case {
            name: "re-applying the updater's value shares the field instead of conflicting",
            steps: vec![
                apply_by("alice", full(3, "nginx:1")),
                Step::Update { manager: "kubectl-edit", edit: |o| o["spec"]["replicas"] = json!(5) },
                apply_by("alice", full(5, "nginx:1")),
            ],
            expect: Expect::Object {
                values: vec![("/spec/replicas", Some(json!(5)))],
                owners: vec![("kubectl-edit", vec![".spec.replicas"]), ("alice", FULL_PATHS.to_vec())],
            },
        },
        Case {
            name: "several conflicts are grouped by manager",
            steps: vec![
                apply_by("alice", config(json!({"replicas": 3, "minReadySeconds": 5}))),
                apply_by("bob", config(json!({"replicas": 4, "minReadySeconds": 6}))),
            ],
            expect: Expect::Error {
                message: "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.minReadySeconds\n- .spec.replicas",
                causes: vec![
                    ("conflict with \"alice\"", ".spec.minReadySeconds"),
                    ("conflict with \"alice\"", ".spec.replicas"),
                ],
            },
        },
        Case {
            name: "an object written without tracking belongs to before-first-apply",
            steps: vec![Step::Store(full(3, "nginx:1")), apply_by("alice", config(json!({"replicas": 4})))],
            expect: Expect::Error {
                message: "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas",
                causes: vec![("conflict with \"before-first-apply\" using apps/v1", ".spec.replicas")],
            },
        },
        Case {
            name: "status in a main-resource apply is neither merged nor owned",
            steps: vec![apply_by("alice", {
                let mut c = config(json!({"replicas": 1}));
                c["status"] = json!({"replicas": 9});
                c
            })],
            expect: Expect::Object {
                values: vec![("/status", None), ("/spec/replicas", Some(json!(1)))],
                owners: vec![("alice", vec![".spec.replicas"])],
            },
        },
        Case {
            name: "a configuration with duplicate keys is invalid",
            steps: vec![apply_by("alice", containers(vec![container("nginx", "a"), container("nginx", "b")]))],
            expect: Expect::Error {
                message: ".spec.template.spec.containers: duplicate entries for key [name=\"nginx\"]",
                causes: vec![],
            },
        },
        Case {
            name: "a list-map element without its key is invalid",
            steps: vec![apply_by("alice", containers(vec![json!({"image": "nginx"})]))],
            expect: Expect::Error {
                message: ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)",
                causes: vec![],
            },
        },
        Case {
            name: "a configuration carrying managedFields is invalid",
            steps: vec![apply_by("alice", {
                let mut c = config(json!({}));
                c["metadata"]["managedFields"] = json!([]);
                c
            })],
            expect: Expect::Error { message: "metadata.managedFields must be nil", causes: vec![] },
        },
    ]
}

#[test]
fn apply_scenarios() {
    for case in cases() {
        let result = run(&case);
        match (&case.expect, result) {
            (Expect::Object { values, owners }, Ok(obj)) => {
                for (pointer, want) in values {
                    assert_eq!(obj.pointer(pointer), want.as_ref(), "{}: {pointer}", case.name);
                }
                for (manager, want) in owners {
                    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
                    want.sort();
                    assert_eq!(owned_by(&obj, manager), want, "{}: owned by {manager}", case.name);
                }
            }
            (Expect::Error { message, causes }, Err(err)) => {
                assert_eq!(err.message(), *message, "{}", case.name);
                let want: Vec<Value> = causes
                    .iter()
                    .map(|(m, f)| json!({"type": "FieldManagerConflict", "message": m, "field": f}))
                    .collect();
                assert_eq!(err.causes(), want, "{}", case.name);
            }
            (Expect::Object { .. }, Err(err)) => panic!("{}: unexpected error: {err}", case.name),
            (Expect::Error { message, .. }, Ok(obj)) => panic!("{}: expected {message:?}, got {obj}", case.name),
        }
    }
}

#[test]
fn apply_records_an_apply_entry() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let obj = apply(None, &full(3, "nginx:1"), "alice", false, &types, "2024-05-01T00:00:00Z").expect("applies");
    let entries = &obj["metadata"]["managedFields"];
    assert_eq!(entries.as_array().map(Vec::len), Some(1));
    let entry = &entries[0];
    assert_eq!(entry["manager"], "alice");
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["time"], "2024-05-01T00:00:00Z");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(entry.get("subresource").is_none());
    assert_eq!(
        entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}})
    );
}

#[test]
fn conflict_status_body() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let live = apply(None, &full(3, "nginx:1"), "alice", false, &types, "t1").expect("applies");
    let err = apply(Some(&live), &config(json!({"replicas": 5})), "bob", false, &types, "t2").expect_err("conflicts");
    assert_eq!(err.code(), 409);
    assert_eq!(
        err.to_status(),
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas",
            "reason": "Conflict",
            "code": 409,
            "details": {"causes": [{"type": "FieldManagerConflict", "message": "conflict with \"alice\"", "field": ".spec.replicas"}]}
        })
    );
}

#[test]
fn apply_to_status_subresource_owns_only_status() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let live = apply(None, &full(3, "nginx:1"), "alice", false, &types, "t1").expect("applies");
    let status = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 100},
        "status": {"conditions": [{"type": "Available", "status": "True"}]}
    });
    let obj =
        apply_subresource(Some(&live), status.clone(), "ctrl", Some("status"), false, &types, "t2").expect("applies");
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(obj["status"]["conditions"][0]["status"], "True");
    let entries = decode_managed_fields(&obj).expect("decodes");
    let ctrl = entries.iter().find(|e| e.manager == "ctrl").expect("ctrl entry");
    assert_eq!(ctrl.subresource.as_deref(), Some("status"));
    let paths: Vec<String> = ctrl.fields.paths().iter().map(ToString::to_string).collect();
    assert_eq!(
        paths,
        [
            ".status.conditions[type=\"Available\"]",
            ".status.conditions[type=\"Available\"].status",
            ".status.conditions[type=\"Available\"].type",
        ]
    );
    // A main-resource applier and a status applier do not conflict with each other.
    let again = apply(Some(&obj), &full(4, "nginx:1"), "alice", false, &types, "t3").expect("applies");
    assert_eq!(again["status"]["conditions"][0]["type"], "Available");
}

#[test]
fn list_merge_keeps_both_orders() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let names = |obj: &Value| -> Vec<String> {
        obj.pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let live = apply(
        None,
        &containers(vec![container("a", "1"), container("b", "1"), container("c", "1")]),
        "x",
        false,
        &types,
        "t1",
    )
    .expect("applies");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["c", "a"], vec!["b", "c", "a"]),
        (vec!["d"], vec!["a", "b", "c", "d"]),
        (vec!["b", "d"], vec!["a", "b", "c", "d"]),
        (vec!["c", "b", "a"], vec!["c", "b", "a"]),
        (vec!["a", "e", "c"], vec!["a", "b", "e", "c"]),
    ];
    for (applied, want) in cases {
        let cfg = containers(applied.iter().map(|n| container(n, "1")).collect());
        let obj = apply(Some(&live), &cfg, "y", true, &types, "t2").expect("applies");
        assert_eq!(names(&obj), want, "applying {applied:?}");
    }
}

#[test]
fn crd_without_status_subresource_applies_status_as_a_field() {
    let schema = json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"hosts": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}
            },
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
        }
    });
    let types = CrdListTypes::from_schema(std::sync::Arc::new(schema));
    let widget = |hosts: Value, phase: &str| {
        json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"hosts": hosts},
            "status": {"phase": phase}
        })
    };
    let live = apply(None, &widget(json!(["a"]), "New"), "alice", false, &types, "t1").expect("applies");
    assert_eq!(live["status"]["phase"], "New");
    let obj =
        apply(Some(&live), &widget(json!(["b"]), "New"), "bob", false, &types, "t2").expect("hosts merge as a set");
    assert_eq!(obj["spec"]["hosts"], json!(["a", "b"]));
    let err =
        apply(Some(&obj), &widget(json!(["b"]), "Ready"), "bob", false, &types, "t3").expect_err("status is owned");
    assert_eq!(err.message(), "Apply failed with 1 conflict: conflict with \"alice\": .status.phase");
}

/// A copy's re-apply (the placement translator's, at each rollout) passes over the status
/// writer's entry: nothing it configures or last applied is under `status`, so the entry is
/// written back as stored. A status apply that changes the copy's fields still conflicts.
#[test]
fn an_apply_writes_back_entries_it_cannot_reach_as_stored() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let live = apply(None, &full(3, "nginx:1"), "translator", false, &types, "t1").expect("applies");
    let mut status = live.clone();
    status["status"] = json!({"conditions": [{"type": "Available", "status": "True"}]});
    let mut live = update(Some(&live), status, "syncer", Some("status"), &types, "t2");
    // As another server may have stored it: the list-map key not in canonical form.
    let syncer = |obj: &Value| -> Value {
        let entries = obj.pointer("/metadata/managedFields").and_then(Value::as_array).cloned().unwrap_or_default();
        entries.into_iter().find(|e| e["manager"] == "syncer").expect("syncer entry")
    };
    let stored = syncer(&live)["fieldsV1"].to_string();
    assert!(stored.contains(r#"k:{\"type\":\"Available\"}"#), "{stored}");
    let verbatim: Value = serde_json::from_str(&stored.replace(r#"k:{\"type\""#, r#"k:{ \"type\""#)).expect("JSON");
    for entry in live["metadata"]["managedFields"].as_array_mut().expect("entries") {
        if entry["manager"] == "syncer" {
            entry["fieldsV1"] = verbatim.clone();
        }
    }

    let out = apply(Some(&live), &full(4, "nginx:2"), "translator", false, &types, "t3").expect("applies");
    assert_eq!(out["spec"]["replicas"], 4);
    assert_eq!(syncer(&out)["fieldsV1"], verbatim, "the status entry as stored");
    assert_eq!(syncer(&out)["time"], "t2");
    assert_eq!(owned_by(&out, "translator"), FULL_PATHS.to_vec());

    // The same entry is read when a write reaches `status`: a status applier taking the
    // condition conflicts with the syncer, which owns it (decoded from the non-canonical key).
    let taking = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "status": {"conditions": [{"type": "Available", "status": "False"}]}});
    let err = apply_subresource(Some(&out), taking.clone(), "other", Some("status"), false, &types, "t4")
        .expect_err("conflicts");
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"syncer\" with subresource \"status\" using apps/v1: .status.conditions[type=\"Available\"].status"
    );
}

/// An apply over a live object whose entries are kept as text ([`apply_tracked`]) stores
/// what the same apply over the whole object stores, and fails the same way.
#[test]
fn applies_over_entries_kept_as_text_match_applies_over_trees() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let config = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    };
    let live = apply_subresource(None, config("v1"), "translator", None, false, &types, "t1").expect("created");
    let mut status = live.clone();
    status["status"] = json!({"replicas": 1});
    let live = update(Some(&live), status, "syncer", Some("status"), &types, "t2");
    let lean = |obj: &Value| {
        let mut tree = obj.clone();
        let list = tree["metadata"].as_object_mut().and_then(|m| m.remove("managedFields"));
        let texts = list.as_ref().and_then(Value::as_array).into_iter().flatten();
        let entries = texts.map(|e| EntryText::from(e.to_string()));
        (tree, StoredEntries::new(entries.collect()))
    };
    // (case, configuration, manager, subresource, force)
    let cases = [
        ("a rollout", config("v2"), "translator", None, false),
        ("the same configuration again", config("v1"), "translator", None, false),
        ("another manager, conflicting", config("v3"), "kubectl", None, false),
        ("another manager, forced", config("v3"), "kubectl", None, true),
        (
            "a status apply, forced",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "status": {"replicas": 2}}),
            "sim",
            Some("status"),
            true,
        ),
    ];
    let mut failed = Vec::new();
    for (what, config, manager, subresource, force) in cases {
        let whole = apply_subresource(Some(&live), config.clone(), manager, subresource, force, &types, "t3");
        let (tree, entries) = lean(&live);
        let tracked = apply_tracked(
            Some(&tree),
            Stored::Text(&entries),
            config.clone(),
            manager,
            subresource,
            force,
            &types,
            "t3",
        );
        match (whole, tracked) {
            (Ok(whole), Ok((mut tracked, list))) => {
                assert!(tracked.pointer("/metadata/managedFields").is_none(), "{what}: the list is apart");
                if subresource.is_none() {
                    // Not reached by the spec's applier: written back as its text.
                    let syncer = entries.entries().iter().find(|e| e.as_str().contains("\"syncer\"")).expect("syncer");
                    let text = serde_json::to_string(&list).expect("encodes");
                    assert!(text.contains(syncer.as_str()), "{what}: {text}");
                }
                write_list(&mut tracked, list);
                assert_eq!(tracked, whole, "{what}");
            }
            (Err(whole), Err(tracked)) => {
                assert_eq!(tracked.message(), whole.message(), "{what}");
                failed.push(what);
            }
            (whole, tracked) => panic!("{what}: {whole:?} against {:?}", tracked.map(|t| t.0)),
        }
    }
    assert_eq!(failed, ["another manager, conflicting"]);
}
