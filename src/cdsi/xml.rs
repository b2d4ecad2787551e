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
pub fn antigen(file: &Path, text: &str, problems: &mut Vec<Problem>) -> Option<Antigen> {
    let doc = match Document::parse(text) {
        Ok(d) => d,
        Err(e) => {
            problems.push(Problem {
                file: file.to_path_buf(),
                line: e.pos().row,
                problem: format!("not readable XML: {e}"),
            });
            return None;
        }
    };
    let mut r = Reader {
        file,
        doc: &doc,
        problems,
    };
    let root = doc.root_element();
    let mut antigen = Antigen::default();
    if let Some(imm) = child(root, "immunity") {
        for c in imm
            .descendants()
            .filter(|n| n.has_tag_name("clinicalHistory"))
        {
            if let Some(code) = r.text(c, "guidelineCode") {
                antigen.immunity_codes.push(code.to_string());
            }
        }
        for b in imm.descendants().filter(|n| n.has_tag_name("dateOfBirth")) {
            if let Some(date) = r.date(b, "immunityBirthDate") {
                let exclusion_codes = (b.descendants())
                    .filter(|n| n.has_tag_name("exclusion"))
                    .filter_map(|e| r.text(e, "exclusionCode").map(str::to_string))
                    .collect();
                antigen.immunity_birth_before.push(ImmunityBirthDate {
                    date,
                    exclusion_codes,
                });
            }
        }
    }
    if let Some(c) = child(root, "contraindications").and_then(|c| child(c, "vaccineGroup")) {
        for x in children(c, "contraindication") {
            if let Some(code) = r.text(x, "observationCode") {
                antigen.contraindication_codes.push(code.to_string());
            }
        }
    }
    for s in children(root, "series") {
        if let Some(series) = series(&mut r, s) {
            if antigen.name.is_empty() {
                antigen.name = r.text(s, "targetDisease").unwrap_or_default().to_string();
            }
            antigen.series.push(series);
        }
    }
    if antigen.name.is_empty() {
        r.problem(
            root,
            "no <series> with a <targetDisease>: nothing to convert".into(),
        );
        return None;
    }
    Some(antigen)
}

fn series(r: &mut Reader, s: Node) -> Option<Series> {
    let name = r.text(s, "seriesName").unwrap_or_default().to_string();
    let kind = match r
        .text(s, "seriesType")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("standard") => SeriesType::Standard,
        Some("risk") => SeriesType::Risk,
        Some("evaluation only") => SeriesType::EvaluationOnly,
        other => {
            r.problem(
                s,
                format!("series \"{name}\": unknown <seriesType> {other:?}"),
            );
            return None;
        }
    };
    let select = child(s, "selectSeries").unwrap_or(s);
    let group = r.text(select, "seriesGroup").and_then(|g| g.parse().ok());
    let Some(group) = group else {
        r.problem(
            select,
            format!("series \"{name}\": no numeric <seriesGroup>"),
        );
        return None;
    };
    let required_gender = (children(s, "requiredGender"))
        .filter_map(|g| g.text().map(str::trim).filter(|t| !t.is_empty()))
        .map(str::to_string)
        .collect();
    let mut indications = Vec::new();
    for i in children(s, "indication") {
        let code = child(i, "observationCode").and_then(|c| r.text(c, "code"));
        if let Some(code) = code {
            let (begin_age, end_age) = (r.span(i, "beginAge"), r.span(i, "endAge"));
            indications.push(Indication {
                code: code.to_string(),
                begin_age,
                end_age,
            });
        }
    }
    let mut doses = Vec::new();
    for d in children(s, "seriesDose") {
        doses.push(dose(r, d, &name));
    }
    Some(Series {
        vaccine_group: group_id(r.text(s, "vaccineGroup").unwrap_or_default()),
        kind,
        default_series: r.yes(select, "defaultSeries"),
        product_path: r.yes(select, "productPath"),
        group,
        equivalent_groups: (r
            .text(s, "equivalentSeriesGroups")
            .unwrap_or_default()
            .split(';'))
        .filter_map(|g| g.trim().parse().ok())
        .collect(),
        priority: r.text(select, "seriesPriority").unwrap_or("Z").to_string(),
        preference: r
            .text(select, "seriesPreference")
            .and_then(|p| p.parse().ok())
            .unwrap_or(99),
        min_age_to_start: r.span(select, "minAgeToStart"),
        max_age_to_start: r.span(select, "maxAgeToStart"),
        required_gender,
        indications,
        dose: doses,
        name,
    })
}

