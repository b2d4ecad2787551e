//! Scanning one shard of a day, page by page: evaluate, work out the ledger changes, the
//! notices and each citizen's next check, and commit them together under the shard's lease.
//! A dry run evaluates everyone the same way and writes nothing.

use super::notices::{enough_reminders, held_back, is_actionable, notices_due};
use super::SHARD_LEASE_SECONDS;
use super::{evaluate_with_next_change, recipients, PlannedNotice, RunReport, Scheduler};
use crate::delivery::places::Places;
use crate::rules::wording::Renderer;
use crate::store::outbox::NoticeRow;
use crate::store::scan::{scan_registry, scan_shard, EventRow, SCAN_PAGE};
use crate::store::shards::{NextCheck, PageWrite, Shard};
use crate::store::CitizenRecords;
use chrono::{Duration, NaiveDate, Utc};
use std::collections::HashMap;

/// The next check of a citizen nothing will ever change for without new records.
fn never() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date")
}

/// What a page comes to before it is written.
struct PagePlan {
    events: Vec<EventRow>,
    notices: Vec<NoticeRow>,
    next_checks: Vec<NextCheck>,
    held: u64,
}

impl PagePlan {
    /// Adds a page of `evaluated` citizens to the run's counts (new notices are counted when
    /// they are written: one recorded before is not new).
    fn count_into(&self, report: &mut RunReport, evaluated: usize) {
        report.evaluated += evaluated as u64;
        report.held_back += self.held;
        report.ledger_changes += self.events.len() as u64;
        report.unreachable += self
            .notices
            .iter()
            .filter(|n| n.recipient_id.is_none())
            .count() as u64;
    }
}

impl Scheduler<'_> {
    /// Scans `shard` to its end (or until the service stops), then marks it finished.
    pub(super) async fn scan_shard(
        &self,
        shard: &Shard,
        wording: (&Renderer, &Places),
        report: &mut RunReport,
    ) -> anyhow::Result<()> {
        let as_of = shard.as_of;
        let lease = || Utc::now() + Duration::seconds(SHARD_LEASE_SECONDS);
        let mut pages = scan_shard(self.store.clone(), shard, SCAN_PAGE);
        while let Some(page) = pages.recv().await {
            if self.stop.is_set() {
                self.store.release_shard(shard, &self.owner).await?;
                report.interrupted = true;
                tracing::info!(%as_of, shard = shard.shard, evaluated = report.evaluated, "scan stopped; the lease is given back");
                return Ok(());
            }
            let page = page?;
            let plan = self.plan_page(&page, as_of, wording, shard.full).await?;
            plan.count_into(report, page.len());
            let last = page.last().expect("pages are never empty").personal_id;
            let write = PageWrite {
                checkpoint: shard.full.then_some(last),
                events: &plan.events,
                notices: &plan.notices,
                next_checks: &plan.next_checks,
            };
            report.notices += self
                .store
                .commit_page(
                    shard,
                    &self.owner,
                    lease(),
                    write,
                    page.len() as i64,
                    Utc::now(),
                )
                .await?;
        }
        self.store
            .finish_shard(shard, &self.owner, Utc::now())
            .await?;
        Ok(())
    }

    /// Everyone evaluated, nothing written: the notices the day would record.
    pub(super) async fn dry_run(
        &self,
        as_of: NaiveDate,
    ) -> anyhow::Result<(RunReport, Vec<PlannedNotice>)> {
        let mut report = RunReport {
            full_pass: true,
            ..RunReport::default()
        };
        let mut planned = Vec::new();
        let renderer = self.rules.renderer();
        let places = Places::load(&self.store).await?;
        let mut pages = scan_registry(self.store.clone(), None, SCAN_PAGE);
        while let Some(page) = pages.recv().await {
            let page = page?;
            let plan = self
                .plan_page(&page, as_of, (&renderer, &places), true)
                .await?;
            plan.count_into(&mut report, page.len());
            report.notices += plan.notices.len() as u64;
            planned.extend(
                plan.notices
                    .into_iter()
                    .map(|notice| PlannedNotice { notice }),
            );
        }
        Ok((report, planned))
    }

    /// Evaluates a page and works out its ledger changes, notices and next checks (no writes),
    /// and how many notices were held back for staff. `contiguous`: the page is every citizen
    /// of an ID range (a full pass), so the ledger is read by range rather than by list.
    async fn plan_page(
        &self,
        page: &[CitizenRecords],
        as_of: NaiveDate,
        wording: (&Renderer, &Places),
        contiguous: bool,
    ) -> anyhow::Result<PagePlan> {
        let (first, last) = (page[0].personal_id, page[page.len() - 1].personal_id);
        let pins: Vec<_> = page.iter().map(|r| r.personal_id).collect();
        let stored = if contiguous {
            self.store.ledger_between(first, last).await?
        } else {
            self.store.ledger_of(&pins).await?
        };
        let ledger: HashMap<(String, String), EventRow> = stored
            .into_iter()
            .map(|e| ((e.personal_id.clone(), e.item.clone()), e))
            .collect();
        let mut events = Vec::new();
        let mut next_checks = Vec::with_capacity(page.len());
        let mut due: Vec<recipients::Due> = Vec::new();
        let mut held = 0u64;
        for r in page {
            let (forecast, next) = evaluate_with_next_change(self.rules, r, as_of);
            next_checks.push(NextCheck {
                personal_id: r.personal_id,
                revision: r.revision,
                on: next.unwrap_or_else(never),
            });
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
            let earlier = if contiguous {
                self.store.reminders_between(first, last).await?
            } else {
                let wanted: Vec<_> = due.iter().map(|d| d.citizen.personal_id).collect();
                self.store.reminders_of(&wanted).await?
            };
            for (pin, item, date) in earlier {
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
        Ok(PagePlan {
            events,
            notices,
            next_checks,
            held,
        })
    }
}
