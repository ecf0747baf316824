//! What never travels from a workload description space, and what must be applied first.
//!
//! Two layers, both from reference §2.6:
//!
//! - **Per resource** ([`resource_mode`]): KubeStellar v0.14.2's `DefaultResourceModes`
//!   (`pkg/placement/what-resolver.go`), with its `clusterrolebindingss` typo fixed (so
//!   ClusterRoleBindings are "forcibly denatured" like the other RBAC kinds; both modes
//!   travel, so nothing changes for users) and orrery's additions:
//!   - group `coordination.k8s.io` (Leases): leader election and node heartbeats are
//!     per-cluster; a center Lease in a WEC would fight that cluster's own holders;
//!   - `authentication.k8s.io/selfsubjectreviews`: a review, never stored (like the others);
//!   - `storage.k8s.io` `csinodes` and `csistoragecapacities`: written by a cluster's nodes
//!     and CSI drivers about that cluster (KubeStellar 0.2x excludes them too).
//!
//!   KubeStellar 0.2x also excludes core `endpoints`, `discovery.k8s.io`, `apiregistration`
//!   and `flowcontrol`. orrery keeps the kcp era's choice for those: a WDS is inert, so
//!   Endpoints there were written by a user (a selector-less Service), not derived.
//! - **Per object** ([`system_object`]): objects every cluster makes for itself, which the
//!   center's copies would overwrite: the design's ServiceAccount token Secrets, bootstrap
//!   token Secrets, `kube-root-ca.crt` ConfigMaps and `default` ServiceAccounts, plus
//!   orrery's: space-token Secrets (center credentials), the `default/kubernetes` Service
//!   and bootstrap RBAC (`kubernetes.io/bootstrapping: rbac-defaults`, e.g. `cluster-admin`)
//!   that every space is seeded with. A syncer owning a WEC's `cluster-admin` would delete
//!   it when the placement ends.

use crate::object::{label, meta_str};
use orrery_api::keys::{BOOTSTRAPPING, RBAC_DEFAULTS, SPACE_TOKEN_SECRET_TYPE};
use serde_json::Value;
use std::fmt;

/// How far objects of a resource go (KubeStellar's `PropagationMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Copied to mailboxes and applied in WECs.
    GoesToEdge,
    /// Copied to mailboxes only (kcp APIBindings).
    GoesToMailbox,
    /// Stays in the center without complaint.
    TolerateInCenter,
    /// Not supported in a WDS at all (kcp-internal resources); worth an error.
    ErrorInCenter,
}

/// Whether objects of a resource take effect where they are stored (KubeStellar's
/// `NatureMode`). Recorded for the denaturing design; the translator does not act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nature {
    /// Would take effect in the center (RBAC, webhooks…) and so should be denatured there;
    /// an inert WDS never lets them take effect.
    ForciblyDenatured,
    /// Takes effect in both (Namespaces, CRDs).
    NaturedInBoth,
    /// Has no effect in the center (Deployments, ConfigMaps, custom resources…).
    NaturallyDenatured,
}

/// What a resource's objects do, as a pure function of its group and resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceMode {
    pub propagation: Propagation,
    pub nature: Nature,
    /// Built into Kubernetes: the core group, or a group ending in `.k8s.io`.
    pub builtin: bool,
}

impl ResourceMode {
    /// Whether the translator copies such objects into mailboxes.
    pub fn to_mailbox(&self) -> bool {
        matches!(self.propagation, Propagation::GoesToEdge | Propagation::GoesToMailbox)
    }

    /// Whether syncers apply such objects in WECs.
    pub fn to_edge(&self) -> bool {
        self.propagation == Propagation::GoesToEdge
    }
}

