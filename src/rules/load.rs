//! Reading rule files (a folder, or the copies embedded in the binary): TOML parsing, the
//! checks across files (vaccine catalogue, overlapping versions), and assembling the
//! [`RuleSet`]. The per-entry checks are in `check`.
//!
//! Every problem is collected (not just the first) and reported as `file:line: problem`,
//! worded for the provincial health officer who edits the files: what is wrong and what to
//! write instead.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::check::{line_of, reword_toml_error, Checker, Env, Place};
use super::conditions::Conditions;
use super::forecast::ItemInfo;
use super::model::RuleFile;
use super::start::{link_siblings, StartWindow};
use super::template_checks;
use super::{CheckContext, CohortRule, MilestoneRule, RuleError, RuleSet, SeriesRule, Vaccine};

/// The shipped rule files, by the path they have in the repository.
const EMBEDDED_FILES: [(&str, &str); 7] = [
    (
        "rules/vaccines.toml",
        include_str!("../../rules/vaccines.toml"),
    ),
    (
        "rules/vaccination.toml",
        include_str!("../../rules/vaccination.toml"),
    ),
    (
        "rules/id-card.toml",
        include_str!("../../rules/id-card.toml"),
    ),
    ("rules/school.toml", include_str!("../../rules/school.toml")),
    ("rules/alerts.toml", include_str!("../../rules/alerts.toml")),
    (
        "rules/keywords.toml",
        include_str!("../../rules/keywords.toml"),
    ),
    ("rules/zns.toml", include_str!("../../rules/zns.toml")),
];

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(
            (concat!($name, ".vi.txt"), include_str!(concat!("../../rules/templates/", $name, ".vi.txt"))),
            (concat!($name, ".en.txt"), include_str!(concat!("../../rules/templates/", $name, ".en.txt"))),
        )*]
    };
}

/// The shipped templates (a new one in `rules/templates/` must be listed here to be embedded).
const EMBEDDED_TEMPLATES: [(&str, &str); 18] = templates![
    "sms-health",
    "sms-police",
    "sms-school",
    "vaccination-due-soon",
    "vaccination-overdue",
    "id-card-due-soon",
    "id-card-overdue",
    "school-enrolment",
    "measles-outbreak",
];

pub(super) fn embedded(ctx: &CheckContext) -> Result<RuleSet, Vec<RuleError>> {
    let files: Vec<(PathBuf, &str)> = EMBEDDED_FILES
        .iter()
        .map(|(p, t)| (PathBuf::from(p), *t))
        .collect();
    build(&files, &EMBEDDED_TEMPLATES, ctx)
}

