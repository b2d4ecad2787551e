//! PostgreSQL, for a province or the whole country with several service instances. Bulk
//! writes go through `UNNEST` of one array per column: one round trip per batch, however large.
//! Only what differs from the other backend is here — the pools, the migrations, an import's
//! bulk writes and the scan's aggregation; every other query is written once, in the file of
//! its kind of data.

use super::scan::{marked_date, Selection};
use super::*;
use crate::registry::{AdminUnits, Citizen, IdCardRecord, Immunization};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

pub struct PgStore {
    pool: PgPool,
    statement_timeout: Duration,
}

fn statement_timeout_sql(t: Duration) -> String {
    format!("SET statement_timeout = {}", t.as_millis().max(1))
}

/// How long one statement may run (`VONGDOI_DB_STATEMENT_TIMEOUT_SECONDS`, default 300): far
/// above the slowest legitimate statement (a 50,000-row batch, a page of the registry scan),
/// and a bound on one that waits on a lock or a stuck server for ever (issue #10).
fn statement_timeout() -> Result<Duration> {
    let key = "VONGDOI_DB_STATEMENT_TIMEOUT_SECONDS";
    match std::env::var(key).ok().filter(|v| !v.is_empty()) {
        None => Ok(Duration::from_secs(300)),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0 && s.is_finite())
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                StoreError::Connect(sqlx::Error::Configuration(
                    format!("{key} '{v}' is not a positive number of seconds").into(),
                ))
            }),
    }
}

/// A citizen's line of a scan page (`scan::parse_evaluation_page`), as in `sqlite.rs`.
const LINE: &str = "c.personal_id || '|' || c.sex || '|' || c.date_of_birth::text || '|' || \
    coalesce(c.date_of_death::text, '') || '|' || c.commune_code || '|' || \
    coalesce((SELECT string_agg(i.date_given::text || ' ' || i.vaccine, ',') FROM immunizations i \
              WHERE i.personal_id = c.personal_id), '') || '|' || \
    coalesce((SELECT string_agg(k.issued_on::text, ',') FROM id_cards k WHERE k.personal_id = c.personal_id), '') || '|' || \
    c.revision::text || '|' || c.next_check::text";

impl PgStore {
    pub async fn open(url: &str) -> Result<PgStore> {
        Self::open_with(url, statement_timeout()?).await
    }

