//! Calendar durations ("6 weeks", "2 months", "1 year 6 months") and the arithmetic the
//! immunization schedule uses.
//!
//! The rule is CDSi's (docs/domain.md §3): add years and months first, then weeks and days. When
//! the day of the month does not exist in the resulting month, the date becomes the **first
//! day of the next month** (2025-12-31 + 2 months = 2026-03-01; 2024-02-29 + 1 year =
//! 2025-03-01). That is deliberately not chrono's `checked_add_months`, which clamps to the
//! last day of the month (it would give 2026-02-28 and make a dose one day early).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};

/// A non-negative calendar duration. Years and months are calendar units (their length in
/// days depends on the start date); weeks and days are fixed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Duration {
    pub years: u32,
    pub months: u32,
    pub weeks: u32,
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error(
        "a duration is empty; write it like \"0 days\", \"6 weeks\", \"2 months\" or \"1 year\""
    )]
    Empty,
    #[error(
        "\"{0}\" is negative; durations in rules count forward from a date and cannot be negative"
    )]
    Negative(String),
    #[error("cannot read duration \"{0}\"; write a whole number and a unit (days, weeks, months, years), e.g. \"6 weeks\" or \"1 year 6 months\"")]
    Unreadable(String),
}

impl Duration {
    pub const ZERO: Duration = Duration {
        years: 0,
        months: 0,
        weeks: 0,
        days: 0,
    };

    pub const fn days(days: u32) -> Duration {
        Duration {
            years: 0,
            months: 0,
            weeks: 0,
            days,
        }
    }
    pub const fn weeks(weeks: u32) -> Duration {
        Duration {
            years: 0,
            months: 0,
            weeks,
            days: 0,
        }
    }
    pub const fn months(months: u32) -> Duration {
        Duration {
            years: 0,
            months,
            weeks: 0,
            days: 0,
        }
    }
    pub const fn years(years: u32) -> Duration {
        Duration {
            years,
            months: 0,
            weeks: 0,
            days: 0,
        }
    }

    /// Whole months in the calendar part (years × 12 + months).
    pub fn total_months(&self) -> i64 {
        i64::from(self.years) * 12 + i64::from(self.months)
    }

    /// Days in the fixed part (weeks × 7 + days).
    pub fn total_days(&self) -> u64 {
        u64::from(self.weeks) * 7 + u64::from(self.days)
    }

    /// `date + self`, or `None` past chrono's last representable date.
    pub fn checked_add_to(&self, date: NaiveDate) -> Option<NaiveDate> {
        shift_months(date, self.total_months())?.checked_add_days(Days::new(self.total_days()))
    }

    /// `date + self`, saturating at `NaiveDate::MAX`: an age limit beyond the calendar simply
    /// never arrives, which is what an evaluation wants.
    pub fn add_to(&self, date: NaiveDate) -> NaiveDate {
        self.checked_add_to(date).unwrap_or(NaiveDate::MAX)
    }

    /// `date − self`: months back first (same first-of-next-month rule for a missing day),
    /// then weeks and days. Saturates at `NaiveDate::MIN`. Used for "N days before" notices.
    pub fn sub_from(&self, date: NaiveDate) -> NaiveDate {
        shift_months(date, -self.total_months())
            .and_then(|d| d.checked_sub_days(Days::new(self.total_days())))
            .unwrap_or(NaiveDate::MIN)
    }

    /// Whether `self` reaches past `other` counted from at least one birth date where calendar
    /// months differ most (month ends, 29 February): "1 month" and "30 days" are not always in
    /// the same order, so `rules check` compares ages this way, erring towards "later".
    pub(crate) fn may_exceed(&self, other: Duration) -> bool {
        probe_births().any(|d| self.add_to(d) > other.add_to(d))
    }
}

