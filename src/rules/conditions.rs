//! Who a rule entry applies to (`when = {...}` in a rule file), and whether two versions of
//! the same rule could both apply to one citizen on one day — which `rules check` forbids, so
//! that evaluation never has to choose between versions.

use chrono::NaiveDate;

use super::Subject;
use crate::registry::Sex;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Conditions {
    /// Sorted, for binary search; `None` = everywhere.
    pub provinces: Option<Vec<String>>,
    pub communes: Option<Vec<String>>,
    /// Inclusive date-of-birth range.
    pub born: DateRange,
    /// Inclusive range of as-of dates (a circular's entry into force and repeal).
    pub active: DateRange,
    pub sex: Option<Sex>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DateRange {
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

impl DateRange {
    fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= d) && self.until.is_none_or(|u| d <= u)
    }

    fn overlaps(&self, other: &DateRange) -> bool {
        let lo = self.from.max(other.from); // None < Some, so None means "no lower bound"
        let hi = match (self.until, other.until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (lo, hi) {
            (Some(lo), Some(hi)) => lo <= hi,
            _ => true,
        }
    }
}

fn list_contains(list: &Option<Vec<String>>, code: &str) -> bool {
    list.as_ref()
        .is_none_or(|l| l.binary_search_by(|x| x.as_str().cmp(code)).is_ok())
}

fn lists_overlap(a: &Option<Vec<String>>, b: &Option<Vec<String>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.iter().any(|x| b.binary_search(x).is_ok()),
        _ => true,
    }
}

impl Conditions {
    pub fn matches(&self, subject: &Subject, as_of: NaiveDate) -> bool {
        self.born.contains(subject.date_of_birth)
            && self.active.contains(as_of)
            && self.sex.is_none_or(|s| s == subject.sex)
            && list_contains(&self.provinces, subject.province_code)
            && list_contains(&self.communes, subject.commune_code)
    }

    /// Could one citizen on one day satisfy both? Conservative: a commune list is not
    /// compared with a province list (the codes do not say which province a commune is in),
    /// so two versions told apart only that way count as overlapping.
    pub fn may_overlap(&self, other: &Conditions) -> bool {
        self.born.overlaps(&other.born)
            && self.active.overlaps(&other.active)
            && (self.sex.is_none() || other.sex.is_none() || self.sex == other.sex)
            && lists_overlap(&self.provinces, &other.provinces)
            && lists_overlap(&self.communes, &other.communes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn ranges_touching_at_one_day_overlap() {
        let a = DateRange {
            from: None,
            until: d(2025, 12, 31),
        };
        let b = DateRange {
            from: d(2025, 12, 31),
            until: None,
        };
        let c = DateRange {
            from: d(2026, 1, 1),
            until: None,
        };
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
        assert!(DateRange::default().overlaps(&c));
    }

    #[test]
    fn disjoint_provinces_do_not_overlap() {
        let a = Conditions {
            provinces: Some(vec!["01".into(), "79".into()]),
            ..Default::default()
        };
        let b = Conditions {
            provinces: Some(vec!["04".into()]),
            ..Default::default()
        };
        assert!(!a.may_overlap(&b));
        assert!(a.may_overlap(&Conditions::default()));
        let female = Conditions {
            sex: Some(Sex::Female),
            ..Default::default()
        };
        let male = Conditions {
            sex: Some(Sex::Male),
            ..Default::default()
        };
        assert!(!female.may_overlap(&male));
    }

    #[test]
    fn matching() {
        let c = Conditions {
            provinces: Some(vec!["01".into(), "79".into()]),
            born: DateRange {
                from: d(2026, 1, 1),
                until: None,
            },
            ..Default::default()
        };
        let mut s = Subject {
            date_of_birth: d(2026, 1, 1).unwrap(),
            date_of_death: None,
            sex: Sex::Male,
            province_code: "79",
            commune_code: "26734",
        };
        let as_of = d(2026, 3, 1).unwrap();
        assert!(c.matches(&s, as_of));
        s.province_code = "04";
        assert!(!c.matches(&s, as_of));
        s.province_code = "01";
        s.date_of_birth = d(2025, 12, 31).unwrap();
        assert!(!c.matches(&s, as_of));
    }
}
