//! The CustomResourceDefinitions of every orrery kind, generated from the Rust types.
//!
//! `orrery crds --out api/crds` writes them; a test keeps the committed files equal to what
//! the code generates, so the YAML users apply never drifts from the types.

use crate::types::{
    CombinedStatus, Customizer, EdgePlacement, Location, SinglePlacementSlice, StatusCollector, SyncTarget,
    SyncerConfig,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{CustomResourceDefinition, JSON};
use kube::CustomResourceExt;

/// Every CRD, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        CombinedStatus::crd(),
        Customizer::crd(),
        EdgePlacement::crd(),
        Location::crd(),
        SinglePlacementSlice::crd(),
        StatusCollector::crd(),
        SyncerConfig::crd(),
        SyncTarget::crd(),
    ];
    crds.iter_mut().for_each(default_spec_to_empty);
    crds
}

/// Gives `spec` a default of `{}`. KubeStellar's clients (and kubectl users following its
/// docs) create SyncTargets and Locations with no `spec`; with this default the API server
/// fills it in, so every reader, including typed Rust clients, sees the same object.
fn default_spec_to_empty(crd: &mut CustomResourceDefinition) {
    let spec = crd
        .spec
        .versions
        .iter_mut()
        .filter_map(|v| v.schema.as_mut()?.open_api_v3_schema.as_mut()?.properties.as_mut()?.get_mut("spec"));
    for s in spec {
        s.default = Some(JSON(serde_json::json!({})));
    }
}

/// The file a CRD is written to: `<group>_<plural>.yaml`, as controller-gen names them.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// A CRD as the YAML document that is committed and applied.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    serde_saphyr::to_string(crd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_scopes_and_shortnames_are_kubestellars() {
        let table = [
            ("edgeplacements", "EdgePlacement", "Cluster", vec!["epl"]),
            ("singleplacementslices", "SinglePlacementSlice", "Cluster", vec!["sps"]),
            ("customizers", "Customizer", "Namespaced", vec![]),
            ("syncerconfigs", "SyncerConfig", "Cluster", vec!["escfg"]),
            ("locations", "Location", "Cluster", vec![]),
            ("synctargets", "SyncTarget", "Cluster", vec![]),
            ("statuscollectors", "StatusCollector", "Cluster", vec!["sc"]),
            ("combinedstatuses", "CombinedStatus", "Namespaced", vec!["cs"]),
        ];
        let crds = all();
        assert_eq!(crds.len(), table.len());
        for (plural, kind, scope, short) in table {
            let crd = crds.iter().find(|c| c.spec.names.plural == plural).expect(plural);
            assert_eq!(crd.metadata.name.as_deref(), Some(format!("{plural}.edge.kubestellar.io").as_str()));
            assert_eq!(crd.spec.group, "edge.kubestellar.io");
            assert_eq!(crd.spec.names.kind, kind);
            assert_eq!(crd.spec.scope, scope, "{kind}");
            assert_eq!(crd.spec.names.short_names.clone().unwrap_or_default(), short, "{kind}");
            assert_eq!(crd.spec.versions.len(), 1);
            assert_eq!(crd.spec.versions[0].name, "v2alpha1");
        }
    }

    #[test]
    fn top_level_fields_have_no_spec_wrapper() {
        for (plural, field) in [
            ("singleplacementslices", "destinations"),
            ("customizers", "replacements"),
            ("combinedstatuses", "results"),
        ] {
            let crd = all().into_iter().find(|c| c.spec.names.plural == plural).expect(plural);
            let schema = crd.spec.versions[0].schema.clone().and_then(|s| s.open_api_v3_schema).expect("schema");
            let props = schema.properties.expect("properties");
            assert!(props.contains_key(field), "{plural} lacks top-level {field}");
            assert!(!props.contains_key("spec"), "{plural} must not have spec");
        }
    }
}