/// Birth dates where calendar months differ most (month ends, 29 February), to compare ages
/// that mix months and days.
pub(crate) fn probe_births() -> impl Iterator<Item = NaiveDate> {
    [(2023, 1, 31), (2024, 2, 29), (2025, 12, 31), (2025, 6, 15)]
        .into_iter()
        .filter_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

/// Moves `date` by `months` calendar months; a day that does not exist in the target month
/// rolls to the first day of the following month.
pub(crate) fn shift_months(date: NaiveDate, months: i64) -> Option<NaiveDate> {
    let index = i64::from(date.year()) * 12 + i64::from(date.month0()) + months;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = index.rem_euclid(12) as u32 + 1;
    match NaiveDate::from_ymd_opt(year, month, date.day()) {
        Some(d) => Some(d),
        // Only days 29–31 can be missing; the first of the next month always exists unless
        // we are past chrono's range.
        None if month == 12 => NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1),
        None => NaiveDate::from_ymd_opt(year, month + 1, 1),
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(DurationError::Empty);
        }
        if trimmed.starts_with('-') {
            return Err(DurationError::Negative(trimmed.to_string()));
        }
        let unreadable = || DurationError::Unreadable(trimmed.to_string());
        let mut out = Duration::ZERO;
        let mut words = trimmed.split_whitespace();
        while let Some(number) = words.next() {
            // Accept "6weeks" as well as "6 weeks".
            let (digits, glued_unit) = match number.find(|c: char| !c.is_ascii_digit()) {
                Some(0) => return Err(unreadable()),
                Some(i) => (&number[..i], Some(&number[i..])),
                None => (number, None),
            };
            let n: u32 = digits.parse().map_err(|_| unreadable())?;
            let unit = match glued_unit {
                Some(u) => u,
                None => words.next().ok_or_else(unreadable)?,
            };
            // Vietnamese unit words too: the people editing these files are provincial staff.
            let slot = match unit.trim_end_matches(',').to_lowercase().as_str() {
                "d" | "day" | "days" | "ngày" => &mut out.days,
                "w" | "week" | "weeks" | "tuần" => &mut out.weeks,
                "m" | "month" | "months" | "tháng" => &mut out.months,
                "y" | "year" | "years" | "năm" => &mut out.years,
                _ => return Err(unreadable()),
            };
            *slot = slot.checked_add(n).ok_or_else(unreadable)?;
        }
        Ok(out)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            (self.years, "year"),
            (self.months, "month"),
            (self.weeks, "week"),
            (self.days, "day"),
        ];
        let mut wrote = false;
        for (n, unit) in parts {
            if n == 0 {
                continue;
            }
            if wrote {
                f.write_str(" ")?;
            }
            write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })?;
            wrote = true;
        }
        if !wrote {
            f.write_str("0 days")?;
        }
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A bare number in a rule file is ambiguous (days? months?), so only strings are taken.
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn examples_from_domain_md() {
        assert_eq!(Duration::months(2).add_to(d(2025, 12, 31)), d(2026, 3, 1));
        assert_eq!(Duration::years(1).add_to(d(2024, 2, 29)), d(2025, 3, 1));
        assert_eq!(Duration::years(4).add_to(d(2024, 2, 29)), d(2028, 2, 29));
        assert_eq!(Duration::months(1).add_to(d(2025, 1, 31)), d(2025, 3, 1));
        assert_eq!(Duration::months(1).add_to(d(2024, 1, 30)), d(2024, 3, 1));
        assert_eq!(Duration::months(1).add_to(d(2024, 1, 29)), d(2024, 2, 29));
        assert_eq!(Duration::months(1).add_to(d(2025, 12, 15)), d(2026, 1, 15));
        assert_eq!(Duration::weeks(6).add_to(d(2026, 1, 1)), d(2026, 2, 12));
    }

    #[test]
    fn years_and_months_before_weeks_and_days() {
        // 2025-01-31 + (1 month, 1 day): month first gives 2025-03-01, then + 1 day = 03-02.
        // Days first would give 2025-02-01 + 1 month = 2025-03-01: a different answer.
        let dur: Duration = "1 month 1 day".parse().unwrap();
        assert_eq!(dur.add_to(d(2025, 1, 31)), d(2025, 3, 2));
    }

    #[test]
    fn subtraction_mirrors_addition() {
        assert_eq!(Duration::days(3).sub_from(d(2026, 3, 1)), d(2026, 2, 26));
        assert_eq!(Duration::months(1).sub_from(d(2025, 3, 31)), d(2025, 3, 1));
        assert_eq!(Duration::years(2).sub_from(d(2026, 5, 10)), d(2024, 5, 10));
    }

    #[test]
    fn parsing() {
        assert_eq!("6 weeks".parse(), Ok(Duration::weeks(6)));
        assert_eq!("2 months".parse(), Ok(Duration::months(2)));
        assert_eq!("1 year".parse(), Ok(Duration::years(1)));
        assert_eq!("0 days".parse(), Ok(Duration::ZERO));
        assert_eq!("1 day".parse(), Ok(Duration::days(1)));
        assert_eq!("7days".parse(), Ok(Duration::days(7)));
        assert_eq!("2 tháng".parse(), Ok(Duration::months(2)));
        assert_eq!(
            "1 year, 6 months".parse(),
            Ok(Duration {
                years: 1,
                months: 6,
                ..Duration::ZERO
            })
        );
        assert!(matches!(
            "-1 day".parse::<Duration>(),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!("".parse::<Duration>(), Err(DurationError::Empty)));
        for bad in [
            "six weeks",
            "6",
            "6 fortnights",
            "1.5 months",
            "weeks 6",
            "4 days 2",
        ] {
            assert!(
                matches!(bad.parse::<Duration>(), Err(DurationError::Unreadable(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "0 days",
            "6 weeks",
            "1 year",
            "2 months",
            "1 year 6 months 1 day",
        ] {
            assert_eq!(text.parse::<Duration>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn saturates_instead_of_panicking() {
        assert_eq!(
            Duration::years(1_000_000).add_to(d(2000, 1, 1)),
            NaiveDate::MAX
        );
        assert_eq!(
            Duration::years(1_000_000).sub_from(d(2000, 1, 1)),
            NaiveDate::MIN
        );
    }

    fn date() -> impl Strategy<Value = NaiveDate> {
        // 1900..2200 covers every registry birth date and then some.
        (0i64..110_000).prop_map(|n| d(1900, 1, 1) + chrono::Duration::days(n))
    }

    fn month_end() -> impl Strategy<Value = NaiveDate> {
        (1900i32..2200, 1u32..=12).prop_map(|(y, m)| {
            let next = if m == 12 {
                d(y + 1, 1, 1)
            } else {
                d(y, m + 1, 1)
            };
            next.pred_opt().unwrap()
        })
    }

    fn duration() -> impl Strategy<Value = Duration> {
        (0u32..20, 0u32..30, 0u32..60, 0u32..400).prop_map(|(years, months, weeks, days)| {
            Duration {
                years,
                months,
                weeks,
                days,
            }
        })
    }

    proptest! {
        #[test]
        fn zero_is_identity(date in date()) {
            prop_assert_eq!(Duration::ZERO.add_to(date), date);
        }

        #[test]
        fn adding_never_goes_back(date in date(), dur in duration()) {
            prop_assert!(dur.add_to(date) >= date);
        }

        #[test]
        fn monotone_in_the_start_date(a in date(), b in date(), dur in duration()) {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(dur.add_to(a) <= dur.add_to(b));
        }

        #[test]
        fn monotone_in_the_duration(date in date(), dur in duration(), more in duration()) {
            let bigger = Duration {
                years: dur.years + more.years,
                months: dur.months + more.months,
                weeks: dur.weeks + more.weeks,
                days: dur.days + more.days,
            };
            prop_assert!(dur.add_to(date) <= bigger.add_to(date));
        }

        #[test]
        fn fixed_part_is_exact_days(date in date(), weeks in 0u32..200, days in 0u32..1000) {
            let dur = Duration { weeks, days, ..Duration::ZERO };
            let expected = date + chrono::Duration::days(i64::from(weeks) * 7 + i64::from(days));
            prop_assert_eq!(dur.add_to(date), expected);
        }

        #[test]
        fn month_part_keeps_the_day_or_rolls_to_the_first(date in date(), months in 0u32..600) {
            let got = Duration::months(months).add_to(date);
            let target = i64::from(date.year()) * 12 + i64::from(date.month0()) + i64::from(months);
            let (ty, tm) = (target.div_euclid(12) as i32, target.rem_euclid(12) as u32 + 1);
            if got.day() == date.day() {
                // The day exists in the target month: same day, target month and year.
                prop_assert_eq!((got.year(), got.month()), (ty, tm));
            } else {
                // It does not: the first of the month after the target month.
                prop_assert_eq!(got.day(), 1);
                prop_assert!(date.day() > 28);
                prop_assert!(NaiveDate::from_ymd_opt(ty, tm, date.day()).is_none());
                let after = if tm == 12 { (ty + 1, 1) } else { (ty, tm + 1) };
                prop_assert_eq!((got.year(), got.month()), after);
            }
        }

        #[test]
        fn month_ends_roll_or_stay(end in month_end(), months in 1u32..48) {
            let got = Duration::months(months).add_to(end);
            // Either the same day number exists (31 → 31, 30 → 30 …) or we land on the 1st.
            prop_assert!(got.day() == end.day() || got.day() == 1);
            // Never more than one month plus three days beyond the naive month count.
            let clamped = end.checked_add_months(chrono::Months::new(months)).unwrap();
            prop_assert!(got >= clamped && (got - clamped).num_days() <= 3);
        }

        #[test]
        fn leap_day_plus_years(y in 1901i32..2199, years in 1u32..100) {
            prop_assume!(NaiveDate::from_ymd_opt(y, 2, 29).is_some());
            let leap = d(y, 2, 29);
            let got = Duration::years(years).add_to(leap);
            let ty = y + years as i32;
            if NaiveDate::from_ymd_opt(ty, 2, 29).is_some() {
                prop_assert_eq!(got, d(ty, 2, 29));
            } else {
                prop_assert_eq!(got, d(ty, 3, 1));
            }
        }

        #[test]
        fn december_31_plus_months(y in 1900i32..2199, months in 1u32..36) {
            let got = Duration::months(months).add_to(d(y, 12, 31));
            prop_assert!(got.day() == 31 || got.day() == 1);
            prop_assert!(got > d(y, 12, 31));
        }

        #[test]
        fn parse_display_round_trip(dur in duration()) {
            prop_assert_eq!(dur.to_string().parse::<Duration>(), Ok(dur));
        }
    }
}
