//! The places a family is sent to (issue #13): each commune's health station, police post and
//! schools, with what a reminder needs to be acted on — address, phone, opening hours and, for
//! a health station, its vaccination session days ("ngày 15 hằng tháng").
//!
//! A facility's kind is also the *sender* of a message: a health station, a police post and a
//! school each speak under their own name and brandname, and their notices never share a
//! message (carriers approve brandname templates per sender).

use super::citizen::FieldError;
use super::text::{self, TextRule};
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
            "health" | "y tế" | "y te" | "tram y te" | "trạm y tế" => {
                Some(FacilityKind::Health)
            }
            "police" | "công an" | "cong an" => Some(FacilityKind::Police),
            "school" | "trường" | "truong" | "trường học" | "truong hoc" => {
                Some(FacilityKind::School)
            }
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

/// The cells of one facility as a file or a form gives them, before they are checked.
#[derive(Debug, Clone, Default)]
pub struct FacilityCells<'a> {
    pub commune_code: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub phone: &'a str,
    pub hours: &'a str,
    pub session_days: &'a str,
}

/// A facility's name: a school's is its key within the commune, so it is never empty.
pub const NAME: TextRule = text::PLACE;
/// Opening hours as written on the door ("7h30–11h30, 13h30–17h00, thứ Hai đến thứ Sáu").
pub const HOURS: TextRule = TextRule {
    max_chars: 200,
    ascii_code: false,
};
/// One or two numbers as people dial them ("024 3823 1234", "0912 345 678 / 024 3823 1234").
pub const PHONE: TextRule = TextRule {
    max_chars: 40,
    ascii_code: false,
};

