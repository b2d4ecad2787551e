//! Vietnam's clock. The registry, the schedule and every "today" are in Asia/Ho_Chi_Minh time:
//! UTC+7 all year (no daylight saving since 1975), so a fixed offset is exact. The one place
//! that defines it.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Asia/Ho_Chi_Minh.
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

/// Today in Vietnam.
pub fn today_in_vietnam() -> NaiveDate {
    Utc::now().with_timezone(&vietnam()).date_naive()
}

/// The day in Vietnam of an instant.
pub fn day_in_vietnam(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&vietnam()).date_naive()
}

/// A date as people in Vietnam write it: dd/mm/yyyy.
pub fn vn_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn vietnam_is_seven_hours_ahead_all_year() {
        let late = Utc.with_ymd_and_hms(2026, 12, 31, 17, 30, 0).unwrap();
        assert_eq!(day_in_vietnam(late).to_string(), "2027-01-01");
        let summer = Utc.with_ymd_and_hms(2026, 6, 30, 16, 59, 0).unwrap();
        assert_eq!(day_in_vietnam(summer).to_string(), "2026-06-30");
    }
}
