//! orrery's syncer (KubeStellar's kubestellar-syncer, reference §2.4; DESIGN §8): the one
//! agent that runs in a workload execution cluster (WEC) and links it to its mailbox space
//! in the center.
//!
//! **What it does.** It reads the mailbox's SyncerConfig `the-one` and
//!
//! - *downsyncs*: applies every mailbox object `the-one` names to the WEC, marked
//!   `edge.kubestellar.io/downsynced`, making namespaces exist, Namespaces and CRDs first;
//!   honours create-only (`edge.kubestellar.io/downsync-overwrite: "false"`); deletes what
//!   it owns and is no longer named — and never touches what it does not own;
//! - *returns status*: copies each downsynced object's WEC `.status` to its mailbox copy;
//! - *upsyncs*: copies WEC objects matching `the-one`'s `upsync` sets into the mailbox,
//!   marked `edge.kubestellar.io/upsynced`, and keeps the copies current.
//!
//! **Inward only.** Every connection goes from the WEC to the center, with a token valid for
//! that one mailbox: edge clusters sit behind NAT and proxies, and the center never dials
//! them. Losing the center never changes the WEC — nothing is deleted because of a
//! disconnect.
//!
//! **What is here.** This crate's modules are the syncer's decisions, as pure synchronous
//! functions of the objects involved (`serde_json::Value`s as the API servers deliver them)
//! — no clients, no I/O — so that every rule is tested with tables and the watch/apply
//! wiring stays thin:
//!
//! - [`wanted`]: what `the-one` asks for — resources to watch, objects wanted, namespaces
//!   to make exist;
//! - [`downstream`](mod@downstream): the WEC object made from a mailbox copy, and the ownership mark;
//! - [`plan`]: create / apply / skip / conflict for one object, what to delete, and the
//!   order (Namespaces, CRDs, the rest); the conflict policy is documented there;
//! - [`applied`]: whether an apply would change nothing (the syncer skips it);
//! - [`status`]: which `.status` goes back to the mailbox, and when;
//! - [`upsync`]: which WEC objects go up, their mailbox copies, and create / update / delete
//!   of those copies.
//!
//! Kinds are passed in explicitly throughout: the marks contain the kind, and objects read
//! from a list carry no `kind`.

pub mod applied;
pub mod downstream;
mod object;
pub mod plan;
pub mod run;
pub mod status;
pub mod upsync;
pub mod wanted;

pub use downstream::{downstream, implicit_namespace, is_owned, owner_mark};
pub use object::Head;
pub use plan::{Action, ConflictReason, SkipReason, apply_rank, create_only_patch, decide, is_create_only, to_delete};
pub use run::{Settings, SyncError, Syncer};
pub use status::{returns_no_status, status_to_return};
pub use upsync::{
    InvalidUpsyncSet, UpsyncAction, UpsyncConflict, compile_upsync, decide_upsync, is_downsynced, is_upsync_copy,
    upsync_copy, upsync_resources, upsyncs,
};
pub use wanted::{ObjectKey, ResourceRef, Wanted};

/// The field manager the syncer applies with in the WEC (and writes the mailbox with).
pub const FIELD_MANAGER: &str = "orrery-syncer";
