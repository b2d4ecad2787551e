//! Reading the CDC's supporting data (AntigenSupportingData-*.xml, ScheduleSupportingData.xml)
//! into a [`Schedule`].
//!
//! The data has traps (cdsi-engine's README lists them): an empty element means "not
//! applicable", enum casing varies ("Vaccine Count by Age" / "By Age"), durations read
//! "8 months + 1 day". What cannot be read is reported at `file:line` and left out, never
//! guessed: the rest of the file still converts.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use roxmltree::{Document, Node};

use super::model::*;
use super::span::Span;

mod antigen;
mod schedule;

pub use antigen::antigen;
pub use schedule::schedule;

/// Something in the data the rules cannot hold, at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: u32,
    pub problem: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.problem)
    }
}

/// The vaccine-group ids the forecast uses: the CDSi test cases' names in lower case.
/// A group not listed is named after its CDSi name ("Yellow Fever" → "yellow-fever").
const GROUP_IDS: &[(&str, &str)] = &[
    ("DTaP/Tdap/Td", "dtap"),
    ("Polio", "pol"),
    ("Hib", "hib"),
    ("HepB", "hepb"),
    ("MMR", "mmr"),
    ("Varicella", "var"),
    ("Rotavirus", "rota"),
    ("Pneumococcal", "pcv"),
    ("HepA", "hepa"),
    ("HPV", "hpv"),
    ("Meningococcal", "mcv"),
    ("Meningococcal B", "menb"),
    ("Zoster", "zoster"),
    ("Influenza", "flu"),
    ("COVID-19", "covid-19"),
    ("RSV", "rsv"),
];

pub fn group_id(name: &str) -> String {
    match GROUP_IDS.iter().find(|(n, _)| *n == name) {
        Some((_, id)) => id.to_string(),
        None => name.to_lowercase().replace([' ', '/'], "-"),
    }
}

/// `CVX20` for "20" and "020"; the data writes CVX codes with leading zeros ("03").
pub fn vaccine_code(cvx: &str) -> Option<String> {
    let n: u32 = cvx.trim().parse().ok()?;
    Some(format!("CVX{n}"))
}

struct Reader<'a> {
    file: &'a Path,
    doc: &'a Document<'a>,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Reader<'a> {
    fn problem(&mut self, node: Node, problem: String) {
        let line = self.doc.text_pos_at(node.range().start).row;
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            problem,
        });
    }

    /// The trimmed text of the child `tag`; None when absent or empty ("not applicable").
    fn text<'n>(&self, node: Node<'n, 'n>, tag: &str) -> Option<&'n str> {
        child(node, tag)
            .and_then(|c| c.text())
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("n/a"))
    }

    fn span(&mut self, node: Node, tag: &str) -> Option<Span> {
        let text = self.text(node, tag)?;
        match text.parse() {
            Ok(s) => Some(s),
            Err(e) => {
                self.problem(child(node, tag).unwrap_or(node), format!("<{tag}>: {e}"));
                None
            }
        }
    }

    fn date(&mut self, node: Node, tag: &str) -> Option<NaiveDate> {
        let text = self.text(node, tag)?;
        // The data writes dates as YYYYMMDD; accept ISO too.
        let parsed = NaiveDate::parse_from_str(text, "%Y%m%d")
            .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d"))
            .or_else(|_| NaiveDate::parse_from_str(text, "%m/%d/%Y"));
        match parsed {
            Ok(d) => Some(d),
            Err(_) => {
                let at = child(node, tag).unwrap_or(node);
                self.problem(at, format!("<{tag}>: \"{text}\" is not a date (YYYYMMDD)"));
                None
            }
        }
    }

    fn yes(&self, node: Node, tag: &str) -> bool {
        self.text(node, tag)
            .is_some_and(|t| t.eq_ignore_ascii_case("yes") || t.eq_ignore_ascii_case("y"))
    }

    fn vaccine(&mut self, node: Node) -> Option<String> {
        let cvx = self.text(node, "cvx")?;
        let code = vaccine_code(cvx);
        if code.is_none() {
            self.problem(node, format!("<cvx>: \"{cvx}\" is not a CVX code"));
        }
        code
    }
}

fn child<'n>(node: Node<'n, 'n>, tag: &str) -> Option<Node<'n, 'n>> {
    node.children().find(|c| c.has_tag_name(tag))
}

fn children<'n>(node: Node<'n, 'n>, tag: &'n str) -> impl Iterator<Item = Node<'n, 'n>> + 'n {
    node.children().filter(move |c| c.has_tag_name(tag))
}

/// One AntigenSupportingData file.
/// Reads a supporting-data folder: every AntigenSupportingData*.xml and the schedule file.
pub fn read_dir(dir: &Path) -> std::io::Result<(Schedule, Vec<Problem>)> {
    let mut schedule = Schedule::default();
    let mut problems = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    paths.sort();
    let mut saw_schedule = false;
    for path in &paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path)?;
        if name.starts_with("AntigenSupportingData") {
            if let Some(a) = antigen(path, &text, &mut problems) {
                schedule.antigen.push(a);
            }
        } else if name.starts_with("ScheduleSupportingData") {
            saw_schedule = true;
            self::schedule(path, &text, &mut schedule, &mut problems);
        }
    }
    if !saw_schedule {
        problems.push(Problem {
            file: dir.join("ScheduleSupportingData.xml"),
            line: 0,
            problem: "no ScheduleSupportingData.xml: vaccines cannot be tied to antigens".into(),
        });
    }
    Ok((schedule, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cdc_supporting_data_reads_with_what_it_cannot_say_named() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cdsi/supporting-data-4.64");
        let (s, problems) = read_dir(&dir).unwrap();
        for p in &problems {
            eprintln!("{p}");
        }
        assert_eq!(s.antigen.len(), 30);
        let dip = s.antigen.iter().find(|a| a.name == "Diphtheria").unwrap();
        let first = &dip.series[0];
        assert_eq!(first.vaccine_group, "dtap");
        assert_eq!(
            first.dose[0].age[0].abs_min,
            Some("6 weeks - 4 days".parse().unwrap())
        );
        assert!(s.cvx.iter().any(|v| v.code == "CVX20"));
        let mmr = s.vaccine_group.iter().find(|g| g.id == "mmr").unwrap();
        assert!(mmr.administer_full_group);
        assert_eq!(mmr.antigens, ["Measles", "Mumps", "Rubella"]);
        assert!(problems.len() < 20, "{} problems", problems.len());
    }

    #[test]
    fn a_bad_value_is_reported_at_its_line_and_the_rest_converts() {
        let xml = "<antigenSupportingData>\n<series>\n<seriesName>X</seriesName>\n<targetDisease>X</targetDisease>\n<vaccineGroup>X</vaccineGroup>\n<seriesType>Standard</seriesType>\n<selectSeries><seriesGroup>1</seriesGroup></selectSeries>\n<seriesDose><doseNumber>Dose 1</doseNumber>\n<age>\n<minAge>6 fortnights</minAge>\n</age></seriesDose>\n</series>\n</antigenSupportingData>";
        let mut problems = Vec::new();
        let a = antigen(Path::new("x.xml"), xml, &mut problems).unwrap();
        assert_eq!(a.series[0].dose.len(), 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, 10);
        assert!(
            problems[0].to_string().starts_with("x.xml:10: <minAge>"),
            "{}",
            problems[0]
        );
    }
}
