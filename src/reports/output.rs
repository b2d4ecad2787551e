//! The forms of every report: CSV and xlsx for spreadsheets, JSON for scripts and tracing
//! figures, HTML for printing.
//!
//! - CSV starts with a UTF-8 byte-order mark: without it Excel reads the file as the local code
//!   page and Vietnamese names come out garbled. Column names are stable (snake_case English)
//!   whatever `--lang`, so scripts can rely on them.
//! - xlsx is for people: Vietnamese headers ("Vietnamese / English" with `--lang en`), commune
//!   and province names beside their codes, identifiers as text cells, dates as dates.
//! - HTML is one self-contained page (no external styles, fonts or scripts: it is printed at a
//!   commune office, often offline), laid out for A4 paper, with charts as inline SVG. The page
//!   is a template (`templates/reports/`); this module only gathers what it shows.

use super::bi;
use crate::rules::Lang;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::io::Write;

mod chart;
pub use chart::*;

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

/// A cell of a spreadsheet: identifiers are [`XCell::Text`] (so `001212282149` keeps its
/// leading zeros and all 12 digits), counts and shares numbers, dates real dates.
#[derive(Debug, Clone, PartialEq)]
pub enum XCell {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    Empty,
}

impl XCell {
    pub fn text(s: impl Into<String>) -> XCell {
        XCell::Text(s.into())
    }

    /// Text, or an empty cell for nothing.
    pub fn opt_text(s: Option<impl Into<String>>) -> XCell {
        s.map_or(XCell::Empty, |s| XCell::Text(s.into()))
    }

    pub fn num(n: impl Into<f64>) -> XCell {
        XCell::Number(n.into())
    }

    pub fn opt_num(n: Option<impl Into<f64>>) -> XCell {
        n.map_or(XCell::Empty, |n| XCell::Number(n.into()))
    }

    pub fn opt_date(d: Option<NaiveDate>) -> XCell {
        d.map_or(XCell::Empty, XCell::Date)
    }
}

/// One sheet of a workbook: a header row (Vietnamese first) and the rows under it.
pub struct Sheet {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<XCell>>,
}

/// Writes sheets as an `.xlsx` workbook. Text cells are stored as text (a text cell is never
/// a formula, so no `'` is needed as in CSV) with the text number format, so a number typed
/// over an ID stays text too; dates are dates shown `dd/mm/yyyy`. The header row is bold,
/// frozen and filterable.
pub fn write_xlsx(sheets: &[Sheet]) -> anyhow::Result<Vec<u8>> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let head = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    let date = Format::new().set_num_format("dd/mm/yyyy");
    for sheet in sheets {
        let ws = book.add_worksheet();
        ws.set_name(&sheet.name)?;
        for (c, h) in sheet.header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &head)?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    XCell::Text(s) => {
                        ws.write_string_with_format(r, c, s, &text)?;
                    }
                    XCell::Number(n) => {
                        ws.write_number(r, c, *n)?;
                    }
                    XCell::Date(d) => {
                        let d = ExcelDateTime::from_ymd(
                            d.year().try_into()?,
                            d.month() as u8,
                            d.day() as u8,
                        )?;
                        ws.write_datetime_with_format(r, c, d, &date)?;
                    }
                    XCell::Empty => {}
                }
            }
        }
        if !sheet.header.is_empty() {
            ws.set_freeze_panes(1, 0)?;
            ws.autofilter(0, 0, sheet.rows.len() as u32, sheet.header.len() as u16 - 1)?;
        }
        ws.autofit();
    }
    Ok(book.save_to_buffer()?)
}

/// The commune's name beside its code ("" when the code is unknown).
pub fn commune_name(code: &str) -> XCell {
    XCell::text(
        crate::registry::AdminUnits::get()
            .commune(code)
            .map(|c| c.name.as_str())
            .unwrap_or(""),
    )
}

/// The province's name beside its code.
pub fn province_name(code: &str) -> XCell {
    XCell::text(
        crate::registry::AdminUnits::get()
            .province(code)
            .map(|p| p.name.as_str())
            .unwrap_or(""),
    )
}

/// `M`/`F` in words.
pub fn sex_name(code: &str, lang: Lang) -> XCell {
    XCell::text(match code {
        "M" => bi(lang, "Nam", "Male"),
        "F" => bi(lang, "Nữ", "Female"),
        other => other.to_string(),
    })
}

/// Headers `(vi, en)` in the report's language: Vietnamese, or "Vietnamese / English".
pub fn headers(cols: &[(&str, &str)], lang: Lang) -> Vec<String> {
    cols.iter().map(|(vi, en)| bi(lang, vi, en)).collect()
}

/// A printable page being put together: its blocks, in order, rendered by
/// `templates/reports/page.html` (which does all markup and escaping, see [`crate::html`]).
#[derive(Serialize)]
pub struct Html {
    title: String,
    subtitle: String,
    /// `A4` or `A4 landscape`.
    size: &'static str,
    blocks: Vec<Block>,
}

