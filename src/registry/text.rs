//! One check for every free-text field of the registry (names, household IDs, places), so the
//! importer and the API refuse the same bytes. PostgreSQL cannot store a NUL at all, control and
//! bidirectional-override characters make a name print as something else (on a list, in an SMS,
//! in a terminal), and a 10 MB "name" is an attack, not a person.

use super::citizen::FieldError;

/// What one field may hold.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    /// Longest value, in characters.
    pub max_chars: usize,
    /// Only printable ASCII (`!`..`~`): identifiers typed from paper and compared byte for byte.
    pub ascii_code: bool,
}

/// A person's full name.
pub const NAME: TextRule = TextRule {
    max_chars: 200,
    ascii_code: false,
};
/// A household book number (`HK` + commune + sequence in the national system).
pub const HOUSEHOLD_ID: TextRule = TextRule {
    max_chars: 32,
    ascii_code: true,
};
/// Where a dose was given.
pub const PLACE: TextRule = TextRule {
    max_chars: 200,
    ascii_code: false,
};

/// A village or residential group within a commune (thôn, tổ dân phố, ấp, bản).
pub const VILLAGE: TextRule = TextRule {
    max_chars: 100,
    ascii_code: false,
};
/// An address line within the commune (house number, lane, street).
pub const ADDRESS: TextRule = TextRule {
    max_chars: 200,
    ascii_code: false,
};
/// A vaccine lot (batch) number, as printed on the vial.
pub const LOT: TextRule = TextRule {
    max_chars: 40,
    ascii_code: false,
};

/// Why a record was changed or removed.
pub const REASON: TextRule = TextRule {
    max_chars: 500,
    ascii_code: false,
};

/// Bidirectional embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069): they
/// reorder what follows them on screen, so "Lan" can display as another name.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Zero-width characters: invisible, so a value made only of them looks empty.
pub fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// Checks `value` (as the row holds it, before any normalisation) against `rule`. The first
/// problem is enough: each one alone makes the value unusable.
pub fn check(field: &'static str, value: &str, rule: TextRule) -> Result<(), FieldError> {
    let chars = value.chars().count();
    if chars > rule.max_chars {
        return Err(FieldError::new(
            field,
            format!(
                "quá dài ({chars} ký tự, tối đa {max}) / too long ({chars} characters, at most {max}): shorten it",
                max = rule.max_chars
            ),
        ));
    }
    if let Some((i, c)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || is_bidi_control(*c))
    {
        return Err(FieldError::new(
            field,
            format!(
                "có ký tự điều khiển U+{:04X} ở ký tự thứ {} / contains the control character U+{:04X} at character {}: remove it (re-save the file as CSV UTF-8)",
                c as u32,
                i + 1,
                c as u32,
                i + 1
            ),
        ));
    }
    if rule.ascii_code {
        if let Some(c) = value.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(FieldError::new(
                field,
                format!(
                    "chỉ được dùng chữ, số và dấu ASCII, không dấu cách (gặp U+{:04X}) / may hold only printable ASCII without spaces (found U+{:04X})",
                    c as u32, c as u32
                ),
            ));
        }
    }
    if !value.is_empty() && value.chars().all(|c| c.is_whitespace() || is_zero_width(c)) {
        return Err(FieldError::new(
            field,
            "chỉ có ký tự vô hình / holds only invisible characters: leave it empty or write the value",
        ));
    }
    Ok(())
}

/// How a bad value appears inside an error message: controls dropped and at most a short
/// prefix, so a 1 GB cell or a terminal escape never travels into a report or a log.
pub fn shown(value: &str) -> String {
    shown_max(value, 40)
}

/// [`shown`] with an explicit length.
pub fn shown_max(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut kept = 0;
    for c in value.chars() {
        if c.is_control() || is_bidi_control(c) {
            continue;
        }
        if kept == max_chars {
            out.push('…');
            break;
        }
        out.push(c);
        kept += 1;
    }
    out
}

/// Characters that make a spreadsheet read a cell as a formula (CSV injection: `=HYPERLINK(…)`,
/// `@SUM(…)`, a `+`/`-` expression) or, for tab and CR, shift it into another cell.
fn is_formula_start(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// A plain decimal number (`-3`, `2.5`): Excel reads it as the number it is, harmlessly.
fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// A CSV cell made safe to open in a spreadsheet: a text cell that begins with a formula
/// character gets a leading `'`, which Excel and LibreOffice show as "this is text" and drop.
/// Cells that already begin with `'`s before such a character get one more, so that
/// [`cell_from_csv`] gives back exactly the value (export → import is the identity). Plain
/// numbers stay as they are. Phones (`+84…`) are neutralised too: otherwise Excel turns
/// `+84912345678` into the number 84912345678.
pub fn cell_for_csv(value: &str) -> std::borrow::Cow<'_, str> {
    let after_quotes = value.trim_start_matches('\'');
    match after_quotes.chars().next() {
        Some(c) if is_formula_start(c) && !is_plain_number(value) => format!("'{value}").into(),
        _ => value.into(),
    }
}

