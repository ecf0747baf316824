//! What to do about one object, and what to delete: the syncer's downsync decisions as pure
//! functions of what the mailbox and the WEC hold.
//!
//! # Ownership and the conflict policy
//!
//! The syncer owns exactly the WEC objects that carry its mark ([`owner_mark`],
//! `edge.kubestellar.io/downsynced: <Kind>/<namespace>/<name>`). **orrery never takes over
//! an object the syncer did not create**: when the WEC already has an object of the same
//! name without the mark (or with a mark for another object), [`decide`] says
//! [`Action::Conflict`] and the syncer leaves the object untouched — no apply, no status
//! taken from it, never deleted. The wiring reports the conflict on the mailbox copy, where
//! the placement's author looks, with the message of [`ConflictReason`], which says how to
//! resolve it: delete the WEC object (the syncer then creates its own), or hand it over by
//! adding the mark by hand.
//!
//! This is stricter than KubeStellar v0.14.2, whose downsyncer updates any existing object
//! (the ownership test on update is disabled there: `if true || hasDownsyncAnnotation(…)`)
//! and only refuses to *delete* unmarked objects. Overwriting an object someone else
//! created in a cluster — a hand-made ConfigMap, another tool's Deployment — and then
//! forgetting it was theirs is the failure a platform team cannot undo, so orrery makes it
//! an explicit, visible choice instead.
//!
//! # Create-only (`edge.kubestellar.io/downsync-overwrite: "false"`)
//!
//! KubeStellar's meaning, "create once, never overwrite or delete": blank or `"true"`
//! keeps syncing; any other value is create-only (`isDownsyncOverwrite`). The mark that
//! protects the object lives **on the WEC object** — KubeStellar's deletion test
//! (`checkDeletable`) reads the downstream object, so deleting never needs the mailbox copy,
//! which may be gone. The annotation arrives with the object when it is created create-only
//! (the WEC object keeps the mailbox copy's annotations); when an existing object becomes
//! create-only, the syncer writes only that annotation onto it ([`Action::MarkCreateOnly`]),
//! as KubeStellar's `computeUpdatedResource` does.
//!
//! # Deletion
//!
//! [`to_delete`]: the objects of one resource that carry the syncer's mark and are no
//! longer wanted by `the-one` or no longer in the mailbox — never one without the mark,
//! never a create-only one, never one already being deleted, and **never a Namespace**:
//! deleting a Namespace deletes everything in it, including objects the syncer does not
//! own. KubeStellar's translator never deletes mailbox Namespaces (reference §2.3), so in
//! practice its syncer never deletes a WEC Namespace either. Owned CRDs are deleted (last),
//! as KubeStellar does.
//!
//! [`apply_rank`] orders the work: Namespaces, then CRDs, then the rest when applying, and
//! the reverse when deleting.

use crate::downstream::{is_owned, is_self_owned, owner_mark};
use crate::object::Head;
use crate::wanted::{ObjectKey, Wanted};
use orrery_api::keys::{DOWNSYNC_OVERWRITE, DOWNSYNCED, UPSYNCED};
use serde_json::{Value, json};

/// What the syncer does with one object of the mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The WEC has no such object: create it from
    /// [`downstream`](crate::downstream::downstream) (server-side apply creates it).
    Create,
    /// The WEC object is the syncer's: apply [`downstream`](crate::downstream::downstream)
    /// over it (server-side apply, field manager `orrery-syncer`, forced), which also
    /// repairs hand edits.
    Apply {
        /// The WEC object still carries a create-only mark that the mailbox copy no longer
        /// asks for. Remove it with the merge patch [`create_only_patch`]`(false)` as well:
        /// when the mark was written by [`Action::MarkCreateOnly`] (a patch, not this apply),
        /// server-side apply does not remove it by leaving it out, and a leftover mark would
        /// keep the object from ever being deleted.
        clear_create_only: bool,
    },
    /// The WEC object is the syncer's and the mailbox copy has become create-only: write
    /// only the create-only mark onto it with the merge patch [`create_only_patch`]`(true)`
    /// and nothing else. Not with server-side apply: an apply holding only the annotation
    /// would remove every field the syncer applied before.
    MarkCreateOnly,
    /// Nothing to write.
    Skip(SkipReason),
    /// The WEC has an object of this name that the syncer did not create: leave it alone
    /// and report why (see the module doc).
    Conflict(ConflictReason),
}

/// Why [`decide`] says to write nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// Both the mailbox copy and the WEC object are create-only.
    #[error("create-only (edge.kubestellar.io/downsync-overwrite: \"false\"): created once, never overwritten")]
    CreateOnly,
    /// The mailbox object is an upsynced copy of a WEC object; nothing is both upsynced and
    /// downsynced, or it would loop.
    #[error("an upsynced copy (edge.kubestellar.io/upsynced) is never downsynced")]
    Upsynced,
    /// The WEC object is being deleted; once it is gone the syncer creates it again.
    #[error("the object in the workload execution cluster is being deleted; it will be created again once it is gone")]
    Terminating,
}

