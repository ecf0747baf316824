//! Field sets, the `fieldsV1` wire form, path rendering, and the schema tables.

use serde_json::{Value, json};

use super::*;

/// `managedFields` of a Deployment as kube-apiserver writes them after
/// `kubectl apply --server-side` and a rollout by the deployment controller.
fn deployment_managed_fields() -> Value {
    json!([
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": "2024-05-02T09:14:07Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                "k:{\"name\":\"nginx\"}": {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2024-05-02T09:14:12Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
                "f:status": {
                    "f:availableReplicas": {},
                    "f:conditions": {
                        ".": {},
                        "k:{\"type\":\"Available\"}": {
                            ".": {}, "f:lastTransitionTime": {}, "f:lastUpdateTime": {}, "f:message": {},
                            "f:reason": {}, "f:status": {}, "f:type": {}
                        },
                        "k:{\"type\":\"Progressing\"}": {
                            ".": {}, "f:lastTransitionTime": {}, "f:lastUpdateTime": {}, "f:message": {},
                            "f:reason": {}, "f:status": {}, "f:type": {}
                        }
                    },
                    "f:observedGeneration": {},
                    "f:readyReplicas": {},
                    "f:replicas": {},
                    "f:updatedReplicas": {}
                }
            },
            "subresource": "status"
        }
    ])
}

/// The configuration that produced the `kubectl` entry above.
fn deployment_config() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

#[test]
fn fields_v1_round_trips_kube_apiserver_entries() {
    let entries = deployment_managed_fields();
    for entry in entries.as_array().into_iter().flatten() {
        let fields = &entry["fieldsV1"];
        let set = from_fields_v1(fields).expect("decodes");
        assert_eq!(&to_fields_v1(&set), fields, "round trip of {}", entry["manager"]);
    }
    let obj = json!({"metadata": {"managedFields": entries.clone()}});
    let decoded = decode_managed_fields(&obj).expect("decodes");
    assert_eq!(decoded.len(), 2);
    assert_eq!(decoded[1].subresource.as_deref(), Some("status"));
    let mut out = json!({"metadata": {}});
    encode_managed_fields(&mut out, decoded);
    assert_eq!(out["metadata"]["managedFields"], entries);
}

#[test]
fn field_set_of_an_applied_deployment_matches_kubectl_entry() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let set = field_set_of(&deployment_config(), &types);
    assert_eq!(to_fields_v1(&set), deployment_managed_fields()[0]["fieldsV1"]);
}

#[test]
fn paths_render_like_kubernetes() {
    let key = |name: &str| PathElement::key([("name", &json!(name))]);
    let port = PathElement::key([("protocol", &json!("TCP")), ("containerPort", &json!(80))]);
    let cases: Vec<(Vec<PathElement>, &str)> = vec![
        (vec![PathElement::field("spec"), PathElement::field("replicas")], ".spec.replicas"),
        (
            ["spec", "template", "spec", "containers"]
                .iter()
                .map(|f| PathElement::field(f))
                .chain([key("nginx"), PathElement::field("image")])
                .collect(),
            ".spec.template.spec.containers[name=\"nginx\"].image",
        ),
        (vec![PathElement::field("ports"), port], ".ports[containerPort=80,protocol=\"TCP\"]"),
        (
            vec![PathElement::field("metadata"), PathElement::field("finalizers"), PathElement::value(&json!("a/b"))],
            ".metadata.finalizers[=\"a/b\"]",
        ),
        (vec![PathElement::field("args"), PathElement::Index(3)], ".args[3]"),
        (vec![PathElement::field("x"), key("say \"hi\"")], ".x[name=\"say \\\"hi\\\"\"]"),
    ];
    for (path, want) in cases {
        assert_eq!(FieldPath(path).to_string(), want);
    }
}

#[test]
fn fields_v1_keys_are_canonical() {
    let cases = [
        ("k:{\"protocol\":\"TCP\",\"containerPort\":80}", "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"),
        ("k:{ \"name\" : \"a\" }", "k:{\"name\":\"a\"}"),
        ("v:\"x\"", "v:\"x\""),
        ("v:5", "v:5"),
        ("f:a.b/c", "f:a.b/c"),
        ("i:2", "i:2"),
    ];
    for (input, want) in cases {
        let pe = PathElement::from_fields_v1_key(input).expect(input);
        assert_eq!(pe.to_fields_v1_key(), want);
    }
}

