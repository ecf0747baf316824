//! The committed CRDs in `api/crds/` are exactly what the types generate. Regenerate with
//! `cargo run --bin orrery -- crds --out api/crds`.

use orrery_api::crds;
use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn committed_crds_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let mut expected = BTreeSet::new();
    for crd in crds::all() {
        let name = crds::file_name(&crd);
        let want = crds::to_yaml(&crd).expect("CRD serializes");
        let have = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        assert!(
            have == want,
            "api/crds/{name} is stale or missing: run `cargo run --bin orrery -- crds --out api/crds`"
        );
        expected.insert(name);
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("api/crds exists")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    let extra: Vec<_> = present.difference(&expected).collect();
    assert!(extra.is_empty(), "api/crds has files no type generates: {extra:?}");
}

#[test]
fn committed_crds_parse_as_crds() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    for crd in crds::all() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds").join(crds::file_name(&crd));
        let text = std::fs::read_to_string(&path).expect("readable");
        let parsed: CustomResourceDefinition = serde_saphyr::from_str(&text).expect("a CRD");
        assert_eq!(parsed, crd);
    }
}
