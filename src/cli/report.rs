//! `vongdoi report …`: the staff outputs — vaccination and ID-card lists, enrolment forecasts,
//! coverage — for an area and a date, as CSV, xlsx (for Excel), JSON or printable HTML.

use super::{parse_date_arg, LangArg};
use crate::clock::today_in_vietnam;
use crate::reports::{self, coverage::CohortBy, Area as ReportArea, ItemFilter};
use crate::rules::{Lang, RuleSet, Status};
use crate::store::Store;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Subcommand)]
pub(super) enum ReportKind {
    /// Children due or overdue for a vaccination, with the guardian to call; most overdue first
    /// (one row per dose), or `--by child`: one entry per child with all their doses, this
    /// week's calls before the follow-up list.
    Vaccination {
        #[command(flatten)]
        common: ReportCommon,
        #[command(flatten)]
        items: ItemArgs,
        /// `dose` (one row per dose) or `child` (one entry per child).
        #[arg(long, value_enum, default_value = "dose")]
        by: ByArg,
    },
    /// Citizens whose identity-card milestone (14, 25, 40, 60) is due or overdue.
    IdCards {
        #[command(flatten)]
        common: ReportCommon,
        #[command(flatten)]
        items: ItemArgs,
    },
    /// Children entering kindergarten-5, grade 1, 6 and 10 by commune and school year.
    Enrolment {
        #[command(flatten)]
        common: ReportCommon,
        /// How many school years, from the next one to open.
        #[arg(long, default_value_t = 6)]
        years: u32,
        /// School places: CSV or xlsx `commune_code,level,capacity[,school_year][,school]`
        /// (docs/interface.md). Default: the places stored by `vongdoi school-places import`
        /// or an upload.
        #[arg(long)]
        capacity: Option<PathBuf>,
    },
    /// Share of children vaccinated by their first (and second) birthday, by commune and cohort.
    Coverage {
        #[command(flatten)]
        common: ReportCommon,
        /// Birth cohorts by year (default) or month.
        #[arg(long, value_enum, default_value_t = CohortArg::Year)]
        cohort: CohortArg,
        /// How many cohorts, the latest being the one of children turning one on the report
        /// date (default: 3 years or 12 months).
        #[arg(long)]
        cohorts: Option<u32>,
        /// In the json form, list every child counted (masked ID) and what each received.
        #[arg(long)]
        explain: bool,
    },
}

