//! `rules check`: the shipped rules pass, and each kind of mistake in a copy of them is
//! reported at the right `file:line`. Expected lines are found by searching the edited text
//! for the edit, not written down.

use std::fs;
use std::path::{Path, PathBuf};

use vongdoi::rules::{CheckContext, RuleError, RuleSet};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// A temporary folder, removed when the test ends.
pub(crate) struct Fixture(PathBuf);

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for Fixture {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

/// A copy of the shipped rules in a fresh temporary folder.
pub(crate) fn copy(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("vongdoi-rules-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("templates")).unwrap();
    for sub in ["", "templates"] {
        for entry in fs::read_dir(shipped().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                fs::copy(&path, dir.join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    Fixture(dir)
}

/// Replaces the `nth` (0-based) occurrence of `from` in `file` and returns the line where the
/// replacement now starts.
pub(crate) fn edit(dir: &Path, file: &str, from: &str, to: &str, nth: usize) -> usize {
    let path = dir.join(file);
    let text = fs::read_to_string(&path).unwrap();
    let at = text
        .match_indices(from)
        .nth(nth)
        .unwrap_or_else(|| panic!("{from:?} not in {file}"))
        .0;
    let edited = format!("{}{}{}", &text[..at], to, &text[at + from.len()..]);
    fs::write(&path, edited).unwrap();
    text[..at].matches('\n').count() + 1
}

pub(crate) fn errors(dir: &Path) -> Vec<RuleError> {
    errors_with(dir, &CheckContext::builtin())
}

fn errors_with(dir: &Path, ctx: &CheckContext) -> Vec<RuleError> {
    match RuleSet::load_dir(dir, ctx) {
        Ok(_) => panic!("expected problems in {}", dir.display()),
        Err(errors) => errors,
    }
}

/// Exactly one problem, at `file:line`, whose text contains every word of `words`.
#[track_caller]
pub(crate) fn assert_one(
    errors: &[RuleError],
    dir: &Path,
    file: &str,
    line: usize,
    words: &[&str],
) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!(e.file, dir.join(file), "{e}");
    assert_eq!(e.line, Some(line), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("{}:{line}: ", dir.join(file).display())),
        "{shown}"
    );
    for w in words {
        assert!(shown.contains(w), "{w:?} not in {shown}");
    }
}

#[test]
fn the_shipped_rules_pass() {
    let rules = RuleSet::load_dir(&shipped(), &CheckContext::builtin()).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let codes: Vec<&str> = rules.vaccine_codes().collect();
    assert_eq!(
        codes,
        [
            "HEPB", "BCG", "PENTA", "HEXA", "DTP", "OPV", "IPV", "MEASLES", "MR", "MMR", "JE",
            "ROTA", "TD"
        ]
    );
    assert!(rules.is_known_vaccine("HEXA"));
    assert!(!rules.is_known_vaccine("hexa"));
    // The folder and the embedded copy are the same rules.
    let embedded = RuleSet::embedded();
    assert_eq!(embedded.vaccine_codes().collect::<Vec<_>>(), codes);
    assert_eq!(
        embedded.template_names().collect::<Vec<_>>(),
        rules.template_names().collect::<Vec<_>>()
    );
    assert!(embedded
        .template("vaccination-due-soon", vongdoi::rules::Lang::Vi)
        .unwrap()
        .contains("{{ name }}"));
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let dir = copy("syntax");
    let line = edit(
        &dir,
        "school.toml",
        "birth_year_plus = 6",
        "birth_year_plus = = 6",
        0,
    );
    assert_one(&errors(&dir), &dir, "school.toml", line, &[]);
}

#[test]
fn an_unknown_field_names_its_line() {
    let dir = copy("field");
    let line = edit(
        &dir,
        "id-card.toml",
        "overdue_after = ",
        "overdue_afterr = ",
        0,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "id-card.toml",
        line,
        &["unknown field", "overdue_afterr"],
    );
}

#[test]
fn an_unknown_vaccine_code() {
    let dir = copy("vaccine");
    let line = edit(&dir, "vaccination.toml", "\"HEXA\"]", "\"HEXAA\"]", 2);
    assert_one(
        &errors(&dir),
        &dir,
        "vaccination.toml",
        line,
        &["unknown vaccine code", "HEXAA", "PENTA"],
    );
}

#[test]
fn a_dose_after_a_missing_dose() {
    let dir = copy("missing-dose");
    // opv has doses 1, 2, 3: renumber 2 as 3.
    let at = fs::read_to_string(dir.join("vaccination.toml"))
        .unwrap()
        .find("id = \"opv\"")
        .unwrap();
    let before = fs::read_to_string(dir.join("vaccination.toml")).unwrap()[..at]
        .matches("number = 2")
        .count();
    let line = edit(&dir, "vaccination.toml", "number = 2", "number = 3", before);
    let errs = errors(&dir);
    // Dose "3" follows dose 1; the real dose 3 is then a duplicate: both are reported.
    assert!(errs.len() == 2, "{errs:#?}");
    assert_eq!(errs[0].line, Some(line), "{}", errs[0]);
    assert!(
        errs[0]
            .problem
            .contains("dose 3 follows dose 2, which this series does not define"),
        "{}",
        errs[0]
    );
}

#[test]
fn unreadable_and_negative_durations() {
    let dir = copy("duration");
    let line = edit(
        &dir,
        "vaccination.toml",
        "min_age = \"6 weeks\"",
        "min_age = \"6 weks\"",
        0,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "vaccination.toml",
        line,
        &["cannot read duration", "6 weks"],
    );

    let dir = copy("negative");
    let line = edit(&dir, "id-card.toml", "\"30 days\"", "\"-30 days\"", 0);
    assert_one(&errors(&dir), &dir, "id-card.toml", line, &["negative"]);
}

#[test]
fn max_age_before_min_age() {
    let dir = copy("max-age");
    // td: min age 7 years, max 8 → make max 6 years.
    let line = edit(
        &dir,
        "vaccination.toml",
        "max_age = \"8 years\"",
        "max_age = \"6 years\"",
        0,
    );
    let errs = errors(&dir);
    // Reported against min_age and rec_age, both on the max_age line.
    assert!(
        !errs.is_empty() && errs.iter().all(|e| e.line == Some(line)),
        "{errs:#?}"
    );
    assert!(
        errs[0]
            .problem
            .contains("max_age (6 years) is not after min_age (7 years)"),
        "{}",
        errs[0]
    );
}

#[test]
fn overlapping_versions_of_a_rule() {
    let dir = copy("overlap");
    // Second rotavirus version made to cover every province: it overlaps the first.
    let line = edit(
        &dir,
        "vaccination.toml",
        "when = { born_from = 2026-01-01, provinces = [\"01\", \"79\"] }",
        "when = { born_from = 2026-01-01 }",
        0,
    );
    let errs = errors(&dir);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    // Reported at the id of the later version (4 lines above its `when`).
    assert_eq!(errs[0].line, Some(line - 4), "{}", errs[0]);
    assert!(errs[0].problem.contains("\"rota\""), "{}", errs[0]);
    assert!(errs[0].problem.contains("vaccination.toml:"), "{}", errs[0]);

    // A new version closing the old one by date of birth is fine.
    let dir = copy("versions");
    fs::write(
        dir.join("td-2027.toml"),
        TD_2027.replace("BORN_FROM", "2020-01-01"),
    )
    .unwrap();
    edit(
        &dir,
        "vaccination.toml",
        "id = \"td\"",
        "id = \"td\"\nwhen = { born_until = 2019-12-31 }",
        0,
    );
    RuleSet::load_dir(&dir, &CheckContext::builtin()).unwrap();
    // …but not when the ranges share a day.
    fs::write(
        dir.join("td-2027.toml"),
        TD_2027.replace("BORN_FROM", "2019-12-31"),
    )
    .unwrap();
    let errs = errors(&dir);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].file, dir.join("vaccination.toml"));
}

const TD_2027: &str = r#"
# A made-up later schedule: Td at 6 for children born from BORN_FROM.
[defaults]
grace = "4 days"
notices = [{ template = "vaccination-due-soon", at = "due", before = "3 days" }]

[[series]]
id = "td"
name_vi = "Uốn ván, bạch hầu (Td) 6 tuổi"
name_en = "Tetanus-diphtheria (Td) at 6"
when = { born_from = BORN_FROM }

[[series.dose]]
number = 1
counts = ["TD"]
min_age = "6 years"
rec_age = "6 years"
overdue_after = "1 month"
max_age = "8 years"
"#;

#[test]
fn unknown_province_and_commune_codes() {
    let dir = copy("province");
    let line = edit(
        &dir,
        "vaccination.toml",
        "\"01\", \"79\"]",
        "\"01\", \"63\"]",
        0,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "vaccination.toml",
        line,
        &["unknown province code", "63"],
    );

    // Commune codes are checked when the context has a commune list.
    let dir = copy("commune");
    let line = edit(
        &dir,
        "school.toml",
        "birth_year_plus = 6",
        "birth_year_plus = 6\nwhen = { communes = [\"00004\", \"99999\"] }",
        0,
    ) + 1;
    let ctx = CheckContext {
        commune_codes: ["00004", "00008"].map(String::from).into_iter().collect(),
        ..CheckContext::builtin()
    };
    assert_one(
        &errors_with(&dir, &ctx),
        &dir,
        "school.toml",
        line,
        &["unknown commune code", "99999"],
    );
    // …and not without one.
    RuleSet::load_dir(&dir, &CheckContext::builtin()).unwrap();
}

#[test]
fn a_notice_naming_a_missing_template() {
    let dir = copy("template");
    fs::remove_file(dir.join("templates/school-enrolment.en.txt")).unwrap();
    let line = fs::read_to_string(dir.join("school.toml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("template = \"school-enrolment\""))
        .unwrap()
        + 1;
    assert_one(
        &errors(&dir),
        &dir,
        "school.toml",
        line,
        &[
            "unknown template",
            "school-enrolment",
            "templates/school-enrolment.en.txt",
        ],
    );
}

#[test]
fn a_misspelt_template_variable_is_refused_at_its_line() {
    let dir = copy("typo");
    fs::write(
        dir.join("templates/vaccination-overdue.vi.txt"),
        "{% if past_due %}\n{{ chld_name }} quá hạn {{ item_name }}\n{% endif %}",
    )
    .unwrap();
    let errs = errors(&dir);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = &errs[0];
    assert!(
        e.file.ends_with("templates/vaccination-overdue.vi.txt") && e.line == Some(2),
        "{e}"
    );
    assert!(
        e.problem.contains("unknown variable \"chld_name\"") && e.problem.contains("child_name"),
        "{e}"
    );
    // The same check from the command line: `file:line: problem`, exit status non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args(["rules", "check"])
        .arg(dir.as_os_str())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("templates/vaccination-overdue.vi.txt:2:") && stderr.contains("chld_name"),
        "{stderr}"
    );
}

