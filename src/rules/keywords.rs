//! The keywords families text back (issue #16): `HUY` stops SMS, `DANG KY` starts them again,
//! `DA TIEM` reports a dose. They are data (`[[keyword]]` in the rule files), matched folded
//! the Vietnamese way: case, diacritics and đ→d (precomposed or combining), punctuation and
//! spaces, so "HUỶ", "huy", "Hủy." and "H U Y" are one word. A reply matches when its first
//! words are a keyword's ("Đã tiêm rồi ạ" is `DA TIEM`), or when the whole reply without
//! spaces is one ("DANGKY", "H U Y"). A name that merely starts like a keyword ("Huyền hỏi…")
//! is not one: words are compared whole.

use super::check::{Checker, Place};
use super::model::RuleFile;
use super::RuleError;
use std::collections::HashMap;

/// What a keyword does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeywordAction {
    /// Stop SMS to the family the number belongs to.
    OptOut,
    /// Start them again.
    OptIn,
    /// A dose the family says was given: waits on the worklist for a nurse.
    ReportedDose,
}

impl KeywordAction {
    pub const ALL: [KeywordAction; 3] = [
        KeywordAction::OptOut,
        KeywordAction::OptIn,
        KeywordAction::ReportedDose,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeywordAction::OptOut => "opt-out",
            KeywordAction::OptIn => "opt-in",
            KeywordAction::ReportedDose => "reported-dose",
        }
    }

    fn parse(s: &str) -> Option<KeywordAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A `[[keyword]]` of the rule files, its words folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    pub action: KeywordAction,
    /// Folded words of each synonym (`["tu", "choi"]`).
    pub words: Vec<Vec<String>>,
    pub reply_vi: String,
    pub reply_en: String,
    pub ask_vi: String,
    pub ask_en: String,
}

impl Keyword {
    /// The confirmation, in the family's language.
    pub fn reply(&self, lang: super::Lang) -> &str {
        match lang {
            super::Lang::Vi => &self.reply_vi,
            super::Lang::En => &self.reply_en,
        }
    }

    /// The question to a family with several children (`{choices}` still in it).
    pub fn ask(&self, lang: super::Lang) -> &str {
        match lang {
            super::Lang::Vi => &self.ask_vi,
            super::Lang::En => &self.ask_en,
        }
    }
}

/// A reply that is a keyword: which, and what follows it ("DA TIEM 2" → rest `["2"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordMatch<'k> {
    pub keyword: &'k Keyword,
    /// The synonym that matched, as the rule file folds it ("da tiem").
    pub word: String,
    pub rest: Vec<String>,
}

/// Lower case, no Vietnamese marks (precomposed or combining), đ→d, words of letters and
/// digits only, a number split from the letters it touches: "Hủy  đăng-ký!" → `["huy",
/// "dang", "ky"]`, "DA TIEM2" → `["da", "tiem", "2"]`.
pub fn fold_words(text: &str) -> Vec<String> {
    let plain: String = crate::text::unaccent(text)
        .chars()
        // Combining marks (a phone that sends decomposed text: "u" + U+0309).
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect::<String>()
        .to_lowercase();
    let mut words = Vec::new();
    for w in plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut part = String::new();
        for c in w.chars() {
            if !part.is_empty()
                && part.ends_with(|p: char| p.is_ascii_digit()) != c.is_ascii_digit()
            {
                words.push(std::mem::take(&mut part));
            }
            part.push(c);
        }
        words.push(part);
    }
    words
}

/// Words a family adds to a keyword without changing it ("Huỷ ạ", "Đã tiêm rồi nhé", "Đăng ký
/// lại, cảm ơn"): polite particles, "again", "thanks". Anything else after an opt-out or opt-in
/// keyword makes the reply a sentence for staff ("Không nhận được tin nhắn", "Huy đây, hỏi
/// lịch tiêm", "Đăng ký tiêm ở đâu?"), not a command.
const FILLERS: &[&str] = &[
    "a", "ah", "nhe", "nha", "nhen", "roi", "oi", "voi", "giup", "dum", "em", "anh", "chi", "vang",
    "da", "ok", "oke", "cam", "on", "lai", "nua", "di", "thanks", "please", "thank", "you", "now",
    "again",
];

