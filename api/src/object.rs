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

/// `metadata` fields the API server sets for the stored object itself. A copy of an object
/// in another space or cluster (a mailbox copy, a WEC object) describes a different stored
/// object, so none of them travel:
///
/// - `resourceVersion`, `uid`, `creationTimestamp`, `generation`, `selfLink`,
///   `managedFields`: the server of the copy sets its own (and rejects a foreign
///   `resourceVersion` or `uid` as a precondition that fails);
/// - `ownerReferences`: they name owners by UID in the *source* space; in the copy's no
///   such owner exists, and its garbage collector would delete the copy;
/// - `finalizers`: they name controllers of the source space; nothing would ever remove
///   them from the copy, which could then never be deleted;
/// - `deletionTimestamp`, `deletionGracePeriodSeconds`: a client may not set them;
/// - `generateName`: the copy has a name already.
pub const SERVER_METADATA: &[&str] = &[
    "resourceVersion",
    "uid",
    "managedFields",
    "creationTimestamp",
    "generation",
    "ownerReferences",
    "selfLink",
    "finalizers",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generateName",
];

/// A copy of `object` without `status`, which is never copied: reported state can be most
/// of an object (a syncer's returned status, a summarizer's view of a workload). Anything
/// but a JSON object is copied as it is.
pub fn without_status(object: &serde_json::Value) -> serde_json::Value {
    match object {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter().filter(|(k, _)| *k != "status").map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        other => other.clone(),
    }
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

#[cfg(test)]
mod tests {
    use super::without_status;
    use serde_json::json;

    #[test]
    fn without_status_copies_everything_else() {
        let table = [
            (
                json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "status": {"y": 2}}),
                json!({"metadata": {"name": "a"}, "spec": {"x": 1}}),
            ),
            (json!({"status": null}), json!({})),
            (json!({"spec": {"status": "kept below the top"}}), json!({"spec": {"status": "kept below the top"}})),
            (json!(["not", "an", "object"]), json!(["not", "an", "object"])),
        ];
        for (object, want) in table {
            assert_eq!(without_status(&object), want, "{object}");
        }
    }
}
