//! The command line (docs/interface.md). Thin: parse, open the store, call the library, print.

use crate::clock::today_in_vietnam;
use crate::demo::{self, Area, DemoOptions};
use crate::exchange::export::export_citizens;
use crate::exchange::import::{ErrorReport, ImportKind, Importer};
use crate::registry::{AdminUnits, PersonalId};
use crate::reports::{self, coverage::CohortBy, Area as ReportArea, ItemFilter};
use crate::rules::{CheckContext, Forecast, Lang, RuleSet, Status};
use crate::store::{Channel, Store, DEFAULT_DATABASE_URL};
use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
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
    Demo(DemoArgs),
    /// Import a CSV file (docs/interface.md formats); bad rows go to the error report, good rows land.
    Import {
        kind: ImportKind,
        file: PathBuf,
        /// Write every problem as CSV `line,personal_id,field,reason` here.
        #[arg(long)]
        errors: Option<PathBuf>,
        /// Print phones, emails and personal IDs in the problems shown on the terminal
        /// unmasked (by default masked: terminal output ends up in cron logs).
        #[arg(long)]
        show_names: bool,
    },
    /// Write the registry out in the import format.
    Export { what: ExportWhat, file: PathBuf },
    /// One citizen: show, change personal ID, opt out of a channel.
    Citizen {
        #[command(subcommand)]
        command: CitizenCommand,
    },
    /// Counts: citizens, households, contacts, records, largest communes.
    Summary,
    /// Rule files: `rules check [DIR]` validates them and reports `file:line: problem`.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// One scheduler pass for a day: brings the event ledger up to date, queues and delivers
    /// the notices that fall due (SMS and email; files under ./outbox by default).
    Run(RunArgs),
    /// Every lifecycle item of one citizen on a date: vaccinations, ID card, school.
    Forecast {
        pin: String,
        /// The day to evaluate (default: today in Asia/Ho_Chi_Minh).
        #[arg(long, value_parser = parse_date_arg)]
        as_of: Option<NaiveDate>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Table headings: vi (default) or en.
        #[arg(long, value_enum, default_value_t = LangArg::Vi)]
        lang: LangArg,
    },
    /// The long-running service: scheduled runs, delivery workers, HTTP (/healthz, delivery
    /// reports, API) and Prometheus /metrics on its own port. Stops cleanly on SIGTERM.
    Serve(ServeArgs),
    /// What was sent, to whom (masked), what failed; `messages retry ID` sends a dead letter
    /// again.
    Messages {
        #[command(subcommand)]
        command: Option<MessagesCommand>,
        #[command(flatten)]
        filter: MessageFilterArgs,
    },
    /// Staff outputs: vaccination and ID-card lists, coverage, enrolment forecasts.
    Report {
        #[command(subcommand)]
        kind: ReportKind,
    },
    /// API keys: create (shown once, stored as a SHA-256 hash), list, revoke.
    Keys {
        #[command(subcommand)]
        command: crate::api::cli::KeysCommand,
    },
    /// Who read or changed whose data: the audit trail of the API and staff pages.
    Audit(crate::api::cli::AuditArgs),
}

