//! `rules check` on the templates (issue #13 item 5): every template parses, has both
//! languages, uses only the variables its context has (a typo such as `{{ chld_name }}` would
//! otherwise send "be  qua han" with the name missing), and — rendered for typical people
//! inside its sender's SMS — fits the SMS part limit. Problems are `file:line: problem`.
//!
//! The same typical renderings are what `vongdoi rules preview` prints for people to read.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;

use super::forecast::{Item, ItemInfo, ItemKey, Lang, Status};
use super::wording::{
    form_of, joined_names, named, sender_template, variables_of, AlertContext, MessageContext,
    NoticeContext, Person, PlaceWords, Renderer,
};
use super::RuleError;
use crate::registry::{FacilityKind, Sex};
use crate::text::sms;

/// Names minijinja itself provides, which are never the context's.
const BUILTINS: [&str; 6] = ["loop", "range", "dict", "namespace", "debug", "super"];

/// The people a check renders every notice for.
pub const PERSONAS: [(&str, &str, Sex, &str); 4] = [
    ("child", "Nguyễn Ngọc Bảo Châu", Sex::Female, "2026-09-20"),
    ("teenager", "Trần Đức Minh Khôi", Sex::Male, "2012-12-20"),
    ("adult", "Lê Thị Thanh Hương", Sex::Female, "1986-12-28"),
    ("older adult", "Phạm Văn Thành", Sex::Male, "1966-12-25"),
];

/// The day typical renderings are made for.
pub const TYPICAL_DAY: &str = "2026-12-01";

/// A facility with long but ordinary details, so a template that fits for it fits for most.
pub fn typical_place(sender: FacilityKind, lang: Lang) -> PlaceWords {
    let place = "phường Ngọc Hà".to_string();
    let signed = if lang == Lang::En {
        "Phường Ngọc Hà"
    } else {
        &place
    };
    PlaceWords {
        name: sender.default_name(signed, lang == Lang::En),
        place,
        address: "Số 25 ngõ 158 phố Ngọc Hà".into(),
        phone: "024 3823 1234".into(),
        hours: "7h30–11h30, 13h30–17h00".into(),
    }
}

fn typical_session() -> NaiveDate {
    "2026-12-15".parse().expect("a constant date")
}

/// Which notice templates each sender speaks through, with an item of each.
/// (An injected and an oral dose each, since their sentences differ.)
pub(super) fn uses(
    infos: &[Arc<ItemInfo>],
) -> BTreeMap<(String, FacilityKind, bool), Arc<ItemInfo>> {
    let mut out = BTreeMap::new();
    for info in infos {
        for n in &info.notices {
            out.entry((n.template.clone(), info.policy.sender, info.oral))
                .or_insert_with(|| Arc::clone(info));
        }
    }
    out
}

/// Whether `template` can fire before an item's due date (an overdue notice never does).
fn can_fire_early(info: &ItemInfo, template: &str) -> bool {
    info.notices
        .iter()
        .any(|n| n.template == template && n.at != super::forecast::DateAnchor::Overdue)
}

/// A plausible item of `info` for `person` on `day`: due in a few days, or (past) overdue.
fn typical_item(info: &Arc<ItemInfo>, day: NaiveDate, past: bool) -> Item {
    let d = |n: i64| Some(day + chrono::Duration::days(n));
    let (due, overdue) = if past {
        (d(-40), d(-10))
    } else {
        (d(3), d(33))
    };
    Item {
        info: Arc::clone(info),
        status: if past {
            Status::Overdue
        } else {
            Status::Eligible
        },
        earliest: d(-60),
        due,
        overdue,
        expires: d(900),
        completed_on: None,
    }
}

/// Whether a persona is one a notice of `info` is written for: vaccinations for children and
/// pupils, the identity card from 14, school entry for young children.
pub fn fits(info: &ItemInfo, persona: &(&str, &str, Sex, &str)) -> bool {
    match (&info.key, persona.0) {
        (ItemKey::Vaccination { .. }, p) => p == "child" || p == "teenager",
        (ItemKey::Milestone { .. }, p) => p != "child",
        (ItemKey::School { .. }, p) => p == "child",
    }
}

