//! The translator's index: which objects each EdgePlacement selects (the what-resolver),
//! which mailboxes each placement reaches (from its SinglePlacementSlice), and the reverse,
//! so that one event costs work proportional to what it can change:
//!
//! | event | work | mailboxes requeued |
//! |---|---|---|
//! | a workload object changes | one downsync test per placement of its WDS | those of the placements selecting it before or after |
//! | a placement's spec changes | one test per object of its WDS | its own |
//! | a slice changes | the destinations | the old and new ones |
//!
//! A mailbox reconcile then reads only the selections of the placements reaching it.

use crate::order::ObjectId;
use orrery_api::ObjectRef;
use orrery_api::downsync::{Modulation, PlacementMatcher};
use orrery_api::selector::Labels;
use orrery_api::{SinglePlacement, UpsyncSet};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An EdgePlacement: its WDS and name.
pub type PlacementKey = (String, String);

/// A compiled, valid placement.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub matcher: PlacementMatcher,
    pub upsync: Vec<UpsyncSet>,
}

/// A workload object as the downsync tests see it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: ObjectId,
    pub labels: Labels,
}

/// Where a mailbox's destination is and which placements reach it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxEntry {
    /// The inventory space of the SyncTarget and Location.
    pub cluster: String,
    pub location: String,
    pub sync_target: String,
    pub placements: BTreeSet<PlacementKey>,
}

#[derive(Default)]
pub struct Selection {
    /// Valid placements, by WDS and name.
    placements: BTreeMap<String, BTreeMap<String, Compiled>>,
    /// What each placement selects, with how.
    selected: HashMap<PlacementKey, BTreeMap<ObjectId, Modulation>>,
    /// Each placement's destinations, by mailbox.
    destinations: HashMap<PlacementKey, BTreeMap<String, SinglePlacement>>,
    mailboxes: HashMap<String, MailboxEntry>,
}

