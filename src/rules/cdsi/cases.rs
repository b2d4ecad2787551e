//! The CDC's CDSi test cases (one CSV row per case), forecast and scored the way cicada and
//! FITS score them: every dose's evaluation status, the series status, the forecast dose
//! number and the earliest, recommended and past-due dates to the day. A date or number the
//! case leaves blank is not compared.
//!
//! Used by the conformance test (tests/it/cdsi.rs) and by `vongdoi rules test-cdsi`, so a
//! release of cases the project has never seen can be checked with the same code.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::evaluate::{Gender, Given, Patient};
use super::forecast::{forecast, GroupForecast};
use super::model::{observation_code, Schedule};
use super::xml::vaccine_code;

/// Influenza, COVID-19 and RSV: reported apart (their cases depend on the season's data).
pub const SEASONAL: &[&str] = &["flu", "covid-19", "rsv"];

/// Cases whose expected answers contradict the CDC's own data (listed by cicada).
pub const DEFECTIVE: &[&str] = &[
    "2018-0022",
    "2026-0043",
    "2026-0050",
    "2026-0052",
    "2026-0060",
];

#[derive(Debug, Default)]
pub struct Report {
    /// Vaccine group → (passed, cases).
    pub groups: BTreeMap<String, (usize, usize)>,
    /// "ID [group] name: what was wrong".
    pub failures: Vec<String>,
}

impl Report {
    /// Passed and cases outside the seasonal groups.
    pub fn routine(&self) -> (usize, usize) {
        (self.groups.iter())
            .filter(|(g, _)| !SEASONAL.contains(&g.as_str()))
            .fold((0, 0), |(p, n), (_, (gp, gn))| (p + gp, n + gn))
    }

    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (group, (p, n)) in &self.groups {
            let seasonal = if SEASONAL.contains(&group.as_str()) {
                "  (theo mùa/seasonal)"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {group:<9} {p:>4}/{n:<4} {:5.1} %{seasonal}\n",
                100.0 * *p as f64 / (*n).max(1) as f64
            ));
        }
        let (p, n) = self.routine();
        out.push_str(&format!(
            "  ngoài nhóm theo mùa / outside the seasonal groups: {p}/{n} = {:.1} %\n",
            100.0 * p as f64 / n.max(1) as f64
        ));
        out
    }
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// One case as its columns.
pub struct Case {
    columns: BTreeMap<String, String>,
}

impl Case {
    fn get(&self, k: &str) -> &str {
        self.columns.get(k).map(|s| s.trim()).unwrap_or("")
    }

    pub fn id(&self) -> &str {
        self.get("CDC_Test_ID")
    }

    /// The forecast's name of the vaccine group the case asks about ("dtap", "hepb").
    pub fn group(&self) -> String {
        self.get("Vaccine_Group").to_lowercase()
    }

    pub fn patient(&self) -> Result<Patient> {
        Ok(Patient {
            dob: date(self.get("DOB")).with_context(|| format!("{}: no DOB", self.id()))?,
            gender: match self.get("gender") {
                "F" => Gender::Female,
                "M" => Gender::Male,
                _ => Gender::Unknown,
            },
            // One code or several ("055;076"), written with or without leading zeros.
            observations: (self.get("Med_History_Code").split([';', ',', '|']))
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(observation_code)
                .collect(),
        })
    }

    pub fn given(&self) -> Vec<Given> {
        let mut out = Vec::new();
        for n in 1..=7 {
            let Some(d) = date(self.get(&format!("Date_Administered_{n}"))) else {
                break;
            };
            let cvx = self.get(&format!("CVX_{n}"));
            let mvx = self.get(&format!("MVX_{n}"));
            out.push(Given {
                date: d,
                vaccine: vaccine_code(cvx).unwrap_or_else(|| cvx.to_string()),
                mvx: (!mvx.is_empty()).then(|| mvx.to_string()),
            });
        }
        out
    }

    pub fn assessment_date(&self) -> Result<NaiveDate> {
        date(self.get("Assessment_Date"))
            .with_context(|| format!("{}: no Assessment_Date", self.id()))
    }

