//! `vongdoi facilities import FILE` and `vongdoi facilities list`: each commune's health
//! station, police post and schools (issue #13 item 1), which reminders name with address,
//! phone, hours and next session. The same file as `PUT /api/facilities` and the facilities
//! page's upload ([`crate::exchange::facilities`]); the operator's area is the whole country.
//! Also the warning `rules check` prints for communes whose reminders would name no place.

use super::{print_problems, ListArea};
use crate::api::facilities::stored_json;
use crate::exchange::facilities as file;
use crate::exchange::table::read_file;
use crate::registry::{AdminUnits, FacilityKind};
use crate::store::Store;
use anyhow::{bail, Result};
use clap::{Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Subcommand)]
pub(super) enum FacilitiesCommand {
    /// Store the facilities of a CSV file `commune_code,kind,name,address,phone,hours,
    /// session_days` (kind: health, police or school; Vietnamese headers accepted). A health or
    /// police row replaces its commune's station or post; schools are kept apart by name. Bad
    /// rows are printed as FILE:LINE: field: reason and the good rows stored.
    Import {
        file: PathBuf,
        /// Who made the change, as the page and `list` show it.
        #[arg(long = "by", default_value = "cli")]
        by: String,
    },
    /// The stored facilities, per commune: kind, name, address, phone, hours, session days.
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
    /// The import format (with `commune_name` last): list → import gives the same facilities.
    Csv,
}

/// "12.345": thousands grouped as Vietnamese write them.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

impl FacilitiesCommand {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        match self {
            FacilitiesCommand::Import { file, by } => {
                let (label, bytes) = read_file(&file)?;
                let parsed = file::parse(&bytes).map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
                let up = file::upload(store, parsed, |_| Ok(()), &by, chrono::Utc::now()).await?;
                print_problems(&label, &up.problems);
                println!(
                    "{label}: {} cơ sở đã lưu ({} mới hoặc đổi) cho {} xã, {} vấn đề / {} facilities stored ({} new or changed) for {} communes, {} problems",
                    up.stored,
                    up.changed,
                    up.communes.len(),
                    up.problems.len(),
                    up.stored,
                    up.changed,
                    up.communes.len(),
                    up.problems.len()
                );
                if up.stored == 0 && !up.problems.is_empty() {
                    bail!("{label}: không dòng nào được lưu: sửa các dòng trên rồi nhập lại / no row was stored: fix the lines above and import again");
                }
                Ok(())
            }
            FacilitiesCommand::List { area, format } => {
                let area = area.resolve()?;
                let rows = store.facility_rows(area.communes()).await?;
                let units = AdminUnits::get();
                let name = |c: &str| units.commune(c).map(|u| u.name.clone()).unwrap_or_default();
                match format {
                    ListFormat::Json => {
                        let list: Vec<serde_json::Value> = rows
                            .iter()
                            .map(|r| {
                                let mut v = stored_json(r);
                                v["commune_name"] = name(&r.facility.commune_code).into();
                                v
                            })
                            .collect();
                        println!("{}", serde_json::to_string_pretty(&list)?);
                    }
                    ListFormat::Csv => {
                        let all: Vec<_> = rows.into_iter().map(|r| r.facility).collect();
                        file::write_csv(std::io::stdout().lock(), &all)?;
                    }
                    ListFormat::Table => {
                        if rows.is_empty() {
                            println!("chưa có cơ sở nào (vongdoi facilities import FILE) / no facilities stored");
                        }
                        let mut last = "";
                        for r in &rows {
                            let f = &r.facility;
                            if f.commune_code != last {
                                println!("{} {}", f.commune_code, name(&f.commune_code));
                                last = &f.commune_code;
                            }
                            let sessions = f.session_days.describe(false);
                            println!(
                                "  {:<7} {} — {} — {} — {}{}",
                                f.kind.as_str(),
                                f.name,
                                if f.address.is_empty() {
                                    "-"
                                } else {
                                    &f.address
                                },
                                if f.phone.is_empty() { "-" } else { &f.phone },
                                if f.hours.is_empty() { "-" } else { &f.hours },
                                if sessions.is_empty() {
                                    String::new()
                                } else {
                                    format!(" — tiêm/sessions: {sessions}")
                                }
                            );
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// At most this many communes are named; the rest are counted.
const WARNINGS_SHOWN: usize = 20;

/// The warning lines for communes with living citizens and no health station or no police
/// post (their reminders would name no place), largest first, at most [`WARNINGS_SHOWN`] and
/// then a count of the rest.
pub(super) async fn missing_facilities(store: &Store) -> Result<Vec<String>> {
    let mut missing: BTreeMap<String, (i64, Vec<FacilityKind>)> = BTreeMap::new();
    for kind in [FacilityKind::Health, FacilityKind::Police] {
        for (commune, citizens) in store.communes_without(kind).await? {
            let entry = missing.entry(commune).or_insert((citizens, Vec::new()));
            entry.1.push(kind);
        }
    }
    let mut communes: Vec<(String, i64, Vec<FacilityKind>)> = missing
        .into_iter()
        .map(|(c, (n, kinds))| (c, n, kinds))
        .collect();
    communes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let units = AdminUnits::get();
    let mut lines: Vec<String> = communes
        .iter()
        .take(WARNINGS_SHOWN)
        .map(|(code, citizens, kinds)| {
            let (vi, en): (Vec<&str>, Vec<&str>) = kinds
                .iter()
                .map(|k| match k {
                    FacilityKind::Health => ("trạm y tế", "no health station"),
                    _ => ("công an xã", "no police post"),
                })
                .unzip();
            format!(
                "cảnh báo / warning: xã {code} {}: {} công dân, chưa có {} (vongdoi facilities import) / {}",
                units.commune(code).map_or("", |c| c.name.as_str()),
                grouped(*citizens),
                vi.join(", "),
                en.join(", ")
            )
        })
        .collect();
    if communes.len() > WARNINGS_SHOWN {
        let more = communes.len() - WARNINGS_SHOWN;
        lines.push(format!(
            "cảnh báo / warning: và {more} xã khác chưa có trạm y tế hoặc công an xã / and {more} more communes without a health station or police post (vongdoi facilities list)"
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped_with_dots() {
        assert_eq!(super::grouped(12_345), "12.345");
        assert_eq!(super::grouped(999), "999");
        assert_eq!(super::grouped(1_000_000), "1.000.000");
    }
}
