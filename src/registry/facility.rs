//! The places a family is sent to (issue #13): each commune's health station, police post and
//! schools, with what a reminder needs to be acted on — address, phone, opening hours and, for
//! a health station, its vaccination session days ("ngày 15 hằng tháng").
//!
//! A facility's kind is also the *sender* of a message: a health station, a police post and a
//! school each speak under their own name and brandname, and their notices never share a
//! message (carriers approve brandname templates per sender).

use super::citizen::FieldError;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::Serialize;

/// What a facility is, and so who signs a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FacilityKind {
    /// Trạm Y tế: vaccinations.
    Health,
    /// Công an xã/phường: the identity card.
    Police,
    /// A school: enrolment.
    School,
}

impl FacilityKind {
    pub const ALL: [FacilityKind; 3] = [
        FacilityKind::Health,
        FacilityKind::Police,
        FacilityKind::School,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FacilityKind::Health => "health",
            FacilityKind::Police => "police",
            FacilityKind::School => "school",
        }
    }

    pub fn parse(s: &str) -> Option<FacilityKind> {
        match s.trim().to_lowercase().as_str() {
            "health" | "y tế" | "tram y te" | "trạm y tế" => Some(FacilityKind::Health),
            "police" | "công an" | "cong an" => Some(FacilityKind::Police),
            "school" | "trường" | "truong" => Some(FacilityKind::School),
            _ => None,
        }
    }

    /// The name a facility of this kind has when none is registered, built from the commune's
    /// name as it reads inside a sentence ("Trạm Y tế phường Ba Đình", "Công an xã Yên Lạc").
    pub fn default_name(self, commune_in_sentence: &str, english: bool) -> String {
        match (self, english) {
            (FacilityKind::Health, false) => format!("Trạm Y tế {commune_in_sentence}"),
            (FacilityKind::Police, false) => format!("Công an {commune_in_sentence}"),
            (FacilityKind::School, false) => format!("UBND {commune_in_sentence}"),
            (FacilityKind::Health, true) => format!("{commune_in_sentence} health station"),
            (FacilityKind::Police, true) => format!("{commune_in_sentence} police"),
            (FacilityKind::School, true) => {
                format!("{commune_in_sentence} People's Committee")
            }
        }
    }
}

impl std::fmt::Display for FacilityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a facility holds its sessions: days of the month ("ngày 15 hằng tháng") and/or days of
/// the week ("thứ Tư hằng tuần"). Written in a CSV cell as numbers and weekday names separated
/// by spaces, commas or semicolons: `15`, `5 20`, `thứ 4`, `T4; T6`, `wed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionDays {
    /// 1–31, sorted, each once. A day a month lacks (31 in April) falls on that month's last day.
    pub month_days: Vec<u32>,
    /// Sorted Monday first, each once.
    #[serde(serialize_with = "weekdays")]
    pub weekdays: Vec<Weekday>,
}

fn weekdays<S: serde::Serializer>(w: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(w.iter().map(|d| weekday_vi(*d)))
}

fn weekday_vi(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "thứ Hai",
        Weekday::Tue => "thứ Ba",
        Weekday::Wed => "thứ Tư",
        Weekday::Thu => "thứ Năm",
        Weekday::Fri => "thứ Sáu",
        Weekday::Sat => "thứ Bảy",
        Weekday::Sun => "Chủ nhật",
    }
}

