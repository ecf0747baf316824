//! Which fields of the built-in kinds merge their lists, and by which key.
//!
//! The apiserver reads this from the `patchStrategy` / `patchMergeKey` struct tags of the Go API
//! types (`staging/src/k8s.io/api/core/v1/types.go`, `apps/v1`, `batch/v1`, `policy/v1`, and
//! `ObjectMeta` in `apimachinery/pkg/apis/meta/v1/types.go`). We have no Go types, so the tags are
//! restated here by hand as a small graph of the Go structs that carry them: a [`Schema`] names
//! one struct, and [`Schema::field`] says how a field of it is patched and which struct its value
//! (or each element of its list) is. The graph is shared by all kinds, so the container rules are
//! written once and hold under `spec` of a Pod, `spec.template.spec` of a Deployment and
//! `spec.jobTemplate.spec.template.spec` of a CronJob alike.
//!
//! Fields not listed get the defaults of strategic merge patch: maps merge recursively, lists are
//! replaced whole. That is also correct for tagged-`retainKeys`-only fields (Deployment
//! `spec.strategy`, the `retainKeys` half of `volumes`): `retainKeys` only tells *clients* to send a
//! `$retainKeys` directive; the server obeys the directive whatever the schema says.
//!
//! When Kubernetes adds a tagged list, add a row to [`Schema::field`] and to the coverage table in
//! the tests.

use super::GroupKind;

/// How one field is patched: the `patchStrategy` (and `patchMergeKey`) tag of its Go field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// No tag: a map merges recursively, a list is replaced by the patch's list.
    Default,
    /// `patchStrategy:"merge"` with `patchMergeKey`: a list of objects merged element by element,
    /// elements matched by this key.
    MergeByKey(&'static str),
    /// `patchStrategy:"merge"` without a key, on a list of primitives: merged as a set.
    MergeSet,
    /// `patchStrategy:"replace"` on a map: the patch's map replaces the current one whole.
    Replace,
}

/// A Go struct whose fields carry patch tags, or [`Schema::Untagged`] for everything below which
/// no field is tagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Schema {
    /// No tagged field at or below this value.
    Untagged,
    /// A top-level object of a kind with no tagged field outside `metadata` (ConfigMap, Secret,
    /// Endpoints, any kind not listed in [`root`]).
    Object,
    /// `metav1.ObjectMeta`.
    ObjectMeta,
    /// `v1.Pod`.
    Pod,
    /// `v1.PodTemplate`.
    PodTemplate,
    /// A top-level object with `spec.template` (a pod template) and `status.conditions`:
    /// Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController.
    Workload,
    /// `batchv1.CronJob`.
    CronJob,
    /// `v1.Service`.
    Service,
    /// `v1.Node`.
    Node,
    /// `v1.ServiceAccount`.
    ServiceAccount,
    /// `policyv1.PodDisruptionBudget`.
    PodDisruptionBudget,
    /// A top-level object whose only tagged list outside `metadata` is `status.conditions`:
    /// Namespace, PersistentVolumeClaim, HorizontalPodAutoscaler.
    WithConditions,
    /// The spec of a [`Schema::Workload`]: `template` is a pod template.
    WorkloadSpec,
    /// `batchv1.CronJobSpec`.
    CronJobSpec,
    /// `batchv1.JobTemplateSpec`.
    JobTemplateSpec,
    /// `v1.PodTemplateSpec`.
    PodTemplateSpec,
    /// `v1.PodSpec`.
    PodSpec,
    /// `v1.Container`, and `v1.EphemeralContainer`, whose tags are the same.
    Container,
    /// `v1.PodStatus`.
    PodStatus,
    /// `v1.ServiceSpec`.
    ServiceSpec,
    /// `v1.NodeSpec`.
    NodeSpec,
    /// `v1.NodeStatus`.
    NodeStatus,
    /// `policyv1.PodDisruptionBudgetSpec`.
    PdbSpec,
    /// A status whose only tagged field is `conditions`, keyed by `type`.
    ConditionsStatus,
}

/// How a field is patched, and the schema of its value (of each element, for a list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) strategy: Strategy,
    pub(crate) schema: Schema,
}

