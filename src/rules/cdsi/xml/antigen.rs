//! One AntigenSupportingData file: the antigen's immunity and contraindications, and every
//! series with its doses, intervals, vaccines and conditional skips.

use std::path::Path;

use roxmltree::{Document, Node};

use super::{child, children, group_id, vaccine_code, Problem, Reader};
use crate::rules::cdsi::model::*;

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
                antigen.immunity_codes.push(observation_code(code));
            }
        }
        for b in imm.descendants().filter(|n| n.has_tag_name("dateOfBirth")) {
            if let Some(date) = r.date(b, "immunityBirthDate") {
                let exclusion_codes = (b.descendants())
                    .filter(|n| n.has_tag_name("exclusion"))
                    .filter_map(|e| r.text(e, "exclusionCode").map(observation_code))
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
                antigen.contraindication_codes.push(observation_code(code));
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
                code: observation_code(code),
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
