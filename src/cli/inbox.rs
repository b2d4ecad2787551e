//! `vongdoi inbox [--commune CODE] [--status open|done|handled|all] [--format json]`: what
//! families texted back and what was done with each (`opt-out`, `reported-dose`, `for-staff`,
//! …), newest first, numbers masked. Staff answer from `/staff/inbox`.

use super::Format;
use crate::store::inbound::{InboundFilter, InboxStatus};
use crate::store::Store;
use anyhow::{bail, Result};
use std::sync::Arc;

pub(super) async fn run(
    store: &Arc<Store>,
    commune: Option<String>,
    status: &str,
    limit: i64,
    format: Format,
) -> Result<()> {
    let status = match status {
        "all" => None,
        s => Some(InboxStatus::parse(s).ok_or_else(|| {
            anyhow::anyhow!("--status '{s}': dùng / use open, done, handled hoặc/or all")
        })?),
    };
    if let Some(c) = &commune {
        if c.len() != 5 || !c.chars().all(|d| d.is_ascii_digit()) {
            bail!("--commune '{c}' không phải mã xã 5 chữ số / is not a 5-digit commune code");
        }
    }
    let rows = store
        .inbound_list(&InboundFilter {
            communes: commune.map(|c| vec![c]),
            status,
            limit: limit.clamp(1, 10_000),
        })
        .await?;
    let masked = |n: &str| crate::registry::personal_id::mask_raw(n);
    if format == Format::Json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "from": masked(&r.from_number), "text": r.body,
                    "received_at": r.received_at, "action": r.action, "keyword": r.keyword,
                    "citizen": r.citizen_id.as_deref().map(masked), "child": r.child_id.as_deref().map(masked),
                    "answers": r.answers, "commune": r.commune_code, "status": r.status,
                    "replies": r.replies.len(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"inbound": list}))?
        );
        return Ok(());
    }
    println!(
        "id\tlúc/received\tsố/from\txã/commune\tviệc/action\ttrạng thái/status\tnội dung/text"
    );
    for r in rows {
        let text: String = r.body.chars().take(60).collect();
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.id,
            r.received_at.format("%Y-%m-%d %H:%M"),
            masked(&r.from_number),
            if r.commune_code.is_empty() {
                "-"
            } else {
                &r.commune_code
            },
            r.action.as_str(),
            r.status.as_str(),
            text
        );
    }
    Ok(())
}