/// The schema of a whole object of this kind. The core group may be given as `""` or `"core"`.
pub(crate) fn root(kind: GroupKind<'_>) -> Schema {
    match (kind.group, kind.kind) {
        ("" | "core", "Pod") => Schema::Pod,
        ("" | "core", "PodTemplate") => Schema::PodTemplate,
        ("" | "core", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => Schema::Workload,
        ("batch", "CronJob") => Schema::CronJob,
        ("" | "core", "Service") => Schema::Service,
        ("" | "core", "Node") => Schema::Node,
        ("" | "core", "ServiceAccount") => Schema::ServiceAccount,
        ("" | "core", "Namespace" | "PersistentVolumeClaim") | ("autoscaling", "HorizontalPodAutoscaler") => {
            Schema::WithConditions
        }
        ("policy", "PodDisruptionBudget") => Schema::PodDisruptionBudget,
        _ => Schema::Object,
    }
}

impl Schema {
    /// The tag of field `name` of this struct. Unknown fields, and every field of
    /// [`Schema::Untagged`], get [`Strategy::Default`].
    pub(crate) fn field(self, name: &str) -> Field {
        use Schema::*;
        use Strategy::{MergeByKey, MergeSet, Replace};
        let (strategy, schema) = match (self, name) {
            (
                Object | Pod | PodTemplate | Workload | CronJob | Service | Node | ServiceAccount | PodDisruptionBudget
                | WithConditions,
                "metadata",
            )
            | (PodTemplateSpec | JobTemplateSpec, "metadata") => (Strategy::Default, ObjectMeta),
            // metav1.ObjectMeta
            (ObjectMeta, "finalizers") => (MergeSet, Untagged),
            (ObjectMeta, "ownerReferences") => (MergeByKey("uid"), Untagged),
            // Where pod templates live.
            (Pod, "spec") | (PodTemplateSpec, "spec") => (Strategy::Default, PodSpec),
            (Pod, "status") => (Strategy::Default, PodStatus),
            (PodTemplate, "template") | (WorkloadSpec, "template") => (Strategy::Default, PodTemplateSpec),
            (Workload, "spec") | (JobTemplateSpec, "spec") => (Strategy::Default, WorkloadSpec),
            (CronJob, "spec") => (Strategy::Default, CronJobSpec),
            (CronJobSpec, "jobTemplate") => (Strategy::Default, JobTemplateSpec),
            // v1.PodSpec
            (PodSpec, "containers" | "initContainers" | "ephemeralContainers") => (MergeByKey("name"), Container),
            (PodSpec, "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims") => {
                (MergeByKey("name"), Untagged)
            }
            (PodSpec, "hostAliases") => (MergeByKey("ip"), Untagged),
            (PodSpec, "topologySpreadConstraints") => (MergeByKey("topologyKey"), Untagged),
            // v1.Container / v1.EphemeralContainerCommon
            (Container, "env") => (MergeByKey("name"), Untagged),
            (Container, "ports") => (MergeByKey("containerPort"), Untagged),
            (Container, "volumeMounts") => (MergeByKey("mountPath"), Untagged),
            (Container, "volumeDevices") => (MergeByKey("devicePath"), Untagged),
            // Statuses
            (Workload | Service | PodDisruptionBudget | WithConditions, "status") => {
                (Strategy::Default, ConditionsStatus)
            }
            (PodStatus | NodeStatus | ConditionsStatus, "conditions") => (MergeByKey("type"), Untagged),
            (PodStatus, "podIPs" | "hostIPs") => (MergeByKey("ip"), Untagged),
            (PodStatus, "resourceClaimStatuses") => (MergeByKey("name"), Untagged),
            // v1.Service
            (Service, "spec") => (Strategy::Default, ServiceSpec),
            (ServiceSpec, "ports") => (MergeByKey("port"), Untagged),
            // v1.Node
            (Node, "spec") => (Strategy::Default, NodeSpec),
            (Node, "status") => (Strategy::Default, NodeStatus),
            (NodeSpec, "podCIDRs") => (MergeSet, Untagged),
            (NodeStatus, "addresses") => (MergeByKey("type"), Untagged),
            // v1.ServiceAccount
            (ServiceAccount, "secrets") => (MergeByKey("name"), Untagged),
            // policyv1.PodDisruptionBudget
            (PodDisruptionBudget, "spec") => (Strategy::Default, PdbSpec),
            (PdbSpec, "selector") => (Replace, Untagged),
            _ => (Strategy::Default, Untagged),
        };
        Field { strategy, schema }
    }
}

#[cfg(test)]
mod tests {
    use super::{Field, Schema, Strategy, root};
    use crate::patch::GroupKind;

    /// The strategy of the field at a dotted path below the root of `kind`; list elements add no
    /// path segment, as in the Go field path.
    fn lookup(group: &str, kind: &str, path: &str) -> Strategy {
        let mut field = Field { strategy: Strategy::Default, schema: root(GroupKind { group, kind }) };
        for name in path.split('.') {
            field = field.schema.field(name);
        }
        field.strategy
    }

    #[test]
    fn coverage() {
        use Strategy::*;
        let pod_paths = [
            ("apps", "Deployment", "spec.template.spec"),
            ("apps", "ReplicaSet", "spec.template.spec"),
            ("apps", "StatefulSet", "spec.template.spec"),
            ("apps", "DaemonSet", "spec.template.spec"),
            ("batch", "Job", "spec.template.spec"),
            ("batch", "CronJob", "spec.jobTemplate.spec.template.spec"),
            ("", "ReplicationController", "spec.template.spec"),
            ("", "PodTemplate", "template.spec"),
            ("", "Pod", "spec"),
            ("core", "Pod", "spec"),
        ];
        let pod_spec_rows = [
            ("containers", MergeByKey("name")),
            ("initContainers", MergeByKey("name")),
            ("ephemeralContainers", MergeByKey("name")),
            ("containers.env", MergeByKey("name")),
            ("containers.envFrom", Default),
            ("containers.ports", MergeByKey("containerPort")),
            ("containers.volumeMounts", MergeByKey("mountPath")),
            ("containers.volumeDevices", MergeByKey("devicePath")),
            ("initContainers.env", MergeByKey("name")),
            ("ephemeralContainers.volumeMounts", MergeByKey("mountPath")),
            ("containers.args", Default),
            ("volumes", MergeByKey("name")),
            ("imagePullSecrets", MergeByKey("name")),
            ("tolerations", Default),
            ("hostAliases", MergeByKey("ip")),
            ("topologySpreadConstraints", MergeByKey("topologyKey")),
            ("schedulingGates", MergeByKey("name")),
        ];
        for (group, kind, prefix) in pod_paths {
            for (suffix, want) in pod_spec_rows {
                let path = format!("{prefix}.{suffix}");
                assert_eq!(lookup(group, kind, &path), want, "{group}/{kind} {path}");
            }
        }
        let rows = [
            ("apps", "Deployment", "metadata.finalizers", MergeSet),
            ("apps", "Deployment", "metadata.ownerReferences", MergeByKey("uid")),
            ("apps", "Deployment", "spec.template.metadata.finalizers", MergeSet),
            ("batch", "CronJob", "spec.jobTemplate.metadata.ownerReferences", MergeByKey("uid")),
            ("", "ConfigMap", "metadata.finalizers", MergeSet),
            ("example.com", "Widget", "metadata.ownerReferences", MergeByKey("uid")),
            ("example.com", "Widget", "spec.containers", Default),
            ("apps", "Deployment", "status.conditions", MergeByKey("type")),
            ("apps", "StatefulSet", "status.conditions", MergeByKey("type")),
            ("apps", "DaemonSet", "status.conditions", MergeByKey("type")),
            ("apps", "ReplicaSet", "status.conditions", MergeByKey("type")),
            ("batch", "Job", "status.conditions", MergeByKey("type")),
            ("", "Pod", "status.conditions", MergeByKey("type")),
            ("", "Pod", "status.podIPs", MergeByKey("ip")),
            ("", "Pod", "status.containerStatuses", Default),
            ("", "Node", "status.conditions", MergeByKey("type")),
            ("", "Node", "status.addresses", MergeByKey("type")),
            ("", "Node", "spec.podCIDRs", MergeSet),
            ("", "Node", "spec.taints", Default),
            ("", "Namespace", "status.conditions", MergeByKey("type")),
            ("", "PersistentVolumeClaim", "status.conditions", MergeByKey("type")),
            ("", "Service", "spec.ports", MergeByKey("port")),
            ("", "Service", "status.conditions", MergeByKey("type")),
            ("", "ServiceAccount", "secrets", MergeByKey("name")),
            ("", "Endpoints", "subsets", Default),
            ("policy", "PodDisruptionBudget", "spec.selector", Replace),
            ("policy", "PodDisruptionBudget", "status.conditions", MergeByKey("type")),
            ("autoscaling", "HorizontalPodAutoscaler", "status.conditions", MergeByKey("type")),
            ("apps", "Deployment", "spec.strategy", Default),
            ("apps", "StatefulSet", "spec.volumeClaimTemplates", Default),
        ];
        for (group, kind, path, want) in rows {
            assert_eq!(lookup(group, kind, path), want, "{group}/{kind} {path}");
        }
        assert_eq!(Schema::Untagged.field("containers").strategy, Default);
    }
}
