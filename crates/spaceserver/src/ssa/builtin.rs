//! List and map types of the built-in kinds, restated from the `+listType`, `+listMapKey`,
//! `+mapType` and `+structType` markers of the Kubernetes API types (`k8s.io/api` core/v1,
//! apps/v1, batch/v1, policy/v1, autoscaling/v2, and ObjectMeta in apimachinery).
//!
//! Only lists that are *not* atomic need a row: atomic is the default, and most lists of the API
//! are atomic (`command`, `args`, `tolerations`, `envFrom`, `containerStatuses`, Job
//! `conditions`). The rows are written relative to the struct that holds the list (a `PodSpec`,
//! a `Container`), so they apply wherever that struct is embedded: `spec` of a Pod,
//! `spec.template.spec` of a Deployment, `spec.jobTemplate.spec.template.spec` of a CronJob.
//!
//! When Kubernetes adds a map- or set-typed list to one of these structs, add it here and to the
//! table test.

use serde_json::Value;

use super::schema::{ListType, ListTypes, MapType, object_meta_is_map_entry, object_meta_list_type};

/// [`ListTypes`] for one built-in kind. Unknown kinds get the `metadata` rules only (every other
/// list atomic), which is also right for kinds such as ConfigMap and Secret that have no lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltinListTypes {
    group: String,
    kind: String,
}

impl BuiltinListTypes {
    /// `api_version` is `v1` or `<group>/<version>`.
    pub fn for_kind(api_version: &str, kind: &str) -> Self {
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        Self { group: group.to_string(), kind: kind.to_string() }
    }

    /// For the kind named by the object's own `apiVersion` and `kind`.
    pub fn for_object(obj: &Value) -> Self {
        let field = |name: &str| obj.get(name).and_then(Value::as_str).unwrap_or("");
        Self::for_kind(field("apiVersion"), field("kind"))
    }