/// A list element's key is the canonical JSON of the map of its fields (as serde_json
/// writes the map), however they are
/// given: in any order, a repeated name with its last value, names and values that need
/// escapes, values of every kind.
#[test]
fn element_keys_are_the_canonical_map_of_their_fields() {
    let cases: Vec<Vec<(&str, Value)>> = vec![
        vec![("name", json!("nginx"))],
        vec![("protocol", json!("TCP")), ("containerPort", json!(80))],
        vec![("b", json!(1)), ("a", json!(2)), ("b", json!(3))],
        vec![("qu\"ote", json!("line\nbreak")), ("back\\slash", json!("tab\t")), ("ctl\u{1}", json!("é ✓"))],
        vec![("n", json!(null)), ("t", json!(true)), ("f", json!(1.5)), ("m", json!({"z": [1, {"y": 2, "x": 1}]}))],
        vec![],
    ];
    for fields in cases {
        let map: serde_json::Map<String, Value> = fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        // serde_json's maps keep their keys sorted: its text of the map is canonical.
        let text = serde_json::to_string(&Value::Object(map)).expect("JSON");
        let want = PathElement::Key(text.as_str().into());
        assert_eq!(PathElement::key(fields.iter().map(|(k, v)| (*k, v))), want, "{fields:?}");
        // …and what the wire form reads back as.
        let read = PathElement::from_fields_v1_key(&want.to_fields_v1_key()).expect("readable");
        assert_eq!(read, want, "{fields:?}");
    }
}

#[test]
fn fields_v1_rejects_malformed_tries() {
    let cases = [
        json!({"x:foo": {}}),
        json!({"f:a": 1}),
        json!({"k:[1]": {}}),
        json!({"k:{bad": {}}),
        json!({"i:-1": {}}),
        json!([]),
    ];
    for input in cases {
        assert!(from_fields_v1(&input).is_err(), "{input} should be rejected");
    }
}

/// The text forms write the bytes serde_json writes for the tree forms, and read what
/// they read; a trie they cannot read, the tree form rejects.
#[test]
fn fields_v1_text_is_the_tree_as_serde_json_writes_it() {
    let mut tries: Vec<Value> =
        deployment_managed_fields().as_array().into_iter().flatten().map(|e| e["fieldsV1"].clone()).collect();
    tries.extend([
        json!({}),
        json!({"f:a": {}}),
        json!({"f:spec": {".": {}, "f:x": {}}, "f:data": {"f:say \"hi\"\n": {}, "f:ünï": {}}}),
        json!({"f:args": {"i:10": {}, "i:9": {}, "i:2": {".": {}, "f:x": {}}}}),
        json!({"f:l": {"v:\"b\"": {}, "v:5": {}, "k:{\"name\":\"a\"}": {}, "i:0": {}, "f:z": {}}}),
        json!({"f:ports": {"k:{\"protocol\":\"TCP\",\"containerPort\":80}": {".": {}, "f:name": {}}}}),
    ]);
    for tree in tries {
        let set = from_fields_v1(&tree).expect("valid");
        let mut text = Vec::new();
        write_fields_v1_text(&set, &mut text);
        let want = serde_json::to_vec(&to_fields_v1(&set)).expect("encodes");
        assert_eq!(String::from_utf8_lossy(&text), String::from_utf8_lossy(&want), "{tree}");
        let tree_text = tree.to_string();
        assert_eq!(read_fields_v1_text(&tree_text), Some(set), "{tree}");
    }
    for bad in ["{\"x:foo\": {}}", "{\"f:a\": 1}", "{\"k:[1]\": {}}", "{\"i:-1\": {}}", "[]", "{\"f:a\": {}", "{} {}"] {
        assert_eq!(read_fields_v1_text(bad), None, "{bad}");
    }
}