pub(super) fn load_dir(dir: &Path, ctx: &CheckContext) -> Result<RuleSet, Vec<RuleError>> {
    let folder_error = |path: &Path, problem: String| {
        vec![RuleError {
            file: path.to_path_buf(),
            line: None,
            problem,
        }]
    };
    let mut paths = list_dir(dir, "toml")
        .map_err(|e| folder_error(dir, format!("cannot read the rules folder: {e}")))?;
    if paths.is_empty() {
        return Err(folder_error(
            dir,
            "no rule files (*.toml) in this folder".into(),
        ));
    }
    paths.sort();
    let mut errors = Vec::new();
    let mut texts = Vec::new();
    for path in paths {
        match fs::read_to_string(&path) {
            Ok(text) => texts.push((path, text)),
            Err(e) => errors.push(RuleError {
                file: path,
                line: None,
                problem: format!("cannot read this file: {e}"),
            }),
        }
    }
    // A missing templates folder is not an error in itself: any notice naming a template
    // will be reported as unknown.
    let template_dir = dir.join("templates");
    let mut template_texts = Vec::new();
    if template_dir.is_dir() {
        match list_dir(&template_dir, "txt") {
            Ok(paths) => {
                for path in paths {
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .map(str::to_string);
                    match (name, fs::read_to_string(&path)) {
                        (Some(name), Ok(text)) => template_texts.push((name, text)),
                        (_, Err(e)) => errors.push(RuleError {
                            file: path,
                            line: None,
                            problem: format!("cannot read this template: {e}"),
                        }),
                        (None, _) => {}
                    }
                }
            }
            Err(e) => errors.extend(folder_error(
                &template_dir,
                format!("cannot read the templates folder: {e}"),
            )),
        }
    }
    let files: Vec<(PathBuf, &str)> = texts.iter().map(|(p, t)| (p.clone(), t.as_str())).collect();
    let templates: Vec<(&str, &str)> = template_texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    match build(&files, &templates, ctx) {
        Ok(rules) if errors.is_empty() => Ok(rules),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

fn list_dir(dir: &Path, ext: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    Ok(out)
}

/// Checks and compiles. `templates` are (file name, text) with names `<template>.<vi|en>.txt`.
pub(super) fn build(
    files: &[(PathBuf, &str)],
    templates: &[(&str, &str)],
    ctx: &CheckContext,
) -> Result<RuleSet, Vec<RuleError>> {
    let mut errors = Vec::new();

    let mut parsed = Vec::new();
    for (path, text) in files {
        match toml::from_str::<RuleFile>(text) {
            Ok(file) => parsed.push((Checker::new(path, text), file)),
            Err(e) => errors.push(RuleError {
                file: path.clone(),
                line: e.span().map(|s| line_of(text, s.start)),
                problem: reword_toml_error(e.message()),
            }),
        }
    }

    let mut pairs: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for (file_name, text) in templates {
        if let Some((name, lang)) = file_name
            .strip_suffix(".txt")
            .and_then(|n| n.rsplit_once('.'))
        {
            let slot = pairs.entry(name.to_string()).or_default();
            match lang {
                "vi" => slot.0 = Some(text.to_string()),
                "en" => slot.1 = Some(text.to_string()),
                _ => {}
            }
        }
    }

    // The catalogue first: every other entry refers to it, across files.
    let mut vaccines: Vec<Vaccine> = Vec::new();
    let mut vaccine_at: HashMap<String, Place> = HashMap::new();
    for (check, file) in &parsed {
        for v in &file.vaccine {
            let code = v.code.get_ref();
            if code.is_empty()
                || !code
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                check.error(&mut errors, v.code.span(), format!("vaccine code \"{code}\" must be capital letters and digits only, e.g. \"MR\""));
            } else if let Some(first) = vaccine_at.get(code) {
                check.error(
                    &mut errors,
                    v.code.span(),
                    format!(
                        "vaccine code {code} is already defined at {first}; remove one of them"
                    ),
                );
            } else {
                vaccine_at.insert(code.clone(), check.place(v.code.span()));
                vaccines.push(Vaccine {
                    code: Arc::from(code.as_str()),
                    name_vi: v.name_vi.clone(),
                    name_en: v.name_en.clone(),
                    oral: v.oral,
                });
            }
        }
    }
    let catalogue: HashMap<&str, &Arc<str>> =
        vaccines.iter().map(|v| (&*v.code, &v.code)).collect();
    let oral: HashSet<&str> = vaccines
        .iter()
        .filter(|v| v.oral)
        .map(|v| &*v.code)
        .collect();
    let env = Env {
        ctx,
        catalogue: &catalogue,
        oral: &oral,
        templates: &pairs,
    };

    let mut series: Vec<(SeriesRule, Place)> = Vec::new();
    let mut milestones: Vec<(MilestoneRule, Place)> = Vec::new();
    let mut cohorts: Vec<(CohortRule, Place)> = Vec::new();
    for (check, file) in &parsed {
        let mut errs = Vec::new();
        for entry in &file.series {
            if let Some(rule) = check.series(entry, &file.defaults, &env, &mut errs) {
                series.push((rule, check.place(entry.id.span())));
            }
        }
        for entry in &file.milestone {
            if let Some(rule) = check.milestone(entry, &file.defaults, &env, &mut errs) {
                milestones.push((rule, check.place(entry.id.span())));
            }
        }
        for entry in &file.cohort {
            if let Some(rule) = check.cohort(entry, &file.defaults, &env, &mut errs) {
                cohorts.push((rule, check.place(entry.id.span())));
            }
        }
        errors.extend(errs);
    }

    // Versions of one rule must never both apply to the same citizen on the same day, so
    // that evaluation never has to choose. Versions of a series may also be told apart by
    // their start windows (the age at the first dose, `start`).
    let versions: Vec<(String, &Conditions, Option<&StartWindow>, &Place)> = (series.iter())
        .map(|(r, at)| {
            (
                format!("series \"{}\"", r.id),
                &r.when,
                r.start.as_ref(),
                at,
            )
        })
        .chain(
            milestones
                .iter()
                .map(|(r, at)| (format!("milestone \"{}\"", r.id), &r.when, None, at)),
        )
        .chain(
            cohorts
                .iter()
                .map(|(r, at)| (format!("cohort \"{}\"", r.id), &r.when, None, at)),
        )
        .collect();
    for (i, (rule, when, start, at)) in versions.iter().enumerate() {
        for (_, _, other_start, first) in
            versions[..i]
                .iter()
                .filter(|(other, other_when, other_start, _)| {
                    other == rule
                        && other_when.may_overlap(when)
                        && StartWindow::may_overlap(*other_start, *start)
                })
        {
            errors.push(at.error(if start.is_some() || other_start.is_some() {
                format!(
                    "this version of {rule} applies to some of the same citizens as the version \
                     at {first}, and their start windows overlap: a child whose first dose came \
                     at one age would have both schedules. Make the ages touch without \
                     overlapping (start_before = \"12 months\" on one, start_from = \"12 \
                     months\" on the other), or give them non-overlapping `when` ranges"
                )
            } else {
                format!(
                    "this version of {rule} applies to some of the same citizens as the version at \
                     {first}; a schedule change must be a new version that starts where the old one \
                     ends: give them non-overlapping `when` ranges (born_from/born_until, from/until) \
                     or different provinces"
                )
            }));
        }
    }

    let alerts = alert_wordings(&parsed, parsed.len() == files.len(), &pairs, &mut errors);
    let keywords = super::keywords::load(&parsed, ctx.sms_segment_limit, &mut errors);

    let infos: Vec<Arc<ItemInfo>> = (series.iter())
        .flat_map(|(s, _)| s.doses.iter().map(|d| Arc::clone(&d.info)))
        .chain((milestones.iter()).flat_map(|(m, _)| m.ages.iter().map(|(_, i)| Arc::clone(i))))
        .chain(cohorts.iter().map(|(c, _)| Arc::clone(&c.info)))
        .collect();
    let dir = (files.first())
        .and_then(|(p, _)| p.parent())
        .unwrap_or(Path::new("rules"));
    let named_by_notices: HashSet<String> = (parsed.iter())
        .flat_map(|(_, f)| {
            (f.defaults.notices.iter().flatten())
                .chain(f.series.iter().flat_map(|e| e.notices.iter().flatten()))
                .chain(f.milestone.iter().flat_map(|e| e.notices.iter().flatten()))
                .chain(f.cohort.iter().flat_map(|e| e.notices.iter().flatten()))
                .map(|n| n.template.get_ref().clone())
        })
        .collect();
    let alert_templates: HashSet<String> = alerts.iter().map(|a| a.template.clone()).collect();
    errors.extend(template_checks::check(
        dir,
        &pairs,
        &infos,
        (&named_by_notices, &alert_templates),
        ctx.sms_segment_limit,
    ));
    let zns = super::zns::entries(
        &parsed,
        parsed.len() == files.len(),
        &named_by_notices,
        &mut errors,
    );

    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        // A problem in a file's [defaults] shows up once per entry using them: say it once.
        errors.dedup();
        return Err(errors);
    }
    let templates = pairs
        .into_iter()
        .filter_map(|(name, pair)| match pair {
            (Some(vi), Some(en)) => Some((name, (vi, en))),
            _ => None,
        })
        .collect();
    // A file of keywords only says what replies do, never when anything falls due: editing
    // it must not cost a full pass of the registry.
    let keywords_only: HashSet<&Path> = (parsed.iter())
        .filter(|(_, f)| {
            !f.keyword.is_empty()
                && f.vaccine.is_empty()
                && f.series.is_empty()
                && f.milestone.is_empty()
                && f.cohort.is_empty()
                && f.alert.is_empty()
        })
        .map(|(c, _)| c.path())
        .collect();
    let scheduled: Vec<(PathBuf, &str)> = (files.iter())
        .filter(|(p, _)| !keywords_only.contains(p.as_path()))
        .cloned()
        .collect();
    let cdsi = cdsi_schedule(&mut parsed, &mut vaccines);
    let mut series: Vec<SeriesRule> = series.into_iter().map(|(s, _)| s).collect();
    link_siblings(&mut series);
    Ok(RuleSet {
        fingerprint: fingerprint(&scheduled),
        vaccines,
        series,
        milestones: milestones.into_iter().map(|(m, _)| m).collect(),
        cohorts: cohorts.into_iter().map(|(c, _)| c).collect(),
        templates,
        alerts,
        keywords,
        zns,
        cdsi,
    })
}

