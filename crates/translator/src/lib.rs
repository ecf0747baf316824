//! orrery's placement translator (KubeStellar's placement-translator, reference §2.3): the
//! decisions that turn a workload object in a WDS into its copy in each destination's
//! mailbox.
//!
//! - [`categories`]: what never travels (per resource and per object), and what must be
//!   applied first (Namespaces, CRDs).
//! - [`customize`](mod@customize): per-destination customization — `%(name)` parameter expansion from the
//!   destination Location and Customizer JSONPath replacements — reporting every problem
//!   instead of skipping it silently.
//! - [`project`](mod@project): the mailbox copy itself (server-set metadata and status stripped,
//!   `edge.kubestellar.io/projected=yes` added).
//! - [`order`]: the order of a mailbox's writes and deletions (Namespaces and CRDs before
//!   their dependents, and after them when deleting).
//! - [`syncer_config`](mod@syncer_config): the mailbox's `SyncerConfig` `the-one`, listing
//!   exactly the objects placed there, and its inverse.
//!
//! Everything here is pure and synchronous: functions of their inputs with no I/O, so the
//! controller that watches spaces and writes mailboxes stays thin and these rules are
//! tested with tables.

pub mod categories;
pub mod controller;
pub mod customize;
mod object;
pub mod order;
pub mod project;
pub mod syncer_config;

pub use categories::{
    Exclusion, Nature, Propagation, ResourceMode, SystemObject, exclusion, is_ordered_first, resource_mode,
    system_object,
};
pub use controller::TranslatorController;
pub use customize::{CustomizerRef, Params, Problem, customize, customizer_ref, needs_params};
pub use order::{Item, ObjectId, apply_order, apply_waves, crd_defines, delete_order};
pub use project::{is_being_deleted, project};
pub use syncer_config::{Placed, THE_ONE, placed_in, syncer_config};
