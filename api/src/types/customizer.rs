//! Customizer: per-destination replacements applied to annotated workload objects.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The fields of a Customizer (flattened into the object: it has no `spec`).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edge.kubestellar.io",
    version = "v2alpha1",
    kind = "Customizer",
    doc = "Changes applied to a workload object on its way to each destination, for objects that name this Customizer in their `edge.kubestellar.io/customizer` annotation. When the Customizer itself asks for parameter expansion, the expanded replacements are applied.",
    plural = "customizers",
    namespaced,
    no_spec,
    derive = "Default",
    derive = "PartialEq",
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct CustomizerFields {
    /// Keyed by `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["path"]))]
    pub replacements: Option<Vec<Replacement>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Replacement {
    /// A JSONPath to the place to replace or create, e.g.
    /// `$.spec.template.spec.containers.0.env.0.value`.
    pub path: String,
    /// The new value as JSON text, e.g. `'"env is %(env)"'` for a string.
    pub value: String,
}
