//! EdgePlacement: *what* to propagate (downsync / upsync) and *where* (locationSelectors).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The desired state of an EdgePlacement.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edge.kubestellar.io",
    version = "v2alpha1",
    kind = "EdgePlacement",
    doc = "Binds a set of Locations to the workload objects that go there (downsync) and the objects that come back from there (upsync). EdgePlacements may overlap: their effects add up and never conflict.",
    plural = "edgeplacements",
    shortname = "epl",
    status = "EdgePlacementStatus",
    derive = "Default",
    derive = "PartialEq",
    printcolumn(
        name = "Locations",
        type_ = "integer",
        json_path = ".status.matchingLocationCount",
        description = "Locations that match the location selectors"
    ),
    printcolumn(
        name = "Singleton",
        type_ = "boolean",
        json_path = ".spec.wantSingletonReportedState",
        priority = "1",
        description = "Whether reported state returns from the single destination"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct EdgePlacementSpec {
    /// A Location is relevant when any of these selectors matches its labels. An empty list
    /// selects no Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_selectors: Option<Vec<LabelSelector>>,

    /// An object is downsynced when it matches any of these tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downsync: Option<Vec<DownsyncObjectTest>>,

    /// Asserts that exactly one Location is meant, and asks that the object's reported
    /// state come back from it to the workload description space. ORed across placements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub want_singleton_reported_state: Option<bool>,

    /// Objects created in the edge clusters that come back to the center. An object that
    /// matches both downsync and upsync is upsynced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upsync: Option<Vec<UpsyncSet>>,
}

/// A test on workload objects. Every field that is given must match (AND); a list matches
/// when any member matches (OR); an absent or empty list matches everything; `"*"` in a
/// list of names matches any name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownsyncObjectTest {
    /// The API group; `""` is the core group. Absent means every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,

    /// Lowercase plural resource names, or `"*"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,

    /// Namespace names, or `"*"`. A cluster-scoped object matches only an empty list or `"*"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,

    /// Selectors on the labels of the object's namespace. A cluster-scoped object is tested
    /// with no labels, so it matches only an empty list or a selector such as `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selectors: Option<Vec<LabelSelector>>,

    /// Object names, or `"*"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_names: Option<Vec<String>>,

    /// Selectors on the object's own labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selectors: Option<Vec<LabelSelector>>,

    /// orrery addition (KubeStellar 0.2x `DownsyncModulation`): create the object in the
    /// edge cluster but never update it there once it exists. ORed across tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_only: Option<bool>,

    /// orrery addition (KubeStellar 0.2x): names of StatusCollectors that summarize the
    /// reported state of the matched objects into CombinedStatus objects. Unioned across tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_collectors: Option<Vec<String>>,
}

/// A set of objects that come from the edge clusters to the center. Unlike downsync tests,
/// an empty list here matches nothing; `"*"` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpsyncSet {
    /// The API group; `""` (or absent) is the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,

    /// Lowercase plural resource names, or `"*"`.
    pub resources: Vec<String>,

    /// Namespace names, or `"*"`. Not consulted for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,

    /// Object names, or `"*"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EdgePlacementStatus {
    /// The `metadata.generation` this status describes; 0 before the first write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_generation: Option<i32>,

    /// How many Locations the location selectors match.
    pub matching_location_count: i32,

    /// orrery's addition: how the placement is being carried out. `Translated` is False,
    /// with every problem in its message, while a Customizer or a `%(parameter)` of an
    /// object it places cannot be applied for some destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>,
}
