//! The scheduler's state, its EdgePlacement events, and the answer for one placement.

use crate::inventory::InventorySpace;
use crate::key::{Affected, ObjectKey};
use orrery_api::selector::{Labels, Selector, any_matches, compile_all};
use orrery_api::validation::{FieldErrors, FieldPath, validate_edge_placement};
use orrery_api::{EdgePlacement, SinglePlacement};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where one EdgePlacement goes: what its SinglePlacementSlice and status should say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// One entry per (selected Location, SyncTarget that Location selects), sorted and
    /// without duplicates, so that an unchanged answer writes an unchanged slice.
    pub destinations: Vec<SinglePlacement>,
    /// How many Locations the placement's `locationSelectors` match
    /// (`status.matchingLocationCount`), whether or not they select any SyncTarget.
    pub matching_location_count: i32,
}

/// The in-memory where-resolver: the inventory and the placements, plus the index that
/// links them (see the crate documentation for its shape and costs).
///
/// Every event method applies one change and returns the placements whose [`result`]
/// may have changed because of it; a controller requeues exactly those.
///
/// [`result`]: Scheduler::result
#[derive(Debug, Default)]
pub struct Scheduler {
    /// Locations and SyncTargets, per inventory space.
    pub(crate) spaces: HashMap<String, InventorySpace>,
    /// Every EdgePlacement seen, valid or not.
    pub(crate) placements: BTreeMap<ObjectKey, PlacementEntry>,
    /// Selector tests performed so far (see [`Scheduler::evaluations`]).
    pub(crate) evaluations: u64,
}

/// What the scheduler keeps of one EdgePlacement.
#[derive(Debug)]
pub(crate) struct PlacementEntry {
    /// The compiled `locationSelectors` (ORed), or every validation problem of the object.
    pub(crate) selection: Result<Vec<Selector>, FieldErrors>,
    /// The Locations the selectors match: the reverse of `LocationEntry::placements`.
    /// Empty for an invalid placement, which selects nothing until it is fixed.
    pub(crate) locations: BTreeSet<ObjectKey>,
}

impl Scheduler {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many "does this selector pick that object" tests the scheduler has run since it
    /// was created: one per (placement, Location) and one per (Location, SyncTarget) pair
    /// tested. It measures the work events cost, so tests can prove that an event touches
    /// only the part of the inventory that can see it.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// The keys of every EdgePlacement the scheduler knows, valid or not (for a full resync).
    pub fn placements(&self) -> impl Iterator<Item = &ObjectKey> {
        self.placements.keys()
    }

    /// Records a created or updated EdgePlacement in `space` (its workload description
    /// space). Returns that placement's key: its answer may have changed, and a new or
    /// re-created placement needs its slice written even when nothing else moved.
    ///
    /// The placement is validated in full; an invalid one gets an error [`result`] and
    /// selects nothing. Its selectors are tested against every Location only when they
    /// changed, so a status-only update costs no selector test.
    ///
    /// An object without `metadata.name` cannot come from a store and is ignored.
    ///
    /// [`result`]: Scheduler::result
    pub fn upsert_placement(&mut self, space: &str, placement: &EdgePlacement) -> Affected {
        let Some(name) = placement.metadata.name.as_deref() else { return Affected::new() };
        let key = ObjectKey::new(space, name);
        let selection = compile_placement(placement);
        let old = self.placements.remove(&key);
        let locations = match old {
            Some(PlacementEntry { selection: Ok(before), locations })
                if selection.as_ref().is_ok_and(|now| *now == before) =>
            {
                locations
            }
            old => {
                if let Some(old) = old {
                    self.unlink_placement(&key, &old.locations);
                }
                match &selection {
                    Ok(selectors) => self.link_placement(&key, selectors),
                    Err(_) => BTreeSet::new(),
                }
            }
        };
        self.placements.insert(key.clone(), PlacementEntry { selection, locations });
        Affected::from([key])
    }

