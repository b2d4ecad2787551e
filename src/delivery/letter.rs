//! The words of an email (issue #13 item 6): a subject that names the sender and the person,
//! a greeting, the notices, the facility's contact as a signature, and a way to stop. Built
//! once at compose time as plain text (paragraphs separated by a blank line), from which the
//! HTML part is made (`email.rs`), so both say the same.

use super::DeliveryConfig;
use crate::registry::FacilityKind;
use crate::rules::wording::MessageContext;
use crate::rules::Lang;
use crate::store::outbox::NoticeRow;

/// The people a message is about, each once, in order: "bé An và bé Bình".
fn about(group: &[&NoticeRow], lang: Lang) -> String {
    let mut names: Vec<&str> = Vec::new();
    for n in group {
        if !n.about.is_empty() && !names.contains(&n.about.as_str()) {
            names.push(&n.about);
        }
    }
    let and = if lang == Lang::En { " and " } else { " và " };
    match names.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{}{and}{last}", rest.join(", ")),
    }
}

/// "Trạm Y tế phường Ngọc Hà: nhắc lịch tiêm chủng của bé Nguyễn Văn An".
pub fn subject(
    group: &[&NoticeRow],
    sender: FacilityKind,
    ctx: &MessageContext,
    lang: Lang,
) -> String {
    let who = about(group, lang);
    let what = match (sender, lang) {
        (FacilityKind::Health, Lang::Vi) => "nhắc lịch tiêm chủng của",
        (FacilityKind::Police, Lang::Vi) => "nhắc thủ tục thẻ căn cước của",
        (FacilityKind::School, Lang::Vi) => "thông báo tuyển sinh của",
        (FacilityKind::Health, Lang::En) => "vaccination reminder for",
        (FacilityKind::Police, Lang::En) => "identity card reminder for",
        (FacilityKind::School, Lang::En) => "school enrolment notice for",
    };
    format!("{}: {what} {who}", ctx.place.name)
}

/// Where the family stops these emails: a one-click page on `serve` when the operator gave
/// its public address, else a reply to the From address.
pub fn unsubscribe_link(cfg: &DeliveryConfig, message_id: &str) -> String {
    match &cfg.public_url {
        Some(url) => format!("{url}/unsubscribe/{message_id}"),
        None => {
            let address = cfg
                .mail_from
                .rsplit_once('<')
                .map_or(cfg.mail_from.as_str(), |(_, a)| a.trim_end_matches('>'))
                .trim();
            // The reply comes from the family's own address, which is what identifies them:
            // the message id is not needed.
            format!("mailto:{address}?subject=unsubscribe")
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The plain-text body.
pub fn body(group: &[&NoticeRow], ctx: &MessageContext, lang: Lang, unsubscribe: &str) -> String {
    let en = lang == Lang::En;
    let salutation = group
        .iter()
        .map(|n| n.salutation.as_str())
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let mut paragraphs: Vec<String> = Vec::new();
    paragraphs.push(match (en, salutation.is_empty()) {
        (true, true) => "Dear family,".to_string(),
        (true, false) => format!("Dear {salutation},"),
        (false, true) => "Kính gửi gia đình,".to_string(),
        (false, false) => format!("Kính gửi {salutation},"),
    });
    paragraphs.push(if en {
        format!("{} would like to remind you:", ctx.place.name)
    } else {
        format!("{} xin thông báo:", ctx.place.name)
    });
    // A sentence begins with a capital in its own paragraph ("Bé An…"); in an SMS it follows
    // "…nhắc:".
    paragraphs.extend(group.iter().map(|n| capitalised(&n.line_email)));
    let mut contact: Vec<String> = Vec::new();
    let line = |vi: &str, en_label: &str, value: &str| {
        (!value.is_empty()).then(|| format!("{}: {value}", if en { en_label } else { vi }))
    };
    contact.extend(line(
        "Buổi tiêm gần nhất",
        "Next session",
        &ctx.next_session,
    ));
    contact.extend(line("Địa chỉ", "Address", &ctx.place.address));
    contact.extend(line("Giờ làm việc", "Opening hours", &ctx.place.hours));
    contact.extend(line("Điện thoại", "Phone", &ctx.place.phone));
    if !contact.is_empty() {
        paragraphs.push(contact.join("\n"));
    }
    paragraphs.push(if en {
        format!("Kind regards,\n{}", ctx.place.name)
    } else {
        format!("Trân trọng,\n{}", ctx.place.name)
    });
    paragraphs.push(if en {
        format!("This reminder was sent automatically from the registry of {}. To stop receiving reminders by email: {unsubscribe}", ctx.place.place)
    } else {
        format!("Thư nhắc lịch này được gửi tự động từ dữ liệu dân cư của {}. Để ngừng nhận thư nhắc lịch qua email: {unsubscribe}", ctx.place.place)
    });
    paragraphs.join("\n\n")
}
