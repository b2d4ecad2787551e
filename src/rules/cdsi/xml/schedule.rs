//! ScheduleSupportingData.xml: what is shared by every antigen.

use std::path::Path;

use roxmltree::Document;

use super::{child, children, group_id, Problem, Reader};
use crate::rules::cdsi::model::*;

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
            into.cvx.push(VaccineAntigens {
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
