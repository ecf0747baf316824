use super::*;
use serde_json::json;

fn sel(v: serde_json::Value) -> LabelSelector {
    serde_json::from_value(v).expect("selector literal")
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn structured_selector_matching() {
    let env_prod = [("env", "prod"), ("tier", "web")];
    let env_dev = [("env", "dev")];
    let none: [(&str, &str); 0] = [];
    type Case<'a> = (serde_json::Value, &'a [(&'a str, &'a str)], bool);
    let table: Vec<Case> = vec![
        // empty selector selects everything, even no labels
        (json!({}), &none, true),
        (json!({}), &env_prod, true),
        (json!({"matchLabels": {}}), &env_dev, true),
        (json!({"matchExpressions": []}), &env_dev, true),
        // matchLabels: every pair must be present
        (json!({"matchLabels": {"env": "prod"}}), &env_prod, true),
        (json!({"matchLabels": {"env": "prod"}}), &env_dev, false),
        (json!({"matchLabels": {"env": "prod", "tier": "web"}}), &env_prod, true),
        (json!({"matchLabels": {"env": "prod", "tier": "db"}}), &env_prod, false),
        (json!({"matchLabels": {"env": "prod"}}), &none, false),
        // In / NotIn
        (json!({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}), &env_dev, true),
        (json!({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}), &env_dev, false),
        (json!({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}), &none, false),
        (json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}), &env_dev, true),
        (json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}), &env_prod, false),
        // NotIn matches objects that lack the key, as in Kubernetes
        (json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}), &none, true),
        // Exists / DoesNotExist
        (json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}), &env_prod, true),
        (json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}), &env_dev, false),
        (json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}), &env_dev, true),
        (json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}), &env_prod, false),
        // matchLabels AND matchExpressions
        (
            json!({"matchLabels": {"env": "prod"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}),
            &env_prod,
            false,
        ),
        (
            json!({"matchLabels": {"env": "prod"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}),
            &env_prod,
            true,
        ),
    ];
    for (i, (s, l, want)) in table.into_iter().enumerate() {
        let compiled = compile(&sel(s.clone()), &FieldPath::new("s")).expect("valid selector");
        assert_eq!(compiled.matches(&labels(l)), want, "case {i}: {s} on {l:?}");
    }
}

#[test]
fn absent_selector_selects_nothing_and_empty_selects_everything() {
    let p = FieldPath::new("spec").child("instanceSelector");
    assert_eq!(compile_optional(None, &p), Ok(None));
    let everything = compile_optional(Some(&sel(json!({}))), &p).expect("valid").expect("present");
    assert!(everything.matches(no_labels()));
}

#[test]
fn ored_lists() {
    let sels = compile_all(
        &[sel(json!({"matchLabels": {"a": "1"}})), sel(json!({"matchLabels": {"b": "2"}}))],
        &FieldPath::new("x"),
    )
    .expect("valid");
    assert!(any_matches(&sels, &labels(&[("a", "1")])));
    assert!(any_matches(&sels, &labels(&[("b", "2")])));
    assert!(!any_matches(&sels, &labels(&[("a", "2")])));
    assert!(!any_matches(&[], &labels(&[("a", "1")])), "an empty OR-list matches nothing");
}

#[test]
fn invalid_selectors_report_every_problem_with_its_path() {
    let table: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (
            json!({"matchExpressions": [{"key": "env", "operator": "Has", "values": ["x"]}]}),
            vec![
                "s.matchExpressions[0].operator: Unsupported value: \"Has\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"",
            ],
        ),
        (
            json!({"matchExpressions": [{"key": "env", "operator": "In"}]}),
            vec!["s.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"],
        ),
        (
            json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": []}]}),
            vec!["s.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"],
        ),
        (
            json!({"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["a"]}]}),
            vec![
                "s.matchExpressions[0].values: Invalid value: \"a\": may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ],
        ),
        (
            json!({"matchLabels": {"bad key": "v", "ok": "bad value!"}}),
            vec![
                "s.matchLabels[bad key]: Invalid value: \"bad key\"",
                "s.matchLabels[ok]: Invalid value: \"bad value!\"",
            ],
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["ok"]}, {"key": "-b", "operator": "In", "values": ["-x"]}]}),
            vec![
                "s.matchExpressions[1].key: Invalid value: \"-b\"",
                "s.matchExpressions[1].values[0]: Invalid value: \"-x\"",
            ],
        ),
    ];
    for (s, wants) in table {
        let errs = compile(&sel(s.clone()), &FieldPath::new("s")).expect_err("invalid selector");
        let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(rendered.len(), wants.len(), "{s}: {rendered:?}");
        for (got, want) in rendered.iter().zip(wants) {
            assert!(got.starts_with(want), "{s}: got {got:?}, want prefix {want:?}");
        }
    }
}
