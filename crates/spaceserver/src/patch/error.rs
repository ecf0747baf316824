//! The one error type of the patch formats, and how each failure is reported over HTTP.
//!
//! Clients branch on the `code` and `reason` of the `Status` the server returns (client-go's
//! `IsInvalid`, `IsBadRequest`, kube-rs' `ErrorResponse.code`), so each variant answers with what the
//! Kubernetes apiserver answers for the same failure rather than with what would seem most natural.
//! The mapping was read from `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`:
//!
//! * `applyJSPatch`, JSON patch: a body that does not decode as a list of operations is
//!   `errors.NewBadRequest` (400 `BadRequest`); more than `maxJSONPatchOperations` operations is
//!   `errors.NewRequestEntityTooLargeError` (413 `RequestEntityTooLarge`); *any* failure while applying
//!   (a failed `test`, a missing path, an index out of range) is
//!   `errors.NewGenericServerResponse(http.StatusUnprocessableEntity, …)`, which is 422 `Invalid` with
//!   the fixed message "the server rejected our request due to an error in our request" (the detail
//!   is dropped, see `NewGenericServerResponse` in `apimachinery/pkg/api/errors/errors.go`). A failed
//!   `test` is therefore *not* a 409 `Conflict`: clients that use `test` as a precondition (kube-runtime's
//!   `finalizer()`) see 422 and retry on their next reconcile.
//! * `applyJSPatch`, merge patch: `jsonpatch.ErrBadJSONPatch` is 400 `BadRequest`.
//! * `interpretStrategicMergePatchError`, strategic merge patch: malformed directives
//!   (`ErrBadPatchFormatForPrimitiveList`, `…ForRetainKeys`, `…ForSetElementOrderList`,
//!   `ErrBadJSONDoc`) are 400 `BadRequest`; `ErrNoListOfLists` is 422 `Invalid`; every other error
//!   (an element without its merge key, an unknown `$patch` value, elements of mixed types) is passed
//!   through unclassified, which `ErrorToAPIStatus`
//!   (`apiserver/pkg/endpoints/handlers/responsewriters/status.go`) turns into 500 with an empty
//!   (`StatusReasonUnknown`) reason and the error text as message.

use thiserror::Error;

/// Most operations a JSON patch may carry; the apiserver refuses longer patches (its
/// `maxJSONPatchOperations`) so that one request cannot make it do unbounded work.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// The message the apiserver puts in every 422 it builds with `NewGenericServerResponse`.
const GENERIC_UNPROCESSABLE: &str = "the server rejected our request due to an error in our request";

/// Why a patch could not be applied. `Display` is the detailed reason (for logs and for the
/// variants whose `Status.message` is that detail); [`PatchError::message`] is the exact
/// `Status.message` the apiserver would send.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatchError {
    /// The body is not a patch of the declared type: a merge patch that is not an object, a JSON
    /// patch that is not a list of well-formed operations (unknown `op`, a `path` that is not a JSON
    /// pointer, a missing `value`), or a strategic-merge directive of the wrong shape.
    #[error("{0}")]
    BadRequest(String),
    /// A JSON patch with more than [`MAX_JSON_PATCH_OPERATIONS`] operations.
    #[error("The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {count}")]
    TooManyOperations {
        /// How many operations the patch had.
        count: usize,
    },
    /// A JSON-patch `test` operation found a different value. Kept apart from the other 422s so
    /// that callers (and logs) can tell an optimistic precondition from a broken patch.
    #[error("testing value {path} failed")]
    TestFailed {
        /// Position of the operation in the patch, from 0.
        index: usize,
        /// The operation's `path`.
        path: String,
    },
    /// A JSON-patch operation addressed a location that does not exist (a missing parent, an
    /// array index out of range, a `from` or a `remove` target that is absent).
    #[error("{op} operation does not apply: doc is missing path: {path}")]
    MissingPath {
        /// Position of the operation in the patch, from 0.
        index: usize,
        /// The operation's name (`add`, `remove`, …).
        op: &'static str,
        /// The pointer that did not resolve.
        path: String,
    },
    /// The patch is well-formed but cannot be applied to this object for another reason (a
    /// `move` into its own child, a strategic merge of lists of lists).
    #[error("{0}")]
    Invalid(String),
    /// A strategic-merge failure the apiserver does not classify (an element without its merge
    /// key, an unknown `$patch` value, list elements of different types, …).
    #[error("{0}")]
    Unclassified(String),
}

impl PatchError {
    /// The HTTP status the apiserver answers with for this failure (see the module docs).
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::TestFailed { .. } | PatchError::MissingPath { .. } | PatchError::Invalid(_) => 422,
            PatchError::Unclassified(_) => 500,
        }
    }

    /// The `Status.reason` the apiserver answers with. Empty for [`PatchError::Unclassified`]:
    /// that is `metav1.StatusReasonUnknown`, which the apiserver sends for errors it did not
    /// classify, and which a `Status` encoder should omit.
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::TooManyOperations { .. } => "RequestEntityTooLarge",
            PatchError::TestFailed { .. } | PatchError::MissingPath { .. } | PatchError::Invalid(_) => "Invalid",
            PatchError::Unclassified(_) => "",
        }
    }

    /// The `Status.message` the apiserver sends: the detail for 400s and 500s, a fixed prefix for
    /// 413, and the fixed generic sentence for 422s (the apiserver discards their detail).
    pub fn message(&self) -> String {
        match self {
            PatchError::BadRequest(_) | PatchError::Unclassified(_) => self.to_string(),
            PatchError::TooManyOperations { .. } => format!("Request entity too large: {self}"),
            PatchError::TestFailed { .. } | PatchError::MissingPath { .. } | PatchError::Invalid(_) => {
                GENERIC_UNPROCESSABLE.to_owned()
            }
        }
    }
}
