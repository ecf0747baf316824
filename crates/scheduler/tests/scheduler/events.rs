//! Sequences of events: after each, the placements the scheduler reports as affected and
//! the answers it gives.

use crate::fixtures::{
    Op, View, affected, apply, dests, location, match_any, placement, scheduler, target, target_with_uid, view,
};
use orrery_scheduler::Scheduler;
use serde_json::json;

fn ok(triples: &[(&str, &str, &str)], count: i32) -> View {
    Some(Ok((dests(triples), count)))
}

/// One event, the placements it must report, and answers that must hold after it.
struct Step {
    op: Op,
    affected: &'static [&'static str],
    want: Vec<(&'static str, View)>,
}

fn run(name: &str, s: &mut Scheduler, steps: Vec<Step>) {
    for (i, step) in steps.into_iter().enumerate() {
        let got = apply(s, &step.op);
        assert_eq!(got, affected(step.affected), "{name}, step {i}: affected");
        for (placement, want) in step.want {
            assert_eq!(view(s, placement), want, "{name}, step {i}: answer of {placement}");
        }
    }
}

fn step(op: Op, affected: &'static [&'static str], want: Vec<(&'static str, View)>) -> Step {
    Step { op, affected, want }
}

#[test]
fn selector_edits_add_and_remove_destinations() {
    let mut s = scheduler(&[
        Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))),
        Op::Loc("inv1", location("b", &[("env", "dev")], Some(json!({})))),
        Op::Target("inv1", target("t1", &[])),
        Op::Target("inv1", target("t2", &[])),
        Op::Place(placement("p", match_any(&[("env", "prod")]))),
        Op::Place(placement("q", match_any(&[("env", "dev")]))),
    ]);
    let a = |t| ("inv1", "a", t);
    let b = |t| ("inv1", "b", t);
    let edge = json!({"matchLabels": {"tier": "edge"}});
    run(
        "selector edits",
        &mut s,
        vec![
            step(
                Op::Place(placement("p", match_any(&[("env", "prod"), ("env", "dev")]))),
                &["p"],
                vec![("p", ok(&[a("t1"), a("t2"), b("t1"), b("t2")], 2)), ("q", ok(&[b("t1"), b("t2")], 1))],
            ),
            step(
                Op::Place(placement("p", match_any(&[("env", "dev")]))),
                &["p"],
                vec![("p", ok(&[b("t1"), b("t2")], 1))],
            ),
            step(
                Op::Loc("inv1", location("a", &[("env", "dev")], Some(json!({})))),
                &["p", "q"],
                vec![("p", ok(&[a("t1"), a("t2"), b("t1"), b("t2")], 2))],
            ),
            step(Op::Loc("inv1", location("b", &[("env", "test")], Some(json!({})))), &["p", "q"], vec![]),
            step(
                Op::Loc("inv1", location("a", &[("env", "dev")], Some(edge.clone()))),
                &["p", "q"],
                vec![("q", ok(&[], 1))],
            ),
            step(Op::Target("inv1", target("t1", &[("tier", "edge")])), &["p", "q"], vec![("q", ok(&[a("t1")], 1))]),
            step(Op::Loc("inv1", location("a", &[("env", "dev"), ("extra", "x")], Some(edge))), &[], vec![]),
            step(Op::Loc("inv1", location("b", &[("env", "test")], Some(json!({})))), &[], vec![]),
            step(Op::Place(placement("p", match_any(&[]))), &["p"], vec![("p", ok(&[], 0))]),
        ],
    );
}

#[test]
fn sync_target_events_move_destinations() {
    let mut s = scheduler(&[
        Op::Loc("inv1", location("edge", &[("env", "prod")], Some(json!({"matchLabels": {"tier": "edge"}})))),
        Op::Loc("inv1", location("core", &[("env", "prod")], Some(json!({"matchLabels": {"tier": "core"}})))),
        Op::Loc("inv1", location("all", &[("env", "dev")], Some(json!({})))),
        Op::Place(placement("p", match_any(&[("env", "prod")]))),
        Op::Place(placement("q", match_any(&[("env", "dev")]))),
        Op::Place(placement("r", match_any(&[("region", "nowhere")]))),
    ]);
    run(
        "sync target lifecycle",
        &mut s,
        vec![
            step(
                Op::Target("inv1", target("t1", &[("tier", "edge")])),
                &["p", "q"],
                vec![
                    ("p", ok(&[("inv1", "edge", "t1")], 2)),
                    ("q", ok(&[("inv1", "all", "t1")], 1)),
                    ("r", ok(&[], 0)),
                ],
            ),
            step(
                Op::Target("inv1", target("t1", &[("tier", "core")])),
                &["p"],
                vec![("p", ok(&[("inv1", "core", "t1")], 2))],
            ),
            step(Op::Target("inv1", target("t1", &[("tier", "core")])), &[], vec![]),
            step(
                Op::Target("inv1", target_with_uid("t1", "uid-new", &[("tier", "core")])),
                &["p", "q"],
                vec![("p", Some(Ok((vec!["inv1/core/t1@uid-new".to_owned()], 2))))],
            ),
            step(Op::Target("inv1", target("t2", &[("tier", "none")])), &["q"], vec![]),
            step(
                Op::DelTarget("inv1", "t1"),
                &["p", "q"],
                vec![("p", ok(&[], 2)), ("q", ok(&[("inv1", "all", "t2")], 1))],
            ),
            step(Op::DelTarget("inv1", "t1"), &[], vec![]),
            step(Op::Target("inv2", target("t1", &[("tier", "edge")])), &[], vec![("p", ok(&[], 2))]),
            step(Op::DelTarget("inv2", "t1"), &[], vec![]),
        ],
    );
}

