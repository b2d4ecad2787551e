//! `vongdoi alerts list | show ID | opt-out PIN | opt-in PIN`: outbreak alerts (issue #15) as
//! the operator sees them. Drafting and approving need two people's accounts, so they happen
//! over the API and the staff pages (`/staff/alerts`), never here.

use super::Format;
use crate::alerts::{preview, reach};
use crate::delivery::DeliveryConfig;
use crate::registry::PersonalId;
use crate::rules::{Lang, RuleSet};
use crate::store::alerts::AlertRow;
use crate::store::Store;
use anyhow::{bail, Result};
use chrono::Utc;
use clap::Subcommand;
use std::sync::Arc;

#[derive(Subcommand)]
pub(super) enum AlertsCommand {
    /// The latest alerts: id, status, name, children targeted, who drafted and approved.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One alert: its steps, its preview (counts per commune, contacts, channels, cost,
    /// sample texts) and its reach.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Stop outbreak alerts for a family (the person and their children's alerts); routine
    /// reminders are not touched.
    OptOut { personal_id: String },
    /// Let a family receive outbreak alerts again.
    OptIn { personal_id: String },
}

impl AlertsCommand {
    pub(super) async fn run(self, store: &Arc<Store>, rules: &RuleSet) -> Result<()> {
        match self {
            AlertsCommand::List { limit, format } => {
                let rows = store.alerts(limit.clamp(1, 1000)).await?;
                if format == Format::Json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({"alerts": rows}))?
                    );
                    return Ok(());
                }
                println!("id\ttrạng thái/status\ttrẻ/children\tsoạn/drafted by\tduyệt/approved by\ttên/name");
                for a in rows {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        a.id,
                        a.status.as_str(),
                        a.audience,
                        a.created_by,
                        a.approved_by.as_deref().unwrap_or("-"),
                        a.name
                    );
                }
                Ok(())
            }
            AlertsCommand::Show { id, format } => {
                let Some(a) = store.alert(id).await? else {
                    bail!("không có cảnh báo {id} / no alert {id}: see `vongdoi alerts list`");
                };
                let cfg = DeliveryConfig::from_env()?;
                let steps = store.alert_steps(id).await?;
                let p = preview::preview(store, &cfg, &a, Utc::now()).await?;
                let r = reach::reach(store, rules, &a).await?;
                if format == Format::Json {
                    let doc =
                        serde_json::json!({"alert": a, "steps": steps, "preview": p, "reach": r});
                    println!("{}", serde_json::to_string_pretty(&doc)?);
                    return Ok(());
                }
                print_alert(&a, &steps, &p, &r);
                Ok(())
            }
            AlertsCommand::OptOut { personal_id } | AlertsCommand::OptIn { personal_id }
                if PersonalId::parse(&personal_id).is_err() =>
            {
                bail!("'{personal_id}' không phải số định danh 12 chữ số / is not a 12-digit personal ID")
            }
            AlertsCommand::OptOut { personal_id } => {
                let changed = store
                    .set_alert_opt_out(&personal_id, true, "cli", Utc::now())
                    .await?;
                println!(
                    "{}",
                    if changed {
                        "đã ngừng cảnh báo dịch cho gia đình này / outbreak alerts stopped for this family"
                    } else {
                        "gia đình này đã ngừng từ trước / already stopped"
                    }
                );
                Ok(())
            }
            AlertsCommand::OptIn { personal_id } => {
                let changed = store
                    .set_alert_opt_out(&personal_id, false, "cli", Utc::now())
                    .await?;
                println!(
                    "{}",
                    if changed {
                        "gia đình này nhận lại cảnh báo dịch / outbreak alerts restarted for this family"
                    } else {
                        "gia đình này vẫn đang nhận / alerts were not stopped"
                    }
                );
                Ok(())
            }
        }
    }
}

fn print_alert(
    a: &AlertRow,
    steps: &[crate::store::alerts::AlertStep],
    p: &preview::Preview,
    r: &reach::Reach,
) {
    println!(
        "Cảnh báo / alert {}: {} [{}]",
        a.id,
        a.name,
        a.status.label(Lang::Vi)
    );
    println!(
        "  mẫu/template {}, ngày/as of {}, tuổi/ages {} – {} (không tính/excluded), điều kiện/conditions {}",
        a.template, a.as_of, a.age_from, a.age_to, a.conditions
    );
    for s in steps {
        println!(
            "  {} {} ({}) {} {}",
            s.at.format("%Y-%m-%d %H:%M"),
            s.who,
            s.role,
            s.action,
            s.detail.as_deref().unwrap_or("")
        );
    }
    println!(
        "Xem trước / preview: {} trẻ/children, {} hộ/households, {} không có liên hệ/without contact, {} tin/messages, {} phần SMS/SMS parts, ~{:.0} đồng",
        p.total, p.households, p.without_contact, p.messages, p.sms_segments, p.estimated_cost_vnd
    );
    for c in &p.communes {
        println!(
            "  {} {}: {} trẻ, {} hộ, {} không liên hệ",
            c.commune_code, c.name, c.children, c.households, c.without_contact
        );
    }
    if p.outside_window > 0 {
        println!(
            "  {} SMS sẽ chờ khung giờ gửi hôm sau ({}) / would wait for the next day's window",
            p.outside_window, p.sms_window
        );
    }
    let t = &r.total;
    println!(
        "Kết quả / reach: {} trẻ, chờ gửi {}, đã gửi {}, đến máy {}, hỏng {}, huỷ {}, đã tiêm sau cảnh báo {}, nhắn lại {}",
        t.targeted, t.pending, t.sent, t.delivered, t.failed, t.cancelled, t.dosed, t.replied
    );
}