    /// Forgets a deleted EdgePlacement. Returns its key if it was known (its answer is now
    /// `None`: the slice goes with it, by garbage collection of the ownerReference).
    pub fn delete_placement(&mut self, space: &str, name: &str) -> Affected {
        let key = ObjectKey::new(space, name);
        match self.placements.remove(&key) {
            Some(old) => {
                self.unlink_placement(&key, &old.locations);
                Affected::from([key])
            }
            None => Affected::new(),
        }
    }

    /// Where the placement goes: `None` for an unknown placement, `Err` with every
    /// validation problem for an invalid one (the caller reports them and leaves the
    /// existing slice alone), otherwise the destinations and the Location count.
    ///
    /// Reads only the index: the cost is the placement's own Locations and their targets.
    pub fn result(&self, placement: &ObjectKey) -> Option<Result<Decision, FieldErrors>> {
        let entry = self.placements.get(placement)?;
        Some(match &entry.selection {
            Err(errors) => Err(errors.clone()),
            Ok(_) => Ok(self.decide(&entry.locations)),
        })
    }

    fn decide(&self, locations: &BTreeSet<ObjectKey>) -> Decision {
        let mut destinations = Vec::new();
        for loc_key in locations {
            let Some(inv) = self.spaces.get(&loc_key.space) else { continue };
            let Some(loc) = inv.locations.get(&loc_key.name) else { continue };
            for target_name in &loc.targets {
                let Some(target) = inv.targets.get(target_name) else { continue };
                destinations.push(SinglePlacement {
                    cluster: loc_key.space.clone(),
                    location_name: loc_key.name.clone(),
                    sync_target_name: target_name.clone(),
                    sync_target_uid: target.uid.clone(),
                });
            }
        }
        destinations.sort();
        destinations.dedup();
        let matching_location_count = i32::try_from(locations.len()).unwrap_or(i32::MAX);
        Decision { destinations, matching_location_count }
    }

    /// Tests new selectors against every Location of every space and records the matches
    /// on both sides of the index. This is the one place whose cost grows with the whole
    /// inventory, and it runs only when a placement's selectors change.
    fn link_placement(&mut self, key: &ObjectKey, selectors: &[Selector]) -> BTreeSet<ObjectKey> {
        let mut matched = BTreeSet::new();
        for (space, inv) in &mut self.spaces {
            for (name, loc) in &mut inv.locations {
                self.evaluations += 1;
                if any_matches(selectors, &loc.labels) {
                    loc.placements.insert(key.clone());
                    matched.insert(ObjectKey::new(space.clone(), name.clone()));
                }
            }
        }
        matched
    }

    fn unlink_placement(&mut self, key: &ObjectKey, locations: &BTreeSet<ObjectKey>) {
        for loc_key in locations {
            if let Some(loc) = self.spaces.get_mut(&loc_key.space).and_then(|inv| inv.locations.get_mut(&loc_key.name))
            {
                loc.placements.remove(key);
            }
        }
    }
}

/// Validates the whole placement (so that problems outside `locationSelectors` also stop
/// it, as in KubeStellar) and compiles its selectors. No selectors select nothing.
fn compile_placement(placement: &EdgePlacement) -> Result<Vec<Selector>, FieldErrors> {
    let errors = validate_edge_placement(placement);
    if !errors.is_empty() {
        return Err(errors);
    }
    let selectors = placement.spec.location_selectors.as_deref().unwrap_or_default();
    compile_all(selectors, &FieldPath::new("spec").child("locationSelectors"))
}

/// The valid placements whose selectors match a Location with these labels: one selector
/// test per valid placement, counted in `evaluations`.
pub(crate) fn placements_selecting(
    placements: &BTreeMap<ObjectKey, PlacementEntry>,
    labels: &Labels,
    evaluations: &mut u64,
) -> BTreeSet<ObjectKey> {
    placements
        .iter()
        .filter_map(|(key, entry)| entry.selection.as_ref().ok().map(|sels| (key, sels)))
        .filter(|(_, selectors)| {
            *evaluations += 1;
            any_matches(selectors, labels)
        })
        .map(|(key, _)| key.clone())
        .collect()
}