/// The inverse of [`cell_for_csv`] for imported cells: one leading `'` before (more `'`s and)
/// a formula character is dropped; anything else is left alone.
pub fn cell_from_csv(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) => match rest.trim_start_matches('\'').chars().next() {
            Some(c) if is_formula_start(c) => rest,
            _ => value,
        },
        None => value,
    }
}

/// A reason as printed on a terminal: the values quoted in a phone or email problem masked
/// to their end, and every 12-digit run (a personal ID) to its last 4 digits.
pub fn masked_for_terminal(field: &str, reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    if matches!(field, "phone" | "email") {
        while let Some(open) = rest.find('\'') {
            let Some(len) = rest[open + 1..].find('\'') else {
                break;
            };
            let value = &rest[open + 1..open + 1 + len];
            out.push_str(&rest[..=open]);
            out.push_str(&match value.split_once('@') {
                Some((_, domain)) => format!("…@{domain}"),
                None => {
                    let tail: String = value.chars().rev().take(3).collect();
                    format!("…{}", tail.chars().rev().collect::<String>())
                }
            });
            out.push('\'');
            rest = &rest[open + len + 2..];
        }
    }
    out.push_str(rest);
    mask_digit_runs(&out)
}

/// Masks every run of exactly 12 ASCII digits to `********` and its last 4.
fn mask_digit_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 12 {
            out.push_str(&super::personal_id::mask_raw(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(value: &str, rule: TextRule) -> bool {
        check("f", value, rule).is_err()
    }

    #[test]
    fn controls_bidi_length_and_invisible_values_are_refused() {
        for ok in ["Nguyễn Văn An", "Đỗ Thị Thu Hà", "O'Brien", ""] {
            assert!(!refused(ok, NAME), "{ok:?}");
        }
        for bad in [
            "An\0",
            "An\u{7}",
            "An\u{85}",
            "An\nBình",
            "\u{202e}nA",
            "An\u{2066}",
            "\u{200b}\u{200b}",
            "\u{feff}",
            " \u{2060} ",
        ] {
            assert!(refused(bad, NAME), "{bad:?}");
        }
        assert!(!refused(&"a".repeat(200), NAME));
        assert!(refused(&"a".repeat(201), NAME));
        let e = check("place", &"x".repeat(10_000_000), PLACE).unwrap_err();
        assert!(e.reason.len() < 200, "the message does not copy the value");
    }

    #[test]
    fn household_ids_are_short_printable_ascii() {
        assert!(!refused("HK0000400012", HOUSEHOLD_ID));
        for bad in ["HK\u{0}1", "HK 1", "HKđ1", &"H".repeat(33)] {
            assert!(refused(bad, HOUSEHOLD_ID), "{bad:?}");
        }
    }

    #[test]
    fn shown_is_short_and_printable() {
        assert_eq!(shown("ab\u{1b}[2Jc"), "ab[2Jc");
        assert_eq!(shown_max("abcdef", 3), "abc…");
        assert_eq!(shown(&"x".repeat(1000)).chars().count(), 41);
    }

    #[test]
    fn formula_cells_are_neutralised_and_come_back_exactly() {
        for (raw, csv) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+84912345678", "'+84912345678"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-1+2", "'-1+2"),
            ("\tx", "'\tx"),
            ("'=x", "''=x"),
            ("-3", "-3"),
            ("2.5", "2.5"),
            ("-2.5", "-2.5"),
            ("Nguyễn Văn An", "Nguyễn Văn An"),
            ("O'Brien", "O'Brien"),
            ("'quoted'", "'quoted'"),
            ("", ""),
        ] {
            assert_eq!(cell_for_csv(raw), csv, "{raw:?}");
            assert_eq!(cell_from_csv(csv), raw, "{csv:?}");
        }
        assert_eq!(cell_from_csv("+84912345678"), "+84912345678");
    }

    #[test]
    fn terminal_reasons_mask_contacts_and_ids() {
        assert_eq!(
            masked_for_terminal("phone", "số '0212345678' sai / phone '0212345678' is bad"),
            "số '…678' sai / phone '…678' is bad"
        );
        assert_eq!(
            masked_for_terminal("email", "email 'lan.tran@example' không hợp lệ"),
            "email '…@example' không hợp lệ"
        );
        assert_eq!(
            masked_for_terminal("guardian_id", "001190999999 không có / 001190999999 is not"),
            "********9999 không có / ********9999 is not"
        );
        assert_eq!(
            masked_for_terminal("date_of_birth", "ngày '2025-02-30'"),
            "ngày '2025-02-30'"
        );
    }
}