#[test]
fn overlapping_placements_share_locations() {
    let mut s = scheduler(&[
        Op::Loc("inv1", location("a", &[("env", "prod"), ("region", "eu")], Some(json!({})))),
        Op::Loc("inv1", location("b", &[("region", "eu")], Some(json!({})))),
        Op::Place(placement("p", match_any(&[("env", "prod")]))),
        Op::Place(placement("q", match_any(&[("region", "eu")]))),
    ]);
    run(
        "overlapping placements",
        &mut s,
        vec![
            step(
                Op::Target("inv1", target("t1", &[])),
                &["p", "q"],
                vec![("p", ok(&[("inv1", "a", "t1")], 1)), ("q", ok(&[("inv1", "a", "t1"), ("inv1", "b", "t1")], 2))],
            ),
            step(
                Op::Loc("inv1", location("b", &[("region", "eu")], None)),
                &["q"],
                vec![("p", ok(&[("inv1", "a", "t1")], 1))],
            ),
            step(Op::Loc("inv1", location("a", &[("region", "eu")], Some(json!({})))), &["p"], vec![("p", ok(&[], 0))]),
        ],
    );
}

#[test]
fn deleting_locations_and_placements() {
    let mut s = scheduler(&[
        Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))),
        Op::Loc("inv1", location("b", &[("env", "prod")], Some(json!({})))),
        Op::Target("inv1", target("t1", &[])),
        Op::Place(placement("p", match_any(&[("env", "prod")]))),
        Op::Place(placement("q", match_any(&[("env", "prod")]))),
        Op::Place(placement("r", match_any(&[("env", "dev")]))),
    ]);
    run(
        "deletions",
        &mut s,
        vec![
            step(Op::DelLoc("inv1", "a"), &["p", "q"], vec![("p", ok(&[("inv1", "b", "t1")], 1))]),
            step(Op::DelLoc("inv1", "a"), &[], vec![]),
            step(Op::DelLoc("inv2", "a"), &[], vec![]),
            step(Op::DelPlace("q"), &["q"], vec![("q", None), ("p", ok(&[("inv1", "b", "t1")], 1))]),
            step(Op::Target("inv1", target("t2", &[])), &["p"], vec![]),
            step(Op::DelPlace("q"), &[], vec![]),
            step(
                Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))),
                &["p"],
                vec![(
                    "p",
                    ok(&[("inv1", "a", "t1"), ("inv1", "a", "t2"), ("inv1", "b", "t1"), ("inv1", "b", "t2")], 2),
                )],
            ),
            step(Op::Loc("inv1", location("c", &[], None)), &[], vec![]),
        ],
    );
}

#[test]
fn invalid_placements_select_nothing_until_fixed() {
    let bad = json!([{"matchExpressions": [{"key": "env", "operator": "Like"}]}]);
    let bad_path = || Some(Err(vec!["spec.locationSelectors[0].matchExpressions[0].operator".to_owned()]));
    let mut s = scheduler(&[
        Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))),
        Op::Target("inv1", target("t1", &[])),
        Op::Place(placement("p", match_any(&[("env", "prod")]))),
    ]);
    run(
        "invalid placements",
        &mut s,
        vec![
            step(Op::Place(placement("p", bad)), &["p"], vec![("p", bad_path())]),
            step(Op::Target("inv1", target("t2", &[])), &[], vec![("p", bad_path())]),
            step(Op::Loc("inv1", location("b", &[("env", "prod")], Some(json!({})))), &[], vec![]),
            step(
                Op::Place(placement("p", match_any(&[("env", "prod")]))),
                &["p"],
                vec![(
                    "p",
                    ok(&[("inv1", "a", "t1"), ("inv1", "a", "t2"), ("inv1", "b", "t1"), ("inv1", "b", "t2")], 2),
                )],
            ),
            step(Op::DelPlace("p"), &["p"], vec![("p", None)]),
        ],
    );
}

/// Re-reading a placement whose selectors did not change (its own status update coming
/// back through the watch) must still requeue it, but must not re-test any Location.
#[test]
fn unchanged_placement_costs_no_selector_test() {
    let p = placement("p", match_any(&[("env", "prod")]));
    let mut s = scheduler(&[Op::Loc("inv1", location("a", &[("env", "prod")], Some(json!({})))), Op::Place(p.clone())]);
    let before = s.evaluations();
    assert_eq!(apply(&mut s, &Op::Place(p)), affected(&["p"]));
    assert_eq!(s.evaluations(), before);
    assert_eq!(view(&s, "p"), ok(&[], 1));
}
