//! A scheduler run for one date (issue #4): scan the registry in personal-ID order, evaluate
//! the rules (the one engine), keep the event ledger, record the notices that fall due, then
//! turn them into messages and deliver them.
//!
//! Nothing is lost, nothing twice: each page's ledger rows, notices and the run's checkpoint
//! commit in one transaction under the run's lease, so a killed run resumes after its last
//! page; notices and messages have unique keys, so re-running a day adds nothing and two
//! instances on one PostgreSQL database send each message once.

pub mod notices;
mod recipients;

use crate::delivery::places::Places;
use crate::delivery::{self, Channels, DeliveryConfig, DeliveryCounts};
use crate::rules::wording::Renderer;
use crate::rules::{DoseRecord, Forecast, Lang, RuleSet, Subject};
use crate::runtime::metrics::Metrics;
use crate::runtime::shutdown::Shutdown;
use crate::store::outbox::NoticeRow;
use crate::store::runs::RunClaim;
use crate::store::scan::EventRow;
use crate::store::scan::{scan_registry, SCAN_PAGE};
use crate::store::{CitizenRecords, Store};
use chrono::{Duration, NaiveDate, Utc};
use notices::{enough_reminders, held_back, is_actionable, notices_due};
use std::collections::HashMap;
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
    /// Another instance is scanning the day: this one only delivered.
    pub scanned_elsewhere: bool,
    /// The service is stopping: the scan stopped after a committed page and gave its lease
    /// back; the next run of the day resumes there.
    pub interrupted: bool,
}

/// A notice a dry run would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedNotice {
    pub notice: NoticeRow,
}

