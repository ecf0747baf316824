//! What placement matching needs to know about one object, borrowed from wherever the
//! caller keeps it (an informer cache, a watch event, a test table).

use crate::selector::Labels;
use std::collections::BTreeSet;

/// One object, as the downsync and upsync tests see it.
#[derive(Clone, Copy, Debug)]
pub struct ObjectRef<'a> {
    /// The API group; `""` for the core group.
    pub group: &'a str,
    /// The lowercase plural resource name (`deployments`).
    pub resource: &'a str,
    /// `None` for a cluster-scoped object.
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub labels: &'a Labels,
}

/// A list of names as placement tests use them, where `"*"` stands for any name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameSet {
    Any,
    Only(BTreeSet<String>),
}

impl NameSet {
    /// Downsync lists: absent or empty matches any name.
    pub(crate) fn empty_means_any(list: Option<&[String]>) -> Self {
        match list {
            None | Some([]) => Self::Any,
            Some(l) => Self::listed(l),
        }
    }

    /// Upsync lists: absent or empty matches no name.
    pub(crate) fn empty_means_none(list: Option<&[String]>) -> Self {
        Self::listed(list.unwrap_or_default())
    }

    fn listed(l: &[String]) -> Self {
        if l.iter().any(|n| n == "*") { Self::Any } else { Self::Only(l.iter().cloned().collect()) }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(set) => set.contains(name),
        }
    }

    pub(crate) fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }
}