fn dose(r: &mut Reader, d: Node, series: &str) -> SeriesDose {
    let number = (r.text(d, "doseNumber"))
        .and_then(|n| n.trim_start_matches("Dose").trim().parse().ok())
        .unwrap_or_else(|| {
            r.problem(
                d,
                format!("series \"{series}\": <doseNumber> is not \"Dose N\""),
            );
            0
        });
    let mut out = SeriesDose {
        number,
        recurring: r.yes(d, "recurringDose"),
        ..SeriesDose::default()
    };
    for a in children(d, "age") {
        out.age.push(Ages {
            abs_min: r.span(a, "absMinAge"),
            min: r.span(a, "minAge"),
            earliest_rec: r.span(a, "earliestRecAge"),
            latest_rec: r.span(a, "latestRecAge"),
            max: r.span(a, "maxAge"),
            effective: r.date(a, "effectiveDate"),
            cessation: r.date(a, "cessationDate"),
        });
    }
    for (tag, into) in [("interval", false), ("allowableInterval", true)] {
        for i in children(d, tag) {
            if let Some(iv) = interval(r, i) {
                if into {
                    out.allowable_interval.push(iv);
                } else {
                    out.interval.push(iv);
                }
            }
        }
    }
    for (tag, allowable) in [("preferableVaccine", false), ("allowableVaccine", true)] {
        for v in children(d, tag) {
            let Some(vaccine) = r.vaccine(v) else {
                continue;
            };
            let use_ = VaccineUse {
                vaccine,
                begin_age: r.span(v, "beginAge"),
                end_age: r.span(v, "endAge"),
                mvx: r.text(v, "mvx").map(str::to_string),
                forecast: r.yes(v, "forecastVaccineType"),
            };
            if allowable {
                out.allowable.push(use_);
            } else {
                out.preferable.push(use_);
            }
        }
    }
    for v in children(d, "inadvertentVaccine") {
        if let Some(code) = r.vaccine(v) {
            out.inadvertent.push(code);
        }
    }
    for s in children(d, "conditionalSkip") {
        if let Some(skip) = skip(r, s) {
            out.skip.push(skip);
        }
    }
    if let Some(s) = child(d, "seasonalRecommendation") {
        let (start, end) = (r.date(s, "startDate"), r.date(s, "endDate"));
        if start.is_some() || end.is_some() {
            out.season = Some(Season { start, end });
        }
    }
    out.required_gender = (children(d, "requiredGender"))
        .filter_map(|g| g.text().map(str::trim).filter(|t| !t.is_empty()))
        .map(str::to_string)
        .collect();
    out
}

fn interval(r: &mut Reader, i: Node) -> Option<Interval> {
    // An empty <interval/> means "no interval".
    let from = if r.yes(i, "fromPrevious") {
        From::Previous
    } else if let Some(n) = r.text(i, "fromTargetDose") {
        match n.parse() {
            Ok(n) => From::TargetDose(n),
            Err(_) => {
                r.problem(i, format!("<fromTargetDose>: \"{n}\" is not a dose number"));
                return None;
            }
        }
    } else if let Some(list) = r.text(i, "fromMostRecent") {
        let codes: Vec<String> = list.split(';').filter_map(vaccine_code).collect();
        if codes.is_empty() {
            r.problem(i, format!("<fromMostRecent>: \"{list}\" names no CVX code"));
            return None;
        }
        From::MostRecent(codes)
    } else if let Some(obs) = child(i, "fromRelevantObs").and_then(|o| r.text(o, "code")) {
        From::Observation(obs.to_string())
    } else {
        return None;
    };
    Some(Interval {
        from,
        abs_min: r.span(i, "absMinInt"),
        min: r.span(i, "minInt"),
        earliest_rec: r.span(i, "earliestRecInt"),
        latest_rec: r.span(i, "latestRecInt"),
        priority: r.text(i, "intervalPriority").map(str::to_string),
        effective: r.date(i, "effectiveDate"),
        cessation: r.date(i, "cessationDate"),
    })
}

