//! Facilities (issue #13 item 1): each commune's health station, police post and schools, which
//! reminders name with their address, phone, hours and next session. Each query is written once
//! and run on whichever backend the store is, through `dispatch!`.
//!
//! A commune has one health station and one police post, so a row of either kind replaces the
//! commune's whatever its name (the conflict target is the commune and kind); schools are told
//! apart by name. A row equal to the stored one is left alone, so `updated_at` says when the
//! facility last changed, not when a file last named it.

use super::{Result, Store, StoreError};
use crate::registry::{CommuneCode, Facility, FacilityKind, SessionDays};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::query::Query;

/// A stored facility with who changed it last and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacilityRow {
    pub facility: Facility,
    /// The username, key name or `cli` (or what `--by` said) of the last change.
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Stored {
    commune_code: String,
    kind: String,
    name: String,
    address: String,
    phone: String,
    hours: String,
    session_days: String,
    updated_by: String,
    updated_at: DateTime<Utc>,
}

impl Stored {
    fn into_row(self) -> Result<FacilityRow> {
        // Written by `upsert_facilities` from checked values, so a failure here is a hand edit.
        let corrupt = |what: &str| {
            StoreError::Corrupt(format!(
                "facilities {} {} {}: {what}",
                self.commune_code, self.kind, self.name
            ))
        };
        let kind = FacilityKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?;
        let session_days =
            SessionDays::parse(&self.session_days).map_err(|_| corrupt("session_days"))?;
        Ok(FacilityRow {
            facility: Facility {
                commune_code: self.commune_code,
                kind,
                name: self.name,
                address: self.address,
                phone: self.phone,
                hours: self.hours,
                session_days,
            },
            updated_by: self.updated_by,
            updated_at: self.updated_at,
        })
    }
}

const COLUMNS: &str =
    "commune_code, kind, name, address, phone, hours, session_days, updated_by, updated_at";

/// What a changed row sets; a row equal to the stored one is not written (`WHERE`).
const SET: &str = "address = excluded.address, phone = excluded.phone, hours = excluded.hours, \
     session_days = excluded.session_days, updated_by = excluded.updated_by, updated_at = excluded.updated_at \
     WHERE facilities.name <> excluded.name OR facilities.address <> excluded.address \
     OR facilities.phone <> excluded.phone OR facilities.hours <> excluded.hours \
     OR facilities.session_days <> excluded.session_days";

fn upsert_sql(kind: FacilityKind) -> String {
    let target = match kind {
        // The partial index `facilities_one_post`: one station and one post per commune.
        FacilityKind::Health | FacilityKind::Police => {
            "(commune_code, kind) WHERE kind IN ('health', 'police') DO UPDATE SET name = excluded.name,"
        }
        FacilityKind::School => "(commune_code, kind, name) DO UPDATE SET",
    };
    format!(
        "INSERT INTO facilities ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT {target} {SET}"
    )
}

/// `sql` (an [`upsert_sql`]) bound to `f`, changed by `by` at `now`, on either backend: the one
/// write of `upsert_facilities` and `save_facility`.
fn upsert<'q, DB>(
    sql: &'q str,
    f: &'q Facility,
    by: &'q str,
    now: DateTime<Utc>,
) -> Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(sql)
        .bind(f.commune_code.as_str())
        .bind(f.kind.as_str())
        .bind(f.name.as_str())
        .bind(f.address.as_str())
        .bind(f.phone.as_str())
        .bind(f.hours.as_str())
        .bind(f.session_days.to_cell())
        .bind(by)
        .bind(now)
}

impl Store {
    /// The stored facilities of these communes (None: of every commune), by commune, kind
    /// (health, police, school) and name.
    pub async fn facilities(&self, communes: Option<&[CommuneCode]>) -> Result<Vec<Facility>> {
        Ok(self
            .facility_rows(communes)
            .await?
            .into_iter()
            .map(|r| r.facility)
            .collect())
    }