const FORCIBLY_DENATURED: &[(&str, &str)] = &[
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("apiregistration.k8s.io", "apiservices"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("", "limitranges"),
    ("", "resourcequotas"),
    ("", "serviceaccounts"),
];

/// Natured in both, and what others depend on: applied first, deleted last.
const ORDERED_FIRST: &[(&str, &str)] = &[("apiextensions.k8s.io", "customresourcedefinitions"), ("", "namespaces")];

const TO_MAILBOX_ONLY: &[(&str, &str)] = &[("apis.kcp.io", "apibindings")];

const NOT_SUPPORTED: &[(&str, &str)] = &[
    ("apiresource.kcp.io", "apiresourceimports"),
    ("apiresource.kcp.io", "negotiatedapiresources"),
    ("apis.kcp.io", "apiconversions"),
];

const GROUPS_NOT_FOR_EDGE: &[&str] = &[
    orrery_api::GROUP,
    "scheduling.kcp.io",
    "tenancy.kcp.io",
    "topology.kcp.io",
    "workload.kcp.io",
    // orrery: Leases are per-cluster coordination.
    "coordination.k8s.io",
];

const NOT_FOR_EDGE: &[(&str, &str)] = &[
    ("apis.kcp.io", "apiexports"),
    ("apis.kcp.io", "apiexportendpointslices"),
    ("apis.kcp.io", "apiresourceschemas"),
    ("apps", "controllerrevisions"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("certificates.k8s.io", "certificatesigningrequests"),
    ("core.kcp.io", "logicalclusters"),
    ("core.kcp.io", "shards"),
    ("events.k8s.io", "events"),
    ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "csistoragecapacities"),
    ("", "bindings"),
    ("", "componentstatuses"),
    ("", "events"),
    ("", "nodes"),
];

fn listed(table: &[(&str, &str)], group: &str, resource: &str) -> bool {
    table.iter().any(|&(g, r)| g == group && r == resource)
}

/// The mode of resource `resource` (plural, lower case) in API group `group` (`""` for
/// core). Everything not listed — Deployments, ConfigMaps, Secrets, custom resources —
/// goes to the edge.
pub fn resource_mode(group: &str, resource: &str) -> ResourceMode {
    let builtin = group.ends_with(".k8s.io") || !group.contains('.');
    let (propagation, nature) = if listed(FORCIBLY_DENATURED, group, resource) {
        (Propagation::GoesToEdge, Nature::ForciblyDenatured)
    } else if listed(ORDERED_FIRST, group, resource) {
        (Propagation::GoesToEdge, Nature::NaturedInBoth)
    } else if listed(TO_MAILBOX_ONLY, group, resource) {
        (Propagation::GoesToMailbox, Nature::NaturedInBoth)
    } else if listed(NOT_SUPPORTED, group, resource) {
        (Propagation::ErrorInCenter, Nature::NaturedInBoth)
    } else if GROUPS_NOT_FOR_EDGE.contains(&group) || listed(NOT_FOR_EDGE, group, resource) {
        (Propagation::TolerateInCenter, Nature::NaturedInBoth)
    } else {
        (Propagation::GoesToEdge, Nature::NaturallyDenatured)
    };
    ResourceMode { propagation, nature, builtin }
}

/// Whether objects of this resource must exist before others can be applied (Namespaces
/// hold namespaced objects; CRDs define custom resources): apply these first, delete them
/// last.
pub fn is_ordered_first(group: &str, resource: &str) -> bool {
    listed(ORDERED_FIRST, group, resource)
}

/// An object every cluster makes for itself, so the center's copy never travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemObject {
    /// A Secret of type `kubernetes.io/service-account-token`.
    ServiceAccountToken,
    /// A Secret of type `bootstrap.kubernetes.io/token`.
    BootstrapToken,
    /// A Secret of type `orrery.io/space-token`: a credential for the center.
    SpaceToken,
    /// The ConfigMap `kube-root-ca.crt` each namespace gets.
    RootCaConfigMap,
    /// The ServiceAccount `default` each namespace gets.
    DefaultServiceAccount,
    /// The Service `default/kubernetes` of the API server.
    KubernetesService,
    /// RBAC that the API server bootstraps (`kubernetes.io/bootstrapping: rbac-defaults`).
    BootstrapRbac,
    /// A CRD defining a resource that never travels (orrery's own `edge.kubestellar.io`
    /// kinds, which every space is seeded with): its objects could not go anyway, and a
    /// WEC has its own if it wants them.
    ControlPlaneCrd,
}

