//! The registry scan: every citizen with their records, in personal-ID pages, read one page
//! ahead of the consumer. The database (SQLite's worker thread, or the PostgreSQL server)
//! fetches page n+1 while the caller evaluates page n, and the bounded channel keeps at most
//! two pages in memory whatever the registry's size. The page's aggregation differs in kind
//! between the backends (`group_concat` or `string_agg`, text casts, row comparisons) and lives
//! in `sqlite.rs` and `postgres.rs`; the parsing, the paging and the ledger reads beside the
//! scan are here, once.

use super::{corrupt, BirthCursor, Result, Store, StoreError};
use crate::registry::{CommuneCode, PersonalId, Sex};
use chrono::NaiveDate;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Which citizens a filtered registry scan reads: one commune (or every commune) and a range
/// of birth dates, both ends included. Staff lists are about children or one commune: reading
/// only them through the `citizens_commune_birth` / `citizens_birth` indexes, instead of the
/// whole registry, is what keeps a commune's list under a second at any registry size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRange {
    pub commune: Option<CommuneCode>,
    pub born_from: NaiveDate,
    pub born_until: NaiveDate,
}

/// One dose as the rule engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDose {
    pub vaccine: String,
    pub date_given: NaiveDate,
}

/// What the rule engine needs of a citizen, with their records: the lean row of the registry
/// scan. Names and contacts are left out on purpose — the scan touches everyone, and only the
/// few with something due need them (fetch those with [`Store::citizen`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenRecords {
    pub personal_id: PersonalId,
    pub sex: Sex,
    pub date_of_birth: NaiveDate,
    pub date_of_death: Option<NaiveDate>,
    pub commune_code: CommuneCode,
    /// In date order.
    pub doses: Vec<RecordedDose>,
    /// In date order.
    pub id_cards: Vec<NaiveDate>,
    /// Counts changes to the citizen's records (see the `next_check` migration): the run
    /// writes their next check only if it is still the one it read.
    pub revision: i64,
    /// The day the scheduler must look at them again (`runs::MARKED` when changed).
    pub next_check: NaiveDate,
}

/// Which citizens a page of the scheduler's scan reads: personal IDs in `[first, end)` (`""`:
/// no bound), either all of them after `after` in ID order (a full pass) or those whose next
/// check has come by `as_of`, after a cursor in (next check, ID) order — the order of the
/// `citizens_next_check` index, which the query walks without sorting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection<'a> {
    All {
        first: &'a str,
        end: &'a str,
        after: Option<PersonalId>,
    },
    Due {
        first: &'a str,
        end: &'a str,
        as_of: NaiveDate,
        after: Option<(NaiveDate, PersonalId)>,
    },
}

impl Selection<'_> {
    /// The upper bound as bound into the query: `~` sorts after every ID.
    pub(crate) fn end_bound(&self) -> &str {
        let (Selection::All { end, .. } | Selection::Due { end, .. }) = self;
        if end.is_empty() {
            "~"
        } else {
            end
        }
    }

    pub(crate) fn first_bound(&self) -> &str {
        let (Selection::All { first, .. } | Selection::Due { first, .. }) = self;
        first
    }
}

/// The earliest date a citizen's next check can hold: new and changed citizens.
pub fn marked_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("a valid date")
}

/// How a page of the registry scan travels from the database: one text value for the whole
/// page, a line per citizen — `personal_id|sex|birth|death|commune|date vaccine,…|date,…|revision|next_check` —
/// built by the database in personal-ID order. A row per citizen (or per dose) costs more in
/// the driver's per-value copying than the database spends finding the data; one value per
/// page makes reading the registry several times faster.
pub(crate) fn parse_evaluation_page(page: &str) -> Result<Vec<CitizenRecords>> {
    page.lines()
        .filter(|l| !l.is_empty())
        .map(parse_evaluation_line)
        .collect()
}

