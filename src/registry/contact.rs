//! Contact details: Vietnamese mobile numbers (stored E.164) and email addresses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Vietnamese mobile number in E.164 form (`+84` and 9 digits). Accepts `0xxxxxxxxx` and
/// `+84xxxxxxxxx` (also `84xxxxxxxxx`), with spaces, dots or dashes between digits.
/// Mobile prefixes are 03, 05, 07, 08, 09 (docs/domain.md §6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Phone, String> {
        let compact: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        let national = if let Some(rest) = compact.strip_prefix("+84") {
            rest.to_string()
        } else if let Some(rest) = compact.strip_prefix("84").filter(|r| r.len() == 9) {
            rest.to_string()
        } else if let Some(rest) = compact.strip_prefix('0') {
            rest.to_string()
        } else {
            return Err(format!(
                "số điện thoại '{s}' phải bắt đầu bằng 0 hoặc +84 / phone '{s}' must start with 0 or +84", s = super::text::shown(s)
            ));
        };
        if national.len() != 9 || !national.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "số điện thoại '{s}' phải có 10 chữ số (0xxxxxxxxx) / phone '{s}' must have 10 digits (0xxxxxxxxx) or +84 and 9 digits", s = super::text::shown(s)
            ));
        }
        if !matches!(national.as_bytes()[0], b'3' | b'5' | b'7' | b'8' | b'9') {
            return Err(format!(
                "'{s}' không phải số di động (đầu số 03, 05, 07, 08, 09) / '{s}' is not a mobile number (prefixes 03, 05, 07, 08, 09)", s = super::text::shown(s)
            ));
        }
        Ok(Phone(format!("+84{national}")))
    }

    pub fn e164(&self) -> &str {
        &self.0
    }

    /// As Vietnamese write it: `0359 124 824`.
    pub fn national(&self) -> String {
        let n = &self.0[3..];
        format!("0{} {} {}", &n[..3], &n[3..6], &n[6..])
    }

    /// For logs: the last 3 digits only.
    pub fn masked(&self) -> String {
        format!("+84******{}", &self.0[self.0.len() - 3..])
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

/// A syntactically valid email address: one `@`, a non-empty local part, a domain with a dot,
/// no spaces. Deliverability is the mail server's business.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "email '{s}' không hợp lệ / email '{s}' is not a valid address (name@domain.vn)",
                s = super::text::shown(s)
            )
        };
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if local.is_empty()
            || local.len() > 64
            || s.len() > 254
            || !domain.contains('.')
            || !labels_ok
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || local.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || super::text::is_bidi_control(c)
                    || super::text::is_zero_width(c)
                    || matches!(
                        c,
                        '@' | '<' | '>' | ',' | ';' | '"' | '(' | ')' | '[' | ']' | '\\'
                    )
            })
        {
            return Err(bad());
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_stored_e164() {
        assert_eq!(Phone::parse("0912345678").unwrap().e164(), "+84912345678");
        assert_eq!(
            Phone::parse("+84 912 345 678").unwrap().e164(),
            "+84912345678"
        );
        assert_eq!(Phone::parse("84912345678").unwrap().e164(), "+84912345678");
        assert_eq!(Phone::parse("0312.345.678").unwrap().e164(), "+84312345678");
        for bad in [
            "0212345678",
            "091234567",
            "09123456789",
            "1912345678",
            "09123a5678",
            "",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
        assert!(!Phone::parse("0912345678")
            .unwrap()
            .masked()
            .contains("912345"));
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("Lan.Nguyen@Gmail.com").unwrap().as_str(),
            "Lan.Nguyen@gmail.com"
        );
        for bad in [
            "lan",
            "lan@",
            "@x.vn",
            "lan@x",
            "la n@x.vn",
            "lan@@x.vn",
            "lan@x..vn",
            ".lan@x.vn",
            "la\u{202e}n@x.vn",
            "lan\u{0}@x.vn",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
