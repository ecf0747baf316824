//! The index against a brute-force where-resolver, over long pseudo-random event
//! sequences: after every event each placement's answer must equal the brute-force one,
//! and the affected set must be exactly the placements whose answer changed (for
//! inventory events) or the placement itself (for placement events).

use crate::fixtures::{Op, View, WDS, apply, location, placement, target_with_uid, view};
use orrery_api::selector::{any_matches, compile_all, compile_optional};
use orrery_api::validation::{FieldPath, validate_edge_placement};
use orrery_api::{EdgePlacement, Location, SinglePlacement, SyncTarget};
use orrery_scheduler::{Affected, Decision, ObjectKey, Scheduler};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The where-resolver written as directly as the rules read: every placement × every
/// Location × every SyncTarget of that Location's space.
#[derive(Default)]
struct BruteForce {
    locations: BTreeMap<(String, String), Location>,
    targets: BTreeMap<(String, String), SyncTarget>,
    placements: BTreeMap<String, EdgePlacement>,
}

impl BruteForce {
    fn apply(&mut self, op: &Op) {
        let k = |space: &str, name: &str| (space.to_owned(), name.to_owned());
        let name = |m: &Option<String>| m.clone().unwrap_or_default();
        match op {
            Op::Loc(space, l) => {
                self.locations.insert(k(space, &name(&l.metadata.name)), l.clone());
            }
            Op::DelLoc(space, n) => {
                self.locations.remove(&k(space, n));
            }
            Op::Target(space, t) => {
                self.targets.insert(k(space, &name(&t.metadata.name)), t.clone());
            }
            Op::DelTarget(space, n) => {
                self.targets.remove(&k(space, n));
            }
            Op::Place(p) => {
                self.placements.insert(name(&p.metadata.name), p.clone());
            }
            Op::DelPlace(n) => {
                self.placements.remove(*n);
            }
        }
    }

    fn result(&self, name: &str) -> Option<Result<Decision, Vec<String>>> {
        let p = self.placements.get(name)?;
        let errors = validate_edge_placement(p);
        if !errors.is_empty() {
            return Some(Err(errors.iter().map(|e| e.path.to_string()).collect()));
        }
        let path = FieldPath::new("x");
        let selectors = compile_all(p.spec.location_selectors.as_deref().unwrap_or_default(), &path).ok()?;
        let mut d = Decision::default();
        for ((space, loc_name), loc) in &self.locations {
            if !any_matches(&selectors, &loc.metadata.labels.clone().unwrap_or_default()) {
                continue;
            }
            d.matching_location_count += 1;
            let Ok(Some(instance)) = compile_optional(loc.spec.instance_selector.as_ref(), &path) else { continue };
            for ((t_space, t_name), t) in &self.targets {
                if t_space == space
                    && orrery_api::selector::SelectorExt::matches(
                        &instance,
                        &t.metadata.labels.clone().unwrap_or_default(),
                    )
                {
                    d.destinations.push(SinglePlacement {
                        cluster: space.clone(),
                        location_name: loc_name.clone(),
                        sync_target_name: t_name.clone(),
                        sync_target_uid: t.metadata.uid.clone().unwrap_or_default(),
                    });
                }
            }
        }
        d.destinations.sort();
        Some(Ok(d))
    }
}

/// A small deterministic generator (no external crate): the sequence is the same on every
/// run, so a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.next(items.len())].clone()
    }
}

const SPACES: [&str; 3] = ["inv1", "inv2", "inv3"];
const LOCATIONS: [&str; 3] = ["a", "b", "c"];
const TARGETS: [&str; 4] = ["t1", "t2", "t3", "t4"];
const PLACEMENTS: [&str; 4] = ["p1", "p2", "p3", "p4"];

fn random_labels(rng: &mut Lcg) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if rng.next(3) > 0 {
        out.push(("env", rng.pick(&["prod", "dev"])));
    }
    if rng.next(3) > 0 {
        out.push(("tier", rng.pick(&["edge", "core"])));
    }
    out
}

fn random_op(rng: &mut Lcg) -> Op {
    let space = rng.pick(&SPACES);
    match rng.next(10) {
        0..=1 => {
            let selector = rng.pick(&[
                None,
                Some(json!({})),
                Some(json!({"matchLabels": {"tier": "edge"}})),
                Some(json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["edge"]}]})),
                Some(json!({"matchExpressions": [{"key": "tier", "operator": "Like"}]})),
            ]);
            Op::Loc(space, location(rng.pick(&LOCATIONS), &random_labels(rng), selector))
        }
        2 => Op::DelLoc(space, rng.pick(&LOCATIONS)),
        3..=6 => {
            let name = rng.pick(&TARGETS);
            let uid = format!("{name}-{}", rng.pick(&["u1", "u2"]));
            Op::Target(space, target_with_uid(name, &uid, &random_labels(rng)))
        }
        7 => Op::DelTarget(space, rng.pick(&TARGETS)),
        8 => {
            let selectors = rng.pick(&[
                Value::Null,
                json!([]),
                json!([{}]),
                json!([{"matchLabels": {"env": "prod"}}]),
                json!([{"matchLabels": {"env": "prod"}}, {"matchLabels": {"tier": "core"}}]),
                json!([{"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}]),
                json!([{"matchExpressions": [{"key": "env", "operator": "In"}]}]),
            ]);
            Op::Place(placement(rng.pick(&PLACEMENTS), selectors))
        }
        _ => Op::DelPlace(rng.pick(&PLACEMENTS)),
    }
}

type Answers = Vec<View>;

fn answers(s: &Scheduler) -> Answers {
    PLACEMENTS.iter().map(|p| view(s, p)).collect()
}

fn same_as_brute_force(s: &Scheduler, model: &BruteForce, step: usize) {
    for name in PLACEMENTS {
        let got =
            s.result(&ObjectKey::new(WDS, name)).map(|r| r.map_err(|e| e.iter().map(|e| e.path.to_string()).collect()));
        assert_eq!(got, model.result(name), "step {step}: answer of {name}");
    }
}

#[test]
fn the_index_agrees_with_brute_force_and_reports_exactly_what_changed() {
    for seed in [1_u64, 7, 42, 2024] {
        let mut rng = Lcg(seed);
        let mut s = Scheduler::new();
        let mut model = BruteForce::default();
        for step in 0..1500 {
            let op = random_op(&mut rng);
            let before = answers(&s);
            let got = apply(&mut s, &op);
            model.apply(&op);
            same_as_brute_force(&s, &model, step);
            let after = answers(&s);
            let changed: Affected = PLACEMENTS
                .iter()
                .zip(before.iter().zip(&after))
                .filter(|(_, (b, a))| b != a)
                .map(|(p, _)| ObjectKey::new(WDS, *p))
                .collect();
            match &op {
                Op::Place(p) => {
                    let key = ObjectKey::new(WDS, p.metadata.name.clone().unwrap_or_default());
                    assert_eq!(got, Affected::from([key]), "seed {seed} step {step}");
                    assert!(changed.is_subset(&got), "seed {seed} step {step}: {changed:?} ⊄ {got:?}");
                }
                Op::DelPlace(_) => assert_eq!(got, changed, "seed {seed} step {step}: placement deletion"),
                _ => assert_eq!(got, changed, "seed {seed} step {step}: inventory event"),
            }
        }
    }
}