    /// What is wrong with `f` as this case's answer; empty when it passes. `antigens` are
    /// the group's: a dose is judged by the series the forecast chose for them.
    pub fn score(&self, f: Option<&GroupForecast>, antigens: &[String]) -> Vec<String> {
        let Some(f) = f else {
            return vec!["no forecast for the group".into()];
        };
        let mut wrong = Vec::new();
        for n in 1..=7 {
            let expected = self.get(&format!("Evaluation_Status_{n}"));
            if expected.is_empty() || self.get(&format!("Date_Administered_{n}")).is_empty() {
                continue;
            }
            let of_record: Vec<_> = f.evaluations.iter().filter(|e| e.record == n - 1).collect();
            let chosen: Vec<_> = (of_record.iter())
                .filter(|e| e.selected && antigens.contains(&e.antigen))
                .collect();
            // A dose of another group's antigens only (MMR in a varicella case) is judged
            // by any of its series.
            let pool: Vec<_> = if chosen.is_empty() {
                of_record.iter().collect()
            } else {
                chosen
            };
            if pool.is_empty() {
                continue;
            }
            if !pool
                .iter()
                .any(|e| e.status.cdc().eq_ignore_ascii_case(expected))
            {
                let ours: Vec<String> = (pool.iter())
                    .map(|e| {
                        format!(
                            "{} {} ({})",
                            e.status.cdc(),
                            e.reason.map(|r| r.cdc()).unwrap_or(""),
                            e.antigen
                        )
                    })
                    .collect();
                wrong.push(format!(
                    "dose {n}: expected {expected}, got {}",
                    ours.join(" / ")
                ));
            }
        }
        let status = self.get("Series_Status");
        if !status.eq_ignore_ascii_case(f.status.cdc()) {
            wrong.push(format!("status: expected {status}, got {}", f.status.cdc()));
        }
        let next = f.next.as_ref();
        let number = self.get("Forecast_#");
        if !number.is_empty() && number != "-" {
            let ours = next.map(|n| n.dose.to_string()).unwrap_or_default();
            if ours != number {
                wrong.push(format!("dose number: expected {number}, got \"{ours}\""));
            }
        }
        for (col, ours) in [
            ("Earliest_Date", next.map(|n| n.earliest)),
            ("Recommended_Date", next.map(|n| n.recommended)),
            ("Past_Due_Date", next.and_then(|n| n.past_due)),
        ] {
            if let Some(expected) = date(self.get(col)) {
                if ours != Some(expected) {
                    let ours = ours.map(|d| d.to_string()).unwrap_or_else(|| "none".into());
                    wrong.push(format!("{col}: expected {expected}, got {ours}"));
                }
            }
        }
        wrong
    }
}

/// Reads a case file (the CDC's CSV export, one row per case).
pub fn read(path: &Path) -> Result<Vec<Case>> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("cannot read the test cases {}", path.display()))?;
    let headers = reader.headers()?.clone();
    for needed in [
        "CDC_Test_ID",
        "DOB",
        "Assessment_Date",
        "Vaccine_Group",
        "Series_Status",
    ] {
        if !headers.iter().any(|h| h == needed) {
            anyhow::bail!(
                "{}: no column {needed}; is this the CDC's test-case CSV?",
                path.display()
            );
        }
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record =
            record.with_context(|| format!("{}:{}: unreadable row", path.display(), i + 2))?;
        out.push(Case {
            columns: (headers.iter().zip(record.iter()))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect(),
        });
    }
    Ok(out)
}

/// Forecasts and scores every case.
pub fn run(schedule: &Schedule, cases: &[Case]) -> Result<Report> {
    let mut report = Report::default();
    for case in cases {
        let group = case.group();
        let forecasts = forecast(
            schedule,
            &case.patient()?,
            &case.given(),
            case.assessment_date()?,
        );
        let antigens = (schedule.vaccine_group.iter())
            .find(|g| g.id == group)
            .map(|g| g.antigens.clone())
            .unwrap_or_default();
        let wrong = case.score(forecasts.iter().find(|f| f.group == group), &antigens);
        let tally = report.groups.entry(group.clone()).or_default();
        tally.1 += 1;
        if wrong.is_empty() {
            tally.0 += 1;
        } else {
            let known = if DEFECTIVE.contains(&case.id()) {
                " (ca lỗi của CDC/defective case)"
            } else {
                ""
            };
            report.failures.push(format!(
                "{} [{group}]{known} {}: {}",
                case.id(),
                case.get("Test_Case_Name"),
                wrong.join("; ")
            ));
        }
    }
    Ok(report)
}
