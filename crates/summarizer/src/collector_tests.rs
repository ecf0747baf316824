use super::*;
use orrery_api::{NamedAggregator, NamedExpression};
use serde_json::{Value, json};

fn named(pairs: &[(&str, &str)]) -> Option<Vec<NamedExpression>> {
    Some(pairs.iter().map(|(n, d)| NamedExpression { name: (*n).into(), def: (*d).into() }).collect())
}

fn agg(name: &str, kind: AggregatorType, subject: Option<&str>) -> NamedAggregator {
    NamedAggregator { name: name.into(), type_: kind, subject: subject.map(str::to_owned) }
}

fn spec() -> StatusCollectorSpec {
    StatusCollectorSpec { limit: 20, ..Default::default() }
}

/// Three clusters' reports: c1 and c2 in region east, c3 in west, c3 reporting its ready
/// replicas as a string.
fn reports_of(statuses: &[(&str, Value)]) -> (Value, Vec<(String, Value)>) {
    let obj = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}});
    (obj, statuses.iter().map(|(w, s)| ((*w).to_owned(), s.clone())).collect())
}

fn run(spec: &StatusCollectorSpec, statuses: &[(&str, Value)]) -> NamedStatusCombination {
    let (obj, rows) = reports_of(statuses);
    let obj = crate::expr::to_cel(&obj);
    let reports: Vec<Report> = rows.iter().map(|(w, s)| Report::new(w, Some(s), None)).collect();
    Collector::compile(spec).expect("compiles").evaluate("sc", &obj, &reports)
}

fn table(result: &NamedStatusCombination) -> Vec<Vec<String>> {
    result.rows.iter().flatten().map(|r| r.columns.iter().map(describe).collect()).collect()
}

fn three() -> Vec<(&'static str, Value)> {
    vec![
        ("c1", json!({"readyReplicas": 2, "region": "east"})),
        ("c2", json!({"readyReplicas": 1, "region": "east"})),
        ("c3", json!({"readyReplicas": "4", "region": "west"})),
    ]
}

#[test]
fn aggregations_over_all_rows() {
    let cases: &[(AggregatorType, Option<&str>, &str)] = &[
        (AggregatorType::Count, None, "3"),
        (AggregatorType::Sum, Some("returned.status.readyReplicas"), "7"),
        (AggregatorType::Avg, Some("returned.status.readyReplicas"), "2.3333333333333335"),
        (AggregatorType::Min, Some("returned.status.readyReplicas"), "1"),
        (AggregatorType::Max, Some("returned.status.readyReplicas"), "4"),
    ];
    for (kind, subject, want) in cases {
        let s = StatusCollectorSpec { combined_fields: Some(vec![agg("x", *kind, *subject)]), ..spec() };
        let r = run(&s, &three());
        assert_eq!(table(&r), vec![vec![(*want).to_owned()]], "{kind:?}");
        assert_eq!(r.aggregation_errors, None, "the string \"4\" is a number");
    }
}

#[test]
fn identities_over_no_rows() {
    let cases: &[(AggregatorType, Option<&str>, &str)] = &[
        (AggregatorType::Count, None, "0"),
        (AggregatorType::Sum, Some("returned.status.readyReplicas"), "0"),
        (AggregatorType::Avg, Some("returned.status.readyReplicas"), "NaN"),
        (AggregatorType::Min, Some("returned.status.readyReplicas"), "+Inf"),
        (AggregatorType::Max, Some("returned.status.readyReplicas"), "-Inf"),
    ];
    for (kind, subject, want) in cases {
        let s = StatusCollectorSpec { combined_fields: Some(vec![agg("x", *kind, *subject)]), ..spec() };
        assert_eq!(table(&run(&s, &[])), vec![vec![(*want).to_owned()]], "{kind:?} over no clusters");
        // A filter that keeps nothing is the same.
        let filtered = StatusCollectorSpec { filter: Some("false".into()), ..s };
        assert_eq!(table(&run(&filtered, &three())), vec![vec![(*want).to_owned()]], "{kind:?} filtered");
    }
}

#[test]
fn group_by_filter_and_limit() {
    let s = StatusCollectorSpec {
        filter: Some("returned.status.region != 'nowhere'".into()),
        group_by: named(&[("region", "returned.status.region")]),
        combined_fields: Some(vec![
            agg("count", AggregatorType::Count, None),
            agg("ready", AggregatorType::Sum, Some("returned.status.readyReplicas")),
        ]),
        ..spec()
    };
    let r = run(&s, &three());
    assert_eq!(r.column_names, vec!["region", "count", "ready"]);
    assert_eq!(table(&r), vec![vec!["east", "2", "3"], vec!["west", "1", "4"]]);
    let limited = run(&StatusCollectorSpec { limit: 1, ..s.clone() }, &three());
    assert_eq!(table(&limited), vec![vec!["east", "2", "3"]]);
    // Grouped, over no rows: no groups at all.
    assert_eq!(table(&run(&s, &[])), Vec::<Vec<String>>::new());
}

