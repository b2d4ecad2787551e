//! The house has one way down (see ARCHITECTURE.md, "Layers"). Each top-level module sits on a
//! layer and may use only modules on lower layers; this test reads every `crate::…` path in the
//! source (comments aside) and fails when an arrow points up or sideways, or when a new module
//! has not been given a layer.

/// Bottom to top. Modules on one line share a layer and do not use each other.
const LAYERS: &[&[&str]] = &[
    // Pure helpers: no I/O beyond the clock, the random source and the log; the one HTML
    // template environment (pages, printable reports, email).
    &["text", "clock", "secret", "logging", "html"],
    // Validated types only: a PersonalId cannot hold a bad ID.
    &["registry"],
    // Pure evaluation of the rule files.
    &["rules"],
    &["store"],
    // Shutdown signal, metrics, the process's name.
    &["runtime"],
    // CSV in and out; the synthetic registry.
    &["exchange", "demo"],
    &["delivery"],
    // Scan, ledger, notices, compose (and hand to delivery).
    &["schedule"],
    &["reports"],
    // Outbreak alerts: audience from the engine (over the reports' scan), one message per
    // household (delivery), preview and reach.
    &["alerts"],
    // Two-way messaging: a family's reply traced to the family, the message it answers and
    // the child, then acted on (keywords) or put in the commune's inbox.
    &["inbound"],
    // AppState and run_day: the one place a day is run.
    &["app"],
    &["api"],
    // The long-running service: schedule loop, listeners (mounts the API).
    &["serve"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level modules a line names through `crate::` paths (`crate::a::b`, `crate::{a, b}`).
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        rest = after;
    }
    out
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_arrow_points_down() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_str()
            .expect("utf-8")
            .trim_end_matches(".rs")
            .to_string();
        if matches!(module.as_str(), "lib" | "main" | "layers") {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            wrong.push(format!(
                "{module}: not in LAYERS (src/layers.rs): give it a layer"
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in crate_paths(line) {
                if used == module || used == "self" || used == "super" {
                    continue;
                }
                match layer_of(&used) {
                    Some(l) if l < own => {}
                    Some(_) => wrong.push(format!(
                        "{}:{}: `{module}` uses `{used}`, which is not below it",
                        rel.display(),
                        n + 1
                    )),
                    None => wrong.push(format!(
                        "{}:{}: `{used}` is not in LAYERS",
                        rel.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows that do not point down:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn paths_are_read_from_groups_too() {
    assert_eq!(crate_paths("use crate::store::{Store, X};"), ["store"]);
    assert_eq!(
        crate_paths("use crate::{clock, registry::Scope}; crate::api::x()"),
        ["clock", "registry", "api"]
    );
    assert!(crate_paths("let crates = 3;").is_empty());
}

#[test]
fn every_module_of_the_crate_has_a_layer() {
    let lib = include_str!("lib.rs");
    for line in lib.lines() {
        if let Some(m) = line.trim().strip_prefix("pub mod ") {
            let m = m.trim_end_matches(';');
            assert!(layer_of(m).is_some(), "{m} has no layer in src/layers.rs");
        }
    }
}