/// Renders one notice template for one persona inside its sender's SMS, as the scheduler
/// would: (the sentence, the whole SMS). A milestone is rendered at the persona's own age
/// (14, 40 or 60): the person is born that many years before the item is due.
pub fn render_typical(
    r: &Renderer,
    template: &str,
    info: &Arc<ItemInfo>,
    persona: &(&str, &str, Sex, &str),
    lang: Lang,
    past: bool,
) -> Result<(String, String), String> {
    use chrono::Datelike;
    let day: NaiveDate = TYPICAL_DAY.parse().expect("a constant date");
    let mut item = typical_item(info, day, past);
    let mut born: NaiveDate = persona.3.parse().expect("a constant date");
    match info.key {
        ItemKey::Milestone { .. } => {
            let age = match persona.0 {
                "teenager" => 14,
                "older adult" => 60,
                _ => 40,
            };
            let due = item.due.expect("typical items have dates");
            born = NaiveDate::from_ymd_opt(due.year() - age, due.month(), due.day().min(28))
                .expect("a valid date");
        }
        ItemKey::School { .. } if !past => {
            item.due = "2027-06-01".parse().ok();
            item.overdue = "2027-08-01".parse().ok();
        }
        _ => {}
    }
    let person = Person {
        full_name: persona.1,
        sex: persona.2,
        date_of_birth: born,
    };
    let place = typical_place(info.policy.sender, lang);
    let ctx = NoticeContext::of(&person, &item, lang, day, &place, |_| {
        Some(typical_session())
    });
    let line = r.render(template, lang, &ctx).map_err(|e| e.to_string())?;
    let message = MessageContext {
        notices: line.clone(),
        place: place.clone(),
        next_session: crate::clock::vn_date(typical_session()),
    };
    let sms = r
        .render(&sender_template(info.policy.sender), lang, &message)
        .map_err(|e| e.to_string())?;
    Ok((line, sms))
}

/// An alert template rendered for a typical household of two children (the longest common
/// case: an alert names every child of a household it targets).
pub fn render_typical_alert(r: &Renderer, template: &str, lang: Lang) -> Result<String, String> {
    let children = [PERSONAS[0].1, "Nguyễn Ngọc Minh Anh"]
        .iter()
        .map(|n| named(form_of(3, Sex::Female, lang), n))
        .collect::<Vec<_>>();
    let ctx = AlertContext {
        children: joined_names(&children, lang),
        count: children.len(),
        salutation: named(form_of(35, Sex::Female, lang), PERSONAS[2].1),
        disease: if lang == Lang::En { "measles" } else { "sởi" }.into(),
        place: typical_place(FacilityKind::Health, lang),
        next_session: crate::clock::vn_date(typical_session()),
    };
    r.render(template, lang, &ctx).map_err(|e| e.to_string())
}

