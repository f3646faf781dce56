//! The backlog and throughput chart of the last hour, as inline SVG drawn on the server.

use crate::samples::{Sample, WINDOW};

const W: f64 = 720.0;
const H: f64 = 180.0;
const PAD: f64 = 30.0;

fn polyline(points: &[(f64, f64)], max: f64, color: &str, now: i64) -> String {
    let start = now - WINDOW.as_secs() as i64;
    let pts: Vec<String> = points
        .iter()
        .map(|(at, v)| {
            let x = PAD + (at - start as f64) / WINDOW.as_secs_f64() * (W - 2.0 * PAD);
            let y = H - PAD - v / max * (H - 2.0 * PAD);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
        pts.join(" ")
    )
}

/// The chart: backlog (jobs waiting, blue) and throughput (jobs finished per minute,
/// green), each on its own scale, over the last hour ending `now` (unix seconds).
pub fn render(samples: &[Sample], now: i64) -> String {
    let backlog: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (s.at as f64, s.backlog as f64))
        .collect();
    let rate: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (s.at as f64, s.throughput_per_minute))
        .collect();
    let max_backlog = backlog.iter().map(|p| p.1).fold(1.0, f64::max);
    let max_rate = rate.iter().map(|p| p.1).fold(1.0, f64::max);
    let empty = if samples.is_empty() {
        "<text x=\"50%\" y=\"50%\" text-anchor=\"middle\">no samples yet</text>"
    } else {
        ""
    };
    format!(
        "<svg id=\"chart\" role=\"img\" aria-label=\"backlog and throughput, last hour\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" xmlns=\"http://www.w3.org/2000/svg\" style=\"border:1px solid #ccc;background:#fff\">\
         <line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#999\"/>\
         <text x=\"{PAD}\" y=\"{t}\" font-size=\"11\" fill=\"#1f5fa8\">backlog (max {mb:.0} jobs)</text>\
         <text x=\"{r}\" y=\"{t}\" font-size=\"11\" fill=\"#17692b\" text-anchor=\"end\">throughput (max {mr:.1}/min)</text>\
         <text x=\"{PAD}\" y=\"{l}\" font-size=\"11\">-60 min</text>\
         <text x=\"{r}\" y=\"{l}\" font-size=\"11\" text-anchor=\"end\">now</text>{empty}{pb}{pr}</svg>",
        b = H - PAD,
        r = W - PAD,
        t = PAD - 10.0,
        l = H - 10.0,
        mb = max_backlog,
        mr = max_rate,
        pb = polyline(&backlog, max_backlog, "#1f5fa8", now),
        pr = polyline(&rate, max_rate, "#17692b", now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::Samples;

    #[test]
    fn the_chart_plots_each_sample_inside_the_frame() {
        let s = Samples::default();
        s.push(1000, 10, 0);
        s.push(1060, 0, 60);
        let svg = render(&s.all(), 1060);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("max 10 jobs"));
        assert!(svg.contains("max 60.0/min"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(!svg.contains("NaN"));
        assert!(render(&[], 0).contains("no samples yet"));
    }
}
