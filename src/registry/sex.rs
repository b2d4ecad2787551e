use serde::{Deserialize, Serialize};
use std::fmt;

/// Sex as the personal ID encodes it (digit 4: even male, odd female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// Accepts `M`/`F` and the Vietnamese `nam`/`nữ` (also unaccented `nu`), any case.
    pub fn parse(s: &str) -> Result<Sex, String> {
        match s.trim().to_lowercase().as_str() {
            "m" | "nam" | "male" => Ok(Sex::Male),
            "f" | "nữ" | "nu" | "female" => Ok(Sex::Female),
            "" => Err("giới tính trống / sex is empty: use M or F (nam/nữ)".into()),
            other => Err(format!(
                "giới tính '{other}' không hợp lệ / sex '{other}' is not valid: use M or F (nam/nữ)", other = super::text::shown(other)
            )),
        }
    }

    /// The one-letter form used in CSV files and the database.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Sex::Male => "nam",
            Sex::Female => "nữ",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_letters_and_vietnamese_words() {
        for (s, want) in [
            ("M", Sex::Male),
            ("f", Sex::Female),
            ("nam", Sex::Male),
            ("Nữ", Sex::Female),
        ] {
            assert_eq!(Sex::parse(s).unwrap(), want, "{s}");
        }
        assert!(Sex::parse("X").unwrap_err().contains("'x'"));
        assert!(Sex::parse("").is_err());
    }
}
