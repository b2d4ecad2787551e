//! A scheduler run for one date (issues #4, #14): evaluate the citizens whose lifecycle can
//! have changed (or everyone, on a full pass), keep the event ledger, record the notices that
//! fall due, then — once the whole day is scanned — turn them into messages and deliver them.
//!
//! Nothing is lost, nothing twice: a day is cut into shards that instances lease one at a
//! time; each page's ledger rows, notices and next checks commit in one transaction under the
//! shard's lease, so a killed run resumes after its last page; notices and messages have unique
//! keys, so re-running a day adds nothing and instances sharing one PostgreSQL database send
//! each message once. A day is composed only when its last shard is finished: a run that finds
//! shards held by another live instance sends nothing (`vongdoi run` exits with status 3).

pub mod notices;
mod pass;
pub(crate) mod recipients;

use crate::delivery::{self, Channels, DeliveryConfig, DeliveryCounts};
use crate::rules::{DoseRecord, Forecast, Lang, RuleSet, Subject};
use crate::runtime::liveness;
use crate::runtime::metrics::Metrics;
use crate::runtime::shutdown::Shutdown;
use crate::store::outbox::NoticeRow;
use crate::store::runs::PassKind;
use crate::store::shards::ShardClaim;
use crate::store::{CitizenRecords, Store};
use chrono::{Duration, NaiveDate, Utc};
use std::sync::Arc;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Citizens evaluated by this process (0 when the day was done already).
    pub evaluated: u64,
    pub ledger_changes: u64,
    /// New notices recorded (a notice already recorded for its date is not counted again).
    pub notices: u64,
    /// Notices with nobody to tell: no contact, or every channel opted out.
    pub unreachable: u64,
    /// Notices that fell due but are not messaged (too old, overdue before the go-live date,
    /// or enough reminders sent): the staff follow-up list shows those items.
    pub held_back: u64,
    pub messages_queued: u64,
    pub delivery: DeliveryCounts,
    /// The day's scan had finished before (this run only composed and delivered).
    pub already_scanned: bool,
    /// The day is a full pass (everyone evaluated), not only the citizens due a check.
    pub full_pass: bool,
    /// Shards of the day this process scanned.
    pub shards: u64,
    /// Other live instances hold shards of the day that are not finished: this run composed
    /// and sent nothing (their names).
    pub held_elsewhere: Option<Vec<String>>,
    /// The service is stopping: the scan stopped after a committed page and gave its lease
    /// back; the next run of the day resumes there.
    pub interrupted: bool,
}

/// A notice a dry run would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedNotice {
    pub notice: NoticeRow,
}

/// How to run a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Print what would be sent; write nothing (evaluates everyone).
    pub dry_run: bool,
    /// Evaluate everyone, not only the citizens whose next check has come.
    pub full: bool,
    /// When other instances hold shards of the day, wait for them (and take over any whose
    /// lease runs out) instead of returning at once.
    pub wait: bool,
}

/// How long a shard's lease lasts without a committed page. Short, since a page commits every
/// second or so: a process that stopped answering loses its shard within this time to another
/// machine (on its own machine a process that ended loses it at once).
pub const SHARD_LEASE_SECONDS: i64 = 30;

pub struct Scheduler<'a> {
    pub store: Arc<Store>,
    pub rules: &'a RuleSet,
    pub delivery: DeliveryConfig,
    /// Names this process in leases: host and process id.
    pub owner: String,
    /// Fires when `vongdoi serve` is stopping (`Shutdown::never()` for one-shot runs).
    pub stop: Shutdown,
    pub metrics: Option<Arc<Metrics>>,
    /// Citizens per shard (`VONGDOI_SHARD_SIZE`).
    pub shard_size: i64,
}

fn subject_of(r: &CitizenRecords) -> Subject<'_> {
    Subject {
        date_of_birth: r.date_of_birth,
        date_of_death: r.date_of_death,
        sex: r.sex,
        province_code: r.commune_code.province_code(),
        commune_code: r.commune_code.as_str(),
    }
}

pub fn evaluate(rules: &RuleSet, r: &CitizenRecords, as_of: NaiveDate) -> Forecast {
    evaluate_with_next_change(rules, r, as_of).0
}

/// The forecast on `as_of`, and the first later day it can change ([`RuleSet::next_change`]).
pub fn evaluate_with_next_change(
    rules: &RuleSet,
    r: &CitizenRecords,
    as_of: NaiveDate,
) -> (Forecast, Option<NaiveDate>) {
    let doses: Vec<DoseRecord> = r
        .doses
        .iter()
        .map(|d| DoseRecord {
            vaccine: &d.vaccine,
            date_given: d.date_given,
        })
        .collect();
    let subject = subject_of(r);
    let forecast = rules.evaluate(&subject, &doses, &r.id_cards, as_of);
    let next = rules.next_change(&subject, &doses, &r.id_cards, as_of, &forecast);
    (forecast, next)
}

