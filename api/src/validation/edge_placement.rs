//! EdgePlacement validation: every problem, each with its field path.

use super::{FieldError, FieldErrors, FieldPath, names};
use crate::downsync::PlacementMatcher;
use crate::selector;
use crate::types::EdgePlacement;

/// Checks an EdgePlacement as the space server does before storing it and as the
/// controllers do before acting on it. Returns all problems at once (empty = valid).
pub fn validate_edge_placement(ep: &EdgePlacement) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let meta = FieldPath::new("metadata");
    match (&ep.metadata.name, &ep.metadata.generate_name) {
        (Some(name), _) => {
            for msg in names::dns1123_subdomain(name) {
                errs.push(FieldError::invalid(meta.child("name"), name, msg));
            }
        }
        (None, Some(_)) => {}
        (None, None) => errs.push(FieldError::required(meta.child("name"), "name or generateName is required")),
    }
    if let Some(ns) = &ep.metadata.namespace {
        errs.push(FieldError::invalid(
            meta.child("namespace"),
            ns,
            "EdgePlacement is cluster-scoped: omit the namespace",
        ));
    }
    let spec = FieldPath::new("spec");
    if let Err(e) = selector::compile_all(
        ep.spec.location_selectors.as_deref().unwrap_or_default(),
        &spec.child("locationSelectors"),
    ) {
        errs.extend(e);
    }
    if let Err(e) = PlacementMatcher::new(&ep.spec, &spec) {
        errs.extend(e);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ep(v: serde_json::Value) -> EdgePlacement {
        let mut obj = json!({"apiVersion": "edge.kubestellar.io/v2alpha1", "kind": "EdgePlacement"});
        if let (Some(o), Some(extra)) = (obj.as_object_mut(), v.as_object()) {
            o.extend(extra.clone());
        }
        serde_json::from_value(obj).expect("EdgePlacement literal")
    }

    #[test]
    fn valid_placements_pass() {
        let table = [
            json!({"metadata": {"name": "p"}, "spec": {}}),
            json!({"metadata": {"generateName": "p-"}, "spec": {"locationSelectors": [{}]}}),
            json!({"metadata": {"name": "edge-placement-c"}, "spec": {
                "locationSelectors": [{"matchLabels": {"env": "prod"}}],
                "downsync": [
                    {"apiGroup": "", "resources": ["configmaps"], "namespaces": ["commonstuff"], "objectNames": ["*"]},
                    {"apiGroup": "apps", "resources": ["replicasets"], "namespaceSelectors": [{"matchLabels": {"special": "yes"}}]},
                    {"apiGroup": "apiregistration.k8s.io", "resources": ["apiservices"], "objectNames": ["v1090.example.my"]},
                    {"labelSelectors": [{"matchExpressions": [{"key": "app", "operator": "Exists"}]}], "createOnly": true, "statusCollectors": ["count"]}
                ],
                "wantSingletonReportedState": true,
                "upsync": [{"apiGroup": "group1.test", "resources": ["sprockets"], "namespaces": ["orbital"], "names": ["george"]}]
            }}),
        ];
        for v in table {
            let errs = validate_edge_placement(&ep(v.clone()));
            assert!(errs.is_empty(), "{v}: {errs}");
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let bad = ep(json!({
            "metadata": {"name": "Bad_Name", "namespace": "default"},
            "spec": {
                "locationSelectors": [{"matchLabels": {"env": "prod"}}, {"matchExpressions": [{"key": "env", "operator": "Like"}]}],
                "downsync": [
                    {},
                    {"apiGroup": "*", "resources": ["Deployments", "*"], "namespaces": ["NS"], "objectNames": [""]},
                    {"namespaceSelectors": [{"matchExpressions": [{"key": "a", "operator": "In"}]}],
                     "labelSelectors": [{"matchLabels": {"k": "bad value"}}],
                     "statusCollectors": ["c", "c", "Not_OK"]}
                ],
                "upsync": [{"apiGroup": "g.io", "resources": []}]
            }
        }));
        let got: Vec<String> = validate_edge_placement(&bad).iter().map(ToString::to_string).collect();
        let wants = [
            "metadata.name: Invalid value: \"Bad_Name\"",
            "metadata.namespace: Invalid value: \"default\": EdgePlacement is cluster-scoped",
            "spec.locationSelectors[1].matchExpressions[0].operator: Unsupported value: \"Like\"",
            "spec.downsync[0]: Required value: a downsync test must give at least one of",
            "spec.downsync[1].apiGroup: Invalid value: \"*\": apiGroup has no wildcard",
            "spec.downsync[1].resources[0]: Invalid value: \"Deployments\": must be a lowercase plural resource name",
            "spec.downsync[1].namespaces[0]: Invalid value: \"NS\"",
            "spec.downsync[1].objectNames[0]: Invalid value: \"\": must not be empty",
            "spec.downsync[2].namespaceSelectors[0].matchExpressions[0].values: Required value",
            "spec.downsync[2].labelSelectors[0].matchLabels[k]: Invalid value: \"bad value\"",
            "spec.downsync[2].statusCollectors[1]: Duplicate value: \"c\"",
            "spec.downsync[2].statusCollectors[2]: Invalid value: \"Not_OK\"",
            "spec.upsync[0].resources: Required value",
        ];
        assert_eq!(got.len(), wants.len(), "{got:#?}");
        for (g, w) in got.iter().zip(wants) {
            assert!(g.starts_with(w), "got {g:?}\nwant prefix {w:?}");
        }
    }

    #[test]
    fn a_name_is_required() {
        let got: Vec<String> =
            validate_edge_placement(&ep(json!({"metadata": {}, "spec": {}}))).iter().map(ToString::to_string).collect();
        assert_eq!(got, ["metadata.name: Required value: name or generateName is required"]);
    }
}
