//! Incrementality at the design's scale: 10,000 SyncTargets in 100 inventory spaces and 50
//! placements. One event must cost work bounded by what can see the changed object, never
//! by the size of the inventory. Work is counted in selector tests, not wall-clock time.

use crate::fixtures::{location, placement, target};
use orrery_scheduler::{Affected, ObjectKey, Scheduler};
use serde_json::json;

const SPACES: usize = 100;
const TARGETS_PER_SPACE: usize = 100;
const PLACEMENTS: usize = 50;
const REGIONS: usize = 5;
/// The Locations of every space, by `kind` label, with the tier their instance selector
/// picks (`None`: every target).
const KINDS: [(&str, Option<&str>); 3] = [("edge", Some("edge")), ("core", Some("core")), ("all", None)];

fn space(s: usize) -> String {
    format!("inv{s:03}")
}

fn region(s: usize) -> String {
    format!("r{}", s % REGIONS)
}

fn tier(t: usize) -> &'static str {
    if t.is_multiple_of(2) { "edge" } else { "core" }
}

/// The placement `i` selects the Locations of one kind in one region: 20 spaces' worth.
fn placement_selector(i: usize) -> (String, &'static str) {
    (format!("r{}", i % REGIONS), KINDS[(i / REGIONS) % KINDS.len()].0)
}

fn build() -> Scheduler {
    let mut s = Scheduler::new();
    for sp in 0..SPACES {
        for (kind, tier) in KINDS {
            let selector = tier.map_or_else(|| json!({}), |t| json!({"matchLabels": {"tier": t}}));
            s.upsert_location(&space(sp), &location(kind, &[("region", &region(sp)), ("kind", kind)], Some(selector)));
        }
        for t in 0..TARGETS_PER_SPACE {
            s.upsert_sync_target(&space(sp), &target(&format!("c{t:03}"), &[("tier", tier(t))]));
        }
    }
    for i in 0..PLACEMENTS {
        let (region, kind) = placement_selector(i);
        s.upsert_placement(
            "wds1",
            &placement(&format!("p{i:02}"), json!([{"matchLabels": {"region": region, "kind": kind}}])),
        );
    }
    s
}

fn all_answers(s: &Scheduler) -> Vec<(ObjectKey, String)> {
    s.placements().map(|k| (k.clone(), format!("{:?}", s.result(k)))).collect()
}

fn changed(before: &[(ObjectKey, String)], after: &[(ObjectKey, String)]) -> Affected {
    before.iter().zip(after).filter(|(b, a)| b != a).map(|(b, _)| b.0.clone()).collect()
}

/// The placements that select the Locations of these kinds in space `sp`, by construction.
fn placements_seeing(sp: usize, kinds: &[&str]) -> Affected {
    (0..PLACEMENTS)
        .filter(|&i| {
            let (r, kind) = placement_selector(i);
            r == region(sp) && kinds.contains(&kind)
        })
        .map(|i| ObjectKey::new("wds1", format!("p{i:02}")))
        .collect()
}

#[test]
fn one_sync_target_change_costs_its_own_space_only() {
    let mut s = build();
    let sp = 7;
    let before = all_answers(&s);
    let work = s.evaluations();

    // c000 is tier=edge: moving it to core takes it from Location `edge` to `core`.
    let got = s.upsert_sync_target(&space(sp), &target("c000", &[("tier", "core")]));
    let cost = s.evaluations() - work;

    let want = placements_seeing(sp, &["edge", "core"]);
    assert_eq!(want.len(), 7, "the fixture: 4 edge + 3 core placements look at region r2");
    assert_eq!(got, want);
    assert_eq!(got, changed(&before, &all_answers(&s)), "affected = exactly the placements whose answer changed");
    // Candidates: `core` (anchored under tier=core, which it now carries) and `all` (no
    // anchor); `edge` is left without a test, its anchor tier=edge being gone.
    assert_eq!(cost, 2, "one selector test per Location of its space that could match, none elsewhere");
    assert!(cost < (SPACES * TARGETS_PER_SPACE / 100) as u64, "nowhere near the 10,000 targets");
}