impl Selection {
    /// Records a placement (`None`: deleted or invalid) and recomputes what it selects from
    /// `objects` (every workload object of its WDS). Returns the mailboxes to requeue.
    pub fn set_placement<'a>(
        &mut self,
        key: &PlacementKey,
        compiled: Option<Compiled>,
        objects: impl IntoIterator<Item = &'a Candidate>,
        namespace_labels: &HashMap<String, Labels>,
    ) -> BTreeSet<String> {
        let (space, name) = key;
        let selected = match &compiled {
            Some(c) => objects
                .into_iter()
                .filter_map(|o| Some((o.id.clone(), downsyncs(&c.matcher, o, namespace_labels)?)))
                .collect(),
            None => BTreeMap::new(),
        };
        match compiled {
            Some(c) => {
                self.placements.entry(space.clone()).or_default().insert(name.clone(), c);
            }
            None => {
                if let Some(in_space) = self.placements.get_mut(space) {
                    in_space.remove(name);
                    if in_space.is_empty() {
                        self.placements.remove(space);
                    }
                }
            }
        }
        if selected.is_empty() {
            self.selected.remove(key);
        } else {
            self.selected.insert(key.clone(), selected);
        }
        self.mailboxes_of(key)
    }

    /// Records a workload object of WDS `space` (`None`: gone, being deleted or never
    /// travelling). Returns the mailboxes of the placements that select it before or after:
    /// their copies change.
    pub fn set_object(
        &mut self,
        space: &str,
        id: &ObjectId,
        now: Option<&Candidate>,
        namespace_labels: &HashMap<String, Labels>,
    ) -> BTreeSet<String> {
        let mut touched = Vec::new();
        for (name, compiled) in self.placements.get(space).into_iter().flatten() {
            let key = (space.to_owned(), name.clone());
            let was = self.selected.get(&key).is_some_and(|s| s.contains_key(id));
            let is = now.and_then(|o| downsyncs(&compiled.matcher, o, namespace_labels));
            if was || is.is_some() {
                touched.push((key, is));
            }
        }
        let mut out = BTreeSet::new();
        for (key, is) in touched {
            let entry = self.selected.entry(key.clone()).or_default();
            match is {
                Some(m) => {
                    entry.insert(id.clone(), m);
                }
                None => {
                    entry.remove(id);
                }
            }
            if entry.is_empty() {
                self.selected.remove(&key);
            }
            out.extend(self.mailboxes_of(&key));
        }
        out
    }

    /// Records a placement's slice (`[]` when it has none). Returns the mailboxes it reached
    /// before or reaches now.
    pub fn set_destinations(&mut self, key: &PlacementKey, destinations: &[SinglePlacement]) -> BTreeSet<String> {
        let new: BTreeMap<String, SinglePlacement> = destinations
            .iter()
            .map(|d| (orrery_api::mailbox_space_name(&d.cluster, &d.sync_target_uid), d.clone()))
            .collect();
        let old = self.destinations.remove(key).unwrap_or_default();
        let out: BTreeSet<String> = old.keys().chain(new.keys()).cloned().collect();
        for mailbox in old.keys().filter(|m| !new.contains_key(*m)) {
            if let Some(e) = self.mailboxes.get_mut(mailbox) {
                e.placements.remove(key);
                if e.placements.is_empty() {
                    self.mailboxes.remove(mailbox);
                }
            }
        }
        for (mailbox, d) in &new {
            let e = self.mailboxes.entry(mailbox.clone()).or_default();
            e.cluster.clone_from(&d.cluster);
            e.location.clone_from(&d.location_name);
            e.sync_target.clone_from(&d.sync_target_name);
            e.placements.insert(key.clone());
        }
        if !new.is_empty() {
            self.destinations.insert(key.clone(), new);
        }
        out
    }

    pub fn mailbox(&self, name: &str) -> Option<&MailboxEntry> {
        self.mailboxes.get(name)
    }

    /// Every mailbox a placement reaches.
    pub fn mailboxes_of(&self, key: &PlacementKey) -> BTreeSet<String> {
        self.destinations.get(key).map(|d| d.keys().cloned().collect()).unwrap_or_default()
    }

    /// Every mailbox reached from WDS `space` (after a Customizer or Namespace change there).
    pub fn mailboxes_of_space(&self, space: &str) -> BTreeSet<String> {
        self.placements
            .get(space)
            .into_iter()
            .flatten()
            .flat_map(|(name, _)| self.mailboxes_of(&(space.to_owned(), name.clone())))
            .collect()
    }

    /// The mailboxes whose destination is Location `location` of inventory space `cluster`.
    pub fn mailboxes_at(&self, cluster: &str, location: &str) -> BTreeSet<String> {
        self.mailboxes
            .iter()
            .filter(|(_, e)| e.cluster == cluster && e.location == location)
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// What a placement selects.
    pub fn selected(&self, key: &PlacementKey) -> Option<&BTreeMap<ObjectId, Modulation>> {
        self.selected.get(key)
    }

    pub fn compiled(&self, key: &PlacementKey) -> Option<&Compiled> {
        self.placements.get(&key.0)?.get(&key.1)
    }

    /// The placements of a WDS.
    pub fn placements_in(&self, space: &str) -> Vec<PlacementKey> {
        self.placements.get(space).into_iter().flatten().map(|(n, _)| (space.to_owned(), n.clone())).collect()
    }

    /// The WDSes: spaces holding valid placements.
    pub fn spaces(&self) -> BTreeSet<String> {
        self.placements.keys().cloned().collect()
    }
}

