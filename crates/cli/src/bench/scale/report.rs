//! What a scale run reports: one JSON line (for scripts and docs/benchmarks.md) and a
//! table for people. Pure: built from the timeline and the readings.

use super::timeline::{Stage, Timeline};
use crate::bench::common::{percentile, round};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A distribution over WECs (or update samples), in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    /// From sorted samples in seconds; all zero for none.
    pub fn of_seconds(sorted: &[f64]) -> Self {
        let ms = |p: f64| round(percentile(sorted, p) * 1000.0, 1);
        Self { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: ms(1.0) }
    }
}

/// Readings of the processes, taken by the run.
#[derive(Clone, Debug, Default)]
pub struct Readings {
    pub setup_s: f64,
    pub converge_s: f64,
    pub center_cpu_s: f64,
    pub wec_server_cpu_s: f64,
    pub bench_cpu_s: f64,
    pub center_peak_rss_mib: f64,
    pub wec_server_peak_rss_mib: f64,
    pub syncer_rss_kib: f64,
    pub store_mib: f64,
    /// Each WEC's latency of each update, in seconds, sorted.
    pub update_samples: Vec<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub wecs: usize,
    pub objects: usize,
    pub placements: usize,
    /// WDS write until the summary in the WDS shows the WEC, per WEC.
    pub e2e_ms: Spread,
    /// WDS write until each stage, per WEC.
    pub stages_ms: BTreeMap<&'static str, Spread>,
    /// WDS write until every WEC's summary is in the WDS.
    pub converge_s: f64,
    pub setup_s: f64,
    /// CPU the center used while converging.
    pub center_cpu_s: f64,
    /// CPU the WEC server used while converging.
    pub wec_server_cpu_s: f64,
    /// CPU the bench process (the syncers, the simulated clusters, the bench's watches)
    /// used while converging.
    pub bench_cpu_s: f64,
    pub center_peak_rss_mib: f64,
    pub wec_server_peak_rss_mib: f64,
    /// The bench process's growth per syncer, from before the syncers until convergence.
    pub syncer_rss_kib: f64,
    /// The center's data directory on disk.
    pub store_mib: f64,
    /// One WDS update until it is applied in each WEC.
    pub update_ms: Spread,
    pub updates: usize,
    pub ok: bool,
    pub problems: Vec<String>,
}

