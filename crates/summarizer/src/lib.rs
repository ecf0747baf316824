//! orrery's status summarizer: the reported state of workload objects, carried from the
//! mailbox copies (where each WEC's syncer writes it) back to the WDS.
//!
//! - **Singleton status** ([`singleton`]): an object whose placements ask for
//!   `wantSingletonReportedState` and that runs in exactly one qualified WEC gets that
//!   WEC's `.status`; every placed object carries `kubestellar.io/executing-count`.
//! - **Combined status** ([`collector`], [`combined`]): per (object, placement), one
//!   `CombinedStatus` with a table per StatusCollector the placement names, evaluated with
//!   CEL ([`expr`]).
//!
//! The decisions are pure functions; [`controller`] wires them to watches.

pub mod collector;
pub mod combined;
pub mod controller;
pub mod expr;
pub mod pacing;
pub mod singleton;

pub use controller::Summarizer;