/// The CDSi tables of every file as one schedule (None when there are none). Each CVX code
/// joins the vaccine catalogue, so records of it can be imported and recorded.
fn cdsi_schedule(
    parsed: &mut [(Checker, RuleFile)],
    vaccines: &mut Vec<Vaccine>,
) -> Option<Arc<super::cdsi::model::Schedule>> {
    let mut s = super::cdsi::model::Schedule::default();
    for (_, file) in parsed.iter_mut() {
        s.antigen.append(&mut file.antigen);
        s.cvx.append(&mut file.cvx);
        s.live_virus_conflict.append(&mut file.live_virus_conflict);
        s.vaccine_group.append(&mut file.vaccine_group);
    }
    if s.antigen.is_empty() && s.cvx.is_empty() {
        return None;
    }
    for v in &s.cvx {
        if !vaccines.iter().any(|c| *c.code == *v.code) {
            let name = if v.name.is_empty() {
                v.code.clone()
            } else {
                v.name.clone()
            };
            vaccines.push(Vaccine {
                code: Arc::from(v.code.as_str()),
                name_vi: name.clone(),
                name_en: name,
                oral: false,
            });
        }
    }
    Some(Arc::new(s))
}

/// The `[[alert]]` entries: each names a template with both languages and a series the rules
/// define, once.
fn alert_wordings(
    parsed: &[(Checker, RuleFile)],
    // Every file parsed: otherwise a series may be missing only because its file did not.
    complete: bool,
    pairs: &BTreeMap<String, (Option<String>, Option<String>)>,
    errors: &mut Vec<RuleError>,
) -> Vec<super::AlertWording> {
    // The series as written (one with a mistake of its own is reported there, not again
    // here as an unknown series).
    let mut ids: Vec<&str> = (parsed.iter())
        .flat_map(|(_, f)| f.series.iter().map(|e| e.id.get_ref().as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<super::AlertWording> = Vec::new();
    let mut seen: HashMap<String, Place> = HashMap::new();
    for (check, file) in parsed {
        for a in &file.alert {
            let t = a.template.get_ref();
            if let Some(first) = seen.get(t) {
                check.error(
                    errors,
                    a.template.span(),
                    format!(
                        "alert template \"{t}\" is already declared at {first}; remove one of them"
                    ),
                );
                continue;
            }
            if !matches!(pairs.get(t), Some((Some(_), Some(_)))) {
                check.error(errors, a.template.span(), format!("alert template \"{t}\" needs templates/{t}.vi.txt and templates/{t}.en.txt; add both"));
            }
            let series_id = a.series.get_ref();
            if complete && !ids.contains(&series_id.as_str()) {
                check.error(
                    errors,
                    a.series.span(),
                    format!(
                        "series \"{series_id}\" is not defined; an alert names one of: {}",
                        ids.join(", ")
                    ),
                );
            }
            seen.insert(t.clone(), check.place(a.template.span()));
            out.push(super::AlertWording {
                template: t.clone(),
                name_vi: a.name_vi.clone(),
                name_en: a.name_en.clone(),
                disease_vi: a.disease_vi.clone(),
                disease_en: a.disease_en.clone(),
                series: series_id.clone(),
            });
        }
    }
    out
}

/// What the rule files say, as a short hash: the file names (not their folder, so moving the
/// folder changes nothing) and their text. Templates are left out on purpose: they change the
/// wording of notices yet to be written, never which day anything falls due, so a reworded
/// template must not cost a full pass of the registry.
fn fingerprint(files: &[(PathBuf, &str)]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<(String, &str)> = files
        .iter()
        .map(|(p, t)| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (name.unwrap_or_default(), *t)
        })
        .collect();
    sorted.sort();
    let mut h = Sha256::new();
    for (name, text) in sorted {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_rules_not_their_folder() {
        let a = fingerprint(&[(PathBuf::from("/x/vaccines.toml"), "a = 1")]);
        assert_eq!(
            a,
            fingerprint(&[(PathBuf::from("/y/vaccines.toml"), "a = 1")])
        );
        assert_ne!(
            a,
            fingerprint(&[(PathBuf::from("/x/vaccines.toml"), "a = 2")])
        );
        assert_ne!(a, fingerprint(&[(PathBuf::from("/x/other.toml"), "a = 1")]));
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn embedded_rules_pass_the_check() {
        if let Err(errors) = embedded(&CheckContext::builtin()) {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("{}", list.join("\n"));
        }
    }
}
