//! `vongdoi keys …`: API keys, the operator's side of access control — create one (printed
//! once; only its SHA-256 hash is stored), list them (never the key), revoke one.

use crate::api::keys::{new_key, KeyInfo, Role};
use crate::store::Store;
use anyhow::{bail, Result};
use chrono::Utc;
use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum KeysCommand {
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

impl KeysCommand {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        match self {
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
                // Key names and usernames are one namespace: the audit's "who" names one holder.
                if store.user(&row.name).await?.is_some() {
                    bail!("'{}' đã là tên một tài khoản; hãy chọn tên khác / '{}' is already an account's username: choose another", row.name, row.name);
                }
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
                    bail!(
                        "không có khóa đang hiệu lực tên '{name}' / no active key named '{name}'"
                    );
                }
                println!("đã thu hồi / revoked: {name}");
            }
        }
        Ok(())
    }
}