fn parse_evaluation_line(line: &str) -> Result<CitizenRecords> {
    let bad = || {
        StoreError::Corrupt(format!(
            "scan line for {}",
            crate::registry::personal_id::mask_raw(line.split('|').next().unwrap_or(""))
        ))
    };
    let mut f = line.split('|');
    let mut next = || f.next().ok_or_else(bad);
    let (pin, sex, birth, death, commune, doses_text, cards_text) = (
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
    );
    let (revision, next_check) = (next()?, next()?);
    let mut doses = Vec::new();
    for entry in doses_text.split(',').filter(|e| !e.is_empty()) {
        let (date, vaccine) = entry.split_once(' ').ok_or_else(bad)?;
        doses.push(RecordedDose {
            vaccine: vaccine.to_string(),
            date_given: iso_date(date)?,
        });
    }
    doses.sort_by(|a, b| (a.date_given, &a.vaccine).cmp(&(b.date_given, &b.vaccine)));
    let mut id_cards = cards_text
        .split(',')
        .filter(|e| !e.is_empty())
        .map(iso_date)
        .collect::<Result<Vec<_>>>()?;
    id_cards.sort();
    Ok(CitizenRecords {
        personal_id: PersonalId::parse(pin).map_err(corrupt("personal_id"))?,
        sex: Sex::parse(sex).map_err(corrupt("sex"))?,
        date_of_birth: iso_date(birth)?,
        date_of_death: if death.is_empty() {
            None
        } else {
            Some(iso_date(death)?)
        },
        commune_code: CommuneCode::parse(commune).map_err(corrupt("commune_code"))?,
        doses,
        id_cards,
        revision: revision.parse().map_err(|_| bad())?,
        next_check: iso_date(next_check)?,
    })
}

/// `YYYY-MM-DD` without the generality of a format string: the scan parses millions.
fn iso_date(s: &str) -> Result<NaiveDate> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + (d - b'0') as u32)
        })
    };
    (b.len() == 10 && b[4] == b'-' && b[7] == b'-')
        .then(|| NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?))
        .flatten()
        .ok_or_else(|| StoreError::Corrupt(format!("date '{s}'")))
}

/// A row of the event ledger.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRow {
    pub personal_id: String,
    pub item: String,
    pub status: String,
    pub earliest: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub overdue: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    pub changed_on: NaiveDate,
}

impl EventRow {
    /// Same status and dates (when it last changed aside).
    pub fn same_state(&self, other: &EventRow) -> bool {
        (
            &self.status,
            self.earliest,
            self.due,
            self.overdue,
            self.expires,
            self.completed_on,
        ) == (
            &other.status,
            other.earliest,
            other.due,
            other.overdue,
            other.expires,
            other.completed_on,
        )
    }
}

impl Store {
    /// A page of citizens in personal-ID order after `after`, each with the records the rule
    /// engine evaluates: the scan the scheduler and the staff lists are built on. One query per
    /// page, returned as one text value (see [`parse_evaluation_page`]).
    pub async fn evaluation_page(
        &self,
        after: Option<PersonalId>,
        limit: i64,
    ) -> Result<Vec<CitizenRecords>> {
        let all = Selection::All {
            first: "",
            end: "",
            after,
        };
        self.evaluation_page_of(&all, limit).await
    }

    /// A page of the scheduler's scan: the citizens `selection` picks, each with their records.
    pub async fn evaluation_page_of(
        &self,
        selection: &Selection<'_>,
        limit: i64,
    ) -> Result<Vec<CitizenRecords>> {
        let page = dispatch!(self, s => s.evaluation_page_text(selection, limit).await?);
        parse_evaluation_page(page.as_deref().unwrap_or(""))
    }

    /// A page of the citizens in `range`, in (date of birth, personal ID) order after `after`,
    /// each with the records the rule engine evaluates — [`Store::evaluation_page`] narrowed to
    /// a commune and a birth range. One query per page, one text value.
    pub async fn evaluation_page_in(
        &self,
        range: &ScanRange,
        after: Option<BirthCursor>,
        limit: i64,
    ) -> Result<Vec<CitizenRecords>> {
        if range.born_from > range.born_until {
            return Ok(Vec::new());
        }
        let page = dispatch!(self, s => s.evaluation_page_in_text(range, after, limit).await?);
        parse_evaluation_page(page.as_deref().unwrap_or(""))
    }

    /// The ledger rows of these citizens (an incremental page is scattered over the registry:
    /// a range would read everyone between its first and last).
    pub async fn ledger_of(&self, pins: &[PersonalId]) -> Result<Vec<EventRow>> {
        self.rows_for_ids(pins, |list| {
            format!("SELECT personal_id, item, status, earliest, due, overdue, expires, completed_on, changed_on FROM events WHERE personal_id {list}")
        })
        .await
    }

