//! Location and SyncTarget events: the inventory side of the index.

use crate::key::{Affected, ObjectKey};
use crate::scheduler::{Scheduler, placements_selecting};
use orrery_api::selector::{Labels, Selector, SelectorExt, compile_optional};
use orrery_api::validation::FieldPath;
use orrery_api::{Location, SyncTarget};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A label `key=value` pair.
type Pair = (String, String);

/// The Locations and SyncTargets of one inventory space. A Location only ever selects
/// SyncTargets of its own space, so everything a SyncTarget event needs is in here.
///
/// Two label indexes keep the common inventory shape — one Location per SyncTarget,
/// selecting it by a unique label, as KubeStellar's `ensure location` makes them — from
/// costing one selector test per Location (or per SyncTarget) on every event:
/// - a Location whose instance selector requires some `key=value` is *anchored* under one
///   such pair; a SyncTarget can only match it if it carries that pair;
/// - every SyncTarget is listed under each of its label pairs.
#[derive(Debug, Default)]
pub(crate) struct InventorySpace {
    pub(crate) locations: BTreeMap<String, LocationEntry>,
    pub(crate) targets: BTreeMap<String, TargetEntry>,
    /// Anchored Locations, by their anchor pair.
    anchored: HashMap<Pair, BTreeSet<String>>,
    /// Locations with an instance selector but no anchor (`{}`, only `Exists`, `NotIn`…):
    /// tested against every SyncTarget event.
    unanchored: BTreeSet<String>,
    /// SyncTargets by each of their label pairs.
    targets_by_label: HashMap<Pair, BTreeSet<String>>,
}

impl InventorySpace {
    fn is_empty(&self) -> bool {
        self.locations.is_empty() && self.targets.is_empty()
    }

    /// The Locations a SyncTarget with these labels could match: a superset of the ones it
    /// does, in name order.
    fn candidate_locations(&self, labels: &Labels) -> BTreeSet<&String> {
        let mut out: BTreeSet<&String> = self.unanchored.iter().collect();
        for pair in labels {
            if let Some(names) = self.anchored.get(&(pair.0.clone(), pair.1.clone())) {
                out.extend(names);
            }
        }
        out
    }

    fn index_location(&mut self, name: &str, anchor: Option<&Pair>, selects: bool) {
        match anchor {
            Some(pair) => {
                self.anchored.entry(pair.clone()).or_default().insert(name.to_owned());
            }
            None if selects => {
                self.unanchored.insert(name.to_owned());
            }
            None => {}
        }
    }

    fn unindex_location(&mut self, name: &str, anchor: Option<&Pair>) {
        self.unanchored.remove(name);
        if let Some(pair) = anchor
            && let Some(names) = self.anchored.get_mut(pair)
        {
            names.remove(name);
            if names.is_empty() {
                self.anchored.remove(pair);
            }
        }
    }

    fn index_target(&mut self, name: &str, labels: &Labels, add: bool) {
        for (k, v) in labels {
            let pair = (k.clone(), v.clone());
            if add {
                self.targets_by_label.entry(pair).or_default().insert(name.to_owned());
            } else if let Some(names) = self.targets_by_label.get_mut(&pair) {
                names.remove(name);
                if names.is_empty() {
                    self.targets_by_label.remove(&pair);
                }
            }
        }
    }
}

/// What the scheduler keeps of one Location.
#[derive(Debug, Default)]
pub(crate) struct LocationEntry {
    /// What placements' `locationSelectors` are tested against.
    pub(crate) labels: Labels,
    /// `spec.instanceSelector`, compiled; `None` selects no SyncTarget.
    pub(crate) instance_selector: Option<Selector>,
    /// A `key=value` pair every SyncTarget it selects must carry, if its selector has one.
    anchor: Option<Pair>,
    /// Names of the SyncTargets of this space that the instance selector matches.
    pub(crate) targets: BTreeSet<String>,
    /// The valid placements whose selectors match this Location.
    pub(crate) placements: BTreeSet<ObjectKey>,
}

/// What the scheduler keeps of one SyncTarget: the only parts KubeStellar reads.
#[derive(Debug, Default)]
pub(crate) struct TargetEntry {
    /// Goes into every destination (it names the mailbox space).
    pub(crate) uid: String,
    pub(crate) labels: Labels,
    /// Names of the Locations of this space whose instance selector matches it: the
    /// reverse of `LocationEntry::targets`.
    pub(crate) locations: BTreeSet<String>,
}

