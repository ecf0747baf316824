//! A multi-space reflector: the cache of one resource across every space, keyed by
//! (space, namespace, name), fed by a [`SpaceProvider::watch_all`] stream.
//!
//! It does for many spaces what kube-runtime's reflector does for one, with two things
//! controllers here need and kube's does not give:
//! - a relist is scoped (every space after a wildcard watch restarts, one space after one
//!   fanned-in watch restarts), and only that scope is replaced;
//! - it reports [`Change`]s with the previous object, and after a relist only what really
//!   changed (by resourceVersion), so a watch that reconnects after a 410 does not make
//!   every controller requeue all 10,000 of its objects.
//!
//! [`SpaceProvider::watch_all`]: orrery_spaces::SpaceProvider::watch_all

use futures::{Stream, StreamExt};
use kube::api::{DynamicObject, ObjectMeta};
use orrery_spaces::{MultiEvent, SpaceError, Tagged};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// One object among all spaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub space: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
}

impl Key {
    pub fn new(space: impl Into<String>, namespace: Option<&str>, name: impl Into<String>) -> Self {
        Self { space: space.into(), namespace: namespace.map(str::to_owned), name: name.into() }
    }

    /// The key of a tagged object; `None` for an object without a name (which a server
    /// never sends, and which therefore cannot be cached).
    pub fn of(tagged: &Tagged) -> Option<Self> {
        let meta = &tagged.object.metadata;
        Some(Self { space: tagged.space.clone(), namespace: meta.namespace.clone(), name: meta.name.clone()? })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{ns}/{}", self.space, self.name),
            None => write!(f, "{}/{}", self.space, self.name),
        }
    }
}

/// What changed in the cache.
#[derive(Clone, Debug)]
pub enum Change {
    /// Created (`old: None`) or updated.
    Applied { key: Key, old: Option<Arc<DynamicObject>>, new: Arc<DynamicObject> },
    /// Gone, by a delete event or by not being there on a relist.
    Deleted { key: Key, old: Arc<DynamicObject> },
    /// A relist of `scope` (`None`: every space) finished; the cache now holds all of it.
    Synced { scope: Option<String> },
}

/// The read side: cheap to clone, shared by the reflector and any number of readers.
#[derive(Clone, Default)]
pub struct Store {
    objects: Arc<RwLock<HashMap<Key, Arc<DynamicObject>>>>,
}

impl Store {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Key, Arc<DynamicObject>>> {
        self.objects.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Key, Arc<DynamicObject>>> {
        self.objects.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &Key) -> Option<Arc<DynamicObject>> {
        self.read().get(key).cloned()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Every object that passes `filter`, with its key.
    pub fn select(&self, mut filter: impl FnMut(&Key, &DynamicObject) -> bool) -> Vec<(Key, Arc<DynamicObject>)> {
        self.read().iter().filter(|(k, o)| filter(k, o)).map(|(k, o)| (k.clone(), o.clone())).collect()
    }

    /// Every object of one space.
    pub fn in_space(&self, space: &str) -> Vec<(Key, Arc<DynamicObject>)> {
        self.select(|k, _| k.space == space)
    }
}

/// The write side: turns [`MultiEvent`]s into cache updates and [`Change`]s. Pure apart
/// from the shared map, so its behaviour is tested event by event.
#[derive(Default)]
pub struct Writer {
    store: Store,
    /// Whether the store keeps only each object's [`identity`].
    identities: bool,
    /// Relists in progress, by scope: what arrived since their `Init`.
    relisting: HashMap<Option<String>, HashMap<Key, Arc<DynamicObject>>>,
}

impl Writer {
    pub fn new(store: Store) -> Self {
        Self { store, identities: false, relisting: HashMap::new() }
    }

