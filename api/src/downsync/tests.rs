use super::*;
use crate::types::UpsyncSet;
use serde_json::json;
use std::collections::BTreeMap;

fn test(v: serde_json::Value) -> DownsyncObjectTest {
    serde_json::from_value(v).expect("DownsyncObjectTest literal")
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The namespaces of the test world and their labels; `ghost` is not known.
fn namespaces() -> BTreeMap<String, Labels> {
    BTreeMap::from([("commonstuff".to_owned(), labels(&[("special", "yes")])), ("plain".to_owned(), labels(&[]))])
}

struct Obj {
    group: &'static str,
    resource: &'static str,
    namespace: Option<&'static str>,
    name: &'static str,
    labels: Labels,
}

impl Obj {
    fn as_ref(&self) -> ObjectRef<'_> {
        ObjectRef {
            group: self.group,
            resource: self.resource,
            namespace: self.namespace,
            name: self.name,
            labels: &self.labels,
        }
    }
}

fn cm(ns: &'static str, name: &'static str, l: &[(&str, &str)]) -> Obj {
    Obj { group: "", resource: "configmaps", namespace: Some(ns), name, labels: labels(l) }
}

fn rs(ns: &'static str, name: &'static str) -> Obj {
    Obj { group: "apps", resource: "replicasets", namespace: Some(ns), name, labels: labels(&[]) }
}

fn cluster(group: &'static str, resource: &'static str, name: &'static str) -> Obj {
    Obj { group, resource, namespace: None, name, labels: labels(&[]) }
}

fn run(t: &DownsyncObjectTest, o: &Obj) -> Result<bool, UnknownNamespace> {
    let nss = namespaces();
    let m = DownsyncMatcher::new(t, &FieldPath::new("t")).expect("valid test");
    m.matches(&o.as_ref(), |ns| nss.get(ns))
}

