//! The resources a space serves: the built-in kinds every space has, plus the kinds its
//! CustomResourceDefinitions add. Discovery, OpenAPI and request routing all read this.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where `/scale` reads and writes replicas (CRD `subresources.scale`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// A CRD printer column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: Option<String>,
    pub description: Option<String>,
    pub priority: i32,
    pub json_path: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceInfo {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub resource: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub has_status: bool,
    pub scale: Option<ScalePaths>,
    /// The store's resource key, shared by every version (and by `events` in two groups).
    pub storage: String,
    /// The structural schema of a custom resource (`openAPIV3Schema`); `None` for built-ins.
    pub schema: Option<Arc<Value>>,
    pub printer_columns: Vec<PrinterColumn>,
    /// Whether this came from a CRD (strategic merge patch is refused for those).
    pub custom: bool,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn verbs(&self) -> &'static [&'static str] {
        &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    status: bool,
    scale: bool,
    storage: &'static str,
}

const fn b(
    group: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version: "v1",
        resource,
        kind,
        namespaced,
        short,
        all: false,
        status: false,
        scale: false,
        storage: "",
    }
}

impl Builtin {
    const fn all(mut self) -> Self {
        self.all = true;
        self
    }
    const fn status(mut self) -> Self {
        self.status = true;
        self
    }
    const fn scale(mut self) -> Self {
        self.scale = true;
        self
    }
    const fn stored_as(mut self, storage: &'static str) -> Self {
        self.storage = storage;
        self
    }
}

/// Every built-in resource. Nothing acts on these (no scheduler, no kubelet): they are
/// stored and served, which is what a workload description space needs.
const BUILTINS: &[Builtin] = &[
    b("", "namespaces", "Namespace", false, &["ns"]).status(),
    b("", "configmaps", "ConfigMap", true, &["cm"]),
    b("", "secrets", "Secret", true, &[]),
    b("", "serviceaccounts", "ServiceAccount", true, &["sa"]),
    b("", "services", "Service", true, &["svc"]).all().status(),
    b("", "endpoints", "Endpoints", true, &["ep"]),
    b("", "events", "Event", true, &["ev"]),
    b("", "pods", "Pod", true, &["po"]).all().status(),
    b("", "nodes", "Node", false, &["no"]).status(),
    b("", "limitranges", "LimitRange", true, &["limits"]),
    b("", "resourcequotas", "ResourceQuota", true, &["quota"]).status(),
    b("", "persistentvolumeclaims", "PersistentVolumeClaim", true, &["pvc"]).status(),
    b("", "persistentvolumes", "PersistentVolume", false, &["pv"]).status(),
    b("events.k8s.io", "events", "Event", true, &["ev"]).stored_as("core/events"),
    b("apps", "deployments", "Deployment", true, &["deploy"]).all().status().scale(),
    b("apps", "replicasets", "ReplicaSet", true, &["rs"]).all().status().scale(),
    b("apps", "statefulsets", "StatefulSet", true, &["sts"]).all().status().scale(),
    b("apps", "daemonsets", "DaemonSet", true, &["ds"]).all().status(),
    b("apps", "controllerrevisions", "ControllerRevision", true, &[]),
    b("batch", "jobs", "Job", true, &[]).all().status(),
    b("batch", "cronjobs", "CronJob", true, &["cj"]).all().status(),
    b("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, &["hpa"]).all().status(),
    b("policy", "poddisruptionbudgets", "PodDisruptionBudget", true, &["pdb"]).status(),
    b("networking.k8s.io", "ingresses", "Ingress", true, &["ing"]).status(),
    b("networking.k8s.io", "networkpolicies", "NetworkPolicy", true, &["netpol"]),
    b("networking.k8s.io", "ingressclasses", "IngressClass", false, &[]),
    b("rbac.authorization.k8s.io", "roles", "Role", true, &[]),
    b("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", true, &[]),
    b("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", false, &[]),
    b("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", false, &[]),
    b("coordination.k8s.io", "leases", "Lease", true, &[]),
    b("scheduling.k8s.io", "priorityclasses", "PriorityClass", false, &["pc"]),
    b("storage.k8s.io", "storageclasses", "StorageClass", false, &["sc"]),
    b("apiregistration.k8s.io", "apiservices", "APIService", false, &[]).status(),
    b("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", false, &["crd", "crds"])
        .status(),
    b("admissionregistration.k8s.io", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false, &[]),
    b("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false, &[]),
];

/// The storage key of a CRD-defined resource (all versions share it).
pub fn custom_storage(group: &str, plural: &str) -> String {
    format!("{group}/{plural}")
}

fn builtin_info(bi: &Builtin) -> ResourceInfo {
    let storage = if bi.storage.is_empty() {
        format!("{}/{}", if bi.group.is_empty() { "core" } else { bi.group }, bi.resource)
    } else {
        bi.storage.to_owned()
    };
    ResourceInfo {
        group: bi.group.to_owned(),
        version: bi.version.to_owned(),
        resource: bi.resource.to_owned(),
        singular: bi.kind.to_ascii_lowercase(),
        kind: bi.kind.to_owned(),
        namespaced: bi.namespaced,
        short_names: bi.short.iter().map(|s| (*s).to_owned()).collect(),
        categories: if bi.all { vec!["all".to_owned()] } else { vec![] },
        has_status: bi.status,
        scale: bi.scale.then(|| ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: Some(".status.selector".into()),
        }),
        storage,
        schema: None,
        printer_columns: Vec::new(),
        custom: false,
    }
}

/// The resources served in one space, by group, version and plural. Spaces that serve the
/// same ones (every mailbox) share one map; a space's own CRD copies it on write.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    by_gvr: Arc<BTreeMap<(String, String, String), Arc<ResourceInfo>>>,
}