    /// A writer whose store keeps only each object's [`identity`], for a follower that
    /// keeps what it needs of the objects itself and reads of the store only names and
    /// uids. The changes it yields carry each new object whole, their `old` as an
    /// identity. 10,000 SyncTargets and Locations, cached whole next to the scheduler's own
    /// index of them, were 90 MB of the center.
    pub fn identities(store: Store) -> Self {
        Self { store, identities: true, relisting: HashMap::new() }
    }

    /// What the store keeps of `object`.
    fn kept(&self, object: &Arc<DynamicObject>) -> Arc<DynamicObject> {
        if self.identities { Arc::new(identity(object)) } else { object.clone() }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Applies one event; returns what changed (in no particular order within a relist).
    pub fn apply(&mut self, event: MultiEvent) -> Vec<Change> {
        match event {
            MultiEvent::Init { scope } => {
                self.relisting.insert(scope, HashMap::new());
                Vec::new()
            }
            MultiEvent::InitApply(t) => {
                let Some(key) = Key::of(&t) else { return Vec::new() };
                let scope = self.relisting.keys().find(|s| s.as_ref().is_none_or(|s| *s == key.space)).cloned();
                match scope {
                    Some(scope) => {
                        self.relisting.entry(scope).or_default().insert(key, Arc::new(t.object));
                        Vec::new()
                    }
                    // An InitApply outside a relist (a provider bug): treat it as an update.
                    None => self.upsert(key, t.object).into_iter().collect(),
                }
            }
            MultiEvent::InitDone { scope } => {
                let fresh = self.relisting.remove(&scope).unwrap_or_default();
                self.replace(scope, fresh)
            }
            MultiEvent::Apply(t) => match Key::of(&t) {
                Some(key) => self.upsert(key, t.object).into_iter().collect(),
                None => Vec::new(),
            },
            MultiEvent::Delete(t) => {
                let Some(key) = Key::of(&t) else { return Vec::new() };
                match self.store.write().remove(&key) {
                    Some(old) => vec![Change::Deleted { key, old }],
                    None => Vec::new(),
                }
            }
        }
    }

    fn upsert(&mut self, key: Key, object: DynamicObject) -> Option<Change> {
        let new = Arc::new(object);
        let old = self.store.write().insert(key.clone(), self.kept(&new));
        if old.as_ref().is_some_and(|old| same_version(old, &new)) {
            return None;
        }
        Some(Change::Applied { key, old, new })
    }

    /// Replaces the scope's part of the cache with `fresh`, reporting the difference.
    fn replace(&mut self, scope: Option<String>, fresh: HashMap<Key, Arc<DynamicObject>>) -> Vec<Change> {
        let in_scope = |k: &Key| scope.as_ref().is_none_or(|s| *s == k.space);
        let mut changes = Vec::new();
        let mut map = self.store.write();
        let stale: Vec<Key> = map.keys().filter(|k| in_scope(k) && !fresh.contains_key(*k)).cloned().collect();
        for key in stale {
            if let Some(old) = map.remove(&key) {
                changes.push(Change::Deleted { key, old });
            }
        }
        for (key, new) in fresh {
            let old = map.insert(key.clone(), self.kept(&new));
            if !old.as_ref().is_some_and(|old| same_version(old, &new)) {
                changes.push(Change::Applied { key, old, new });
            }
        }
        drop(map);
        changes.push(Change::Synced { scope });
        changes
    }
}

/// What tells one version of an object from another: its name, namespace, uid and
/// resourceVersion; no type, no other metadata, no data.
fn identity(object: &DynamicObject) -> DynamicObject {
    let m = &object.metadata;
    let metadata = ObjectMeta {
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        uid: m.uid.clone(),
        resource_version: m.resource_version.clone(),
        ..ObjectMeta::default()
    };
    DynamicObject { types: None, metadata, data: Default::default() }
}

/// Whether two copies are the same version of an object (nothing to react to).
fn same_version(a: &DynamicObject, b: &DynamicObject) -> bool {
    a.metadata.resource_version.is_some()
        && a.metadata.resource_version == b.metadata.resource_version
        && a.metadata.uid == b.metadata.uid
}

/// Runs a reflector over `events`: fills the writer's store and yields its changes, as
/// kube-runtime's `reflector(writer, stream)` does for one cluster. Watch errors are logged
/// and skipped (the provider's watches retry on their own).
pub fn reflect(
    mut writer: Writer,
    events: impl Stream<Item = Result<MultiEvent, SpaceError>> + Send + 'static,
) -> impl Stream<Item = Change> + Send + 'static {
    events
        .filter_map(|event| {
            futures::future::ready(match event {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::warn!(error = %e, "multi-space watch");
                    None
                }
            })
        })
        .flat_map(move |event| futures::stream::iter(writer.apply(event)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn obj(space: &str, name: &str, rv: &str) -> Tagged {
        let mut o =
            DynamicObject::new(name, &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()));
        o.metadata = ObjectMeta {
            name: Some(name.into()),
            resource_version: Some(rv.into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        };
        Tagged { space: space.into(), object: o }
    }

    /// A change, as a short string: `+s/n@rv`, `~s/n@rv`, `-s/n`, `synced(scope)`.
    fn show(c: &Change) -> String {
        let rv = |o: &DynamicObject| o.metadata.resource_version.clone().unwrap_or_default();
        match c {
            Change::Applied { key, old: None, new } => format!("+{key}@{}", rv(new)),
            Change::Applied { key, old: Some(_), new } => format!("~{key}@{}", rv(new)),
            Change::Deleted { key, .. } => format!("-{key}"),
            Change::Synced { scope } => format!("synced({})", scope.as_deref().unwrap_or("*")),
        }
    }

    fn run(events: Vec<MultiEvent>) -> (Vec<Vec<String>>, Store) {
        let mut w = Writer::default();
        let out = events
            .into_iter()
            .map(|e| {
                let mut v: Vec<String> = w.apply(e).iter().map(show).collect();
                v.sort();
                v
            })
            .collect();
        (out, w.store().clone())
    }

    fn init(scope: Option<&str>) -> MultiEvent {
        MultiEvent::Init { scope: scope.map(str::to_owned) }
    }
    fn done(scope: Option<&str>) -> MultiEvent {
        MultiEvent::InitDone { scope: scope.map(str::to_owned) }
    }

    #[test]
    fn changes_event_by_event() {
        use MultiEvent::{Apply, Delete, InitApply};
        /// A name, the events, and the changes each event makes.
        type Case = (&'static str, Vec<MultiEvent>, Vec<Vec<&'static str>>);
        let cases: Vec<Case> = vec![
            (
                "first list, then updates and a delete",
                vec![
                    init(None),
                    InitApply(obj("a", "x", "1")),
                    InitApply(obj("b", "y", "2")),
                    done(None),
                    Apply(obj("a", "x", "3")),
                    Delete(obj("b", "y", "4")),
                ],
                vec![vec![], vec![], vec![], vec!["+a/x@1", "+b/y@2", "synced(*)"], vec!["~a/x@3"], vec!["-b/y"]],
            ),
            (
                "a relist reports only what differs",
                vec![
                    Apply(obj("a", "x", "1")),
                    Apply(obj("a", "y", "1")),
                    init(None),
                    InitApply(obj("a", "x", "1")),
                    InitApply(obj("a", "z", "5")),
                    done(None),
                ],
                vec![vec!["+a/x@1"], vec!["+a/y@1"], vec![], vec![], vec![], vec!["+a/z@5", "-a/y", "synced(*)"]],
            ),
            (
                "a scoped relist leaves other spaces alone",
                vec![Apply(obj("a", "x", "1")), Apply(obj("b", "x", "1")), init(Some("a")), done(Some("a"))],
                vec![vec!["+a/x@1"], vec!["+b/x@1"], vec![], vec!["-a/x", "synced(a)"]],
            ),
            (
                "two scoped relists interleave",
                vec![
                    init(Some("a")),
                    init(Some("b")),
                    InitApply(obj("b", "y", "1")),
                    InitApply(obj("a", "x", "1")),
                    done(Some("b")),
                    done(Some("a")),
                ],
                vec![vec![], vec![], vec![], vec![], vec!["+b/y@1", "synced(b)"], vec!["+a/x@1", "synced(a)"]],
            ),
            (
                "the same version twice is one change; delete of the unknown is none",
                vec![Apply(obj("a", "x", "1")), Apply(obj("a", "x", "1")), Delete(obj("a", "q", "2"))],
                vec![vec!["+a/x@1"], vec![], vec![]],
            ),
        ];
        for (name, events, want) in cases {
            let (got, _) = run(events);
            let want: Vec<Vec<String>> = want.into_iter().map(|v| v.into_iter().map(str::to_owned).collect()).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn the_store_follows() {
        let (_, store) =
            run(vec![MultiEvent::Apply(obj("a", "x", "1")), MultiEvent::Apply(obj("b", "x", "1")), init(Some("b"))]);
        assert_eq!(store.len(), 2);
        assert_eq!(store.in_space("a").len(), 1);
        let got = store.get(&Key::new("b", None, "x")).expect("cached");
        assert_eq!(got.metadata.resource_version.as_deref(), Some("1"));
        assert!(store.get(&Key::new("c", None, "x")).is_none());
    }

    #[test]
    fn an_identity_writer_keeps_identities_and_yields_objects_whole() {
        let mut full = obj("a", "x", "1");
        full.object.metadata.labels = Some([("k".to_owned(), "v".to_owned())].into());
        full.object.data = serde_json::json!({"spec": {"n": 1}});
        let mut w = Writer::identities(Store::default());
        let mut newer = full.clone();
        newer.object.metadata.resource_version = Some("2".into());
        for (name, event, want_old_rv) in [
            ("created", MultiEvent::Apply(full.clone()), None),
            ("updated", MultiEvent::Apply(newer.clone()), Some("1")),
        ] {
            let changes = w.apply(event);
            let [Change::Applied { old, new, .. }] = changes.as_slice() else { panic!("{name}: {changes:?}") };
            assert_eq!(new.data, serde_json::json!({"spec": {"n": 1}}), "{name}: the change is whole");
            assert!(new.metadata.labels.is_some(), "{name}");
            assert_eq!(old.as_ref().and_then(|o| o.metadata.resource_version.as_deref()), want_old_rv, "{name}");
            assert!(
                old.as_ref().is_none_or(|o| o.data.is_null() && o.metadata.labels.is_none()),
                "{name}: old is an identity"
            );
        }
        let kept = w.store().get(&Key::new("a", None, "x")).expect("cached");
        assert_eq!(*kept, identity(&newer.object));
        assert_eq!((kept.metadata.uid.as_deref(), kept.data.is_null()), (Some("uid-x"), true));
        assert!(w.apply(MultiEvent::Apply(newer.clone())).is_empty(), "the same version again");
        // A relist keeps identities too, and still tells what went.
        for e in [init(None), MultiEvent::InitApply(full), done(None)] {
            w.apply(e);
        }
        assert_eq!(w.store().get(&Key::new("a", None, "x")).map(|o| o.data.is_null()), Some(true));
    }

    #[tokio::test]
    async fn reflect_skips_errors() {
        let events = futures::stream::iter(vec![
            Err(SpaceError::NotFound("q".into())),
            Ok(MultiEvent::Apply(obj("a", "x", "1"))),
        ]);
        let store = Store::default();
        let changes = reflect(Writer::new(store.clone()), events);
        let changes: Vec<String> = changes.map(|c| show(&c)).collect().await;
        assert_eq!(changes, vec!["+a/x@1"]);
        assert_eq!(store.len(), 1);
    }
}
