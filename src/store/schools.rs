//! School places (issue #12 item 8): what a planner uploaded per commune, school, level and
//! school year. Each query is written once and run on whichever backend the store is, through
//! `dispatch!` at the call site.
//!
//! An upload replaces the places of the communes it names, all in one transaction: a
//! commune's rows always come from one upload, and a reader never sees half of one.

use super::{Result, Store};
use crate::registry::CommuneCode;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One stored row: a school's places at one level, for one school year or (None) every year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SchoolPlaceRow {
    pub commune_code: String,
    /// The school's name; empty when the file named none.
    pub school: String,
    /// `kindergarten-5`, `grade-1`, `grade-6` or `grade-10`.
    pub level: String,
    /// The year the school year starts (2027 for 2027–2028); None: every year.
    pub school_year: Option<i32>,
    pub places: i64,
    /// The username or key name of who uploaded it.
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

const COLUMNS: &str = "commune_code, school, level, school_year, places, uploaded_by, uploaded_at";

impl Store {
    /// Replaces every stored place of `communes` with `rows` (which must lie in those
    /// communes, one row per commune, school, level and year). Returns how many rows were
    /// stored.
    pub async fn replace_school_places(
        &self,
        communes: &[String],
        rows: &[SchoolPlaceRow],
    ) -> Result<u64> {
        debug_assert!(rows.iter().all(|r| communes.contains(&r.commune_code)));
        const INSERT: &str = "INSERT INTO school_places (commune_code, school, level, \
             school_year, places, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        if communes.is_empty() {
            return Ok(0);
        }
        dispatch!(self, s => {
            let d = s.dialect();
            let mut tx = s.write_tx().await?;
            for chunk in communes.chunks(d.list_chunk) {
                let sql = format!(
                    "DELETE FROM school_places WHERE commune_code {}",
                    d.in_list(1, chunk.len())
                );
                s.bind_list(sqlx::query(&sql), chunk).execute(&mut *tx).await?;
            }
            // A province's schools are a few thousand rows at most: one statement each, in
            // the one transaction.
            for r in rows {
                sqlx::query(INSERT)
                    .bind(&r.commune_code)
                    .bind(&r.school)
                    .bind(&r.level)
                    .bind(r.school_year)
                    .bind(r.places)
                    .bind(&r.uploaded_by)
                    .bind(r.uploaded_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(rows.len() as u64)
    }

    /// The stored places of these communes (None: of every commune), by commune, school,
    /// level and year.
    pub async fn school_places(
        &self,
        communes: Option<&[CommuneCode]>,
    ) -> Result<Vec<SchoolPlaceRow>> {
        const ORDER: &str = " ORDER BY commune_code, school, level, school_year";
        let mut out = Vec::new();
        dispatch!(self, s => match communes {
            None => {
                let sql = format!("SELECT {COLUMNS} FROM school_places{ORDER}");
                out = sqlx::query_as::<_, SchoolPlaceRow>(&sql)
                    .fetch_all(s.read_pool())
                    .await?;
            }
            Some(communes) => {
                let d = s.dialect();
                let codes: Vec<String> = communes.iter().map(|c| c.as_str().to_string()).collect();
                for chunk in codes.chunks(d.list_chunk) {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM school_places WHERE commune_code {}{ORDER}",
                        d.in_list(1, chunk.len())
                    );
                    for row in s.bind_list(sqlx::query(&sql), chunk).fetch_all(s.read_pool()).await? {
                        out.push(sqlx::FromRow::from_row(&row)?);
                    }
                }
                out.sort_by(|a, b| {
                    (&a.commune_code, &a.school, &a.level, a.school_year)
                        .cmp(&(&b.commune_code, &b.school, &b.level, b.school_year))
                });
            }
        });
        Ok(out)
    }
}
