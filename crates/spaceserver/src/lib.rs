//! The space server: one process serving many Kubernetes-API-compatible spaces under
//! `/clusters/<space>/…`, on a durable embedded store.

pub mod api;
pub mod auth;
pub mod cork;
mod date;
pub mod kubeconfig;
pub mod patch;
pub mod pki;
pub mod server;
pub mod ssa;
pub mod store;
