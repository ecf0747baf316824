//! Builders for the objects the scheduler reads, and a compact view of its answers.

use orrery_api::{EdgePlacement, Location, SyncTarget};
use orrery_scheduler::{Affected, ObjectKey, Scheduler};
use serde_json::{Value, json};

/// The space every test placement lives in.
pub const WDS: &str = "wds1";

fn labels(pairs: &[(&str, &str)]) -> Value {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>().into()
}

/// A Location with these labels; `instance_selector` is its `spec.instanceSelector`
/// (`None` leaves it absent).
pub fn location(name: &str, label_pairs: &[(&str, &str)], instance_selector: Option<Value>) -> Location {
    let mut spec =
        json!({"resource": {"group": "edge.kubestellar.io", "version": "v2alpha1", "resource": "synctargets"}});
    if let Some(sel) = instance_selector {
        spec["instanceSelector"] = sel;
    }
    serde_json::from_value(json!({
        "apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "Location",
        "metadata": {"name": name, "labels": labels(label_pairs)},
        "spec": spec,
    }))
    .expect("Location literal")
}

/// A SyncTarget with these labels and UID.
pub fn target_with_uid(name: &str, uid: &str, label_pairs: &[(&str, &str)]) -> SyncTarget {
    serde_json::from_value(json!({
        "apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "SyncTarget",
        "metadata": {"name": name, "uid": uid, "labels": labels(label_pairs)},
        "spec": {},
    }))
    .expect("SyncTarget literal")
}

/// A SyncTarget whose UID is `uid-<name>`.
pub fn target(name: &str, label_pairs: &[(&str, &str)]) -> SyncTarget {
    target_with_uid(name, &format!("uid-{name}"), label_pairs)
}

/// An EdgePlacement; `location_selectors` is `spec.locationSelectors` (`Value::Null`
/// leaves it absent).
pub fn placement(name: &str, location_selectors: Value) -> EdgePlacement {
    let mut spec = json!({"downsync": [{"apiGroup": "", "resources": ["configmaps"]}]});
    if !location_selectors.is_null() {
        spec["locationSelectors"] = location_selectors;
    }
    serde_json::from_value(json!({
        "apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "EdgePlacement",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("EdgePlacement literal")
}

/// `[{"matchLabels": {k: v}}]` for each pair: an ORed list of one-label selectors.
pub fn match_any(pairs: &[(&str, &str)]) -> Value {
    pairs.iter().map(|(k, v)| json!({"matchLabels": {*k: *v}})).collect()
}

/// The key of a placement in [`WDS`].
pub fn pk(name: &str) -> ObjectKey {
    ObjectKey::new(WDS, name)
}

/// Placement keys in [`WDS`], as a set to compare with what an event returns.
pub fn affected(names: &[&str]) -> Affected {
    names.iter().map(|n| pk(n)).collect()
}

/// A placement's answer as `cluster/location/target@uid` lines and the Location count, or
/// the field paths of its problems; `None` for an unknown placement.
pub type View = Option<Result<(Vec<String>, i32), Vec<String>>>;

/// Renders a placement's answer as a [`View`].
pub fn view(s: &Scheduler, name: &str) -> View {
    Some(match s.result(&pk(name))? {
        Ok(d) => Ok((
            d.destinations
                .iter()
                .map(|p| format!("{}/{}/{}@{}", p.cluster, p.location_name, p.sync_target_name, p.sync_target_uid))
                .collect(),
            d.matching_location_count,
        )),
        Err(errs) => Err(errs.iter().map(|e| e.path.to_string()).collect()),
    })
}

/// `cluster/location/target@uid-target` lines, for expectations on default UIDs.
pub fn dests(triples: &[(&str, &str, &str)]) -> Vec<String> {
    triples.iter().map(|(c, l, t)| format!("{c}/{l}/{t}@uid-{t}")).collect()
}

/// One event, as a test table writes it.
#[derive(Clone)]
pub enum Op {
    Loc(&'static str, Location),
    DelLoc(&'static str, &'static str),
    Target(&'static str, SyncTarget),
    DelTarget(&'static str, &'static str),
    Place(EdgePlacement),
    DelPlace(&'static str),
}

/// Applies one event and returns what the scheduler says it affected.
pub fn apply(s: &mut Scheduler, op: &Op) -> Affected {
    match op {
        Op::Loc(space, l) => s.upsert_location(space, l),
        Op::DelLoc(space, name) => s.delete_location(space, name),
        Op::Target(space, t) => s.upsert_sync_target(space, t),
        Op::DelTarget(space, name) => s.delete_sync_target(space, name),
        Op::Place(p) => s.upsert_placement(WDS, p),
        Op::DelPlace(name) => s.delete_placement(WDS, name),
    }
}

/// A scheduler after these events.
pub fn scheduler(ops: &[Op]) -> Scheduler {
    let mut s = Scheduler::new();
    for op in ops {
        apply(&mut s, op);
    }
    s
}
