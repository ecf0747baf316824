use super::*;
use serde_json::json;
use std::collections::BTreeMap;

fn params() -> Params {
    let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Params::new(map(&[("env", "prod"), ("replicas", "3"), ("field", "replicas")]), map(&[("region", "eu")]))
}

/// A Customizer in namespace `ns` named `c`, optionally asking for expansion.
fn customizer(expand: bool, replacements: &[(&str, &str)]) -> Customizer {
    let annotations = if expand { json!({EXPAND_PARAMETERS: "true"}) } else { json!({}) };
    let replacements: Vec<Value> = replacements.iter().map(|(p, v)| json!({"path": p, "value": v})).collect();
    serde_json::from_value(json!({
        "apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "Customizer",
        "metadata": {"name": "c", "namespace": "ns", "annotations": annotations},
        "replacements": replacements
    }))
    .expect("Customizer literal")
}

fn at(index: usize) -> ReplacementRef {
    ReplacementRef { customizer: "ns/c".to_owned(), index }
}

fn unknown(name: &str, site: ParamSite) -> Problem {
    Problem::UnknownParameter { name: name.to_owned(), site }
}

/// A Deployment, annotated for expansion when `expand`.
fn deployment(expand: bool) -> Value {
    let annotations = if expand { json!({EXPAND_PARAMETERS: "true"}) } else { json!({EXPAND_PARAMETERS: "True"}) };
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "annotations": annotations},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "app", "image": "app:%(env)", "env": [{"name": "REGION", "value": "%(region)"}]}
        ]}}}
    })
}

/// `deployment(expand)` with `edit` applied.
fn edited(expand: bool, edit: impl FnOnce(&mut Value)) -> Value {
    let mut d = deployment(expand);
    edit(&mut d);
    d
}

