//! Streaming CSV import (docs/interface.md formats). Memory holds one batch, whatever the file size.
//! Every row is validated; every problem goes to the error report as
//! `line,personal_id,field,reason`; good rows land even when their neighbours are bad.

pub use super::error_report::ErrorReport;
use super::read::{read_in_background, Chunks};
use crate::registry::citizen::{CitizenRow, FieldError, CITIZEN_COLUMNS};
use crate::registry::records::{check_within_life, IdCardRow, ImmunizationRow};
use crate::registry::{Citizen, IdCardRecord, Immunization, PersonalId};
use crate::store::{Store, UpsertCounts};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashSet;
use std::io::Read;

/// Rows per transaction. Large enough that per-batch round trips vanish, small enough that a
/// batch of citizens stays a few megabytes.
pub const BATCH_ROWS: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    Citizens,
    Immunizations,
    IdCards,
}

impl ImportKind {
    pub(super) fn required_columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Citizens => &[
                "personal_id",
                "full_name",
                "sex",
                "date_of_birth",
                "commune_code",
            ],
            ImportKind::Immunizations => &["personal_id", "vaccine", "date_given"],
            ImportKind::IdCards => &["personal_id", "issued_on"],
        }
    }

    pub(super) fn known_columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Citizens => &CITIZEN_COLUMNS,
            ImportKind::Immunizations => &["personal_id", "vaccine", "date_given", "place", "lot"],
            ImportKind::IdCards => &["personal_id", "issued_on"],
        }
    }
}

/// What one import did, for the closing summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Data rows read (the header is not counted).
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Rows that were already stored exactly so.
    pub unchanged: u64,
    /// Rows not stored because of a problem.
    pub rejected: u64,
    /// Rows stored with a problem (a guardian link that points nowhere, dropped).
    pub kept_with_warnings: u64,
    /// Lines written to the error report.
    pub problems: u64,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "đọc/read {} · thêm/inserted {} · cập nhật/updated {} · không đổi/unchanged {} · từ chối/rejected {}",
            self.read, self.inserted, self.updated, self.unchanged, self.rejected
        )?;
        if self.kept_with_warnings > 0 {
            write!(
                f,
                " · giữ kèm cảnh báo/kept with warnings {}",
                self.kept_with_warnings
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {problem}")]
    Header { file: String, problem: String },
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: csv::Error },
    #[error("cannot write the error report: {0}")]
    Report(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A write failed for a reason other than its rows; earlier batches are stored.
    #[error("{file}: dòng {first}–{last} chưa được lưu / lines {first}–{last} were not stored ({source}); the lines before {first} are. Fix the cause and import the file again: rows already stored stay unchanged")]
    Batch {
        file: String,
        first: u64,
        last: u64,
        source: crate::store::StoreError,
    },
}

/// One import: the file's name (for messages and history), the clock, and the store.
pub struct Importer<'a> {
    pub store: &'a Store,
    /// Recorded as the source of every change, e.g. `import:dan-cu-2026.csv`.
    pub source: String,
    pub file_label: String,
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
}