#[test]
fn a_template_too_long_for_the_sms_limit_and_a_missing_language_are_refused() {
    let dir = copy("long");
    let long = "{{ name }} đến hạn {{ item_name }}. ".repeat(12);
    fs::write(dir.join("templates/vaccination-due-soon.en.txt"), long).unwrap();
    fs::write(dir.join("templates/unused.vi.txt"), "{{ name }}").unwrap();
    let errs = errors(&dir);
    assert!(
        errs.iter().any(
            |e| e.file.ends_with("templates/vaccination-due-soon.en.txt")
                && e.problem.contains("SMS")
                && e.problem.contains("limit of 3")
        ),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.file.ends_with("templates/unused.vi.txt")
                && e.problem.contains("unused.en.txt is missing")),
        "{errs:#?}"
    );
    // A sender with no SMS of its own.
    let dir = copy("frame");
    fs::remove_file(dir.join("templates/sms-police.vi.txt")).unwrap();
    fs::remove_file(dir.join("templates/sms-police.en.txt")).unwrap();
    let errs = errors(&dir);
    assert!(
        errs.iter()
            .any(|e| e.problem.contains("sender \"police\"") && e.problem.contains("sms-police")),
        "{errs:#?}"
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let dir = copy("many");
    edit(&dir, "vaccination.toml", "\"BCG\"]", "\"BCGG\"]", 0);
    edit(&dir, "id-card.toml", "\"30 days\"", "\"30 dayz\"", 0);
    edit(
        &dir,
        "school.toml",
        "template = \"school-enrolment\"",
        "template = \"nope\"",
        0,
    );
    let errs = errors(&dir);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    let files: Vec<_> = errs
        .iter()
        .map(|e| e.file.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(files, ["id-card.toml", "school.toml", "vaccination.toml"]);
}

#[test]
fn a_missing_folder() {
    let dir = std::env::temp_dir().join("vongdoi-rules-does-not-exist");
    let errs = errors(&dir);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, None);
    assert!(errs[0]
        .to_string()
        .starts_with(&format!("{}: ", dir.display())));
}