/// One stored citizen's forecast on `as_of`, their records read side by side: the `forecast`
/// command and the API's forecast, citizen page and area check share it, so they cannot
/// disagree.
pub async fn forecast_of_stored(
    store: &Store,
    rules: &RuleSet,
    stored: &crate::store::StoredCitizen,
    as_of: NaiveDate,
) -> crate::store::Result<Forecast> {
    let pin = stored.citizen.personal_id;
    let (immunizations, cards) =
        tokio::try_join!(store.immunizations_of(pin), store.id_cards_of(pin))?;
    let doses: Vec<DoseRecord> = immunizations
        .iter()
        .map(|r| DoseRecord {
            vaccine: &r.vaccine,
            date_given: r.date_given,
        })
        .collect();
    let cards: Vec<NaiveDate> = cards.into_iter().map(|r| r.issued_on).collect();
    let c = &stored.citizen;
    let subject = Subject {
        date_of_birth: c.date_of_birth,
        date_of_death: c.date_of_death,
        sex: c.sex,
        province_code: c.commune_code.province_code(),
        commune_code: c.commune_code.as_str(),
    };
    Ok(rules.evaluate(&subject, &doses, &cards, as_of))
}

/// A run asked for a day before the newest one the ledger has seen: refused, since it would
/// move statuses back and send that day's notices today.
#[derive(Debug)]
pub struct BehindTheLedger {
    pub as_of: NaiveDate,
    pub newest: NaiveDate,
}

impl std::fmt::Display for BehindTheLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (as_of, newest) = (self.as_of, self.newest);
        write!(
            f,
            "ngày {as_of} cũ hơn lượt chạy mới nhất ({newest}): sổ sự kiện đã ở ngày {newest}, chạy lại ngày cũ sẽ gửi tin cũ vào hôm nay; chạy cho hôm nay, hoặc --dry-run để xem / {as_of} is before the newest run ({newest}): the ledger is at {newest}, and an older day would send its notices today; run today, or use --dry-run to look"
        )
    }
}

impl std::error::Error for BehindTheLedger {}

impl Scheduler<'_> {
    /// One pass for `as_of`. With `dry_run`, returns the notices that would be recorded and
    /// writes nothing at all.
    /// The ledger holds each item's status as of the newest day run. Running an older day
    /// would move statuses back and send that day's notices today (issue #10: a run for
    /// 0001-01-01 was accepted), so a run is for the newest day or a later one; a dry run,
    /// which writes nothing, may look at any day.
    async fn refuse_a_day_behind_the_ledger(&self, as_of: NaiveDate) -> anyhow::Result<()> {
        if let Some(newest) = self.store.runs(1).await?.first().map(|r| r.as_of) {
            if as_of < newest {
                return Err(BehindTheLedger { as_of, newest }.into());
            }
        }
        Ok(())
    }

    pub async fn run(
        &self,
        as_of: NaiveDate,
        options: RunOptions,
    ) -> anyhow::Result<(RunReport, Vec<PlannedNotice>)> {
        if options.dry_run {
            return self.dry_run(as_of).await;
        }
        self.refuse_a_day_behind_the_ledger(as_of).await?;
        let mut report = RunReport::default();
        let kind = if options.full {
            PassKind::Full
        } else {
            PassKind::Incremental
        };
        let plan = self
            .store
            .open_day(
                as_of,
                kind,
                self.rules.fingerprint(),
                self.shard_size,
                Utc::now(),
            )
            .await?;
        report.full_pass = plan.full;
        report.already_scanned = plan.status == crate::store::RunStatus::Finished;
        let lease = || Utc::now() + Duration::seconds(SHARD_LEASE_SECONDS);
        let wording = (
            self.rules.renderer(),
            delivery::places::Places::load(&self.store).await?,
        );
        let started = std::time::Instant::now();
        loop {
            let claim = self
                .store
                .claim_shard(as_of, &self.owner, lease(), Utc::now(), liveness::is_gone)
                .await?;
            match claim {
                ShardClaim::Claimed(shard) => {
                    report.shards += 1;
                    let scanned = self
                        .scan_shard(&shard, (&wording.0, &wording.1), &mut report)
                        .await;
                    if let Err(e) = scanned {
                        // Give the shard back, so that a retry here or another instance
                        // carries on at once (the database may be the thing that failed).
                        if let Err(release) = self.store.release_shard(&shard, &self.owner).await {
                            tracing::warn!(error = %release, "could not give the shard back; its lease runs out");
                        }
                        return Err(e);
                    }
                    if report.interrupted {
                        return Ok((report, Vec::new()));
                    }
                }
                ShardClaim::Finished => break,
                ShardClaim::HeldByOthers(owners) => {
                    if !options.wait {
                        report.held_elsewhere = Some(owners);
                        return Ok((report, Vec::new()));
                    }
                    tokio::select! {
                        _ = self.stop.wait() => {
                            report.interrupted = true;
                            return Ok((report, Vec::new()));
                        }
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    }
                }
            }
        }
        if report.evaluated > 0 {
            tracing::info!(%as_of, evaluated = report.evaluated, notices = report.notices, full = report.full_pass, elapsed_ms = started.elapsed().as_millis() as u64, "scan finished");
        }
        report.messages_queued =
            delivery::compose(&self.store, &self.delivery, self.rules, as_of, Utc::now()).await?;
        let channels = Channels::from_config(&self.delivery)?;
        report.delivery = delivery::deliver_ready(
            &self.store,
            &self.delivery,
            self.rules,
            &channels,
            &self.owner,
            &self.stop,
            self.metrics.as_deref(),
        )
        .await?;
        Ok((report, Vec::new()))
    }
}

/// Display helpers shared with the recipients module.
pub(crate) fn lang_of(code: &str) -> Lang {
    if code == "en" {
        Lang::En
    } else {
        Lang::Vi
    }
}
