//! What a reminder says (issue #13): the variables a template may use, how a person is named
//! in it ("bé" for a young child, "em" for a pupil, "anh"/"chị", "ông"/"bà" for adults), and
//! the one renderer the scheduler and `rules check` share, so a template that passes the
//! check renders the same way on the day.
//!
//! Two kinds of template live in `rules/templates/`:
//! - a *notice* template (`vaccination-due-soon`, …): one sentence about one item of one
//!   person, with the variables of [`NoticeContext`];
//! - a *sender* template (`sms-health`, `sms-police`, `sms-school`): the SMS a facility sends,
//!   wrapping the day's sentences (`{{ notices }}`) in its name and contact
//!   ([`MessageContext`]). One message never carries two senders.
//!
//! Rendering is strict: a variable the context lacks is an error, never an empty gap
//! ("be  qua han").

use super::forecast::{Item, ItemKey, Lang};
use crate::clock::vn_date;
use crate::registry::{FacilityKind, Sex};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// The variables of a notice template. Every field is a variable; `rules check` refuses any
/// other name.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NoticeContext {
    /// The person as the message names them: "bé Nguyễn Văn An", "em Lê Thu Hà", "anh …",
    /// "bà …"; in English the full name.
    pub name: String,
    /// The form of address alone ("bé", "em", "anh", "chị", "ông", "bà"; empty in English).
    pub form: String,
    pub full_name: String,
    /// Older names of `full_name`, kept so older templates still render.
    pub child_name: String,
    pub citizen_name: String,
    /// The dose, milestone or school level ("Bạch hầu, ho gà, uốn ván – mũi 1").
    pub item_name: String,
    /// "tiêm phòng" or, for drops, "uống vắc xin phòng"; in English "have" or "take".
    pub verb: String,
    /// The dose number of a vaccination (none for other items).
    pub dose: Option<u32>,
    /// The due date, dd/mm/yyyy.
    pub due: String,
    /// The overdue date, dd/mm/yyyy.
    pub overdue_on: String,
    /// The due date is today or has passed: never say "vào ngày" a past day.
    pub past_due: bool,
    /// Days since the overdue date (0 before it).
    pub days_overdue: i64,
    /// The person's age in whole years on the due date (14 for the identity card at 14).
    pub age: i32,
    /// The school year a cohort enrols for ("2027–2028"; empty for other items).
    pub school_year: String,
    /// `place`, `place_name`, `place_address`, `place_phone`, `place_hours`.
    #[serde(flatten)]
    pub place: PlaceWords,
    /// The facility's next session on or after the due date (or today, when that has
    /// passed), dd/mm/yyyy; empty when it has no fixed days.
    pub next_session: String,
}

/// The variables of a sender template (`sms-health`, …).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageContext {
    /// The day's sentences of this sender for this recipient, joined by spaces.
    pub notices: String,
    /// `place`, `place_name`, `place_address`, `place_phone`, `place_hours`.
    #[serde(flatten)]
    pub place: PlaceWords,
    /// The next session on or after the earliest due date of the message (or today).
    pub next_session: String,
}

/// The variables of an outbreak alert's template (issue #15): one message per household,
/// naming every child of it the alert is about.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertContext {
    /// The children as the message names them, joined: "bé Nguyễn Văn An và bé Nguyễn Thị
    /// Bình" ("Nguyen Van An and Nguyen Thi Binh" in English).
    pub children: String,
    /// How many children the message is about.
    pub count: usize,
    /// How the recipient is greeted ("chị Trần Thị Bình"; in English the full name).
    pub salutation: String,
    /// The disease as a sentence says it ("sởi", "measles").
    pub disease: String,
    /// `place`, `place_name`, `place_address`, `place_phone`, `place_hours`: the children's
    /// health station.
    #[serde(flatten)]
    pub place: PlaceWords,
    /// The health station's next session from the alert's day, dd/mm/yyyy; empty when it has
    /// no fixed days.
    pub next_session: String,
}

/// "bé An", "bé An và bé Bình", "bé An, bé Bình và bé Chi" (", " and " and " in English).
pub fn joined_names(names: &[String], lang: Lang) -> String {
    let and = if lang == Lang::En { " and " } else { " và " };
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{}{and}{last}", init.join(", ")),
    }
}

/// A variable list for people (`rules check` messages, rules/README.md).
pub fn variables_of<T: Serialize + Default>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The sender template of a facility kind.
pub fn sender_template(sender: FacilityKind) -> String {
    format!("sms-{}", sender.as_str())
}

