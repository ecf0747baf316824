//! `orrery bench fields`: field tracking timed on its own, one JSON line and a table.

use orrery_e2e::orrery_bin;
use serde_json::Value;
use std::process::Command;

const KINDS: [&str; 4] = ["create_us", "copy_apply_us", "status_update_us", "list_apply_us"];

#[test]
fn every_kind_of_write_is_timed() {
    let out = Command::new(orrery_bin())
        .args(["bench", "fields", "--writes", "20", "--rounds", "3", "--list", "100"])
        .output()
        .expect("orrery bench fields");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}; stderr:\n{stderr}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("JSON");
    assert_eq!(
        (report["writes"].as_u64(), report["rounds"].as_u64(), report["list"].as_u64()),
        (Some(20), Some(3), Some(100))
    );
    for kind in KINDS {
        let (fastest, median) = (report[kind]["fastest"].as_f64(), report[kind]["median"].as_f64());
        assert!(fastest.is_some_and(|f| f > 0.0) && fastest <= median, "{kind}: {report}");
    }
    // A write over a hundred-element list costs more than one over a Deployment.
    assert!(report["list_apply_us"]["fastest"].as_f64() > report["copy_apply_us"]["fastest"].as_f64(), "{report}");
    assert!(stderr.contains("status update") && stderr.contains("list apply"), "{stderr}");
}

#[test]
fn bad_arguments_are_refused() {
    for (args, says) in [
        (["--writes", "0"], "--writes"),
        (["--rounds", "0"], "--rounds"),
        (["--list", "0"], "--list"),
        (["--list", "many"], "invalid value 'many'"),
    ] {
        let out =
            Command::new(orrery_bin()).args(["bench", "fields"]).args(args).output().expect("orrery bench fields");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed a report");
    }
}
