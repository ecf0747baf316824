//! Ordinary writes (create, update, patch) recorded as `Update` entries.

use serde_json::{Value, json};

use super::*;

fn configmap(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}, "data": data})
}

fn types() -> BuiltinListTypes {
    BuiltinListTypes::for_kind("v1", "ConfigMap")
}

fn entry<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    obj.pointer("/metadata/managedFields")?.as_array()?.iter().find(|e| e["manager"] == manager)
}

/// The managers of `obj`'s entries, in their order.
fn managers(obj: &Value) -> Vec<&str> {
    let entries = obj.pointer("/metadata/managedFields").and_then(Value::as_array);
    entries.into_iter().flatten().filter_map(|e| e["manager"].as_str()).collect()
}

fn paths(obj: &Value, manager: &str) -> Vec<String> {
    let set = entry(obj, manager).map(|e| from_fields_v1(&e["fieldsV1"]).expect("valid")).unwrap_or_default();
    let mut out: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
    out.sort();
    out
}

#[test]
fn create_owns_every_field_with_the_roots_of_new_maps() {
    let mut obj = configmap(json!({"a": "1"}));
    obj["metadata"]["labels"] = json!({"app": "x"});
    obj["metadata"]["uid"] = json!("u1");
    let out = update(None, obj.clone(), "kubectl-create", None, &types(), "t1");
    let e = entry(&out, "kubectl-create").expect("entry");
    assert_eq!(e["operation"], "Update");
    assert_eq!(e["apiVersion"], "v1");
    assert_eq!(e["time"], "t1");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );
    assert_eq!(out["data"], obj["data"], "the object itself is unchanged");
}