/// How a message names a person of `age` (on the day it is sent). Vietnamese official SMS
/// name a young child "bé", a pupil "em", adults "anh"/"chị" and, from 50, "ông"/"bà".
pub fn form_of(age: i32, sex: Sex, lang: Lang) -> &'static str {
    match (lang, age, sex) {
        (Lang::En, ..) => "",
        (Lang::Vi, ..=5, _) => "bé",
        (Lang::Vi, 6..=17, _) => "em",
        (Lang::Vi, 18..=49, Sex::Male) => "anh",
        (Lang::Vi, 18..=49, _) => "chị",
        (Lang::Vi, _, Sex::Male) => "ông",
        (Lang::Vi, _, _) => "bà",
    }
}

/// "bé Nguyễn Văn An" (or the bare name in English).
pub fn named(form: &str, full_name: &str) -> String {
    if form.is_empty() {
        full_name.to_string()
    } else {
        format!("{form} {full_name}")
    }
}

pub fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// A person a notice is about.
pub struct Person<'a> {
    pub full_name: &'a str,
    pub sex: Sex,
    pub date_of_birth: NaiveDate,
}

/// The facility fields a template sees (already defaulted: a commune with no registered
/// facility still has a name to sign with), under their template names.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlaceWords {
    /// The commune as it reads inside a sentence ("phường Ba Đình").
    pub place: String,
    /// The facility that signs the message ("Trạm Y tế phường Ba Đình"), and how to reach it.
    #[serde(rename = "place_name")]
    pub name: String,
    #[serde(rename = "place_address")]
    pub address: String,
    #[serde(rename = "place_phone")]
    pub phone: String,
    #[serde(rename = "place_hours")]
    pub hours: String,
}

impl NoticeContext {
    /// The context of `item` for `person` on `as_of`. `next_session` gives the facility's next
    /// session day on or after a date.
    pub fn of(
        person: &Person,
        item: &Item,
        lang: Lang,
        as_of: NaiveDate,
        place: &PlaceWords,
        next_session: impl Fn(NaiveDate) -> Option<NaiveDate>,
    ) -> NoticeContext {
        let age_now = age_on(person.date_of_birth, as_of);
        let form = form_of(age_now, person.sex, lang);
        let due = item.due.unwrap_or(as_of);
        let item_name = spoken_name(item, lang);
        let verb = match (lang, item.info.oral) {
            (Lang::Vi, true) => "uống vắc xin phòng",
            (Lang::Vi, false) => "tiêm phòng",
            (Lang::En, true) => "take",
            (Lang::En, false) => "have",
        };
        let school_year = match item.key() {
            ItemKey::School { .. } => {
                let y = due.year();
                format!("{y}–{}", y + 1)
            }
            _ => String::new(),
        };
        NoticeContext {
            name: named(form, person.full_name),
            form: form.to_string(),
            full_name: person.full_name.to_string(),
            child_name: person.full_name.to_string(),
            citizen_name: person.full_name.to_string(),
            item_name,
            verb: verb.to_string(),
            dose: match item.key() {
                ItemKey::Vaccination { dose, .. } => Some(*dose),
                _ => None,
            },
            due: item.due.map(vn_date).unwrap_or_default(),
            overdue_on: item.overdue.map(vn_date).unwrap_or_default(),
            past_due: due <= as_of,
            days_overdue: item.overdue.map_or(0, |o| (as_of - o).num_days().max(0)),
            age: age_on(person.date_of_birth, due),
            school_year,
            place: place.clone(),
            next_session: next_session(due.max(as_of))
                .map(vn_date)
                .unwrap_or_default(),
        }
    }
}

/// An item's name inside a sentence: for drops the series' own "uống" is left out, since the
/// sentence says "uống vắc xin phòng Bại liệt – liều 1".
fn spoken_name(item: &Item, lang: Lang) -> String {
    let name = item.info.name(lang);
    if lang == Lang::Vi && item.info.oral {
        if let Some((series, rest)) = name.split_once(" – ") {
            let series = series.trim_end_matches(" (uống)").trim_end_matches(" uống");
            return format!("{series} – {rest}");
        }
        return name
            .trim_end_matches(" (uống)")
            .trim_end_matches(" uống")
            .to_string();
    }
    name.to_string()
}

/// The one place templates are rendered: strict about undefined variables, and without
/// HTML escaping (an SMS is plain text; email HTML is escaped where it is built).
pub struct Renderer {
    env: minijinja::Environment<'static>,
    /// The `[[zns]]` entries by notice template.
    zns: std::collections::HashMap<String, super::zns::ZnsTemplate>,
}

