//! orrery's APIs.
//!
//! - [`types`]: the `edge.kubestellar.io/v2alpha1` kinds, wire-compatible with KubeStellar.
//! - [`crds`]: their CustomResourceDefinitions, generated from the types.
//! - [`selector`]: label and field selectors, structured and as strings.
//! - [`downsync`] and [`upsync`]: which objects an EdgePlacement selects.
//! - [`validation`]: name grammars and EdgePlacement validation, reporting every problem
//!   with its field path.
//!
//! Everything here is pure: no I/O, no clients. Controllers, the space server and the CLI
//! share these definitions so that they can never disagree about what a placement means.

pub mod crds;
pub mod downsync;
pub mod keys;
pub mod object;
pub mod selector;
pub mod space;
pub mod types;
pub mod upsync;
pub mod validation;

pub use object::ObjectRef;
pub use types::*;

/// The name of the mailbox space of a SyncTarget: `<inventory space>-mb-<SyncTarget UID>`.
///
/// The UID (not the name) makes a SyncTarget deleted and re-created under the same name get
/// a fresh mailbox, so nothing meant for the old one leaks into the new one.
pub fn mailbox_space_name(inventory_space: &str, sync_target_uid: &str) -> String {
    format!("{inventory_space}-mb-{sync_target_uid}")
}