/// Each case: a sequence of `(manager, data)` writes, then who owns which paths.
#[test]
fn updates_move_ownership_of_what_they_change() {
    struct Case {
        name: &'static str,
        writes: Vec<(&'static str, Value)>,
        owners: Vec<(&'static str, Vec<&'static str>)>,
    }
    let cases = vec![
        Case {
            name: "a changed field moves to the writer",
            writes: vec![("alice", json!({"a": "1", "b": "1"})), ("bob", json!({"a": "2", "b": "1"}))],
            owners: vec![("alice", vec![".data", ".data.b"]), ("bob", vec![".data.a"])],
        },
        Case {
            name: "an added field is the writer's, the others keep theirs",
            writes: vec![("alice", json!({"a": "1"})), ("bob", json!({"a": "1", "c": "3"}))],
            owners: vec![("alice", vec![".data", ".data.a"]), ("bob", vec![".data.c"])],
        },
        Case {
            name: "a removed field leaves every entry",
            writes: vec![("alice", json!({"a": "1", "b": "1"})), ("bob", json!({"b": "1"}))],
            owners: vec![("alice", vec![".data", ".data.b"]), ("bob", vec![])],
        },
        Case {
            name: "a write that changes nothing adds no entry",
            writes: vec![("alice", json!({"a": "1"})), ("bob", json!({"a": "1"}))],
            owners: vec![("alice", vec![".data", ".data.a"]), ("bob", vec![])],
        },
        Case {
            name: "the same manager accumulates its changes",
            writes: vec![
                ("alice", json!({"a": "1"})),
                ("bob", json!({"a": "1", "b": "2"})),
                ("bob", json!({"a": "1", "b": "2", "c": "3"})),
            ],
            owners: vec![("alice", vec![".data", ".data.a"]), ("bob", vec![".data.b", ".data.c"])],
        },
        Case {
            name: "an entry left empty is dropped",
            writes: vec![
                ("creator", json!({"a": "1"})),
                ("alice", json!({"a": "1", "b": "1"})),
                ("bob", json!({"a": "1", "b": "2"})),
            ],
            owners: vec![("creator", vec![".data", ".data.a"]), ("alice", vec![]), ("bob", vec![".data.b"])],
        },
    ];
    for case in cases {
        let mut live: Option<Value> = None;
        for (i, (manager, data)) in case.writes.iter().enumerate() {
            let mut new = configmap(data.clone());
            if let Some(mf) = live.as_ref().and_then(|l| l.pointer("/metadata/managedFields")) {
                new["metadata"]["managedFields"] = mf.clone();
            }
            live = Some(update(live.as_ref(), new.clone(), manager, None, &types(), &format!("t{i}")));
        }
        let Some(obj) = live else { continue };
        for (manager, want) in case.owners {
            assert_eq!(paths(&obj, manager), want, "{}: {manager}", case.name);
        }
    }
}

#[test]
fn no_op_update_keeps_the_time_of_the_last_change() {
    let first = update(None, configmap(json!({"a": "1"})), "alice", None, &types(), "t1");
    let second = update(Some(&first), first.clone(), "alice", None, &types(), "t2");
    assert_eq!(entry(&second, "alice").map(|e| e["time"].clone()), Some(json!("t1")));
    let third = update(Some(&second), configmap(json!({"a": "2"})), "alice", None, &types(), "t3");
    assert_eq!(entry(&third, "alice").map(|e| e["time"].clone()), Some(json!("t3")));
}

#[test]
fn status_writes_are_scoped() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let base =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}});
    let created = update(None, base.clone(), "creator", None, &types, "t1");
    let mut with_status = created.clone();
    with_status["status"] = json!({"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]});
    with_status["spec"]["replicas"] = json!(7);

    // Through /status only status is recorded, as the status manager's `status` entry.
    let status_write = update(Some(&created), with_status.clone(), "ctrl", Some("status"), &types, "t2");
    let e = entry(&status_write, "ctrl").expect("ctrl entry");
    assert_eq!(e["subresource"], "status");
    assert_eq!(
        paths(&status_write, "ctrl"),
        [
            ".status",
            ".status.conditions",
            ".status.conditions[type=\"Available\"]",
            ".status.conditions[type=\"Available\"].status",
            ".status.conditions[type=\"Available\"].type",
            ".status.replicas",
        ]
    );
    assert_eq!(paths(&status_write, "creator"), [".spec", ".spec.replicas"]);

    // Through the main resource status is not recorded.
    let main_write = update(Some(&created), with_status.clone(), "editor", None, &types, "t2");
    assert_eq!(paths(&main_write, "editor"), [".spec.replicas"]);
}

#[test]
fn identity_and_server_metadata_are_never_owned() {
    let created = update(None, configmap(json!({"a": "1"})), "alice", None, &types(), "t1");
    let mut new = created.clone();
    new["metadata"]["resourceVersion"] = json!("42");
    new["metadata"]["generation"] = json!(2);
    new["metadata"]["annotations"] = json!({"note": "x"});
    let out = update(Some(&created), new.clone(), "bob", None, &types(), "t2");
    assert_eq!(paths(&out, "bob"), [".metadata.annotations", ".metadata.annotations.note"]);
}

#[test]
fn client_sent_managed_fields() {
    let created = update(None, configmap(json!({"a": "1"})), "alice", None, &types(), "t1");
    let changed = |managed: Option<Value>| {
        let mut new = configmap(json!({"a": "1", "b": "2"}));
        if let Some(m) = managed {
            new["metadata"]["managedFields"] = m;
        }
        update(Some(&created), new.clone(), "bob", None, &types(), "t2")
    };
    let rewritten = json!([{
        "manager": "carol", "operation": "Update", "apiVersion": "v1", "time": "t0",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}
    }]);
    type Owners = Vec<(&'static str, Vec<&'static str>)>;
    let cases: Vec<(&str, Option<Value>, Owners)> = vec![
        ("absent: the stored entries", None, vec![("alice", vec![".data", ".data.a"]), ("bob", vec![".data.b"])]),
        (
            "empty list: the stored entries",
            Some(json!([])),
            vec![("alice", vec![".data", ".data.a"]), ("bob", vec![".data.b"])],
        ),
        ("[{}]: tracking reset", Some(json!([{}])), vec![("alice", vec![]), ("bob", vec![".data.b"])]),
        (
            "unreadable: the stored entries",
            Some(json!([{"operation": "Bogus", "fieldsV1": {"f:x": {}}}])),
            vec![("alice", vec![".data", ".data.a"]), ("bob", vec![".data.b"])],
        ),
        (
            "rewritten: taken as sent",
            Some(rewritten),
            vec![("alice", vec![]), ("carol", vec![".data.a"]), ("bob", vec![".data.b"])],
        ),
    ];
    for (name, managed, owners) in cases {
        let out = changed(managed);
        for (manager, want) in owners {
            assert_eq!(paths(&out, manager), want, "{name}: {manager}");
        }
    }
}

#[test]
fn update_managers_are_capped() {
    let mut obj = update(None, configmap(json!({})), "creator", None, &types(), "t00");
    for i in 0..12 {
        let mut data = obj["data"].clone();
        data[format!("k{i:02}")] = json!("v");
        let mut new = configmap(data);
        new["metadata"]["managedFields"] = obj["metadata"]["managedFields"].clone();
        obj = update(Some(&obj), new.clone(), &format!("writer-{i:02}"), None, &types(), &format!("t{:02}", i + 1));
    }
    let entries = decode_managed_fields(&obj).expect("decodes");
    assert_eq!(entries.len(), MAX_UPDATE_MANAGERS);
    let ancient = entries.iter().find(|e| e.manager == ANCIENT_CHANGES_MANAGER).expect("bucket");
    assert!(ancient.fields.contains(&[PathElement::field("data"), PathElement::field("k00")]));
    // Nothing is lost: every key is still owned by someone.
    let all = entries.iter().fold(FieldSet::new(), |acc, e| acc.union(&e.fields));
    for i in 0..12 {
        assert!(all.contains(&[PathElement::field("data"), PathElement::field(&format!("k{i:02}"))]), "k{i:02}");
    }
}