/// A template that failed to render on the day: which file, and why.
#[derive(Debug)]
pub struct RenderError(pub String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

impl Renderer {
    /// `templates`: (name, vi text, en text).
    pub fn new<'a>(templates: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Renderer {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_keep_trailing_newline(false);
        for (name, vi, en) in templates {
            // A template that does not parse was refused by `rules check`; here it renders
            // as the error it is.
            let _ = env.add_template_owned(format!("{name}.vi.txt"), vi.to_string());
            let _ = env.add_template_owned(format!("{name}.en.txt"), en.to_string());
        }
        Renderer {
            env,
            zns: Default::default(),
        }
    }

    /// Adds the ZNS templates, whose parameters are rendered like the notice templates.
    pub fn with_zns<'a>(
        mut self,
        entries: impl Iterator<Item = &'a super::zns::ZnsTemplate>,
    ) -> Renderer {
        for z in entries {
            for (param, text) in &z.params {
                let _ = (self.env).add_template_owned(
                    super::zns::param_template(&z.template, param),
                    text.clone(),
                );
            }
            self.zns.insert(z.template.clone(), z.clone());
        }
        self
    }

    /// Whether notices of `template` may go by ZNS (it has a `[[zns]]` entry).
    pub fn has_zns(&self, template: &str) -> bool {
        self.zns.contains_key(template)
    }

    /// A notice's ZNS payload: its template id and parameters rendered over `ctx` (the
    /// notice template's variables); None when the template has no `[[zns]]` entry.
    pub fn render_zns(
        &self,
        template: &str,
        ctx: &impl Serialize,
    ) -> Result<Option<super::zns::ZnsPayload>, RenderError> {
        let Some(z) = self.zns.get(template) else {
            return Ok(None);
        };
        let mut data = std::collections::BTreeMap::new();
        for (param, _) in &z.params {
            let name = super::zns::param_template(template, param);
            let t = (self.env.get_template(&name))
                .map_err(|e| RenderError(format!("rules/zns.toml {template}.{param}: {e}")))?;
            let value = t
                .render(ctx)
                .map_err(|e| RenderError(format!("rules/zns.toml {template}.{param}: {e}")))?;
            data.insert(param.clone(), collapse_spaces(value.trim()));
        }
        Ok(Some(super::zns::ZnsPayload {
            template_id: z.template_id.clone(),
            template_data: data,
        }))
    }

    pub fn render(
        &self,
        name: &str,
        lang: Lang,
        ctx: &impl Serialize,
    ) -> Result<String, RenderError> {
        let file = format!(
            "{name}.{}.txt",
            match lang {
                Lang::Vi => "vi",
                Lang::En => "en",
            }
        );
        let t = self
            .env
            .get_template(&file)
            .map_err(|e| RenderError(format!("templates/{file}: {e}")))?;
        t.render(ctx)
            .map(|s| collapse_spaces(s.trim()))
            .map_err(|e| RenderError(format!("templates/{file}: {e}")))
    }
}

/// One space between words: a template's line breaks and an empty optional part leave no
/// double spaces or newlines in an SMS.
/// An optional part left out leaves no space before punctuation either ("đến tiem ,").
fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        let glued = word.starts_with([',', '.', ';', ':', ')']);
        if !out.is_empty() && !glued {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_address_follow_age_and_sex() {
        assert_eq!(form_of(0, Sex::Female, Lang::Vi), "bé");
        assert_eq!(form_of(5, Sex::Male, Lang::Vi), "bé");
        assert_eq!(form_of(14, Sex::Male, Lang::Vi), "em");
        assert_eq!(form_of(25, Sex::Male, Lang::Vi), "anh");
        assert_eq!(form_of(40, Sex::Female, Lang::Vi), "chị");
        assert_eq!(form_of(60, Sex::Female, Lang::Vi), "bà");
        assert_eq!(form_of(60, Sex::Male, Lang::Vi), "ông");
        assert_eq!(form_of(60, Sex::Male, Lang::En), "");
        assert_eq!(named("bé", "An"), "bé An");
        assert_eq!(named("", "An"), "An");
    }

    #[test]
    fn rendering_is_strict_and_tidy() {
        let r = Renderer::new(
            [
                (
                    "ok",
                    "{{ name }}\n  đến hạn {% if past_due %}rồi{% endif %}.",
                    "x",
                ),
                ("typo", "{{ chld_name }} quá hạn", "x"),
            ]
            .into_iter(),
        );
        let ctx = NoticeContext {
            name: "bé An".into(),
            ..Default::default()
        };
        assert_eq!(r.render("ok", Lang::Vi, &ctx).unwrap(), "bé An đến hạn.");
        let e = r.render("typo", Lang::Vi, &ctx).unwrap_err().to_string();
        assert!(e.contains("templates/typo.vi.txt"), "{e}");
        assert!(r.render("missing", Lang::Vi, &ctx).is_err());
    }

    #[test]
    fn the_variable_lists_come_from_the_contexts() {
        let v = variables_of::<NoticeContext>();
        for name in [
            "name",
            "child_name",
            "place_phone",
            "next_session",
            "past_due",
        ] {
            assert!(v.iter().any(|x| x == name), "{name}: {v:?}");
        }
        assert!(variables_of::<MessageContext>().contains(&"notices".to_string()));
    }
}