fn logic(r: &mut Reader, node: Node, tag: &str) -> Option<Logic> {
    match r.text(node, tag).map(str::to_ascii_lowercase).as_deref() {
        None => Some(Logic::And),
        Some("and") => Some(Logic::And),
        Some("or") => Some(Logic::Or),
        Some(other) => {
            r.problem(
                node,
                format!("<{tag}>: unknown logic \"{other}\" (AND or OR)"),
            );
            None
        }
    }
}

fn skip(r: &mut Reader, s: Node) -> Option<ConditionalSkip> {
    // An empty <conditionalSkip/> is "no skip".
    if !s.children().any(|c| c.is_element()) {
        return None;
    }
    let context = match r.text(s, "context").map(str::to_ascii_lowercase).as_deref() {
        Some("evaluation") => SkipContext::Evaluation,
        Some("forecast") => SkipContext::Forecast,
        Some("both") => SkipContext::Both,
        other => {
            r.problem(
                s,
                format!("<context>: unknown {other:?} (Evaluation, Forecast, Both)"),
            );
            return None;
        }
    };
    let logic_ = logic(r, s, "setLogic")?;
    let mut sets = Vec::new();
    for set in children(s, "set") {
        let mut conditions = Vec::new();
        for c in children(set, "condition") {
            if let Some(c) = condition(r, c) {
                conditions.push(c);
            } else {
                // A set missing a condition would skip doses it should not: leave it out.
                conditions.clear();
                break;
            }
        }
        if conditions.is_empty() {
            continue;
        }
        sets.push(SkipSet {
            description: r
                .text(set, "setDescription")
                .unwrap_or_default()
                .to_string(),
            logic: logic(r, set, "conditionLogic")?,
            effective: r.date(set, "effectiveDate"),
            cessation: r.date(set, "cessationDate"),
            condition: conditions,
        });
    }
    (!sets.is_empty()).then_some(ConditionalSkip {
        context,
        logic: logic_,
        set: sets,
    })
}

fn condition(r: &mut Reader, c: Node) -> Option<Condition> {
    let kind_text = r
        .text(c, "conditionType")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let kind = match kind_text.as_str() {
        "age" => ConditionKind::Age,
        "interval" => ConditionKind::Interval,
        "vaccine count by age" => ConditionKind::VaccineCountByAge,
        "vaccine count by date" => ConditionKind::VaccineCountByDate,
        "vaccine count by date and age" => ConditionKind::VaccineCountByDateAndAge,
        "completed series" => ConditionKind::CompletedSeries,
        other => {
            r.problem(c, format!("<conditionType>: unknown \"{other}\""));
            return None;
        }
    };
    let dose_type = match r
        .text(c, "doseType")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => None,
        Some("total") => Some(DoseType::Total),
        Some("valid") => Some(DoseType::Valid),
        Some(other) => {
            r.problem(
                c,
                format!("<doseType>: unknown \"{other}\" (Total or Valid)"),
            );
            return None;
        }
    };
    let count_logic = match r
        .text(c, "doseCountLogic")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => None,
        Some("greater than") | Some("greater") => Some(CountLogic::Greater),
        Some("equal to") | Some("equal") | Some("equals") => Some(CountLogic::Equal),
        Some("less than") | Some("less") => Some(CountLogic::Less),
        Some(other) => {
            r.problem(c, format!("<doseCountLogic>: unknown \"{other}\""));
            return None;
        }
    };
    let vaccines = (r.text(c, "vaccineTypes").unwrap_or_default().split(';'))
        .filter_map(vaccine_code)
        .collect();
    let series_groups = (r.text(c, "seriesGroups").unwrap_or_default().split(';'))
        .filter_map(|g| g.trim().parse().ok())
        .collect();
    Some(Condition {
        kind,
        begin_age: r.span(c, "beginAge"),
        end_age: r.span(c, "endAge"),
        start_date: r.date(c, "startDate"),
        end_date: r.date(c, "endDate"),
        interval: r.span(c, "interval"),
        dose_count: r.text(c, "doseCount").and_then(|n| n.parse().ok()),
        dose_type,
        count_logic,
        vaccines,
        series_groups,
    })
}