#[test]
fn status_only_and_unmatched_changes_are_free() {
    let mut s = build();
    let work = s.evaluations();
    // Same labels and UID, as a heartbeat or condition update looks to the scheduler.
    assert_eq!(s.upsert_sync_target(&space(3), &target("c010", &[("tier", "edge")])), Affected::new());
    assert_eq!(s.evaluations(), work);

    // A new label no instance selector looks at changes nothing, for 2 tests (`edge`, its
    // anchor still carried, and the unanchored `all`).
    assert_eq!(s.upsert_sync_target(&space(3), &target("c010", &[("tier", "edge"), ("gpu", "yes")])), Affected::new());
    assert_eq!(s.evaluations() - work, 2);
}

#[test]
fn deleting_a_sync_target_costs_no_selector_test() {
    let mut s = build();
    let before = all_answers(&s);
    let work = s.evaluations();
    let got = s.delete_sync_target(&space(12), "c001");
    assert_eq!(s.evaluations(), work);
    assert_eq!(got, placements_seeing(12, &["core", "all"]));
    assert_eq!(got, changed(&before, &all_answers(&s)));
}

#[test]
fn a_location_label_change_tests_each_placement_once() {
    let mut s = build();
    let before = all_answers(&s);
    let work = s.evaluations();
    // Location `all` of inv020 (region r0) moves to region r1.
    let got = s.upsert_location(&space(20), &location("all", &[("region", "r1"), ("kind", "all")], Some(json!({}))));
    assert_eq!(s.evaluations() - work, PLACEMENTS as u64, "labels changed, the instance selector did not");
    let mut want = placements_seeing(20, &["all"]);
    want.extend(placements_seeing(21, &["all"]));
    assert_eq!(got, want, "placements of r0/all lose it, placements of r1/all gain it");
    assert_eq!(got, changed(&before, &all_answers(&s)));
}

/// KubeStellar's `ensure location` shape: one space, one Location per SyncTarget selecting
/// it by `id`, plus group Locations. Events cost the same number of selector tests at 1,000
/// and at 10,000 targets.
#[test]
fn one_location_per_target_costs_the_same_at_any_size() {
    const GROUPS: usize = 10;
    let cost_at = |n: usize| {
        let mut s = Scheduler::new();
        for g in 0..GROUPS {
            let group = format!("g{g}");
            s.upsert_location(
                "inv",
                &location(&group, &[("group", &group)], Some(json!({"matchLabels": {"group": group}}))),
            );
            s.upsert_placement("wds", &placement(&group, json!([{"matchLabels": {"group": group}}])));
        }
        for i in 0..n {
            let (id, group) = (format!("t{i}"), format!("g{}", i % GROUPS));
            s.upsert_sync_target("inv", &target(&id, &[("id", &id), ("group", &group)]));
            s.upsert_location("inv", &location(&id, &[("id", &id)], Some(json!({"matchLabels": {"id": id}}))));
        }
        let work = s.evaluations();
        let moved = s.upsert_sync_target("inv", &target("t0", &[("id", "t0"), ("group", "g1")]));
        let label_cost = s.evaluations() - work;
        assert_eq!(moved, [ObjectKey::new("wds", "g0"), ObjectKey::new("wds", "g1")].into_iter().collect());
        let work = s.evaluations();
        let id = format!("t{n}");
        s.upsert_location("inv", &location(&id, &[("id", &id)], Some(json!({"matchLabels": {"id": id}}))));
        s.upsert_sync_target("inv", &target(&id, &[("id", &id), ("group", "g0")]));
        (label_cost, s.evaluations() - work)
    };
    let small = cost_at(1_000);
    // A label change tests its own and its new group's Location. A new Location tests its
    // labels against each placement (GROUPS) and its selector against no target (none has
    // its id yet); the new SyncTarget then tests its own and its group's Location.
    assert_eq!(small, (2, GROUPS as u64 + 2));
    assert_eq!(cost_at(10_000), small, "flat in the size of the inventory");
}
