//! The space server: one process serving many Kubernetes-API-compatible spaces under
//! `/clusters/<space>/…`, on a durable embedded store.

pub mod patch;
pub mod ssa;
pub mod store;
