//! `orrery bench scale` end to end, small: three real processes (the center, the WEC
//! server, the bench with its syncers), every stage observed per WEC, the updates, the
//! correctness check, the JSON line and the chart.

use orrery_e2e::orrery_bin;
use serde_json::Value;
use std::process::Command;

/// Runs `orrery bench scale` with `args`, JSON and a chart at `plot`; it must succeed.
/// Its stdout and stderr.
fn bench_scale(args: &[&str], plot: &std::path::Path) -> (String, String) {
    let out = Command::new(orrery_bin())
        .args(["bench", "scale"])
        .args(args)
        .args(["--timeout", "120", "--json", "--plot"])
        .arg(plot)
        .output()
        .expect("orrery bench scale");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "exit {:?}; stderr:\n{stderr}", out.status);
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn a_small_scale_run_measures_every_stage_and_checks_the_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plot = dir.path().join("stages.svg");
    let (stdout, stderr) =
        bench_scale(&["--wecs", "3", "--objects", "2", "--placements", "2", "--updates", "2"], &plot);
    let line = stdout.lines().last().expect("a JSON line");
    let report: Value = serde_json::from_str(line).expect("JSON");

    assert_eq!(report["ok"], true, "{report}");
    assert_eq!((report["wecs"].as_u64(), report["objects"].as_u64()), (Some(3), Some(2)));
    let ms = |v: &Value| v.as_f64().expect("a number");
    // Every stage was seen for every WEC, in pipeline order.
    let stages = ["slice_ms", "copies_ms", "applied_ms", "status_ms", "summary_ms"];
    let maxima: Vec<f64> = stages.iter().map(|s| ms(&report["stages_ms"][s]["max"])).collect();
    assert!(maxima.iter().all(|m| *m > 0.0), "{report}");
    assert!(maxima.windows(2).all(|w| w[0] <= w[1]), "stages out of order: {maxima:?}");
    assert_eq!(ms(&report["e2e_ms"]["max"]), maxima[4]);
    // Convergence is when the last WEC's summary arrived (reported to 10 ms).
    assert!((ms(&report["converge_s"]) - maxima[4] / 1000.0).abs() <= 0.01, "{report}");
    assert!(ms(&report["update_ms"]["p99"]) > 0.0, "{report}");
    assert!(ms(&report["center_peak_rss_mib"]) > 0.0 && ms(&report["store_mib"]) > 0.0, "{report}");
    // Each process's CPU while converging; the center's work is the pipeline's.
    assert!(["wec_server_cpu_s", "bench_cpu_s"].iter().all(|k| ms(&report[k]) >= 0.0), "{report}");
    assert!(ms(&report["center_cpu_s"]) > 0.0, "{report}");
    assert!(stderr.contains("CPU while converging:"), "{stderr}");
    // The human table goes to stderr with --json, the chart to its file.
    assert!(stderr.contains("summary in WDS") && stderr.contains("check: ok"), "{stderr}");
    let svg = std::fs::read_to_string(&plot).expect("the chart");
    assert!(svg.starts_with("<svg") && svg.contains("applied in WEC"), "{svg}");
}

#[test]
fn several_sizes_make_one_run_each_and_a_chart_of_latency_against_n() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plot = dir.path().join("scaling.svg");
    let (stdout, _) = bench_scale(&["--wecs", "1,2", "--objects", "1", "--updates", "1"], &plot);
    let reports: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("one JSON line per run")).collect();
    let sizes: Vec<Option<u64>> = reports.iter().map(|r| r["wecs"].as_u64()).collect();
    assert_eq!(sizes, vec![Some(1), Some(2)], "{reports:?}");
    assert!(reports.iter().all(|r| r["ok"] == true && r["e2e_ms"]["p99"].as_f64() > Some(0.0)), "{reports:?}");
    let svg = std::fs::read_to_string(&plot).expect("the chart");
    assert!(svg.contains("WECs (log scale)") && svg.contains("end to end p99"), "{svg}");
    // A line per figure, a point per run on each.
    assert_eq!((svg.matches("<polyline").count(), svg.matches("<circle").count()), (4, 8), "{svg}");
}

#[test]
fn bad_arguments_are_refused_before_anything_starts() {
    for (args, says) in [
        (vec!["--wecs", "0"], "--wecs must be at least 1"),
        (vec!["--wecs", "10,0"], "--wecs must be at least 1"),
        (vec!["--wecs", "10,x"], "invalid value 'x'"),
        (vec!["--wecs", "2", "--objects", "2", "--placements", "3"], "--placements must be between 1 and --objects"),
        (vec!["--wecs", "2", "--heartbeat=-1"], "--heartbeat"),
    ] {
        let out = Command::new(orrery_bin()).args(["bench", "scale"]).args(&args).output().expect("orrery bench scale");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