/// Why the syncer leaves an object alone. The message is for the person who placed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConflictReason {
    /// The WEC object does not carry the syncer's mark for itself.
    #[error(
        "the workload execution cluster already has this object and the syncer did not create it \
         (annotation {DOWNSYNCED} is {}, not {expected:?}); orrery never takes over an object it did not create: \
         delete the object from the cluster so that the syncer creates its own, or set annotation \
         {DOWNSYNCED}={expected} on it to hand it to the syncer",
        found.as_deref().map_or_else(|| "absent".to_owned(), |f| format!("{f:?}"))
    )]
    NotOwned {
        /// The mark the object would carry if the syncer had created it.
        expected: String,
        /// The mark it carries, if any.
        found: Option<String>,
    },
}

/// Whether `object` is create-only: annotation `edge.kubestellar.io/downsync-overwrite` is
/// present with a value other than `""` and `"true"` (KubeStellar's `isDownsyncOverwrite`).
pub fn is_create_only(object: &(impl Head + ?Sized)) -> bool {
    object.annotation(DOWNSYNC_OVERWRITE).is_some_and(|v| !v.is_empty() && v != "true")
}

/// The JSON merge patch that sets (`true`) or removes (`false`) the create-only mark on a WEC
/// object, touching nothing else.
pub fn create_only_patch(create_only: bool) -> Value {
    let value = if create_only { json!("false") } else { Value::Null };
    json!({"metadata": {"annotations": {DOWNSYNC_OVERWRITE: value}}})
}

/// What to do about `mailbox_copy`, an object of kind `kind` that `the-one` wants, given the
/// object of the same name in the WEC (`None` when there is none). `kind` is passed in
/// because list items carry none.
pub fn decide<O: Head + ?Sized>(mailbox_copy: &O, kind: &str, wec_current: Option<&O>) -> Action {
    // Presence, not an exact value: nothing in a mailbox copies annotations around, and a
    // copy that went up must never come back down whatever its mark says.
    if mailbox_copy.annotation(UPSYNCED).is_some() {
        return Action::Skip(SkipReason::Upsynced);
    }
    let Some(wec) = wec_current else {
        return Action::Create;
    };
    if wec.is_terminating() {
        return Action::Skip(SkipReason::Terminating);
    }
    let ns = mailbox_copy.namespace().unwrap_or_default();
    let name = mailbox_copy.name().unwrap_or_default();
    if !is_owned(wec, kind, ns, name) {
        return Action::Conflict(ConflictReason::NotOwned {
            expected: owner_mark(kind, ns, name),
            found: wec.annotation(DOWNSYNCED).map(str::to_owned),
        });
    }
    match (is_create_only(mailbox_copy), is_create_only(wec)) {
        (true, true) => Action::Skip(SkipReason::CreateOnly),
        (true, false) => Action::MarkCreateOnly,
        (false, wec_marked) => Action::Apply { clear_create_only: wec_marked },
    }
}