/// Spaces as one: a name typed with two spaces is the same school as the one typed with one.
fn tidy(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A phone as the facility writes it, kept so (a landline "024 3823 1234" is not a mobile
/// [`super::Phone`] and must not be rewritten into one), but only digits and the marks people
/// put between them: a letter or a stray symbol is a typo or a note in the wrong column.
pub fn check_phone(value: &str) -> Result<String, FieldError> {
    text::check("phone", value, PHONE)?;
    let phone = tidy(value);
    if let Some(c) = phone
        .chars()
        .find(|c| !(c.is_ascii_digit() || " +-.()/,;".contains(*c)))
    {
        return Err(FieldError::new(
            "phone",
            format!(
                "'{}' có ký tự '{c}': chỉ ghi số, dấu cách và + - . ( ) / (024 3823 1234) / holds '{c}': write only digits, spaces and + - . ( ) / (024 3823 1234)",
                text::shown(&phone)
            ),
        ));
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !phone.is_empty() && digits < 3 {
        return Err(FieldError::new(
            "phone",
            format!(
                "'{}' không phải số điện thoại / is not a phone number: write it as it is dialled (024 3823 1234)",
                text::shown(&phone)
            ),
        ));
    }
    Ok(phone)
}

impl Facility {
    /// Checks a whole row, every field (so an import reports each bad cell of a line at once).
    /// A health station or police post without a name gets the one it has in every commune
    /// ("Trạm Y tế phường Ba Đình"); a school must be named, since its name is its key.
    pub fn from_cells(cells: &FacilityCells<'_>) -> Result<Facility, Vec<FieldError>> {
        let mut errors = Vec::new();
        let commune = super::CommuneCode::parse(cells.commune_code)
            .map_err(|e| errors.push(FieldError::new("commune_code", e)))
            .ok();
        let kind = FacilityKind::parse(cells.kind);
        if kind.is_none() {
            errors.push(FieldError::new(
                "kind",
                format!(
                    "'{}' không phải loại cơ sở: ghi health (trạm y tế), police (công an) hoặc school (trường) / is not a kind of facility: write health, police or school",
                    text::shown(cells.kind)
                ),
            ));
        }
        let mut text_field = |field: &'static str, value: &str, rule: TextRule| match text::check(
            field, value, rule,
        ) {
            Ok(()) => tidy(value),
            Err(e) => {
                errors.push(e);
                String::new()
            }
        };
        let mut name = text_field("name", cells.name, NAME);
        let address = text_field("address", cells.address, text::ADDRESS);
        let hours = text_field("hours", cells.hours, HOURS);
        let phone = check_phone(cells.phone)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        let session_days = SessionDays::parse(cells.session_days)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if name.is_empty() && cells.name.trim().is_empty() {
            match (kind, &commune) {
                (Some(FacilityKind::School), _) => errors.push(FieldError::new(
                    "name",
                    "tên trường trống: ghi tên trường (Trường Tiểu học Ba Đình) / the school has no name: write it (its name tells a commune's schools apart)",
                )),
                (Some(k), Some(c)) => {
                    let units = super::AdminUnits::get();
                    let commune = units.commune(c.as_str()).expect("a parsed code");
                    name = k.default_name(&commune.in_sentence(), false);
                }
                _ => {}
            }
        }
        match (commune, kind, errors.is_empty()) {
            (Some(commune), Some(kind), true) => Ok(Facility {
                commune_code: commune.as_str().to_string(),
                kind,
                name,
                address,
                phone,
                hours,
                session_days,
            }),
            _ => Err(errors),
        }
    }

    /// The cells [`Facility::from_cells`] reads back to this facility.
    pub fn cells(&self) -> [String; 7] {
        [
            self.commune_code.clone(),
            self.kind.as_str().to_string(),
            self.name.clone(),
            self.address.clone(),
            self.phone.clone(),
            self.hours.clone(),
            self.session_days.to_cell(),
        ]
    }
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

    #[test]
    fn a_row_is_checked_whole_and_landlines_are_kept_as_written() {
        let cells = FacilityCells {
            commune_code: "4",
            kind: "Trạm Y tế",
            name: "",
            address: "  Số 2  Phố Đội Cấn ",
            phone: "024 3823 1234",
            hours: "7h30–11h30, 13h30–17h00",
            session_days: "ngày 15 hằng tháng",
        };
        let f = Facility::from_cells(&cells).unwrap();
        assert_eq!(f.commune_code, "00004");
        assert_eq!(f.kind, FacilityKind::Health);
        assert_eq!(
            f.name, "Trạm Y tế phường Ba Đình",
            "the name every station has"
        );
        assert_eq!(f.address, "Số 2 Phố Đội Cấn");
        assert_eq!(f.phone, "024 3823 1234");
        assert_eq!(f.session_days.month_days, vec![15]);
        let back = f.cells();
        let again = Facility::from_cells(&FacilityCells {
            commune_code: &back[0],
            kind: &back[1],
            name: &back[2],
            address: &back[3],
            phone: &back[4],
            hours: &back[5],
            session_days: &back[6],
        })
        .unwrap();
        assert_eq!(again, f);

        let bad = Facility::from_cells(&FacilityCells {
            commune_code: "99999",
            kind: "chợ",
            name: "Trạm\u{7}",
            phone: "gọi 113",
            session_days: "32",
            ..FacilityCells::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = bad.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["commune_code", "kind", "name", "phone", "session_days"]
        );
        let unnamed_school = Facility::from_cells(&FacilityCells {
            commune_code: "00004",
            kind: "school",
            ..FacilityCells::default()
        })
        .unwrap_err();
        assert_eq!(unnamed_school[0].field, "name");
    }

    #[test]
    fn phones_take_digits_and_the_marks_between_them() {
        assert_eq!(check_phone(" 024  3823 1234 ").unwrap(), "024 3823 1234");
        assert_eq!(check_phone("+84 24 3823 1234").unwrap(), "+84 24 3823 1234");
        assert_eq!(
            check_phone("0912.345.678 / (024) 3823-1234").unwrap(),
            "0912.345.678 / (024) 3823-1234"
        );
        assert_eq!(check_phone("113").unwrap(), "113");
        assert_eq!(check_phone("").unwrap(), "");
        assert!(check_phone("024 3823 1234 ext 5").is_err());
        assert!(check_phone("=1+1").is_err());
        assert!(check_phone("--").is_err());
        assert!(check_phone("024\u{0}1234").is_err());
    }
}
