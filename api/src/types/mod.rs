//! The `edge.kubestellar.io/v2alpha1` kinds, wire-compatible with KubeStellar v0.14
//! (PoC2023q4) plus orrery's optional additions (`createOnly`, `statusCollectors`,
//! StatusCollector and CombinedStatus from KubeStellar 0.2x).
//!
//! Field names, JSON names, scopes and short names are KubeStellar's. Where KubeStellar's
//! Go types omit a field when empty, these do too; lists and maps that Go writes only when
//! non-empty are `Option`s here, so an object read and written back is unchanged.

// `#[kube(printcolumn(type_ = …))]` repeats the same key in sibling columns, which clippy
// mistakes for a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

mod combined_status;
mod customizer;
mod edge_placement;
mod location;
mod placement_slice;
mod status_collector;
mod sync_target;
mod syncer_config;

pub use combined_status::*;
pub use customizer::*;
pub use edge_placement::*;
pub use location::*;
pub use placement_slice::*;
pub use status_collector::*;
pub use sync_target::*;
pub use syncer_config::*;

/// The API group of every orrery kind.
pub const GROUP: &str = "edge.kubestellar.io";
/// The API version of every orrery kind.
pub const VERSION: &str = "v2alpha1";
/// `group/version`, as in `apiVersion`.
pub const API_VERSION: &str = "edge.kubestellar.io/v2alpha1";

/// A schema that accepts any JSON value and keeps it as it is (`x-kubernetes-preserve-unknown-fields`).
pub(crate) fn any_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}