/// The line of the first `{{`/`{%` block naming `var`, for a `file:line` message.
fn line_of_variable(text: &str, var: &str) -> usize {
    let root = var.split('.').next().unwrap_or(var);
    text.lines()
        .position(|l| {
            l.match_indices(root).any(|(i, _)| {
                let before = l[..i].chars().next_back();
                let after = l[i + root.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word(before) && !word(after)
            })
        })
        .map_or(1, |i| i + 1)
}

/// Every problem of the templates. `dir`: the folder the `templates/` paths are shown under.
pub(super) fn check(
    dir: &Path,
    pairs: &BTreeMap<String, (Option<String>, Option<String>)>,
    infos: &[Arc<ItemInfo>],
    (named_by_notices, alert_templates): (&HashSet<String>, &HashSet<String>),
    segment_limit: u32,
) -> Vec<RuleError> {
    let mut errors = Vec::new();
    let path = |name: &str, lang: &str| -> PathBuf {
        dir.join("templates").join(format!("{name}.{lang}.txt"))
    };
    let notice_vars: HashSet<String> = variables_of::<NoticeContext>().into_iter().collect();
    let message_vars: HashSet<String> = variables_of::<MessageContext>().into_iter().collect();
    let alert_vars: HashSet<String> = variables_of::<AlertContext>().into_iter().collect();
    let senders: HashSet<FacilityKind> = infos.iter().map(|i| i.policy.sender).collect();
    // (A notice naming a template with a missing language is reported at the notice.)
    for sender in &senders {
        let name = sender_template(*sender);
        if !pairs.contains_key(&name) {
            errors.push(RuleError {
                file: path(&name, "vi"),
                line: None,
                problem: format!(
                    "missing: the SMS of sender \"{sender}\" is written by templates/{name}.vi.txt and templates/{name}.en.txt (wrap the notices with {{{{ notices }}}} and the facility's contact); add both"
                ),
            });
        }
    }
    for (name, (vi, en)) in pairs {
        let vars = if name.starts_with("sms-") {
            &message_vars
        } else if alert_templates.contains(name) {
            &alert_vars
        } else {
            &notice_vars
        };
        for (lang, text, other) in [("vi", vi, en), ("en", en, vi)] {
            let Some(text) = text else {
                continue;
            };
            if other.is_none()
                && !named_by_notices.contains(name)
                && !alert_templates.contains(name)
            {
                let missing = if lang == "vi" { "en" } else { "vi" };
                errors.push(RuleError {
                    file: path(name, lang),
                    line: None,
                    problem: format!("templates/{name}.{missing}.txt is missing: every template needs both languages, vi and en; add it"),
                });
            }
            let mut env = minijinja::Environment::new();
            if let Err(e) = env.add_template("t", text) {
                errors.push(RuleError {
                    file: path(name, lang),
                    line: e.line(),
                    problem: format!(
                        "the template does not parse: {}",
                        e.detail().unwrap_or("syntax error")
                    ),
                });
                continue;
            }
            let t = env.get_template("t").expect("just added");
            let mut unknown: Vec<String> = t
                .undeclared_variables(false)
                .into_iter()
                .filter(|v| !vars.contains(v) && !BUILTINS.contains(&v.as_str()))
                .collect();
            unknown.sort();
            for v in unknown {
                let mut known: Vec<&String> = vars.iter().collect();
                known.sort();
                let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                errors.push(RuleError {
                    file: path(name, lang),
                    line: Some(line_of_variable(text, &v)),
                    problem: format!(
                        "unknown variable \"{v}\": it would render as nothing; the template can use {}",
                        known.join(", ")
                    ),
                });
            }
        }
    }
    // Typical renderings only of templates that passed the checks above.
    let broken: HashSet<PathBuf> = errors.iter().map(|e| e.file.clone()).collect();
    let sound = |name: &str| {
        pairs
            .get(name)
            .is_some_and(|(vi, en)| vi.is_some() && en.is_some())
            && !broken.contains(&path(name, "vi"))
            && !broken.contains(&path(name, "en"))
    };
    let renderer = Renderer::new(
        pairs
            .iter()
            .filter_map(|(n, (vi, en))| Some((n.as_str(), vi.as_deref()?, en.as_deref()?))),
    );
    for template in alert_templates.iter().filter(|t| sound(t)) {
        for (lang, code) in [(Lang::Vi, "vi"), (Lang::En, "en")] {
            match render_typical_alert(&renderer, template, lang) {
                Err(e) => errors.push(RuleError {
                    file: path(template, code),
                    line: None,
                    problem: format!("does not render: {e}"),
                }),
                Ok(text) => {
                    let sms = sms::prepare(&text, true);
                    if sms.segments > segment_limit {
                        errors.push(RuleError {
                            file: path(template, code),
                            line: Some(1),
                            problem: format!(
                                "for a household of two children this SMS takes {} parts, more than the limit of {segment_limit} (VONGDOI_SMS_MAX_SEGMENTS); shorten it: \"{}\"",
                                sms.segments, sms.body
                            ),
                        });
                    }
                }
            }
        }
    }
    for ((template, sender, _), info) in uses(infos) {
        if !sound(&template) || !sound(&sender_template(sender)) {
            continue;
        }
        for (lang, code) in [(Lang::Vi, "vi"), (Lang::En, "en")] {
            'people: for persona in &PERSONAS {
                for past in [false, true] {
                    match render_typical(&renderer, &template, &info, persona, lang, past) {
                        Err(e) => {
                            errors.push(RuleError {
                                file: path(&template, code),
                                line: None,
                                problem: format!("does not render: {e}"),
                            });
                            break 'people;
                        }
                        Ok((_, text)) => {
                            let parts = sms::prepare(&text, true).segments;
                            if parts > segment_limit {
                                errors.push(RuleError {
                                    file: path(&template, code),
                                    line: Some(1),
                                    problem: format!(
                                        "for a typical {} this SMS takes {parts} parts, more than the limit of {segment_limit} (VONGDOI_SMS_MAX_SEGMENTS); shorten it: \"{}\"",
                                        persona.0,
                                        sms::prepare(&text, true).body
                                    ),
                                });
                                break 'people;
                            }
                        }
                    }
                }
            }
        }
    }
    errors
}

/// Every notice template of `rules` rendered for each persona, due soon and late, vi and en,
/// inside its sender's SMS (as `sms::prepare` would send it unaccented, and with marks).
pub fn preview(rules: &super::RuleSet) -> String {
    use std::fmt::Write as _;
    let renderer = rules.renderer();
    let mut out = String::new();
    for ((template, sender, _), info) in uses(&rules.item_infos()) {
        let _ = writeln!(out, "## {template} (sender: {sender}; {})\n", info.name_vi);
        for (lang, code) in [(Lang::Vi, "vi"), (Lang::En, "en")] {
            for persona in PERSONAS.iter().filter(|p| fits(&info, p)) {
                for past in [false, true] {
                    if !past && !can_fire_early(&info, &template) {
                        continue;
                    }
                    let when = if past { "late" } else { "before the day" };
                    match render_typical(&renderer, &template, &info, persona, lang, past) {
                        Ok((_, text)) => {
                            let parts = sms::prepare(&text, true).segments;
                            let _ = writeln!(
                                out,
                                "- {code}, {} ({when}, {parts} SMS part(s)): {text}",
                                persona.0
                            );
                        }
                        Err(e) => {
                            let _ = writeln!(out, "- {code}, {}: ERROR {e}", persona.0);
                        }
                    }
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_is_found_on_its_line() {
        let text = "Trạm Y tế nhắc:\n{{ chld_name }} quá hạn {{ due }}";
        assert_eq!(line_of_variable(text, "chld_name"), 2);
        assert_eq!(line_of_variable(text, "due"), 2);
        assert_eq!(line_of_variable("{{ a.b }}", "a.b"), 1);
    }
}
