//! The SVG bar charts of the printable reports and the staff pages: the values and their
//! geometry here, the drawing in templates/reports/chart.html.

use super::*;

/// One series of a bar chart: a label, a grey level (prints well in black and white) and one
/// value per category, each possibly marked as projected (drawn hatched).
pub struct Bars {
    pub label: String,
    pub fill: &'static str,
    pub values: Vec<(f64, bool)>,
}

/// Fills that stay distinct when printed in grey.
pub const FILLS: [&str; 6] = ["#222", "#666", "#999", "#c4c4c4", "#444", "#888"];

/// A grouped vertical bar chart, laid out: every coordinate computed here, drawn as inline SVG
/// by the `bar_chart` macro of `templates/reports/chart.html`. Coordinates are text, written
/// as the chart has always written them (one decimal).
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    caption: String,
    width: String,
    height: String,
    /// Grid lines of the value axis, bottom to top.
    grid: Vec<Tick>,
    groups: Vec<Group>,
    legend: Vec<Legend>,
    /// Lines over the bars (school places over the children entering).
    lines: Vec<LineDrawn>,
    line_legend: Vec<LineLegend>,
}

#[derive(Debug, Clone, Serialize)]
struct LineLegend {
    x1: String,
    x2: String,
    y: String,
    tx: String,
    ty: String,
    label: String,
}

/// A line over the bars: one value per category (None: no point there), drawn through the
/// bar of series `over` in each group, with a mark across that bar at the value.
pub struct Line {
    pub label: String,
    pub over: usize,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Serialize)]
struct LineDrawn {
    /// `x,y x,y …` of each run of consecutive points.
    segments: Vec<String>,
    marks: Vec<Mark>,
}

/// A mark across one bar at the line's value.
#[derive(Debug, Clone, Serialize)]
struct Mark {
    x1: String,
    x2: String,
    y: String,
    title: String,
}

#[derive(Debug, Clone, Serialize)]
struct Tick {
    x1: String,
    x2: String,
    y: String,
    tx: String,
    ty: String,
    label: String,
}

/// One category: its bars and the label under them.
#[derive(Debug, Clone, Serialize)]
struct Group {
    bars: Vec<Bar>,
    x: String,
    y: String,
    label: String,
}

#[derive(Debug, Clone, Serialize)]
struct Bar {
    x: String,
    y: String,
    width: String,
    height: String,
    /// A grey, or the hatch pattern of projected values.
    fill: String,
    title: String,
    value: String,
}

#[derive(Debug, Clone, Serialize)]
struct Legend {
    x: String,
    y: String,
    fill: &'static str,
    tx: String,
    ty: String,
    label: String,
}

/// Lays out a grouped vertical bar chart. `max` fixes the scale (100 for percentages); `None`
/// scales to the largest value.
pub fn bar_chart(
    caption: &str,
    categories: &[String],
    series: &[Bars],
    max: Option<f64>,
    unit: &str,
) -> Chart {
    bar_chart_with_lines(caption, categories, series, &[], max, unit)
}

