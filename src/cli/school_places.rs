//! `vongdoi school-places import FILE` and `vongdoi school-places list`: the school places the
//! enrolment forecast sets against the children entering (issue #12 item 8), from the operator's
//! side. The same file as the enrolment page's upload and `PUT /api/school-places` (CSV or
//! xlsx, see [`crate::reports::places`]); the operator's area is the whole country.

use super::{print_problems, ListArea};
use crate::exchange::table::read_file;
use crate::registry::AdminUnits;
use crate::reports::enrolment::school_year_name;
use crate::reports::places;
use crate::store::Store;
use anyhow::{bail, Result};
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(super) enum SchoolPlacesCommand {
    /// Store the places of a CSV or xlsx file `commune_code,level,capacity[,school_year]
    /// [,school]` (Vietnamese headers accepted). Rows of one commune, school, level and year add
    /// up; the file replaces the places of every commune it names. Bad rows are printed as
    /// FILE:LINE: field: reason and the good rows stored.
    Import {
        file: PathBuf,
        /// Who uploaded, as the page and `list` show it.
        #[arg(long = "by", default_value = "cli")]
        by: String,
    },
    /// The stored places: per commune, school, level and school year, with who uploaded them.
    List {
        #[command(flatten)]
        area: ListArea,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum ListFormat {
    Table,
    Json,
    /// The import format (with `commune_name` and who uploaded): list → import is exact.
    Csv,
}

impl SchoolPlacesCommand {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        match self {
            SchoolPlacesCommand::Import { file, by } => {
                let (label, bytes) = read_file(&file)?;
                let parsed = places::parse(&bytes).map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
                let up = places::upload(store, parsed, |_| Ok(()), &by, chrono::Utc::now()).await?;
                print_problems(&label, &up.problems);
                println!(
                    "{label}: {} dòng đã lưu cho {} xã, {} vấn đề / {} rows stored for {} communes, {} problems",
                    up.stored,
                    up.communes.len(),
                    up.problems.len(),
                    up.stored,
                    up.communes.len(),
                    up.problems.len()
                );
                if up.stored == 0 && !up.problems.is_empty() {
                    bail!("{label}: không dòng nào được lưu / no row was stored");
                }
                Ok(())
            }
            SchoolPlacesCommand::List { area, format } => {
                let area = area.resolve()?;
                let rows = store.school_places(area.communes()).await?;
                let units = AdminUnits::get();
                let name = |c: &str| units.commune(c).map(|u| u.name.clone()).unwrap_or_default();
                match format {
                    ListFormat::Json => {
                        let list: Vec<serde_json::Value> = rows
                            .iter()
                            .map(|r| {
                                let mut v = serde_json::to_value(r).expect("plain row");
                                v["commune_name"] = name(&r.commune_code).into();
                                v
                            })
                            .collect();
                        println!("{}", serde_json::to_string_pretty(&list)?);
                    }
                    ListFormat::Csv => crate::reports::output::write_csv(
                        std::io::stdout().lock(),
                        &[
                            "commune_code",
                            "commune_name",
                            "school",
                            "level",
                            "school_year",
                            "capacity",
                            "uploaded_by",
                            "uploaded_at",
                        ],
                        rows.iter().map(|r| {
                            vec![
                                r.commune_code.clone(),
                                name(&r.commune_code),
                                r.school.clone(),
                                r.level.clone(),
                                r.school_year.map(|y| y.to_string()).unwrap_or_default(),
                                r.places.to_string(),
                                r.uploaded_by.clone(),
                                r.uploaded_at.to_rfc3339(),
                            ]
                        }),
                    )?,
                    ListFormat::Table => {
                        if rows.is_empty() {
                            println!("chưa có số chỗ học / no school places stored");
                        }
                        for r in &rows {
                            println!(
                                "{} {:<24} {:<30} {:<15} {:<10} {:>6}  {} {}",
                                r.commune_code,
                                name(&r.commune_code),
                                if r.school.is_empty() { "-" } else { &r.school },
                                r.level,
                                r.school_year
                                    .map(school_year_name)
                                    .unwrap_or_else(|| "mọi năm/every".into()),
                                r.places,
                                r.uploaded_by,
                                r.uploaded_at
                                    .with_timezone(&crate::clock::vietnam())
                                    .format("%Y-%m-%d %H:%M")
                            );
                        }
                    }
                }
                Ok(())
            }
        }
    }
}