fn container(d: &mut Value) -> &mut Value {
    &mut d["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn customize_table() {
    // (what, object, customizer, expected object, expected problems)
    type Row = (&'static str, Value, Option<Customizer>, Value, Vec<Problem>);
    let table: Vec<Row> = vec![
        ("nothing asked: unchanged", deployment(false), None, deployment(false), vec![]),
        (
            "expansion of the object",
            deployment(true),
            None,
            edited(true, |d| {
                container(d)["image"] = json!("app:prod");
                container(d)["env"][0]["value"] = json!("eu");
            }),
            vec![],
        ),
        (
            "expansion with an unknown parameter is reported and the rest expanded",
            edited(true, |d| d["metadata"]["labels"] = json!({"tier": "%(tier)"})),
            None,
            edited(true, |d| {
                d["metadata"]["labels"] = json!({"tier": "%(tier)"});
                container(d)["image"] = json!("app:prod");
                container(d)["env"][0]["value"] = json!("eu");
            }),
            vec![unknown("tier", ParamSite::Object)],
        ),
        (
            "a Customizer without expansion: values are literal JSON",
            deployment(false),
            Some(customizer(
                false,
                &[("$.spec.replicas", "2"), ("$.spec.template.spec.containers.0.env.0.value", "\"x %(env)\"")],
            )),
            edited(false, |d| {
                d["spec"]["replicas"] = json!(2);
                container(d)["env"][0]["value"] = json!("x %(env)");
            }),
            vec![],
        ),
        (
            "an expanding Customizer expands its path and value, not the object",
            deployment(false),
            Some(customizer(
                true,
                &[("$.spec.%(field)", "%(replicas)"), ("$.metadata.labels.region", "\"%(region)\"")],
            )),
            edited(false, |d| {
                d["spec"]["replicas"] = json!(3);
                d["metadata"]["labels"] = json!({"region": "eu"});
            }),
            vec![],
        ),
        (
            "expansion first, then replacements; replaced values are not expanded again",
            deployment(true),
            Some(customizer(false, &[("$.spec.template.spec.containers.0.image", "\"img:%(env)\"")])),
            edited(true, |d| {
                container(d)["image"] = json!("img:%(env)");
                container(d)["env"][0]["value"] = json!("eu");
            }),
            vec![],
        ),
        (
            "every failing replacement is reported; the others still apply",
            deployment(false),
            Some(customizer(
                true,
                &[
                    ("spec.replicas", "2"),
                    ("$.spec.replicas", "two"),
                    ("$.spec.template.spec.containers.5.image", "\"x\""),
                    ("$", "[]"),
                    ("$.spec.paused", "%(paused)"),
                    ("$.spec.minReadySeconds", "%(replicas)"),
                    ("$.spec['%(nope)']", "1"),
                ],
            )),
            edited(false, |d| {
                d["spec"]["minReadySeconds"] = json!(3);
                d["spec"]["%(nope)"] = json!(1);
            }),
            vec![
                Problem::BadPath {
                    replacement: at(0),
                    error: jsonpath::Path::parse("spec.replicas").expect_err("no $"),
                },
                Problem::BadValue {
                    replacement: at(1),
                    value: "two".to_owned(),
                    error: serde_json::from_str::<Value>("two").expect_err("not JSON").to_string(),
                },
                Problem::NothingSelected {
                    replacement: at(2),
                    path: "$.spec.template.spec.containers.5.image".to_owned(),
                },
                Problem::RootNotObject { replacement: at(3) },
                unknown("paused", ParamSite::Value(at(4))),
                Problem::BadValue {
                    replacement: at(4),
                    value: "%(paused)".to_owned(),
                    error: serde_json::from_str::<Value>("%(paused)").expect_err("not JSON").to_string(),
                },
                unknown("nope", ParamSite::Path(at(6))),
            ],
        ),
        (
            "`$` with an object replaces the whole object (as KubeStellar does)",
            deployment(false),
            Some(customizer(false, &[("$", "{\"kind\": \"ConfigMap\"}")])),
            json!({"kind": "ConfigMap"}),
            vec![],
        ),
    ];
    for (what, mut object, customizer, want, want_problems) in table {
        let problems = customize(&mut object, &params(), customizer.as_ref());
        assert_eq!(object, want, "{what}");
        assert_eq!(problems, want_problems, "{what}");
    }
}

#[test]
fn a_customizer_without_replacements_changes_nothing() {
    let mut c = customizer(true, &[]);
    c.spec.replacements = None;
    let mut object = deployment(false);
    assert_eq!(customize(&mut object, &params(), Some(&c)), vec![]);
    assert_eq!(object, deployment(false));
}

#[test]
fn problems_read_as_sentences() {
    let table = [
        (
            unknown("zone", ParamSite::Object),
            "parameter %(zone) in the object is neither a label nor an annotation of the destination Location; \
             it was left as %(zone) (add it to the Location, or fix the name)",
        ),
        (
            unknown("zone", ParamSite::Path(at(2))),
            "parameter %(zone) in the path of Customizer ns/c replacements[2] is neither a label nor an annotation \
             of the destination Location; it was left as %(zone) (add it to the Location, or fix the name)",
        ),
        (
            Problem::NothingSelected { replacement: at(0), path: "$.a.5".to_owned() },
            "Customizer ns/c replacements[0] changed nothing: path \"$.a.5\" selects no place in this object",
        ),
        (
            Problem::CustomizerNotFound { namespace: "ns".to_owned(), name: "c".to_owned() },
            "Customizer ns/c, named by annotation edge.kubestellar.io/customizer, does not exist",
        ),
    ];
    for (problem, want) in table {
        assert_eq!(problem.to_string(), want);
    }
    let bad = Problem::BadPath { replacement: at(1), error: jsonpath::Path::parse("x").expect_err("no $") };
    assert!(bad.to_string().starts_with("Customizer ns/c replacements[1] was not applied: invalid JSONPath \"x\""));
}

#[test]
fn needs_params_table() {
    let plain = json!({"metadata": {"name": "x"}});
    let table = [
        (deployment(true), None, true),
        (deployment(false), None, false),
        (plain.clone(), None, false),
        (plain.clone(), Some(customizer(false, &[])), false),
        (plain, Some(customizer(true, &[])), true),
    ];
    for (object, c, want) in table {
        assert_eq!(needs_params(&object, c.as_ref()), want, "{object} {c:?}");
    }
}

#[test]
fn customizer_ref_table() {
    let obj = |namespace: Option<&str>, value: Option<&str>| {
        let mut annotations = BTreeMap::new();
        if let Some(v) = value {
            annotations.insert(CUSTOMIZER, v);
        }
        match namespace {
            Some(ns) => json!({"metadata": {"name": "o", "namespace": ns, "annotations": annotations}}),
            None => json!({"metadata": {"name": "o", "annotations": annotations}}),
        }
    };
    let found = |ns: &str, name: &str| Ok(Some(CustomizerRef { namespace: ns.to_owned(), name: name.to_owned() }));
    let is_bad = |r: &Result<Option<CustomizerRef>, Problem>| matches!(r, Err(Problem::BadCustomizerRef { .. }));
    type Want = Option<Result<Option<CustomizerRef>, Problem>>;
    let table: Vec<(Value, Want)> = vec![
        (obj(Some("shop"), None), Some(Ok(None))),
        (obj(Some("shop"), Some("")), Some(Ok(None))),
        (obj(None, Some("")), Some(Ok(None))),
        (obj(Some("shop"), Some("cust")), Some(found("shop", "cust"))),
        (obj(Some("shop"), Some("other/cust")), Some(found("other", "cust"))),
        (obj(None, Some("other/cust")), Some(found("other", "cust"))),
        (obj(Some(""), Some("other/cust")), Some(found("other", "cust"))),
        // `None` = a BadCustomizerRef problem expected
        (obj(None, Some("cust")), None),
        (obj(Some(""), Some("cust")), None),
        (obj(Some("shop"), Some("/cust")), None),
        (obj(Some("shop"), Some("other/")), None),
        (obj(Some("shop"), Some("a/b/c")), None),
        (obj(Some("shop"), Some("Cust")), None),
        (obj(Some("shop"), Some("UPPER/cust")), None),
    ];
    for (object, want) in table {
        let got = customizer_ref(&object);
        match want {
            Some(want) => assert_eq!(got, want, "{object}"),
            None => assert!(is_bad(&got), "{object}: got {got:?}"),
        }
    }
    let err = customizer_ref(&obj(None, Some("cust"))).expect_err("cluster-scoped bare name");
    assert!(err.to_string().contains("must name its Customizer as `namespace/name`"), "{err}");
}
