//! `vongdoi citizen …`: one citizen — the whole record on the terminal or as JSON, a
//! re-established personal ID, a wrong dose removed with its reason, an opt-out of one channel.

use super::{parse_pin, Format};
use crate::registry::AdminUnits;
use crate::store::{Channel, Store};
use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum CitizenCommand {
    /// One citizen with household, guardians, records and history.
    Show {
        pin: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Re-establish a personal ID (Law on Identification 2023 Art. 24); records follow.
    ChangeId {
        old: String,
        new: String,
        #[arg(long)]
        reason: String,
    },
    /// Remove a wrongly recorded dose; the removal and its reason stay in the history and the
    /// audit trail, and the dose no longer counts anywhere.
    RemoveDose {
        pin: String,
        /// The vaccine code as recorded (BCG, PENTA, …).
        vaccine: String,
        /// The date the dose was recorded as given (YYYY-MM-DD or DD/MM/YYYY).
        #[arg(value_parser = super::parse_date_arg)]
        date: chrono::NaiveDate,
        #[arg(long)]
        reason: String,
    },
    /// Stop (or with --undo, resume) messages on one channel.
    OptOut {
        pin: String,
        #[arg(long, value_enum)]
        channel: Channel,
        #[arg(long)]
        undo: bool,
    },
}

impl CitizenCommand {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        match self {
            CitizenCommand::Show { pin, format } => show(store, &pin, format).await?,
            CitizenCommand::ChangeId { old, new, reason } => {
                let (old, new) = (parse_pin(&old)?, parse_pin(&new)?);
                let stored = store
                    .citizen(old)
                    .await?
                    .with_context(|| format!("no citizen with personal ID {}", old.masked()))?;
                let problems = new.check_against(stored.citizen.sex, stored.citizen.date_of_birth);
                if !problems.is_empty() {
                    bail!("số định danh mới không khớp hồ sơ / the new personal ID does not match the record: {}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "));
                }
                store
                    .change_personal_id(old, new, &reason, "command:citizen change-id", Utc::now())
                    .await?;
                println!("đã đổi/changed {} → {}", old.masked(), new.masked());
            }
            CitizenCommand::RemoveDose {
                pin,
                vaccine,
                date,
                reason,
            } => remove_dose(store, &pin, &vaccine, date, &reason).await?,
            CitizenCommand::OptOut { pin, channel, undo } => {
                let pin = parse_pin(&pin)?;
                if !store
                    .set_opt_out(pin, channel, !undo, "command:citizen opt-out", Utc::now())
                    .await?
                {
                    bail!(
                        "không có công dân {} / no citizen with personal ID {}",
                        pin.masked(),
                        pin.masked()
                    );
                }
                println!(
                    "{} {:?}: {}",
                    pin.masked(),
                    channel,
                    if undo {
                        "nhận lại / opted back in"
                    } else {
                        "từ chối / opted out"
                    }
                );
            }
        }
        Ok(())
    }
}

/// `citizen remove-dose`: as the API's DELETE, by the operator at the server's shell (the
/// audit names them `cli:$USER`).
async fn remove_dose(
    store: &Store,
    pin: &str,
    vaccine: &str,
    date: chrono::NaiveDate,
    reason: &str,
) -> Result<()> {
    let pin = parse_pin(pin)?;
    let words = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.is_empty() {
        bail!("--reason: cần ghi lý do xóa / give the reason for the removal");
    }
    if let Err(e) =
        crate::registry::text::check("reason", reason.trim(), crate::registry::text::REASON)
    {
        bail!("--reason: {}", e.reason);
    }
    if store.citizen(pin).await?.is_none() {
        bail!(
            "không có công dân {} / no citizen with personal ID {}",
            pin.masked(),
            pin.masked()
        );
    }
    let who = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    );
    let vaccine = vaccine.trim().to_uppercase();
    let now = Utc::now();
    let source = format!("command:citizen remove-dose ({who})");
    let Some(removed) = store
        .remove_dose(pin, &vaccine, date, &words, &source, now)
        .await?
    else {
        bail!(
            "{}: không có mũi {vaccine} ngày {date} / no {vaccine} dose given on {date} is recorded",
            pin.masked()
        );
    };
    store
        .insert_audit(&[crate::store::access::AuditRow {
            at: now,
            key_name: who,
            role: "admin".into(),
            personal_id: pin.to_string(),
            action: "remove-dose".into(),
            detail: Some(format!("{vaccine} {date}: {words}")),
        }])
        .await?;
    println!(
        "{}: đã xóa/removed {} {}",
        pin.masked(),
        removed.vaccine,
        removed.date_given
    );
    Ok(())
}

