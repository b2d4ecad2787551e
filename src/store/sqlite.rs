//! The embedded default: one SQLite file, tuned as ARCHITECTURE.md says — WAL, synchronous
//! NORMAL, a busy timeout, one writer connection beside a reader pool, and write transactions
//! begun IMMEDIATE so two processes never deadlock upgrading a read lock.
//! Only what differs from the other backend is here — the pools, the migrations, an import's
//! bulk writes and the scan's aggregation; every other query is written once, in the file of
//! its kind of data.

use super::scan::{marked_date, Selection};
use super::*;
use crate::registry::{AdminUnits, Citizen, IdCardRecord, Immunization};
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

/// Rows per multi-row INSERT: 18 columns × 500 stays far below SQLite's 32,766 variables.
const ROWS_PER_STATEMENT: usize = 500;

pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

/// A citizen's line of a scan page (`scan::parse_evaluation_page`): their fields, doses and
/// cards aggregated by the database, then the revision and next check.
const LINE: &str = "c.personal_id || '|' || c.sex || '|' || c.date_of_birth || '|' || \
    coalesce(c.date_of_death, '') || '|' || c.commune_code || '|' || \
    coalesce((SELECT group_concat(i.date_given || ' ' || i.vaccine, ',') FROM immunizations i \
              WHERE i.personal_id = c.personal_id), '') || '|' || \
    coalesce((SELECT group_concat(k.issued_on, ',') FROM id_cards k WHERE k.personal_id = c.personal_id), '') || '|' || \
    c.revision || '|' || c.next_check";

