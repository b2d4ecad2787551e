//! What the facilities file ([`super::facilities`]) and the school places file
//! ([`crate::reports::places`]) read alike: CSV text as people save it from a spreadsheet
//! (UTF-8, a BOM accepted; comma, or the semicolon or tab a spreadsheet in a Vietnamese locale
//! writes), headers matched whatever their case and diacritics, and a bad row reported at its
//! line and field.

use crate::registry::text;
use serde::Serialize;

/// A bad row: its line (the header is 1), the column as the file's header names it, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl RowProblem {
    /// As a terminal prints it: `FILE:LINE: field: reason` (`FILE:LINE: reason` for the file as
    /// a whole, which names no field).
    pub fn at(&self, label: &str) -> String {
        if self.field.is_empty() {
            format!("{label}:{}: {}", self.line, self.reason)
        } else {
            format!("{label}:{}: {}: {}", self.line, self.field, self.reason)
        }
    }
}

/// A file named on the command line: its path as problems are printed under it, and its bytes.
pub fn read_file(path: &std::path::Path) -> anyhow::Result<(String, Vec<u8>)> {
    use anyhow::Context;
    let label = path.display().to_string();
    let bytes = std::fs::read(path)
        .with_context(|| format!("{label}: không mở được tệp / cannot open the file"))?;
    Ok((label, bytes))
}

/// (line, cells) of a file, header first.
pub type Lines = Vec<(u64, Vec<String>)>;

/// Lower case, no diacritics, words joined by `_`: "Mã xã" → `ma_xa`.
pub fn fold(s: &str) -> String {
    crate::text::unaccent(s.trim())
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// The header cell one of `aliases` (folded, see [`fold`]) names, if any.
pub fn column(header: &[String], aliases: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| aliases.contains(&fold(h).as_str()))
}

/// (line, cells) of a CSV text, blank lines dropped, header first; cells trimmed and their
/// formula guard removed. Err: `not_utf8` when the bytes are not UTF-8, or the line that
/// cannot be read.
pub fn csv_lines(bytes: &[u8], not_utf8: &str) -> Result<Lines, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| not_utf8.to_string())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Excel in a Vietnamese locale separates with semicolons; a copy from a sheet has tabs.
    let first = text.lines().next().unwrap_or("");
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| (first.bytes().filter(|b| b == d).count(), *d == b','))
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            format!("dòng {line}: không đọc được / line {line}: unreadable ({e})")
        })?;
        let cells: Vec<String> = record
            .iter()
            .map(|c| text::cell_from_csv(c.trim()).to_string())
            .collect();
        if cells.iter().any(|c| !c.is_empty()) {
            out.push((record.position().map_or(0, |p| p.line()), cells));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_fold_and_blank_lines_keep_the_lines_of_the_rest() {
        assert_eq!(fold(" Mã xã / Phường "), "ma_xa_phuong");
        let lines = csv_lines("\u{feff}a;b\n\n;\n1;'=2\n".as_bytes(), "not UTF-8").unwrap();
        assert_eq!(
            lines,
            [
                (1, vec!["a".to_string(), "b".to_string()]),
                (4, vec!["1".to_string(), "=2".to_string()])
            ]
        );
        assert_eq!(column(&lines[0].1, &["x", "b"]), Some(1));
        assert_eq!(
            csv_lines(b"\xff", "not UTF-8"),
            Err("not UTF-8".to_string())
        );
        let mut p = RowProblem {
            line: 3,
            field: "kind".into(),
            reason: "why".into(),
        };
        assert_eq!(p.at("f.csv"), "f.csv:3: kind: why");
        p.field.clear();
        assert_eq!(p.at("f.csv"), "f.csv:3: why");
    }
}
