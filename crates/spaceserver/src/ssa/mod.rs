//! Server-side apply: managedFields and field ownership.
//!
//! Everything here is a pure function of JSON objects (whole Kubernetes objects with
//! `apiVersion`, `kind` and `metadata`) and a clock reading passed in as `now`, so the request
//! handlers decide when to read and store, and tests need no server.
//!
//! - [`apply`] / [`apply_subresource`]: `PATCH` with `application/apply-patch+yaml`.
//! - [`update`]: every other write (create, update, merge/JSON/strategic patch), recorded as an
//!   `Update` by the request's field manager.
//! - [`FieldSet`], [`to_fields_v1`], [`from_fields_v1`], [`field_set_of`]: the `fieldsV1` trie;
//!   [`write_fields_v1_text`] and [`read_fields_v1_text`] write and read its text without the
//!   tree, which is how a write stores the entries it changes and reads those it reaches.
//! - [`ListTypes`]: the schema facts merging needs, from a CRD schema ([`CrdListTypes`]) or the
//!   built-in table ([`BuiltinListTypes`]).
//!
//! The semantics follow kube-apiserver and structured-merge-diff (the library it uses), because
//! clients read `managedFields` and conflict messages: kubectl prints them, and controllers and
//! GitOps tools depend on who owns what. Known differences: no version conversion (entries
//! recorded at another API version are compared as if the field layout were the same), and no
//! validation of fields against the schema beyond what merging needs.

mod builtin;
mod conflict;
mod fieldset;
mod managers;
mod merge;
mod ops;
mod schema;
mod stored;
mod walk;

#[cfg(test)]
mod tests_apply;
#[cfg(test)]
mod tests_fieldset;
#[cfg(test)]
mod tests_update;

pub use builtin::BuiltinListTypes;
pub use conflict::{ApplyError, Conflict};
pub use fieldset::{
    FieldPath, FieldSet, FieldsV1Error, PathElement, from_fields_v1, read_fields_v1_text, to_fields_v1,
    write_fields_v1_text,
};
pub use managers::{
    ANCIENT_CHANGES_MANAGER, BEFORE_FIRST_APPLY_MANAGER, MAX_UPDATE_MANAGERS, ManagedFieldsError, ManagerEntry,
    Operation, Stored, decode_managed_fields, encode_managed_fields, write_list,
};
pub use ops::{apply, apply_subresource, apply_tracked, update, update_tracked};
pub use schema::{CrdListTypes, ListType, ListTypes, MapType};
pub use stored::{EntryJson, EntryText, ManagedList, StoredEntries};
pub use walk::{Comparison, Scope, field_set_in_scope};

use serde_json::Value;

/// The fields `obj` sets that a write to the main resource can own: not `apiVersion`, `kind`,
/// `status`, or `metadata` other than `labels`, `annotations`, `finalizers` and
/// `ownerReferences`. Use [`field_set_in_scope`] to include `status`.
pub fn field_set_of(obj: &Value, types: &dyn ListTypes) -> FieldSet {
    field_set_in_scope(obj, types, Scope::Object)
}