#[derive(Subcommand)]
enum ReportKind {
    /// Children due or overdue for a vaccination, with the guardian to call; most overdue first.
    Vaccination {
        #[command(flatten)]
        common: ReportCommon,
        #[command(flatten)]
        items: ItemArgs,
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
        /// School places: CSV `commune_code,level,capacity[,school_year]`.
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
struct ReportCommon {
    /// A province (2-digit code); repeatable. Default: the whole registry.
    #[arg(long = "province")]
    provinces: Vec<String>,
    /// A commune (5-digit code); repeatable. Default: the whole registry.
    #[arg(long = "commune")]
    communes: Vec<String>,
    /// The report date (default: today in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<NaiveDate>,
    /// csv (UTF-8 with BOM, for Excel), json (with what was counted) or html (printable A4).
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
struct ItemArgs {
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

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Csv,
    Json,
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
enum CohortArg {
    Year,
    Month,
}

#[derive(Args)]
struct RunArgs {
    /// The day to run for (default: today in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<NaiveDate>,
    /// Print what would be sent; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the messages' text (children's names) and full addresses; by default the output
    /// names nobody, since it ends up in cron logs.
    #[arg(long)]
    show_names: bool,
}

#[derive(Args)]
struct ServeArgs {
    /// Address of the HTTP listener (health, delivery reports, API).
    #[arg(long, env = "VONGDOI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Address of the Prometheus /metrics listener.
    #[arg(long, env = "VONGDOI_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    metrics_listen: std::net::SocketAddr,
    /// When runs start: cron, six fields with seconds first, in Asia/Ho_Chi_Minh time.
    #[arg(long, env = "VONGDOI_SCHEDULE", default_value = "0 0 6 * * *")]
    schedule: crate::serve::Schedule,
    /// Seconds between delivery passes (SMS held for the window, retries).
    #[arg(long, env = "VONGDOI_DELIVER_EVERY", default_value_t = 10.0)]
    deliver_every: f64,
    /// Serve HTTP and deliver, but start no runs (an instance for the API only; another
    /// instance keeps the schedule).
    #[arg(long)]
    no_schedule: bool,
    /// Delivery reports must carry this token (?token= or the X-Vongdoi-Token header).
    #[arg(long, env = "VONGDOI_WEBHOOK_TOKEN", hide_env_values = true)]
    webhook_token: Option<String>,
}

#[derive(Subcommand)]
enum MessagesCommand {
    /// Queue a dead or failed message again, now.
    Retry { id: String },
}

#[derive(Args)]
struct MessageFilterArgs {
    /// queued, sending, sent, delivered, failed or dead.
    #[arg(long, value_enum)]
    status: Option<crate::store::MessageStatus>,
    /// sms or email.
    #[arg(long, value_enum)]
    channel: Option<crate::store::Channel>,
    /// Messages of one day.
    #[arg(long, value_parser = parse_date_arg)]
    day: Option<NaiveDate>,
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a rule folder (default: --rules / VONGDOI_RULES, else the shipped rules).
    Check { dir: Option<PathBuf> },
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Vi,
    En,
}

#[derive(Args)]
struct DemoArgs {
    /// Exactly this many citizens.
    #[arg(long, default_value_t = 10_000)]
    population: u64,
    /// The same seed gives the same registry.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Province (2-digit 2025 code) whose first communes hold the population.
    #[arg(long, default_value = "01", conflicts_with_all = ["communes", "national"])]
    province: String,
    /// These communes (5-digit codes, comma-separated).
    #[arg(long, value_delimiter = ',')]
    communes: Vec<String>,
    /// Spread over every commune of the country.
    #[arg(long)]
    national: bool,
    /// The registry's "today" (default: today in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<NaiveDate>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportWhat {
    Citizens,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum CitizenCommand {
    /// One citizen with household, guardians, records and history.
    Show {
        pin: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Re-establish a personal ID (Law on Identification 2023 Art. 24); records follow.
    ChangeId {
        old: String,
        new: String,
        #[arg(long)]
        reason: String,
    },
    /// Stop (or with --undo, resume) messages on one channel.
    OptOut {
        pin: String,
        #[arg(long, value_enum)]
        channel: Channel,
        #[arg(long)]
        undo: bool,
    },
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

/// What rule files are checked against: the embedded 2025 provinces and communes.
fn check_context() -> CheckContext {
    let units = AdminUnits::get();
    CheckContext {
        province_codes: units.provinces().iter().map(|p| p.code.clone()).collect(),
        commune_codes: units.communes().iter().map(|c| c.code.clone()).collect(),
    }
}

/// Loads the rule set every command works with. Rules that fail the check stop the command:
/// nothing runs on a schedule nobody can vouch for.
pub fn load_rules(dir: Option<&Path>) -> Result<RuleSet> {
    match dir {
        None => Ok(RuleSet::embedded()),
        Some(dir) => RuleSet::load_dir(dir, &check_context()).map_err(|errors| {
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

pub async fn run(cli: Cli) -> Result<()> {
    // Checking rules needs no database.
    if let Command::Rules {
        command: RulesCommand::Check { dir },
    } = &cli.command
    {
        let dir = dir.as_deref().or(cli.rules.as_deref());
        let rules = load_rules(dir)?;
        println!(
            "quy tắc hợp lệ / rules are valid: {} ({} vắc xin/vaccines)",
            dir.map(|d| d.display().to_string())
                .unwrap_or_else(|| "embedded".into()),
            rules.vaccine_codes().count()
        );
        return Ok(());
    }
    let rules = load_rules(cli.rules.as_deref())?;
    let store = Arc::new(Store::connect(&cli.database_url).await?);
    let result = match cli.command {
        Command::Run(args) => run_command(store.clone(), &rules, args).await,
        Command::Serve(args) => serve_command(store.clone(), rules, args).await,
        Command::Report { kind } => report_command(store.clone(), &rules, kind).await,
        command => dispatch(&store, &rules, command).await,
    };
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

async fn serve_command(store: Arc<Store>, rules: RuleSet, args: ServeArgs) -> Result<()> {
    if !(args.deliver_every > 0.0 && args.deliver_every.is_finite()) {
        bail!("--deliver-every / VONGDOI_DELIVER_EVERY must be a positive number of seconds");
    }
    let state = crate::app::AppState {
        store,
        rules: Arc::new(rules),
        delivery: crate::delivery::DeliveryConfig::from_env()?,
        metrics: Arc::new(crate::runtime::metrics::Metrics::default()),
        owner: crate::runtime::owner_name(),
        webhook_token: args.webhook_token,
        webhook_allow_unsigned: crate::serve::webhook_allow_unsigned_from_env(),
    };
    crate::serve::serve(
        state,
        crate::serve::ServeSettings {
            listen: args.listen,
            metrics_listen: args.metrics_listen,
            schedule: (!args.no_schedule).then_some(args.schedule),
            deliver_every: std::time::Duration::from_secs_f64(args.deliver_every),
            stop_grace: crate::serve::stop_grace_from_env()?,
        },
    )
    .await
}

async fn messages_command(
    store: &Store,
    command: Option<MessagesCommand>,
    f: MessageFilterArgs,
) -> Result<()> {
    if let Some(MessagesCommand::Retry { id }) = command {
        if store.retry_message(&id, Utc::now()).await? {
            println!(
                "đã xếp hàng gửi lại / queued again: {id} (sent by the next run or delivery pass)"
            );
            return Ok(());
        }
        match store.message(&id).await? {
            None => bail!("không có tin nhắn / no message {id}"),
            Some(m) => bail!(
                "tin nhắn {id} đang ở trạng thái {} / is {}: only failed or dead messages are retried",
                m.status,
                m.status
            ),
        }
    }
    let filter = crate::store::schedule::MessageFilter {
        status: f.status,
        channel: f.channel,
        day: f.day,
        limit: f.limit,
    };
    let messages = store.list_messages(&filter).await?;
    if f.format == Format::Json {
        // Addresses masked as everywhere staff look (docs/domain.md §7): the recipient's personal
        // ID to its last 4 digits, the phone or email to its end.
        let rows: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "day": m.day, "channel": m.channel, "status": m.status,
                    "recipient": crate::registry::personal_id::mask_raw(&m.recipient_id),
                    "address": mask_address(&m.address), "attempts": m.attempts,
                    "segments": m.segments, "last_error": m.last_error, "provider_id": m.provider_id,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<34} {:<10} {:<6} {:<10} {:<14} {:<18} {:>3}  lỗi / error",
        "mã / id", "ngày/day", "kênh", "trạng thái", "người nhận", "địa chỉ/address", "lần"
    );
    for m in &messages {
        println!(
            "{:<34} {:<10} {:<6} {:<10} {:<14} {:<18} {:>3}  {}",
            m.id,
            m.day,
            m.channel,
            m.status,
            crate::registry::personal_id::mask_raw(&m.recipient_id),
            mask_address(&m.address),
            m.attempts,
            m.last_error.as_deref().unwrap_or("")
        );
    }
    println!("{} tin nhắn / messages", messages.len());
    Ok(())
}

/// The last 3 characters of a phone number, the domain of an email address.
fn mask_address(a: &str) -> String {
    match a.split_once('@') {
        Some((_, domain)) => format!("…@{domain}"),
        None => format!("…{}", &a[a.len().saturating_sub(3)..]),
    }
}

async fn run_command(store: std::sync::Arc<Store>, rules: &RuleSet, args: RunArgs) -> Result<()> {
    let as_of = args.as_of.unwrap_or_else(today_in_vietnam);
    let delivery = crate::delivery::DeliveryConfig::from_env()?;
    let outbox = delivery.outbox_dir.clone();
    let scheduler = crate::schedule::Scheduler {
        store: store.clone(),
        rules,
        delivery,
        owner: crate::runtime::owner_name(),
        stop: crate::runtime::shutdown::Shutdown::never(),
        metrics: None,
    };
    let started = std::time::Instant::now();
    let (report, planned) = scheduler.run(as_of, args.dry_run).await?;
    if args.dry_run {
        println!("chạy thử / dry run {as_of}: {} công dân/citizens, {} lời nhắc/notices (không ghi gì / nothing written)", report.evaluated, report.notices);
        for p in &planned {
            let n = &p.notice;
            let to = match (&n.channel, &n.recipient_id) {
                (Some(c), Some(r)) => {
                    format!("{c} → {}", crate::registry::personal_id::mask_raw(r))
                }
                _ => "không liên lạc được / unreachable".into(),
            };
            // The message text names the child: only on request.
            let text = if args.show_names {
                n.line_sms.as_str()
            } else {
                "(--show-names)"
            };
            println!(
                "  {} {:<24} {:<22} {to}: {text}",
                crate::registry::personal_id::mask_raw(&n.personal_id),
                n.item,
                n.template,
            );
        }
        return Ok(());
    }
    if report.already_scanned {
        println!("ngày {as_of} đã quét xong / {as_of} was scanned already: only queued messages were delivered");
    }
    if report.scanned_elsewhere {
        println!("một phiên bản khác đang quét ngày {as_of} / another instance is scanning {as_of}: only delivered");
    }
    println!(
        "chạy/run {as_of}: {} công dân/citizens · sổ sự kiện/ledger changes {} · lời nhắc mới/new notices {} (không liên lạc được/unreachable {}) · tin nhắn/messages queued {} · đã gửi/sent {} · thử lại/retrying {} · hỏng/dead {} ({:.1} s)",
        report.evaluated,
        report.ledger_changes,
        report.notices,
        report.unreachable,
        report.messages_queued,
        report.delivery.sent,
        report.delivery.retried,
        report.delivery.dead,
        started.elapsed().as_secs_f64()
    );
    // Counts from one GROUP BY and three examples: the day may hold a million messages.
    let waiting: i64 = store
        .outbox_counts()
        .await?
        .iter()
        .filter(|(_, status, _)| status == "queued")
        .map(|(_, _, n)| n)
        .sum();
    if waiting > 0 {
        println!("{waiting} tin chờ gửi (khung giờ SMS hoặc thử lại) / waiting (SMS window or retry; VONGDOI_SMS_WINDOW)");
    }
    let mut hint = false;
    for m in store
        .messages_of_day(as_of, 50)
        .await?
        .iter()
        .filter(|m| m.status == crate::store::MessageStatus::Sent)
        .take(3)
    {
        if args.show_names {
            println!(
                "  {} {} → {}: {}",
                m.id,
                m.channel,
                m.address,
                m.body.lines().next().unwrap_or("")
            );
        } else {
            // The body names the child and the address is a contact: masked, no text.
            println!("  {} {} → {}", m.id, m.channel, mask_address(&m.address));
            hint = true;
        }
    }
    if hint {
        println!("  (nội dung, địa chỉ đầy đủ / message text, full addresses: --show-names)");
    }
    println!("hộp thư đi / outbox: {}", outbox.display());
    Ok(())
}

impl LangArg {
    fn lang(self) -> Lang {
        match self {
            LangArg::Vi => Lang::Vi,
            LangArg::En => Lang::En,
        }
    }
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

/// One of the three forms of a report, written where `--output` says.
fn write_report(
    common: &ReportCommon,
    csv: impl FnOnce(&mut dyn Write, Lang) -> Result<()>,
    json: impl FnOnce(Lang) -> serde_json::Value,
    html: impl FnOnce(Lang) -> String,
) -> Result<()> {
    let lang = common.lang.lang();
    let mut out: Box<dyn Write> = match &common.output {
        Some(path) => Box::new(BufWriter::new(File::create(path).with_context(|| {
            format!("không tạo được tệp / cannot create {}", path.display())
        })?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    match common.format {
        ReportFormat::Csv => csv(&mut out, lang)?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &json(lang))?;
            writeln!(out)?;
        }
        ReportFormat::Html => out.write_all(html(lang).as_bytes())?,
    }
    out.flush()?;
    if let Some(path) = &common.output {
        eprintln!("đã ghi / written: {}", path.display());
    }
    Ok(())
}

async fn report_command(store: Arc<Store>, rules: &RuleSet, kind: ReportKind) -> Result<()> {
    let area_of = |c: &ReportCommon| ReportArea::resolve(&c.provinces, &c.communes);
    let as_of_of = |c: &ReportCommon| c.as_of.unwrap_or_else(today_in_vietnam);
    match kind {
        ReportKind::Vaccination { common, items } => {
            let r = reports::vaccination::build(
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
                |w, l| r.write_csv(w, l),
                |l| r.to_json(l),
                |l| r.to_html(l),
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
                |w, l| r.write_csv(w, l),
                |l| r.to_json(l),
                |l| r.to_html(l),
            )
        }
        ReportKind::Enrolment {
            common,
            years,
            capacity,
        } => {
            let capacity = match &capacity {
                Some(path) => Some((path.as_path(), reports::enrolment::Capacity::read(path)?)),
                None => None,
            };
            let r = reports::enrolment::build(
                &store,
                area_of(&common)?,
                as_of_of(&common),
                years,
                capacity,
            )
            .await?;
            write_report(
                &common,
                |w, l| r.write_csv(w, l),
                |l| r.to_json(l),
                |l| r.to_html(l),
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
                |w, l| r.write_csv(w, l),
                |l| r.to_json(l),
                |l| r.to_html(l),
            )
        }
    }
}

async fn dispatch(store: &Store, rules: &RuleSet, command: Command) -> Result<()> {
    match command {
        Command::Rules { .. } => unreachable!("handled before opening the database"),
        Command::Report { .. } => unreachable!("handled in run"),
        Command::Run(_) | Command::Serve(_) => unreachable!("handled in run"),
        Command::Messages { command, filter } => messages_command(store, command, filter).await?,
        Command::Forecast {
            pin,
            as_of,
            format,
            lang,
        } => {
            let pin = parse_pin(&pin)?;
            let as_of = as_of.unwrap_or_else(today_in_vietnam);
            let forecast = forecast_of(store, rules, pin, as_of).await?;
            match format {
                Format::Json => println!("{}", forecast.to_json(pin.as_str(), as_of)),
                Format::Table => {
                    let lang = match lang {
                        LangArg::Vi => Lang::Vi,
                        LangArg::En => Lang::En,
                    };
                    println!("{} — {as_of}", pin);
                    print!("{}", forecast.to_table(lang));
                }
            }
        }
        Command::Migrate => {
            println!(
                "cơ sở dữ liệu đã cập nhật / database is up to date ({})",
                store.backend()
            );
        }
        Command::Demo(args) => demo_command(store, args).await?,
        Command::Import {
            kind,
            file,
            errors,
            show_names,
        } => import_command(store, rules, kind, &file, errors.as_deref(), show_names).await?,
        Command::Export {
            what: ExportWhat::Citizens,
            file,
        } => {
            // `-` writes to standard output, for pipes; the closing line then goes to stderr.
            if file.as_os_str() == "-" {
                let n = export_citizens(store, BufWriter::new(std::io::stdout().lock())).await?;
                eprintln!("đã xuất/exported {n} công dân/citizens");
            } else {
                let out = BufWriter::new(
                    File::create(&file)
                        .with_context(|| format!("cannot create {}", file.display()))?,
                );
                let n = export_citizens(store, out).await?;
                println!(
                    "đã xuất/exported {n} công dân/citizens → {}",
                    file.display()
                );
            }
        }
        Command::Citizen { command } => citizen_command(store, command).await?,
        Command::Summary => print_summary(store).await?,
        Command::Keys { command } => crate::api::cli::keys_command(store, command).await?,
        Command::Audit(args) => crate::api::cli::audit_command(store, args).await?,
    }
    Ok(())
}

async fn demo_command(store: &Store, a: DemoArgs) -> Result<()> {
    let area = if a.national {
        Area::National
    } else if !a.communes.is_empty() {
        Area::Communes(a.communes)
    } else {
        Area::Province(a.province)
    };
    let opts = DemoOptions {
        population: a.population,
        seed: a.seed,
        area,
        as_of: a.as_of.unwrap_or_else(today_in_vietnam),
    };
    let started = std::time::Instant::now();
    let bar = progress_bar(opts.population, "người/people");
    let counts = demo::generate(store, &opts, Utc::now(), |n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    tracing::info!(
        citizens = counts.citizens,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo registry written"
    );
    println!(
        "sổ mẫu/demo registry: {} công dân/citizens, {} mũi tiêm/immunizations, {} thẻ căn cước/ID cards ({:.1} s)",
        counts.citizens,
        counts.immunizations,
        counts.id_cards,
        started.elapsed().as_secs_f64()
    );
    print_summary(store).await
}

async fn import_command(
    store: &Store,
    rules: &RuleSet,
    kind: ImportKind,
    file: &Path,
    errors: Option<&Path>,
    show_names: bool,
) -> Result<()> {
    let label = file.display().to_string();
    let input = File::open(file).with_context(|| format!("{label}: cannot open the file"))?;
    let len = input.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(len, "bytes");
    let input = bar.wrap_read(BufReader::with_capacity(1 << 16, input));
    let mut report = match errors {
        Some(path) => ErrorReport::to_csv(Box::new(BufWriter::new(
            File::create(path)
                .with_context(|| format!("cannot create the error report {}", path.display()))?,
        )))?,
        None => ErrorReport::to_stderr(&label, show_names),
    };
    let importer = Importer {
        store,
        source: format!(
            "import:{}",
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(label.clone())
        ),
        file_label: label.clone(),
        today: today_in_vietnam(),
        now: Utc::now(),
    };
    let summary = importer
        .import(
            kind,
            input,
            &mut report,
            rules.vaccine_codes().map(str::to_string).collect(),
        )
        .await?;
    report.finish()?;
    bar.finish_and_clear();
    println!("{label}: {summary}");
    if summary.problems > 0 {
        match errors {
            Some(path) => println!(
                "{} vấn đề ghi tại/problems written to {}",
                summary.problems,
                path.display()
            ),
            None => println!(
                "{} vấn đề (xem trên) / problems (above); --errors OUT.csv writes them all",
                summary.problems
            ),
        }
    }
    Ok(())
}

async fn citizen_command(store: &Store, command: CitizenCommand) -> Result<()> {
    match command {
        CitizenCommand::Show { pin, format } => {
            let pin = parse_pin(&pin)?;
            let Some(stored) = store.citizen(pin).await? else {
                bail!(
                    "không có công dân {} / no citizen with personal ID {}",
                    pin.masked(),
                    pin.masked()
                );
            };
            let dossier = store
                .dossier(stored, &crate::registry::Scope::national())
                .await?;
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&dossier.to_json())?);
                return Ok(());
            }
            let (stored, c) = (&dossier.stored, &dossier.stored.citizen);
            let units = AdminUnits::get();
            let commune = units.commune(c.commune_code.as_str()).expect("validated");
            let province = units.province(&commune.province_code).expect("embedded");
            let or_dash = |s: Option<String>| s.unwrap_or_else(|| "—".into());
            println!("Số định danh / Personal ID   {}", c.personal_id);
            println!("Họ tên / Name                {}", c.full_name);
            println!(
                "Giới tính / Sex              {} ({})",
                c.sex.label_vi(),
                c.sex.code()
            );
            println!("Ngày sinh / Born             {}", c.date_of_birth);
            if let Some(d) = c.date_of_death {
                println!("Ngày mất / Died              {d}");
            }
            println!(
                "Nơi ở / Lives in             {} ({}), {}",
                commune.name, commune.code, province.name
            );
            println!(
                "Hộ / Household               {}",
                or_dash(c.household_id.clone())
            );
            println!(
                "Điện thoại / Phone           {}{}",
                or_dash(c.phone.as_ref().map(|p| p.to_string())),
                if stored.sms_opt_out {
                    " (từ chối SMS / SMS opt-out)"
                } else {
                    ""
                }
            );
            println!(
                "Email                        {}{}",
                or_dash(c.email.as_ref().map(|e| e.to_string())),
                if stored.email_opt_out {
                    " (từ chối / opt-out)"
                } else {
                    ""
                }
            );
            println!("Ngôn ngữ / Language          {}", c.language.code());
            println!(
                "Tạo / Created                {} by {}",
                stored.created_at.format("%Y-%m-%d %H:%M"),
                stored.created_by
            );
            for g in &dossier.guardians {
                let label = match g.role {
                    "mother" => "Mẹ / Mother",
                    "father" => "Cha / Father",
                    _ => "Người giám hộ / Guardian",
                };
                println!(
                    "{label:<29}{} {}",
                    g.personal_id,
                    g.person
                        .shown()
                        .map(|g| g.full_name.as_str())
                        .unwrap_or("(chưa có trong sổ / not registered)")
                );
            }
            if !dossier.household.is_empty() {
                println!("\nThành viên hộ / Household members:");
                for m in &dossier.household {
                    println!(
                        "  {}  {:<28} {}  {}",
                        m.personal_id,
                        m.full_name,
                        m.sex.code(),
                        m.date_of_birth
                    );
                }
            }
            println!(
                "\nTiêm chủng / Immunizations ({}):",
                dossier.immunizations.len()
            );
            for r in &dossier.immunizations {
                println!(
                    "  {}  {:<8} {}",
                    r.date_given,
                    r.vaccine,
                    r.place.as_deref().unwrap_or("")
                );
            }
            println!("\nThẻ căn cước / ID cards ({}):", dossier.id_cards.len());
            for r in &dossier.id_cards {
                println!("  {}", r.issued_on);
            }
            if !dossier.history.is_empty() || !dossier.id_changes.is_empty() {
                println!("\nLịch sử thay đổi / Change history:");
                for h in &dossier.history {
                    println!(
                        "  {}  {:<14} {} → {}  ({})",
                        h.changed_at.format("%Y-%m-%d %H:%M"),
                        h.field,
                        h.old_value.as_deref().unwrap_or("—"),
                        h.new_value.as_deref().unwrap_or("—"),
                        h.source
                    );
                }
            }
        }
        CitizenCommand::ChangeId { old, new, reason } => {
            let (old, new) = (parse_pin(&old)?, parse_pin(&new)?);
            let stored = store
                .citizen(old)
                .await?
                .with_context(|| format!("no citizen with personal ID {}", old.masked()))?;
            let problems = new.check_against(stored.citizen.sex, stored.citizen.date_of_birth);
            if !problems.is_empty() {
                bail!("số định danh mới không khớp hồ sơ / the new personal ID does not match the record: {}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "));
            }
            store
                .change_personal_id(old, new, &reason, "command:citizen change-id", Utc::now())
                .await?;
            println!("đã đổi/changed {} → {}", old.masked(), new.masked());
        }
        CitizenCommand::OptOut { pin, channel, undo } => {
            let pin = parse_pin(&pin)?;
            if !store
                .set_opt_out(pin, channel, !undo, "command:citizen opt-out", Utc::now())
                .await?
            {
                bail!(
                    "không có công dân {} / no citizen with personal ID {}",
                    pin.masked(),
                    pin.masked()
                );
            }
            println!(
                "{} {:?}: {}",
                pin.masked(),
                channel,
                if undo {
                    "nhận lại / opted back in"
                } else {
                    "từ chối / opted out"
                }
            );
        }
    }
    Ok(())
}

async fn print_summary(store: &Store) -> Result<()> {
    let s = store.summary().await?;
    let units = AdminUnits::get();
    println!(
        "Công dân / Citizens        {} (còn sống / living {})",
        s.citizens, s.living
    );
    println!("Hộ / Households            {}", s.households);
    println!("Có điện thoại / With phone {}", s.with_phone);
    println!("Có email / With email      {}", s.with_email);
    println!("Mũi tiêm / Immunizations   {}", s.immunizations);
    println!("Thẻ căn cước / ID cards    {}", s.id_cards);
    if !s.communes.is_empty() {
        println!("Xã đông nhất / Largest communes:");
        for (code, n) in s.communes.iter().take(5) {
            let name = units.commune(code).map(|c| c.name.as_str()).unwrap_or("?");
            println!("  {code} {name:<30} {n}");
        }
    }
    Ok(())
}
