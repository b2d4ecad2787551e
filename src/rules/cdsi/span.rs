//! CDSi's durations: "6 weeks - 4 days", "12 months - 4 days", "8 months + 1 day", "4 years".
//!
//! Unlike the Vietnamese rules' [`Duration`](crate::rules::duration::Duration), a CDSi span
//! may subtract days (the 4-day grace is written into the data as "- 4 days"). The arithmetic
//! is the same calendar rule (docs/domain.md §3): months first, with a missing day rolling to
//! the first of the next month, then days.

use std::fmt;
use std::str::FromStr;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rules::duration::shift_months;

/// Months (years × 12 + months) then days (weeks × 7 + days), each possibly negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub months: i32,
    pub days: i32,
}

impl Span {
    pub const ZERO: Span = Span { months: 0, days: 0 };

    /// `date + self`; saturates at the ends of the calendar (an age never reached).
    pub fn add_to(&self, date: NaiveDate) -> NaiveDate {
        let Some(d) = shift_months(date, i64::from(self.months)) else {
            return if self.months < 0 {
                NaiveDate::MIN
            } else {
                NaiveDate::MAX
            };
        };
        let moved = if self.days >= 0 {
            d.checked_add_days(Days::new(self.days as u64))
        } else {
            d.checked_sub_days(Days::new(self.days.unsigned_abs() as u64))
        };
        moved.unwrap_or(if self.days < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read \"{0}\" as a CDSi duration; write it like \"6 weeks - 4 days\", \"12 months\" or \"8 months + 1 day\"")]
pub struct SpanError(String);

impl FromStr for Span {
    type Err = SpanError;
    fn from_str(s: &str) -> Result<Span, SpanError> {
        let bad = || SpanError(s.to_string());
        let mut span = Span::ZERO;
        let mut sign = 1i32;
        let mut words = s.split_whitespace().peekable();
        let mut terms = 0;
        while let Some(w) = words.next() {
            match w {
                "+" => sign = 1,
                "-" => sign = -1,
                _ => {
                    // "4" "weeks", or "4weeks" is not in the data; a number then a unit.
                    let n: i32 = w.parse().map_err(|_| bad())?;
                    let unit = words.next().ok_or_else(bad)?.to_ascii_lowercase();
                    let n = sign * n;
                    match unit.trim_end_matches('s') {
                        "year" => span.months += 12 * n,
                        "month" => span.months += n,
                        "week" => span.days += 7 * n,
                        "day" => span.days += n,
                        _ => return Err(bad()),
                    }
                    terms += 1;
                    sign = 1;
                }
            }
        }
        if terms == 0 {
            return Err(bad());
        }
        Ok(span)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m) = (self.months / 12, self.months % 12);
        let mut parts: Vec<String> = Vec::new();
        if y != 0 {
            parts.push(format!("{y} years"));
        }
        if m != 0 {
            parts.push(format!("{m} months"));
        }
        if self.days != 0 || parts.is_empty() {
            parts.push(format!("{} days", self.days));
        }
        // "12 months - 4 days", never "12 months + -4 days".
        let mut out = String::new();
        for (i, p) in parts.iter().enumerate() {
            match (i, p.strip_prefix('-')) {
                (0, _) => out.push_str(p),
                (_, Some(rest)) => out.push_str(&format!(" - {rest}")),
                (_, None) => out.push_str(&format!(" + {p}")),
            }
        }
        f.write_str(&out)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn reads_the_forms_the_supporting_data_uses() {
        let s: Span = "6 weeks - 4 days".parse().unwrap();
        assert_eq!(
            s,
            Span {
                months: 0,
                days: 38
            }
        );
        let s: Span = "12 months - 4 days".parse().unwrap();
        assert_eq!(
            s,
            Span {
                months: 12,
                days: -4
            }
        );
        let s: Span = "8 months + 1 day".parse().unwrap();
        assert_eq!(s, Span { months: 8, days: 1 });
        let s: Span = "4 years".parse().unwrap();
        assert_eq!(
            s,
            Span {
                months: 48,
                days: 0
            }
        );
        assert!("soon".parse::<Span>().is_err());
        assert!("".parse::<Span>().is_err());
        assert!("4 fortnights".parse::<Span>().is_err());
    }

    #[test]
    fn months_first_then_days_and_it_reads_back() {
        let s: Span = "12 months - 4 days".parse().unwrap();
        assert_eq!(s.add_to(d("2025-01-31")), d("2026-01-27"));
        let s: Span = "1 month".parse().unwrap();
        // 2026-01-31 + 1 month: 31 February does not exist, so 1 March.
        assert_eq!(s.add_to(d("2026-01-31")), d("2026-03-01"));
        for text in [
            "12 months - 4 days",
            "4 years",
            "8 months + 1 day",
            "0 days",
            "1 years 6 months + 3 days",
        ] {
            let s: Span = text.parse().unwrap();
            assert_eq!(s.to_string().parse::<Span>().unwrap(), s, "{text}");
        }
    }
}
