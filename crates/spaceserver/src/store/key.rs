//! Keys: one keyspace for all spaces, ordered resource first so that "this resource in
//! every space" (the wildcard watch) and "this resource in one space" are both ranges.

use std::fmt;
use std::sync::Arc;

/// Where an object lives: a resource (`<group>/<plural>`: `core/configmaps`,
/// `apps/deployments`), a space, a namespace (empty for cluster-scoped objects) and a name.
///
/// Held as one shared string, the four parts `\0`-separated (none of them can hold a NUL).
/// Keys are cloned into every node of the store's map that a write copies, every event and
/// every list page, so a clone is a reference count, not four allocations; and they compare
/// with one `memcmp`, in the same order as the four parts would one by one (NUL sorts before
/// every other character). The joined string is also the key's form on disk.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    joined: Arc<str>,
}

impl Key {
    pub fn new(resource: &str, space: &str, namespace: &str, name: &str) -> Self {
        Self { joined: format!("{resource}\0{space}\0{namespace}\0{name}").into() }
    }

    pub fn resource(&self) -> &str {
        self.part(0)
    }

    pub fn space(&self) -> &str {
        self.part(1)
    }

    pub fn namespace(&self) -> &str {
        self.part(2)
    }

    pub fn name(&self) -> &str {
        self.part(3)
    }

    fn part(&self, i: usize) -> &str {
        self.joined.split('\0').nth(i).unwrap_or_default()
    }

    /// The key as one string for the disk.
    pub(crate) fn encode(&self) -> &str {
        &self.joined
    }

    pub(crate) fn decode(s: &str) -> Option<Self> {
        (s.split('\0').count() == 4).then(|| Self { joined: s.into() })
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("resource", &self.resource())
            .field("space", &self.space())
            .field("namespace", &self.namespace())
            .field("name", &self.name())
            .finish()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}/{}", self.resource(), self.space(), self.namespace(), self.name())
    }
}

/// A set of keys: one resource, in one space or all, in one namespace or all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix {
    pub resource: String,
    pub space: Option<String>,
    pub namespace: Option<String>,
}

impl Prefix {
    /// Compares the joined key's leading parts in place. Every event a watch catches up on
    /// is checked here, under the event log's lock: splitting the key into its parts for
    /// each was a sixth of the WEC server's CPU at 10,000 WECs, while thousands of syncers'
    /// watches started.
    pub fn contains(&self, key: &Key) -> bool {
        let Some(rest) = strip_part(key.encode(), &self.resource) else { return false };
        match (&self.space, &self.namespace) {
            (None, None) => true,
            (Some(s), n) => {
                strip_part(rest, s).is_some_and(|rest| n.as_ref().is_none_or(|n| strip_part(rest, n).is_some()))
            }
            (None, Some(n)) => key.namespace() == n,
        }
    }

    /// The smallest key that can be in this prefix (the start of its range).
    pub(crate) fn start(&self) -> Key {
        let space = self.space.as_deref().unwrap_or_default();
        let namespace = if self.space.is_some() { self.namespace.as_deref().unwrap_or_default() } else { "" };
        Key::new(&self.resource, space, namespace, "")
    }

    /// Whether `key` is past every key of this prefix (in key order).
    pub(crate) fn is_past(&self, key: &Key) -> bool {
        let Some(rest) = strip_part(key.encode(), &self.resource) else { return true };
        match (&self.space, &self.namespace) {
            (None, _) => false,
            (Some(s), n) => {
                strip_part(rest, s).is_none_or(|rest| n.as_ref().is_some_and(|n| strip_part(rest, n).is_none()))
            }
        }
    }
}