/// [`bar_chart`] with lines drawn over the bars (see [`Line`]); the scale fits both.
pub fn bar_chart_with_lines(
    caption: &str,
    categories: &[String],
    series: &[Bars],
    lines: &[Line],
    max: Option<f64>,
    unit: &str,
) -> Chart {
    let (width, height) = (680.0_f64, 240.0_f64);
    let (left, right, top, bottom) = (46.0, 10.0, 10.0, 48.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let largest = series
        .iter()
        .flat_map(|s| s.values.iter().map(|v| v.0))
        .chain(
            lines
                .iter()
                .flat_map(|l| l.values.iter().flatten().copied()),
        )
        .fold(0.0_f64, f64::max);
    let max = max.unwrap_or_else(|| nice_ceiling(largest)).max(1.0);
    let one = |v: f64| format!("{v:.1}");
    // Grid lines and the value axis, in five steps.
    let grid = (0..=4)
        .map(|step| {
            let v = max * step as f64 / 4.0;
            let y = top + plot_h - plot_h * step as f64 / 4.0;
            Tick {
                x1: left.to_string(),
                x2: one(left + plot_w),
                y: one(y),
                tx: one(left - 4.0),
                ty: one(y + 3.0),
                label: format!("{}{unit}", format_tick(v)),
            }
        })
        .collect();
    let n = categories.len().max(1) as f64;
    let group_w = plot_w / n;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).max(1.0);
    let groups = categories
        .iter()
        .enumerate()
        .map(|(ci, cat)| {
            let gx = left + group_w * ci as f64 + group_w * 0.1;
            let bars = series
                .iter()
                .enumerate()
                .map(|(si, s)| {
                    let (v, projected) = s.values.get(ci).copied().unwrap_or((0.0, false));
                    let h = (v / max).clamp(0.0, 1.0) * plot_h;
                    Bar {
                        x: one(gx + bar_w * si as f64),
                        y: one(top + plot_h - h),
                        width: one(bar_w),
                        height: one(h),
                        fill: if projected { "url(#hatch)" } else { s.fill }.to_string(),
                        title: format!("{} {}", s.label, cat),
                        value: format_tick(v),
                    }
                })
                .collect();
            Group {
                bars,
                x: one(left + group_w * (ci as f64 + 0.5)),
                y: one(top + plot_h + 13.0),
                label: cat.clone(),
            }
        })
        .collect();
    // Legend under the axis.
    let mut lx = left;
    let ly = height - 14.0;
    let legend = series
        .iter()
        .map(|s| {
            let item = Legend {
                x: one(lx),
                y: one(ly - 9.0),
                fill: s.fill,
                tx: one(lx + 14.0),
                ty: one(ly),
                label: s.label.clone(),
            };
            lx += 24.0 + 6.0 * s.label.chars().count() as f64;
            item
        })
        .collect();
    let y_of = |v: f64| top + plot_h - (v / max).clamp(0.0, 1.0) * plot_h;
    let lines_drawn = lines
        .iter()
        .map(|l| {
            let mut segments = Vec::new();
            let mut run: Vec<String> = Vec::new();
            let mut marks = Vec::new();
            for (ci, cat) in categories.iter().enumerate() {
                let x = left + group_w * ci as f64 + group_w * 0.1 + bar_w * l.over as f64;
                match l.values.get(ci).copied().flatten() {
                    Some(v) => {
                        let y = y_of(v);
                        run.push(format!("{},{}", one(x + bar_w / 2.0), one(y)));
                        marks.push(Mark {
                            x1: one(x - 1.0),
                            x2: one(x + bar_w + 1.0),
                            y: one(y),
                            title: format!("{} {}: {}", l.label, cat, format_tick(v)),
                        });
                    }
                    None if !run.is_empty() => segments.push(std::mem::take(&mut run).join(" ")),
                    None => {}
                }
            }
            if !run.is_empty() {
                segments.push(run.join(" "));
            }
            LineDrawn { segments, marks }
        })
        .collect();
    // One legend entry per label (the places of every level are one "places" line).
    let mut line_legend: Vec<LineLegend> = Vec::new();
    for l in lines {
        if line_legend.iter().any(|x| x.label == l.label) {
            continue;
        }
        line_legend.push(LineLegend {
            x1: one(lx),
            x2: one(lx + 14.0),
            y: one(ly - 4.0),
            tx: one(lx + 18.0),
            ty: one(ly),
            label: l.label.clone(),
        });
        lx += 28.0 + 6.0 * l.label.chars().count() as f64;
    }
    Chart {
        caption: caption.to_string(),
        width: width.to_string(),
        height: height.to_string(),
        grid,
        groups,
        legend,
        lines: lines_drawn,
        line_legend,
    }
}

fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * magnitude {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

fn format_tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}