/// A Location's instance selector as a matcher. Absent selects nothing (KubeStellar's
/// `nil ⇒ none`); so does a malformed one, since a Location's selector cannot be half
/// obeyed and the space server's validation is where the user hears about it.
fn instance_selector(location: &Location) -> Option<Selector> {
    let path = FieldPath::new("spec").child("instanceSelector");
    compile_optional(location.spec.instance_selector.as_ref(), &path).ok().flatten()
}

/// A label pair that a valid instance selector requires: its first `matchLabels` entry,
/// else its first `In` expression with a single value. `None` when it requires no exact
/// pair (then every SyncTarget is a candidate).
fn anchor(location: &Location, selector: Option<&Selector>) -> Option<Pair> {
    selector?;
    let raw = location.spec.instance_selector.as_ref()?;
    if let Some((k, v)) = raw.match_labels.as_ref().and_then(|m| m.iter().next()) {
        return Some((k.clone(), v.clone()));
    }
    raw.match_expressions.iter().flatten().find_map(|e| match e.values.as_deref() {
        Some([only]) if e.operator == "In" => Some((e.key.clone(), only.clone())),
        _ => None,
    })
}

impl Scheduler {
    /// Records a created or updated Location in inventory space `space`. Returns the
    /// placements whose answer changed: those that start or stop selecting it, and, when
    /// the set of SyncTargets it selects changed, those that select it before and after.
    ///
    /// Cost: when its labels changed, one selector test per valid placement; when its
    /// instance selector changed, one test per SyncTarget of its own space; nothing else.
    pub fn upsert_location(&mut self, space: &str, location: &Location) -> Affected {
        let Some(name) = location.metadata.name.as_deref() else { return Affected::new() };
        let key = ObjectKey::new(space, name);
        let labels = location.metadata.labels.clone().unwrap_or_default();
        let selector = instance_selector(location);
        let anchor = anchor(location, selector.as_ref());
        let inv = self.spaces.entry(space.to_owned()).or_default();
        let old = inv.locations.remove(name);
        let existed = old.is_some();
        let old = old.unwrap_or_default();
        inv.unindex_location(name, old.anchor.as_ref());
        inv.index_location(name, anchor.as_ref(), selector.is_some());

        let targets = if existed && old.instance_selector == selector {
            old.targets.clone()
        } else {
            targets_selected_by(selector.as_ref(), anchor.as_ref(), inv, &mut self.evaluations)
        };
        for gone in old.targets.difference(&targets) {
            if let Some(t) = inv.targets.get_mut(gone) {
                t.locations.remove(name);
            }
        }
        for added in targets.difference(&old.targets) {
            if let Some(t) = inv.targets.get_mut(added) {
                t.locations.insert(name.to_owned());
            }
        }

        let placements = if existed && old.labels == labels {
            old.placements.clone()
        } else {
            placements_selecting(&self.placements, &labels, &mut self.evaluations)
        };
        for gone in old.placements.difference(&placements) {
            if let Some(p) = self.placements.get_mut(gone) {
                p.locations.remove(&key);
            }
        }
        for added in placements.difference(&old.placements) {
            if let Some(p) = self.placements.get_mut(added) {
                p.locations.insert(key.clone());
            }
        }

        let mut affected: Affected = old.placements.symmetric_difference(&placements).cloned().collect();
        if targets != old.targets {
            affected.extend(old.placements.intersection(&placements).cloned());
        }
        inv.locations.insert(
            name.to_owned(),
            LocationEntry { labels, instance_selector: selector, anchor, targets, placements },
        );
        affected
    }

    /// Forgets a deleted Location. Returns the placements that selected it (they lose a
    /// matching Location and its destinations). No selector test.
    pub fn delete_location(&mut self, space: &str, name: &str) -> Affected {
        let Some(inv) = self.spaces.get_mut(space) else { return Affected::new() };
        let Some(old) = inv.locations.remove(name) else { return Affected::new() };
        inv.unindex_location(name, old.anchor.as_ref());
        for target in &old.targets {
            if let Some(t) = inv.targets.get_mut(target) {
                t.locations.remove(name);
            }
        }
        if inv.is_empty() {
            self.spaces.remove(space);
        }
        let key = ObjectKey::new(space, name);
        for placement in &old.placements {
            if let Some(p) = self.placements.get_mut(placement) {
                p.locations.remove(&key);
            }
        }
        old.placements
    }

