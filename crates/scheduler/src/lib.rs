//! orrery's edge scheduler, KubeStellar's *where-resolver*: the pure decision of which
//! SyncTargets each EdgePlacement reaches.
//!
//! # What it decides
//!
//! An EdgePlacement (in a workload description space) selects a Location (in any inventory
//! space) when any of its `spec.locationSelectors` matches the Location's labels; no
//! selectors select nothing. A selected Location's `spec.instanceSelector` selects
//! SyncTargets *of the Location's own space* by their labels (absent selects nothing, `{}`
//! selects all). Each (Location, SyncTarget) pair is one destination
//! `SinglePlacement { cluster: <inventory space>, location_name, sync_target_name,
//! sync_target_uid }`; the destinations are sorted and distinct, and
//! `matchingLocationCount` counts the selected Locations. An invalid placement gets every
//! validation problem instead ([`validation_error_annotations`] renders them), and the
//! caller leaves its existing slice as it is.
//!
//! This crate does no I/O: the controller that watches the spaces feeds events to a
//! [`Scheduler`], requeues the placements each event returns, and writes
//! [`Scheduler::result`] into the SinglePlacementSlice and status.
//!
//! # Why an index, and its shape
//!
//! The inventory is large (10,000 SyncTargets is a design target) and busy (labels move,
//! clusters come and go), while placements are few. Recomputing every placement on every
//! inventory event would cost placements × targets each time. Instead the scheduler keeps
//! both directions of the two relations that make up the answer:
//!
//! ```text
//!  placement ──locationSelectors──▶ Location ──instanceSelector──▶ SyncTarget
//!            ◀── LocationEntry.placements     ◀── TargetEntry.locations
//!  PlacementEntry.locations ──▶                LocationEntry.targets ──▶
//! ```
//!
//! and each event recomputes only the edges that the changed object can be on:
//!
//! | event | selector tests | affected placements |
//! |---|---|---|
//! | SyncTarget labels/UID change | one per Location of *its* space that could match it¹ | placements of the Locations it joined or left |
//! | SyncTarget status-only change | none | none |
//! | SyncTarget deleted | none | placements of the Locations that had it |
//! | Location labels change | one per valid placement | placements that start or stop matching it |
//! | Location instanceSelector change | one per SyncTarget of its space that could match it¹ | placements of it, if its targets changed |
//! | Location deleted | none | placements that matched it |
//! | placement selectors change | one per Location (all spaces) | the placement itself |
//!
//! ¹ A Location whose instance selector requires an exact `key=value` is indexed under
//! that pair, and SyncTargets under each of theirs; only Locations without such a pair are
//! tested against every SyncTarget. So the usual inventory — one Location per SyncTarget,
//! selecting it by a unique label — costs O(1) tests per event however large it grows.
//!
//! So the cost of a SyncTarget event does not grow with the SyncTargets of other spaces
//! nor with placements that cannot see it, and [`Scheduler::result`] reads only the
//! placement's own Locations and their targets. [`Scheduler::evaluations`] counts the
//! selector tests so tests can hold the scheduler to these bounds.
//!
//! The returned affected set is exact for inventory events: a placement is in it if and
//! only if its [`Decision`] changed (a destination names its Location, so any change to
//! a selected Location's targets changes the answer of every placement selecting it).

mod annotations;
mod controller;
mod inventory;
mod key;
mod scheduler;

pub use annotations::{
    Annotations, is_validation_error_annotation, validation_error_annotations, with_validation_error_annotations,
};
pub use controller::{ControllerError, SchedulerController};
pub use key::{Affected, ObjectKey};
pub use scheduler::{Decision, Scheduler};