    /// Where this kind embeds a `PodSpec`.
    fn pod_spec_prefix(&self) -> Option<&'static [&'static str]> {
        match (self.group.as_str(), self.kind.as_str()) {
            ("", "Pod") => Some(&["spec"]),
            ("", "PodTemplate") => Some(&["template", "spec"]),
            ("", "ReplicationController")
            | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
            | ("batch", "Job") => Some(&["spec", "template", "spec"]),
            ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
            _ => None,
        }
    }

    /// `path` below an `ObjectMeta`: the object's own, or its pod template's.
    fn meta_rel<'p>(&self, path: &'p [&'p str]) -> Option<&'p [&'p str]> {
        if let ["metadata", rel @ ..] = path {
            return Some(rel);
        }
        let prefix = self.pod_spec_prefix()?;
        let (_, template) = prefix.split_last()?;
        let rest = path.strip_prefix(template)?;
        match rest {
            ["metadata", rel @ ..] if !template.is_empty() => Some(rel),
            _ => None,
        }
    }

    /// `path` below the embedded `PodSpec`.
    fn pod_rel<'p>(&self, path: &'p [&'p str]) -> Option<&'p [&'p str]> {
        path.strip_prefix(self.pod_spec_prefix()?)
    }

    /// Lists outside `metadata` and the pod spec, per kind.
    fn kind_list_type(&self, path: &[&str]) -> ListType {
        let conditions = ListType::map(&["type"]);
        match (self.group.as_str(), self.kind.as_str(), path) {
            ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet", ["status", "conditions"]) => conditions,
            ("", "ReplicationController" | "Namespace" | "PersistentVolumeClaim", ["status", "conditions"]) => {
                conditions
            }
            ("", "Pod", ["status", "conditions"]) => conditions,
            ("", "Pod", ["status", "podIPs"]) => ListType::map(&["ip"]),
            ("", "Pod", ["status", "resourceClaimStatuses"]) => ListType::map(&["name"]),
            ("", "Service", ["spec", "ports"]) => ListType::map(&["port", "protocol"]),
            ("", "Service", ["status", "conditions"]) => conditions,
            ("", "Node", ["spec", "podCIDRs"]) => ListType::Set,
            ("", "Node", ["status", "conditions" | "addresses"]) => conditions,
            ("", "ServiceAccount", ["secrets"]) => ListType::map(&["name"]),
            ("batch", "Job", ["status", "uncountedTerminatedPods", "succeeded" | "failed"]) => ListType::Set,
            ("policy", "PodDisruptionBudget", ["status", "conditions"]) => conditions,
            ("autoscaling", "HorizontalPodAutoscaler", ["status", "conditions"]) => conditions,
            _ => ListType::Atomic,
        }
    }
}

/// Lists of a `PodSpec` (`rel` is the path below it).
fn pod_spec_list_type(rel: &[&str]) -> ListType {
    match rel {
        ["containers" | "initContainers" | "ephemeralContainers"] => ListType::map(&["name"]),
        ["containers" | "initContainers" | "ephemeralContainers", rest @ ..] => container_list_type(rest),
        ["volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims"] => ListType::map(&["name"]),
        ["hostAliases"] => ListType::map(&["ip"]),
        ["topologySpreadConstraints"] => ListType::map(&["topologyKey", "whenUnsatisfiable"]),
        _ => ListType::Atomic,
    }
}

/// Lists of a `Container` / `EphemeralContainer`.
fn container_list_type(rel: &[&str]) -> ListType {
    match rel {
        ["ports"] => ListType::map(&["containerPort", "protocol"]),
        ["env"] => ListType::map(&["name"]),
        ["volumeMounts"] => ListType::map(&["mountPath"]),
        ["volumeDevices"] => ListType::map(&["devicePath"]),
        ["resources", "claims"] => ListType::map(&["name"]),
        _ => ListType::Atomic,
    }
}

/// Atomic structs and maps of a `PodSpec`: `+mapType=atomic` on `nodeSelector`, and fields whose
/// type is a `+structType=atomic` struct (key selectors, `NodeSelector`, `LabelSelector`).
fn pod_spec_map_type(rel: &[&str]) -> MapType {
    let atomic = match rel {
        ["nodeSelector"] => true,
        ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"] => true,
        ["topologySpreadConstraints", "labelSelector"] => true,
        ["containers" | "initContainers" | "ephemeralContainers", "env", "valueFrom", selector] => {
            matches!(*selector, "configMapKeyRef" | "secretKeyRef" | "fieldRef" | "resourceFieldRef" | "fileKeyRef")
        }
        ["volumes", "downwardAPI", "items", "fieldRef" | "resourceFieldRef"] => true,
        _ => false,
    };
    if atomic { MapType::Atomic } else { MapType::Granular }
}

impl ListTypes for BuiltinListTypes {
    fn list_type(&self, path: &[&str]) -> ListType {
        if let Some(rel) = self.meta_rel(path) {
            return object_meta_list_type(rel);
        }
        if let Some(rel) = self.pod_rel(path) {
            return pod_spec_list_type(rel);
        }
        self.kind_list_type(path)
    }

    fn map_type(&self, path: &[&str]) -> MapType {
        if let Some(rel) = self.pod_rel(path) {
            return pod_spec_map_type(rel);
        }
        // `spec.selector` is a `LabelSelector` (`+structType=atomic`) in the workload kinds and
        // in PodDisruptionBudget; a Service's `spec.selector` is a plain granular map.
        let label_selector = matches!(
            (self.group.as_str(), self.kind.as_str()),
            ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
                | ("batch", "Job")
                | ("policy", "PodDisruptionBudget")
        );
        if label_selector && path == ["spec", "selector"] { MapType::Atomic } else { MapType::Granular }
    }

    fn key_default(&self, path: &[&str], key: &str) -> Option<Value> {
        // `+default="TCP"` on ContainerPort.Protocol and ServicePort.Protocol.
        let is_port_list = match self.pod_rel(path) {
            Some(["containers" | "initContainers" | "ephemeralContainers", "ports"]) => true,
            _ => self.group.is_empty() && self.kind == "Service" && path == ["spec", "ports"],
        };
        (is_port_list && key == "protocol").then(|| Value::String("TCP".to_string()))
    }

    fn is_map_entry(&self, path: &[&str]) -> bool {
        self.meta_rel(path).is_some_and(object_meta_is_map_entry)
    }
}
