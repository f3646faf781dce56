//! The backlog and throughput chart as inline SVG drawn on the server: two panels sharing
//! a time axis (the chosen window: 15 min, 1 h or 24 h), each with its own labelled axis,
//! ticks and unit.

use crate::samples::Sample;

const W: f64 = 760.0;
const PANEL: f64 = 120.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 22.0;
const GAP: f64 = 34.0;
const BOTTOM: f64 = 30.0;

/// A window the chart can show: its query value, label, length and time tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The `window=` value.
    pub key: &'static str,
    /// What the page calls it.
    pub label: &'static str,
    /// Its length in seconds.
    pub secs: i64,
    /// Seconds between time ticks.
    pub tick: i64,
}

/// The windows offered, the default (1 h) second.
pub const WINDOWS: [Window; 3] = [
    Window {
        key: "15m",
        label: "15 min",
        secs: 900,
        tick: 300,
    },
    Window {
        key: "1h",
        label: "1 h",
        secs: 3600,
        tick: 900,
    },
    Window {
        key: "24h",
        label: "24 h",
        secs: 86_400,
        tick: 6 * 3600,
    },
];

/// The window named `key`, else 1 h.
pub fn window(key: Option<&str>) -> Window {
    WINDOWS
        .into_iter()
        .find(|w| Some(w.key) == key)
        .unwrap_or(WINDOWS[1])
}

/// A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`.
fn nice(max: f64) -> f64 {
    let max = max.max(1.0);
    let pow = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * pow)
}

fn fmt_value(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn fmt_ago(secs: i64) -> String {
    match secs {
        0 => "now".into(),
        s if s % 3600 == 0 => format!("−{} h", s / 3600),
        s => format!("−{} min", s / 60),
    }
}

/// One panel: frame, y ticks with the unit, the line.
fn panel(out: &mut String, top: f64, title: &str, points: &[(f64, f64)], color: &str, w: Window) {
    let max = nice(points.iter().map(|p| p.1).fold(0.0, f64::max));
    let x0 = LEFT;
    let x1 = W - RIGHT;
    let y = |v: f64| top + PANEL - v / max * PANEL;
    out.push_str(&format!(
        "<text x=\"{x0}\" y=\"{:.1}\" font-size=\"12\" fill=\"{color}\" font-weight=\"bold\">{title}</text>",
        top - 6.0
    ));
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let yy = y(v);
        out.push_str(&format!(
            "<line x1=\"{x0}\" y1=\"{yy:.1}\" x2=\"{x1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
             <line x1=\"{:.1}\" y1=\"{yy:.1}\" x2=\"{x0}\" y2=\"{yy:.1}\" stroke=\"#666\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            x0 - 4.0,
            x0 - 6.0,
            yy + 3.5,
            fmt_value(v)
        ));
    }
    out.push_str(&format!(
        "<line x1=\"{x0}\" y1=\"{top}\" x2=\"{x0}\" y2=\"{b}\" stroke=\"#666\"/>\
         <line x1=\"{x0}\" y1=\"{b}\" x2=\"{x1}\" y2=\"{b}\" stroke=\"#666\"/>",
        b = top + PANEL
    ));
    let span = (x1 - x0) / w.secs as f64;
    let pts: Vec<String> = points
        .iter()
        .map(|(ago, v)| format!("{:.1},{:.1}", x1 - ago * span, y(*v)))
        .collect();
    if !pts.is_empty() {
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        ));
    }
}

/// The chart of `samples` over window `w` ending `now` (unix seconds).
pub fn render(samples: &[Sample], now: i64, w: Window) -> String {
    let shown: Vec<&Sample> = samples.iter().filter(|s| now - s.at <= w.secs).collect();
    // At most one point per pixel column (the largest), so 24 h stays light.
    let columns = (W - LEFT - RIGHT) as i64;
    let mut backlog: Vec<(f64, f64)> = Vec::new();
    let mut rate: Vec<(f64, f64)> = Vec::new();
    let mut last_col = i64::MIN;
    for s in &shown {
        let ago = (now - s.at).max(0);
        let col = (w.secs - ago) * columns / w.secs.max(1);
        let (b, r) = (s.backlog as f64, s.throughput_per_minute);
        if col == last_col {
            if let (Some(pb), Some(pr)) = (backlog.last_mut(), rate.last_mut()) {
                pb.1 = pb.1.max(b);
                pr.1 = pr.1.max(r);
            }
            continue;
        }
        last_col = col;
        backlog.push((ago as f64, b));
        rate.push((ago as f64, r));
    }
    let h = TOP + 2.0 * PANEL + GAP + BOTTOM;
    let mut out = format!(
        "<svg id=\"chart\" role=\"img\" aria-label=\"jobs waiting and jobs finished per minute, last {label}\" \
         width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" xmlns=\"http://www.w3.org/2000/svg\" \
         style=\"border:1px solid #ccc;background:#fff\" font-family=\"system-ui,sans-serif\">",
        label = w.label
    );
    panel(
        &mut out,
        TOP,
        "Backlog (jobs waiting)",
        &backlog,
        "#1f5fa8",
        w,
    );
    let second = TOP + PANEL + GAP;
    panel(
        &mut out,
        second,
        "Throughput (jobs finished per minute)",
        &rate,
        "#17692b",
        w,
    );
    let b = second + PANEL;
    let span = (W - RIGHT - LEFT) / w.secs as f64;
    let mut ago = w.secs;
    while ago >= 0 {
        let x = W - RIGHT - ago as f64 * span;
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{b}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#666\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            b + 4.0,
            b + 16.0,
            fmt_ago(ago)
        ));
        ago -= w.tick;
    }
    if shown.is_empty() {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">no samples in this window yet</text>",
            W / 2.0,
            TOP + PANEL / 2.0
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::Samples;

    #[test]
    fn the_chart_has_axes_ticks_units_and_the_window() {
        let s = Samples::default();
        s.push(1000, 10, 0);
        s.push(1060, 0, 60);
        let svg = render(&s.all(), 1060, window(Some("15m")));
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("Backlog (jobs waiting)"));
        assert!(svg.contains("jobs finished per minute"));
        assert!(svg.contains(">10<"), "the backlog axis reaches 10: {svg}");
        assert!(svg.contains("−15 min") && svg.contains("−5 min") && svg.contains(">now<"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(!svg.contains("NaN"));
        let day = render(&s.all(), 1060, window(Some("24h")));
        assert!(day.contains("−24 h") && day.contains("−6 h"));
        assert!(render(&[], 0, window(None)).contains("no samples in this window yet"));
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(120.0), 200.0);
        assert_eq!(nice(0.0), 1.0);
    }
}
