//! Location: a place workloads can go, which selects the SyncTargets that serve it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The desired state of a Location.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edge.kubestellar.io",
    version = "v2alpha1",
    kind = "Location",
    doc = "A place that EdgePlacements select by label. Its `instanceSelector` picks the SyncTargets (edge clusters) in the same inventory space that serve it.",
    plural = "locations",
    status = "LocationStatus",
    derive = "Default",
    derive = "PartialEq",
    printcolumn(name = "Resource", type_ = "string", json_path = ".spec.resource.resource"),
    printcolumn(name = "Available", type_ = "string", json_path = ".status.availableInstances"),
    printcolumn(name = "Instances", type_ = "string", json_path = ".status.instances"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct LocationSpec {
    /// The kind of thing this Location's instances are: always
    /// `edge.kubestellar.io/v2alpha1` `synctargets`.
    pub resource: GroupVersionResource,

    /// Text for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// Labels that instances of this Location can be told apart by. Keyed by `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["key"]))]
    pub available_selector_labels: Option<Vec<AvailableSelectorLabel>>,

    /// Selects the SyncTargets, in this Location's own space, that serve it. Absent selects
    /// none; `{}` selects all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_selector: Option<LabelSelector>,
}

/// A group, version and resource. `group` is absent for the core group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupVersionResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub version: String,
    pub resource: String,
}

impl GroupVersionResource {
    /// What every Location's `spec.resource` says: its instances are SyncTargets.
    pub fn sync_targets() -> Self {
        Self {
            group: Some(super::GROUP.to_owned()),
            version: super::VERSION.to_owned(),
            resource: "synctargets".to_owned(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailableSelectorLabel {
    pub key: String,
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationStatus {
    /// How many SyncTargets the instance selector matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    /// How many of those are schedulable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_instances: Option<i32>,
}
