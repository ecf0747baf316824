//! SyncTarget: one edge cluster (WEC) as the inventory knows it.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The desired state of a SyncTarget.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edge.kubestellar.io",
    version = "v2alpha1",
    kind = "SyncTarget",
    doc = "An edge cluster that workloads can be placed on. orrery reads its name, UID and labels (Locations select SyncTargets by label; the mailbox space is named from the UID) and writes the syncer's heartbeat into its status.",
    plural = "synctargets",
    status = "SyncTargetStatus",
    derive = "Default",
    derive = "PartialEq",
    printcolumn(
        name = "Heartbeat",
        type_ = "date",
        json_path = ".status.lastSyncerHeartbeatTime",
        description = "When the syncer last reported in"
    ),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"SyncerReady\")].status"),
    printcolumn(name = "Unschedulable", type_ = "boolean", json_path = ".spec.unschedulable", priority = "1"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct SyncTargetSpec {
    /// Keeps new workloads off this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub unschedulable: Option<bool>,

    /// After this time, workloads are taken off this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evict_after: Option<Time>,

    /// The API exports this target supports (kcp heritage; kept for compatibility).
    #[serde(default, rename = "supportedAPIExports", skip_serializing_if = "Option::is_none")]
    pub supported_api_exports: Option<Vec<ApiExportReference>>,

    /// Cell labels set by service providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cells: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiExportReference {
    /// The workspace path of the export; absent means the target's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub export: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncTargetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<BTreeMap<String, Quantity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<BTreeMap<String, Quantity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<SyncTargetCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resources: Option<Vec<ResourceToSync>>,
    /// When the syncer last reported in; the mailbox controller copies it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_syncer_heartbeat_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_workspaces: Option<Vec<VirtualWorkspace>>,
}

/// A condition in the kcp / cluster-api shape KubeStellar's SyncTarget uses
/// (`severity` and an optional `reason`, unlike `metav1.Condition`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncTargetCondition {
    /// `SyncerReady`, `HeartbeatHealthy`, …
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// `Error`, `Warning` or `Info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    pub last_transition_time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceToSync {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub resource: String,
    /// Versions in order of precedence.
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_hash: Option<String>,
    /// `Pending`, `Accepted` or `Incompatible`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualWorkspace {
    #[serde(rename = "syncerURL")]
    pub syncer_url: String,
    #[serde(rename = "upsyncerURL")]
    pub upsyncer_url: String,
}