#[test]
fn managed_fields_are_sorted_like_kube_apiserver() {
    let mut obj = json!({"metadata": {}});
    let e = |manager: &str, operation, time: &str| ManagerEntry {
        manager: manager.into(),
        operation,
        api_version: "v1".into(),
        time: Some(time.into()),
        subresource: None,
        fields: from_fields_v1(&json!({"f:data": {"f:a": {}}})).expect("valid"),
    };
    encode_managed_fields(
        &mut obj,
        vec![
            e("z", Operation::Update, "t1"),
            e("b", Operation::Update, "t2"),
            e("a", Operation::Update, "t2"),
            e("y", Operation::Apply, "t9"),
        ],
    );
    assert_eq!(managers(&obj), ["y", "z", "a", "b"]);
}

/// A status write reaches only `f:status`: the entries holding none of it are written back
/// as stored (a non-canonical list-map key shows they were not decoded and encoded again),
/// while a spec write decodes and rewrites the entry it takes fields from.
#[test]
fn entries_a_write_does_not_reach_are_written_back_as_stored() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let deployment = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
               "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    };
    let mut obj = update(None, deployment("v1"), "syncer", None, &types, "t1");
    // As another server may have stored it: the list-map key not in canonical form.
    let fields = entry(&obj, "syncer").expect("syncer")["fieldsV1"].to_string();
    assert!(fields.contains(r#"k:{\"name\":\"c\"}"#), "{fields}");
    let verbatim: Value =
        serde_json::from_str(&fields.replace(r#"k:{\"name\":\"c\"}"#, r#"k:{ \"name\": \"c\" }"#)).expect("JSON");
    obj["metadata"]["managedFields"][0]["fieldsV1"] = verbatim.clone();

    let mut status = obj.clone();
    status["status"] = json!({"replicas": 1, "readyReplicas": 1});
    let out = update(Some(&obj), status, "sim", Some("status"), &types, "t2");
    assert_eq!(entry(&out, "syncer").expect("syncer")["fieldsV1"], verbatim, "the spec entry as stored");
    assert_eq!(entry(&out, "syncer").expect("syncer")["time"], "t1");
    assert_eq!(
        entry(&out, "sim").expect("sim")["fieldsV1"],
        json!({"f:status": {".": {}, "f:readyReplicas": {}, "f:replicas": {}}})
    );
    assert_eq!(managers(&out), ["syncer", "sim"], "kube-apiserver's order (by time) across both kinds of entry");

    // Sent with other entries, a status write still keeps the stored ones.
    let mut odd = obj.clone();
    odd["status"] = json!({"replicas": 2});
    odd["metadata"]["managedFields"][0]["fieldsV1"] = json!({"f:spec": {}});
    let kept = update(Some(&obj), odd, "sim", Some("status"), &types, "t2");
    assert_eq!(entry(&kept, "syncer").expect("syncer")["fieldsV1"], verbatim, "the stored entry, not the sent one");

    // A second status write decodes only its own writer's entry.
    let mut again = out.clone();
    again["status"]["readyReplicas"] = json!(0);
    let out = update(Some(&out), again, "sim", Some("status"), &types, "t3");
    assert_eq!(entry(&out, "syncer").expect("syncer")["fieldsV1"], verbatim);
    assert_eq!(entry(&out, "sim").expect("sim")["time"], "t3");

    // A spec write reaches `f:spec`: the syncer's entry is decoded and loses the image.
    let mut spec = out.clone();
    spec["spec"]["template"]["spec"]["containers"][0]["image"] = json!("v2");
    let out = update(Some(&out), spec, "kubectl", None, &types, "t4");
    assert_eq!(paths(&out, "kubectl"), [".spec.template.spec.containers[name=\"c\"].image"]);
    assert!(!paths(&out, "syncer").iter().any(|p| p.ends_with(".image")), "{:?}", paths(&out, "syncer"));
    assert_eq!(paths(&out, "sim"), [".status", ".status.readyReplicas", ".status.replicas"]);
}

/// Entries left undecoded still count toward the cap on `Update` managers, and are folded
/// like the others when it is passed.
#[test]
fn undecoded_entries_are_folded_past_the_cap() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}});
    // Eleven managers, each owning a label of its own, then a status write that reaches none.
    for i in 0..MAX_UPDATE_MANAGERS + 1 {
        let mut new = obj.clone();
        new["metadata"]["labels"][format!("l{i:02}")] = json!("x");
        obj = update(Some(&obj), new, &format!("labeller-{i:02}"), None, &types, &format!("t{i:02}"));
    }
    assert_eq!(decode_managed_fields(&obj).expect("decodes").len(), MAX_UPDATE_MANAGERS);
    let mut status = obj.clone();
    status["status"] = json!({"replicas": 1});
    let out = update(Some(&obj), status, "sim", Some("status"), &types, "t99");
    let entries = decode_managed_fields(&out).expect("decodes");
    assert_eq!(entries.len(), MAX_UPDATE_MANAGERS, "{entries:?}");
    let all = entries.iter().fold(FieldSet::new(), |acc, e| acc.union(&e.fields));
    for i in 0..MAX_UPDATE_MANAGERS + 1 {
        let label =
            [PathElement::field("metadata"), PathElement::field("labels"), PathElement::field(&format!("l{i:02}"))];
        assert!(all.contains(&label), "l{i:02}");
    }
    assert!(all.contains(&[PathElement::field("status"), PathElement::field("replicas")]));
}