/// One part of a page.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Block {
    H2 {
        text: String,
    },
    H3 {
        text: String,
    },
    P {
        text: String,
    },
    Definitions {
        defs: Vec<(String, String)>,
    },
    Table {
        head: Vec<Cell>,
        rows: Vec<Row>,
    },
    Chart(Chart),
    /// A province's part, starting on a new sheet of paper.
    Section {
        blocks: Vec<Block>,
    },
}

#[derive(Serialize)]
struct Cell {
    text: String,
    /// Right-aligned (a number).
    n: bool,
}

#[derive(Serialize)]
struct Row {
    class: String,
    cells: Vec<Cell>,
}

impl Html {
    /// Starts a page; `landscape` for wide tables (the vaccination list has 14 columns).
    pub fn page(title: &str, subtitle: &str, landscape: bool) -> Html {
        Html {
            title: title.to_string(),
            subtitle: subtitle.to_string(),
            size: if landscape { "A4 landscape" } else { "A4" },
            blocks: Vec::new(),
        }
    }

    pub fn h2(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::H2 { text: text.into() });
        self
    }

    pub fn h3(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::H3 { text: text.into() });
        self
    }

    pub fn p(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::P { text: text.into() });
        self
    }

    /// A definition list: (term, definition).
    pub fn definitions(&mut self, defs: &[(String, String)]) -> &mut Self {
        self.blocks.push(Block::Definitions {
            defs: defs.to_vec(),
        });
        self
    }

    /// A bar chart made by [`bar_chart`].
    pub fn chart(&mut self, chart: Chart) -> &mut Self {
        self.blocks.push(Block::Chart(chart));
        self
    }

    /// A province's part of the page (printed from a new sheet), filled by `f`.
    pub fn section(&mut self, f: impl FnOnce(&mut Html)) -> &mut Self {
        let mut inner = Html::page("", "", false);
        f(&mut inner);
        self.blocks.push(Block::Section {
            blocks: inner.blocks,
        });
        self
    }

    /// A table; `numeric[i]` right-aligns column i. Each row may carry a CSS class.
    pub fn table(
        &mut self,
        head: &[String],
        numeric: &[bool],
        rows: &[(Vec<String>, &str)],
    ) -> &mut Self {
        let cells = |texts: &[String]| -> Vec<Cell> {
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| Cell {
                    text: t.clone(),
                    n: numeric.get(i).copied().unwrap_or(false),
                })
                .collect()
        };
        self.blocks.push(Block::Table {
            head: cells(head),
            rows: rows
                .iter()
                .map(|(texts, class)| Row {
                    class: class.to_string(),
                    cells: cells(texts),
                })
                .collect(),
        });
        self
    }

    /// The page as HTML.
    pub fn finish(self) -> anyhow::Result<String> {
        crate::html::render("reports/page.html", &self)
            .map_err(|e| anyhow::anyhow!("reports/page.html: {e:#}"))
    }
}

/// A share in percent with one decimal, empty when there is nothing to divide by.
pub fn percent(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| (n as f64 * 1000.0 / of as f64).round() / 10.0)
}

pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_escapes_what_it_shows_and_draws_its_chart() {
        let mut page = Html::page("Xã <A> & \"B\"", "1/2", true);
        page.h2("Lê 'Tèo'")
            .table(
                &["TT".into(), "Họ tên".into()],
                &[true, false],
                &[(vec!["1".into(), "<script>x</script>".into()], "overdue")],
            )
            .chart(bar_chart(
                "Số <mũi>",
                &["dtp".into()],
                &[Bars {
                    label: "quá hạn".into(),
                    fill: FILLS[0],
                    values: vec![(3.0, true)],
                }],
                None,
                "",
            ))
            .section(|s| {
                s.p("trong");
            });
        let html = page.finish().unwrap();
        assert!(html.contains("<title>Xã &lt;A&gt; &amp; &quot;B&quot;</title>"));
        assert!(
            html.contains("@page { size: A4 landscape;")
                && html.contains("<p class=\"meta\">1/2</p>")
        );
        assert!(html.contains("<h2>Lê &#39;Tèo&#39;</h2>\n"));
        assert!(html.contains("<tr class=\"overdue\"><td class=\"n\">1</td><td>&lt;script&gt;x&lt;/script&gt;</td></tr>\n"));
        assert!(
            html.contains("aria-label=\"Số &lt;mũi&gt;\"") && html.contains("fill=\"url(#hatch)\"")
        );
        assert!(html.contains("<title>quá hạn dtp: 3</title>"), "{html}");
        assert!(html.contains("<section class=\"province\">\n<p>trong</p>\n</section>\n"));
        assert!(html.ends_with("</body>\n</html>\n") && !html.contains("<script>"));
    }
}
