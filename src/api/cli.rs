//! `vongdoi keys …` and `vongdoi audit …`: the operator's side of access control. Hooked into
//! `src/cli.rs` by two enum variants and two dispatch lines.

use super::keys::{new_key, KeyInfo, Role};
use crate::store::access::AuditFilter;
use crate::store::Store;
use anyhow::{bail, Result};
use chrono::{NaiveTime, Utc};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is printed once and only its SHA-256 hash is stored.
    Create {
        /// admin, registrar, health, education or auditor.
        #[arg(long, value_enum)]
        role: Role,
        /// A province (2-digit code) the key may see; repeatable.
        #[arg(long = "province")]
        provinces: Vec<String>,
        /// A commune (5-digit code) the key may see; repeatable.
        #[arg(long = "commune")]
        communes: Vec<String>,
        /// A registrar, health or education key for the whole country.
        #[arg(long)]
        national: bool,
        /// Who holds it, e.g. `yte-phuong-ba-dinh` (letters, digits, - _ . @). Default: role and a number.
        #[arg(long)]
        name: Option<String>,
    },
    /// Every key with role, area and whether it is revoked (never the key).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key now (its browser sessions end; cached lookups within 5 s).
    Revoke { name: String },
}

#[derive(Args)]
pub struct AuditArgs {
    /// Reads and changes of this person's data.
    #[arg(long)]
    citizen: Option<String>,
    /// Everything this key did.
    #[arg(long)]
    key: Option<String>,
    /// From this day on (00:00 in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = crate::registry::dates::parse_date)]
    since: Option<chrono::NaiveDate>,
    #[arg(long, default_value_t = 1000)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

pub async fn keys_command(store: &Store, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Create {
            role,
            provinces,
            communes,
            national,
            name,
        } => {
            let name = name.unwrap_or_else(|| {
                format!("{}-{}", role.as_str(), Utc::now().format("%Y%m%d%H%M%S"))
            });
            let (row, key) = new_key(&name, role, &provinces, &communes, national, Utc::now())?;
            store.insert_api_key(&row).await?;
            let info = KeyInfo::from_row(&row).expect("a new key is live");
            eprintln!(
                "đã tạo khóa / key created: {} ({}, {}). Lưu lại ngay, khóa không hiện lại / store it now: it is not shown again.",
                row.name,
                role.as_str(),
                info.scope.describe()
            );
            println!("{key}");
        }
        KeysCommand::List { json } => {
            let keys = store.api_keys().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
                return Ok(());
            }
            println!(
                "{:<28} {:<10} {:<30} {:<20} trạng thái / status",
                "tên / name", "vai trò", "địa bàn / area", "tạo / created"
            );
            for k in &keys {
                let area = match (k.provinces.is_empty(), k.communes.is_empty()) {
                    (true, true) => "toàn quốc / all".to_string(),
                    _ => [k.provinces.as_str(), k.communes.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                println!(
                    "{:<28} {:<10} {:<30} {:<20} {}",
                    k.name,
                    k.role,
                    area,
                    k.created_at.format("%Y-%m-%d %H:%M"),
                    match k.revoked_at {
                        Some(t) => format!("thu hồi / revoked {}", t.format("%Y-%m-%d %H:%M")),
                        None => "hiệu lực / active".into(),
                    }
                );
            }
            println!("{} khóa / keys", keys.len());
        }
        KeysCommand::Revoke { name } => {
            if !store.revoke_api_key(&name, Utc::now()).await? {
                bail!("không có khóa đang hiệu lực tên '{name}' / no active key named '{name}'");
            }
            println!("đã thu hồi / revoked: {name}");
        }
    }
    Ok(())
}

pub async fn audit_command(store: &Store, a: AuditArgs) -> Result<()> {
    let citizen = a
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
    let since = a.since.map(|d| {
        d.and_time(NaiveTime::MIN)
            .and_local_timezone(crate::clock::vietnam())
            .single()
            .expect("UTC+7 has no gaps")
            .with_timezone(&Utc)
    });
    let rows = store
        .audit_rows(&AuditFilter {
            personal_id: citizen.map(|p| p.to_string()),
            key_name: a.key.clone(),
            since,
            limit: a.limit,
        })
        .await?;
    if a.json {
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
