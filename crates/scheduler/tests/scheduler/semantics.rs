//! What a placement selects, for fixed inventories (KubeStellar's where-resolver rules).

use crate::fixtures::{Op, WDS, apply, dests, location, match_any, placement, scheduler, target, view};
use orrery_api::EdgePlacement;
use orrery_scheduler::{ObjectKey, Scheduler};
use serde_json::{Value, json};

type Want = Result<(Vec<String>, i32), Vec<String>>;

fn ok(triples: &[(&str, &str, &str)], count: i32) -> Want {
    Ok((dests(triples), count))
}

struct Case {
    name: &'static str,
    inventory: Vec<Op>,
    selectors: Value,
    want: Want,
}

/// Three Locations of `inv1` (env prod / dev / test) that select all of its targets.
fn three_envs() -> Vec<Op> {
    vec![
        Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))),
        Op::Loc("inv1", location("b", &[("env", "dev")], Some(json!({})))),
        Op::Loc("inv1", location("c", &[("env", "test")], Some(json!({})))),
        Op::Target("inv1", target("t1", &[])),
    ]
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "location selectors are ORed",
            inventory: three_envs(),
            selectors: match_any(&[("env", "prod"), ("env", "dev")]),
            want: ok(&[("inv1", "a", "t1"), ("inv1", "b", "t1")], 2),
        },
        Case {
            name: "absent location selectors select nothing",
            inventory: three_envs(),
            selectors: Value::Null,
            want: ok(&[], 0),
        },
        Case {
            name: "an empty selector list selects nothing",
            inventory: three_envs(),
            selectors: json!([]),
            want: ok(&[], 0),
        },
        Case {
            name: "an empty selector selects every Location",
            inventory: three_envs(),
            selectors: json!([{}]),
            want: ok(&[("inv1", "a", "t1"), ("inv1", "b", "t1"), ("inv1", "c", "t1")], 3),
        },
        Case {
            name: "match expressions",
            inventory: three_envs(),
            selectors: json!([{"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}]),
            want: ok(&[("inv1", "b", "t1"), ("inv1", "c", "t1")], 2),
        },
        Case {
            name: "absent instanceSelector selects no target, but the Location counts",
            inventory: vec![
                Op::Loc("inv1", location("a", &[("env", "prod")], None)),
                Op::Target("inv1", target("t1", &[])),
            ],
            selectors: match_any(&[("env", "prod")]),
            want: ok(&[], 1),
        },
        Case {
            name: "{} selects the targets of the Location's own space only",
            inventory: vec![
                Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))),
                Op::Target("inv1", target("t1", &[])),
                Op::Target("inv1", target("t2", &[])),
                Op::Target("inv2", target("t1", &[])),
                Op::Target("inv2", target("t3", &[])),
            ],
            selectors: match_any(&[("env", "prod")]),
            want: ok(&[("inv1", "a", "t1"), ("inv1", "a", "t2")], 1),
        },
        Case {
            name: "instanceSelector picks targets by label",
            inventory: vec![
                Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({"matchLabels": {"tier": "edge"}})))),
                Op::Target("inv1", target("t1", &[("tier", "edge")])),
                Op::Target("inv1", target("t2", &[("tier", "core")])),
            ],
            selectors: match_any(&[("env", "prod")]),
            want: ok(&[("inv1", "a", "t1")], 1),
        },
        Case {
            name: "several Locations selecting one target give one destination each",
            inventory: vec![
                Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))),
                Op::Loc("inv1", location("b", &[("env", "prod")], Some(json!({"matchLabels": {"tier": "edge"}})))),
                Op::Target("inv1", target("t1", &[("tier", "edge")])),
                Op::Target("inv1", target("t2", &[])),
            ],
            selectors: match_any(&[("env", "prod")]),
            want: ok(&[("inv1", "a", "t1"), ("inv1", "a", "t2"), ("inv1", "b", "t1")], 2),
        },
        Case {
            name: "same-named Locations in two inventory spaces each select their own targets",
            inventory: vec![
                Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))),
                Op::Loc("inv2", location("a", &[("env", "prod")], Some(json!({})))),
                Op::Target("inv1", target("t1", &[])),
                Op::Target("inv2", target("t2", &[])),
            ],
            selectors: match_any(&[("env", "prod")]),
            want: ok(&[("inv1", "a", "t1"), ("inv2", "a", "t2")], 2),
        },
        Case {
            name: "a malformed instanceSelector selects no target",
            inventory: vec![
                Op::Loc(
                    "inv1",
                    location(
                        "a",
                        &[("env", "prod")],
                        Some(json!({"matchExpressions": [{"key": "x", "operator": "Like"}]})),
                    ),
                ),
                Op::Target("inv1", target("t1", &[])),
            ],
            selectors: match_any(&[("env", "prod")]),
            want: ok(&[], 1),
        },
    ]
}

#[test]
fn placements_select_locations_then_targets() {
    for case in cases() {
        let mut ops = case.inventory.clone();
        ops.push(Op::Place(placement("p", case.selectors.clone())));
        assert_eq!(view(&scheduler(&ops), "p"), Some(case.want.clone()), "{}", case.name);
    }
}

/// The index must not depend on which side of a relation arrived first.
#[test]
fn the_answer_does_not_depend_on_event_order() {
    for case in cases() {
        let mut ops = vec![Op::Place(placement("p", case.selectors.clone()))];
        ops.extend(case.inventory.iter().rev().cloned());
        assert_eq!(view(&scheduler(&ops), "p"), Some(case.want.clone()), "{} (reversed)", case.name);
    }
}

fn raw_placement(v: Value) -> EdgePlacement {
    let mut obj = json!({"apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "EdgePlacement"});
    if let (Some(o), Some(extra)) = (obj.as_object_mut(), v.as_object()) {
        o.extend(extra.clone());
    }
    serde_json::from_value(obj).expect("EdgePlacement literal")
}

#[test]
fn invalid_placements_report_every_field_path() {
    let table: [(&str, Value, &[&str]); 3] = [
        (
            "p",
            json!({"metadata": {"name": "p"}, "spec": {"locationSelectors": [{"matchExpressions": [{"key": "env", "operator": "Like"}]}]}}),
            &["spec.locationSelectors[0].matchExpressions[0].operator"],
        ),
        (
            "q",
            json!({"metadata": {"name": "q", "namespace": "default"}, "spec": {
                "locationSelectors": [{}, {"matchLabels": {"env": "bad value"}}],
                "downsync": [{}]
            }}),
            &["metadata.namespace", "spec.locationSelectors[1].matchLabels[env]", "spec.downsync[0]"],
        ),
        (
            "Bad_Name",
            json!({"metadata": {"name": "Bad_Name"}, "spec": {"locationSelectors": [{}]}}),
            &["metadata.name"],
        ),
    ];
    for (name, obj, paths) in table {
        let mut s = scheduler(&three_envs());
        s.upsert_placement(WDS, &raw_placement(obj));
        let want: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(view(&s, name), Some(Err(want)), "{name}");
    }
}

#[test]
fn unknown_placements_have_no_answer() {
    let mut s = Scheduler::new();
    apply(&mut s, &Op::Place(placement("p", json!([{}]))));
    assert!(s.result(&ObjectKey::new(WDS, "other")).is_none());
    assert!(s.result(&ObjectKey::new("wds2", "p")).is_none(), "placements are keyed by space too");
    assert_eq!(s.placements().cloned().collect::<Vec<_>>(), [ObjectKey::new(WDS, "p")]);
}
