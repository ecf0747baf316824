//! Where each WDS object runs: the [`Routes`] the translator publishes per mailbox, indexed
//! both ways, so that a copy's status change finds its source in O(1) and a source finds
//! its destinations in O(destinations).

use orrery_translator::controller::{Carried, Resource, ResourceName, Routes};
use orrery_translator::order::ObjectId;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A WDS object: its space and identity.
pub type SourceKey = (String, ObjectId);

#[derive(Default)]
struct Mailbox {
    /// The SyncTarget's name.
    wec: Arc<str>,
    /// Shared with the [`Route`]s handed out and with the other mailboxes that carry the
    /// same source the same way ([`Source::share`]): a pass over an object with 10,000
    /// WECs takes 10,000 routes, which should not copy 10,000 resources and placement maps.
    carried: BTreeMap<ObjectId, Arc<Carried>>,
}

/// One WEC a source runs in. Its names are shared, not copied: a pass over an object
/// with 10,000 WECs takes 10,000 routes.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub mailbox: Arc<str>,
    pub wec: Arc<str>,
    pub carried: Arc<Carried>,
}

/// Where one source runs, and how it is carried there.
#[derive(Default)]
struct Source {
    /// Its routes, by mailbox, kept as they are handed out: a pass reads them in one walk,
    /// instead of looking up each mailbox and the source in it (a tenth of a pass over
    /// 10,000 WECs, measured with `orrery bench scale`).
    routes: BTreeMap<Arc<str>, Route>,
    /// The [`Carried`] last recorded for this source, shared by every mailbox that carries
    /// it the same way: one object placed on 10,000 WECs arrives in 10,000 [`Routes`],
    /// each with its own equal copy, and kept apart they held 100 MB at 10,000 WECs.
    carried: Option<Arc<Carried>>,
}

impl Source {
    /// `c` as an [`Arc`] shared with the mailboxes that carry this source the same way.
    fn share(&mut self, c: Carried) -> Arc<Carried> {
        match &self.carried {
            Some(shared) if **shared == c => shared.clone(),
            _ => self.carried.insert(Arc::new(c)).clone(),
        }
    }
}

#[derive(Default)]
pub struct RouteIndex {
    mailboxes: HashMap<String, Mailbox>,
    sources: HashMap<SourceKey, Source>,
    resources: BTreeMap<ResourceName, Arc<Resource>>,
}

impl RouteIndex {
    /// Records what a mailbox carries now. Returns the sources whose routes changed, and
    /// the resources seen for the first time.
    pub fn set(&mut self, routes: Routes) -> (BTreeSet<SourceKey>, Vec<Arc<Resource>>) {
        let Routes { mailbox, sync_target, carried } = routes;
        let old = self.mailboxes.remove(&mailbox).unwrap_or_default();
        let wec: Arc<str> = match sync_target {
            Some(name) if *name == *old.wec => old.wec.clone(),
            name => name.unwrap_or_default().into(),
        };
        let renamed = old.wec != wec;
        let shared_name: Arc<str> = mailbox.as_str().into();
        let mut changed = BTreeSet::new();
        for (id, c) in &old.carried {
            let gone = carried.get(id).is_none_or(|now| now.space != c.space);
            if gone {
                let key = (c.space.clone(), id.clone());
                if let Some(source) = self.sources.get_mut(&key) {
                    source.routes.remove(&*shared_name);
                    if source.routes.is_empty() {
                        self.sources.remove(&key);
                    }
                }
                changed.insert(key);
            }
        }
        let mut fresh = Vec::new();
        let mut kept = BTreeMap::new();
        for (id, c) in carried {
            let key = (c.space.clone(), id.clone());
            if renamed || old.carried.get(&id).map(|o| &**o) != Some(&c) {
                changed.insert(key.clone());
            }
            let name = (id.group.clone(), id.resource.clone());
            if let std::collections::btree_map::Entry::Vacant(e) = self.resources.entry(name) {
                e.insert(c.resource.clone());
                fresh.push(c.resource.clone());
            }
            let source = self.sources.entry(key).or_default();
            let carried = source.share(c);
            let route = Route { mailbox: shared_name.clone(), wec: wec.clone(), carried: carried.clone() };
            source.routes.insert(shared_name.clone(), route);
            kept.insert(id, carried);
        }
        if !kept.is_empty() {
            self.mailboxes.insert(mailbox, Mailbox { wec, carried: kept });
        }
        (changed, fresh)
    }

    /// The source of the copy `id` in `mailbox`.
    pub fn source_of(&self, mailbox: &str, id: &ObjectId) -> Option<SourceKey> {
        let c = self.mailboxes.get(mailbox)?.carried.get(id)?;
        Some((c.space.clone(), id.clone()))
    }