/// The objects among `wec_objects` — the WEC's objects of `resource` in `group`, of kind
/// `kind` — that the syncer deletes: those carrying its mark for themselves that `wanted`
/// no longer wants or that are no longer in the mailbox (`in_mailbox`), except create-only
/// ones, Namespaces and objects already being deleted (see the module doc). Sorted by key.
///
/// Call it only with a `wanted` and an `in_mailbox` read from a mailbox watch that is
/// synced *now*: an empty cache after a disconnect looks like "nothing wanted", and the
/// syncer must never delete because the center is unreachable.
pub fn to_delete<'a, O: Head + ?Sized + 'a>(
    group: &str,
    resource: &str,
    kind: &str,
    wec_objects: impl IntoIterator<Item = &'a O>,
    wanted: &Wanted,
    in_mailbox: impl Fn(&ObjectKey) -> bool,
) -> Vec<ObjectKey> {
    let mut keys: Vec<ObjectKey> = wec_objects
        .into_iter()
        .filter(|o| is_self_owned(*o, kind) && !is_create_only(*o) && !o.is_terminating())
        .filter_map(|o| ObjectKey::of(group, resource, o))
        .filter(|key| !key.is_namespace())
        .filter(|key| !wanted.wants(key) || !in_mailbox(key))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Where objects of `resource` in `group` go in the order of work: 0 for Namespaces (they
/// hold namespaced objects), 1 for CRDs (they define custom resources), 2 for the rest.
/// Apply in ascending rank, delete in descending rank.
pub fn apply_rank(group: &str, resource: &str) -> u8 {
    match (group, resource) {
        ("", "namespaces") => 0,
        ("apiextensions.k8s.io", "customresourcedefinitions") => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_api::types::SyncerConfigSpec;

    fn cm(name: &str, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": "shop", "annotations": annotations}, "data": {"k": "v"}})
    }

    fn owned(name: &str) -> Value {
        cm(name, json!({DOWNSYNCED: format!("ConfigMap/shop/{name}")}))
    }

    fn with(mut object: Value, path: &[&str], value: Value) -> Value {
        let mut at = &mut object;
        for step in &path[..path.len() - 1] {
            at = &mut at[*step];
        }
        at[path[path.len() - 1]] = value;
        object
    }

    #[test]
    fn decide_table() {
        let plain = cm("c", json!({}));
        let create_only = cm("c", json!({DOWNSYNC_OVERWRITE: "false"}));
        let owned_c = owned("c");
        let owned_create_only = cm("c", json!({DOWNSYNCED: "ConfigMap/shop/c", DOWNSYNC_OVERWRITE: "false"}));
        let table: Vec<(&str, Value, Option<Value>, Action)> = vec![
            ("absent in the WEC", plain.clone(), None, Action::Create),
            ("absent, create-only", create_only.clone(), None, Action::Create),
            ("owned", plain.clone(), Some(owned_c.clone()), Action::Apply { clear_create_only: false }),
            (
                "owned, overwrite explicitly true",
                cm("c", json!({DOWNSYNC_OVERWRITE: "true"})),
                Some(owned_c.clone()),
                Action::Apply { clear_create_only: false },
            ),
            (
                "owned, overwrite blank",
                cm("c", json!({DOWNSYNC_OVERWRITE: ""})),
                Some(owned_c.clone()),
                Action::Apply { clear_create_only: false },
            ),
            (
                "owned and both create-only",
                create_only.clone(),
                Some(owned_create_only.clone()),
                Action::Skip(SkipReason::CreateOnly),
            ),
            (
                "any value but blank and true is create-only",
                cm("c", json!({DOWNSYNC_OVERWRITE: "no"})),
                Some(owned_create_only.clone()),
                Action::Skip(SkipReason::CreateOnly),
            ),
            ("owned, the copy became create-only", create_only.clone(), Some(owned_c.clone()), Action::MarkCreateOnly),
            (
                "owned, the copy is no longer create-only",
                plain.clone(),
                Some(owned_create_only.clone()),
                Action::Apply { clear_create_only: true },
            ),
            (
                "not owned: no mark",
                plain.clone(),
                Some(cm("c", json!({}))),
                Action::Conflict(ConflictReason::NotOwned { expected: "ConfigMap/shop/c".into(), found: None }),
            ),
            (
                "not owned: another object's mark (copied by a controller)",
                plain.clone(),
                Some(cm("c", json!({DOWNSYNCED: "Deployment/shop/web"}))),
                Action::Conflict(ConflictReason::NotOwned {
                    expected: "ConfigMap/shop/c".into(),
                    found: Some("Deployment/shop/web".into()),
                }),
            ),
            (
                "not owned wins over create-only",
                create_only.clone(),
                Some(cm("c", json!({}))),
                Action::Conflict(ConflictReason::NotOwned { expected: "ConfigMap/shop/c".into(), found: None }),
            ),
            (
                "the WEC object is being deleted",
                plain.clone(),
                Some(with(owned_c.clone(), &["metadata", "deletionTimestamp"], json!("2024-01-01T00:00:00Z"))),
                Action::Skip(SkipReason::Terminating),
            ),
            (
                "an upsynced copy is never downsynced, present or not",
                cm("c", json!({UPSYNCED: "ConfigMap/shop/c"})),
                None,
                Action::Skip(SkipReason::Upsynced),
            ),
            (
                "an upsynced copy with a wrong mark is still not downsynced",
                cm("c", json!({UPSYNCED: "x"})),
                Some(owned_c.clone()),
                Action::Skip(SkipReason::Upsynced),
            ),
        ];
        for (case, copy, wec, want) in table {
            assert_eq!(decide(&copy, "ConfigMap", wec.as_ref()), want, "{case}");
        }
    }

    #[test]
    fn decide_cluster_scoped() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
        let table: Vec<(&str, Value, Action)> = vec![
            (
                "the syncer's implicit namespace is taken over by the Namespace object",
                crate::downstream::implicit_namespace("shop"),
                Action::Apply { clear_create_only: false },
            ),
            (
                "a namespace the cluster had (default, or someone else's)",
                json!({"metadata": {"name": "shop"}}),
                Action::Conflict(ConflictReason::NotOwned { expected: "Namespace//shop".into(), found: None }),
            ),
        ];
        for (case, wec, want) in table {
            assert_eq!(decide(&ns, "Namespace", Some(&wec)), want, "{case}");
        }
    }

    #[test]
    fn conflict_message_says_what_to_do() {
        let table = [
            (None, "is absent, not \"ConfigMap/shop/c\""),
            (Some("Deployment/shop/web"), "is \"Deployment/shop/web\", not \"ConfigMap/shop/c\""),
        ];
        for (found, part) in table {
            let reason = ConflictReason::NotOwned { expected: "ConfigMap/shop/c".into(), found: found.map(Into::into) };
            let message = reason.to_string();
            assert!(message.contains(part), "{message}");
            assert!(message.contains("edge.kubestellar.io/downsynced=ConfigMap/shop/c"), "{message}");
            assert!(message.contains("delete the object"), "{message}");
        }
    }

    #[test]
    fn create_only_patch_sets_and_clears() {
        let table = [
            (true, json!({"metadata": {"annotations": {DOWNSYNC_OVERWRITE: "false"}}})),
            (false, json!({"metadata": {"annotations": {DOWNSYNC_OVERWRITE: null}}})),
        ];
        for (on, want) in table {
            assert_eq!(create_only_patch(on), want);
        }
    }

    fn wanted(names: &[&str]) -> Wanted {
        let spec: SyncerConfigSpec = serde_json::from_value(json!({"namespacedObjects": [
            {"group": "", "resource": "configmaps", "apiVersion": "v1",
             "objectsByNamespace": [{"namespace": "shop", "names": names}]}
        ]}))
        .expect("test spec");
        Wanted::new(&spec)
    }

    fn cm_key(name: &str) -> ObjectKey {
        ObjectKey {
            group: String::new(),
            resource: "configmaps".into(),
            namespace: Some("shop".into()),
            name: name.into(),
        }
    }

    #[test]
    fn to_delete_table() {
        let wec = vec![
            owned("kept"),
            owned("unlisted"),
            owned("gone-from-mailbox"),
            cm("foreign", json!({})),
            cm("copied-mark", json!({DOWNSYNCED: "Deployment/shop/web"})),
            cm("create-only", json!({DOWNSYNCED: "ConfigMap/shop/create-only", DOWNSYNC_OVERWRITE: "false"})),
            with(owned("terminating"), &["metadata", "deletionTimestamp"], json!("2024-01-01T00:00:00Z")),
            json!({"metadata": {"namespace": "shop"}}),
        ];
        let in_mailbox = |k: &ObjectKey| k.name != "gone-from-mailbox";
        let table: Vec<(&str, Wanted, Vec<&str>)> = vec![
            (
                "listed and in the mailbox stays; the rest of ours goes",
                wanted(&["kept", "gone-from-mailbox"]),
                vec!["gone-from-mailbox", "unlisted"],
            ),
            ("nothing listed", wanted(&[]), vec!["gone-from-mailbox", "kept", "unlisted"]),
            ("everything listed", wanted(&["*"]), vec!["gone-from-mailbox"]),
        ];
        for (case, w, want) in table {
            let got = to_delete("", "configmaps", "ConfigMap", &wec, &w, in_mailbox);
            let want: Vec<ObjectKey> = want.into_iter().map(cm_key).collect();
            assert_eq!(got, want, "{case}");
        }
        // Never what is not ours, whatever the-one and the mailbox say.
        let everything_gone = to_delete("", "configmaps", "ConfigMap", &wec, &Wanted::default(), |_| false);
        for name in ["foreign", "copied-mark", "create-only", "terminating"] {
            assert!(!everything_gone.contains(&cm_key(name)), "{name} must survive");
        }
        // The kind is part of the mark: the same objects read as Secrets are not ours.
        assert!(to_delete("", "secrets", "Secret", &wec, &Wanted::default(), |_| false).is_empty());
    }

    #[test]
    fn to_delete_never_deletes_namespaces() {
        let namespaces = [crate::downstream::implicit_namespace("shop"), crate::downstream::implicit_namespace("bank")];
        assert!(to_delete("", "namespaces", "Namespace", &namespaces, &Wanted::default(), |_| false).is_empty());
        let crds = [json!({"metadata": {"name": "widgets.example.com",
                    "annotations": {DOWNSYNCED: "CustomResourceDefinition//widgets.example.com"}}})];
        let got = to_delete(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            &crds,
            &Wanted::default(),
            |_| false,
        );
        assert_eq!(got.len(), 1, "owned CRDs are deleted (last)");
    }

    #[test]
    fn apply_rank_table() {
        let table = [
            ("", "namespaces", 0),
            ("apiextensions.k8s.io", "customresourcedefinitions", 1),
            ("", "configmaps", 2),
            ("apps", "deployments", 2),
            ("example.com", "namespaces", 2),
            ("", "customresourcedefinitions", 2),
        ];
        for (group, resource, want) in table {
            assert_eq!(apply_rank(group, resource), want, "{group}/{resource}");
        }
    }
}