#[test]
fn select_rows_and_row_errors() {
    let s = StatusCollectorSpec {
        filter: Some("inventory.name != 'c2'".into()),
        select: named(&[("wec", "inventory.name"), ("ready", "returned.status.readyReplicas")]),
        ..spec()
    };
    let mut statuses = three();
    statuses.push(("c4", json!({"region": "west"})));
    let r = run(&s, &statuses);
    assert_eq!(table(&r), vec![vec!["c1", "2"], vec!["c3", "4"]], "c2 filtered out, c4 failed");
    let errors = r.row_errors.expect("c4's missing field");
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].wec.cluster_id.as_str(), errors[0].column_name.as_str()), ("c4", "ready"));
    // The string stays a string in a select.
    assert_eq!(r.rows.as_ref().expect("rows")[1].columns[1].type_, orrery_api::ValueType::String);
}

#[test]
fn filter_errors_and_non_bools() {
    let base = StatusCollectorSpec { combined_fields: Some(vec![agg("n", AggregatorType::Count, None)]), ..spec() };
    let cases: &[(&str, &str, usize)] = &[
        // (filter, count, row errors): null drops silently, a number is an error.
        ("returned.status.region == 'east'", "2", 0),
        ("null", "0", 0),
        ("1", "0", 3),
        ("returned.status.nope", "0", 3),
    ];
    for (filter, count, errors) in cases {
        let r = run(&StatusCollectorSpec { filter: Some((*filter).into()), ..base.clone() }, &three());
        assert_eq!(table(&r), vec![vec![(*count).to_owned()]], "{filter}");
        let got = r.row_errors.unwrap_or_default();
        assert_eq!(got.len(), *errors, "{filter}: {got:?}");
        assert!(got.iter().all(|e| e.column_name.is_empty()), "filter errors are in column \"\"");
    }
}

#[test]
fn type_errors_count_as_zero_and_are_reported() {
    let statuses = vec![
        ("c1", json!({"v": 5})),
        ("c2", json!({"v": "five"})),
        ("c3", json!({"v": true})),
        ("c4", json!({"v": {"a": 1}})),
    ];
    let s = StatusCollectorSpec {
        combined_fields: Some(vec![agg("sum", AggregatorType::Sum, Some("returned.status.v"))]),
        ..spec()
    };
    let r = run(&s, &statuses);
    assert_eq!(table(&r), vec![vec!["5"]]);
    let errors = r.aggregation_errors.expect("three bad values");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].error.contains("c2") && errors[0].error.contains("\"five\" is not a number"), "{errors:?}");
    assert!(errors.iter().all(|e| e.column_name == "sum"));
    // A groupBy key that is not atomic is a row error.
    let g = StatusCollectorSpec {
        group_by: named(&[("v", "returned.status.v")]),
        combined_fields: Some(vec![agg("n", AggregatorType::Count, None)]),
        ..spec()
    };
    let r = run(&g, &statuses);
    // Groups are ordered by their key (type first, then value).
    assert_eq!(table(&r), vec![vec!["true", "1"], vec!["5", "1"], vec!["five", "1"]]);
    assert_eq!(r.row_errors.map(|e| e.len()), Some(1), "the map key");
}

#[test]
fn invalid_collectors_say_why() {
    let cases: Vec<(StatusCollectorSpec, &str)> = vec![
        (StatusCollectorSpec { filter: Some("1 +".into()), select: named(&[("a", "1")]), ..spec() }, "filter: "),
        (StatusCollectorSpec { select: named(&[("a", "obj.(")]), ..spec() }, "select[0] (a): "),
        (
            StatusCollectorSpec {
                select: named(&[("a", "1")]),
                combined_fields: Some(vec![agg("n", AggregatorType::Count, None)]),
                ..spec()
            },
            "cannot both",
        ),
        (spec(), "one of select or combinedFields"),
        (
            StatusCollectorSpec { group_by: named(&[("g", "1")]), select: named(&[("a", "1")]), ..spec() },
            "groupBy needs",
        ),
        (
            StatusCollectorSpec { combined_fields: Some(vec![agg("s", AggregatorType::Sum, None)]), ..spec() },
            "SUM needs a subject",
        ),
        (
            StatusCollectorSpec { combined_fields: Some(vec![agg("c", AggregatorType::Count, Some("1"))]), ..spec() },
            "COUNT takes no subject",
        ),
        (StatusCollectorSpec { select: named(&[("a", "1"), ("a", "2")]), ..spec() }, "used twice"),
        (StatusCollectorSpec { select: named(&[("a", "1")]), limit: -1, ..spec() }, "negative"),
    ];
    for (s, want) in cases {
        let errors = Collector::compile(&s).expect_err(want);
        assert!(errors.iter().any(|e| e.contains(want)), "{want}: {errors:?}");
    }
}