    /// Records a created or updated SyncTarget in inventory space `space`. Returns the
    /// placements that select a Location whose set of SyncTargets changed because of it
    /// (it joined or left the Location, or was re-created with a new UID under the same
    /// name).
    ///
    /// Cost: nothing when neither its labels nor its UID changed (heartbeats and other
    /// status updates are free); otherwise one selector test per Location of its own
    /// space that could match it (anchored under one of its labels, or unanchored), then a
    /// walk of the placements of the Locations it joined or left. Other spaces, other
    /// SyncTargets, Locations anchored elsewhere and unrelated placements are never looked
    /// at: with one Location per SyncTarget the cost does not grow with the inventory.
    pub fn upsert_sync_target(&mut self, space: &str, target: &SyncTarget) -> Affected {
        let Some(name) = target.metadata.name.as_deref() else { return Affected::new() };
        let labels = target.metadata.labels.clone().unwrap_or_default();
        let uid = target.metadata.uid.clone().unwrap_or_default();
        let inv = self.spaces.entry(space.to_owned()).or_default();
        let old = inv.targets.remove(name);
        if let Some(old) = old.as_ref().filter(|o| o.labels == labels && o.uid == uid) {
            let locations = old.locations.clone();
            inv.targets.insert(name.to_owned(), TargetEntry { uid, labels, locations });
            return Affected::new();
        }
        let uid_changed = old.as_ref().is_some_and(|o| o.uid != uid);
        if let Some(old) = &old {
            inv.index_target(name, &old.labels, false);
        }
        inv.index_target(name, &labels, true);
        let old_locations = old.map(|o| o.locations).unwrap_or_default();

        let mut locations = BTreeSet::new();
        for loc_name in inv.candidate_locations(&labels) {
            let Some(selector) = inv.locations.get(loc_name).and_then(|l| l.instance_selector.as_ref()) else {
                continue;
            };
            self.evaluations += 1;
            if selector.matches(&labels) {
                locations.insert(loc_name.clone());
            }
        }

        let mut changed: BTreeSet<&String> = old_locations.symmetric_difference(&locations).collect();
        if uid_changed {
            changed.extend(old_locations.intersection(&locations));
        }
        let mut affected = Affected::new();
        for loc_name in changed {
            let Some(loc) = inv.locations.get_mut(loc_name) else { continue };
            if locations.contains(loc_name) {
                loc.targets.insert(name.to_owned());
            } else {
                loc.targets.remove(name);
            }
            affected.extend(loc.placements.iter().cloned());
        }
        inv.targets.insert(name.to_owned(), TargetEntry { uid, labels, locations });
        affected
    }

    /// Forgets a deleted SyncTarget. Returns the placements that reached it through some
    /// Location (their destinations through it disappear). No selector test.
    pub fn delete_sync_target(&mut self, space: &str, name: &str) -> Affected {
        let Some(inv) = self.spaces.get_mut(space) else { return Affected::new() };
        let Some(old) = inv.targets.remove(name) else { return Affected::new() };
        inv.index_target(name, &old.labels, false);
        let mut affected = Affected::new();
        for loc_name in &old.locations {
            if let Some(loc) = inv.locations.get_mut(loc_name) {
                loc.targets.remove(name);
                affected.extend(loc.placements.iter().cloned());
            }
        }
        if inv.is_empty() {
            self.spaces.remove(space);
        }
        affected
    }
}

/// The SyncTargets of one space that an instance selector picks: one test per candidate
/// (the targets carrying its anchor pair, or every target when it has none), counted in
/// `evaluations`; none at all for an absent selector.
fn targets_selected_by(
    selector: Option<&Selector>,
    anchor: Option<&Pair>,
    inv: &InventorySpace,
    evaluations: &mut u64,
) -> BTreeSet<String> {
    let Some(selector) = selector else { return BTreeSet::new() };
    let mut test = |name: &String| {
        let t = inv.targets.get(name)?;
        *evaluations += 1;
        selector.matches(&t.labels).then(|| name.clone())
    };
    match anchor {
        Some(pair) => inv.targets_by_label.get(pair).into_iter().flatten().filter_map(&mut test).collect(),
        None => inv.targets.keys().filter_map(test).collect(),
    }
}
