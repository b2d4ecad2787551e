//! What `vongdoi run --dry-run` prints (issue #13 item 7): for people, a summary per sender
//! and template — how many, a sample (names reduced to initials unless `--show-names`), the
//! SMS parts each takes in its sender's message, how many were held back for staff, whether
//! the SMS window is open; for scripts (`--format json`), one object a line per notice.

use crate::delivery::{next_sms_slot, Composer, DeliveryConfig};
use crate::registry::personal_id::mask_raw;
use crate::rules::RuleSet;
use crate::schedule::{PlannedNotice, RunReport};
use crate::store::outbox::NoticeRow;
use crate::store::{Channel, Store};
use chrono::{NaiveDate, Utc};
use std::collections::BTreeMap;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum DryRunFormat {
    Text,
    Json,
}

/// A planned notice as one JSON line (docs/interface.md): what it is about, who signs it and a
/// masked recipient; never a name.
fn planned_json(n: &crate::store::outbox::NoticeRow) -> serde_json::Value {
    let mut parts = n.item.split('/');
    let mut v = serde_json::json!({
        "template": n.template, "sender": n.sender,
        "personal_id": mask_raw(&n.personal_id),
        "due": n.due, "overdue": n.overdue, "notice_date": n.notice_date,
        "channel": n.channel,
        "recipient": n.recipient_id.as_deref().map(mask_raw),
    });
    let (kind, a, b) = (parts.next(), parts.next(), parts.next());
    match (kind, a, b) {
        (Some("vaccination"), Some(series), Some(dose)) => {
            v["kind"] = "vaccination".into();
            v["series"] = series.into();
            v["dose"] = dose
                .parse::<u32>()
                .map_or(serde_json::Value::Null, Into::into);
        }
        (Some("school"), Some(level), _) => {
            v["kind"] = "school".into();
            v["level"] = level.into();
        }
        (Some(kind), Some(age), _) => {
            v["kind"] = kind.into();
            v["milestone"] = age
                .parse::<u32>()
                .map_or(serde_json::Value::Null, Into::into);
        }
        _ => v["kind"] = n.item.clone().into(),
    }
    v
}

/// "bé Nguyễn Văn An" → "bé N. V. A.": a sample shows the wording, not the family.
fn initials(about: &str) -> String {
    let mut words = about.split_whitespace();
    let form = match about.split_whitespace().next() {
        Some(w @ ("bé" | "em" | "anh" | "chị" | "ông" | "bà")) => {
            words.next();
            format!("{w} ")
        }
        _ => String::new(),
    };
    let letters: Vec<String> = words
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .collect();
    format!("{form}{}", letters.join(" "))
}

/// Per sender and template: notices, unreachable, SMS parts (min, max), a sample.
#[derive(Default)]
struct Group {
    count: u64,
    unreachable: u64,
    parts: Option<(i32, i32)>,
    sample: Option<String>,
}

pub(super) async fn print(
    store: &Store,
    cfg: &DeliveryConfig,
    rules: &RuleSet,
    (as_of, report, planned): (NaiveDate, &RunReport, &[PlannedNotice]),
    (format, show_names): (DryRunFormat, bool),
) -> anyhow::Result<()> {
    if format == DryRunFormat::Json {
        for p in planned {
            println!("{}", planned_json(&p.notice));
        }
        return Ok(());
    }
    println!(
        "chạy thử / dry run {as_of}: {} công dân/citizens, {} lời nhắc/notices (không ghi gì / nothing written); {} giữ lại cho cán bộ theo dõi / held back for staff follow-up (quá hạn lâu, trước ngày bắt đầu, hoặc đã nhắc đủ / overdue past the horizon, before go-live, or reminded enough)",
        report.evaluated, report.notices, report.held_back
    );
    let composer = Composer::new(store, cfg, rules).await?;
    let now = Utc::now();
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for p in planned {
        let n: &NoticeRow = &p.notice;
        let g = groups
            .entry((n.sender.clone(), n.template.clone()))
            .or_default();
        g.count += 1;
        let (Some(channel), Some(recipient)) = (n.channel, &n.recipient_id) else {
            g.unreachable += 1;
            continue;
        };
        if channel != Channel::Sms {
            continue;
        }
        // The notice alone in its sender's SMS, as a day with one notice would send it.
        let address = n.address.clone().unwrap_or_default();
        let (m, _) = composer.build(recipient, channel, &address, &[n], as_of, now, u32::MAX)?;
        let parts = m.segments.unwrap_or(1);
        g.parts = Some(
            g.parts
                .map_or((parts, parts), |(lo, hi)| (lo.min(parts), hi.max(parts))),
        );
        if g.sample.is_none() {
            g.sample = Some(if show_names {
                m.body
            } else {
                // Unaccented or not, as the SMS goes.
                let short = initials(&n.about);
                m.body.replace(&n.about, &short).replace(
                    &crate::text::unaccent(&n.about),
                    &crate::text::unaccent(&short),
                )
            });
        }
    }
    println!("  theo người gửi và mẫu / by sender and template:");
    for ((sender, template), g) in &groups {
        let parts = g
            .parts
            .map(|(lo, hi)| {
                if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo}–{hi}")
                }
            })
            .unwrap_or_else(|| "—".into());
        println!(
            "    {sender:<7} {template:<24} {:>7} · không liên lạc được / unreachable {} · SMS {parts} phần / part(s)",
            g.count, g.unreachable
        );
        if let Some(sample) = &g.sample {
            println!("        {sample}");
        }
    }
    if show_names {
        // Every notice, named: for the operator checking a go-live day by hand.
        for p in planned {
            let n = &p.notice;
            let to = match (&n.channel, &n.address) {
                (Some(c), Some(a)) => format!("{c} → {a}"),
                _ => "không liên lạc được / unreachable".into(),
            };
            println!(
                "  {} {:<24} {:<22} {to}: {}",
                n.personal_id, n.item, n.template, n.line_email
            );
        }
    }
    let window = cfg.sms_window;
    if next_sms_slot(now, window) > now {
        println!(
            "  SMS: bây giờ ngoài khung giờ gửi {}–{}: tin sẽ chờ đến lần mở sau / outside the sending window now: they wait for its next opening",
            window.0.format("%H:%M"),
            window.1.format("%H:%M")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn samples_show_initials_not_names() {
        assert_eq!(super::initials("bé Nguyễn Văn An"), "bé N. V. A.");
        assert_eq!(super::initials("Trần Thị Bình"), "T. T. B.");
    }
}