impl SqliteStore {
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            // 16 MB for the one writer: 64 MB was 40 MB of a 1 M catch-up run's peak, and an
            // import's index builds and the run's pages were no faster with it.
            .pragma("cache_size", "-16384")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::Connect)?;
        // Readers scan in key order and need little cache: a page read once is rarely read
        // again. 4 MB each, not 16: at 1 M citizens four full 16 MB caches were 37 MB of the
        // catch-up run's peak (issue #14 point 6), with no measurable loss of speed.
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(
                options
                    .read_only(true)
                    .create_if_missing(false)
                    .pragma("cache_size", "-4096"),
            )
            .await
            .map_err(StoreError::Connect)?;
        Ok(SqliteStore { writer, readers })
    }

    /// Write transactions begin IMMEDIATE: two processes never deadlock upgrading a read lock.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'_, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub(crate) fn read_pool(&self) -> &SqlitePool {
        &self.readers
    }

    pub(crate) fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    pub(crate) fn dialect(&self) -> &'static Dialect {
        &Dialect::SQLITE
    }

    /// Binds the values of a [`Dialect::in_list`]: one parameter each.
    pub(crate) fn bind_list<'q>(
        &self,
        q: Query<'q, Sqlite, SqliteArguments<'q>>,
        values: &'q [String],
    ) -> Query<'q, Sqlite, SqliteArguments<'q>> {
        values.iter().fold(q, |q, v| q.bind(v))
    }

    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    /// Brings the schema up to date (the administrative units are `seed_admin_units`).
    pub(crate) async fn migrate_schema(&self) -> Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    /// Writes the embedded provinces and communes, and records which version they are.
    pub(crate) async fn seed_admin_units(&self, fingerprint: &str) -> Result<()> {
        let units = AdminUnits::get();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO provinces (code, name, kind) ");
        qb.push_values(units.provinces(), |mut b, p| {
            b.push_bind(&p.code).push_bind(&p.name).push_bind(&p.kind);
        });
        qb.push(" ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind");
        qb.build().execute(&mut *tx).await?;
        for chunk in units.communes().chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO communes (code, province_code, name, kind) ",
            );
            qb.push_values(chunk, |mut b, c| {
                b.push_bind(&c.code)
                    .push_bind(&c.province_code)
                    .push_bind(&c.name)
                    .push_bind(&c.kind);
            });
            qb.push(" ON CONFLICT (code) DO UPDATE SET province_code = excluded.province_code, name = excluded.name, kind = excluded.kind");
            qb.build().execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO app_meta (key, value) VALUES ('admin_units', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(fingerprint)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn upsert_citizens(
        &self,
        batch: &[Citizen],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<UpsertCounts> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // Read what is stored inside the write transaction, so the plan cannot go stale.
        let mut existing = HashMap::new();
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {CITIZEN_SELECT} FROM citizens WHERE personal_id IN ({})",
                vec!["?"; chunk.len()].join(",")
            );
            let mut q = sqlx::query_as::<_, CitizenDbRow>(&sql);
            for c in chunk {
                q = q.bind(c.personal_id.as_str());
            }
            for row in q.fetch_all(&mut *tx).await? {
                let c = Citizen::try_from(row)?;
                existing.insert(c.personal_id, c);
            }
        }
        let mut plan = plan_upsert(&existing, batch);
        // In key order, each statement touches neighbouring pages of the personal-ID index.
        plan.writes.sort_unstable_by_key(|c| c.personal_id);
        for chunk in plan.writes.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO citizens (personal_id, full_name, sex, date_of_birth, date_of_death, commune_code, household_id, mother_id, father_id, guardian_id, phone, email, language, village, address, created_at, updated_at, created_by) ",
            );
            qb.push_values(chunk, |mut b, c| {
                b.push_bind(c.personal_id.as_str())
                    .push_bind(&c.full_name)
                    .push_bind(c.sex.code())
                    .push_bind(c.date_of_birth)
                    .push_bind(c.date_of_death)
                    .push_bind(c.commune_code.as_str())
                    .push_bind(c.household_id.as_deref())
                    .push_bind(c.mother_id.map(|p| p.to_string()))
                    .push_bind(c.father_id.map(|p| p.to_string()))
                    .push_bind(c.guardian_id.map(|p| p.to_string()))
                    .push_bind(c.phone.as_ref().map(|p| p.e164()))
                    .push_bind(c.email.as_ref().map(|e| e.as_str()))
                    .push_bind(c.language.code())
                    .push_bind(c.village.as_deref())
                    .push_bind(c.address.as_deref())
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(source);
            });
            qb.push(
                " ON CONFLICT (personal_id) DO UPDATE SET full_name = excluded.full_name, sex = excluded.sex, \
                 date_of_birth = excluded.date_of_birth, date_of_death = excluded.date_of_death, \
                 commune_code = excluded.commune_code, household_id = excluded.household_id, \
                 mother_id = excluded.mother_id, father_id = excluded.father_id, guardian_id = excluded.guardian_id, \
                 phone = excluded.phone, email = excluded.email, language = excluded.language, \
                 village = excluded.village, address = excluded.address, updated_at = excluded.updated_at",
            );
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in plan.history.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO citizen_history (personal_id, changed_at, source, field, old_value, new_value) ",
            );
            qb.push_values(chunk, |mut b, (pin, field, old, new)| {
                b.push_bind(pin.as_str())
                    .push_bind(now)
                    .push_bind(source)
                    .push_bind(*field)
                    .push_bind(Some(old.as_str()).filter(|s| !s.is_empty()))
                    .push_bind(Some(new.as_str()).filter(|s| !s.is_empty()));
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(plan.counts)
    }

    /// Which of these personal IDs are registered, in one statement: the IDs go in as one JSON
    /// list and come back as one comma-separated text. An import asks this for every
    /// guardian its batch names (tens of thousands); as rows through sqlx it took longer than
    /// storing the batch. Through the writer, so it sees the batch committed a moment ago.
    pub(crate) async fn existing_ids(&self, pins: &[PersonalId]) -> Result<HashSet<PersonalId>> {
        let mut sorted: Vec<&str> = pins.iter().map(|p| p.as_str()).collect();
        // In key order the lookups walk the personal-ID index from one end to the other.
        sorted.sort_unstable();
        let list = serde_json::to_string(&sorted).expect("strings serialise");
        let found: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(personal_id, ',') FROM citizens \
             WHERE personal_id IN (SELECT value FROM json_each($1))",
        )
        .bind(list)
        .fetch_one(&self.writer)
        .await?;
        found
            .iter()
            .flat_map(|f| f.split(','))
            .map(|p| PersonalId::parse(p).map_err(corrupt("personal_id")))
            .collect()
    }

    pub async fn insert_immunizations(
        &self,
        records: &[Immunization],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut inserted = 0;
        let mut records: Vec<&Immunization> = records.iter().collect();
        records.sort_unstable_by(|a, b| {
            (a.personal_id, &a.vaccine, a.date_given).cmp(&(
                b.personal_id,
                &b.vaccine,
                b.date_given,
            ))
        });
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO immunizations (personal_id, vaccine, date_given, place, lot, recorded_at, source) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.personal_id.as_str())
                    .push_bind(&r.vaccine)
                    .push_bind(r.date_given)
                    .push_bind(r.place.as_deref())
                    .push_bind(r.lot.as_deref())
                    .push_bind(now)
                    .push_bind(source);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            inserted += qb.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn insert_id_cards(
        &self,
        records: &[IdCardRecord],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut inserted = 0;
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO id_cards (personal_id, issued_on, recorded_at, source) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.personal_id.as_str())
                    .push_bind(r.issued_on)
                    .push_bind(now)
                    .push_bind(source);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            inserted += qb.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// The registry scan's page as one text value (see `parse_evaluation_page`); None when
    /// the selection holds nobody more.
    pub(crate) async fn evaluation_page_text(
        &self,
        selection: &Selection<'_>,
        limit: i64,
    ) -> Result<Option<String>> {
        let (filter, order) = match selection {
            Selection::All { .. } => ("c.personal_id > ?", "c.personal_id"),
            Selection::Due { .. } => (
                "c.next_check <= ? AND (c.next_check, c.personal_id) > (?, ?)",
                "c.next_check, c.personal_id",
            ),
        };
        let sql = format!(
            "SELECT group_concat(line, char(10) ORDER BY pid) FROM ( \
               SELECT c.personal_id AS pid, {LINE} AS line \
               FROM citizens c WHERE {filter} AND c.personal_id >= ? AND c.personal_id < ? ORDER BY {order} LIMIT ?)"
        );
        let mut q = sqlx::query_scalar::<_, Option<String>>(&sql);
        q = match selection {
            Selection::All { after, .. } => {
                q.bind(after.map(|p| p.to_string()).unwrap_or_default())
            }
            Selection::Due { as_of, after, .. } => {
                let (d, p) =
                    after.map_or((marked_date(), String::new()), |(d, p)| (d, p.to_string()));
                q.bind(*as_of).bind(d).bind(p)
            }
        };
        Ok(q.bind(selection.first_bound().to_string())
            .bind(selection.end_bound().to_string())
            .bind(limit)
            .fetch_one(&self.readers)
            .await?)
    }

    /// A filtered scan page as one text value, in (date of birth, personal ID) order.
    pub(crate) async fn evaluation_page_in_text(
        &self,
        range: &ScanRange,
        after: Option<BirthCursor>,
        limit: i64,
    ) -> Result<Option<String>> {
        // Without a cursor, start just before the range: every birth date >= born_from.
        let (after_birth, after_pin) = after
            .map(|(d, p)| (d, p.to_string()))
            .unwrap_or((range.born_from, String::new()));
        let commune = if range.commune.is_some() {
            "c.commune_code = ? AND"
        } else {
            ""
        };
        let sql = format!(
            "SELECT group_concat(line, char(10) ORDER BY dob, pid) FROM ( \
               SELECT c.date_of_birth AS dob, c.personal_id AS pid, {LINE} AS line \
               FROM citizens c WHERE {commune} c.date_of_birth >= ? AND c.date_of_birth <= ? \
               AND (c.date_of_birth > ? OR (c.date_of_birth = ? AND c.personal_id > ?)) \
               ORDER BY c.date_of_birth, c.personal_id LIMIT ?)"
        );
        let mut q = sqlx::query_scalar::<_, Option<String>>(&sql);
        if let Some(c) = &range.commune {
            q = q.bind(c.as_str());
        }
        Ok(q.bind(after_birth.max(range.born_from))
            .bind(range.born_until)
            .bind(after_birth)
            .bind(after_birth)
            .bind(after_pin)
            .bind(limit)
            .fetch_one(&self.readers)
            .await?)
    }
}
