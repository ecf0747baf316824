//! The Rust types (from k8s-openapi) of the built-in kinds, for what needs the type rather
//! than the JSON: OpenAPI schemas, and decoding a body the way the apiserver's typed
//! decoder does (a ConfigMap whose data holds a number is refused, not stored).

use k8s_openapi::api;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// Something done with one built-in type.
pub(super) trait TypeVisitor {
    fn visit<T: JsonSchema + DeserializeOwned>(&mut self);
}

/// Calls `visitor` with the type of a built-in kind; false when the kind has none here.
pub(super) fn visit(group: &str, kind: &str, visitor: &mut impl TypeVisitor) -> bool {
    macro_rules! kinds {
        ($($g:literal, $k:literal => $t:ty;)*) => {
            match (group, kind) {
                $(($g, $k) => { visitor.visit::<$t>(); true })*
                _ => false,
            }
        };
    }
    kinds! {
        "", "Namespace" => api::core::v1::Namespace;
        "", "ConfigMap" => api::core::v1::ConfigMap;
        "", "Secret" => api::core::v1::Secret;
        "", "ServiceAccount" => api::core::v1::ServiceAccount;
        "", "Service" => api::core::v1::Service;
        "", "Endpoints" => api::core::v1::Endpoints;
        "", "Event" => api::core::v1::Event;
        "", "Pod" => api::core::v1::Pod;
        "", "Node" => api::core::v1::Node;
        "", "LimitRange" => api::core::v1::LimitRange;
        "", "ResourceQuota" => api::core::v1::ResourceQuota;
        "", "PersistentVolumeClaim" => api::core::v1::PersistentVolumeClaim;
        "", "PersistentVolume" => api::core::v1::PersistentVolume;
        "events.k8s.io", "Event" => api::events::v1::Event;
        "apps", "Deployment" => api::apps::v1::Deployment;
        "apps", "ReplicaSet" => api::apps::v1::ReplicaSet;
        "apps", "StatefulSet" => api::apps::v1::StatefulSet;
        "apps", "DaemonSet" => api::apps::v1::DaemonSet;
        "apps", "ControllerRevision" => api::apps::v1::ControllerRevision;
        "batch", "Job" => api::batch::v1::Job;
        "batch", "CronJob" => api::batch::v1::CronJob;
        "autoscaling", "HorizontalPodAutoscaler" => api::autoscaling::v1::HorizontalPodAutoscaler;
        "policy", "PodDisruptionBudget" => api::policy::v1::PodDisruptionBudget;
        "networking.k8s.io", "Ingress" => api::networking::v1::Ingress;
        "networking.k8s.io", "NetworkPolicy" => api::networking::v1::NetworkPolicy;
        "networking.k8s.io", "IngressClass" => api::networking::v1::IngressClass;
        "rbac.authorization.k8s.io", "Role" => api::rbac::v1::Role;
        "rbac.authorization.k8s.io", "RoleBinding" => api::rbac::v1::RoleBinding;
        "rbac.authorization.k8s.io", "ClusterRole" => api::rbac::v1::ClusterRole;
        "rbac.authorization.k8s.io", "ClusterRoleBinding" => api::rbac::v1::ClusterRoleBinding;
        "coordination.k8s.io", "Lease" => api::coordination::v1::Lease;
        "scheduling.k8s.io", "PriorityClass" => api::scheduling::v1::PriorityClass;
        "storage.k8s.io", "StorageClass" => api::storage::v1::StorageClass;
        "admissionregistration.k8s.io", "ValidatingWebhookConfiguration" => api::admissionregistration::v1::ValidatingWebhookConfiguration;
        "admissionregistration.k8s.io", "MutatingWebhookConfiguration" => api::admissionregistration::v1::MutatingWebhookConfiguration;
        "apiextensions.k8s.io", "CustomResourceDefinition" => k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        "apiregistration.k8s.io", "APIService" => k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
    }
}
