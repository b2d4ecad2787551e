//! The command line (docs/interface.md). Thin: parse, open the store, call the library, print.
//!
//! This file holds the top-level parser, the [`Command`] enum that names the groups, what the
//! groups share (argument parsers, rule loading, output formats, masking) and the dispatch.
//! Each group lives in its own file with its clap arguments and its `run`:
//!
//! - [`database`]: `migrate`, `summary`.
//! - [`demo`]: `demo`, the synthetic registry.
//! - [`exchange`]: `import`, `export` (CSV).
//! - [`citizen`]: `citizen show | change-id | opt-out`.
//! - [`rules`]: `rules check`, `forecast`.
//! - [`service`]: `run` (one scheduler pass), `serve` (the long-running service).
//! - [`messages`]: `messages`, `messages retry`.
//! - [`report`]: `report vaccination | id-cards | enrolment | coverage`.
//! - [`school_places`]: `school-places import | list`, the places the enrolment forecast uses.
//! - [`facilities`]: `facilities import | list`, the health stations, police posts and schools
//!   reminders name.
//! - [`keys`], [`audit`]: the operator's side of access control.

mod alerts;
mod audit;
mod citizen;
mod database;
mod demo;
mod dry_run;
mod exchange;
mod facilities;
mod inbox;
mod keys;
mod messages;
mod report;
mod rules;
mod school_places;
mod service;
mod users;

pub use rules::forecast_of;

use crate::exchange::table::RowProblem;
use crate::registry::{AdminUnits, PersonalId};
use crate::rules::{CheckContext, Lang, RuleSet};
use crate::store::{Store, DEFAULT_DATABASE_URL};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "vongdoi",
    version,
    about = "vòng đời — nhắc tiêm chủng, căn cước và nhập học từ sổ dân cư / lifecycle reminders from the population registry"
)]
pub struct Cli {
    /// Database: sqlite://FILE (default, created on first use) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    /// Rule folder (default: the rules shipped inside the binary).
    #[arg(long, env = "VONGDOI_RULES", global = true)]
    rules: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start; boxing the large arguments would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Create or update the database schema (done automatically by every command).
    Migrate,
    /// Fill the database with a realistic synthetic registry.
    Demo(demo::DemoArgs),
    /// Import a CSV file (docs/interface.md formats); bad rows go to the error report, good rows land.
    Import(exchange::ImportArgs),
    /// Write the registry out in the import format.
    Export(exchange::ExportArgs),
    /// One citizen: show, change personal ID, opt out of a channel.
    Citizen {
        #[command(subcommand)]
        command: citizen::CitizenCommand,
    },
    /// Counts: citizens, households, contacts, records, largest communes.
    Summary,
    /// Rule files: `rules check [DIR]` validates them and reports `file:line: problem`.
    Rules {
        #[command(subcommand)]
        command: rules::RulesCommand,
    },
    /// One scheduler pass for a day: brings the event ledger up to date, queues and delivers
    /// the notices that fall due (SMS and email; files under ./outbox by default).
    Run(service::RunArgs),
    /// Every lifecycle item of one citizen on a date: vaccinations, ID card, school.
    Forecast(rules::ForecastArgs),
    /// The long-running service: scheduled runs, delivery workers, HTTP (/healthz, delivery
    /// reports, API) and Prometheus /metrics on its own port. Stops cleanly on SIGTERM.
    Serve(service::ServeArgs),
    /// What was sent, to whom (masked), what failed; `messages retry ID` sends a dead letter
    /// again.
    Messages(messages::MessagesArgs),
    /// Staff outputs: vaccination and ID-card lists, coverage, enrolment forecasts.
    Report {
        #[command(subcommand)]
        kind: report::ReportKind,
    },
    /// School places for the enrolment forecast: import a CSV or xlsx file, list what is
    /// stored.
    SchoolPlaces {
        #[command(subcommand)]
        command: school_places::SchoolPlacesCommand,
    },
    /// Health stations, police posts and schools of each commune, which reminders name:
    /// import a CSV file, list what is stored.
    Facilities {
        #[command(subcommand)]
        command: facilities::FacilitiesCommand,
    },
    /// Outbreak alerts: list, show one (steps, preview, reach), stop or restart a family's
    /// alerts. Drafting and approving take two people's accounts: `/staff/alerts` or the API.
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
    },
    /// What families texted back and what was done with each (opt-out, reported-dose,
    /// for-staff…), newest first; numbers masked. Staff answer at /staff/inbox.
    Inbox {
        #[arg(long)]
        commune: Option<String>,
        /// open, done, handled or all
        #[arg(long, default_value = "all")]
        status: String,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// API keys: create (shown once, stored as a SHA-256 hash), list, revoke.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// People's accounts for the staff pages: create (a one-time password), list, disable,
    /// enable, reset-password.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Who read or changed whose data: the audit trail of the API and staff pages.
    Audit(audit::AuditArgs),
}

