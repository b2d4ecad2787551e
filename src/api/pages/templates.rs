//! The staff pages' templates (`templates/staff/*.html`), embedded in the binary so it works
//! from any directory, rendered by minijinja with HTML autoescaping: every value a page shows
//! is escaped by the engine, none by hand. `t("vi", "en")` picks the page's language.

use super::super::problem::Problem;
use minijinja::{Environment, State, Value};
use std::sync::LazyLock;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "staff/layout.html",
        include_str!("../../../templates/staff/layout.html"),
    ),
    (
        "staff/pager.html",
        include_str!("../../../templates/staff/pager.html"),
    ),
    (
        "staff/login.html",
        include_str!("../../../templates/staff/login.html"),
    ),
    (
        "staff/signed_in.html",
        include_str!("../../../templates/staff/signed_in.html"),
    ),
    (
        "staff/error.html",
        include_str!("../../../templates/staff/error.html"),
    ),
    (
        "staff/vaccination.html",
        include_str!("../../../templates/staff/vaccination.html"),
    ),
    (
        "staff/citizen.html",
        include_str!("../../../templates/staff/citizen.html"),
    ),
    (
        "staff/enrolment.html",
        include_str!("../../../templates/staff/enrolment.html"),
    ),
    (
        "staff/delivery.html",
        include_str!("../../../templates/staff/delivery.html"),
    ),
    (
        "staff/password.html",
        include_str!("../../../templates/staff/password.html"),
    ),
    (
        "staff/users.html",
        include_str!("../../../templates/staff/users.html"),
    ),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` names are escaped for HTML (minijinja's default callback); said here so that a
    // change of that default cannot silently turn escaping off.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.add_function("t", translate);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env
});

/// `t("Tiêm chủng", "Vaccination")`: the first in Vietnamese, the second in English.
fn translate(state: &State, vi: String, en: String) -> String {
    match state.lookup("lang").as_ref().and_then(Value::as_str) {
        Some("en") => en,
        _ => vi,
    }
}

/// Renders `templates/staff/{name}.html` with `ctx`.
pub fn render(name: &str, ctx: Value) -> Result<String, Problem> {
    ENV.get_template(&format!("staff/{name}.html"))
        .and_then(|t| t.render(ctx))
        .map_err(|e| Problem::internal("page template", format!("{e:#}")))
}

/// Markup made by our own code (an SVG chart), passed through without escaping.
pub fn trusted(markup: String) -> Value {
    Value::from_safe_string(markup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_values_are_escaped() {
        for (name, _) in TEMPLATES {
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
        let page = render(
            "error",
            minijinja::context! {
                lang => "vi", title => "<b>x</b>", detail => "<script>alert(1)</script>",
                css => "", nav => Vec::<Value>::new(), switch => minijinja::context!{ href => "/?lang=en", code => "en", label => "English" },
                errors => vec![minijinja::context!{ field => "a\"b", reason => "<i>" }],
            },
        )
        .unwrap();
        assert!(
            !page.contains("<script>") && page.contains("&lt;script&gt;"),
            "{page}"
        );
        assert!(
            !page.contains("<b>x</b>") && !page.contains("<i>"),
            "{page}"
        );
        assert!(page.contains("Về trang chính"), "Vietnamese by default");
        let en = render(
            "error",
            minijinja::context! { lang => "en", title => "t", detail => "d", css => "", nav => Vec::<Value>::new(),
                switch => minijinja::context!{ href => "/", code => "vi", label => "Tiếng Việt" }, errors => Vec::<Value>::new() },
        )
        .unwrap();
        assert!(
            en.contains("Back to the start") && en.contains("lang=\"en\""),
            "{en}"
        );
    }
}
