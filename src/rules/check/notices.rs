//! The checks of an entry's notices and of who sends them (issue #13: sender, horizon,
//! reminder limit), compiled into the engine's [`NoticeRule`]s and [`NoticePolicy`].

use super::*;

impl Checker<'_> {
    /// An entry's sender, horizon and reminder limit: its own, else the file's `[defaults]`,
    /// else the project's defaults (the sender from the kind of entry).
    pub(super) fn policy(
        &self,
        (sender, horizon, max): (
            Option<SenderEntry>,
            &Option<Spanned<Duration>>,
            &Option<Spanned<u32>>,
        ),
        defaults: &Defaults,
        kind_sender: FacilityKind,
        errors: &mut Vec<RuleError>,
    ) -> NoticePolicy {
        let sender = match sender.or(defaults.sender) {
            Some(SenderEntry::Health) => FacilityKind::Health,
            Some(SenderEntry::Police) => FacilityKind::Police,
            Some(SenderEntry::School) => FacilityKind::School,
            None => kind_sender,
        };
        let max = max.as_ref().or(defaults.max_reminders.as_ref());
        if let Some(m) = max.filter(|m| *m.get_ref() == 0) {
            self.error(errors, m.span(), "max_reminders = 0 would never remind anyone; write at least 1, or remove `notices` to send none".into());
        }
        NoticePolicy {
            sender,
            horizon: horizon
                .as_ref()
                .or(defaults.notice_horizon.as_ref())
                .map_or(
                    Duration::days(NoticePolicy::DEFAULT_HORIZON_DAYS as u32),
                    |h| *h.get_ref(),
                ),
            max_reminders: max.map_or(NoticePolicy::DEFAULT_MAX_REMINDERS, |m| *m.get_ref()),
        }
    }

    pub(super) fn notices(
        &self,
        notices: Option<&Vec<NoticeEntry>>,
        env: &Env,
        errors: &mut Vec<RuleError>,
    ) -> Vec<NoticeRule> {
        let Some(notices) = notices else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for n in notices {
            let name = n.template.get_ref();
            match env.templates.get(name) {
                Some((Some(_), Some(_))) => {}
                found => {
                    let missing: Vec<String> = [
                        ("vi", found.and_then(|p| p.0.as_ref())),
                        ("en", found.and_then(|p| p.1.as_ref())),
                    ]
                    .iter()
                    .filter(|(_, text)| text.is_none())
                    .map(|(lang, _)| format!("templates/{name}.{lang}.txt"))
                    .collect();
                    let known: Vec<&str> = env
                        .templates
                        .iter()
                        .filter(|(_, p)| p.0.is_some() && p.1.is_some())
                        .map(|(n, _)| n.as_str())
                        .collect();
                    self.error(
                        errors,
                        n.template.span(),
                        format!(
                            "unknown template \"{name}\": {} {} missing; add {} or use one of: {}",
                            missing.join(" and "),
                            if missing.len() == 1 { "is" } else { "are" },
                            if missing.len() == 1 { "it" } else { "them" },
                            if known.is_empty() {
                                "(none)".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    );
                }
            }
            if let (Some(_), Some(after)) = (&n.before, &n.after) {
                self.error(
                    errors,
                    after.span(),
                    format!("notice \"{name}\": give either before or after, not both"),
                );
            }
            out.push(NoticeRule {
                template: name.clone(),
                at: n.at,
                before: n.before.as_ref().map_or(Duration::ZERO, |d| *d.get_ref()),
                after: n.after.as_ref().map_or(Duration::ZERO, |d| *d.get_ref()),
            });
        }
        out
    }
}
