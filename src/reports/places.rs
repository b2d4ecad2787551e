//! School places files (issue #12 item 8): what a planner uploads on the enrolment page, `PUT
//! /api/school-places` or `vongdoi school-places import`, and what `report enrolment
//! --capacity FILE` reads. CSV (UTF-8, a BOM accepted; comma, or the semicolon or tab that a
//! spreadsheet in a Vietnamese locale writes) or xlsx (the first sheet), one header row:
//!
//! `commune_code,level,capacity[,school_year][,school]`, with Vietnamese headers accepted
//! (`Mã xã`, `Cấp học`, `Số chỗ`, `Năm học`, `Trường`, with or without diacritics) and other
//! columns (`Tên xã`, …) ignored. A level is `kindergarten-5`, `grade-1`, `grade-6`,
//! `grade-10` or the Vietnamese (`Mẫu giáo 5 tuổi`, `Lớp 1`, `Lớp 6`, `Lớp 10`, or just
//! `1`, `6`, `10`); a school year the year it starts (`2027`) or written out (`2027–2028`,
//! `2027-2028`); places a whole number (`1.500` and `1,500` are 1500).
//!
//! Rows of one commune, school, level and year add up (two schools given without names, or a
//! school's two buildings): 150 + 20 places are 170. A row with a school year replaces that
//! school's every-year row in that year. Bad rows are reported at their line and field; the
//! good rows are kept.

use super::enrolment::LEVELS;
pub use crate::exchange::table::RowProblem;
use crate::exchange::table::{self, fold, Lines};
use crate::registry::{text, CommuneCode};
use crate::store::schools::SchoolPlaceRow;
use crate::store::Store;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The largest places file read (CSV or xlsx): a province's schools fit many times over.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;

/// One good row of a places file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRow {
    /// The file's line (CSV) or row (xlsx); the header is 1.
    pub line: u64,
    pub commune: CommuneCode,
    /// Empty when the file has no school column or the cell is empty.
    pub school: String,
    pub level: &'static str,
    /// The year the school year starts; None: every year.
    pub school_year: Option<i32>,
    pub places: i64,
}

/// A places file read: the good rows and the problems of the bad ones, in line order.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<PlaceRow>,
    pub problems: Vec<RowProblem>,
    /// The commune column's header as the file writes it (where a refusal is reported).
    pub commune_header: String,
}

/// An xlsx file (a zip archive) rather than CSV text.
pub fn is_xlsx(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Reads a places file, CSV or xlsx (told apart by their first bytes). Err: the file as a
/// whole cannot be read (not UTF-8, not a workbook, no usable header row).
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!(
            "tệp quá lớn (tối đa {} MiB) / the file is over {} MiB",
            MAX_FILE_BYTES >> 20,
            MAX_FILE_BYTES >> 20
        ));
    }
    let lines = if is_xlsx(bytes) {
        xlsx_lines(bytes)?
    } else {
        csv_lines(bytes)?
    };
    Ok(rows_of(lines))
}

fn csv_lines(bytes: &[u8]) -> Result<Lines, String> {
    table::csv_lines(
        bytes,
        "tệp không phải UTF-8: lưu lại dạng \"CSV UTF-8\" hoặc tải lên tệp .xlsx / the file is not UTF-8: save it as \"CSV UTF-8\" or upload the .xlsx",
    )
}

fn xlsx_lines(bytes: &[u8]) -> Result<Lines, String> {
    use calamine::{Data, Reader, Xlsx};
    let unreadable = |e: &dyn std::fmt::Display| {
        format!("không đọc được tệp xlsx / cannot read the xlsx file: {e}")
    };
    let mut book: Xlsx<_> =
        Xlsx::new(std::io::Cursor::new(bytes.to_vec())).map_err(|e| unreadable(&e))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| "tệp xlsx không có trang tính / the workbook has no sheet".to_string())?
        .map_err(|e| unreadable(&e))?;
    let first_row = range.start().map_or(0, |(r, _)| r as u64);
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let cell = |d: &Data| -> String {
        match d {
            Data::Empty => String::new(),
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
            Data::Int(n) => n.to_string(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(d) => d.to_string(),
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            // Columns before the used range are empty: keep positions as the sheet has them.
            let mut cells = vec![String::new(); first_col];
            cells.extend(row.iter().map(cell));
            (first_row + i as u64 + 1, cells)
        })
        .collect())
}

/// The columns: canonical name and the folded headers that name it.
const COLUMNS: [(&str, &[&str]); 5] = [
    (
        "commune_code",
        &["commune_code", "commune", "ma_xa", "ma_xa_phuong"],
    ),
    ("level", &["level", "cap_hoc", "lop", "cap", "khoi"]),
    (
        "capacity",
        &["capacity", "places", "so_cho", "so_cho_hoc", "chi_tieu"],
    ),
    ("school_year", &["school_year", "year", "nam_hoc"]),
    (
        "school",
        &[
            "school",
            "school_name",
            "truong",
            "ten_truong",
            "truong_hoc",
        ],
    ),
];

