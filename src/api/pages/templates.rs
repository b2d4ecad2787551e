//! The staff pages' templates (`templates/staff/*.html`), rendered by the one HTML environment
//! ([`crate::html`]): every value a page shows is escaped by the engine, none by hand.
//! `t("vi", "en")` picks the page's language.

use super::super::problem::Problem;
use minijinja::Value;

/// Renders `templates/staff/{name}.html` with `ctx`.
pub fn render(name: &str, ctx: Value) -> Result<String, Problem> {
    crate::html::render(&format!("staff/{name}.html"), ctx)
        .map_err(|e| Problem::internal("page template", format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
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