#[test]
fn the_embedded_copy_is_the_whole_folder() {
    // A file or template added to rules/ but not to the embedded list would make the binary's
    // defaults differ from the folder: compare what both say about the same citizens.
    let folder = RuleSet::load_dir(&shipped(), &CheckContext::builtin()).unwrap();
    let embedded = RuleSet::embedded();
    let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    for (dob, province) in [
        ("2025-01-01", "04"),
        ("2026-02-01", "79"),
        ("1990-06-30", "01"),
    ] {
        let subject = vongdoi::rules::Subject {
            date_of_birth: d(dob),
            date_of_death: None,
            sex: vongdoi::registry::Sex::Female,
            province_code: province,
            commune_code: "00004",
        };
        let as_of = d("2026-06-01");
        assert_eq!(
            folder.evaluate(&subject, &[], &[], as_of),
            embedded.evaluate(&subject, &[], &[], as_of)
        );
    }
    let count = |dir: &Path, ext: &str| {
        fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == ext)
            })
            .count()
    };
    assert_eq!(
        count(&shipped(), "toml"),
        7,
        "list new rule files in src/rules/load.rs"
    );
    assert_eq!(
        count(&shipped().join("templates"), "txt"),
        embedded.template_names().count() * 2,
        "list new templates in src/rules/load.rs"
    );
}