/// The level a cell names, in English or Vietnamese.
pub fn level_of(cell: &str) -> Option<&'static str> {
    let f = fold(cell);
    let level = match f.as_str() {
        "kindergarten_5" | "kindergarten" | "mau_giao_5_tuoi" | "mau_giao_5" | "mau_giao"
        | "mg5" | "mg_5" | "mam_non_5_tuoi" | "5_tuoi" => "kindergarten-5",
        "grade_1" | "lop_1" | "1" => "grade-1",
        "grade_6" | "lop_6" | "6" => "grade-6",
        "grade_10" | "lop_10" | "10" => "grade-10",
        _ => return None,
    };
    LEVELS.iter().find(|l| l.0 == level).map(|l| l.0)
}

/// A school year: the year it starts (`2027`) or both years (`2027–2028`, `2027-2028`,
/// `2027/2028`).
pub fn school_year_of(cell: &str) -> Option<i32> {
    let parts: Vec<&str> = cell.split(['-', '–', '—', '/']).map(str::trim).collect();
    let year = |s: &str| {
        s.parse::<i32>()
            .ok()
            .filter(|y| (1900..=2200).contains(y) && s.len() == 4)
    };
    match parts.as_slice() {
        [one] => year(one),
        [from, to] => year(from).filter(|f| year(to) == Some(f + 1)),
        _ => None,
    }
}

/// A whole number of places: `1500`, or with thousands grouped by `.`, `,` or a space.
pub fn places_of(cell: &str) -> Option<i64> {
    let s = cell.trim();
    let groups: Vec<&str> = s.split(['.', ',', ' ', '\u{a0}']).collect();
    let grouped = groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3);
    let digits = if grouped {
        groups.concat()
    } else {
        s.to_string()
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
        return None;
    }
    digits.parse().ok()
}

fn rows_of(lines: Lines) -> Parsed {
    let mut out = Parsed::default();
    // CSV comes without its blank lines; a sheet keeps its empty rows.
    let mut lines = lines
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.is_empty()));
    let Some((_, header)) = lines.next() else {
        out.problems.push(RowProblem {
            line: 1,
            field: String::new(),
            reason: "tệp trống / the file is empty".into(),
        });
        return out;
    };
    // (column index, the header as the file writes it) per canonical column.
    let found: Vec<Option<(usize, String)>> = COLUMNS
        .iter()
        .map(|(_, aliases)| {
            table::column(&header, aliases).map(|i| (i, header[i].trim().to_string()))
        })
        .collect();
    let (Some(commune), Some(level), Some(capacity)) =
        (found[0].clone(), found[1].clone(), found[2].clone())
    else {
        out.problems.push(RowProblem {
            line: 1,
            field: String::new(),
            reason: "tiêu đề phải có các cột Mã xã (commune_code), Cấp học (level), Số chỗ (capacity); tùy chọn Năm học (school_year), Trường (school) — phân cách bằng dấu phẩy, chấm phẩy hoặc tab / the header must name commune_code, level and capacity (or Mã xã, Cấp học, Số chỗ), optionally school_year and school, separated by commas, semicolons or tabs".into(),
        });
        return out;
    };
    let (year_col, school_col) = (found[3].clone(), found[4].clone());
    out.commune_header = commune.1.clone();
    for (line, cells) in lines {
        let get = |c: usize| cells.get(c).map(|s| s.trim()).unwrap_or("");
        let mut problems = Vec::new();
        let mut problem = |field: &str, reason: String| {
            problems.push(RowProblem {
                line,
                field: field.to_string(),
                reason,
            })
        };
        let commune_code = CommuneCode::parse(get(commune.0))
            .map_err(|e| problem(&commune.1, e))
            .ok();
        let level_code = level_of(get(level.0));
        if level_code.is_none() {
            problem(&level.1, format!(
                "'{}' không phải cấp học: dùng Mẫu giáo 5 tuổi, Lớp 1, Lớp 6, Lớp 10 / is not a level: use kindergarten-5, grade-1, grade-6 or grade-10",
                text::shown(get(level.0))
            ));
        }
        let places = places_of(get(capacity.0));
        if places.is_none() {
            problem(&capacity.1, format!(
                "'{}' không phải số chỗ (số nguyên ≥ 0) / is not a number of places (a whole number ≥ 0)",
                text::shown(get(capacity.0))
            ));
        }
        let mut year = None;
        if let Some((c, name)) = &year_col {
            let cell = get(*c);
            if !cell.is_empty() {
                year = school_year_of(cell);
                if year.is_none() {
                    problem(name, format!(
                        "'{}' không phải năm học: viết 2027 hoặc 2027–2028 / is not a school year: write 2027 or 2027–2028",
                        text::shown(cell)
                    ));
                }
            }
        }
        let mut school = String::new();
        if let Some((c, name)) = &school_col {
            let cell = get(*c);
            match text::check("school", cell, text::PLACE) {
                Ok(()) => school = cell.split_whitespace().collect::<Vec<_>>().join(" "),
                Err(e) => problem(name, e.reason),
            }
        }
        if problems.is_empty() {
            out.rows.push(PlaceRow {
                line,
                commune: commune_code.expect("checked"),
                school,
                level: level_code.expect("checked"),
                school_year: year,
                places: places.expect("checked"),
            });
        } else {
            out.problems.extend(problems);
        }
    }
    out
}