impl fmt::Display for SystemObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SystemObject::ServiceAccountToken => "a service-account token Secret, which each cluster issues itself",
            SystemObject::BootstrapToken => "a bootstrap token Secret, which belongs to the cluster it is in",
            SystemObject::SpaceToken => "an orrery space token, a credential for the center that must not leave it",
            SystemObject::RootCaConfigMap => "the kube-root-ca.crt ConfigMap, which each cluster publishes itself",
            SystemObject::DefaultServiceAccount => "the default ServiceAccount, which each cluster creates itself",
            SystemObject::KubernetesService => "the default/kubernetes Service of the API server",
            SystemObject::BootstrapRbac => {
                "bootstrap RBAC (kubernetes.io/bootstrapping=rbac-defaults) of the API server"
            }
            SystemObject::ControlPlaneCrd => "the definition of a resource that never leaves the center",
        })
    }
}

/// Which system object `object` (of `group`/`resource`) is, if it is one.
pub fn system_object(group: &str, resource: &str, object: &Value) -> Option<SystemObject> {
    let name = meta_str(object, "name");
    match (group, resource) {
        ("", "secrets") => match object.get("type").and_then(Value::as_str) {
            Some("kubernetes.io/service-account-token") => Some(SystemObject::ServiceAccountToken),
            Some("bootstrap.kubernetes.io/token") => Some(SystemObject::BootstrapToken),
            Some(t) if t == SPACE_TOKEN_SECRET_TYPE => Some(SystemObject::SpaceToken),
            _ => None,
        },
        ("", "configmaps") if name == Some("kube-root-ca.crt") => Some(SystemObject::RootCaConfigMap),
        ("", "serviceaccounts") if name == Some("default") => Some(SystemObject::DefaultServiceAccount),
        ("", "services") if name == Some("kubernetes") && meta_str(object, "namespace") == Some("default") => {
            Some(SystemObject::KubernetesService)
        }
        ("rbac.authorization.k8s.io", "clusterroles" | "clusterrolebindings" | "roles" | "rolebindings")
            if label(object, BOOTSTRAPPING) == Some(RBAC_DEFAULTS) =>
        {
            Some(SystemObject::BootstrapRbac)
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            let spec = object.get("spec")?;
            let group = spec.get("group")?.as_str()?;
            let plural = spec.get("names")?.get("plural")?.as_str()?;
            let travels = matches!(
                resource_mode(group, plural).propagation,
                Propagation::GoesToEdge | Propagation::GoesToMailbox
            );
            (!travels).then_some(SystemObject::ControlPlaneCrd)
        }
        _ => None,
    }
}

/// Why an object does not go into mailboxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusion {
    /// Its resource never leaves the center ([`Propagation::TolerateInCenter`]).
    Resource,
    /// Its resource is not supported in a WDS ([`Propagation::ErrorInCenter`]).
    Unsupported,
    /// It is a [`SystemObject`].
    System(SystemObject),
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::Resource => f.write_str("objects of this resource belong to the cluster they are in"),
            Exclusion::Unsupported => f.write_str("objects of this resource are not supported in a workload space"),
            Exclusion::System(s) => write!(f, "it is {s}"),
        }
    }
}

/// `None` when `object` (of `group`/`resource`) goes into mailboxes, else why not.
pub fn exclusion(group: &str, resource: &str, object: &Value) -> Option<Exclusion> {
    match resource_mode(group, resource).propagation {
        Propagation::TolerateInCenter => Some(Exclusion::Resource),
        Propagation::ErrorInCenter => Some(Exclusion::Unsupported),
        Propagation::GoesToEdge | Propagation::GoesToMailbox => {
            system_object(group, resource, object).map(Exclusion::System)
        }
    }
}

#[cfg(test)]
mod tests;