/// The whole record on the terminal (both languages) or as JSON.
async fn show(store: &Store, pin: &str, format: Format) -> Result<()> {
    let pin = parse_pin(pin)?;
    let Some(stored) = store.citizen(pin).await? else {
        bail!(
            "không có công dân {} / no citizen with personal ID {}",
            pin.masked(),
            pin.masked()
        );
    };
    let dossier = store
        .dossier(stored, &crate::registry::Scope::national())
        .await?;
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&dossier.to_json())?);
        return Ok(());
    }
    let (stored, c) = (&dossier.stored, &dossier.stored.citizen);
    let units = AdminUnits::get();
    let commune = units.commune(c.commune_code.as_str()).expect("validated");
    let province = units.province(&commune.province_code).expect("embedded");
    let or_dash = |s: Option<String>| s.unwrap_or_else(|| "—".into());
    println!("Số định danh / Personal ID   {}", c.personal_id);
    println!("Họ tên / Name                {}", c.full_name);
    println!(
        "Giới tính / Sex              {} ({})",
        c.sex.label_vi(),
        c.sex.code()
    );
    println!("Ngày sinh / Born             {}", c.date_of_birth);
    if let Some(d) = c.date_of_death {
        println!("Ngày mất / Died              {d}");
    }
    println!(
        "Nơi ở / Lives in             {} ({}), {}",
        commune.name, commune.code, province.name
    );
    println!(
        "Hộ / Household               {}",
        or_dash(c.household_id.clone())
    );
    println!(
        "Thôn / Village               {}",
        or_dash(c.village.clone())
    );
    println!(
        "Địa chỉ / Address            {}",
        or_dash(c.address.clone())
    );
    println!(
        "Điện thoại / Phone           {}{}",
        or_dash(c.phone.as_ref().map(|p| p.to_string())),
        if stored.sms_opt_out {
            " (từ chối SMS / SMS opt-out)"
        } else {
            ""
        }
    );
    println!(
        "Email                        {}{}",
        or_dash(c.email.as_ref().map(|e| e.to_string())),
        if stored.email_opt_out {
            " (từ chối / opt-out)"
        } else {
            ""
        }
    );
    println!("Ngôn ngữ / Language          {}", c.language.code());
    println!(
        "Tạo / Created                {} by {}",
        stored.created_at.format("%Y-%m-%d %H:%M"),
        stored.created_by
    );
    for g in &dossier.guardians {
        let label = match g.role {
            "mother" => "Mẹ / Mother",
            "father" => "Cha / Father",
            _ => "Người giám hộ / Guardian",
        };
        println!(
            "{label:<29}{} {}",
            g.personal_id,
            g.person
                .shown()
                .map(|g| g.full_name.as_str())
                .unwrap_or("(chưa có trong sổ / not registered)")
        );
    }
    if !dossier.household.is_empty() {
        println!("\nThành viên hộ / Household members:");
        for m in &dossier.household {
            println!(
                "  {}  {:<28} {}  {}",
                m.personal_id,
                m.full_name,
                m.sex.code(),
                m.date_of_birth
            );
        }
    }
    println!(
        "\nTiêm chủng / Immunizations ({}):",
        dossier.immunizations.len()
    );
    for r in &dossier.immunizations {
        println!(
            "  {}  {:<8} {}{}",
            r.date_given,
            r.vaccine,
            r.place.as_deref().unwrap_or(""),
            r.lot
                .as_deref()
                .map(|l| format!(" (lô/lot {l})"))
                .unwrap_or_default()
        );
    }
    println!("\nThẻ căn cước / ID cards ({}):", dossier.id_cards.len());
    for r in &dossier.id_cards {
        println!("  {}", r.issued_on);
    }
    if !dossier.history.is_empty() || !dossier.id_changes.is_empty() {
        println!("\nLịch sử thay đổi / Change history:");
        for h in &dossier.history {
            println!(
                "  {}  {:<14} {} → {}  ({}){}",
                h.changed_at.format("%Y-%m-%d %H:%M"),
                h.field,
                h.old_value.as_deref().unwrap_or("—"),
                h.new_value.as_deref().unwrap_or("—"),
                h.source,
                h.reason
                    .as_deref()
                    .map(|r| format!(" — lý do/reason: {r}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}