/// What an upload did.
#[derive(Debug, Default, Serialize)]
pub struct Upload {
    /// Rows stored (after adding up rows of one commune, school, level and year).
    pub stored: u64,
    /// The communes whose places were replaced.
    pub communes: Vec<String>,
    /// Bad rows, and rows outside the uploader's area, at their line and field.
    pub problems: Vec<RowProblem>,
    /// How many rows were refused for their commune being outside the area.
    #[serde(skip)]
    pub outside_area: usize,
}

/// Stores the good rows of `parsed` whose commune `may` allows (else the reason): the places
/// of each commune they name replace what was stored for it.
pub async fn upload(
    store: &Store,
    parsed: Parsed,
    may: impl Fn(&CommuneCode) -> Result<(), String>,
    by: &str,
    now: DateTime<Utc>,
) -> crate::store::Result<Upload> {
    let mut up = Upload {
        problems: parsed.problems,
        ..Upload::default()
    };
    let mut sums: BTreeMap<(String, String, &'static str, Option<i32>), i64> = BTreeMap::new();
    for r in parsed.rows {
        if let Err(reason) = may(&r.commune) {
            up.outside_area += 1;
            up.problems.push(RowProblem {
                line: r.line,
                field: parsed.commune_header.clone(),
                reason,
            });
            continue;
        }
        *sums
            .entry((
                r.commune.as_str().to_string(),
                r.school,
                r.level,
                r.school_year,
            ))
            .or_default() += r.places;
    }
    up.problems.sort_by_key(|p| p.line);
    let communes: BTreeSet<String> = sums.keys().map(|k| k.0.clone()).collect();
    let rows: Vec<SchoolPlaceRow> = sums
        .into_iter()
        .map(
            |((commune_code, school, level, school_year), places)| SchoolPlaceRow {
                commune_code,
                school,
                level: level.to_string(),
                school_year,
                places,
                uploaded_by: by.to_string(),
                uploaded_at: now,
            },
        )
        .collect();
    up.communes = communes.into_iter().collect();
    up.stored = store.replace_school_places(&up.communes, &rows).await?;
    tracing::info!(
        rows = up.stored,
        communes = up.communes.len(),
        problems = up.problems.len(),
        "school places stored"
    );
    Ok(up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_headers_levels_years_and_numbers_are_read() {
        let csv = "\u{feff}Mã xã;Tên trường;Cấp học;Số chỗ;Năm học\n4;Tiểu học A;Lớp 1;1.500;2027–2028\n00004;Tiểu học B;lop 1;20;\n";
        let p = parse(csv.as_bytes()).unwrap();
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].commune.as_str(), "00004");
        assert_eq!(p.rows[0].school, "Tiểu học A");
        assert_eq!(
            (p.rows[0].level, p.rows[0].places, p.rows[0].school_year),
            ("grade-1", 1500, Some(2027))
        );
        assert_eq!((p.rows[1].line, p.rows[1].school_year), (3, None));
    }

    #[test]
    fn bad_rows_are_reported_at_their_line_and_field_and_good_rows_kept() {
        let csv = "commune_code,level,capacity,school_year\n00004,grade-1,40,\n00004,Lớp 2,x,2027-2029\n00008,grade-6,10,2027\n";
        let p = parse(csv.as_bytes()).unwrap();
        assert_eq!(p.rows.len(), 2);
        let where_: Vec<(u64, &str)> = p
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(where_, [(3, "level"), (3, "capacity"), (3, "school_year")]);
        let header = parse(b"a;b\n1;2\n").unwrap();
        assert_eq!(header.problems[0].line, 1);
    }

    #[test]
    fn numbers_and_years() {
        assert_eq!(places_of("1,500"), Some(1500));
        assert_eq!(places_of("1 500"), Some(1500));
        assert_eq!(places_of("15"), Some(15));
        assert_eq!(places_of("1.5"), None);
        assert_eq!(places_of("-3"), None);
        assert_eq!(school_year_of("2027"), Some(2027));
        assert_eq!(school_year_of("2027 - 2028"), Some(2027));
        assert_eq!(school_year_of("2027/2029"), None);
        assert_eq!(school_year_of("27"), None);
        assert_eq!(level_of("Mẫu giáo 5 tuổi"), Some("kindergarten-5"));
        assert_eq!(level_of("10"), Some("grade-10"));
        assert_eq!(level_of("Lớp 2"), None);
    }
}
