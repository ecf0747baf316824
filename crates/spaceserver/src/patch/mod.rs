//! Patch formats: JSON merge patch, JSON patch, strategic merge patch.
//!
//! The three `Content-Type`s a Kubernetes apiserver accepts on `PATCH` besides server-side apply,
//! as pure functions from the stored object and the request body to the patched object, so that
//! the HTTP handler only has to pick one by content type and map a [`PatchError`] to a `Status`
//! (its [`status_code`](PatchError::status_code), [`reason`](PatchError::reason) and
//! [`message`](PatchError::message) are what the apiserver answers for the same failure).
//!
//! | content type | function |
//! | --- | --- |
//! | `application/merge-patch+json` | [`merge_patch`] |
//! | `application/json-patch+json` | [`json_patch`] |
//! | `application/strategic-merge-patch+json` | [`strategic_merge_patch`] |
//!
//! None of them validates the result against a schema or touches server-owned fields
//! (`resourceVersion`, `uid`, …); that stays with the caller, as in the apiserver where patching
//! and validation are separate steps.

mod error;
mod json;
mod merge_keys;
mod strategic;
#[cfg(test)]
mod strategic_tests;

use serde_json::Value;

pub use error::{MAX_JSON_PATCH_OPERATIONS, PatchError};
pub use json::json_patch;
pub use strategic::strategic_merge_patch;

/// The API group and kind of the object a strategic merge patch applies to; it selects the merge
/// keys. The core group is `""` (`"core"` is accepted too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupKind<'a> {
    /// API group, `""` for core.
    pub group: &'a str,
    /// Kind, e.g. `Deployment`.
    pub kind: &'a str,
}

impl<'a> GroupKind<'a> {
    /// A group and kind.
    pub const fn new(group: &'a str, kind: &'a str) -> Self {
        GroupKind { group, kind }
    }
}

/// Applies an RFC 7396 JSON merge patch: objects merge recursively, `null` removes a key, and any
/// other value (lists included) replaces what was there.
///
/// The patch must be an object. The apiserver answers 400 for `null` and scalars; a list is the one
/// case where it does not refuse up front (the list becomes the document and decoding it as the
/// kind then fails with 422), and we refuse it with 400 like the other non-objects, because a
/// patch that would replace the whole object by a list can never succeed.
///
/// # Errors
///
/// [`PatchError::BadRequest`] when the patch is not a JSON object.
pub fn merge_patch(mut doc: Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::BadRequest(format!("merge patch must be a JSON object, got {}", json::kind_of(patch))));
    }
    json_patch::merge(&mut doc, patch);
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{MAX_JSON_PATCH_OPERATIONS, PatchError, merge_patch};

    fn config_map() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "labels": {"app": "web", "tier": "frontend"}, "finalizers": ["a", "b"]},
            "data": {"mode": "prod", "level": "info"}
        })
    }

    #[test]
    fn merge_patch_cases() {
        let cases = [
            (
                "changes and adds keys, keeps the rest",
                json!({"data": {"mode": "staging", "extra": "1"}}),
                json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "settings", "labels": {"app": "web", "tier": "frontend"}, "finalizers": ["a", "b"]},
                    "data": {"mode": "staging", "level": "info", "extra": "1"}
                }),
            ),
            (
                "null deletes a key, also a nested one",
                json!({"metadata": {"labels": {"tier": null}}, "data": null}),
                json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "settings", "labels": {"app": "web"}, "finalizers": ["a", "b"]}
                }),
            ),
            (
                "lists are replaced, not merged",
                json!({"metadata": {"finalizers": ["c"]}}),
                json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "settings", "labels": {"app": "web", "tier": "frontend"}, "finalizers": ["c"]},
                    "data": {"mode": "prod", "level": "info"}
                }),
            ),
            (
                "nulls inside a new object are not stored",
                json!({"metadata": {"annotations": {"a": "1", "b": null}}}),
                json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": "settings",
                        "labels": {"app": "web", "tier": "frontend"},
                        "finalizers": ["a", "b"],
                        "annotations": {"a": "1"}
                    },
                    "data": {"mode": "prod", "level": "info"}
                }),
            ),
            ("the empty patch changes nothing", json!({}), config_map()),
        ];
        for (name, patch, want) in cases {
            assert_eq!(merge_patch(config_map(), &patch).unwrap(), want, "{name}");
        }
    }

    #[test]
    fn merge_patch_must_be_an_object() {
        for patch in [json!(null), json!("x"), json!(3), json!([{"op": "add"}])] {
            let err = merge_patch(config_map(), &patch).unwrap_err();
            assert_eq!((err.status_code(), err.reason()), (400, "BadRequest"), "{patch}");
        }
    }

    #[test]
    fn http_mapping() {
        let generic = "the server rejected our request due to an error in our request";
        let cases = [
            (PatchError::BadRequest("bad".into()), 400, "BadRequest", "bad".to_owned()),
            (
                PatchError::TooManyOperations { count: MAX_JSON_PATCH_OPERATIONS + 1 },
                413,
                "RequestEntityTooLarge",
                "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
                    .to_owned(),
            ),
            (PatchError::TestFailed { index: 0, path: "/a".into() }, 422, "Invalid", generic.to_owned()),
            (PatchError::MissingPath { index: 0, op: "remove", path: "/a".into() }, 422, "Invalid", generic.to_owned()),
            (PatchError::Invalid("lists of lists are not supported".into()), 422, "Invalid", generic.to_owned()),
            (PatchError::Unclassified("no merge key".into()), 500, "", "no merge key".to_owned()),
        ];
        for (err, code, reason, message) in cases {
            assert_eq!((err.status_code(), err.reason(), err.message()), (code, reason, message), "{err:?}");
        }
        assert_eq!(
            PatchError::TestFailed { index: 3, path: "/metadata/finalizers".into() }.to_string(),
            "testing value /metadata/finalizers failed"
        );
    }
}
