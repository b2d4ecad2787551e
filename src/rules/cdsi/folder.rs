//! A CDSi schedule as a rules folder: `schedule.toml` (vaccines → antigens, live-virus
//! conflicts, vaccine groups) and one `antigen-<name>.toml` per antigen. This is what
//! `vongdoi rules from-cdsi` writes and what a deployment edits: a new CDC release is a
//! conversion, a local change is a file change.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::model::Schedule;

/// The file of one antigen: "Meningococcal B" → `antigen-meningococcal-b.toml`.
fn antigen_file(name: &str) -> String {
    let slug: String = (name.to_lowercase().chars())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("antigen-{slug}.toml")
}

const HEADER: &str =
    "# Converted by `vongdoi rules from-cdsi` from the US CDC's CDSi supporting data\n\
# (public domain, 17 U.S.C. 105). Fields: rules/README.md, \"CDSi schedules\".\n";

/// Writes `schedule` into `dir` (created if missing); returns the files written.
pub fn write(schedule: &Schedule, dir: &Path, source: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    let header = format!("{HEADER}# Source: {source}\n\n");
    let common = Schedule {
        antigen: Vec::new(),
        ..schedule.clone()
    };
    let path = dir.join("schedule.toml");
    let text = toml::to_string(&common).context("the schedule could not be written as TOML")?;
    std::fs::write(&path, format!("{header}{text}"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for a in &schedule.antigen {
        let one = Schedule {
            antigen: vec![a.clone()],
            ..Schedule::default()
        };
        let path = dir.join(antigen_file(&a.name));
        let text = toml::to_string(&one)
            .with_context(|| format!("antigen {} could not be written as TOML", a.name))?;
        std::fs::write(&path, format!("{header}{text}"))
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Reads every `*.toml` of `dir` that holds CDSi tables into one schedule. A file that does
/// not parse stops with `file:line: problem`.
pub fn read(dir: &Path) -> Result<Schedule> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the rules folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Schedule::default();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let one: Schedule = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].lines().count().max(1))
                .unwrap_or(0);
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
        })?;
        merge(&mut out, one);
    }
    Ok(out)
}

fn merge(into: &mut Schedule, one: Schedule) {
    into.antigen.extend(one.antigen);
    into.cvx.extend(one.cvx);
    into.live_virus_conflict.extend(one.live_virus_conflict);
    into.vaccine_group.extend(one.vaccine_group);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_converted_folder_reads_back_as_the_same_schedule() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cdsi/supporting-data-4.64");
        let (schedule, problems) = super::super::xml::read_dir(&src).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let out = tempfile::tempdir().unwrap();
        let files = write(&schedule, out.path(), "test").unwrap();
        assert_eq!(files.len(), 31);
        let mut back = read(out.path()).unwrap();
        let mut schedule = schedule;
        back.antigen.sort_by(|a, b| a.name.cmp(&b.name));
        schedule.antigen.sort_by(|a, b| a.name.cmp(&b.name));
        // Serialised again, the two are the same text: nothing was lost on the way.
        assert_eq!(
            toml::to_string(&back).unwrap(),
            toml::to_string(&schedule).unwrap()
        );
    }

    #[test]
    fn a_broken_file_is_named_with_its_line() {
        let out = tempfile::tempdir().unwrap();
        std::fs::write(
            out.path().join("antigen-x.toml"),
            "[[antigen]]\nname = \"X\"\n[[antigen.series]]\nname = 3\n",
        )
        .unwrap();
        let e = read(out.path()).unwrap_err().to_string();
        assert!(e.contains("antigen-x.toml:4: "), "{e}");
    }
}