pub struct Scheduler<'a> {
    pub store: Arc<Store>,
    pub rules: &'a RuleSet,
    pub delivery: DeliveryConfig,
    /// Names this process in leases: host and process id.
    pub owner: String,
    /// Fires when `vongdoi serve` is stopping (`Shutdown::never()` for one-shot runs).
    pub stop: Shutdown,
    pub metrics: Option<Arc<Metrics>>,
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
    let doses: Vec<DoseRecord> = r
        .doses
        .iter()
        .map(|d| DoseRecord {
            vaccine: &d.vaccine,
            date_given: d.date_given,
        })
        .collect();
    rules.evaluate(&subject_of(r), &doses, &r.id_cards, as_of)
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
        dry_run: bool,
    ) -> anyhow::Result<(RunReport, Vec<PlannedNotice>)> {
        if !dry_run {
            self.refuse_a_day_behind_the_ledger(as_of).await?;
        }
        let mut report = RunReport::default();
        let mut planned = Vec::new();
        let lease = || Utc::now() + Duration::minutes(10);
        let checkpoint = if dry_run {
            Some(None)
        } else {
            match self
                .store
                .claim_run(as_of, &self.owner, lease(), Utc::now())
                .await?
            {
                RunClaim::Claimed { checkpoint } => Some(
                    checkpoint
                        .map(|c| crate::registry::PersonalId::parse(&c))
                        .transpose()?,
                ),
                RunClaim::Finished => {
                    report.already_scanned = true;
                    None
                }
                RunClaim::HeldByOther => {
                    report.scanned_elsewhere = true;
                    None
                }
            }
        };
        if let Some(after) = checkpoint {
            let started = std::time::Instant::now();
            let renderer = self.rules.renderer();
            let places = Places::load(&self.store).await?;
            let mut pages = scan_registry(self.store.clone(), after, SCAN_PAGE);
            while let Some(page) = pages.recv().await {
                if self.stop.is_set() && !dry_run {
                    self.store.release_run(as_of, &self.owner).await?;
                    report.interrupted = true;
                    tracing::info!(%as_of, evaluated = report.evaluated, "scan stopped; the lease is given back");
                    return Ok((report, planned));
                }
                let page = page?;
                let (events, notices, held) =
                    self.plan_page(&page, as_of, (&renderer, &places)).await?;
                report.evaluated += page.len() as u64;
                report.held_back += held;
                report.ledger_changes += events.len() as u64;
                report.unreachable +=
                    notices.iter().filter(|n| n.recipient_id.is_none()).count() as u64;
                if dry_run {
                    report.notices += notices.len() as u64;
                    planned.extend(notices.into_iter().map(|notice| PlannedNotice { notice }));
                    continue;
                }
                let last = page.last().expect("pages are never empty").personal_id;
                report.notices += self
                    .store
                    .commit_page(
                        as_of,
                        &self.owner,
                        lease(),
                        last,
                        page.len() as i64,
                        &events,
                        &notices,
                        Utc::now(),
                    )
                    .await?;
            }
            if !dry_run {
                self.store
                    .finish_run(as_of, &self.owner, Utc::now())
                    .await?;
            }
            tracing::info!(%as_of, evaluated = report.evaluated, notices = report.notices, elapsed_ms = started.elapsed().as_millis() as u64, "scan finished");
        }
        if dry_run {
            return Ok((report, planned));
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
        Ok((report, planned))
    }

    /// Evaluates a page and works out its ledger changes and notices (no writes), and how many
    /// notices were held back for staff.
    async fn plan_page(
        &self,
        page: &[CitizenRecords],
        as_of: NaiveDate,
        wording: (&Renderer, &Places),
    ) -> anyhow::Result<(Vec<EventRow>, Vec<NoticeRow>, u64)> {
        let (first, last) = (page[0].personal_id, page[page.len() - 1].personal_id);
        let ledger: HashMap<(String, String), EventRow> = self
            .store
            .ledger_between(first, last)
            .await?
            .into_iter()
            .map(|e| ((e.personal_id.clone(), e.item.clone()), e))
            .collect();
        let mut events = Vec::new();
        let mut due: Vec<recipients::Due> = Vec::new();
        let mut held = 0u64;
        for r in page {
            let forecast = evaluate(self.rules, r, as_of);
            let pin = r.personal_id.as_str().to_string();
            let notices = notices_due(&forecast, as_of);
            for item in &forecast.items {
                let key = item.key().stable_key();
                let stored = ledger.get(&(pin.clone(), key.clone()));
                let notified = notices.iter().any(|n| std::ptr::eq(n.item, item));
                if stored.is_none() && !is_actionable(item.status) && !notified {
                    continue;
                }
                let row = EventRow {
                    personal_id: pin.clone(),
                    item: key,
                    status: item.status.as_str().to_string(),
                    earliest: item.earliest,
                    due: item.due,
                    overdue: item.overdue,
                    expires: item.expires,
                    completed_on: item.completed_on,
                    changed_on: as_of,
                };
                if stored.is_none_or(|s| !s.same_state(&row)) {
                    events.push(row);
                }
            }
            for n in notices {
                if held_back(n.item, as_of, self.delivery.go_live).is_some() {
                    held += 1;
                    continue;
                }
                due.push(recipients::Due {
                    citizen: r,
                    item: n.item.clone(),
                    template: n.template.to_string(),
                    date: n.date,
                });
            }
        }
        // The reminder limit needs what was sent before: read only when a notice is due.
        if !due.is_empty() {
            let mut sent: HashMap<(String, String), Vec<NaiveDate>> = HashMap::new();
            for (pin, item, date) in self.store.reminders_between(first, last).await? {
                sent.entry((pin, item)).or_default().push(date);
            }
            let before = due.len();
            due.retain(|d| {
                let key = (d.citizen.personal_id.to_string(), d.item.key().stable_key());
                sent.get(&key)
                    .is_none_or(|earlier| !enough_reminders(&d.item, earlier, d.date))
            });
            held += (before - due.len()) as u64;
        }
        let notices =
            recipients::resolve(&self.store, wording, &self.delivery, &due, as_of).await?;
        Ok((events, notices, held))
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
