//! `vongdoi users …`: people's accounts (issue #12). A person signs in to the staff pages with
//! a username and a password; the audit trail then names them. Keys stay for machines.

use super::Format;
use crate::api::accounts::{create_user, reset_password, NewAccount};
use crate::api::keys::{Role, Scope};
use crate::store::Store;
use anyhow::{bail, Result};
use chrono::Utc;
use clap::Subcommand;
use std::io::Read;

#[derive(Subcommand)]
pub(super) enum UsersCommand {
    /// Create an account. Prints a one-time password to hand over, which must be changed at
    /// the first sign-in — or, with --password-stdin, reads the person's own password.
    Create {
        /// Letters, digits and - _ . @ (at most 64), e.g. `lan.tyt.badinh`.
        username: String,
        /// admin, registrar, health, education or auditor.
        #[arg(long, value_enum)]
        role: Role,
        /// A province (2-digit code) the account may see; repeatable.
        #[arg(long = "province")]
        provinces: Vec<String>,
        /// A commune (5-digit code) the account may see; repeatable.
        #[arg(long = "commune")]
        communes: Vec<String>,
        /// A registrar, health or education account for the whole country.
        #[arg(long)]
        national: bool,
        /// The person's full name, as the pages greet them.
        #[arg(long, default_value = "")]
        name: String,
        /// Read the password from standard input instead of issuing a one-time password.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every account with role, area and status (never a password).
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Disable an account: its sessions end at once.
    Disable { username: String },
    /// Enable a disabled account again.
    Enable { username: String },
    /// Issue a new one-time password (the old password stops working, sessions end).
    ResetPassword { username: String },
}

impl UsersCommand {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        match self {
            UsersCommand::Create {
                username,
                role,
                provinces,
                communes,
                national,
                name,
                password_stdin,
            } => {
                let password = if password_stdin {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    Some(s.trim_end_matches(['\n', '\r']).to_string())
                } else {
                    None
                };
                let new = NewAccount {
                    username: &username,
                    full_name: &name,
                    role,
                    provinces: &provinces,
                    communes: &communes,
                    national,
                    password,
                };
                let (row, one_time) = create_user(store, new).await?;
                let scope = Scope {
                    provinces: Scope::split(&row.provinces),
                    communes: Scope::split(&row.communes),
                };
                eprintln!(
                    "đã tạo tài khoản / account created: {} ({}, {})",
                    row.username,
                    role.as_str(),
                    scope.describe()
                );
                if let Some(p) = one_time {
                    eprintln!("mật khẩu dùng một lần, đổi khi đăng nhập lần đầu / one-time password, changed at the first sign-in:");
                    println!("{p}");
                }
            }
            UsersCommand::List { format } => {
                let users = store.users().await?;
                if format == Format::Json {
                    println!("{}", serde_json::to_string_pretty(&users)?);
                    return Ok(());
                }
                println!(
                    "{:<24} {:<24} {:<10} {:<24} trạng thái / status",
                    "tên / username", "họ tên / name", "vai trò", "địa bàn / area"
                );
                let now = Utc::now();
                for u in &users {
                    let scope = Scope {
                        provinces: Scope::split(&u.provinces),
                        communes: Scope::split(&u.communes),
                    };
                    let status = if u.disabled_at.is_some() {
                        "đã khóa / disabled"
                    } else if u.locked_until.is_some_and(|l| l > now) {
                        "tạm khóa / locked"
                    } else if u.must_change {
                        "chờ đổi mật khẩu / must change password"
                    } else {
                        "hoạt động / active"
                    };
                    println!(
                        "{:<24} {:<24} {:<10} {:<24} {status}",
                        u.username,
                        u.full_name,
                        u.role,
                        scope.describe()
                    );
                }
                println!("{} tài khoản / accounts", users.len());
            }
            UsersCommand::Disable { username } => {
                if !store.disable_user(&username, Utc::now()).await? {
                    bail!("không có tài khoản đang hoạt động tên '{username}' / no enabled account named '{username}'");
                }
                println!("đã khóa, các phiên đã kết thúc / disabled, sessions ended: {username}");
            }
            UsersCommand::Enable { username } => {
                if !store.enable_user(&username).await? {
                    bail!("không có tài khoản bị khóa tên '{username}' / no disabled account named '{username}'");
                }
                println!("đã mở lại / enabled: {username}");
            }
            UsersCommand::ResetPassword { username } => {
                match reset_password(store, &username).await? {
                    Some(p) => {
                        eprintln!(
                            "mật khẩu dùng một lần mới của / new one-time password of {username}:"
                        );
                        println!("{p}");
                    }
                    None => {
                        bail!("không có tài khoản tên '{username}' / no account named '{username}'")
                    }
                }
            }
        }
        Ok(())
    }
}