/// The downsync decision for one object; an object in a namespace not seen yet is not
/// selected (the Namespace's arrival recomputes its space).
fn downsyncs(
    matcher: &PlacementMatcher,
    o: &Candidate,
    namespace_labels: &HashMap<String, Labels>,
) -> Option<Modulation> {
    let r = ObjectRef {
        group: &o.id.group,
        resource: &o.id.resource,
        namespace: o.id.namespace.as_deref(),
        name: &o.id.name,
        labels: &o.labels,
    };
    matcher.downsyncs(&r, |ns| namespace_labels.get(ns)).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_api::validation::FieldPath;
    use serde_json::json;

    fn compiled(spec: serde_json::Value) -> Compiled {
        let spec: orrery_api::EdgePlacementSpec = serde_json::from_value(spec).expect("spec");
        Compiled { matcher: PlacementMatcher::new(&spec, &FieldPath::new("spec")).expect("valid"), upsync: Vec::new() }
    }

    fn cm(ns: &str, name: &str, labels: &[(&str, &str)]) -> Candidate {
        Candidate {
            id: ObjectId {
                group: String::new(),
                resource: "configmaps".into(),
                namespace: Some(ns.into()),
                name: name.into(),
            },
            labels: labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        }
    }

    fn dest(cluster: &str, uid: &str) -> SinglePlacement {
        serde_json::from_value(
            json!({"cluster": cluster, "locationName": uid, "syncTargetName": uid, "syncTargetUID": uid}),
        )
        .expect("destination")
    }

    fn names(s: &BTreeSet<String>) -> Vec<&str> {
        s.iter().map(String::as_str).collect()
    }

    #[test]
    fn objects_placements_and_slices_requeue_exactly_their_mailboxes() {
        let ns: HashMap<String, Labels> = [("a".to_owned(), Labels::new()), ("b".to_owned(), Labels::new())].into();
        let mut s = Selection::default();
        let p = ("wds".to_owned(), "p".to_owned());
        let q = ("wds".to_owned(), "q".to_owned());
        let objects = [cm("a", "x", &[("app", "web")]), cm("b", "y", &[])];
        let only_a =
            compiled(json!({"downsync": [{"apiGroup": "", "resources": ["configmaps"], "namespaces": ["a"]}]}));
        let web = compiled(
            json!({"downsync": [{"apiGroup": "", "resources": ["configmaps"], "labelSelectors": [{"matchLabels": {"app": "web"}}]}]}),
        );

        assert!(s.set_placement(&p, Some(only_a), &objects, &ns).is_empty(), "no slice yet: no mailbox");
        assert_eq!(names(&s.set_destinations(&p, &[dest("inv", "1"), dest("inv", "2")])), ["inv-mb-1", "inv-mb-2"]);
        s.set_placement(&q, Some(web), &objects, &ns);
        s.set_destinations(&q, &[dest("inv", "2"), dest("inv", "3")]);
        assert_eq!(s.selected(&p).map(|m| m.len()), Some(1));
        assert_eq!(s.mailbox("inv-mb-2").map(|e| e.placements.len()), Some(2), "overlapping placements");

        // An object only p selects requeues p's mailboxes; one both select, the union.
        let z = cm("a", "z", &[]);
        assert_eq!(names(&s.set_object("wds", &z.id, Some(&z), &ns)), ["inv-mb-1", "inv-mb-2"]);
        assert_eq!(
            names(&s.set_object("wds", &objects[0].id, Some(&objects[0]), &ns)),
            ["inv-mb-1", "inv-mb-2", "inv-mb-3"]
        );
        // One nobody selects, none; its deletion neither.
        assert!(s.set_object("wds", &objects[1].id, Some(&objects[1]), &ns).is_empty());
        assert!(s.set_object("wds", &objects[1].id, None, &ns).is_empty());
        // A label edit that leaves q's selection: q's mailboxes (and p's, which keeps it).
        let relabelled = cm("a", "x", &[]);
        assert_eq!(
            names(&s.set_object("wds", &relabelled.id, Some(&relabelled), &ns)),
            ["inv-mb-1", "inv-mb-2", "inv-mb-3"]
        );
        assert!(s.selected(&q).is_none(), "q selects nothing now");
        // Another WDS is never looked at.
        assert!(s.set_object("other", &z.id, Some(&z), &ns).is_empty());

        // A slice shrinking requeues the mailbox it leaves; the last placement leaving a
        // mailbox forgets it.
        assert_eq!(names(&s.set_destinations(&q, &[dest("inv", "2")])), ["inv-mb-2", "inv-mb-3"]);
        assert!(s.mailbox("inv-mb-3").is_none());
        assert_eq!(names(&s.mailboxes_at("inv", "1")), ["inv-mb-1"]);
        assert_eq!(names(&s.mailboxes_of_space("wds")), ["inv-mb-1", "inv-mb-2"]);

        // A deleted placement requeues its mailboxes (its slice goes later, by GC).
        assert_eq!(names(&s.set_placement(&p, None, &objects, &ns)), ["inv-mb-1", "inv-mb-2"]);
        assert!(s.selected(&p).is_none());
    }
}