/// After a reported-dose keyword, the child may be named ("DA TIEM 2", "DA TIEM BE BINH"):
/// up to this many words beside the fillers, else it is a sentence for staff.
const DOSE_WORDS: usize = 3;

/// The keyword `text` is, if any/// The keyword `text` is, if any (first words, or the whole text without spaces).
pub fn find<'k>(keywords: &'k [Keyword], text: &str) -> Option<KeywordMatch<'k>> {
    let words = fold_words(text);
    let joined: String = words.concat();
    let mut best: Option<KeywordMatch<'k>> = None;
    for k in keywords {
        for synonym in &k.words {
            let glued = synonym.concat();
            let found = if words.len() >= synonym.len() && words[..synonym.len()] == synonym[..] {
                Some(words[synonym.len()..].to_vec())
            } else if words.first() == Some(&glued) {
                // Written without its spaces, then more: "DATIEM 2".
                Some(words[1..].to_vec())
            } else if joined == glued {
                Some(Vec::new())
            } else {
                None
            };
            let Some(rest) = found else { continue };
            let meant = match k.action {
                KeywordAction::OptOut | KeywordAction::OptIn => {
                    rest.iter().all(|w| FILLERS.contains(&w.as_str()))
                }
                KeywordAction::ReportedDose => {
                    rest.iter()
                        .filter(|w| !FILLERS.contains(&w.as_str()))
                        .count()
                        <= DOSE_WORDS
                }
            };
            // The longest synonym wins: "HUY DANG KY" is an opt-out even if "DANG KY" were
            // listed first.
            if meant
                && best
                    .as_ref()
                    .is_none_or(|b| b.word.len() < synonym.join(" ").len())
            {
                best = Some(KeywordMatch {
                    keyword: k,
                    word: synonym.join(" "),
                    rest,
                });
            }
        }
    }
    best
}

/// The `[[keyword]]` entries, checked: a known action, at least one word, no word claimed by
/// two keywords, confirmations that fit the SMS part limit.
pub(super) fn load(
    parsed: &[(Checker, RuleFile)],
    sms_segment_limit: u32,
    errors: &mut Vec<RuleError>,
) -> Vec<Keyword> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, Place> = HashMap::new();
    for (check, file) in parsed {
        for k in &file.keyword {
            let Some(action) = KeywordAction::parse(k.action.get_ref()) else {
                check.error(
                    errors,
                    k.action.span(),
                    format!(
                        "action \"{}\" is not one of opt-out, opt-in, reported-dose",
                        k.action.get_ref()
                    ),
                );
                continue;
            };
            let mut words = Vec::new();
            for w in k.words.get_ref() {
                let folded = fold_words(w);
                if folded.is_empty() {
                    check.error(
                        errors,
                        k.words.span(),
                        format!(
                            "\"{w}\" has no letters; write the word families text, e.g. \"HUY\""
                        ),
                    );
                    continue;
                }
                let key = folded.concat();
                if let Some(first) = seen.get(&key) {
                    check.error(errors, k.words.span(), format!("\"{w}\" is already a keyword at {first}; a reply can do only one thing"));
                    continue;
                }
                seen.insert(key, check.place(k.words.span()));
                words.push(folded);
            }
            if k.words.get_ref().is_empty() {
                check.error(
                    errors,
                    k.words.span(),
                    "a keyword needs at least one word, e.g. words = [\"HUY\", \"STOP\"]".into(),
                );
            }
            for reply in [&k.reply_vi, &k.reply_en] {
                fits(check, reply, sms_segment_limit, errors);
            }
            let (ask_vi, ask_en) = match (&k.ask_vi, &k.ask_en, action) {
                (Some(vi), Some(en), KeywordAction::ReportedDose) => {
                    for ask in [vi, en] {
                        if !ask.get_ref().contains("{choices}") {
                            check.error(errors, ask.span(), "the question must say where the children go: write {choices} (it becomes \"1 = bé An, 2 = bé Bình\")".into());
                        }
                        fits(check, ask, sms_segment_limit, errors);
                    }
                    (vi.get_ref().clone(), en.get_ref().clone())
                }
                (None, None, KeywordAction::ReportedDose) => {
                    check.error(errors, k.action.span(), "a reported-dose keyword needs ask_vi and ask_en: the question a family with several children is asked".into());
                    (String::new(), String::new())
                }
                (None, None, _) => (String::new(), String::new()),
                (vi, en, _) => {
                    let span = vi.as_ref().or(en.as_ref()).map(|s| s.span());
                    check.error(
                        errors,
                        span.unwrap_or(k.action.span()),
                        "ask_vi and ask_en go together, and only with action = \"reported-dose\""
                            .into(),
                    );
                    (String::new(), String::new())
                }
            };
            out.push(Keyword {
                action,
                words,
                reply_vi: k.reply_vi.get_ref().clone(),
                reply_en: k.reply_en.get_ref().clone(),
                ask_vi,
                ask_en,
            });
        }
    }
    out
}