    /// Every connection runs with `statement_timeout` set (a `SET` when it opens rather than a
    /// startup option, which connection poolers such as PgBouncer refuse).
    pub(crate) async fn open_with(url: &str, statement_timeout: Duration) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::Connect)?;
        let set = statement_timeout_sql(statement_timeout);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                let set = set.clone();
                Box::pin(async move {
                    sqlx::Executor::execute(conn, set.as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        Ok(PgStore {
            pool,
            statement_timeout,
        })
    }

    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'_, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }

    pub(crate) fn read_pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn write_pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn dialect(&self) -> &'static Dialect {
        &Dialect::POSTGRES
    }

    /// Binds the values of a [`Dialect::in_list`]: one `text[]` parameter.
    pub(crate) fn bind_list<'q>(
        &self,
        q: Query<'q, Postgres, PgArguments>,
        values: &'q [String],
    ) -> Query<'q, Postgres, PgArguments> {
        q.bind(values)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Brings the schema up to date (the administrative units are `seed_admin_units`).
    pub(crate) async fn migrate_schema(&self) -> Result<()> {
        // A migration may rebuild an index of the whole registry: no statement deadline for
        // it, and the connection gets its deadline back before it returns to the pool.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut *conn)
            .await?;
        let migrated = sqlx::migrate!("./migrations/postgres")
            .run(&mut *conn)
            .await;
        sqlx::query(&statement_timeout_sql(self.statement_timeout))
            .execute(&mut *conn)
            .await?;
        migrated?;
        Ok(())
    }

    /// Writes the embedded provinces and communes, and records which version they are.
    pub(crate) async fn seed_admin_units(&self, fingerprint: &str) -> Result<()> {
        let units = AdminUnits::get();
        let mut tx = self.pool.begin().await?;
        let col = |f: fn(&crate::registry::admin_units::Province) -> &String| -> Vec<String> {
            units.provinces().iter().map(|p| f(p).clone()).collect()
        };
        sqlx::query(
            "INSERT INTO provinces (code, name, kind) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind",
        )
        .bind(col(|p| &p.code))
        .bind(col(|p| &p.name))
        .bind(col(|p| &p.kind))
        .execute(&mut *tx)
        .await?;
        let col = |f: fn(&crate::registry::admin_units::Commune) -> &String| -> Vec<String> {
            units.communes().iter().map(|c| f(c).clone()).collect()
        };
        sqlx::query(
            "INSERT INTO communes (code, province_code, name, kind) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) \
             ON CONFLICT (code) DO UPDATE SET province_code = excluded.province_code, name = excluded.name, kind = excluded.kind",
        )
        .bind(col(|c| &c.code))
        .bind(col(|c| &c.province_code))
        .bind(col(|c| &c.name))
        .bind(col(|c| &c.kind))
        .execute(&mut *tx)
        .await?;
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
        let mut tx = self.pool.begin().await?;
        // Lock the stored rows of this batch, so a concurrent import cannot slip a change in
        // between the comparison and the write.
        let pins: Vec<String> = batch.iter().map(|c| c.personal_id.to_string()).collect();
        let rows = sqlx::query_as::<_, CitizenDbRow>(&format!(
            "SELECT {CITIZEN_SELECT} FROM citizens WHERE personal_id = ANY($1) FOR UPDATE"
        ))
        .bind(&pins)
        .fetch_all(&mut *tx)
        .await?;
        let mut existing = HashMap::with_capacity(rows.len());
        for row in rows {
            let c = Citizen::try_from(row)?;
            existing.insert(c.personal_id, c);
        }
        let plan = plan_upsert(&existing, batch);
        if !plan.writes.is_empty() {
            let w = &plan.writes;
            let strings = |f: &dyn Fn(&Citizen) -> String| -> Vec<String> {
                w.iter().map(|c| f(c)).collect()
            };
            let optional = |f: &dyn Fn(&Citizen) -> Option<String>| -> Vec<Option<String>> {
                w.iter().map(|c| f(c)).collect()
            };
            sqlx::query(
                "INSERT INTO citizens (personal_id, full_name, sex, date_of_birth, date_of_death, commune_code, household_id, \
                 mother_id, father_id, guardian_id, phone, email, language, village, address, created_at, updated_at, created_by) \
                 SELECT u.*, $16, $16, $17 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::date[], $5::date[], $6::text[], \
                 $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[]) AS u \
                 ON CONFLICT (personal_id) DO UPDATE SET full_name = excluded.full_name, sex = excluded.sex, \
                 date_of_birth = excluded.date_of_birth, date_of_death = excluded.date_of_death, \
                 commune_code = excluded.commune_code, household_id = excluded.household_id, \
                 mother_id = excluded.mother_id, father_id = excluded.father_id, guardian_id = excluded.guardian_id, \
                 phone = excluded.phone, email = excluded.email, language = excluded.language, \
                 village = excluded.village, address = excluded.address, updated_at = excluded.updated_at",
            )
            .bind(strings(&|c| c.personal_id.to_string()))
            .bind(strings(&|c| c.full_name.clone()))
            .bind(strings(&|c| c.sex.code().to_string()))
            .bind(w.iter().map(|c| c.date_of_birth).collect::<Vec<_>>())
            .bind(w.iter().map(|c| c.date_of_death).collect::<Vec<_>>())
            .bind(strings(&|c| c.commune_code.to_string()))
            .bind(optional(&|c| c.household_id.clone()))
            .bind(optional(&|c| c.mother_id.map(|p| p.to_string())))
            .bind(optional(&|c| c.father_id.map(|p| p.to_string())))
            .bind(optional(&|c| c.guardian_id.map(|p| p.to_string())))
            .bind(optional(&|c| c.phone.as_ref().map(|p| p.to_string())))
            .bind(optional(&|c| c.email.as_ref().map(|e| e.to_string())))
            .bind(strings(&|c| c.language.code().to_string()))
            .bind(optional(&|c| c.village.clone()))
            .bind(optional(&|c| c.address.clone()))
            .bind(now)
            .bind(source)
            .execute(&mut *tx)
            .await?;
        }
        if !plan.history.is_empty() {
            let h = &plan.history;
            let blank_is_null = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
            sqlx::query(
                "INSERT INTO citizen_history (personal_id, changed_at, source, field, old_value, new_value) \
                 SELECT u.pin, $5, $6, u.field, u.old, u.new FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS u(pin, field, old, new)",
            )
            .bind(h.iter().map(|e| e.0.to_string()).collect::<Vec<_>>())
            .bind(h.iter().map(|e| e.1.to_string()).collect::<Vec<_>>())
            .bind(h.iter().map(|e| blank_is_null(&e.2)).collect::<Vec<_>>())
            .bind(h.iter().map(|e| blank_is_null(&e.3)).collect::<Vec<_>>())
            .bind(now)
            .bind(source)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(plan.counts)
    }

    /// New citizens by `COPY` in one transaction (a bulk load, `store::bulk`): the server parses
    /// the rows as `psql \copy` has it do. Columns are named, so the others take their
    /// defaults. A registered citizen among them fails the whole COPY with a unique violation.
    pub(crate) async fn copy_new_citizens(
        &self,
        rows: &[&Citizen],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let now = now.to_rfc3339();
        let mut data = Vec::with_capacity(rows.len() * 192);
        for c in rows {
            let birth = c.date_of_birth.to_string();
            let death = c.date_of_death.map(|d| d.to_string());
            let fields: [Option<&str>; 18] = [
                Some(c.personal_id.as_str()),
                Some(&c.full_name),
                Some(c.sex.code()),
                Some(&birth),
                death.as_deref(),
                Some(c.commune_code.as_str()),
                c.household_id.as_deref(),
                c.mother_id.as_ref().map(|p| p.as_str()),
                c.father_id.as_ref().map(|p| p.as_str()),
                c.guardian_id.as_ref().map(|p| p.as_str()),
                c.phone.as_ref().map(|p| p.e164()),
                c.email.as_ref().map(|e| e.as_str()),
                Some(c.language.code()),
                c.village.as_deref(),
                c.address.as_deref(),
                Some(&now),
                Some(&now),
                Some(source),
            ];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    data.push(b'\t');
                }
                copy_field(&mut data, *field);
            }
            data.push(b'\n');
        }
        let mut tx = self.pool.begin().await?;
        let mut copy = tx
            .copy_in_raw(
                "COPY citizens (personal_id, full_name, sex, date_of_birth, date_of_death, commune_code, \
                 household_id, mother_id, father_id, guardian_id, phone, email, language, village, address, \
                 created_at, updated_at, created_by) FROM STDIN",
            )
            .await?;
        // In pieces of a megabyte: the server parses while the rest is on its way.
        for piece in data.chunks(1 << 20) {
            copy.send(piece).await?;
        }
        let inserted = copy.finish().await?;
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn insert_immunizations(
        &self,
        records: &[Immunization],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "INSERT INTO immunizations (personal_id, vaccine, date_given, place, lot, recorded_at, source) \
             SELECT u.*, $6, $7 FROM UNNEST($1::text[], $2::text[], $3::date[], $4::text[], $5::text[]) AS u \
             ON CONFLICT DO NOTHING",
        )
        .bind(records.iter().map(|r| r.personal_id.to_string()).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.vaccine.clone()).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.date_given).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.place.clone()).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.lot.clone()).collect::<Vec<_>>())
        .bind(now)
        .bind(source)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn insert_id_cards(
        &self,
        records: &[IdCardRecord],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "INSERT INTO id_cards (personal_id, issued_on, recorded_at, source) \
             SELECT u.*, $3, $4 FROM UNNEST($1::text[], $2::date[]) AS u ON CONFLICT DO NOTHING",
        )
        .bind(
            records
                .iter()
                .map(|r| r.personal_id.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(records.iter().map(|r| r.issued_on).collect::<Vec<_>>())
        .bind(now)
        .bind(source)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The registry scan's page as one text value (see `parse_evaluation_page`); None when
    /// the selection holds nobody more.
    pub(crate) async fn evaluation_page_text(
        &self,
        selection: &Selection<'_>,
        limit: i64,
    ) -> Result<Option<String>> {
        let (filter, order) = match selection {
            Selection::All { .. } => ("c.personal_id > $1 AND c.personal_id >= $2 AND c.personal_id < $3", "c.personal_id"),
            Selection::Due { .. } => (
                "c.next_check <= $4 AND (c.next_check, c.personal_id) > ($5::date, $1) AND c.personal_id >= $2 AND c.personal_id < $3",
                "c.next_check, c.personal_id",
            ),
        };
        let limit_at = if matches!(selection, Selection::All { .. }) {
            4
        } else {
            6
        };
        let sql = format!(
            "SELECT string_agg(line, E'\\n' ORDER BY pid) FROM ( \
               SELECT c.personal_id AS pid, {LINE} AS line \
               FROM citizens c WHERE {filter} ORDER BY {order} LIMIT ${limit_at}) AS page"
        );
        let q = sqlx::query_scalar::<_, Option<String>>(&sql);
        let q = match selection {
            Selection::All { after, .. } => q
                .bind(after.map(|p| p.to_string()).unwrap_or_default())
                .bind(selection.first_bound().to_string())
                .bind(selection.end_bound().to_string()),
            Selection::Due { as_of, after, .. } => {
                let (d, p) =
                    after.map_or((marked_date(), String::new()), |(d, p)| (d, p.to_string()));
                q.bind(p)
                    .bind(selection.first_bound().to_string())
                    .bind(selection.end_bound().to_string())
                    .bind(*as_of)
                    .bind(d)
            }
        };
        Ok(q.bind(limit).fetch_one(&self.pool).await?)
    }

    /// A filtered scan page as one text value, in (date of birth, personal ID) order.
    pub(crate) async fn evaluation_page_in_text(
        &self,
        range: &ScanRange,
        after: Option<BirthCursor>,
        limit: i64,
    ) -> Result<Option<String>> {
        let (after_birth, after_pin) = after
            .map(|(d, p)| (d, p.to_string()))
            .unwrap_or((range.born_from, String::new()));
        // Two statements rather than `$1 IS NULL OR …`: a cached generic plan for that form
        // could not use the commune index.
        let commune = if range.commune.is_some() {
            "c.commune_code = $1 AND"
        } else {
            "$1::text IS NULL AND"
        };
        Ok(sqlx::query_scalar::<_, Option<String>>(&format!(
            "SELECT string_agg(line, E'\\n' ORDER BY dob, pid) FROM ( \
               SELECT c.date_of_birth AS dob, c.personal_id AS pid, {LINE} AS line \
               FROM citizens c WHERE {commune} \
               c.date_of_birth >= GREATEST($2::date, $4::date) AND c.date_of_birth <= $3 \
               AND (c.date_of_birth, c.personal_id) > ($4::date, $5::text) \
               ORDER BY c.date_of_birth, c.personal_id LIMIT $6) AS page"
        ))
        .bind(range.commune.as_ref().map(|c| c.as_str()))
        .bind(range.born_from)
        .bind(range.born_until)
        .bind(after_birth)
        .bind(after_pin)
        .bind(limit)
        .fetch_one(&self.pool)
        .await?)
    }
}

/// One field of COPY's text format: `\N` for NULL, and the characters COPY reads specially
/// (backslash, tab, newline, carriage return) escaped.
fn copy_field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(v) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    for b in v.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_fields_escape_what_copy_reads_specially() {
        let mut out = Vec::new();
        super::copy_field(&mut out, Some("a\\b\tc\nd\re"));
        super::copy_field(&mut out, None);
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re\\N");
    }

    use super::*;

    /// A statement past the deadline fails with an error that says so, and the connection
    /// stays usable; a quick one is unaffected.
    #[tokio::test]
    async fn a_statement_past_statement_timeout_fails_clearly() {
        let Some(url) = std::env::var("VONGDOI_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but VONGDOI_TEST_POSTGRES_URL is not set"
            );
            eprintln!("note: VONGDOI_TEST_POSTGRES_URL not set; skipped");
            return;
        };
        let store = PgStore::open_with(&url, Duration::from_secs(1))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let err: StoreError = sqlx::query("SELECT pg_sleep(3)")
            .execute(&store.pool)
            .await
            .unwrap_err()
            .into();
        let elapsed = started.elapsed();
        assert!(matches!(err, StoreError::Timeout(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("statement timeout")
                && text.contains("VONGDOI_DB_STATEMENT_TIMEOUT_SECONDS"),
            "{text}"
        );
        assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(one, 1);
        store.close().await;
    }
}