/// What follows `part` and its separator at the start of the joined key `rest`. Parts hold
/// no NUL, so this is equality of the leading part, not a prefix of it.
fn strip_part<'a>(rest: &'a str, part: &str) -> Option<&'a str> {
    rest.strip_prefix(part)?.strip_prefix('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let k = Key::new("apps/deployments", "wds1", "default", "web");
        assert_eq!(Key::decode(k.encode()), Some(k.clone()));
        assert_eq!((k.resource(), k.space(), k.namespace(), k.name()), ("apps/deployments", "wds1", "default", "web"));
        let cluster = Key::new("core/namespaces", "wds1", "", "default");
        assert_eq!(Key::decode(cluster.encode()), Some(cluster));
        assert_eq!(Key::decode("a\0b\0c"), None);
        assert_eq!(Key::decode("a\0b\0c\0d\0e"), None);
    }

    /// Keys sort as their parts would one by one, prefixes of a part included: what list
    /// ranges and continue tokens rely on.
    #[test]
    fn keys_order_as_their_parts() {
        let parts = [
            ("apps/deployments", "s", "", "a"),
            ("apps/deployments", "s", "ns", "a"),
            ("apps/deployments", "s", "ns", "a-b"),
            ("apps/deployments", "s", "ns", "ab"),
            ("apps/deployments", "s", "ns-1", ""),
            ("apps/deployments", "s1", "", ""),
            ("apps/deployments", "s1", "a", "b"),
            ("apps/deploymentsx", "", "", ""),
            ("core/configmaps", "", "", ""),
        ];
        for a in parts {
            for b in parts {
                let (ka, kb) = (Key::new(a.0, a.1, a.2, a.3), Key::new(b.0, b.1, b.2, b.3));
                assert_eq!(ka.cmp(&kb), a.cmp(&b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn prefixes() {
        let k = Key::new("core/configmaps", "s1", "ns1", "a");
        let table = [
            (Prefix { resource: "core/configmaps".into(), space: None, namespace: None }, true),
            (Prefix { resource: "core/configmaps".into(), space: Some("s1".into()), namespace: None }, true),
            (
                Prefix { resource: "core/configmaps".into(), space: Some("s1".into()), namespace: Some("ns1".into()) },
                true,
            ),
            (
                Prefix { resource: "core/configmaps".into(), space: Some("s1".into()), namespace: Some("ns2".into()) },
                false,
            ),
            (Prefix { resource: "core/configmaps".into(), space: Some("s2".into()), namespace: None }, false),
            (Prefix { resource: "core/secrets".into(), space: None, namespace: None }, false),
            // A part that is the start of the key's part is not that part.
            (Prefix { resource: "core/config".into(), space: None, namespace: None }, false),
            (Prefix { resource: "core/configmaps".into(), space: Some("s".into()), namespace: None }, false),
            (
                Prefix { resource: "core/configmaps".into(), space: Some("s1".into()), namespace: Some("ns".into()) },
                false,
            ),
            // A namespace in every space.
            (Prefix { resource: "core/configmaps".into(), space: None, namespace: Some("ns1".into()) }, true),
            (Prefix { resource: "core/configmaps".into(), space: None, namespace: Some("ns".into()) }, false),
        ];
        for (p, want) in table {
            assert_eq!(p.contains(&k), want, "{p:?}");
            assert!(p.start() <= k || !want, "{p:?}");
        }
        // Past: the key sorts after every key of the prefix (lists stop there).
        let past = [
            (Prefix { resource: "core/configmaps".into(), space: None, namespace: None }, false),
            (Prefix { resource: "core/config".into(), space: None, namespace: None }, true),
            (Prefix { resource: "core/configmaps".into(), space: Some("s1".into()), namespace: None }, false),
            (Prefix { resource: "core/configmaps".into(), space: Some("s".into()), namespace: None }, true),
            (
                Prefix { resource: "core/configmaps".into(), space: Some("s1".into()), namespace: Some("ns1".into()) },
                false,
            ),
            (
                Prefix { resource: "core/configmaps".into(), space: Some("s1".into()), namespace: Some("n".into()) },
                true,
            ),
            (Prefix { resource: "core/configmaps".into(), space: None, namespace: Some("other".into()) }, false),
        ];
        for (p, want) in past {
            assert_eq!(p.is_past(&k), want, "{p:?}");
        }
    }
}