impl Importer<'_> {
    /// Imports one file. `known_vaccines` is the rule set's vaccine catalogue.
    pub async fn import<R: Read + Send + 'static>(
        &self,
        kind: ImportKind,
        input: R,
        report: &mut ErrorReport,
        known_vaccines: HashSet<String>,
    ) -> Result<ImportSummary, ImportError> {
        let started = std::time::Instant::now();
        let today = self.today;
        let file = self.file_label.as_str();
        let summary = match kind {
            ImportKind::Citizens => {
                let rx =
                    read_in_background(kind, file, input, move |r: CitizenRow| r.validate(today))?;
                self.citizens(rx, report).await?
            }
            ImportKind::Immunizations => {
                let rx = read_in_background(kind, file, input, move |r: ImmunizationRow| {
                    r.validate(today, &|code| known_vaccines.contains(code))
                })?;
                let key = |r: &Immunization| (r.personal_id, r.date_given, "date_given");
                self.records(rx, key, report).await?
            }
            ImportKind::IdCards => {
                let rx =
                    read_in_background(kind, file, input, move |r: IdCardRow| r.validate(today))?;
                let key = |r: &IdCardRecord| (r.personal_id, r.issued_on, "issued_on");
                self.records(rx, key, report).await?
            }
        };
        tracing::info!(
            kind = ?kind,
            read = summary.read,
            inserted = summary.inserted,
            updated = summary.updated,
            rejected = summary.rejected,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "import finished"
        );
        Ok(summary)
    }

    /// Citizens. Into an empty or nearly empty registry the store loads in bulk (its indexes
    /// built once at the end, `Store::begin_citizen_load`); the rows are checked and reported
    /// the same either way, and the indexes come back even when the import fails.
    async fn citizens(
        &self,
        rx: Chunks<Citizen>,
        report: &mut ErrorReport,
    ) -> Result<ImportSummary, ImportError> {
        let bulk = self.store.begin_citizen_load().await?;
        let imported = self.citizen_rows(rx, report, bulk).await;
        if !bulk {
            return imported;
        }
        let restored = self.store.restore_deferred_indexes().await;
        match (imported, restored) {
            (Ok(summary), Ok(())) => Ok(summary),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(also)) => {
                tracing::warn!(error = %also, "the citizens' indexes were not rebuilt; the next vongdoi command builds them");
                Err(e)
            }
        }
    }

    async fn citizen_rows(
        &self,
        mut rx: Chunks<Citizen>,
        report: &mut ErrorReport,
        bulk: bool,
    ) -> Result<ImportSummary, ImportError> {
        let mut summary = ImportSummary::default();
        let mut batch = CitizenBatch::default();
        while let Some(chunk) = rx.recv().await {
            for line in chunk? {
                summary.read += 1;
                match line.result {
                    Err(problems) => {
                        summary.rejected += 1;
                        for p in problems {
                            report.add(line.line, &line.raw_pin, p);
                        }
                    }
                    Ok(c) => {
                        // One batch never holds a personal ID twice: the later row must see the
                        // earlier one stored to be recorded as its update.
                        if batch.pins.contains(&c.personal_id) || batch.rows.len() >= BATCH_ROWS {
                            self.flush_citizens(&mut batch, report, &mut summary, bulk)
                                .await?;
                        }
                        batch.pins.insert(c.personal_id);
                        batch.rows.push((line.line, c));
                    }
                }
                // A long run of bad rows must not pile up problems in memory.
                if report.pending_len() >= BATCH_ROWS {
                    self.flush_citizens(&mut batch, report, &mut summary, bulk)
                        .await?;
                }
            }
        }
        self.flush_citizens(&mut batch, report, &mut summary, bulk)
            .await?;
        summary.problems = report.written;
        Ok(summary)
    }

    /// Immunization or ID-card records: rows in, checked against the registry, stored.
    async fn records<T: Writable>(
        &self,
        mut rx: Chunks<T>,
        key: impl Fn(&T) -> (PersonalId, NaiveDate, &'static str) + Copy,
        report: &mut ErrorReport,
    ) -> Result<ImportSummary, ImportError> {
        let mut summary = ImportSummary::default();
        let mut batch: Vec<(u64, T)> = Vec::with_capacity(BATCH_ROWS);
        while let Some(chunk) = rx.recv().await {
            for line in chunk? {
                summary.read += 1;
                match line.result {
                    Ok(rec) => batch.push((line.line, rec)),
                    Err(problems) => {
                        summary.rejected += 1;
                        for p in problems {
                            report.add(line.line, &line.raw_pin, p);
                        }
                    }
                }
                if batch.len() + report.pending_len() >= BATCH_ROWS {
                    self.flush_records(&mut batch, key, report, &mut summary)
                        .await?;
                }
            }
        }
        self.flush_records(&mut batch, key, report, &mut summary)
            .await?;
        summary.problems = report.written;
        Ok(summary)
    }

    /// Checks guardian links (to someone registered, or earlier in this file), drops the ones
    /// that point nowhere with a warning, and upserts the batch.
    async fn flush_citizens(
        &self,
        batch: &mut CitizenBatch,
        report: &mut ErrorReport,
        summary: &mut ImportSummary,
        bulk: bool,
    ) -> Result<(), ImportError> {
        if batch.rows.is_empty() {
            return Ok(report.flush_pending()?);
        }
        let referenced: Vec<PersonalId> = batch
            .rows
            .iter()
            .flat_map(|(_, c)| c.guardians())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let registered = self.store.existing_ids(&referenced).await?;
        let mut earlier_in_batch = HashSet::with_capacity(batch.rows.len());
        for (line, c) in batch.rows.iter_mut() {
            let mut warned = false;
            for field in ["mother_id", "father_id", "guardian_id"] {
                let link = c.link_mut(field).expect("known link field");
                if let Some(target) = *link {
                    if !registered.contains(&target) && !earlier_in_batch.contains(&target) {
                        *link = None;
                        warned = true;
                        report.add(
                            *line,
                            c.personal_id.as_str(),
                            FieldError::new(
                                field,
                                format!(
                                    "{} không có trong sổ và không ở dòng trước; đã lưu công dân nhưng bỏ liên kết này / {target} is neither registered nor on an earlier line: the citizen was stored without this link",
                                    target
                                ),
                            ),
                        );
                    }
                }
            }
            summary.kept_with_warnings += warned as u64;
            earlier_in_batch.insert(c.personal_id);
        }
        let (lines, citizens): (Vec<u64>, Vec<Citizen>) = batch.rows.drain(..).unzip();
        batch.pins.clear();
        self.write_isolating(&lines, &citizens, report, summary, bulk)
            .await?;
        report.flush_pending()?;
        Ok(())
    }

    /// Writes a batch. Validation should leave nothing the database refuses, but if it still
    /// refuses the data (a constraint this code does not know of), one bad row must not cost
    /// the good rows of its batch: the batch is written again in halves until the refused
    /// rows stand alone, and each is reported at its line. Other failures (the server gone)
    /// stop the import, naming the lines not stored. `bulk`: a bulk load of citizens.
    async fn write_isolating<T: Writable>(
        &self,
        lines: &[u64],
        rows: &[T],
        report: &mut ErrorReport,
        summary: &mut ImportSummary,
        bulk: bool,
    ) -> Result<(), ImportError> {
        let mut todo = vec![(0, rows.len())];
        while let Some((lo, hi)) = todo.pop() {
            if lo == hi {
                continue;
            }
            match T::write(self.store, &rows[lo..hi], &self.source, self.now, bulk).await {
                Ok(counts) => {
                    summary.inserted += counts.inserted;
                    summary.updated += counts.updated;
                    summary.unchanged += counts.unchanged;
                }
                Err(e) if e.is_data_error() && hi - lo == 1 => {
                    summary.rejected += 1;
                    report.add(
                        lines[lo],
                        rows[lo].pin().as_str(),
                        FieldError::new(
                            "row",
                            format!("cơ sở dữ liệu từ chối dòng này / the database refused this row ({e}): fix it and import it again"),
                        ),
                    );
                }
                Err(e) if e.is_data_error() => {
                    tracing::warn!(
                        first = lines[lo],
                        last = lines[hi - 1],
                        error = %e,
                        "the database refused a batch; writing it in halves to find the row"
                    );
                    let mid = lo + (hi - lo) / 2;
                    // Lower half first: rows keep their file order (parents before children).
                    todo.push((mid, hi));
                    todo.push((lo, mid));
                }
                Err(source) => {
                    return Err(ImportError::Batch {
                        file: self.file_label.clone(),
                        first: lines[lo],
                        last: *lines.last().unwrap_or(&lines[hi - 1]),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Rejects records of unknown citizens or dated outside their life, stores the rest.
    async fn flush_records<T: Writable>(
        &self,
        batch: &mut Vec<(u64, T)>,
        key: impl Fn(&T) -> (PersonalId, NaiveDate, &'static str),
        report: &mut ErrorReport,
        summary: &mut ImportSummary,
    ) -> Result<(), ImportError> {
        if batch.is_empty() {
            return Ok(report.flush_pending()?);
        }
        let pins: Vec<PersonalId> = batch
            .iter()
            .map(|(_, r)| key(r).0)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let lives = self.store.lifespans(&pins).await?;
        let mut good = Vec::with_capacity(batch.len());
        let mut good_lines = Vec::with_capacity(batch.len());
        for (line, rec) in batch.drain(..) {
            let (pin, date, field) = key(&rec);
            match check_within_life(field, date, lives.get(&pin).copied()) {
                Ok(()) => {
                    good.push(rec);
                    good_lines.push(line);
                }
                Err(problem) => {
                    summary.rejected += 1;
                    report.add(line, pin.as_str(), problem);
                }
            }
        }
        self.write_isolating(&good_lines, &good, report, summary, false)
            .await?;
        report.flush_pending()?;
        Ok(())
    }
}

#[derive(Default)]
struct CitizenBatch {
    rows: Vec<(u64, Citizen)>,
    pins: HashSet<PersonalId>,
}

/// What the importer writes in bulk: citizens, immunizations, ID cards.
trait Writable: Sized {
    fn pin(&self) -> PersonalId;
    async fn write(
        store: &Store,
        rows: &[Self],
        source: &str,
        now: DateTime<Utc>,
        bulk: bool,
    ) -> crate::store::Result<UpsertCounts>;
}

impl Writable for Citizen {
    fn pin(&self) -> PersonalId {
        self.personal_id
    }
    async fn write(
        store: &Store,
        rows: &[Self],
        source: &str,
        now: DateTime<Utc>,
        bulk: bool,
    ) -> crate::store::Result<UpsertCounts> {
        if bulk {
            store.load_citizens(rows, source, now).await
        } else {
            store.upsert_citizens(rows, source, now).await
        }
    }
}

/// Records are never updated: one already stored counts as unchanged.
fn record_counts(inserted: u64, written: usize) -> UpsertCounts {
    UpsertCounts {
        inserted,
        updated: 0,
        unchanged: written as u64 - inserted,
    }
}

impl Writable for Immunization {
    fn pin(&self) -> PersonalId {
        self.personal_id
    }
    async fn write(
        store: &Store,
        rows: &[Self],
        source: &str,
        now: DateTime<Utc>,
        _bulk: bool,
    ) -> crate::store::Result<UpsertCounts> {
        let inserted = store.insert_immunizations(rows, source, now).await?;
        Ok(record_counts(inserted, rows.len()))
    }
}

impl Writable for IdCardRecord {
    fn pin(&self) -> PersonalId {
        self.personal_id
    }
    async fn write(
        store: &Store,
        rows: &[Self],
        source: &str,
        now: DateTime<Utc>,
        _bulk: bool,
    ) -> crate::store::Result<UpsertCounts> {
        let inserted = store.insert_id_cards(rows, source, now).await?;
        Ok(record_counts(inserted, rows.len()))
    }
}