/// ScheduleSupportingData.xml: vaccines → antigens, live-virus conflicts, vaccine groups.
pub fn schedule(file: &Path, text: &str, into: &mut Schedule, problems: &mut Vec<Problem>) {
    let doc = match Document::parse(text) {
        Ok(d) => d,
        Err(e) => {
            problems.push(Problem {
                file: file.to_path_buf(),
                line: e.pos().row,
                problem: format!("not readable XML: {e}"),
            });
            return;
        }
    };
    let mut r = Reader {
        file,
        doc: &doc,
        problems,
    };
    let root = doc.root_element();
    if let Some(list) = child(root, "cvxToAntigenMap") {
        for m in children(list, "cvxMap") {
            let Some(code) = r.vaccine(m) else { continue };
            let antigens = (children(m, "association"))
                .filter_map(|a| {
                    let antigen = r.text(a, "antigen")?.to_string();
                    Some(Association {
                        antigen,
                        begin_age: r.span(a, "associationBeginAge"),
                        end_age: r.span(a, "associationEndAge"),
                    })
                })
                .collect();
            into.vaccine.push(VaccineAntigens {
                code,
                name: r
                    .text(m, "shortDescription")
                    .unwrap_or_default()
                    .to_string(),
                antigens,
            });
        }
    }
    if let Some(list) = child(root, "liveVirusConflicts") {
        for c in children(list, "liveVirusConflict") {
            let previous = child(c, "previous").and_then(|p| r.vaccine(p));
            let current = child(c, "current").and_then(|p| r.vaccine(p));
            let begin = r.span(c, "conflictBeginInterval");
            let min_end = r.span(c, "minConflictEndInterval");
            let end = r.span(c, "conflictEndInterval");
            match (previous, current, begin, end) {
                (Some(previous), Some(current), Some(begin), Some(end)) => {
                    into.live_virus_conflict.push(LiveVirusConflict {
                        previous,
                        current,
                        begin,
                        min_end: min_end.unwrap_or(end),
                        end,
                    })
                }
                _ => r.problem(
                    c,
                    "a live-virus conflict without both vaccines and its intervals".into(),
                ),
            }
        }
    }
    let mut groups: Vec<VaccineGroup> = Vec::new();
    if let Some(list) = child(root, "vaccineGroups") {
        for g in children(list, "vaccineGroup") {
            let Some(name) = r.text(g, "name") else {
                continue;
            };
            groups.push(VaccineGroup {
                id: group_id(name),
                name: name.to_string(),
                antigens: Vec::new(),
                administer_full_group: r.yes(g, "administerFullVaccineGroup"),
            });
        }
    }
    if let Some(list) = child(root, "vaccineGroupToAntigenMap") {
        for m in children(list, "vaccineGroupMap") {
            let Some(name) = r.text(m, "name") else {
                continue;
            };
            let antigens: Vec<String> = (children(m, "antigen"))
                .filter_map(|a| a.text().map(str::trim).map(str::to_string))
                .collect();
            match groups.iter_mut().find(|g| g.name == name) {
                Some(g) => g.antigens = antigens,
                None => r.problem(
                    m,
                    format!(
                        "antigens for \"{name}\", a vaccine group not listed in <vaccineGroups>"
                    ),
                ),
            }
        }
    }
    into.vaccine_group = groups;
}

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
        assert!(s.vaccine.iter().any(|v| v.code == "CVX20"));
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
