//! The registry's records beside the citizens: ID cards, the change history, personal-ID
//! changes, opt-outs, the summary and the birth-year counts.

use super::*;

impl Store {
    /// A citizen's ID cards in date order.
    pub async fn id_cards_of(&self, pin: PersonalId) -> Result<Vec<IdCardRecord>> {
        const SQL: &str =
            "SELECT issued_on FROM id_cards WHERE personal_id = $1 ORDER BY issued_on";
        let rows = dispatch!(self, s => sqlx::query_scalar::<_, NaiveDate>(SQL)
            .bind(pin.as_str())
            .fetch_all(s.read_pool())
            .await?);
        Ok(rows
            .into_iter()
            .map(|issued_on| IdCardRecord {
                personal_id: pin,
                issued_on,
            })
            .collect())
    }

    /// A citizen's change history, oldest first.
    pub async fn history_of(&self, pin: PersonalId) -> Result<Vec<HistoryEntry>> {
        const SQL: &str = "SELECT changed_at, source, field, old_value, new_value, reason FROM citizen_history WHERE personal_id = $1 ORDER BY id";
        type Row = (
            DateTime<Utc>,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows = dispatch!(self, s => sqlx::query_as::<_, Row>(SQL)
            .bind(pin.as_str())
            .fetch_all(s.read_pool())
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(changed_at, source, field, old_value, new_value, reason)| HistoryEntry {
                    changed_at,
                    source,
                    field,
                    old_value,
                    new_value,
                    reason,
                },
            )
            .collect())
    }

