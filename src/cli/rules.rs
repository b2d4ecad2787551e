//! `vongdoi rules check` and `vongdoi forecast`: the rule files themselves, and what they say
//! about one citizen on a date.

use super::{load_rules, parse_date_arg, parse_pin, Format, LangArg};
use crate::clock::today_in_vietnam;
use crate::registry::PersonalId;
use crate::rules::{Forecast, RuleSet};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(super) enum RulesCommand {
    /// Validate a rule folder (default: --rules / VONGDOI_RULES, else the shipped rules).
    Check { dir: Option<PathBuf> },
    /// Every notice template rendered for a typical child, teenager and adults, in its
    /// sender's SMS, vi and en: what families will read (names and places are made up).
    Preview { dir: Option<PathBuf> },
    /// Convert the US CDC's CDSi supporting data (a folder of AntigenSupportingData-*.xml and
    /// ScheduleSupportingData.xml) into a rules folder; what cannot be expressed is listed as
    /// file:line and left out.
    FromCdsi { xml_dir: PathBuf, out_dir: PathBuf },
    /// Forecast the CDC's CDSi test cases (their CSV) with a rules folder converted by
    /// from-cdsi, and print the pass rate per vaccine group and every case that fails.
    TestCdsi {
        rules_dir: PathBuf,
        cases: PathBuf,
        /// Exit with status 1 when the rate outside influenza, COVID-19 and RSV is below this
        /// percentage.
        #[arg(long, value_name = "PERCENT")]
        fail_below: Option<f64>,
    },
}

impl RulesCommand {
    /// Needs no database: run before the store is opened. `rules` is the global --rules. When
    /// a database is there (`--database-url`/`DATABASE_URL` given, or `vongdoi.db` in the
    /// working directory), it also warns of communes whose reminders would name no place.
    pub(super) async fn run(&self, rules: Option<&Path>, database_url: &str) -> Result<()> {
        let dir = match self {
            RulesCommand::Check { dir } => dir,
            RulesCommand::FromCdsi { xml_dir, out_dir } => return from_cdsi(xml_dir, out_dir),
            RulesCommand::TestCdsi {
                rules_dir,
                cases,
                fail_below,
            } => return test_cdsi(rules_dir, cases, *fail_below),
            RulesCommand::Preview { dir } => {
                let rules = load_rules(dir.as_deref().or(rules))?;
                print!("{}", crate::rules::template_checks::preview(&rules));
                return Ok(());
            }
        };
        let dir = dir.as_deref().or(rules);
        let rules = load_rules(dir)?;
        println!(
            "quy tắc hợp lệ / rules are valid: {} ({} vắc xin/vaccines)",
            dir.map(|d| d.display().to_string())
                .unwrap_or_else(|| "embedded".into()),
            rules.vaccine_codes().count()
        );
        // Warnings only: the rules are valid whatever the registry holds.
        if let Some(url) = configured_database(database_url) {
            match facility_warnings(&url).await {
                Ok(lines) => lines.iter().for_each(|l| eprintln!("{l}")),
                Err(e) => eprintln!(
                    "cảnh báo / warning: không đọc được cơ sở dữ liệu để kiểm tra trạm y tế, công an xã / could not read the database to check facilities: {e:#}"
                ),
            }
        }
        Ok(())
    }
}

fn from_cdsi(xml_dir: &Path, out_dir: &Path) -> Result<()> {
    let (schedule, problems) = crate::rules::cdsi::xml::read_dir(xml_dir)
        .with_context(|| format!("cannot read the supporting data in {}", xml_dir.display()))?;
    if schedule.antigen.is_empty() {
        bail!(
            "{}: no AntigenSupportingData-*.xml here; give the folder of the CDC's supporting data",
            xml_dir.display()
        );
    }
    for p in &problems {
        eprintln!("{p}");
    }
    let files =
        crate::rules::cdsi::folder::write(&schedule, out_dir, &xml_dir.display().to_string())?;
    let series: usize = schedule.antigen.iter().map(|a| a.series.len()).sum();
    println!(
        "đã chuyển / converted: {} kháng nguyên/antigens, {series} phác đồ/series, {} vắc xin/vaccines → {} ({} tệp/files); {} chỗ không chuyển được/not converted",
        schedule.antigen.len(),
        schedule.cvx.len(),
        out_dir.display(),
        files.len(),
        problems.len()
    );
    Ok(())
}

fn test_cdsi(rules_dir: &Path, cases: &Path, fail_below: Option<f64>) -> Result<()> {
    use crate::rules::cdsi::{cases as cdc, folder};
    let schedule = folder::read(rules_dir)?;
    if schedule.antigen.is_empty() {
        bail!(
            "{}: no CDSi antigens here; convert the supporting data first: vongdoi rules from-cdsi XML_DIR {}",
            rules_dir.display(),
            rules_dir.display()
        );
    }
    let all = cdc::read(cases)?;
    let started = std::time::Instant::now();
    let report = cdc::run(&schedule, &all)?;
    for f in &report.failures {
        println!("KHÔNG ĐẠT/FAIL {f}");
    }
    println!(
        "{} ca/cases, {:.2} s:",
        all.len(),
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.summary());
    let (passed, routine) = report.routine();
    let rate = 100.0 * passed as f64 / routine.max(1) as f64;
    if let Some(min) = fail_below {
        if rate < min {
            bail!("{rate:.1} % of the routine cases pass, below --fail-below {min}");
        }
    }
    Ok(())
}

/// The database to read, if one is configured and there: a URL other than the default, or
/// the default file in the working directory. A SQLite file that does not exist is not
/// created by a check.
fn configured_database(url: &str) -> Option<String> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        return Path::new(path).exists().then(|| url.to_string());
    }
    (url != crate::store::DEFAULT_DATABASE_URL).then(|| url.to_string())
}

async fn facility_warnings(url: &str) -> Result<Vec<String>> {
    // Opened, not migrated: a check changes nothing (an older schema fails here, with a hint).
    let store = Store::open(url).await?;
    let lines = super::facilities::missing_facilities(&store)
        .await
        .context("vongdoi migrate brings an older database up to date");
    store.close().await;
    lines
}

#[derive(Args)]
pub(super) struct ForecastArgs {
    pin: String,
    /// The day to evaluate (default: today in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<NaiveDate>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Table headings: vi (default) or en.
    #[arg(long, value_enum, default_value_t = LangArg::Vi)]
    lang: LangArg,
}

impl ForecastArgs {
    pub(super) async fn run(self, store: &Store, rules: &RuleSet) -> Result<()> {
        let pin = parse_pin(&self.pin)?;
        let as_of = self.as_of.unwrap_or_else(today_in_vietnam);
        let forecast = forecast_of(store, rules, pin, as_of).await?;
        match self.format {
            Format::Json => println!("{}", forecast.to_json(pin.as_str(), as_of)),
            Format::Table => {
                println!("{} — {as_of}", pin);
                print!("{}", forecast.to_table(self.lang.lang()));
            }
        }
        Ok(())
    }
}

/// One citizen's forecast from what the registry holds.
pub async fn forecast_of(
    store: &Store,
    rules: &RuleSet,
    pin: PersonalId,
    as_of: NaiveDate,
) -> Result<Forecast> {
    let Some(stored) = store.citizen(pin).await? else {
        bail!(
            "không có công dân {} / no citizen with personal ID {}",
            pin.masked(),
            pin.masked()
        );
    };
    Ok(crate::schedule::forecast_of_stored(store, rules, &stored, as_of).await?)
}
