use super::*;
use serde_json::json;

#[test]
fn resource_modes() {
    use Nature::*;
    use Propagation::*;
    // (group, resource, propagation, nature, builtin)
    let table: &[(&str, &str, Propagation, Nature, bool)] = &[
        // the default: everything else goes to the edge
        ("apps", "deployments", GoesToEdge, NaturallyDenatured, true),
        ("", "configmaps", GoesToEdge, NaturallyDenatured, true),
        ("", "secrets", GoesToEdge, NaturallyDenatured, true),
        ("", "services", GoesToEdge, NaturallyDenatured, true),
        ("", "endpoints", GoesToEdge, NaturallyDenatured, true),
        ("", "pods", GoesToEdge, NaturallyDenatured, true),
        ("batch", "jobs", GoesToEdge, NaturallyDenatured, true),
        ("discovery.k8s.io", "endpointslices", GoesToEdge, NaturallyDenatured, true),
        ("example.com", "widgets", GoesToEdge, NaturallyDenatured, false),
        ("storage.k8s.io", "storageclasses", GoesToEdge, NaturallyDenatured, true),
        // forcibly denatured (and, with the typo fixed, ClusterRoleBindings too)
        ("rbac.authorization.k8s.io", "clusterroles", GoesToEdge, ForciblyDenatured, true),
        ("rbac.authorization.k8s.io", "clusterrolebindings", GoesToEdge, ForciblyDenatured, true),
        ("rbac.authorization.k8s.io", "roles", GoesToEdge, ForciblyDenatured, true),
        ("rbac.authorization.k8s.io", "rolebindings", GoesToEdge, ForciblyDenatured, true),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", GoesToEdge, ForciblyDenatured, true),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", GoesToEdge, ForciblyDenatured, true),
        ("apiregistration.k8s.io", "apiservices", GoesToEdge, ForciblyDenatured, true),
        ("flowcontrol.apiserver.k8s.io", "flowschemas", GoesToEdge, ForciblyDenatured, true),
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", GoesToEdge, ForciblyDenatured, true),
        ("", "limitranges", GoesToEdge, ForciblyDenatured, true),
        ("", "resourcequotas", GoesToEdge, ForciblyDenatured, true),
        ("", "serviceaccounts", GoesToEdge, ForciblyDenatured, true),
        // natured in both
        ("", "namespaces", GoesToEdge, NaturedInBoth, true),
        ("apiextensions.k8s.io", "customresourcedefinitions", GoesToEdge, NaturedInBoth, true),
        // kcp
        ("apis.kcp.io", "apibindings", GoesToMailbox, NaturedInBoth, false),
        ("apis.kcp.io", "apiconversions", ErrorInCenter, NaturedInBoth, false),
        ("apiresource.kcp.io", "apiresourceimports", ErrorInCenter, NaturedInBoth, false),
        ("apiresource.kcp.io", "negotiatedapiresources", ErrorInCenter, NaturedInBoth, false),
        ("apis.kcp.io", "apiexports", TolerateInCenter, NaturedInBoth, false),
        ("apis.kcp.io", "apiexportendpointslices", TolerateInCenter, NaturedInBoth, false),
        ("apis.kcp.io", "apiresourceschemas", TolerateInCenter, NaturedInBoth, false),
        ("tenancy.kcp.io", "workspaces", TolerateInCenter, NaturedInBoth, false),
        ("scheduling.kcp.io", "placements", TolerateInCenter, NaturedInBoth, false),
        ("topology.kcp.io", "partitions", TolerateInCenter, NaturedInBoth, false),
        ("workload.kcp.io", "synctargets", TolerateInCenter, NaturedInBoth, false),
        ("core.kcp.io", "logicalclusters", TolerateInCenter, NaturedInBoth, false),
        ("core.kcp.io", "shards", TolerateInCenter, NaturedInBoth, false),
        // not for edge
        ("edge.kubestellar.io", "edgeplacements", TolerateInCenter, NaturedInBoth, false),
        ("edge.kubestellar.io", "customizers", TolerateInCenter, NaturedInBoth, false),
        ("edge.kubestellar.io", "combinedstatuses", TolerateInCenter, NaturedInBoth, false),
        ("", "events", TolerateInCenter, NaturedInBoth, true),
        ("events.k8s.io", "events", TolerateInCenter, NaturedInBoth, true),
        ("coordination.k8s.io", "leases", TolerateInCenter, NaturedInBoth, true),
        ("apps", "controllerrevisions", TolerateInCenter, NaturedInBoth, true),
        ("authentication.k8s.io", "tokenreviews", TolerateInCenter, NaturedInBoth, true),
        ("authentication.k8s.io", "selfsubjectreviews", TolerateInCenter, NaturedInBoth, true),
        ("authorization.k8s.io", "subjectaccessreviews", TolerateInCenter, NaturedInBoth, true),
        ("authorization.k8s.io", "localsubjectaccessreviews", TolerateInCenter, NaturedInBoth, true),
        ("authorization.k8s.io", "selfsubjectaccessreviews", TolerateInCenter, NaturedInBoth, true),
        ("authorization.k8s.io", "selfsubjectrulesreviews", TolerateInCenter, NaturedInBoth, true),
        ("certificates.k8s.io", "certificatesigningrequests", TolerateInCenter, NaturedInBoth, true),
        ("storage.k8s.io", "csinodes", TolerateInCenter, NaturedInBoth, true),
        ("storage.k8s.io", "csistoragecapacities", TolerateInCenter, NaturedInBoth, true),
        ("", "bindings", TolerateInCenter, NaturedInBoth, true),
        ("", "componentstatuses", TolerateInCenter, NaturedInBoth, true),
        ("", "nodes", TolerateInCenter, NaturedInBoth, true),
        // the group matters: same resource name elsewhere is ordinary
        ("example.com", "nodes", GoesToEdge, NaturallyDenatured, false),
        ("example.com", "events", GoesToEdge, NaturallyDenatured, false),
        ("apps", "namespaces", GoesToEdge, NaturallyDenatured, true),
    ];
    for &(group, resource, propagation, nature, builtin) in table {
        let mode = resource_mode(group, resource);
        assert_eq!(mode, ResourceMode { propagation, nature, builtin }, "{group}/{resource}");
        assert_eq!(mode.to_mailbox(), matches!(propagation, GoesToEdge | GoesToMailbox), "{group}/{resource}");
        assert_eq!(mode.to_edge(), propagation == GoesToEdge, "{group}/{resource}");
    }
}

