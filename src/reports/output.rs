//! The three forms of every report: CSV for spreadsheets, JSON for scripts and tracing figures,
//! HTML for printing.
//!
//! - CSV starts with a UTF-8 byte-order mark: without it Excel reads the file as the local code
//!   page and Vietnamese names come out garbled. Column names are stable (snake_case English)
//!   whatever `--lang`, so scripts can rely on them.
//! - HTML is one self-contained page (no external styles, fonts or scripts: it is printed at a
//!   commune office, often offline), laid out for A4 paper, with charts as inline SVG.

use std::fmt::Write as _;
use std::io::Write;

/// The UTF-8 byte-order mark.
pub const BOM: &str = "\u{feff}";

/// Writes a CSV document with a BOM, a header row and the rows. Text cells that begin with
/// `=`, `+`, `-`, `@`, tab or CR get a leading `'` (CSV injection); plain numbers do not.
pub fn write_csv<W: Write>(
    mut out: W,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> anyhow::Result<()> {
    out.write_all(BOM.as_bytes())?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header)?;
    for row in rows {
        // Names and other text come from the registry: none may start a formula in Excel.
        let cells: Vec<_> = row
            .iter()
            .map(|c| crate::registry::text::cell_for_csv(c))
            .collect();
        w.write_record(cells.iter().map(|c| c.as_bytes()))?;
    }
    w.flush()?;
    Ok(())
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A printable page being written.
pub struct Html {
    buf: String,
}

impl Html {
    /// Starts a page; `landscape` for wide tables (the vaccination list has 14 columns).
    pub fn page(title: &str, subtitle: &str, landscape: bool) -> Html {
        let size = if landscape { "A4 landscape" } else { "A4" };
        let mut buf = String::new();
        let _ = write!(
            buf,
            r#"<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
@page {{ size: {size}; margin: 12mm 10mm; }}
body {{ font-family: "Times New Roman", "Noto Serif", serif; font-size: 10.5pt; color: #000; margin: 0 auto; max-width: 277mm; }}
h1 {{ font-size: 15pt; margin: 0 0 2mm; }}
h2 {{ font-size: 12.5pt; margin: 6mm 0 2mm; break-after: avoid; }}
h3 {{ font-size: 11pt; margin: 4mm 0 1mm; break-after: avoid; }}
p.meta {{ margin: 0 0 3mm; color: #333; }}
table {{ border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; }}
thead {{ display: table-header-group; }}
tr {{ break-inside: avoid; }}
th, td {{ border: 0.6pt solid #555; padding: 0.8mm 1.2mm; text-align: left; vertical-align: top; }}
th {{ background: #e8e8e8; font-weight: bold; }}
td.n, th.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.total td {{ font-weight: bold; background: #f3f3f3; }}
.overdue {{ font-weight: bold; }}
.projected {{ font-style: italic; }}
figure {{ margin: 2mm 0 4mm; break-inside: avoid; }}
figcaption {{ font-size: 9pt; color: #333; }}
dl.defs dt {{ font-weight: bold; margin-top: 1.5mm; }}
dl.defs dd {{ margin: 0 0 0 5mm; }}
section.province {{ break-before: page; }}
section.province:first-of-type {{ break-before: auto; }}
@media screen {{ body {{ padding: 8mm; }} }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="meta">{subtitle}</p>
"#,
            title = esc(title),
            subtitle = esc(subtitle),
        );
        Html { buf }
    }

    pub fn raw(&mut self, html: &str) -> &mut Self {
        self.buf.push_str(html);
        self
    }

    pub fn h2(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.buf, "<h2>{}</h2>", esc(text));
        self
    }

    pub fn h3(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.buf, "<h3>{}</h3>", esc(text));
        self
    }

    pub fn p(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.buf, "<p>{}</p>", esc(text));
        self
    }

    /// A definition list: (term, definition).
    pub fn definitions(&mut self, defs: &[(String, String)]) -> &mut Self {
        self.buf.push_str("<dl class=\"defs\">\n");
        for (term, def) in defs {
            let _ = writeln!(self.buf, "<dt>{}</dt><dd>{}</dd>", esc(term), esc(def));
        }
        self.buf.push_str("</dl>\n");
        self
    }

    /// A table; `numeric[i]` right-aligns column i. Each row may carry a CSS class.
    pub fn table(
        &mut self,
        head: &[String],
        numeric: &[bool],
        rows: &[(Vec<String>, &str)],
    ) -> &mut Self {
        self.buf.push_str("<table>\n<thead><tr>");
        for (i, h) in head.iter().enumerate() {
            let class = if numeric.get(i).copied().unwrap_or(false) {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(self.buf, "<th{class}>{}</th>", esc(h));
        }
        self.buf.push_str("</tr></thead>\n<tbody>\n");
        for (cells, class) in rows {
            if class.is_empty() {
                self.buf.push_str("<tr>");
            } else {
                let _ = write!(self.buf, "<tr class=\"{class}\">");
            }
            for (i, c) in cells.iter().enumerate() {
                let class = if numeric.get(i).copied().unwrap_or(false) {
                    " class=\"n\""
                } else {
                    ""
                };
                let _ = write!(self.buf, "<td{class}>{}</td>", esc(c));
            }
            self.buf.push_str("</tr>\n");
        }
        self.buf.push_str("</tbody>\n</table>\n");
        self
    }

    pub fn finish(mut self) -> String {
        self.buf.push_str("</body>\n</html>\n");
        self.buf
    }
}

/// One series of a bar chart: a label, a grey level (prints well in black and white) and one
/// value per category, each possibly marked as projected (drawn hatched).
pub struct Bars {
    pub label: String,
    pub fill: &'static str,
    pub values: Vec<(f64, bool)>,
}

/// Fills that stay distinct when printed in grey.
pub const FILLS: [&str; 6] = ["#222", "#666", "#999", "#c4c4c4", "#444", "#888"];

/// A grouped vertical bar chart as inline SVG. `max` fixes the scale (100 for percentages);
/// `None` scales to the largest value.
pub fn bar_chart(
    caption: &str,
    categories: &[String],
    series: &[Bars],
    max: Option<f64>,
    unit: &str,
) -> String {
    let (width, height) = (680.0_f64, 240.0_f64);
    let (left, right, top, bottom) = (46.0, 10.0, 10.0, 48.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let largest = series
        .iter()
        .flat_map(|s| s.values.iter().map(|v| v.0))
        .fold(0.0_f64, f64::max);
    let max = max.unwrap_or_else(|| nice_ceiling(largest)).max(1.0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<figure><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{label}" font-family="sans-serif" font-size="10">
<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="#fff"/><line x1="0" y1="0" x2="0" y2="4" stroke="#444" stroke-width="1.6"/></pattern></defs>"##,
        label = esc(caption)
    );
    // Grid lines and the value axis, in five steps.
    for step in 0..=4 {
        let v = max * step as f64 / 4.0;
        let y = top + plot_h - plot_h * step as f64 / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}" stroke="#ccc" stroke-width="0.6"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end">{v}{unit}</text>"##,
            x2 = left + plot_w,
            tx = left - 4.0,
            ty = y + 3.0,
            v = format_tick(v),
        );
    }
    let n = categories.len().max(1) as f64;
    let group_w = plot_w / n;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).max(1.0);
    for (ci, cat) in categories.iter().enumerate() {
        let gx = left + group_w * ci as f64 + group_w * 0.1;
        for (si, s) in series.iter().enumerate() {
            let (v, projected) = s.values.get(ci).copied().unwrap_or((0.0, false));
            let h = (v / max).clamp(0.0, 1.0) * plot_h;
            let fill = if projected { "url(#hatch)" } else { s.fill };
            let _ = writeln!(
                svg,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{fill}" stroke="#000" stroke-width="0.4"><title>{title}: {v}</title></rect>"##,
                x = gx + bar_w * si as f64,
                y = top + plot_h - h,
                title = esc(&format!("{} {}", s.label, cat)),
                v = format_tick(v),
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">{}</text>"##,
            esc(cat),
            x = left + group_w * (ci as f64 + 0.5),
            y = top + plot_h + 13.0,
        );
    }
    // Legend under the axis.
    let mut lx = left;
    let ly = height - 14.0;
    for s in series {
        let _ = writeln!(
            svg,
            r##"<rect x="{lx:.1}" y="{y:.1}" width="10" height="10" fill="{fill}" stroke="#000" stroke-width="0.4"/><text x="{tx:.1}" y="{ty:.1}">{label}</text>"##,
            y = ly - 9.0,
            fill = s.fill,
            tx = lx + 14.0,
            ty = ly,
            label = esc(&s.label),
        );
        lx += 24.0 + 6.0 * s.label.chars().count() as f64;
    }
    let _ = writeln!(
        svg,
        "</svg><figcaption>{}</figcaption></figure>",
        esc(caption)
    );
    svg
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

/// A share in percent with one decimal, empty when there is nothing to divide by.
pub fn percent(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| (n as f64 * 1000.0 / of as f64).round() / 10.0)
}

pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}