#[test]
fn keyword_mistakes_name_their_lines() {
    // A word two keywords claim (folded: "Đăng ký" is DANG KY), at the second claim.
    let dir = copy("keyword-twice");
    let first = edit(&dir, "keywords.toml", "\"TU CHOI\"", "\"Đăng  ký\"", 0);
    let text = fs::read_to_string(dir.join("keywords.toml")).unwrap();
    let second = text[..text.find("words = [\"DANG KY\"").unwrap()]
        .matches('\n')
        .count()
        + 1;
    assert_one(
        &errors(&dir),
        &dir,
        "keywords.toml",
        second,
        &["already a keyword", &format!("keywords.toml:{first}")],
    );
    // An unknown action.
    let dir = copy("keyword-action");
    let line = edit(
        &dir,
        "keywords.toml",
        "action = \"opt-in\"",
        "action = \"subscribe\"",
        1,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "keywords.toml",
        line,
        &["subscribe", "opt-out, opt-in, reported-dose"],
    );
    // A question that does not say where the children go.
    let dir = copy("keyword-ask");
    let line = edit(&dir, "keywords.toml", "kèm số: {choices}", "kèm số", 0);
    assert_one(&errors(&dir), &dir, "keywords.toml", line, &["{choices}"]);
    // A confirmation too long for the SMS limit.
    let dir = copy("keyword-long");
    let long = format!("reply_en = \"{}\"", "Reminders have stopped. ".repeat(30));
    let line = edit(
        &dir,
        "keywords.toml",
        "reply_en = \"Reminders to this number have stopped. Text START to receive them again.\"",
        &long,
        0,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "keywords.toml",
        line,
        &["SMS parts", "shorten"],
    );
}

#[test]
fn editing_keywords_costs_no_full_pass() {
    // The fingerprint decides whether a run re-evaluates everyone: keywords say what replies
    // do, never when anything falls due.
    let before = RuleSet::load_dir(&shipped(), &CheckContext::builtin()).unwrap();
    let dir = copy("keyword-fingerprint");
    edit(
        &dir,
        "keywords.toml",
        "\"KHONG NHAN\"",
        "\"KHONG NHAN\", \"THOI\"",
        0,
    );
    let after = RuleSet::load_dir(&dir, &CheckContext::builtin()).unwrap();
    assert_eq!(before.fingerprint(), after.fingerprint());
    assert_ne!(before.keywords(), after.keywords());
    edit(
        &dir,
        "vaccination.toml",
        "before = \"3 days\"",
        "before = \"4 days\"",
        0,
    );
    let schedule = RuleSet::load_dir(&dir, &CheckContext::builtin()).unwrap();
    assert_ne!(
        before.fingerprint(),
        schedule.fingerprint(),
        "a schedule change still counts"
    );
}

#[test]
fn zns_entries_name_a_notice_template_an_id_and_known_variables() {
    let dir = copy("zns-template");
    let line = edit(
        &dir,
        "zns.toml",
        "template = \"vaccination-overdue\"",
        "template = \"vaccination-late\"",
        0,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "zns.toml",
        line,
        &["vaccination-late", "not a notice template"],
    );
    let dir = copy("zns-id");
    let line = edit(
        &dir,
        "zns.toml",
        "\"PLACEHOLDER-vaccination-overdue\"",
        "\"  \"",
        0,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "zns.toml",
        line,
        &["template_id is empty"],
    );
    let dir = copy("zns-variable");
    let line = edit(&dir, "zns.toml", "{{ item_name }}", "{{ vaccine_name }}", 1);
    assert_one(
        &errors(&dir),
        &dir,
        "zns.toml",
        line,
        &["unknown variable \"vaccine_name\"", "vaccine"],
    );
}