#[test]
fn ordered_first() {
    let table = [
        ("", "namespaces", true),
        ("apiextensions.k8s.io", "customresourcedefinitions", true),
        ("apps", "deployments", false),
        ("", "configmaps", false),
        ("example.com", "namespaces", false),
        ("apiextensions.k8s.io", "other", false),
    ];
    for (group, resource, want) in table {
        assert_eq!(is_ordered_first(group, resource), want, "{group}/{resource}");
    }
}

#[test]
fn system_objects_and_exclusions() {
    use SystemObject::*;
    let rbac = "rbac.authorization.k8s.io";
    let bootstrap =
        json!({"metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}}});
    // (group, resource, object, system object, exclusion)
    type Row = (&'static str, &'static str, Value, Option<SystemObject>, Option<Exclusion>);
    let table: Vec<Row> = vec![
        (
            "",
            "secrets",
            json!({"metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"}),
            Some(ServiceAccountToken),
            Some(Exclusion::System(ServiceAccountToken)),
        ),
        (
            "",
            "secrets",
            json!({"metadata": {"name": "bootstrap-token-abc"}, "type": "bootstrap.kubernetes.io/token"}),
            Some(BootstrapToken),
            Some(Exclusion::System(BootstrapToken)),
        ),
        (
            "",
            "secrets",
            json!({"metadata": {"name": "t"}, "type": "orrery.io/space-token"}),
            Some(SpaceToken),
            Some(Exclusion::System(SpaceToken)),
        ),
        ("", "secrets", json!({"metadata": {"name": "s"}, "type": "Opaque"}), None, None),
        ("", "secrets", json!({"metadata": {"name": "s"}}), None, None),
        (
            "",
            "configmaps",
            json!({"metadata": {"name": "kube-root-ca.crt", "namespace": "a"}}),
            Some(RootCaConfigMap),
            Some(Exclusion::System(RootCaConfigMap)),
        ),
        ("", "configmaps", json!({"metadata": {"name": "app-config", "namespace": "a"}}), None, None),
        (
            "",
            "serviceaccounts",
            json!({"metadata": {"name": "default", "namespace": "a"}}),
            Some(DefaultServiceAccount),
            Some(Exclusion::System(DefaultServiceAccount)),
        ),
        ("", "serviceaccounts", json!({"metadata": {"name": "builder", "namespace": "a"}}), None, None),
        (
            "",
            "services",
            json!({"metadata": {"name": "kubernetes", "namespace": "default"}}),
            Some(KubernetesService),
            Some(Exclusion::System(KubernetesService)),
        ),
        ("", "services", json!({"metadata": {"name": "kubernetes", "namespace": "shop"}}), None, None),
        (rbac, "clusterroles", bootstrap.clone(), Some(BootstrapRbac), Some(Exclusion::System(BootstrapRbac))),
        (rbac, "rolebindings", bootstrap.clone(), Some(BootstrapRbac), Some(Exclusion::System(BootstrapRbac))),
        (rbac, "clusterroles", json!({"metadata": {"name": "cluster-admin"}}), None, None),
        (
            rbac,
            "clusterroles",
            json!({"metadata": {"name": "reader", "labels": {"kubernetes.io/bootstrapping": "no"}}}),
            None,
            None,
        ),
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            json!({"metadata": {"name": "edgeplacements.edge.kubestellar.io"},
                   "spec": {"group": "edge.kubestellar.io", "names": {"plural": "edgeplacements"}}}),
            Some(ControlPlaneCrd),
            Some(Exclusion::System(ControlPlaneCrd)),
        ),
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "names": {"plural": "widgets"}}}),
            None,
            None,
        ),
        // the name or type alone is not enough: the resource must match too
        ("example.com", "configmaps", json!({"metadata": {"name": "kube-root-ca.crt"}}), None, None),
        ("example.com", "widgets", bootstrap, None, None),
        // whole resources
        ("", "events", json!({"metadata": {"name": "e"}}), None, Some(Exclusion::Resource)),
        ("coordination.k8s.io", "leases", json!({"metadata": {"name": "l"}}), None, Some(Exclusion::Resource)),
        ("apis.kcp.io", "apiconversions", json!({"metadata": {"name": "c"}}), None, Some(Exclusion::Unsupported)),
        ("apis.kcp.io", "apibindings", json!({"metadata": {"name": "b"}}), None, None),
        ("apps", "deployments", json!({"metadata": {"name": "web"}}), None, None),
        // malformed objects are ordinary, never a panic
        ("", "secrets", json!({"type": 5}), None, None),
        ("", "configmaps", json!(null), None, None),
    ];
    for (group, resource, object, system, excluded) in table {
        assert_eq!(system_object(group, resource, &object), system, "{group}/{resource} {object}");
        assert_eq!(exclusion(group, resource, &object), excluded, "{group}/{resource} {object}");
    }
}

#[test]
fn exclusions_explain_themselves() {
    let e = exclusion("", "configmaps", &json!({"metadata": {"name": "kube-root-ca.crt"}})).map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("it is the kube-root-ca.crt ConfigMap, which each cluster publishes itself"));
    let e = exclusion("", "nodes", &json!({})).map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("objects of this resource belong to the cluster they are in"));
}
