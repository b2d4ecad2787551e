//! `vongdoi audit`: who read or changed whose data — the audit trail the API and staff pages
//! write, filtered by citizen, key and day.

use super::parse_date_arg;
use crate::store::access::AuditFilter;
use crate::store::Store;
use anyhow::Result;
use chrono::{NaiveDate, NaiveTime, Utc};
use clap::Args;

#[derive(Args)]
pub(super) struct AuditArgs {
    /// Reads and changes of this person's data.
    #[arg(long)]
    citizen: Option<String>,
    /// Everything this key did.
    #[arg(long)]
    key: Option<String>,
    /// From this day on (00:00 in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = parse_date_arg)]
    since: Option<NaiveDate>,
    #[arg(long, default_value_t = 1000)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

impl AuditArgs {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        let citizen = self
            .citizen
            .as_deref()
            .map(|p| {
                crate::registry::PersonalId::parse(p).map_err(|e| {
                    anyhow::anyhow!(
                        "số định danh không hợp lệ / not a valid personal ID {}: {e}",
                        crate::registry::personal_id::mask_raw(p)
                    )
                })
            })
            .transpose()?;
        let since = self.since.map(|d| {
            d.and_time(NaiveTime::MIN)
                .and_local_timezone(crate::clock::vietnam())
                .single()
                .expect("UTC+7 has no gaps")
                .with_timezone(&Utc)
        });
        let rows = store
            .audit_rows(&AuditFilter {
                personal_id: citizen.map(|p| p.to_string()),
                key_name: self.key.clone(),
                since,
                limit: self.limit,
            })
            .await?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        println!(
            "{:<20} {:<24} {:<10} {:<13} {:<20} chi tiết / detail",
            "lúc / at (UTC+7)", "khóa / key", "vai trò", "công dân", "việc / action"
        );
        for r in &rows {
            println!(
                "{:<20} {:<24} {:<10} {:<13} {:<20} {}",
                r.at.with_timezone(&crate::clock::vietnam())
                    .format("%Y-%m-%d %H:%M:%S"),
                r.key_name,
                r.role,
                // Full ID only when the operator asked about that person.
                if citizen.is_some() {
                    r.personal_id.clone()
                } else {
                    crate::registry::personal_id::mask_raw(&r.personal_id)
                },
                r.action,
                r.detail.as_deref().unwrap_or("")
            );
        }
        println!("{} dòng / rows", rows.len());
        Ok(())
    }
}
