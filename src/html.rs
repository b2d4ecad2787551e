//! Every HTML document the service makes — the staff pages, the printable reports, the HTML part
//! of an email, the API's `/docs` page — is a minijinja template under `templates/`, embedded in
//! the binary (it works from any directory) and rendered by the one [`Environment`] built here.
//! Rust code hands the templates plain values; it never writes markup, and it never escapes.
//!
//! One escape path: in a `.html` template every value printed is escaped by [`escape_into`],
//! the environment's formatter, unless the template itself marks it safe (macro output, the
//! style sheet). Five characters are escaped, `&`, `<`, `>`, `"` and `'`, which is enough for
//! text and quoted attribute values (the pages have no scripts: the CSP forbids them). A `/` is
//! left as it is, so that "Vietnamese / English" headings stay readable in the source of a
//! saved page and searchable by scripts.

use minijinja::{AutoEscape, Environment, Error, Output, State, Value};
use serde::Serialize;
use std::sync::LazyLock;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// The templates by name (their path under `templates/`).
pub const TEMPLATES: &[(&str, &str)] = templates![
    "staff/layout.html",
    "staff/pager.html",
    "staff/login.html",
    "staff/signed_in.html",
    "staff/error.html",
    "staff/vaccination.html",
    "staff/citizen.html",
    "staff/enrolment.html",
    "staff/delivery.html",
    "staff/password.html",
    "staff/users.html",
    "staff/facilities.html",
    "staff/alerts.html",
    "staff/alert.html",
    "staff/inbox.html",
    "reports/page.html",
    "reports/chart.html",
    "reports/session_list.html",
    "email/message.html",
    "email/unsubscribe.html",
    "api/docs.html",
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` names are escaped for HTML; said here so that a change of minijinja's default
    // cannot silently turn escaping off.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(formatter);
    // A document ends with its line break, as the file does.
    env.set_keep_trailing_newline(true);
    env.add_function("t", translate);
    env.add_filter("urlencode", urlencode);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env
});

/// Renders the template `name` (e.g. `reports/page.html`) with `ctx`.
pub fn render(name: &str, ctx: impl Serialize) -> Result<String, Error> {
    ENV.get_template(name)?.render(ctx)
}

/// `t("Tiêm chủng", "Vaccination")`: the first in Vietnamese, the second when the template's
/// `lang` is `en`.
fn translate(state: &State, vi: String, en: String) -> String {
    match state.lookup("lang").as_ref().and_then(Value::as_str) {
        Some("en") => en,
        _ => vi,
    }
}

/// `{{ path|urlencode }}`: a value for a query string (`/staff/x?a=1` → `%2Fstaff%2Fx%3Fa%3D1`);
/// letters, digits and `-_.~` stay as they are.
fn urlencode(value: String) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prints a value: escaped in HTML templates unless it is marked safe, as is elsewhere.
fn formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    if state.auto_escape() == AutoEscape::Html && !value.is_safe() {
        escape_into(out, &value.to_string())
    } else {
        minijinja::escape_formatter(out, state, value)
    }
}

/// The one HTML escaper.
fn escape_into(out: &mut Output, s: &str) -> Result<(), Error> {
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.write_str(&rest[..i])?;
        out.write_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        })?;
        rest = &rest[i + 1..];
    }
    out.write_str(rest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn values_are_escaped_once_and_safe_markup_is_not() {
        let mut env = Environment::new();
        env.set_formatter(formatter);
        env.add_template("x.html", "{% macro m() %}<i>{{ v }}</i>{% endmacro %}<a title=\"{{ v }}\">{{ v }}</a>{{ n }}{{ s }}{{ m() }}")
            .unwrap();
        env.add_template("x.txt", "{{ v }}").unwrap();
        let ctx = minijinja::context! { v => "<b>\"Tý\" & 'Tèo'</b> a/b", n => 12, s => Value::from_safe_string("<br>".into()) };
        let html = env.get_template("x.html").unwrap().render(&ctx).unwrap();
        let v = "&lt;b&gt;&quot;Tý&quot; &amp; &#39;Tèo&#39;&lt;/b&gt; a/b";
        assert_eq!(
            html,
            format!("<a title=\"{v}\">{v}</a>12<br><i>{v}</i>"),
            "{html}"
        );
        let text = env.get_template("x.txt").unwrap().render(&ctx).unwrap();
        assert_eq!(text, "<b>\"Tý\" & 'Tèo'</b> a/b", "text is not HTML");
    }
}
