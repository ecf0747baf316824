//! The scale benchmark's chart of latency against N, from one run per N
//! (`--wecs 10,100,1000 --plot FILE.svg`): a line per figure (end-to-end p50 and p99,
//! convergence, update p99) on log-log axes, since N spans decades and so do the seconds.

use super::plot::{AXIS, BOTTOM, Corner, GRID, HEIGHT, LEFT, RIGHT, TOP, WIDTH, colour, escape, legend, num};
use super::report::Report;
use std::fmt::Write;

/// One line of the chart: a figure of every run.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: String,
    /// (WECs, seconds), one per run; points that cannot be on a log axis are left out.
    pub points: Vec<(f64, f64)>,
}

/// The lines of the chart: each run's figures, by N.
pub fn lines(reports: &[Report]) -> Vec<Line> {
    let figure = |label: &str, seconds: &dyn Fn(&Report) -> f64| Line {
        label: label.to_owned(),
        points: reports.iter().map(|r| (r.wecs as f64, seconds(r))).collect(),
    };
    vec![
        figure("end to end p50", &|r| r.e2e_ms.p50 / 1000.0),
        figure("end to end p99", &|r| r.e2e_ms.p99 / 1000.0),
        figure("all converged", &|r| r.converge_s),
        figure("update p99", &|r| r.update_ms.p99 / 1000.0),
    ]
}

/// A log axis: whole decades from `10^lo` to `10^hi`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Decades {
    lo: i32,
    hi: i32,
}

impl Decades {
    /// The decades around every positive, finite value (one decade at least); 1–10 when
    /// there is none.
    fn around(values: impl Iterator<Item = f64>) -> Self {
        let logs: Vec<f64> = values.filter(|v| v.is_finite() && *v > 0.0).map(f64::log10).collect();
        if logs.is_empty() {
            return Self { lo: 0, hi: 1 };
        }
        let lo = logs.iter().copied().fold(f64::INFINITY, f64::min).floor() as i32;
        let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max).ceil() as i32;
        Self { lo, hi: hi.max(lo + 1) }
    }

    /// Where `v` falls, from 0 (the first decade's start) to 1 (the last one's end).
    fn fraction(self, v: f64) -> f64 {
        (v.log10() - f64::from(self.lo)) / f64::from(self.hi - self.lo)
    }
}

