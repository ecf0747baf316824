//! The `Space` kind (`space.kubestellar.io/v1alpha1`, cluster-scoped, in the root space of
//! a space server): creating one creates a space. Its wire names live here so the server,
//! the CLI and tests agree on them.

pub const GROUP: &str = "space.kubestellar.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "Space";
pub const PLURAL: &str = "spaces";

/// The dynamic-API description of `Space`, for `kube::Api<DynamicObject>`.
pub fn api_resource() -> kube::core::ApiResource {
    kube::core::ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: format!("{GROUP}/{VERSION}"),
        kind: KIND.into(),
        plural: PLURAL.into(),
    }
}