fn fits(check: &Checker, text: &toml::Spanned<String>, limit: u32, errors: &mut Vec<RuleError>) {
    // With two children's names in place of {choices}.
    let typical = text
        .get_ref()
        .replace("{choices}", "1 = bé Nguyễn Văn An, 2 = bé Nguyễn Thị Bình");
    if text.get_ref().trim().is_empty() {
        check.error(
            errors,
            text.span(),
            "the reply is empty; write the sentence the family gets back".into(),
        );
        return;
    }
    let parts = crate::text::sms::prepare(&typical, true).segments;
    if parts > limit {
        check.error(
            errors,
            text.span(),
            format!("this reply takes {parts} SMS parts (the limit is {limit}); shorten it"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords() -> Vec<Keyword> {
        let k = |action, words: &[&str]| Keyword {
            action,
            words: words.iter().map(|w| fold_words(w)).collect(),
            reply_vi: String::new(),
            reply_en: String::new(),
            ask_vi: String::new(),
            ask_en: String::new(),
        };
        vec![
            k(KeywordAction::OptIn, &["DANG KY", "START"]),
            k(
                KeywordAction::OptOut,
                &["HUY", "STOP", "TU CHOI", "HUY DANG KY"],
            ),
            k(KeywordAction::ReportedDose, &["DA TIEM"]),
        ]
    }

    #[test]
    fn folds_case_marks_d_and_spaces() {
        let ks = keywords();
        let action = |t: &str| find(&ks, t).map(|m| m.keyword.action);
        for t in [
            "HUỶ",
            "huy",
            "Hủy",
            "H U Y",
            "hủy.",
            "  Huỷ  ",
            "Hu\u{309}y",
            "tu chối",
            "TỪ CHỐI",
            "Stop",
        ] {
            assert_eq!(action(t), Some(KeywordAction::OptOut), "{t}");
        }
        for t in ["đăng ký", "DANGKY", "Đăng Ký ạ", "start"] {
            assert_eq!(action(t), Some(KeywordAction::OptIn), "{t}");
        }
        assert_eq!(
            action("Hủy đăng ký"),
            Some(KeywordAction::OptOut),
            "the longest synonym wins"
        );
        let m = find(&ks, "Đã tiêm 2 rồi").unwrap();
        assert_eq!(m.keyword.action, KeywordAction::ReportedDose);
        assert_eq!(m.rest, ["2", "roi"]);
        for t in [
            "hỏi lịch tiêm",
            "Huyền hỏi lịch",
            "huyen",
            "",
            "!!!",
            "đã",
            "stopped",
        ] {
            assert_eq!(action(t), None, "{t}");
        }
    }
}