/// `old` as a lean read holds it: the tree without its list, and the list as text.
fn lean(old: &Value) -> (Value, StoredEntries) {
    let mut tree = old.clone();
    let list = tree["metadata"].as_object_mut().and_then(|m| m.remove("managedFields"));
    let texts = list.as_ref().and_then(Value::as_array).into_iter().flatten();
    let entries = texts.map(|e| EntryText::from(e.to_string())).collect();
    (tree, StoredEntries::new(entries))
}

/// A write over a lean read ([`update_tracked`] with the entries as text) stores exactly
/// what the same write over the whole object ([`update`]) stores.
#[test]
fn writes_over_entries_kept_as_text_store_what_writes_over_trees_store() {
    let types = BuiltinListTypes::for_kind("apps/v1", "Deployment");
    let created = update(
        None,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "b"}},
               "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "v1"}]}}}}),
        "syncer",
        None,
        &types,
        "t1",
    );
    let status = {
        let mut s = created.clone();
        s["status"] = json!({"replicas": 1});
        update(Some(&created), s, "sim", Some("status"), &types, "t2")
    };
    let with = |base: &Value, pointer: &str, v: Value| {
        let mut out = base.clone();
        if let Some(slot) = out.pointer_mut(pointer) {
            *slot = v;
        }
        out
    };
    let without_list = |v: &Value| lean(v).0;
    // (case, stored object, written object, manager, subresource)
    let cases = [
        ("a status write", &status, with(&without_list(&status), "/status/replicas", json!(2)), "sim", Some("status")),
        ("a status write that changes nothing", &status, without_list(&status), "sim", Some("status")),
        (
            "a spec write",
            &status,
            with(&without_list(&status), "/spec/template/spec/containers/0/image", json!("v2")),
            "kubectl",
            None,
        ),
        ("a label write", &status, with(&without_list(&status), "/metadata/labels/a", json!("c")), "kubectl", None),
        ("sent with the stored list", &status, with(&status, "/spec/replicas", json!(3)), "kubectl", None),
        (
            "sent with a list of its own",
            &status,
            with(
                &status,
                "/metadata/managedFields",
                json!([{"manager": "x", "operation": "Update", "fieldsV1": {"f:spec": {}}}]),
            ),
            "kubectl",
            None,
        ),
        ("sent with a reset", &status, with(&status, "/metadata/managedFields", json!([{}])), "kubectl", None),
    ];
    for (what, stored, written, manager, subresource) in cases {
        let whole = update(Some(stored), written.clone(), manager, subresource, &types, "t3");
        let (tree, entries) = lean(stored);
        let (mut tracked, list) =
            update_tracked(Some(&tree), Stored::Text(&entries), written, manager, subresource, &types, "t3");
        assert!(tracked.pointer("/metadata/managedFields").is_none(), "{what}: the list is apart");
        write_list(&mut tracked, list);
        assert_eq!(tracked, whole, "{what}");
    }

    // An entry the write does not reach is written back as its very text.
    let (tree, _) = lean(&status);
    let syncer = r#"{"apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{ "f:spec" : {"f:replicas":{}} },"manager":"syncer","operation":"Update","time":"t1"}"#;
    let sim = entry(&status, "sim").expect("sim").to_string();
    let entries = StoredEntries::new([syncer, sim.as_str()].map(|t| EntryText::from(t.to_owned())).to_vec());
    let written = with(&tree, "/status/replicas", json!(5));
    let (_, list) = update_tracked(Some(&tree), Stored::Text(&entries), written, "sim", Some("status"), &types, "t4");
    let text = serde_json::to_string(&list).expect("encodes");
    assert!(text.contains(syncer), "{text}");
    assert!(text.contains(r#""time":"t4""#), "the status writer's entry is written anew: {text}");
}
