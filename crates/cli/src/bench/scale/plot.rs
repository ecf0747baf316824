//! The scale benchmark's chart: cumulative distributions as a self-contained SVG line chart,
//! written by hand so it needs no crate and opens in any browser.

use std::fmt::Write;

/// One line of the chart: a label and its samples (seconds; any order; may be empty).
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's text for this line.
    pub label: String,
    /// Seconds since the workload was written; non-finite ones are ignored.
    pub samples: Vec<f64>,
}

pub(super) const WIDTH: f64 = 800.0;
pub(super) const HEIGHT: f64 = 480.0;
/// The plot area's edges: room on the left for the y labels and title, below for the x ones.
pub(super) const LEFT: f64 = 80.0;
pub(super) const RIGHT: f64 = 780.0;
pub(super) const TOP: f64 = 50.0;
pub(super) const BOTTOM: f64 = 410.0;
/// At most this many points per line, so 10,000 samples still make a small file.
const MAX_POINTS: usize = 400;
pub(super) const GRID: &str = "#e5e5e5";
pub(super) const AXIS: &str = "#333333";
const PALETTE: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// An SVG document: for each series, the share of WECs (y, 0–100 %) done by time x
/// (seconds since the workload was written), as a step line.
pub fn cdf_svg(title: &str, series: &[Series]) -> String {
    let sorted: Vec<Vec<f64>> = series.iter().map(|s| sorted_finite(&s.samples)).collect();
    let max = sorted.iter().filter_map(|s| s.last()).fold(0.0_f64, |a, &b| a.max(b));
    let upper = nice_upper(max);
    let mut svg = String::new();
    let (w, h) = (num(WIDTH), num(HEIGHT));
    let _ = write!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}""#);
    let _ = writeln!(svg, r#" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let (cx, title) = (num((LEFT + RIGHT) / 2.0), escape(title));
    let _ = writeln!(svg, r#"<text x="{cx}" y="30" text-anchor="middle" font-size="16">{title}</text>"#);
    axes(&mut svg, upper);
    for (i, samples) in sorted.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        let (stroke, points) = (colour(i), step_points(samples, upper));
        let _ = writeln!(svg, r#"<polyline fill="none" stroke="{stroke}" stroke-width="1.5" points="{points}"/>"#);
    }
    let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
    legend(&mut svg, &labels, Corner::LowerRight);
    svg.push_str("</svg>\n");
    svg
}

/// The finite samples in ascending order: NaN or infinite ones have no place on the axis.
fn sorted_finite(samples: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// The x axis's end: the least of 1, 2, 2.5 or 5 × 10^k at or above `max`, so the ticks fall
/// on round numbers; 1 when there is nothing to show.
fn nice_upper(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let base = 10f64.powi(max.log10().floor() as i32);
    [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().map(|m| m * base).find(|&u| u >= max * (1.0 - 1e-9)).unwrap_or(10.0 * base)
}

/// The x ticks' spacing: a fifth of the axis, or an eighth when it ends at 2 × 10^k, so there
/// are 6–9 ticks, all on round numbers (0.25 rather than 0.4).
fn tick_step(upper: f64) -> f64 {
    let mantissa = upper / 10f64.powi(upper.log10().floor() as i32);
    if (mantissa - 2.0).abs() < 1e-6 { upper / 8.0 } else { upper / 5.0 }
}

/// A tick's label with no more decimals than its spacing needs: "0.25", "1", "10".
fn tick_label(value: f64, step: f64) -> String {
    let decimals = (-step.log10()).ceil().clamp(0.0, 6.0) as usize + 1;
    let text = format!("{value:.decimals$}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A coordinate with at most one decimal (a tenth of a pixel is invisible), without a
/// trailing ".0", to keep the file small.
pub(super) fn num(v: f64) -> String {
    let mut text = format!("{v:.1}");
    if text.ends_with(".0") {
        text.truncate(text.len() - 2);
    }
    if text == "-0" { "0".to_owned() } else { text }
}

/// The pixel column of `seconds` on an axis ending at `upper`; clamped so a stray negative
/// sample stays on the chart.
fn px(seconds: f64, upper: f64) -> f64 {
    LEFT + seconds.clamp(0.0, upper) / upper * (RIGHT - LEFT)
}

/// The pixel row of a share in percent: SVG's y grows downwards.
fn py(percent: f64) -> f64 {
    BOTTOM - percent / 100.0 * (BOTTOM - TOP)
}

/// The `i`th series' colour, cycling through the palette when there are more series.
pub(super) fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// `text` safe inside an element or an attribute: titles and labels come from the caller.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The step line's points in pixels: from (0, 0) right to each sample, then up to its share.
/// Past `MAX_POINTS`, evenly spaced quantiles (always with the last sample) stand in for the
/// samples, and points equal once rounded are dropped, to keep the file small.
fn step_points(sorted: &[f64], upper: f64) -> String {
    let n = sorted.len();
    let steps = n.min((MAX_POINTS - 1) / 2);
    let point = |x: f64, percent: f64| format!("{},{}", num(px(x, upper)), num(py(percent)));
    let mut points = vec![point(0.0, 0.0)];
    let mut share = 0.0;
    for j in 1..=steps {
        let i = (j * n).div_ceil(steps) - 1;
        let next = (i + 1) as f64 / n as f64 * 100.0;
        for p in [point(sorted[i], share), point(sorted[i], next)] {
            if points.last() != Some(&p) {
                points.push(p);
            }
        }
        share = next;
    }
    points.join(" ")
}

/// The grid, both axes with their ticks and the axis titles; drawn before the lines so those
/// cover the grid.
fn axes(svg: &mut String, upper: f64) {
    let (left, right, top, bottom) = (num(LEFT), num(RIGHT), num(TOP), num(BOTTOM));
    let step = tick_step(upper);
    for k in 0..=(upper / step).round() as usize {
        let value = k as f64 * step;
        let x = num(px(value, upper));
        let _ = writeln!(svg, r#"<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="{GRID}"/>"#);
        let label = tick_label(value, step);
        let _ = writeln!(svg, r#"<text x="{x}" y="{}" text-anchor="middle">{label}</text>"#, num(BOTTOM + 18.0));
    }
    for percent in (0..=100_u32).step_by(20) {
        let (y, label_y) = (num(py(f64::from(percent))), num(py(f64::from(percent)) + 4.0));
        let _ = writeln!(svg, r#"<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="{GRID}"/>"#);
        let _ = writeln!(svg, r#"<text x="{}" y="{label_y}" text-anchor="end">{percent}%</text>"#, num(LEFT - 8.0));
    }
    let _ = writeln!(svg, r#"<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>"#);
    let _ = writeln!(svg, r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{AXIS}"/>"#);
    let (cx, cy, ty) = (num((LEFT + RIGHT) / 2.0), num((TOP + BOTTOM) / 2.0), num(HEIGHT - 20.0));
    let _ = writeln!(svg, r#"<text x="{cx}" y="{ty}" text-anchor="middle">seconds since the WDS write</text>"#);
    let _ = writeln!(svg, r#"<text x="24" y="{cy}" text-anchor="middle" transform="rotate(-90 24 {cy})">"#);
    svg.push_str("WECs done (%)</text>\n");
}

/// Where the legend goes: where the chart's lines rarely are.
#[derive(Clone, Copy)]
pub(super) enum Corner {
    /// A CDF's lines rise to the upper right.
    LowerRight,
    /// Latency against N rises from the lower left to the upper right.
    UpperLeft,
}

/// The legend in a corner of the plot; it lists every series, empty ones too, so a missing
/// line is explained.
pub(super) fn legend(svg: &mut String, labels: &[&str], corner: Corner) {
    if labels.is_empty() {
        return;
    }
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let (w, h) = (44.0 + 7.0 * chars as f64, 8.0 + 18.0 * labels.len() as f64);
    let (x, y) = match corner {
        Corner::LowerRight => (RIGHT - 10.0 - w, BOTTOM - 10.0 - h),
        Corner::UpperLeft => (LEFT + 10.0, TOP + 10.0),
    };
    let (rx, ry, rw, rh) = (num(x), num(y), num(w), num(h));
    let _ = write!(svg, r#"<rect x="{rx}" y="{ry}" width="{rw}" height="{rh}""#);
    let _ = writeln!(svg, r#" fill="white" fill-opacity="0.85" stroke="{GRID}"/>"#);
    for (i, label) in labels.iter().enumerate() {
        let row = y + 17.0 + 18.0 * i as f64;
        let (x1, x2, ly, stroke) = (num(x + 8.0), num(x + 30.0), num(row - 4.0), colour(i));
        let _ = writeln!(svg, r#"<line x1="{x1}" y1="{ly}" x2="{x2}" y2="{ly}" stroke="{stroke}" stroke-width="2"/>"#);
        let _ = writeln!(svg, r#"<text x="{}" y="{}">{}</text>"#, num(x + 36.0), num(row), escape(label));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, samples: Vec<f64>) -> Series {
        Series { label: label.into(), samples }
    }

    /// Each polyline's `points` attribute, as written.
    fn raw_points(svg: &str) -> Vec<&str> {
        let lines = svg.lines().filter(|l| l.starts_with("<polyline"));
        lines.map(|l| l.split("points=\"").nth(1).unwrap().split('"').next().unwrap()).collect()
    }

    /// Each polyline's points as (x, y) pixels.
    fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
        let pair = |p: &str| p.split_once(',').map(|(x, y)| (x.parse::<f64>().unwrap(), y.parse::<f64>().unwrap()));
        raw_points(svg).into_iter().map(|points| points.split(' ').map(|p| pair(p).unwrap()).collect()).collect()
    }

    #[test]
    fn nice_upper_bounds_and_tick_labels() {
        let table = [(0.0, 1.0), (0.7, 1.0), (1.0, 1.0), (1.2, 2.0), (2.2, 2.5), (3.0, 5.0), (7.5, 10.0), (42.0, 50.0)];
        for (max, want) in table.into_iter().chain([(240.0, 250.0), (0.03, 0.05), (f64::NAN, 1.0)]) {
            let got = nice_upper(max);
            assert!((got - want).abs() < 1e-9, "{max} -> {got}, want {want}");
        }
        let labels = [(0.25, 2.0), (1.0, 2.0), (10.0, 10.0), (0.0, 250.0)].map(|(v, u)| tick_label(v, tick_step(u)));
        assert_eq!(labels, ["0.25", "1", "10", "0"]);
        assert_eq!((num(-0.01), num(12.34), num(7.0)), ("0".to_owned(), "12.3".to_owned(), "7".to_owned()));
    }

    #[test]
    fn renders_a_document_with_escaped_text() {
        let svg = cdf_svg("t & \"u\"", &[series("a<b", vec![0.1, 0.3, 0.2]), series("c>d", vec![1.5])]);
        let svg = svg.trim();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains(">a&lt;b<") && svg.contains(">c&gt;d<") && svg.contains(">t &amp; &quot;u&quot;<"));
        assert!(!svg.contains("a<b") && !svg.contains("c>d"));
        assert_eq!(polylines(svg).len(), 2);
        assert!(svg.contains(">0.25<") && svg.contains(">2<"), "x axis to the nice bound 2");
    }

    #[test]
    fn caps_the_points_of_a_large_series() {
        let samples: Vec<f64> = (1..=10_000_u32).rev().map(|i| f64::from(i) / 1000.0).collect();
        let svg = cdf_svg("many", &[series("x", samples)]);
        let raw = raw_points(&svg);
        assert_eq!(raw.len(), 1);
        let count = raw[0].split(' ').count();
        assert!((100..=MAX_POINTS).contains(&count), "{count} points");
        assert!(raw[0].split([' ', ',']).all(|n| n.split_once('.').is_none_or(|(_, d)| d.len() == 1)), "{}", raw[0]);
        let last = polylines(&svg)[0].last().copied();
        assert_eq!(last, Some((RIGHT, TOP)), "ends at the last sample, 10 s, and 100 %");
    }

    #[test]
    fn renders_axes_without_series() {
        let svg = cdf_svg("nothing", &[]);
        for text in ["seconds since the WDS write", "WECs done (%)", ">0%<", ">100%<", ">nothing<", ">1<"] {
            assert!(svg.contains(text), "{text} missing from {svg}");
        }
        assert!(polylines(&svg).is_empty());
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn empty_series_appear_in_the_legend_only() {
        let svg = cdf_svg("t", &[series("empty", vec![f64::NAN]), series("full", vec![1.0])]);
        assert!(svg.contains(">empty<") && svg.contains(">full<"));
        assert_eq!(polylines(&svg).len(), 1);
        assert!(svg.lines().any(|l| l.starts_with("<polyline") && l.contains(colour(1))));
    }

    #[test]
    fn step_line_runs_from_the_origin_to_the_top() {
        let svg = cdf_svg("t", &[series("s", vec![3.0, 1.0, f64::INFINITY, 2.0])]);
        let line = &polylines(&svg)[0];
        let near = |(x, y): (f64, f64), (wx, wy): (f64, f64)| (x - wx).abs() < 0.06 && (y - wy).abs() < 0.06;
        assert_eq!(line.len(), 7, "the origin, then two points per sample: {line:?}");
        assert!(near(line[0], (LEFT, BOTTOM)));
        assert!(near(line[2], (px(1.0, 5.0), py(100.0 / 3.0))));
        assert!(near(line[6], (px(3.0, 5.0), TOP)), "100 % at the last sample: {line:?}");
        assert!(line.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 <= w[0].1), "never goes back or down");
    }
}
