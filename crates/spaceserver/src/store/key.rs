//! Keys: one keyspace for all spaces, ordered resource first so that "this resource in
//! every space" (the wildcard watch) and "this resource in one space" are both ranges.

use std::fmt;

/// Where an object lives. `resource` is `<group>/<plural>` (`core/configmaps`,
/// `apps/deployments`); `namespace` is empty for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub resource: String,
    pub space: String,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(resource: &str, space: &str, namespace: &str, name: &str) -> Self {
        Self { resource: resource.into(), space: space.into(), namespace: namespace.into(), name: name.into() }
    }

    /// The key as one string for the disk, `\0`-separated: none of the parts can hold a NUL.
    pub(crate) fn encode(&self) -> String {
        format!("{}\0{}\0{}\0{}", self.resource, self.space, self.namespace, self.name)
    }

    pub(crate) fn decode(s: &str) -> Option<Self> {
        let mut parts = s.split('\0');
        let key = Self::new(parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        parts.next().is_none().then_some(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}/{}", self.resource, self.space, self.namespace, self.name)
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
    pub fn contains(&self, key: &Key) -> bool {
        key.resource == self.resource
            && self.space.as_ref().is_none_or(|s| *s == key.space)
            && self.namespace.as_ref().is_none_or(|n| *n == key.namespace)
    }

    /// The smallest key that can be in this prefix (the start of its range).
    pub(crate) fn start(&self) -> Key {
        let space = self.space.clone().unwrap_or_default();
        let namespace = if self.space.is_some() { self.namespace.clone().unwrap_or_default() } else { String::new() };
        Key { resource: self.resource.clone(), space, namespace, name: String::new() }
    }

    /// Whether `key` is past every key of this prefix (in key order).
    pub(crate) fn is_past(&self, key: &Key) -> bool {
        match (&self.space, &self.namespace) {
            (None, _) => key.resource != self.resource,
            (Some(s), None) => key.resource != self.resource || key.space != *s,
            (Some(s), Some(n)) => key.resource != self.resource || key.space != *s || key.namespace != *n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let k = Key::new("apps/deployments", "wds1", "default", "web");
        assert_eq!(Key::decode(&k.encode()), Some(k));
        let cluster = Key::new("core/namespaces", "wds1", "", "default");
        assert_eq!(Key::decode(&cluster.encode()), Some(cluster));
        assert_eq!(Key::decode("a\0b\0c"), None);
        assert_eq!(Key::decode("a\0b\0c\0d\0e"), None);
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
        ];
        for (p, want) in table {
            assert_eq!(p.contains(&k), want, "{p:?}");
            assert!(p.start() <= k || !want, "{p:?}");
        }
    }
}