    /// Personal-ID changes that involve this ID, either side.
    pub async fn id_changes_of(&self, pin: PersonalId) -> Result<Vec<PersonalIdChange>> {
        const SQL: &str = "SELECT old_id, new_id, changed_at, source, reason FROM personal_id_changes WHERE old_id = $1 OR new_id = $1 ORDER BY id";
        type Row = (String, String, DateTime<Utc>, String, String);
        let rows = dispatch!(self, s => sqlx::query_as::<_, Row>(SQL)
            .bind(pin.as_str())
            .fetch_all(s.read_pool())
            .await?);
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

    /// Re-establishes a personal ID (Law on Identification 2023 Art. 24): the citizen, their
    /// records and every link to them move to the new ID, and the change is recorded.
    pub async fn change_personal_id(
        &self,
        old: PersonalId,
        new: PersonalId,
        reason: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const TAKEN: &str = "SELECT personal_id FROM citizens WHERE personal_id = $1";
        const MOVE: &str =
            "UPDATE citizens SET personal_id = $1, updated_at = $2 WHERE personal_id = $3";
        const MOVE_HISTORY: &str =
            "UPDATE citizen_history SET personal_id = $1 WHERE personal_id = $2";
        const RECORD: &str = "INSERT INTO personal_id_changes (old_id, new_id, changed_at, source, reason) VALUES ($1, $2, $3, $4, $5)";
        let taken_error = || {
            StoreError::Conflict(format!(
                "số định danh mới {} đã thuộc về người khác / the new personal ID {} already belongs to another citizen",
                new.masked(),
                new.masked()
            ))
        };
        let missing_error = || {
            StoreError::Conflict(format!(
                "không có công dân với số định danh {} / no citizen has the personal ID {}",
                old.masked(),
                old.masked()
            ))
        };
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let taken: Option<String> = sqlx::query_scalar(TAKEN)
                .bind(new.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(taken_error());
            }
            let moved = sqlx::query(MOVE)
                .bind(new.as_str())
                .bind(now)
                .bind(old.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved == 0 {
                return Err(missing_error());
            }
            for column in ["mother_id", "father_id", "guardian_id"] {
                sqlx::query(&format!("UPDATE citizens SET {column} = $1 WHERE {column} = $2"))
                    .bind(new.as_str())
                    .bind(old.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(MOVE_HISTORY)
                .bind(new.as_str())
                .bind(old.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(RECORD)
                .bind(old.as_str())
                .bind(new.as_str())
                .bind(now)
                .bind(source)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
            sqlx::query(HISTORY_INSERT)
                .bind(new.as_str())
                .bind(now)
                .bind(source)
                .bind("personal_id")
                .bind(old.as_str())
                .bind(new.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Sets a citizen's opt-out for one channel; returns false if no such citizen.
    pub async fn set_opt_out(
        &self,
        pin: PersonalId,
        channel: Channel,
        opt_out: bool,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let column = channel.opt_out_column();
        let update =
            format!("UPDATE citizens SET {column} = $1, updated_at = $2 WHERE personal_id = $3");
        dispatch!(self, s => {
            let select = format!(
                "SELECT {column} FROM citizens WHERE personal_id = $1 {}",
                s.dialect().for_update
            );
            let mut tx = s.write_tx().await?;
            let before: Option<bool> = sqlx::query_scalar(&select)
                .bind(pin.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(before) = before else {
                return Ok(false);
            };
            if before != opt_out {
                sqlx::query(&update)
                    .bind(opt_out)
                    .bind(now)
                    .bind(pin.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(HISTORY_INSERT)
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
        });
        Ok(true)
    }

    pub async fn summary(&self) -> Result<RegistrySummary> {
        const TOTALS: &str = "SELECT count(*), count(*) FILTER (WHERE date_of_death IS NULL), count(DISTINCT household_id), \
             count(phone), count(email) FROM citizens";
        const IMMUNIZATIONS: &str = "SELECT count(*) FROM immunizations";
        const ID_CARDS: &str = "SELECT count(*) FROM id_cards";
        const COMMUNES: &str =
            "SELECT commune_code, count(*) AS n FROM citizens WHERE date_of_death IS NULL \
             GROUP BY commune_code ORDER BY n DESC, commune_code LIMIT 20";
        type Totals = (i64, i64, i64, i64, i64);
        let (totals, immunizations, id_cards, communes): (Totals, i64, i64, _) = dispatch!(self, s => {
            let pool = s.read_pool();
            (
                sqlx::query_as(TOTALS).fetch_one(pool).await?,
                sqlx::query_scalar(IMMUNIZATIONS).fetch_one(pool).await?,
                sqlx::query_scalar(ID_CARDS).fetch_one(pool).await?,
                sqlx::query_as(COMMUNES).fetch_all(pool).await?,
            )
        });
        let (citizens, living, households, with_phone, with_email) = totals;
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

    /// Living residents (no death on or before `as_of`, born on or before it) by commune and
    /// calendar year of birth, for birth years `from_year..=until_year`, in `communes` (None:
    /// every commune). One GROUP BY over the birth-date indexes.
    pub async fn living_by_commune_birth_year(
        &self,
        communes: Option<&[CommuneCode]>,
        from_year: i32,
        until_year: i32,
        as_of: NaiveDate,
    ) -> Result<Vec<BirthYearCount>> {
        let born_from = NaiveDate::from_ymd_opt(from_year, 1, 1)
            .ok_or_else(|| StoreError::Corrupt(format!("year {from_year}")))?;
        let born_until = NaiveDate::from_ymd_opt(until_year, 12, 31)
            .ok_or_else(|| StoreError::Corrupt(format!("year {until_year}")))?
            .min(as_of);
        if born_from > born_until || communes.is_some_and(|c| c.is_empty()) {
            return Ok(Vec::new());
        }
        let codes: Option<Vec<String>> =
            communes.map(|c| c.iter().map(|c| c.to_string()).collect());
        let mut rows: Vec<(String, i32, i64)> = Vec::new();
        dispatch!(self, s => {
            let d = s.dialect();
            let filter = codes
                .as_ref()
                .map(|c| format!("AND commune_code {}", d.in_list(4, c.len())))
                .unwrap_or_default();
            let sql = format!(
                "SELECT commune_code, {} AS birth_year, count(*) \
                 FROM citizens WHERE date_of_birth >= $1 AND date_of_birth <= $2 \
                 AND (date_of_death IS NULL OR date_of_death > $3) {filter} \
                 GROUP BY commune_code, birth_year ORDER BY commune_code, birth_year",
                d.birth_year
            );
            let mut q = sqlx::query(&sql).bind(born_from).bind(born_until).bind(as_of);
            if let Some(codes) = &codes {
                q = s.bind_list(q, codes);
            }
            for row in q.fetch_all(s.read_pool()).await? {
                rows.push(FromRow::from_row(&row)?);
            }
        });
        Ok(rows
            .into_iter()
            .map(|(commune_code, birth_year, living)| BirthYearCount {
                commune_code,
                birth_year,
                living,
            })
            .collect())
    }
}