    /// [`Store::facilities`] with who changed each last and when.
    pub async fn facility_rows(
        &self,
        communes: Option<&[CommuneCode]>,
    ) -> Result<Vec<FacilityRow>> {
        const ORDER: &str = " ORDER BY commune_code, kind, name";
        let mut stored: Vec<Stored> = Vec::new();
        dispatch!(self, s => match communes {
            None => {
                let sql = format!("SELECT {COLUMNS} FROM facilities{ORDER}");
                stored = sqlx::query_as::<_, Stored>(&sql).fetch_all(s.read_pool()).await?;
            }
            Some(communes) => {
                let d = s.dialect();
                let codes: Vec<String> = communes.iter().map(|c| c.as_str().to_string()).collect();
                for chunk in codes.chunks(d.list_chunk) {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM facilities WHERE commune_code {}{ORDER}",
                        d.in_list(1, chunk.len())
                    );
                    for row in s.bind_list(sqlx::query(&sql), chunk).fetch_all(s.read_pool()).await? {
                        stored.push(sqlx::FromRow::from_row(&row)?);
                    }
                }
            }
        });
        let mut rows = stored
            .into_iter()
            .map(Stored::into_row)
            .collect::<Result<Vec<_>>>()?;
        // Chunks come back each in order; the kinds sort as their names do in SQL.
        rows.sort_by(|a, b| {
            let key = |r: &FacilityRow| {
                let f = &r.facility;
                (f.commune_code.clone(), f.kind, f.name.clone())
            };
            key(a).cmp(&key(b))
        });
        Ok(rows)
    }

    /// Stores `rows` in one transaction: a health station or police post replaces its
    /// commune's, a school the commune's school of that name; other facilities are kept.
    /// Returns how many rows were added or changed (a row equal to the stored one is not).
    pub async fn upsert_facilities(
        &self,
        rows: &[Facility],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let (post, school) = (
            upsert_sql(FacilityKind::Health),
            upsert_sql(FacilityKind::School),
        );
        let mut written = 0;
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            // A province's facilities are a few thousand rows: one statement each.
            for f in rows {
                let sql = if f.kind == FacilityKind::School { &school } else { &post };
                written += upsert(sql, f, by, now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
        });
        Ok(written)
    }

    /// Stores one facility edited on the staff page, in one transaction with the removal of
    /// the school it renames (`was`: the school's name before the edit). Returns whether
    /// anything changed.
    pub async fn save_facility(
        &self,
        f: &Facility,
        was: Option<&str>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const DELETE: &str =
            "DELETE FROM facilities WHERE commune_code = $1 AND kind = $2 AND name = $3";
        let sql = upsert_sql(f.kind);
        let renamed = was.filter(|w| f.kind == FacilityKind::School && *w != f.name);
        let mut changed = 0;
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            if let Some(old) = renamed {
                changed += sqlx::query(DELETE)
                    .bind(&f.commune_code)
                    .bind(f.kind.as_str())
                    .bind(old)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            changed += upsert(&sql, f, by, now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
        });
        Ok(changed > 0)
    }

    /// Removes one facility (a school that closed, a row entered by mistake); false when
    /// there was none.
    pub async fn delete_facility(
        &self,
        commune: &CommuneCode,
        kind: FacilityKind,
        name: &str,
    ) -> Result<bool> {
        const SQL: &str =
            "DELETE FROM facilities WHERE commune_code = $1 AND kind = $2 AND name = $3";
        let n = dispatch!(self, s => sqlx::query(SQL)
            .bind(commune.as_str())
            .bind(kind.as_str())
            .bind(name)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// The communes that have living citizens registered and no facility of this kind, with
    /// how many citizens, by commune code: whose reminders would name no place.
    pub async fn communes_without(&self, kind: FacilityKind) -> Result<Vec<(String, i64)>> {
        const SQL: &str = "SELECT c.commune_code, count(*) FROM citizens c \
             WHERE c.date_of_death IS NULL AND NOT EXISTS \
             (SELECT 1 FROM facilities f WHERE f.commune_code = c.commune_code AND f.kind = $1) \
             GROUP BY c.commune_code ORDER BY c.commune_code";
        Ok(dispatch!(self, s => sqlx::query_as::<_, (String, i64)>(SQL)
            .bind(kind.as_str())
            .fetch_all(s.read_pool())
            .await?))
    }
}
