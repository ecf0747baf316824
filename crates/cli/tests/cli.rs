//! The `orrery` binary as a user runs it.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use std::path::Path;
use std::process::{Command, Output};

fn orrery(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orrery")).args(args).output().expect("orrery runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn version_names_the_api() {
    let out = orrery(&["version"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), format!("orrery {} (API edge.kubestellar.io/v2alpha1)\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn crds_prints_every_crd_as_a_yaml_stream() {
    let out = orrery(&["crds"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    let docs: Vec<&str> = text.split("---\n").filter(|d| !d.trim().is_empty()).collect();
    let mut kinds: Vec<String> = docs
        .iter()
        .map(|d| serde_saphyr::from_str::<CustomResourceDefinition>(d).expect("each document is a CRD").spec.names.kind)
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "CombinedStatus",
            "Customizer",
            "EdgePlacement",
            "Location",
            "SinglePlacementSlice",
            "StatusCollector",
            "SyncTarget",
            "SyncerConfig"
        ]
    );
}

#[test]
fn crds_out_writes_the_committed_files_and_removes_stale_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stale = dir.path().join("edge.kubestellar.io_gone.yaml");
    let unrelated = dir.path().join("README.md");
    std::fs::write(&stale, "old").expect("write");
    std::fs::write(&unrelated, "keep me").expect("write");

    let out = orrery(&["crds", "--out", dir.path().to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../api/crds");
    let mut n = 0;
    for entry in std::fs::read_dir(&committed).expect("api/crds") {
        let entry = entry.expect("entry");
        let written = std::fs::read_to_string(dir.path().join(entry.file_name())).expect("file was written");
        assert_eq!(written, std::fs::read_to_string(entry.path()).expect("committed"), "{:?}", entry.file_name());
        n += 1;
    }
    assert_eq!(n, 8);
    assert!(!stale.exists(), "a stale CRD file is removed");
    assert!(unrelated.exists(), "files orrery did not write are left alone");
}

#[test]
fn crds_out_to_an_unwritable_place_fails_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("write");
    let out = orrery(&["crds", "--out", file.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: creating "), "{err}");
}

#[test]
fn unknown_subcommands_are_rejected() {
    let out = orrery(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'frobnicate'"));
}
