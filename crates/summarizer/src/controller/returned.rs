//! The status each mailbox copy holds (what its WEC's syncer returned), kept from one
//! multi-space watch per resource. Only the status and when it was written are kept, not
//! the copies: 10,000 mailboxes' copies would not fit, their statuses do.

use orrery_api::keys::{PROJECTED, PROJECTED_VALUE};
use orrery_spaces::{MultiEvent, Tagged};
use orrery_translator::order::ObjectId;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A copy: its mailbox and identity.
pub type CopyKey = (String, ObjectId);

/// Shared, not copied, by every pass that reads it; a new status is a new `Arc`, so a pass
/// can tell by identity which WECs reported since it last looked.
#[derive(Clone, Debug, PartialEq)]
pub struct Returned {
    /// The status as compact JSON. Parsed, a Deployment's status took 2.4 KB, and 10,000
    /// WECs × 10 objects kept 240 MB of them; as text it is a fifth of that. A status is
    /// parsed again only when a row or a singleton status is made from it, once per report.
    status: Box<str>,
    /// When the status was last written (RFC 3339).
    pub at: String,
}

impl Returned {
    pub fn new(status: &Value, at: String) -> Self {
        Self { status: encode(status), at }
    }

    /// The status.
    pub fn status(&self) -> Value {
        // It is JSON this type encoded.
        serde_json::from_str(&self.status).unwrap_or(Value::Null)
    }
}

/// A status as kept: equal statuses encode the same (a map's keys are in order).
fn encode(status: &Value) -> Box<str> {
    status.to_string().into_boxed_str()
}

/// The statuses of one resource's copies, and the relist in progress.
#[derive(Default)]
pub struct ReturnedStore {
    /// By object, then by mailbox: a pass over an object looks the object up once and
    /// then each of its routes' mailboxes by name (by the pair, each lookup hashed the
    /// object's four names again: a tenth of a pass over 10,000 WECs).
    statuses: HashMap<ObjectId, HashMap<String, Arc<Returned>>>,
    /// Copies seen since a relist began (`None`: not relisting).
    relisting: Option<(Option<String>, HashSet<CopyKey>)>,
}

impl ReturnedStore {
    pub fn get(&self, key: &CopyKey) -> Option<&Arc<Returned>> {
        self.statuses.get(&key.1)?.get(&key.0)
    }

    /// What each mailbox holding a copy of `id` returned, by mailbox.
    pub fn of(&self, id: &ObjectId) -> Option<&HashMap<String, Arc<Returned>>> {
        self.statuses.get(id)
    }

    /// Forgets the status of `key`; whether there was one.
    fn remove(&mut self, key: &CopyKey) -> bool {
        let Some(by_mailbox) = self.statuses.get_mut(&key.1) else { return false };
        let removed = by_mailbox.remove(&key.0).is_some();
        if by_mailbox.is_empty() {
            self.statuses.remove(&key.1);
        }
        removed
    }

    /// Folds one watch event of resource `group`/`plural` in. Returns the copies whose
    /// status changed (appeared, changed or went away). `now` stamps a status whose
    /// writer left no time in `managedFields`.
    pub fn apply(&mut self, group: &str, plural: &str, event: MultiEvent, now: &str) -> Vec<CopyKey> {
        match event {
            MultiEvent::Init { scope } => {
                self.relisting = Some((scope, HashSet::new()));
                Vec::new()
            }
            MultiEvent::InitApply(t) => {
                let key = key_of(group, plural, &t);
                if let (Some(key), Some((_, seen))) = (&key, &mut self.relisting) {
                    seen.insert(key.clone());
                }
                self.upsert(key, &t, now)
            }
            MultiEvent::InitDone { .. } => {
                let Some((scope, seen)) = self.relisting.take() else { return Vec::new() };
                let gone: Vec<CopyKey> = self
                    .statuses
                    .iter()
                    .flat_map(|(id, by_mailbox)| by_mailbox.keys().map(move |m| (m, id)))
                    .filter(|(m, _)| scope.as_ref().is_none_or(|s| s == *m))
                    .map(|(m, id)| (m.clone(), id.clone()))
                    .filter(|k| !seen.contains(k))
                    .collect();
                for k in &gone {
                    self.remove(k);
                }
                gone
            }
            MultiEvent::Apply(t) => {
                let key = key_of(group, plural, &t);
                self.upsert(key, &t, now)
            }
            MultiEvent::Delete(t) => match key_of(group, plural, &t) {
                Some(key) if self.remove(&key) => vec![key],
                _ => Vec::new(),
            },
        }
    }