    /// Every WEC a source runs in, by mailbox.
    pub fn routes(&self, source: &SourceKey) -> Vec<Route> {
        self.sources.get(source).map(|found| found.routes.values().cloned().collect()).unwrap_or_default()
    }

    /// A resource that has been carried, by group and plural.
    pub fn resource(&self, group: &str, plural: &str) -> Option<&Arc<Resource>> {
        self.resources.get(&(group.to_owned(), plural.to_owned()))
    }

    /// The sources of WDS `space` that some placement named by `carries` takes somewhere.
    pub fn sources_where(&self, space: &str, carries: impl Fn(&Carried) -> bool) -> BTreeSet<SourceKey> {
        self.mailboxes
            .values()
            .flat_map(|m| m.carried.iter())
            .filter(|(_, c)| c.space == space && carries(c))
            .map(|(id, c)| (c.space.clone(), id.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ApiResource;
    use orrery_api::downsync::Modulation;

    fn id(name: &str) -> ObjectId {
        ObjectId {
            group: "apps".into(),
            resource: "deployments".into(),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    fn carried(space: &str, placements: &[(&str, &[&str])]) -> Carried {
        Carried {
            space: space.into(),
            resource: Arc::new(Resource {
                api: ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
                namespaced: true,
            }),
            placements: placements
                .iter()
                .map(|(p, cs)| {
                    let status_collectors = cs.iter().map(|c| (*c).to_owned()).collect();
                    ((*p).to_owned(), Modulation { status_collectors, ..Default::default() })
                })
                .collect(),
        }
    }

    fn routes(mailbox: &str, wec: &str, objects: &[(&str, Carried)]) -> Routes {
        Routes {
            mailbox: mailbox.into(),
            sync_target: Some(wec.into()),
            carried: objects.iter().map(|(n, c)| (id(n), c.clone())).collect(),
        }
    }

    #[test]
    fn changes_are_reported_per_source() {
        let mut index = RouteIndex::default();
        let web = carried("wds", &[("ep", &[])]);
        let (changed, fresh) = index.set(routes("m1", "c1", &[("web", web.clone()), ("db", web.clone())]));
        assert_eq!(changed.len(), 2);
        assert_eq!(fresh.len(), 1, "deployments, once");
        let (changed, fresh) = index.set(routes("m2", "c2", &[("web", web.clone())]));
        assert_eq!(changed, BTreeSet::from([("wds".to_owned(), id("web"))]));
        assert!(fresh.is_empty());
        assert_eq!(index.routes(&("wds".into(), id("web"))).len(), 2);

        // The same again: nothing changed.
        assert!(index.set(routes("m1", "c1", &[("web", web.clone()), ("db", web.clone())])).0.is_empty());
        // A modulation change is a change; a dropped object too.
        let counted = carried("wds", &[("ep", &["count"])]);
        let (changed, _) = index.set(routes("m1", "c1", &[("web", counted)]));
        assert_eq!(changed, BTreeSet::from([("wds".to_owned(), id("web")), ("wds".to_owned(), id("db"))]));
        assert!(index.routes(&("wds".into(), id("db"))).is_empty());
        assert_eq!(index.source_of("m1", &id("web")), Some(("wds".into(), id("web"))));
        assert_eq!(index.source_of("m1", &id("db")), None);
        assert_eq!(
            index.sources_where("wds", |c| c.placements.values().any(|m| m.status_collectors.contains("count"))).len(),
            1
        );

        // Mailboxes that carry a source the same way share one record of it.
        let now = index.routes(&("wds".into(), id("web")));
        let (m1, m2) = (&now[0].carried, &now[1].carried);
        assert!(!Arc::ptr_eq(m1, m2), "m1 carries web with a collector, m2 without");
        index.set(routes("m3", "c3", &[("web", carried("wds", &[("ep", &["count"])]))]));
        let shared = index.routes(&("wds".into(), id("web")));
        let of = |m: &str| shared.iter().find(|r| &*r.mailbox == m).map(|r| r.carried.clone()).expect("routed");
        assert!(Arc::ptr_eq(&of("m1"), &of("m3")));
        assert_eq!(*of("m3"), carried("wds", &[("ep", &["count"])]));
        index.set(routes("m3", "c3", &[]));

        // An empty mailbox is forgotten.
        let (changed, _) = index.set(routes("m1", "c1", &[]));
        assert_eq!(changed, BTreeSet::from([("wds".to_owned(), id("web"))]));
        let left = index.routes(&("wds".into(), id("web")));
        assert_eq!(left.iter().map(|r| &*r.wec).collect::<Vec<_>>(), vec!["c2"]);
    }
}
