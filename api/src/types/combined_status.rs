//! CombinedStatus: the summary a StatusCollector computes for one workload object.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The fields of a CombinedStatus (flattened into the object: it has no `spec`).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edge.kubestellar.io",
    version = "v2alpha1",
    kind = "CombinedStatus",
    doc = "The combined reported state of one workload object under one EdgePlacement, with one result per StatusCollector that applies. Named `<object UID>.<placement UID>`, in the object's namespace (or `kubestellar-report` for cluster-scoped objects), and labelled with the object's group, resource, namespace and name and the placement's name.",
    plural = "combinedstatuses",
    shortname = "cs",
    namespaced,
    no_spec,
    derive = "Default",
    derive = "PartialEq",
    printcolumn(
        name = "Subject_Group",
        type_ = "string",
        json_path = ".metadata.labels['status\\.kubestellar\\.io/api-group']"
    ),
    printcolumn(
        name = "Subject_Rsc",
        type_ = "string",
        json_path = ".metadata.labels['status\\.kubestellar\\.io/resource']"
    ),
    printcolumn(
        name = "Subject_NS",
        type_ = "string",
        json_path = ".metadata.labels['status\\.kubestellar\\.io/namespace']"
    ),
    printcolumn(
        name = "Subject_Name",
        type_ = "string",
        json_path = ".metadata.labels['status\\.kubestellar\\.io/name']"
    ),
    printcolumn(
        name = "Placement",
        type_ = "string",
        json_path = ".metadata.labels['status\\.kubestellar\\.io/binding-policy']"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct CombinedStatusFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<NamedStatusCombination>>,
}

/// The table one StatusCollector produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedStatusCombination {
    /// The StatusCollector's name.
    pub name: String,
    pub column_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<StatusCombinationRow>>,
    /// Errors evaluating expressions for one edge cluster; such rows are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_errors: Option<Vec<RowEvaluationError>>,
    /// Errors aggregating a column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_errors: Option<Vec<ErrorInColumn>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCombinationRow {
    pub columns: Vec<Value>,
}

/// One cell: a tagged union. Numbers travel as decimal text in `float`, as in KubeStellar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Value {
    #[serde(rename = "type")]
    pub type_: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    #[serde(default, rename = "float", skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bool: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::any_json")]
    pub object: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::any_json")]
    pub array: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ValueType {
    String,
    Number,
    Bool,
    #[default]
    Null,
    Object,
    Array,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowEvaluationError {
    pub wec: Destination,
    /// `""` when the filter failed.
    pub column_name: String,
    pub error: String,
}

/// An edge cluster, by the name the inventory knows it by.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub cluster_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInColumn {
    pub column_name: String,
    pub error: String,
}
