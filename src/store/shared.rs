//! Registry queries whose SQL is the same on both backends (placeholders `$1…` in order of
//! first use, which SQLite reads too): one macro stamps them onto each store, so a fix lands
//! on SQLite and PostgreSQL at once. Backend-specific work — bulk writes, `IN` lists versus
//! `ANY`, the scan's aggregation — stays in `sqlite.rs` and `postgres.rs`.

use super::*;
use sqlx::Row;

macro_rules! registry_queries {
    ($store:ty, $for_update:expr) => {
        impl $store {
            /// Which version of the embedded administrative units the database holds.
            pub(crate) async fn admin_units_fingerprint(&self) -> Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT value FROM app_meta WHERE key = 'admin_units'")
                    .fetch_optional(self.read_pool())
                    .await?)
            }

    pub async fn citizens_by_birth(
        &self,
        after: Option<BirthCursor>,
        limit: i64,
    ) -> Result<Vec<Citizen>> {
        let rows = match after {
            None => {
                sqlx::query_as::<_, CitizenDbRow>(&format!(
                    "SELECT {CITIZEN_SELECT} FROM citizens ORDER BY date_of_birth, personal_id LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.read_pool())
                .await?
            }
            Some((dob, pin)) => {
                sqlx::query_as::<_, CitizenDbRow>(&format!(
                    "SELECT {CITIZEN_SELECT} FROM citizens WHERE (date_of_birth, personal_id) > ($1, $2) \
                     ORDER BY date_of_birth, personal_id LIMIT $3"
                ))
                .bind(dob)
                .bind(pin.as_str())
                .bind(limit)
                .fetch_all(self.read_pool())
                .await?
            }
        };
        rows.into_iter().map(Citizen::try_from).collect()
    }

    pub async fn citizens_by_id(
        &self,
        after: Option<PersonalId>,
        limit: i64,
    ) -> Result<Vec<Citizen>> {
        let after = after.map(|p| p.to_string()).unwrap_or_default();
        sqlx::query_as::<_, CitizenDbRow>(&format!(
            "SELECT {CITIZEN_SELECT} FROM citizens WHERE personal_id > $1 ORDER BY personal_id LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(self.read_pool())
        .await?
        .into_iter()
        .map(Citizen::try_from)
        .collect()
    }

    pub async fn citizen(&self, pin: PersonalId) -> Result<Option<StoredCitizen>> {
        let row = sqlx::query(&format!(
            "SELECT {CITIZEN_SELECT}, sms_opt_out, email_opt_out, created_at, updated_at, created_by \
             FROM citizens WHERE personal_id = $1"
        ))
        .bind(pin.as_str())
        .fetch_optional(self.read_pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let citizen = Citizen::try_from(<CitizenDbRow as sqlx::FromRow<_>>::from_row(&row)?)?;
        Ok(Some(StoredCitizen {
            citizen,
            sms_opt_out: row.try_get("sms_opt_out")?,
            email_opt_out: row.try_get("email_opt_out")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            created_by: row.try_get("created_by")?,
        }))
    }

    pub async fn household(&self, household_id: &str) -> Result<Vec<Citizen>> {
        sqlx::query_as::<_, CitizenDbRow>(&format!(
            "SELECT {CITIZEN_SELECT} FROM citizens WHERE household_id = $1 ORDER BY date_of_birth, personal_id"
        ))
        .bind(household_id)
        .fetch_all(self.read_pool())
        .await?
        .into_iter()
        .map(Citizen::try_from)
        .collect()
    }

    pub async fn immunizations_of(&self, pin: PersonalId) -> Result<Vec<Immunization>> {
        let rows = sqlx::query_as::<_, (String, NaiveDate, Option<String>)>(
            "SELECT vaccine, date_given, place FROM immunizations WHERE personal_id = $1 ORDER BY date_given, vaccine",
        )
        .bind(pin.as_str())
        .fetch_all(self.read_pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(vaccine, date_given, place)| Immunization {
                personal_id: pin,
                vaccine,
                date_given,
                place,
            })
            .collect())
    }

    pub async fn id_cards_of(&self, pin: PersonalId) -> Result<Vec<IdCardRecord>> {
        let rows = sqlx::query_scalar::<_, NaiveDate>(
            "SELECT issued_on FROM id_cards WHERE personal_id = $1 ORDER BY issued_on",
        )
        .bind(pin.as_str())
        .fetch_all(self.read_pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|issued_on| IdCardRecord {
                personal_id: pin,
                issued_on,
            })
            .collect())
    }

    pub async fn history_of(&self, pin: PersonalId) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query_as::<_, (DateTime<Utc>, String, String, Option<String>, Option<String>)>(
            "SELECT changed_at, source, field, old_value, new_value FROM citizen_history WHERE personal_id = $1 ORDER BY id",
        )
        .bind(pin.as_str())
        .fetch_all(self.read_pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(changed_at, source, field, old_value, new_value)| HistoryEntry {
                    changed_at,
                    source,
                    field,
                    old_value,
                    new_value,
                },
            )
            .collect())
    }

    pub async fn id_changes_of(&self, pin: PersonalId) -> Result<Vec<PersonalIdChange>> {
        let rows = sqlx::query_as::<_, (String, String, DateTime<Utc>, String, String)>(
            "SELECT old_id, new_id, changed_at, source, reason FROM personal_id_changes WHERE old_id = $1 OR new_id = $1 ORDER BY id",
        )
        .bind(pin.as_str())
        .fetch_all(self.read_pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(old_id, new_id, changed_at, source, reason)| PersonalIdChange {
                    old_id,
                    new_id,
                    changed_at,
                    source,
                    reason,
                },
            )
            .collect())
    }

    pub async fn change_personal_id(
        &self,
        old: PersonalId,
        new: PersonalId,
        reason: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT personal_id FROM citizens WHERE personal_id = $1")
                .bind(new.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "số định danh mới {} đã thuộc về người khác / the new personal ID {} already belongs to another citizen",
                new.masked(),
                new.masked()
            )));
        }
        let moved = sqlx::query(
            "UPDATE citizens SET personal_id = $1, updated_at = $2 WHERE personal_id = $3",
        )
        .bind(new.as_str())
        .bind(now)
        .bind(old.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Err(StoreError::Conflict(format!(
                "không có công dân với số định danh {} / no citizen has the personal ID {}",
                old.masked(),
                old.masked()
            )));
        }
        for column in ["mother_id", "father_id", "guardian_id"] {
            sqlx::query(&format!(
                "UPDATE citizens SET {column} = $1 WHERE {column} = $2"
            ))
            .bind(new.as_str())
            .bind(old.as_str())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE citizen_history SET personal_id = $1 WHERE personal_id = $2")
            .bind(new.as_str())
            .bind(old.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO personal_id_changes (old_id, new_id, changed_at, source, reason) VALUES ($1, $2, $3, $4, $5)")
            .bind(old.as_str())
            .bind(new.as_str())
            .bind(now)
            .bind(source)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO citizen_history (personal_id, changed_at, source, field, old_value, new_value) VALUES ($1, $2, $3, 'personal_id', $4, $5)")
            .bind(new.as_str())
            .bind(now)
            .bind(source)
            .bind(old.as_str())
            .bind(new.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_opt_out(
        &self,
        pin: PersonalId,
        channel: Channel,
        opt_out: bool,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let column = channel.opt_out_column();
        let mut tx = self.write_tx().await?;
        let before: Option<bool> = sqlx::query_scalar(&format!(
            "SELECT {column} FROM citizens WHERE personal_id = $1 {}", $for_update
        ))
        .bind(pin.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(before) = before else {
            return Ok(false);
        };
        if before != opt_out {
            sqlx::query(&format!(
                "UPDATE citizens SET {column} = $1, updated_at = $2 WHERE personal_id = $3"
            ))
            .bind(opt_out)
            .bind(now)
            .bind(pin.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO citizen_history (personal_id, changed_at, source, field, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(pin.as_str())
                .bind(now)
                .bind(source)
                .bind(column)
                .bind(before.to_string())
                .bind(opt_out.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn summary(&self) -> Result<RegistrySummary> {
        let (citizens, living, households, with_phone, with_email): (i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE date_of_death IS NULL), count(DISTINCT household_id), \
             count(phone), count(email) FROM citizens",
        )
        .fetch_one(self.read_pool())
        .await?;
        let immunizations: i64 = sqlx::query_scalar("SELECT count(*) FROM immunizations")
            .fetch_one(self.read_pool())
            .await?;
        let id_cards: i64 = sqlx::query_scalar("SELECT count(*) FROM id_cards")
            .fetch_one(self.read_pool())
            .await?;
        let communes = sqlx::query_as(
            "SELECT commune_code, count(*) AS n FROM citizens WHERE date_of_death IS NULL \
             GROUP BY commune_code ORDER BY n DESC, commune_code LIMIT 20",
        )
        .fetch_all(self.read_pool())
        .await?;
        Ok(RegistrySummary {
            citizens,
            living,
            households,
            with_phone,
            with_email,
            immunizations,
            id_cards,
            communes,
        })
    }
        }
    };
}

registry_queries!(super::SqliteStore, "");
registry_queries!(super::PgStore, "FOR UPDATE");
