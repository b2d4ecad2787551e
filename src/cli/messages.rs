//! `vongdoi messages`: what was sent, to whom (masked), what failed; `messages retry ID`
//! queues a failed or dead message again.

use super::{mask_address, parse_date_arg, Format};
use crate::store::Store;
use anyhow::{bail, Result};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};

#[derive(Args)]
pub(super) struct MessagesArgs {
    #[command(subcommand)]
    command: Option<MessagesCommand>,
    #[command(flatten)]
    filter: MessageFilterArgs,
}

#[derive(Subcommand)]
enum MessagesCommand {
    /// Queue a dead or failed message again, now.
    Retry { id: String },
}

#[derive(Args)]
struct MessageFilterArgs {
    /// queued, sending, sent, delivered, failed or dead.
    #[arg(long, value_enum)]
    status: Option<crate::store::MessageStatus>,
    /// sms or email.
    #[arg(long, value_enum)]
    channel: Option<crate::store::Channel>,
    /// Messages of one day.
    #[arg(long, value_parser = parse_date_arg)]
    day: Option<NaiveDate>,
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

impl MessagesArgs {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        let MessagesArgs { command, filter: f } = self;
        if let Some(MessagesCommand::Retry { id }) = command {
            if store.retry_message(&id, Utc::now()).await? {
                println!(
                    "đã xếp hàng gửi lại / queued again: {id} (sent by the next run or delivery pass)"
                );
                return Ok(());
            }
            match store.message(&id).await? {
                None => bail!("không có tin nhắn / no message {id}"),
                Some(m) => bail!(
                    "tin nhắn {id} đang ở trạng thái {} / is {}: only failed or dead messages are retried",
                    m.status,
                    m.status
                ),
            }
        }
        let filter = crate::store::outbox::MessageFilter {
            status: f.status,
            channel: f.channel,
            day: f.day,
            limit: f.limit,
        };
        let messages = store.list_messages(&filter).await?;
        if f.format == Format::Json {
            // Addresses masked as everywhere staff look (docs/domain.md §7): the recipient's personal
            // ID to its last 4 digits, the phone or email to its end.
            let rows: Vec<serde_json::Value> = messages
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "id": m.id, "day": m.day, "channel": m.channel, "status": m.status,
                        "sender": m.sender, "sender_name": m.sender_name,
                        "recipient": crate::registry::personal_id::mask_raw(&m.recipient_id),
                        "address": mask_address(&m.address), "attempts": m.attempts,
                        "segments": m.segments, "last_error": m.last_error, "provider_id": m.provider_id,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        println!(
            "{:<34} {:<10} {:<6} {:<10} {:<14} {:<18} {:>3}  lỗi / error",
            "mã / id", "ngày/day", "kênh", "trạng thái", "người nhận", "địa chỉ/address", "lần"
        );
        for m in &messages {
            println!(
                "{:<34} {:<10} {:<6} {:<10} {:<14} {:<18} {:>3}  {}",
                m.id,
                m.day,
                m.channel,
                m.status,
                crate::registry::personal_id::mask_raw(&m.recipient_id),
                mask_address(&m.address),
                m.attempts,
                m.last_error.as_deref().unwrap_or("")
            );
        }
        println!("{} tin nhắn / messages", messages.len());
        Ok(())
    }
}