/// A decade's label: "0.01", "1", "1,000".
fn decade_label(exponent: i32) -> String {
    if exponent < 0 {
        return format!("{:.*}", exponent.unsigned_abs() as usize, 10f64.powi(exponent));
    }
    let digits = 10u64.pow(exponent.unsigned_abs()).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An SVG document: every line's seconds (y) against WECs (x), both on log axes.
pub fn scaling_svg(title: &str, lines: &[Line]) -> String {
    let usable = |&(n, s): &(f64, f64)| n.is_finite() && n > 0.0 && s.is_finite() && s > 0.0;
    let points: Vec<Vec<(f64, f64)>> =
        lines.iter().map(|l| l.points.iter().copied().filter(usable).collect()).collect();
    let x = Decades::around(points.iter().flatten().map(|p| p.0));
    let y = Decades::around(points.iter().flatten().map(|p| p.1));
    let px = |n: f64| LEFT + x.fraction(n) * (RIGHT - LEFT);
    let py = |s: f64| BOTTOM - y.fraction(s) * (BOTTOM - TOP);

    let mut svg = String::new();
    let (w, h) = (num(WIDTH), num(HEIGHT));
    let _ = write!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}""#);
    let _ = writeln!(svg, r#" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let (cx, cy) = (num((LEFT + RIGHT) / 2.0), num((TOP + BOTTOM) / 2.0));
    let _ = writeln!(svg, r#"<text x="{cx}" y="30" text-anchor="middle" font-size="16">{}</text>"#, escape(title));
    let (left, right, top, bottom) = (num(LEFT), num(RIGHT), num(TOP), num(BOTTOM));
    for e in x.lo..=x.hi {
        let at = num(px(10f64.powi(e)));
        let _ = writeln!(svg, r#"<line x1="{at}" y1="{top}" x2="{at}" y2="{bottom}" stroke="{GRID}"/>"#);
        let ty = num(BOTTOM + 18.0);
        let _ = writeln!(svg, r#"<text x="{at}" y="{ty}" text-anchor="middle">{}</text>"#, decade_label(e));
    }
    for e in y.lo..=y.hi {
        let at = py(10f64.powi(e));
        let _ = writeln!(svg, r#"<line x1="{left}" y1="{}" x2="{right}" y2="{}" stroke="{GRID}"/>"#, num(at), num(at));
        let (tx, ty) = (num(LEFT - 8.0), num(at + 4.0));
        let _ = writeln!(svg, r#"<text x="{tx}" y="{ty}" text-anchor="end">{}</text>"#, decade_label(e));
    }
    let _ = writeln!(svg, r#"<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>"#);
    let _ = writeln!(svg, r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{AXIS}"/>"#);
    let ty = num(HEIGHT - 20.0);
    let _ = writeln!(svg, r#"<text x="{cx}" y="{ty}" text-anchor="middle">WECs (log scale)</text>"#);
    let _ = writeln!(svg, r#"<text x="24" y="{cy}" text-anchor="middle" transform="rotate(-90 24 {cy})">"#);
    svg.push_str("seconds (log scale)</text>\n");
    for (i, line) in points.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        let stroke = colour(i);
        let coords: Vec<(String, String)> = line.iter().map(|&(n, s)| (num(px(n)), num(py(s)))).collect();
        let joined: Vec<String> = coords.iter().map(|(x, y)| format!("{x},{y}")).collect();
        let joined = joined.join(" ");
        let _ = writeln!(svg, r#"<polyline fill="none" stroke="{stroke}" stroke-width="1.5" points="{joined}"/>"#);
        for (cx, cy) in &coords {
            let _ = writeln!(svg, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{stroke}"/>"#);
        }
    }
    let labels: Vec<&str> = lines.iter().map(|l| l.label.as_str()).collect();
    legend(&mut svg, &labels, Corner::UpperLeft);
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decades_cover_the_values() {
        let table: Vec<(Vec<f64>, Decades)> = vec![
            (vec![10.0, 100.0, 1000.0, 10_000.0], Decades { lo: 1, hi: 4 }),
            (vec![0.76, 4.1, 90.0], Decades { lo: -1, hi: 2 }),
            (vec![5.0], Decades { lo: 0, hi: 1 }),
            (vec![100.0], Decades { lo: 2, hi: 3 }),
            (vec![0.0, -1.0, f64::NAN, f64::INFINITY], Decades { lo: 0, hi: 1 }),
            (vec![], Decades { lo: 0, hi: 1 }),
        ];
        for (values, want) in table {
            assert_eq!(Decades::around(values.iter().copied()), want, "{values:?}");
        }
        let d = Decades { lo: 1, hi: 4 };
        assert_eq!((d.fraction(10.0), d.fraction(10_000.0)), (0.0, 1.0));
        assert!((d.fraction(100.0) - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn decade_labels() {
        let table = [(-2, "0.01"), (-1, "0.1"), (0, "1"), (1, "10"), (3, "1,000"), (4, "10,000"), (6, "1,000,000")];
        for (e, want) in table {
            assert_eq!(decade_label(e), want, "{e}");
        }
    }

    #[test]
    fn every_usable_point_is_drawn_on_its_line() {
        let lines = vec![
            Line { label: "p50".into(), points: vec![(10.0, 0.5), (100.0, 2.0), (1000.0, 20.0)] },
            Line { label: "bad <one>".into(), points: vec![(10.0, 0.0), (100.0, f64::NAN)] },
        ];
        let svg = scaling_svg("t & u", &lines);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 1, "a line with no usable point is not drawn");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("t &amp; u") && svg.contains("bad &lt;one&gt;"), "text is escaped; the legend lists both");
        // x: decades 10..1000 over LEFT..RIGHT; the first point is at the left edge, the last
        // at the right; y: decades 0.1..100, so 20 s is below the top.
        let polyline = svg.lines().find(|l| l.starts_with("<polyline")).unwrap_or_default();
        assert!(polyline.contains(&format!("points=\"{},", num(LEFT))), "{polyline}");
        assert!(polyline.contains(&format!(" {},", num(RIGHT))), "{polyline}");
        for label in ["10", "100", "1,000", "0.1", "100"] {
            assert!(svg.contains(&format!(">{label}</text>")), "tick {label}");
        }
    }

    #[test]
    fn lines_take_each_figure_of_each_run_in_seconds() {
        let report = |wecs: usize, p50: f64, p99: f64, converge_s: f64, update_p99: f64| {
            let mut r = Report { wecs, ..Report::default() };
            r.e2e_ms.p50 = p50;
            r.e2e_ms.p99 = p99;
            r.converge_s = converge_s;
            r.update_ms.p99 = update_p99;
            r
        };
        let got = lines(&[report(10, 700.0, 760.0, 0.8, 56.0), report(100, 3200.0, 4100.0, 4.1, 610.0)]);
        let points: Vec<(&str, Vec<(f64, f64)>)> = got.iter().map(|l| (l.label.as_str(), l.points.clone())).collect();
        assert_eq!(
            points,
            vec![
                ("end to end p50", vec![(10.0, 0.7), (100.0, 3.2)]),
                ("end to end p99", vec![(10.0, 0.76), (100.0, 4.1)]),
                ("all converged", vec![(10.0, 0.8), (100.0, 4.1)]),
                ("update p99", vec![(10.0, 0.056), (100.0, 0.61)]),
            ]
        );
    }
}