impl Report {
    pub fn new(
        shape: (usize, usize, usize),
        timeline: &Timeline,
        readings: Readings,
        updates: usize,
        problems: Vec<String>,
    ) -> Self {
        let (wecs, objects, placements) = shape;
        let stages_ms = Stage::ALL.iter().map(|&s| (s.key(), Spread::of_seconds(&timeline.per_wec(s)))).collect();
        Self {
            wecs,
            objects,
            placements,
            e2e_ms: Spread::of_seconds(&timeline.per_wec(Stage::Summary)),
            stages_ms,
            converge_s: round(readings.converge_s, 2),
            setup_s: round(readings.setup_s, 1),
            center_cpu_s: round(readings.center_cpu_s, 2),
            wec_server_cpu_s: round(readings.wec_server_cpu_s, 2),
            bench_cpu_s: round(readings.bench_cpu_s, 2),
            center_peak_rss_mib: round(readings.center_peak_rss_mib, 1),
            wec_server_peak_rss_mib: round(readings.wec_server_peak_rss_mib, 1),
            syncer_rss_kib: round(readings.syncer_rss_kib, 1),
            store_mib: round(readings.store_mib, 1),
            update_ms: Spread::of_seconds(&readings.update_samples),
            updates,
            ok: problems.is_empty(),
            problems,
        }
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} WECs × {} objects, {} placement(s)", self.wecs, self.objects, self.placements);
        let _ =
            writeln!(out, "{:<20}{:>10}{:>10}{:>10}{:>10}", "stage (per WEC)", "p50 ms", "p90 ms", "p99 ms", "max ms");
        for stage in Stage::ALL {
            let s = self.stages_ms.get(stage.key()).copied().unwrap_or_default();
            let _ = writeln!(out, "{:<20}{:>10.1}{:>10.1}{:>10.1}{:>10.1}", stage.label(), s.p50, s.p90, s.p99, s.max);
        }
        let u = self.update_ms;
        let _ = writeln!(
            out,
            "{:<20}{:>10.1}{:>10.1}{:>10.1}{:>10.1}   ({} updates)",
            "update → all WECs", u.p50, u.p90, u.p99, u.max, self.updates
        );
        let _ = writeln!(out, "converged in {:.2} s (setup took {:.1} s)", self.converge_s, self.setup_s);
        let _ = writeln!(
            out,
            "center: {:.2} s CPU while converging, peak RSS {:.1} MiB, store {:.1} MiB on disk",
            self.center_cpu_s, self.center_peak_rss_mib, self.store_mib
        );
        let _ = writeln!(
            out,
            "WEC side: server peak RSS {:.1} MiB, about {:.0} KiB per syncer",
            self.wec_server_peak_rss_mib, self.syncer_rss_kib
        );
        let _ = writeln!(
            out,
            "CPU while converging: {:.2} s in all (center {:.2} s, WEC server {:.2} s, syncers and bench {:.2} s)",
            self.center_cpu_s + self.wec_server_cpu_s + self.bench_cpu_s,
            self.center_cpu_s,
            self.wec_server_cpu_s,
            self.bench_cpu_s
        );
        if self.ok {
            let _ = writeln!(out, "check: ok");
        } else {
            let _ = writeln!(out, "check: FAILED");
            for p in &self.problems {
                let _ = writeln!(out, "  - {p}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_are_nearest_rank_in_milliseconds() {
        let samples: Vec<f64> = (1..=100).map(|i| f64::from(i) / 1000.0).collect();
        let cases: &[(&[f64], Spread)] = &[
            (&[], Spread::default()),
            (&[0.25], Spread { p50: 250.0, p90: 250.0, p99: 250.0, max: 250.0 }),
            (&samples, Spread { p50: 51.0, p90: 90.0, p99: 99.0, max: 100.0 }),
        ];
        for (input, want) in cases {
            assert_eq!(Spread::of_seconds(input), *want, "{input:?}");
        }
    }

    #[test]
    fn a_report_is_ok_only_without_problems_and_says_why_not() {
        let mut timeline = Timeline::new(3, 1);
        for (wec, t) in [(0, 0.5), (1, 1.5), (2, 1.0)] {
            for stage in Stage::ALL {
                timeline.record(stage, wec, 0, t);
            }
        }
        let readings = Readings {
            converge_s: 1.5,
            center_cpu_s: 1.25,
            wec_server_cpu_s: 0.5,
            bench_cpu_s: 1.0,
            update_samples: vec![0.1, 0.2],
            ..Default::default()
        };
        let ok = Report::new((3, 1, 1), &timeline, readings.clone(), 1, vec![]);
        assert!(ok.ok);
        assert_eq!(ok.e2e_ms.max, 1500.0);
        assert_eq!(ok.stages_ms["copies_ms"].p50, 1000.0);
        assert_eq!(ok.update_ms.max, 200.0);
        assert!(ok.table().contains("check: ok"));
        assert!(
            ok.table().contains("2.75 s in all (center 1.25 s, WEC server 0.50 s, syncers and bench 1.00 s)"),
            "{}",
            ok.table()
        );
        let json = serde_json::to_value(&ok).expect("json");
        for key in ["wecs", "objects", "e2e_ms", "converge_s", "center_peak_rss_mib", "update_ms", "ok"] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        for (key, want) in [("center_cpu_s", 1.25), ("wec_server_cpu_s", 0.5), ("bench_cpu_s", 1.0)] {
            assert_eq!(json.get(key).and_then(serde_json::Value::as_f64), Some(want), "{key} in {json}");
        }
        let failed = Report::new((3, 1, 1), &timeline, readings, 1, vec!["wec2 has 0 of 1 objects".into()]);
        assert!(!failed.ok);
        assert!(failed.table().contains("FAILED") && failed.table().contains("wec2 has 0 of 1 objects"));
    }
}