pub async fn run(cli: Cli) -> Result<()> {
    // Checking rules needs no database; one that is there is read, never migrated.
    if let Command::Rules { command } = &cli.command {
        return command.run(cli.rules.as_deref(), &cli.database_url).await;
    }
    let rules = load_rules(cli.rules.as_deref())?;
    let store = Arc::new(Store::connect(&cli.database_url).await?);
    let result = dispatch(&store, rules, cli.command).await;
    // Bounded like the rest of a stop: connections of tasks aborted after SIGTERM close with
    // them, and a database that stopped answering must not keep the process alive.
    if tokio::time::timeout(std::time::Duration::from_secs(5), store.close())
        .await
        .is_err()
    {
        tracing::warn!("database connections did not close within 5 s; exiting anyway");
    }
    result
}

async fn dispatch(store: &Arc<Store>, rules: RuleSet, command: Command) -> Result<()> {
    match command {
        Command::Rules { .. } => unreachable!("handled before opening the database"),
        Command::Migrate => database::migrate(store),
        Command::Summary => database::print_summary(store).await,
        Command::Demo(args) => args.run(store).await,
        Command::Import(args) => args.run(store, &rules).await,
        Command::Export(args) => args.run(store).await,
        Command::Citizen { command } => command.run(store).await,
        Command::Forecast(args) => args.run(store, &rules).await,
        Command::Run(args) => args.run(store.clone(), &rules).await,
        Command::Serve(args) => args.run(store.clone(), rules).await,
        Command::Messages(args) => args.run(store).await,
        Command::Report { kind } => kind.run(store.clone(), &rules).await,
        Command::SchoolPlaces { command } => command.run(store).await,
        Command::Facilities { command } => command.run(store).await,
        Command::Alerts { command } => command.run(store, &rules).await,
        Command::Inbox {
            commune,
            status,
            limit,
            format,
        } => inbox::run(store, commune, &status, limit, format).await,
        Command::Keys { command } => command.run(store).await,
        Command::Users { command } => command.run(store).await,
        Command::Audit(args) => args.run(store).await,
    }
}

/// Table (for people) or JSON (for programs), where a command prints records.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Vi,
    En,
}

impl LangArg {
    fn lang(self) -> Lang {
        match self {
            LangArg::Vi => Lang::Vi,
            LangArg::En => Lang::En,
        }
    }
}

/// The area `school-places list` and `facilities list` show.
#[derive(clap::Args)]
struct ListArea {
    /// A province (2-digit code); repeatable. Default: everything stored.
    #[arg(long = "province")]
    provinces: Vec<String>,
    /// A commune (5-digit code); repeatable.
    #[arg(long = "commune")]
    communes: Vec<String>,
}

impl ListArea {
    fn resolve(&self) -> Result<crate::reports::Area> {
        crate::reports::Area::resolve(&self.provinces, &self.communes)
    }
}

/// What an import could not store, on standard error: `FILE:LINE: field: reason` a row.
fn print_problems(label: &str, problems: &[RowProblem]) {
    for p in problems {
        eprintln!("{}", p.at(label));
    }
}

fn parse_date_arg(s: &str) -> Result<NaiveDate, String> {
    crate::registry::dates::parse_date(s)
}

fn parse_pin(s: &str) -> Result<PersonalId> {
    PersonalId::parse(s).with_context(|| {
        format!(
            "số định danh không hợp lệ / not a valid personal ID: {}",
            crate::registry::personal_id::mask_raw(s)
        )
    })
}

/// The last 3 characters of a phone number, the domain of an email address.
fn mask_address(a: &str) -> String {
    match a.split_once('@') {
        Some((_, domain)) => format!("…@{domain}"),
        None => format!("…{}", &a[a.len().saturating_sub(3)..]),
    }
}

/// What rule files are checked against: the embedded 2025 provinces and communes.
fn check_context() -> Result<CheckContext> {
    let units = AdminUnits::get();
    Ok(CheckContext {
        province_codes: units.provinces().iter().map(|p| p.code.clone()).collect(),
        commune_codes: units.communes().iter().map(|c| c.code.clone()).collect(),
        // The limit the deliveries will apply.
        sms_segment_limit: crate::delivery::config::sms_segment_limit_from_env()?,
    })
}

/// Loads the rule set every command works with. Rules that fail the check stop the command:
/// nothing runs on a schedule nobody can vouch for.
pub fn load_rules(dir: Option<&Path>) -> Result<RuleSet> {
    match dir {
        None => Ok(RuleSet::embedded()),
        Some(dir) => RuleSet::load_dir(dir, &check_context()?).map_err(|errors| {
            for e in &errors {
                eprintln!("{e}");
            }
            anyhow::anyhow!(
                "{} lỗi trong tệp quy tắc / problem(s) in the rule files of {}: fix them (vongdoi rules check {})",
                errors.len(),
                dir.display(),
                dir.display()
            )
        }),
    }
}

fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, còn/eta {{eta}})"
        ))
        .expect("valid template"),
    );
    bar
}