#[test]
fn downsync_object_test_semantics() {
    let table: Vec<(&str, serde_json::Value, Obj, Result<bool, UnknownNamespace>)> = vec![
        // apiGroup: absent = every group, "" = core only
        ("absent group, core obj", json!({"resources": ["configmaps"]}), cm("plain", "a", &[]), Ok(true)),
        ("absent group, apps obj", json!({"resources": ["replicasets"]}), rs("plain", "a"), Ok(true)),
        ("core group, core obj", json!({"apiGroup": ""}), cm("plain", "a", &[]), Ok(true)),
        ("core group, apps obj", json!({"apiGroup": ""}), rs("plain", "a"), Ok(false)),
        ("apps group, apps obj", json!({"apiGroup": "apps"}), rs("plain", "a"), Ok(true)),
        // resources: empty = all, "*" = all, else listed
        ("empty resources", json!({"apiGroup": "", "resources": []}), cm("plain", "a", &[]), Ok(true)),
        ("wildcard resources", json!({"resources": ["*"]}), rs("plain", "a"), Ok(true)),
        ("listed resources miss", json!({"resources": ["secrets", "services"]}), cm("plain", "a", &[]), Ok(false)),
        ("listed resources hit", json!({"resources": ["secrets", "configmaps"]}), cm("plain", "a", &[]), Ok(true)),
        // namespaces
        ("listed namespace hit", json!({"namespaces": ["commonstuff"]}), cm("commonstuff", "a", &[]), Ok(true)),
        ("listed namespace miss", json!({"namespaces": ["commonstuff"]}), cm("plain", "a", &[]), Ok(false)),
        ("wildcard namespace", json!({"namespaces": ["*"]}), cm("plain", "a", &[]), Ok(true)),
        (
            "empty namespaces, cluster-scoped",
            json!({"apiGroup": "apiregistration.k8s.io", "namespaces": []}),
            cluster("apiregistration.k8s.io", "apiservices", "v1.x"),
            Ok(true),
        ),
        (
            "absent namespaces, cluster-scoped",
            json!({"apiGroup": "apiregistration.k8s.io"}),
            cluster("apiregistration.k8s.io", "apiservices", "v1.x"),
            Ok(true),
        ),
        (
            "wildcard namespaces, cluster-scoped",
            json!({"namespaces": ["*"]}),
            cluster("", "namespaces", "commonstuff"),
            Ok(true),
        ),
        (
            "listed namespaces, cluster-scoped",
            json!({"namespaces": ["commonstuff"]}),
            cluster("", "namespaces", "commonstuff"),
            Ok(false),
        ),
        // namespaceSelectors
        (
            "ns selector hit",
            json!({"namespaceSelectors": [{"matchLabels": {"special": "yes"}}]}),
            rs("commonstuff", "a"),
            Ok(true),
        ),
        (
            "ns selector miss",
            json!({"namespaceSelectors": [{"matchLabels": {"special": "yes"}}]}),
            rs("plain", "a"),
            Ok(false),
        ),
        (
            "ns selectors OR",
            json!({"namespaceSelectors": [{"matchLabels": {"x": "y"}}, {"matchLabels": {"special": "yes"}}]}),
            rs("commonstuff", "a"),
            Ok(true),
        ),
        (
            "ns selector, cluster-scoped, {} matches no labels",
            json!({"namespaceSelectors": [{"matchLabels": {"special": "yes"}}, {}]}),
            cluster("", "namespaces", "x"),
            Ok(true),
        ),
        (
            "ns selector, cluster-scoped, labels needed",
            json!({"namespaceSelectors": [{"matchLabels": {"special": "yes"}}]}),
            cluster("", "namespaces", "x"),
            Ok(false),
        ),
        (
            "ns selector, cluster-scoped, DoesNotExist matches",
            json!({"namespaceSelectors": [{"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}]}),
            cluster("", "namespaces", "x"),
            Ok(true),
        ),
        (
            "ns selector, unknown namespace",
            json!({"namespaceSelectors": [{}]}),
            cm("ghost", "a", &[]),
            Err(UnknownNamespace("ghost".into())),
        ),
        (
            "unknown namespace not needed when name misses",
            json!({"objectNames": ["b"], "namespaceSelectors": [{}]}),
            cm("ghost", "a", &[]),
            Ok(false),
        ),
        // objectNames
        ("name hit", json!({"objectNames": ["httpd-htdocs"]}), cm("plain", "httpd-htdocs", &[]), Ok(true)),
        ("name miss", json!({"objectNames": ["httpd-htdocs"]}), cm("plain", "other", &[]), Ok(false)),
        ("name wildcard", json!({"objectNames": ["x", "*"]}), cm("plain", "other", &[]), Ok(true)),
        // labelSelectors: OR within, AND with the rest
        (
            "label hit",
            json!({"labelSelectors": [{"matchLabels": {"app": "web"}}]}),
            cm("plain", "a", &[("app", "web")]),
            Ok(true),
        ),
        (
            "label miss",
            json!({"labelSelectors": [{"matchLabels": {"app": "web"}}]}),
            cm("plain", "a", &[("app", "db")]),
            Ok(false),
        ),
        (
            "labels OR",
            json!({"labelSelectors": [{"matchLabels": {"app": "web"}}, {"matchLabels": {"app": "db"}}]}),
            cm("plain", "a", &[("app", "db")]),
            Ok(true),
        ),
        ("empty label selector matches all", json!({"labelSelectors": [{}]}), cm("plain", "a", &[]), Ok(true)),
        // AND across fields
        (
            "all fields hit",
            json!({"apiGroup": "", "resources": ["configmaps"], "namespaces": ["commonstuff"], "namespaceSelectors": [{"matchLabels": {"special": "yes"}}], "objectNames": ["a"], "labelSelectors": [{"matchLabels": {"app": "web"}}]}),
            cm("commonstuff", "a", &[("app", "web")]),
            Ok(true),
        ),
        (
            "one field misses",
            json!({"apiGroup": "", "resources": ["configmaps"], "namespaces": ["commonstuff"], "objectNames": ["a"], "labelSelectors": [{"matchLabels": {"app": "db"}}]}),
            cm("commonstuff", "a", &[("app", "web")]),
            Ok(false),
        ),
    ];
    for (what, t, obj, want) in table {
        assert_eq!(run(&test(t.clone()), &obj), want, "{what}: {t}");
    }
}

fn placement(v: serde_json::Value) -> PlacementMatcher {
    let spec: EdgePlacementSpec = serde_json::from_value(v).expect("spec literal");
    PlacementMatcher::new(&spec, &FieldPath::new("spec")).expect("valid spec")
}

#[test]
fn placements_or_their_tests_and_combine_modulation() {
    let nss = namespaces();
    let p = placement(json!({
        "downsync": [
            {"apiGroup": "", "resources": ["configmaps"], "createOnly": true, "statusCollectors": ["a"]},
            {"objectNames": ["shared"], "statusCollectors": ["b"]},
            {"apiGroup": "apps", "resources": ["replicasets"]}
        ]
    }));
    let table = [
        (cm("plain", "x", &[]), Some(Modulation { create_only: true, status_collectors: ["a".to_owned()].into() })),
        (
            cm("plain", "shared", &[]),
            Some(Modulation { create_only: true, status_collectors: ["a".to_owned(), "b".to_owned()].into() }),
        ),
        (rs("plain", "x"), Some(Modulation::default())),
        (rs("plain", "shared"), Some(Modulation { create_only: false, status_collectors: ["b".to_owned()].into() })),
        (cluster("", "namespaces", "x"), None),
    ];
    for (obj, want) in table {
        assert_eq!(p.downsyncs(&obj.as_ref(), |ns| nss.get(ns)), Ok(want), "{}/{}", obj.resource, obj.name);
    }
}

#[test]
fn upsync_takes_precedence_over_downsync() {
    let nss = namespaces();
    let spec = json!({
        "downsync": [{"apiGroup": "group1.test", "resources": ["*"]}],
        "upsync": [{"apiGroup": "group1.test", "resources": ["sprockets"], "namespaces": ["*"], "names": ["george"]}]
    });
    let p = placement(spec);
    let obj =
        |name| Obj { group: "group1.test", resource: "sprockets", namespace: Some("plain"), name, labels: labels(&[]) };
    assert_eq!(p.downsyncs(&obj("george").as_ref(), |ns| nss.get(ns)), Ok(None));
    assert!(p.upsyncs(&obj("george").as_ref()));
    assert_eq!(p.downsyncs(&obj("cosmo").as_ref(), |ns| nss.get(ns)), Ok(Some(Modulation::default())));
    assert!(!p.upsyncs(&obj("cosmo").as_ref()));
}

#[test]
fn an_empty_placement_selects_nothing() {
    let nss = namespaces();
    let p = placement(json!({}));
    assert_eq!(p.downsyncs(&cm("plain", "a", &[]).as_ref(), |ns| nss.get(ns)), Ok(None));
    let spec = EdgePlacementSpec { upsync: Some(vec![UpsyncSet::default()]), ..Default::default() };
    assert!(
        PlacementMatcher::new(&spec, &FieldPath::new("spec")).is_err(),
        "an upsync set without resources is invalid"
    );
}