    fn upsert(&mut self, key: Option<CopyKey>, t: &Tagged, now: &str) -> Vec<CopyKey> {
        let Some(key) = key else { return Vec::new() };
        let status =
            t.object.data.get("status").filter(|s| !s.is_null() && s.as_object().is_none_or(|o| !o.is_empty()));
        match status {
            Some(status) => {
                let status = encode(status);
                if self.get(&key).is_some_and(|r| r.status == status) {
                    return Vec::new();
                }
                let at = status_time(t).unwrap_or_else(|| now.to_owned());
                let returned = Arc::new(Returned { status, at });
                self.statuses.entry(key.1.clone()).or_default().insert(key.0.clone(), returned);
                vec![key]
            }
            None if self.remove(&key) => vec![key],
            None => Vec::new(),
        }
    }
}

/// The key of a mailbox copy; `None` for anything else (WDS objects, upsynced objects).
fn key_of(group: &str, plural: &str, t: &Tagged) -> Option<CopyKey> {
    let meta = &t.object.metadata;
    let projected = meta.labels.as_ref().and_then(|l| l.get(PROJECTED)).is_some_and(|v| v == PROJECTED_VALUE);
    if !projected {
        return None;
    }
    let id = ObjectId {
        group: group.to_owned(),
        resource: plural.to_owned(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone()?,
    };
    Some((t.space.clone(), id))
}

/// When the status subresource was last written, from `managedFields`.
fn status_time(t: &Tagged) -> Option<String> {
    t.object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| m.subresource.as_deref() == Some("status"))
        .filter_map(|m| m.time.as_ref().map(|time| time.0.to_string()))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::DynamicObject;
    use serde_json::json;

    fn copy(space: &str, name: &str, status: Option<Value>, projected: bool) -> Tagged {
        let mut v =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns"}});
        if projected {
            v["metadata"]["labels"] = json!({"edge.kubestellar.io/projected": "yes"});
        }
        if let Some(s) = status {
            v["status"] = s;
        }
        Tagged { space: space.into(), object: serde_json::from_value::<DynamicObject>(v).expect("object") }
    }

    fn names(keys: &[CopyKey]) -> Vec<String> {
        let mut out: Vec<String> = keys.iter().map(|(m, id)| format!("{m}/{}", id.name)).collect();
        out.sort();
        out
    }

    #[test]
    fn statuses_follow_the_watch() {
        let mut s = ReturnedStore::default();
        let a = |e: Vec<CopyKey>| names(&e);
        let now = "2026-11-22T10:00:00Z";
        let r1 = json!({"readyReplicas": 1});
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::Apply(copy("m1", "web", None, true)), now)),
            Vec::<String>::new()
        );
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::Apply(copy("m1", "web", Some(r1.clone()), true)), now)),
            vec!["m1/web"]
        );
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::Apply(copy("m1", "web", Some(r1.clone()), true)), now)),
            Vec::<String>::new(),
            "a spec change only"
        );
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::Apply(copy("wds", "web", Some(r1.clone()), false)), now)),
            Vec::<String>::new(),
            "a WDS object"
        );
        let key = (
            "m1".to_owned(),
            ObjectId {
                group: "apps".into(),
                resource: "deployments".into(),
                namespace: Some("ns".into()),
                name: "web".into(),
            },
        );
        assert_eq!(s.get(&key).map(|r| r.at.as_str()), Some(now));
        assert_eq!(s.get(&key).map(|r| r.status()), Some(r1.clone()), "kept as text, read back the same");
        let r2 = json!({"readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]});
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::Apply(copy("m1", "web", Some(r2.clone()), true)), now)),
            vec!["m1/web"],
            "a status change"
        );
        assert_eq!(s.get(&key).map(|r| r.status()), Some(r2.clone()));
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::Apply(copy("m1", "web", Some(r1.clone()), true)), now)),
            vec!["m1/web"],
            "and back"
        );

        // A relist drops what it no longer lists, in its scope only.
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::Apply(copy("m2", "web", Some(r1.clone()), true)), now)),
            vec!["m2/web"]
        );
        s.apply("apps", "deployments", MultiEvent::Init { scope: Some("m1".into()) }, now);
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::InitDone { scope: Some("m1".into()) }, now)),
            vec!["m1/web"]
        );
        assert!(s.get(&key).is_none());
        s.apply("apps", "deployments", MultiEvent::Init { scope: None }, now);
        s.apply("apps", "deployments", MultiEvent::InitApply(copy("m2", "web", Some(r1.clone()), true)), now);
        assert!(a(s.apply("apps", "deployments", MultiEvent::InitDone { scope: None }, now)).is_empty());

        // Deletion, and an emptied status.
        assert_eq!(
            a(s.apply("apps", "deployments", MultiEvent::Apply(copy("m2", "web", Some(json!({})), true)), now)),
            vec!["m2/web"]
        );
        assert!(a(s.apply("apps", "deployments", MultiEvent::Delete(copy("m2", "web", None, true)), now)).is_empty());
    }
}