    /// The ledger rows of the citizens with IDs in `first..=last`.
    pub async fn ledger_between(
        &self,
        first: PersonalId,
        last: PersonalId,
    ) -> Result<Vec<EventRow>> {
        const SQL: &str = "SELECT personal_id, item, status, earliest, due, overdue, expires, completed_on, changed_on \
             FROM events WHERE personal_id >= $1 AND personal_id <= $2";
        Ok(dispatch!(self, s => sqlx::query_as::<_, EventRow>(SQL)
            .bind(first.as_str())
            .bind(last.as_str())
            .fetch_all(s.read_pool())
            .await?))
    }
}

/// Pages of this many citizens: large enough that per-query costs vanish, small enough that a
/// page is a few megabytes.
pub const SCAN_PAGE: i64 = 5_000;

/// Starts a scan after `after` (None: from the first citizen; a checkpoint to resume). The
/// receiver yields pages in personal-ID order, then closes; an error ends the scan.
pub fn scan_registry(
    store: Arc<Store>,
    after: Option<PersonalId>,
    page: i64,
) -> mpsc::Receiver<Result<Vec<CitizenRecords>>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut after = after;
        loop {
            match store.evaluation_page(after, page).await {
                Ok(rows) if rows.is_empty() => return,
                Ok(rows) => {
                    after = rows.last().map(|r| r.personal_id);
                    // A dropped receiver means the consumer stopped: stop reading too.
                    if tx.send(Ok(rows)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    rx
}

/// Starts the scan of a shard: in ID order after its checkpoint on a full pass, or the
/// citizens whose next check has come, in (next check, ID) order; read one page ahead like
/// [`scan_registry`]. A page the consumer commits moves its citizens' next checks past the day,
/// which is why the reader keeps a cursor rather than asking again for the first page.
pub fn scan_shard(
    store: Arc<Store>,
    shard: &super::shards::Shard,
    page: i64,
) -> mpsc::Receiver<Result<Vec<CitizenRecords>>> {
    let (tx, rx) = mpsc::channel(1);
    let shard = shard.clone();
    tokio::spawn(async move {
        let mut after_id = match shard.checkpoint.as_deref().map(PersonalId::parse) {
            Some(Ok(pin)) => Some(pin),
            Some(Err(_)) => {
                let _ = tx
                    .send(Err(StoreError::Corrupt("shard checkpoint".into())))
                    .await;
                return;
            }
            None => None,
        };
        let mut after_due: Option<(NaiveDate, PersonalId)> = None;
        loop {
            let (first, end) = (shard.first_id.as_str(), shard.end_id.as_str());
            let selection = if shard.full {
                Selection::All {
                    first,
                    end,
                    after: after_id,
                }
            } else {
                Selection::Due {
                    first,
                    end,
                    as_of: shard.as_of,
                    after: after_due,
                }
            };
            match store.evaluation_page_of(&selection, page).await {
                Ok(rows) if rows.is_empty() => return,
                Ok(rows) => {
                    after_id = rows.last().map(|r| r.personal_id);
                    after_due = rows.iter().map(|r| (r.next_check, r.personal_id)).max();
                    let short = (rows.len() as i64) < page;
                    if tx.send(Ok(rows)).await.is_err() || short {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    rx
}

/// Starts a filtered scan over `ranges` one after the other (a commune, or every commune, and a
/// birth range each), in (date of birth, personal ID) pages within each range, read one page
/// ahead like [`scan_registry`]. The staff lists are built on it.
pub fn scan_ranges(
    store: Arc<Store>,
    ranges: Vec<ScanRange>,
    page: i64,
) -> mpsc::Receiver<Result<Vec<CitizenRecords>>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for range in &ranges {
            let mut after = None;
            loop {
                match store.evaluation_page_in(range, after, page).await {
                    Ok(rows) if rows.is_empty() => break,
                    Ok(rows) => {
                        after = rows.last().map(|r| (r.date_of_birth, r.personal_id));
                        let short = (rows.len() as i64) < page;
                        if tx.send(Ok(rows)).await.is_err() {
                            return;
                        }
                        // A short page is the range's last: save the empty query.
                        if short {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        }
    });
    rx
}
