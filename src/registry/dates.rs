//! Dates as registrars write them: `YYYY-MM-DD`, or `DD/MM/YYYY` as Vietnamese forms do.

use chrono::NaiveDate;

/// Parses a calendar date, rejecting days that do not exist (no 30 February).
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let parsed = if s.contains('/') {
        NaiveDate::parse_from_str(s, "%d/%m/%Y")
    } else {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
    };
    parsed.map_err(|_| {
        format!("ngày '{s}' không tồn tại hoặc sai dạng / date '{s}' does not exist or is not YYYY-MM-DD or DD/MM/YYYY", s = super::text::shown(s))
    })
}

/// An optional date: an empty cell means unknown.
pub fn parse_optional_date(s: &str) -> Result<Option<NaiveDate>, String> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_date(s).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_and_no_impossible_days() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(parse_date("2024-02-29").unwrap(), d);
        assert_eq!(parse_date("29/02/2024").unwrap(), d);
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("30/02/2024").is_err());
        assert!(parse_date("2024-13-01").is_err());
        assert!(parse_date("yesterday").unwrap_err().contains("yesterday"));
        assert_eq!(parse_optional_date(" ").unwrap(), None);
    }
}