fn weekday_en(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// Folds what people write ("Thứ Tư", "thu 4", "T4", "CN") to one token.
fn weekday_of(token: &str) -> Option<Weekday> {
    let t: String = crate::text::unaccent(&token.to_lowercase())
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect();
    let t = t
        .strip_prefix("thu")
        .or_else(|| t.strip_prefix('t'))
        .unwrap_or(&t);
    Some(match t {
        "2" | "hai" | "mon" | "monday" => Weekday::Mon,
        "3" | "ba" | "tue" | "tuesday" => Weekday::Tue,
        "4" | "tu" | "wed" | "wednesday" => Weekday::Wed,
        "5" | "nam" | "hu" | "thursday" => Weekday::Thu,
        "6" | "sau" | "fri" | "friday" => Weekday::Fri,
        "7" | "bay" | "sat" | "saturday" => Weekday::Sat,
        "cn" | "chunhat" | "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

impl SessionDays {
    /// Reads a cell: empty is "no fixed days". Words people add around the days ("ngày 15
    /// hằng tháng", "hàng tuần") are skipped.
    pub fn parse(cell: &str) -> Result<SessionDays, FieldError> {
        let mut days = SessionDays::default();
        let lowered = cell.to_lowercase();
        // "thứ 4" and "thứ Tư" are one token: join "thứ"/"thu" to the word after it.
        let mut tokens: Vec<String> = Vec::new();
        let mut join_next = false;
        for raw in lowered.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
            if raw.is_empty() {
                continue;
            }
            if join_next {
                let last = tokens.pop().unwrap_or_default();
                tokens.push(format!("{last}{raw}"));
                join_next = false;
                continue;
            }
            if matches!(raw, "thứ" | "thu") {
                join_next = true;
            }
            tokens.push(raw.to_string());
        }
        for token in &tokens {
            let plain = crate::text::unaccent(token);
            if matches!(
                plain.as_str(),
                "ngay"
                    | "hang"
                    | "thang"
                    | "tuan"
                    | "moi"
                    | "day"
                    | "days"
                    | "every"
                    | "of"
                    | "month"
                    | "week"
                    | "each"
                    | "va"
                    | "and"
            ) {
                continue;
            }
            if let Ok(n) = plain.parse::<u32>() {
                if !(1..=31).contains(&n) {
                    return Err(FieldError::new(
                        "session_days",
                        format!("ngày {n} không có trong tháng / day {n} is not a day of the month (1–31)"),
                    ));
                }
                days.month_days.push(n);
            } else if let Some(d) = weekday_of(token) {
                days.weekdays.push(d);
            } else {
                return Err(FieldError::new(
                    "session_days",
                    format!(
                        "không hiểu \"{}\"; ghi ngày trong tháng (15) hoặc thứ (thứ 4, T4, CN) / cannot read \"{}\": write days of the month (15) or weekdays (thứ 4, T4, CN, wed)",
                        super::text::shown(token),
                        super::text::shown(token)
                    ),
                ));
            }
        }
        days.month_days.sort_unstable();
        days.month_days.dedup();
        days.weekdays.sort_by_key(|d| d.num_days_from_monday());
        days.weekdays.dedup();
        Ok(days)
    }

    pub fn is_empty(&self) -> bool {
        self.month_days.is_empty() && self.weekdays.is_empty()
    }

    /// The first session day on or after `from` (None when there are no fixed days).
    pub fn next_on_or_after(&self, from: NaiveDate) -> Option<NaiveDate> {
        if self.is_empty() {
            return None;
        }
        // Every day of the month and of the week comes round within 62 days.
        (0..62)
            .map(|i| from + Duration::days(i))
            .find(|d| self.is_session(*d))
    }

    fn is_session(&self, d: NaiveDate) -> bool {
        let last = last_day_of_month(d);
        self.weekdays.contains(&d.weekday())
            || self.month_days.iter().any(|&m| d.day() == m.min(last))
    }

    /// How people say it: "ngày 15 hằng tháng", "ngày 5 và 20 hằng tháng", "thứ Tư hằng tuần".
    pub fn describe(&self, english: bool) -> String {
        let mut parts = Vec::new();
        if !self.month_days.is_empty() {
            let days: Vec<String> = self.month_days.iter().map(u32::to_string).collect();
            parts.push(if english {
                format!("day {} of each month", join(&days, "and"))
            } else {
                format!("ngày {} hằng tháng", join(&days, "và"))
            });
        }
        if !self.weekdays.is_empty() {
            let days: Vec<String> = self
                .weekdays
                .iter()
                .map(|d| {
                    if english {
                        weekday_en(*d)
                    } else {
                        weekday_vi(*d)
                    }
                    .to_string()
                })
                .collect();
            parts.push(if english {
                format!("every {}", join(&days, "and"))
            } else {
                format!("{} hằng tuần", join(&days, "và"))
            });
        }
        parts.join("; ")
    }

    /// The cell form `parse` reads back: `15 T4`.
    pub fn to_cell(&self) -> String {
        let mut out: Vec<String> = self.month_days.iter().map(u32::to_string).collect();
        out.extend(self.weekdays.iter().map(|d| match d {
            Weekday::Sun => "CN".to_string(),
            d => format!("T{}", d.num_days_from_monday() + 2),
        }));
        out.join(" ")
    }
}

fn join(items: &[String], and: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {and} {last}", rest.join(", ")),
    }
}

fn last_day_of_month(d: NaiveDate) -> u32 {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .expect("the first of a month exists")
        .pred_opt()
        .expect("a day before the first")
        .day()
}

/// One facility of one commune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facility {
    pub commune_code: String,
    pub kind: FacilityKind,
    pub name: String,
    pub address: String,
    /// As people dial it ("024 3823 1234", "0912 345 678"); empty when unknown.
    pub phone: String,
    /// Opening hours as the facility writes them ("7h30–11h30, 13h30–17h, thứ Hai đến thứ Sáu").
    pub hours: String,
    pub session_days: SessionDays,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn session_days_read_what_people_write() {
        let s = SessionDays::parse("ngày 15 hằng tháng").unwrap();
        assert_eq!(s.month_days, vec![15]);
        assert_eq!(s.describe(false), "ngày 15 hằng tháng");
        let s = SessionDays::parse("20; 5, thứ 4 T6 cn").unwrap();
        assert_eq!(s.month_days, vec![5, 20]);
        assert_eq!(s.weekdays, vec![Weekday::Wed, Weekday::Fri, Weekday::Sun]);
        assert_eq!(
            s.describe(false),
            "ngày 5 và 20 hằng tháng; thứ Tư, thứ Sáu và Chủ nhật hằng tuần"
        );
        assert_eq!(
            s.describe(true),
            "day 5 and 20 of each month; every Wednesday, Friday and Sunday"
        );
        assert_eq!(SessionDays::parse(&s.to_cell()).unwrap(), s);
        assert_eq!(
            SessionDays::parse("Thứ Tư").unwrap().weekdays,
            vec![Weekday::Wed]
        );
        assert!(SessionDays::parse("").unwrap().is_empty());
        assert!(SessionDays::parse("32").is_err());
        assert!(SessionDays::parse("sometimes").is_err());
    }

    #[test]
    fn the_next_session_is_on_or_after_the_day_and_a_missing_31st_is_the_months_last() {
        let s = SessionDays::parse("15").unwrap();
        assert_eq!(s.next_on_or_after(d("2026-12-01")), Some(d("2026-12-15")));
        assert_eq!(s.next_on_or_after(d("2026-12-15")), Some(d("2026-12-15")));
        assert_eq!(s.next_on_or_after(d("2026-12-16")), Some(d("2027-01-15")));
        let s = SessionDays::parse("31").unwrap();
        assert_eq!(s.next_on_or_after(d("2027-02-01")), Some(d("2027-02-28")));
        let s = SessionDays::parse("T4").unwrap();
        // 2026-12-01 is a Tuesday.
        assert_eq!(s.next_on_or_after(d("2026-12-01")), Some(d("2026-12-02")));
        assert_eq!(
            SessionDays::default().next_on_or_after(d("2026-12-01")),
            None
        );
    }

    #[test]
    fn kinds_and_default_names() {
        for k in FacilityKind::ALL {
            assert_eq!(FacilityKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(FacilityKind::parse("Công an"), Some(FacilityKind::Police));
        assert_eq!(
            FacilityKind::Health.default_name("phường Ba Đình", false),
            "Trạm Y tế phường Ba Đình"
        );
    }
}
