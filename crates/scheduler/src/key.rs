//! How the scheduler names the objects it tracks.

use std::collections::BTreeSet;
use std::fmt;

/// One object among all spaces. EdgePlacements, Locations and SyncTargets are
/// cluster-scoped, so a space (logical cluster) and a name identify each of them.
///
/// Ordered so that sets of keys (and therefore the scheduler's answers) come out in the
/// same order every time, which keeps reconcile logs and tests deterministic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The space that holds the object.
    pub space: String,
    /// The object's `metadata.name`.
    pub name: String,
}

impl ObjectKey {
    pub fn new(space: impl Into<String>, name: impl Into<String>) -> Self {
        Self { space: space.into(), name: name.into() }
    }
}

impl fmt::Display for ObjectKey {
    /// `space/name`, as kcp-style paths and log lines show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.space, self.name)
    }
}

/// The EdgePlacements whose result may have changed through one event: the work a
/// controller has to requeue, and nothing more.
pub type Affected = BTreeSet<ObjectKey>;