#[derive(Args)]
pub(super) struct ReportCommon {
    /// A province (2-digit code); repeatable. Default: the whole registry.
    #[arg(long = "province")]
    provinces: Vec<String>,
    /// A commune (5-digit code); repeatable. Default: the whole registry.
    #[arg(long = "commune")]
    communes: Vec<String>,
    /// The report date (default: today in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<NaiveDate>,
    /// csv (UTF-8 with BOM, stable column names), xlsx (Excel: Vietnamese headers, IDs as text;
    /// needs --output or a redirected standard output), json (with what was counted) or html
    /// (printable A4).
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    format: ReportFormat,
    /// Headings: vi (default) or en (Vietnamese first, then English).
    #[arg(long, value_enum, default_value_t = LangArg::Vi)]
    lang: LangArg,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub(super) struct ItemArgs {
    /// Which statuses to list (repeatable): due, overdue. Default: both.
    #[arg(long = "status", value_enum)]
    statuses: Vec<DueStatus>,
    /// Also list upcoming or eligible items whose due date comes within this many days.
    #[arg(long)]
    due_within: Option<u32>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DueStatus {
    Due,
    Overdue,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum ByArg {
    Dose,
    Child,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Csv,
    Xlsx,
    Json,
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum CohortArg {
    Year,
    Month,
}

impl ItemArgs {
    fn filter(&self) -> ItemFilter {
        let mut statuses: Vec<Status> = self
            .statuses
            .iter()
            .map(|s| match s {
                DueStatus::Due => Status::Due,
                DueStatus::Overdue => Status::Overdue,
            })
            .collect();
        if statuses.is_empty() {
            statuses = vec![Status::Due, Status::Overdue];
        }
        statuses.dedup();
        ItemFilter {
            statuses,
            due_within: self.due_within,
        }
    }
}

/// The forms of a report (see [`write_report`]).
struct Forms<C, X, J, H> {
    csv: C,
    xlsx: X,
    json: J,
    html: H,
}

/// One of the forms of a report, written where `--output` says.
fn write_report<C, X, J, H>(common: &ReportCommon, forms: Forms<C, X, J, H>) -> Result<()>
where
    C: FnOnce(&mut dyn Write, Lang) -> Result<()>,
    X: FnOnce(Lang) -> Result<Vec<u8>>,
    J: FnOnce(Lang) -> serde_json::Value,
    H: FnOnce(Lang) -> Result<String>,
{
    let Forms {
        csv,
        xlsx,
        json,
        html,
    } = forms;
    let lang = common.lang.lang();
    if matches!(common.format, ReportFormat::Xlsx)
        && common.output.is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
    {
        anyhow::bail!("xlsx là tệp nhị phân: dùng --output TỆP.xlsx / xlsx is binary: use --output FILE.xlsx (or redirect standard output)");
    }
    let mut out: Box<dyn Write> = match &common.output {
        Some(path) => Box::new(BufWriter::new(File::create(path).with_context(|| {
            format!("không tạo được tệp / cannot create {}", path.display())
        })?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    match common.format {
        ReportFormat::Csv => csv(&mut out, lang)?,
        ReportFormat::Xlsx => out.write_all(&xlsx(lang)?)?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &json(lang))?;
            writeln!(out)?;
        }
        ReportFormat::Html => out.write_all(html(lang)?.as_bytes())?,
    }
    out.flush()?;
    if let Some(path) = &common.output {
        eprintln!("đã ghi / written: {}", path.display());
    }
    Ok(())
}

impl ReportKind {
    pub(super) async fn run(self, store: Arc<Store>, rules: &RuleSet) -> Result<()> {
        let area_of = |c: &ReportCommon| ReportArea::resolve(&c.provinces, &c.communes);
        let as_of_of = |c: &ReportCommon| c.as_of.unwrap_or_else(today_in_vietnam);
        match self {
            ReportKind::Vaccination { common, items, by } => {
                let r = reports::vaccination::build(
                    store,
                    rules,
                    area_of(&common)?,
                    as_of_of(&common),
                    items.filter(),
                    &crate::registry::Scope::national(),
                )
                .await?;
                if by == ByArg::Child {
                    use reports::worklist;
                    let children = worklist::by_child(&r);
                    let notes = worklist::Annotations::default();
                    return write_report(
                        &common,
                        Forms {
                            csv: |w: &mut dyn Write, l| worklist::write_csv(&children, w, l),
                            xlsx: |l| worklist::to_xlsx(&children, r.as_of, l),
                            json: |l| worklist::to_json(&r, &children, l),
                            html: |l| worklist::to_html(&r, &children, l, &notes),
                        },
                    );
                }
                write_report(
                    &common,
                    Forms {
                        csv: |w: &mut dyn Write, l| r.write_csv(w, l),
                        xlsx: |l| r.to_xlsx(l),
                        json: |l| r.to_json(l),
                        html: |l| r.to_html(l),
                    },
                )
            }
            ReportKind::IdCards { common, items } => {
                let r = reports::id_cards::build(
                    store,
                    rules,
                    area_of(&common)?,
                    as_of_of(&common),
                    items.filter(),
                    &crate::registry::Scope::national(),
                )
                .await?;
                write_report(
                    &common,
                    Forms {
                        csv: |w: &mut dyn Write, l| r.write_csv(w, l),
                        xlsx: |l| r.to_xlsx(l),
                        json: |l| r.to_json(l),
                        html: |l| r.to_html(l),
                    },
                )
            }
            ReportKind::Enrolment {
                common,
                years,
                capacity,
            } => {
                use reports::enrolment::{stored_places, Capacity, PlacesSource};
                let area = area_of(&common)?;
                // A file given wins; else the places uploaded (`vongdoi school-places import`).
                let capacity = match &capacity {
                    Some(path) => Some((
                        PlacesSource::File(path.display().to_string()),
                        Capacity::read(path)?,
                    )),
                    None => stored_places(&store, &area).await?,
                };
                let r = reports::enrolment::build(&store, area, as_of_of(&common), years, capacity)
                    .await?;
                write_report(
                    &common,
                    Forms {
                        csv: |w: &mut dyn Write, l| r.write_csv(w, l),
                        xlsx: |l| r.to_xlsx(l),
                        json: |l| r.to_json(l),
                        html: |l| r.to_html(l),
                    },
                )
            }
            ReportKind::Coverage {
                common,
                cohort,
                cohorts,
                explain,
            } => {
                let (by, default) = match cohort {
                    CohortArg::Year => (CohortBy::Year, 3),
                    CohortArg::Month => (CohortBy::Month, 12),
                };
                let r = reports::coverage::build(
                    store,
                    rules,
                    area_of(&common)?,
                    as_of_of(&common),
                    by,
                    cohorts.unwrap_or(default),
                    explain,
                )
                .await?;
                write_report(
                    &common,
                    Forms {
                        csv: |w: &mut dyn Write, l| r.write_csv(w, l),
                        xlsx: |l| r.to_xlsx(l),
                        json: |l| r.to_json(l),
                        html: |l| r.to_html(l),
                    },
                )
            }
        }
    }
}