/// An entry's text is its tree as serde_json writes it, and reads back as the tree does.
#[test]
fn manager_entries_as_text() {
    let mut entries: Vec<Value> = deployment_managed_fields().as_array().cloned().unwrap_or_default();
    entries.extend([
        json!({"manager": "m \"q\"", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:a": {}}}),
        json!({"manager": "m", "operation": "Update", "apiVersion": "v1", "time": "t", "subresource": "scale",
               "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}),
    ]);
    for json in entries {
        let entry = ManagerEntry::from_json(&json).expect("valid");
        let text = entry.to_text();
        assert_eq!(text.as_str(), serde_json::to_string(&entry.to_json()).expect("encodes"), "{json}");
        assert_eq!(ManagerEntry::from_text(&text), Ok(entry.clone()), "{json}");
        // Keys in another order and whitespace: read as well.
        let spaced = EntryText::from(serde_json::to_string_pretty(&json).expect("encodes"));
        assert_eq!(ManagerEntry::from_text(&spaced), Ok(entry), "{json}");
    }
    let bad = [
        json!({"manager": "m", "operation": "Sideways", "fieldsV1": {"f:a": {}}}),
        json!({"manager": "m", "operation": "Update", "fieldsV1": {"f:a": 1}}),
        json!({"manager": 5, "operation": "Update"}),
        json!({"manager": "m", "operation": "Update", "fieldsType": "FieldsV2", "fieldsV1": {}}),
        json!("entry"),
    ];
    for json in bad {
        let text = EntryText::from(json.to_string());
        assert_eq!(ManagerEntry::from_text(&text), ManagerEntry::from_json(&json), "{json}");
        assert!(ManagerEntry::from_text(&text).is_err(), "{json}");
    }
}

#[test]
fn set_operations() {
    let set = |v: Value| from_fields_v1(&v).expect("valid");
    let a = set(json!({"f:spec": {"f:replicas": {}, "f:paused": {}}, "f:metadata": {"f:labels": {"f:a": {}}}}));
    let b = set(json!({"f:spec": {"f:replicas": {}, "f:minReadySeconds": {}}}));
    let cases = [
        (
            a.union(&b),
            json!({
                "f:spec": {"f:replicas": {}, "f:paused": {}, "f:minReadySeconds": {}},
                "f:metadata": {"f:labels": {"f:a": {}}}
            }),
        ),
        (a.intersection(&b), json!({"f:spec": {"f:replicas": {}}})),
        (a.difference(&b), json!({"f:spec": {"f:paused": {}}, "f:metadata": {"f:labels": {"f:a": {}}}})),
        (b.difference(&a), json!({"f:spec": {"f:minReadySeconds": {}}})),
        (a.difference(&a), json!({})),
    ];
    for (got, want) in cases {
        assert_eq!(to_fields_v1(&got), want);
    }
    // Owning a map is not owning its fields: difference is per member, not recursive.
    let whole = set(json!({"f:spec": {"f:selector": {}}}));
    let inside = set(json!({"f:spec": {"f:selector": {"f:matchLabels": {}}}}));
    assert_eq!(inside.difference(&whole), inside);
    assert!(whole.intersection(&inside).is_empty());
    assert!(a.contains(&[PathElement::field("spec"), PathElement::field("paused")]));
    assert!(!a.contains(&[PathElement::field("spec")]));
    assert_eq!(a.len(), 3);
}

/// The set operations agree with the same operations on plain sets of member paths, for
/// sets of every size (a few paths are merged one by one, more in one pass), built in any
/// order, with members that have paths below them and elements of every kind.
#[test]
fn set_operations_agree_with_sets_of_paths() {
    use std::collections::BTreeSet;
    type Paths = BTreeSet<Vec<PathElement>>;
    // A small deterministic generator: the test needs variety, not randomness.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let element = |n: u64| match n % 4 {
        0 => PathElement::field(&format!("f{}", n % 7)),
        1 => PathElement::key([("name", &json!(format!("k{}", n % 5)))]),
        2 => PathElement::value(&json!(n % 6)),
        _ => PathElement::Index((n % 12) as usize),
    };
    let mut random_paths =
        |count: u64| -> Paths { (0..count).map(|_| (0..1 + next(3)).map(|_| element(next(40))).collect()).collect() };
    let build = |paths: &Paths, reversed: bool| {
        let mut set = FieldSet::new();
        let mut ordered: Vec<_> = paths.iter().collect();
        if reversed {
            ordered.reverse();
        }
        for p in ordered {
            set.insert(p);
        }
        set
    };
    let members = |set: &FieldSet| -> Paths { set.paths().into_iter().map(|p| p.0).collect() };
    for (x, y) in [(0, 3), (2, 2), (3, 30), (30, 3), (40, 40), (150, 5), (5, 150), (120, 120)] {
        let (a, b) = (random_paths(x), random_paths(y));
        let (sa, sb) = (build(&a, false), build(&b, true));
        assert_eq!(sa, build(&a, true), "the same paths make the same set in any order");
        assert_eq!(members(&sa), a);
        assert_eq!(sa.len(), a.len());
        assert_eq!(members(&sa.union(&sb)), &a | &b, "{x} ∪ {y}");
        assert_eq!(members(&sa.difference(&sb)), &a - &b, "{x} − {y}");
        assert_eq!(members(&sa.intersection(&sb)), &a & &b, "{x} ∩ {y}");
        assert_eq!(sa.union(&sb), build(&(&a | &b), false), "a union is the set of its paths");
        assert_eq!(sa.difference(&sb), build(&(&a - &b), false), "a difference is the set of its paths");
        let mut at_root = sa.clone();
        at_root.add_at(&[], sb.clone());
        assert_eq!(at_root, sa.union(&sb), "{x} ∪ {y}, taken over");
        for p in a.iter().chain(&b) {
            assert_eq!(sa.contains(p), a.contains(p));
        }
        // What is written reads back the same.
        let mut text = Vec::new();
        write_fields_v1_text(&sa, &mut text);
        let text = String::from_utf8(text).expect("JSON text");
        assert_eq!(read_fields_v1_text(&text), Some(sa.clone()), "{text}");
    }
}

#[test]
fn field_set_scopes() {
    let types = BuiltinListTypes::for_kind("v1", "Pod");
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p", "uid": "u1", "resourceVersion": "7", "labels": {"a": "1"},
            "finalizers": ["example.com/f"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u0"}]
        },
        "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "i", "env": []}]},
        "status": {"phase": "Running"}
    });
    let render = |scope: Scope| -> Vec<String> {
        field_set_in_scope(&pod, &types, scope).paths().iter().map(ToString::to_string).collect()
    };
    let metadata = [
        ".metadata.finalizers[=\"example.com/f\"]",
        ".metadata.labels.a",
        ".metadata.ownerReferences[uid=\"u0\"]",
        ".metadata.ownerReferences[uid=\"u0\"].apiVersion",
        ".metadata.ownerReferences[uid=\"u0\"].kind",
        ".metadata.ownerReferences[uid=\"u0\"].name",
        ".metadata.ownerReferences[uid=\"u0\"].uid",
    ];
    let spec = [
        ".spec.nodeSelector",
        ".spec.containers[name=\"c\"]",
        ".spec.containers[name=\"c\"].image",
        ".spec.containers[name=\"c\"].name",
    ];
    let cases: [(Scope, Vec<&str>); 3] = [
        (Scope::Object, metadata.iter().chain(&spec).copied().collect()),
        (Scope::Status, vec![".status.phase"]),
        (Scope::Whole, metadata.iter().chain(&spec).chain(&[".status.phase"]).copied().collect()),
    ];
    for (scope, want) in cases {
        let mut got = render(scope);
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{scope:?}");
    }
}

#[test]
fn builtin_list_types_follow_the_api_markers() {
    use ListType::{Atomic, Set};
    let map = |keys: &[&str]| ListType::map(keys);
    let cases: Vec<(&str, &str, &[&str], ListType)> = vec![
        ("apps/v1", "Deployment", &["spec", "template", "spec", "containers"], map(&["name"])),
        ("apps/v1", "Deployment", &["spec", "template", "spec", "initContainers"], map(&["name"])),
        ("apps/v1", "Deployment", &["spec", "template", "spec", "volumes"], map(&["name"])),
        ("apps/v1", "Deployment", &["spec", "template", "spec", "imagePullSecrets"], map(&["name"])),
        (
            "apps/v1",
            "Deployment",
            &["spec", "template", "spec", "containers", "ports"],
            map(&["containerPort", "protocol"]),
        ),
        ("apps/v1", "Deployment", &["spec", "template", "spec", "containers", "env"], map(&["name"])),
        ("apps/v1", "Deployment", &["spec", "template", "spec", "containers", "volumeMounts"], map(&["mountPath"])),
        ("apps/v1", "Deployment", &["spec", "template", "spec", "containers", "args"], Atomic),
        ("apps/v1", "Deployment", &["spec", "template", "spec", "tolerations"], Atomic),
        ("apps/v1", "Deployment", &["spec", "template", "metadata", "finalizers"], Set),
        ("apps/v1", "Deployment", &["status", "conditions"], map(&["type"])),
        ("apps/v1", "StatefulSet", &["spec", "template", "spec", "containers", "env"], map(&["name"])),
        ("apps/v1", "DaemonSet", &["spec", "template", "spec", "containers"], map(&["name"])),
        ("apps/v1", "ReplicaSet", &["spec", "template", "spec", "containers"], map(&["name"])),
        ("batch/v1", "Job", &["spec", "template", "spec", "containers"], map(&["name"])),
        ("batch/v1", "Job", &["status", "conditions"], Atomic),
        (
            "batch/v1",
            "CronJob",
            &["spec", "jobTemplate", "spec", "template", "spec", "containers", "ports"],
            map(&["containerPort", "protocol"]),
        ),
        ("batch/v1", "CronJob", &["spec", "template", "spec", "containers"], Atomic),
        ("v1", "Pod", &["spec", "containers"], map(&["name"])),
        ("v1", "Pod", &["spec", "topologySpreadConstraints"], map(&["topologyKey", "whenUnsatisfiable"])),
        ("v1", "Pod", &["status", "containerStatuses"], Atomic),
        ("v1", "Pod", &["status", "podIPs"], map(&["ip"])),
        ("v1", "Service", &["spec", "ports"], map(&["port", "protocol"])),
        ("v1", "ConfigMap", &["metadata", "ownerReferences"], map(&["uid"])),
        ("v1", "ConfigMap", &["metadata", "finalizers"], Set),
        ("example.com/v1", "Widget", &["spec", "items"], Atomic),
    ];
    for (api_version, kind, path, want) in cases {
        let types = BuiltinListTypes::for_kind(api_version, kind);
        assert_eq!(types.list_type(path), want, "{kind} {path:?}");
    }
    let deploy = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let service = BuiltinListTypes::for_kind("v1", "Service");
    assert_eq!(deploy.map_type(&["spec", "selector"]), MapType::Atomic);
    assert_eq!(service.map_type(&["spec", "selector"]), MapType::Granular);
    assert_eq!(deploy.map_type(&["spec", "template", "spec", "nodeSelector"]), MapType::Atomic);
    let ports = ["spec", "template", "spec", "containers", "ports"];
    assert_eq!(deploy.key_default(&ports, "protocol"), Some(json!("TCP")));
    assert_eq!(service.key_default(&["spec", "ports"], "protocol"), Some(json!("TCP")));
    assert_eq!(deploy.key_default(&ports, "containerPort"), None);
}

#[test]
fn crd_list_types_read_the_schema_extensions() {
    let schema = json!({
        "type": "object",
        "properties": {
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {
                    "hosts": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "routes": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "port"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "port": {"type": "integer", "default": 443},
                                "filters": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
                            }
                        }
                    },
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic"},
                    "settings": {
                        "type": "object",
                        "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}
                    },
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }
            }
        }
    });
    let types = CrdListTypes::from_schema(std::sync::Arc::new(schema.clone()));
    let cases: Vec<(&[&str], ListType)> = vec![
        (&["spec", "hosts"], ListType::Set),
        (&["spec", "args"], ListType::Atomic),
        (&["spec", "routes"], ListType::map(&["name", "port"])),
        (&["spec", "routes", "filters"], ListType::Set),
        (&["spec", "extra", "list"], ListType::Atomic),
        (&["spec", "missing"], ListType::Atomic),
        (&["metadata", "finalizers"], ListType::Set),
        (&["metadata", "ownerReferences"], ListType::map(&["uid"])),
    ];
    for (path, want) in cases {
        assert_eq!(types.list_type(path), want, "{path:?}");
    }
    assert_eq!(types.map_type(&["spec", "selector"]), MapType::Atomic);
    assert_eq!(types.map_type(&["spec", "settings"]), MapType::Granular);
    assert_eq!(types.key_default(&["spec", "routes"], "port"), Some(json!(443)));
    assert!(types.is_map_entry(&["spec", "settings", "anything"]));
    assert!(types.is_map_entry(&["spec", "extra", "unknown"]));
    assert!(!types.is_map_entry(&["spec", "routes"]));
    assert!(types.is_map_entry(&["metadata", "labels", "app"]));
    assert!(!types.status_subresource());

    let version = json!({"name": "v1", "schema": {"openAPIV3Schema": schema}, "subresources": {"status": {}}});
    let from_version = CrdListTypes::from_crd_version(&version);
    assert!(from_version.status_subresource());
    assert_eq!(from_version.list_type(&["spec", "hosts"]), ListType::Set);

    // Entries of an open map own themselves; a route keyed with a defaulted port.
    let obj = json!({"spec": {"settings": {"a": {"v": "x"}}, "routes": [{"name": "r"}]}});
    assert_eq!(
        to_fields_v1(&field_set_of(&obj, &types)),
        json!({"f:spec": {
            "f:settings": {"f:a": {".": {}, "f:v": {}}},
            "f:routes": {"k:{\"name\":\"r\",\"port\":443}": {".": {}, "f:name": {}}}
        }})
    );
}