/// The built-ins' infos, made once: every space serves the same ones, so 10,000 spaces
/// share one copy.
static BUILTIN_INFOS: std::sync::LazyLock<Vec<Arc<ResourceInfo>>> =
    std::sync::LazyLock::new(|| BUILTINS.iter().map(|bi| Arc::new(builtin_info(bi))).collect());

impl Resources {
    /// The built-ins, plus `extra` (the root space's Space kind, the APIs a space binds).
    pub fn builtin(extra: &[Arc<ResourceInfo>]) -> Self {
        let mut r = Self::default();
        for info in BUILTIN_INFOS.iter().chain(extra) {
            r.insert_shared(info.clone());
        }
        r
    }

    /// Inserts an info other spaces may share.
    pub fn insert_shared(&mut self, info: Arc<ResourceInfo>) {
        Arc::make_mut(&mut self.by_gvr).insert((info.group.clone(), info.version.clone(), info.resource.clone()), info);
    }

    pub fn get(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceInfo>> {
        self.by_gvr.get(&(group.to_owned(), version.to_owned(), resource.to_owned())).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<ResourceInfo>> {
        self.by_gvr.values()
    }

    /// The groups with their versions, in a stable order (core first).
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (g, v, _) in self.by_gvr.keys() {
            let versions = out.entry(g.clone()).or_default();
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
        out
    }

    /// Every distinct storage key of namespaced resources (what namespace deletion empties).
    pub fn namespaced_storages(&self) -> Vec<String> {
        let mut out: Vec<String> = self.iter().filter(|r| r.namespaced).map(|r| r.storage.clone()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every distinct storage key (what deleting a space empties).
    pub fn storages(&self) -> Vec<String> {
        let mut out: Vec<String> = self.iter().map(|r| r.storage.clone()).collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_have_kubernetes_names() {
        let r = Resources::builtin(&[]);
        let deploy = r.get("apps", "v1", "deployments").expect("deployments");
        assert_eq!(
            (deploy.kind.as_str(), deploy.namespaced, deploy.storage.as_str()),
            ("Deployment", true, "apps/deployments")
        );
        assert!(deploy.scale.is_some() && deploy.has_status);
        assert_eq!(deploy.categories, ["all"]);
        let ns = r.get("", "v1", "namespaces").expect("namespaces");
        assert_eq!((ns.api_version().as_str(), ns.namespaced, ns.storage.as_str()), ("v1", false, "core/namespaces"));
        let ev = r.get("events.k8s.io", "v1", "events").expect("events.k8s.io");
        let core_ev = r.get("", "v1", "events").expect("core events");
        assert_eq!(ev.storage, core_ev.storage, "both event APIs share one storage");
        assert_eq!(r.groups().keys().next().map(String::as_str), Some(""));
        assert!(r.namespaced_storages().contains(&"core/configmaps".to_owned()));
        assert!(!r.namespaced_storages().contains(&"core/namespaces".to_owned()));
    }
}
