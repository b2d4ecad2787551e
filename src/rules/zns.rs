//! The Zalo ZNS template registry (`[[zns]]` in `rules/zns.toml`): which notice templates may
//! go by ZNS, the template id the OA had approved for each, and how each ZNS parameter is
//! filled from the notice's variables (the same `NoticeContext` the notice template gets). A
//! notice whose template has no entry never goes by ZNS: its recipient's next channel is used.
//!
//! `rules check` refuses an entry naming an unknown notice template, an empty id, a parameter
//! that does not parse or names an unknown variable, and a template listed twice.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::check::{Checker, Place};
use super::model::RuleFile;
use super::wording::{variables_of, NoticeContext};
use super::RuleError;

/// A checked `[[zns]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZnsTemplate {
    /// The notice template it stands for.
    pub template: String,
    /// The OA's approved ZNS template id.
    pub template_id: String,
    /// (ZNS parameter, minijinja text over the notice's variables), by parameter name.
    pub params: Vec<(String, String)>,
}

/// The env name of a parameter's template (`zns:<template>:<param>`) in the renderer.
pub fn param_template(template: &str, param: &str) -> String {
    format!("zns:{template}:{param}")
}

/// The `[[zns]]` entries of every file, checked against the notice templates the rules use.
pub(super) fn entries(
    parsed: &[(Checker, RuleFile)],
    // Every file parsed: otherwise a notice template may be missing only because its file did not.
    complete: bool,
    named_by_notices: &HashSet<String>,
    errors: &mut Vec<RuleError>,
) -> Vec<ZnsTemplate> {
    let vars: HashSet<String> = variables_of::<NoticeContext>().into_iter().collect();
    let mut known: Vec<&str> = named_by_notices.iter().map(String::as_str).collect();
    known.sort_unstable();
    let mut seen: HashMap<String, Place> = HashMap::new();
    let mut out = Vec::new();
    for (check, file) in parsed {
        for z in &file.zns {
            let t = z.template.get_ref();
            let mut ok = true;
            if let Some(first) = seen.get(t) {
                check.error(
                    errors,
                    z.template.span(),
                    format!("ZNS template for \"{t}\" is already declared at {first}; remove one of them"),
                );
                continue;
            }
            if !named_by_notices.contains(t) {
                ok = false;
                if complete {
                    check.error(
                        errors,
                        z.template.span(),
                        format!(
                            "\"{t}\" is not a notice template of the rules; a [[zns]] entry names one of: {}",
                            known.join(", ")
                        ),
                    );
                }
            }
            if z.template_id.get_ref().trim().is_empty() {
                ok = false;
                check.error(
                    errors,
                    z.template_id.span(),
                    "template_id is empty: write the id of the ZNS template your Zalo OA had approved".into(),
                );
            }
            for (name, text) in &z.params {
                let mut env = minijinja::Environment::new();
                if let Err(e) = env.add_template("p", text.get_ref()) {
                    ok = false;
                    check.error(
                        errors,
                        text.span(),
                        format!(
                            "parameter \"{name}\" does not parse: {}",
                            e.detail().unwrap_or("syntax error")
                        ),
                    );
                    continue;
                }
                let t = env.get_template("p").expect("just added");
                let mut unknown: Vec<String> = t
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !vars.contains(v))
                    .collect();
                unknown.sort();
                for v in unknown {
                    ok = false;
                    let mut all: Vec<&str> = vars.iter().map(String::as_str).collect();
                    all.sort_unstable();
                    check.error(
                        errors,
                        text.span(),
                        format!(
                            "parameter \"{name}\": unknown variable \"{v}\"; a ZNS parameter can use {}",
                            all.join(", ")
                        ),
                    );
                }
            }
            seen.insert(t.clone(), check.place(z.template.span()));
            if ok {
                out.push(ZnsTemplate {
                    template: t.clone(),
                    template_id: z.template_id.get_ref().trim().to_string(),
                    params: (z.params.iter())
                        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                        .collect(),
                });
            }
        }
    }
    out
}

/// The rendered ZNS payload of one notice: the template id and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ZnsPayload {
    pub template_id: String,
    pub template_data: BTreeMap<String, String>,
}
