//! StatusCollector: how to summarize an object's reported state across many edge clusters
//! (KubeStellar 0.2x semantics, served in `edge.kubestellar.io`).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The desired state of a StatusCollector.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edge.kubestellar.io",
    version = "v2alpha1",
    kind = "StatusCollector",
    doc = "One way to summarize the reported state of a workload object across the edge clusters it goes to, modelled on an SQL `SELECT … WHERE … GROUP BY … LIMIT`. Expressions are CEL over `inventory.name`, `obj` (the workload object), `returned.status` and `propagation.lastReturnedUpdateTimestamp`. Either `select` or `combinedFields` is given, not both; `groupBy` needs `combinedFields`.",
    plural = "statuscollectors",
    shortname = "sc",
    status = "StatusCollectorStatus",
    derive = "Default",
    derive = "PartialEq",
    printcolumn(name = "Limit", type_ = "integer", json_path = ".spec.limit"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct StatusCollectorSpec {
    /// Like `WHERE`: rows for which this is false or null are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,

    /// Like `GROUP BY`; every value must be atomic. Needs `combinedFields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<NamedExpression>>,

    /// Aggregations over each group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combined_fields: Option<Vec<NamedAggregator>>,

    /// Per-cluster values, when nothing is aggregated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<NamedExpression>>,

    /// At most this many rows.
    #[serde(default = "default_limit")]
    #[schemars(extend("default" = 20, "minimum" = 0))]
    pub limit: i64,
}

/// KubeStellar's documented default row limit.
pub const DEFAULT_STATUS_COLLECTOR_LIMIT: i64 = 20;

fn default_limit() -> i64 {
    DEFAULT_STATUS_COLLECTOR_LIMIT
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedExpression {
    pub name: String,
    /// A CEL expression.
    pub def: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedAggregator {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: AggregatorType,
    /// What to aggregate; not used by `COUNT`, required by the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AggregatorType {
    #[default]
    #[serde(rename = "COUNT")]
    Count,
    #[serde(rename = "SUM")]
    Sum,
    #[serde(rename = "AVG")]
    Avg,
    #[serde(rename = "MIN")]
    Min,
    #[serde(rename = "MAX")]
    Max,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCollectorStatus {
    pub observed_generation: i64,
    /// Problems with the expressions, e.g. CEL that does not parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
}
