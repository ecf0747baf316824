//! SyncerConfig: everything one syncer should sync down and up, named `the-one` in its mailbox.

use super::UpsyncSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The desired state of a SyncerConfig.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edge.kubestellar.io",
    version = "v2alpha1",
    kind = "SyncerConfig",
    doc = "What the syncer of one edge cluster downsyncs and upsyncs. Edge cluster, mailbox, syncer and SyncerConfig are one-to-one; the placement translator writes it as `the-one`. A namespaced object is downsynced when it matches `namespaceScope` or `namespacedObjects`.",
    plural = "syncerconfigs",
    shortname = "escfg",
    status = "SyncerConfigStatus",
    derive = "Default",
    derive = "PartialEq",
    printcolumn(
        name = "Heartbeat",
        type_ = "date",
        json_path = ".status.lastSyncerHeartbeatTime",
        description = "When the syncer last reported in"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct SyncerConfigSpec {
    /// Whole namespaces: every object of the listed resources in the listed namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_scope: Option<NamespaceScopeDownsyncs>,

    /// Individual namespaced objects, grouped by resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaced_objects: Option<Vec<NamespaceScopeDownsyncObjects>>,

    /// Individual cluster-scoped objects, grouped by resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<Vec<ClusterScopeDownsyncResource>>,

    /// Objects to copy from the edge cluster up into the mailbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upsync: Option<Vec<UpsyncSet>>,
}

/// Namespaces × resources. An empty list on either side selects nothing. A namespace
/// listed here is only made to exist in the edge cluster; the Namespace object itself
/// is downsynced only when `clusterScope` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceScopeDownsyncs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<NamespaceScopeDownsyncResource>>,
}

/// A resource, and the version both sides use for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceScopeDownsyncResource {
    /// `""` is the core group.
    pub group: String,
    pub resource: String,
    /// The version alone, without the group (`v1`).
    pub api_version: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceScopeDownsyncObjects {
    pub group: String,
    pub resource: String,
    pub api_version: String,
    /// Empty selects nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects_by_namespace: Option<Vec<NamespaceAndNames>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceAndNames {
    pub namespace: String,
    /// Empty selects nothing; `"*"` selects all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterScopeDownsyncResource {
    pub group: String,
    pub resource: String,
    pub api_version: String,
    /// Object names; empty selects nothing; `"*"` selects all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncerConfigStatus {
    /// When the syncer last reported in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_syncer_heartbeat_time: Option<Time>,
}
