//! SinglePlacementSlice: the scheduler's answer to "where" for one EdgePlacement.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The fields of a SinglePlacementSlice (flattened into the object: it has no `spec`).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edge.kubestellar.io",
    version = "v2alpha1",
    kind = "SinglePlacementSlice",
    doc = "The destinations of one EdgePlacement, written by the scheduler with the same name as the EdgePlacement and an ownerReference to it. Unlike most kinds it has no `spec`: its `destinations` sit at the top level, as in KubeStellar.",
    plural = "singleplacementslices",
    shortname = "sps",
    no_spec,
    derive = "Default",
    derive = "PartialEq",
    printcolumn(
        name = "Placement",
        type_ = "string",
        json_path = ".metadata.ownerReferences[?(@.kind==\"EdgePlacement\")].name",
        description = "The EdgePlacement these destinations are for"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct SinglePlacementSliceFields {
    #[serde(default)]
    pub destinations: Vec<SinglePlacement>,
}

/// One destination: a SyncTarget reached through a Location.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SinglePlacement {
    /// The space (logical cluster) that holds both the Location and the SyncTarget.
    pub cluster: String,
    pub location_name: String,
    pub sync_target_name: String,
    /// The SyncTarget's UID, which names its mailbox space.
    #[serde(rename = "syncTargetUID")]
    pub sync_target_uid: String,
}

impl SinglePlacement {
    /// The mailbox space of this destination: `<cluster>-mb-<SyncTarget UID>`, as KubeStellar
    /// names it, so it follows from the slice alone.
    pub fn mailbox_name(&self) -> String {
        crate::mailbox_space_name(&self.cluster, &self.sync_target_uid)
    }
}
