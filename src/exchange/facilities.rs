//! Facilities files (issue #13 item 1): what `vongdoi facilities import`, `PUT /api/facilities`
//! and the facilities page's upload read, and what `vongdoi facilities list --format csv`
//! writes. CSV, UTF-8 (a BOM accepted), comma — or the semicolon or tab a spreadsheet in a
//! Vietnamese locale writes — and one header row:
//!
//! `commune_code,kind,name,address,phone,hours,session_days`, with Vietnamese headers accepted
//! (`Mã xã`, `Loại`, `Tên`, `Địa chỉ`, `Điện thoại`, `Giờ làm việc`, `Ngày tiêm`, with or without
//! diacritics) and other columns (`commune_name`, `Tên xã`, …) ignored. Every column must be
//! there (a cell may be empty): a missing column would silently blank what is stored.
//!
//! An import upserts. A commune has one health station and one police post, so such a row
//! replaces the commune's whatever its name; schools are told apart by name. Bad rows are
//! reported at their line and field (the column's header as the file writes it); the good rows
//! are stored. Two rows of one facility in a file: the later is kept and the earlier reported.

use super::table;
pub use super::table::RowProblem;
use crate::registry::facility::FacilityCells;
use crate::registry::{text, CommuneCode, Facility, FacilityKind};
use crate::store::Store;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// The largest file an upload over HTTP may be: a province's facilities fit many times over
/// (the whole country's is larger: `vongdoi facilities import` reads any size).
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;

/// The columns, in the order `list --format csv` writes them.
pub const HEADER: [&str; 7] = [
    "commune_code",
    "kind",
    "name",
    "address",
    "phone",
    "hours",
    "session_days",
];

/// The headers (folded: lower case, no diacritics, words joined by `_`) that name each column.
const ALIASES: [&[&str]; 7] = [
    &["commune_code", "commune", "ma_xa", "ma_xa_phuong"],
    &["kind", "type", "loai", "loai_co_so"],
    &["name", "facility", "ten", "ten_co_so", "co_so"],
    &["address", "dia_chi"],
    &["phone", "telephone", "dien_thoai", "so_dien_thoai", "sdt"],
    &[
        "hours",
        "opening_hours",
        "gio_lam_viec",
        "gio_mo_cua",
        "thoi_gian_lam_viec",
    ],
    &[
        "session_days",
        "sessions",
        "ngay_tiem",
        "lich_tiem",
        "ngay_tiem_chung",
        "buoi_tiem",
    ],
];

/// A file read: the good rows with their lines, and the problems of the bad ones.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<(u64, Facility)>,
    pub problems: Vec<RowProblem>,
    /// The commune column's header as the file writes it (where a refusal is reported).
    pub commune_header: String,
}

/// Reads a facilities file. Err: the file as a whole cannot be read (not UTF-8, unreadable
/// CSV); a header without the columns is a problem at line 1.
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let not_utf8 = "tệp không phải UTF-8: lưu lại dạng \"CSV UTF-8\" / the file is not UTF-8: save it as \"CSV UTF-8\"";
    let mut lines = table::csv_lines(bytes, not_utf8)?.into_iter();
    let Some((header_line, header)) = lines.next() else {
        out.problems.push(RowProblem {
            line: 1,
            field: String::new(),
            reason: "tệp trống / the file is empty: the first line names the columns".into(),
        });
        return Ok(out);
    };
    let columns: Vec<Option<usize>> = ALIASES
        .iter()
        .map(|aliases| table::column(&header, aliases))
        .collect();
    let missing: Vec<&str> = HEADER
        .iter()
        .zip(&columns)
        .filter(|(_, c)| c.is_none())
        .map(|(h, _)| *h)
        .collect();
    if !missing.is_empty() {
        out.problems.push(RowProblem {
            line: header_line,
            field: String::new(),
            reason: format!(
                "tiêu đề thiếu cột {m}; cần đủ: commune_code,kind,name,address,phone,hours,session_days (hoặc Mã xã, Loại, Tên, Địa chỉ, Điện thoại, Giờ làm việc, Ngày tiêm; ô có thể trống) / the header lacks {m}: every column is needed (a cell may be empty), separated by commas, semicolons or tabs",
                m = missing.join(", ")
            ),
        });
        return Ok(out);
    }
    let index: Vec<usize> = columns.into_iter().flatten().collect();
    let header_of = |field: &str| -> String {
        let i = HEADER.iter().position(|h| *h == field).unwrap_or(0);
        header[index[i]].trim().to_string()
    };
    out.commune_header = header_of("commune_code");
    for (line, cells) in lines {
        let get = |i: usize| cells.get(index[i]).map(String::as_str).unwrap_or("");
        let row = FacilityCells {
            commune_code: get(0),
            kind: get(1),
            name: get(2),
            address: get(3),
            phone: get(4),
            hours: get(5),
            session_days: get(6),
        };
        match Facility::from_cells(&row) {
            Ok(f) => out.rows.push((line, f)),
            Err(errors) => out.problems.extend(errors.into_iter().map(|e| RowProblem {
                line,
                field: header_of(e.field),
                reason: e.reason,
            })),
        }
    }
    Ok(out)
}

/// What an upload did.
#[derive(Debug, Default, Serialize)]
pub struct Upload {
    /// Good rows now stored (new, changed or as they were).
    pub stored: u64,
    /// Of those, the rows added or changed.
    pub changed: u64,
    /// The communes the stored rows are in.
    pub communes: Vec<String>,
    /// Bad rows, rows outside the uploader's area and rows a later line replaced.
    pub problems: Vec<RowProblem>,
    /// How many rows were refused for their commune being outside the area.
    #[serde(skip)]
    pub outside_area: usize,
}

/// The facility a row is: the commune's station or post, or the commune's school of that name.
fn key_of(f: &Facility) -> (String, FacilityKind, String) {
    let name = match f.kind {
        FacilityKind::School => f.name.clone(),
        FacilityKind::Health | FacilityKind::Police => String::new(),
    };
    (f.commune_code.clone(), f.kind, name)
}

/// Stores the good rows of `parsed` whose commune `may` allows (else the reason).
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
    let mut kept: BTreeMap<(String, FacilityKind, String), (u64, Facility)> = BTreeMap::new();
    for (line, f) in parsed.rows {
        let commune = CommuneCode::parse(&f.commune_code).expect("checked when read");
        if let Err(reason) = may(&commune) {
            up.outside_area += 1;
            up.problems.push(RowProblem {
                line,
                field: parsed.commune_header.clone(),
                reason,
            });
            continue;
        }
        if let Some((earlier, old)) = kept.insert(key_of(&f), (line, f)) {
            up.problems.push(RowProblem {
                line: earlier,
                field: parsed.commune_header.clone(),
                reason: format!(
                    "dòng {line} cũng là {what} này và được giữ thay dòng này / line {line} is this {what_en} too and is kept instead",
                    what = match old.kind {
                        FacilityKind::Health => "trạm y tế của xã",
                        FacilityKind::Police => "công an của xã",
                        FacilityKind::School => "trường",
                    },
                    what_en = match old.kind {
                        FacilityKind::Health => "commune's health station",
                        FacilityKind::Police => "commune's police post",
                        FacilityKind::School => "school",
                    },
                ),
            });
        }
    }
    up.problems.sort_by_key(|p| p.line);
    let rows: Vec<Facility> = kept.into_values().map(|(_, f)| f).collect();
    let communes: BTreeSet<&str> = rows.iter().map(|f| f.commune_code.as_str()).collect();
    up.communes = communes.into_iter().map(str::to_string).collect();
    up.changed = store.upsert_facilities(&rows, by, now).await?;
    up.stored = rows.len() as u64;
    tracing::info!(
        rows = up.stored,
        changed = up.changed,
        communes = up.communes.len(),
        problems = up.problems.len(),
        "facilities stored"
    );
    Ok(up)
}

/// Writes facilities in the import format (a BOM, the header, `commune_name` last for people;
/// text cells that could start a formula guarded as every export does), so list → import
/// gives back the same facilities.
pub fn write_csv<W: Write>(mut out: W, rows: &[Facility]) -> std::io::Result<()> {
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER.iter().chain(["commune_name"].iter()))?;
    let units = crate::registry::AdminUnits::get();
    for f in rows {
        let mut cells = f.cells().to_vec();
        cells.push(
            units
                .commune(&f.commune_code)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
        );
        w.write_record(cells.iter().map(|c| text::cell_for_csv(c).into_owned()))?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_headers_a_bom_and_semicolons_are_read() {
        let csv = "\u{feff}Mã xã;Loại;Tên;Địa chỉ;Điện thoại;Giờ làm việc;Ngày tiêm;Tên xã\n4;Trạm y tế;;Số 2 Đội Cấn;'+84 24 3823 1234;7h30–17h00;15;Phường Ba Đình\n00004;school;Trường Tiểu học Ba Đình;;;;;\n";
        let p = parse(csv.as_bytes()).unwrap();
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.rows.len(), 2);
        let (line, health) = &p.rows[0];
        assert_eq!(*line, 2);
        assert_eq!(health.name, "Trạm Y tế phường Ba Đình");
        assert_eq!(
            health.phone, "+84 24 3823 1234",
            "the formula guard removed"
        );
        assert_eq!(p.commune_header, "Mã xã");
    }

    #[test]
    fn bad_cells_are_reported_at_their_line_under_the_files_header() {
        let csv = "commune_code,kind,name,address,phone,hours,session_days\n00004,health,,,,,15\n00004,chợ,X,,abc,,32\n";
        let p = parse(csv.as_bytes()).unwrap();
        assert_eq!(p.rows.len(), 1);
        let at: Vec<(u64, &str)> = p
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(at, [(3, "kind"), (3, "phone"), (3, "session_days")]);
        let header = parse(b"commune_code,kind,name\n00004,health,A\n").unwrap();
        assert_eq!(header.problems.len(), 1);
        assert!(header.problems[0]
            .reason
            .contains("address, phone, hours, session_days"));
    }

    #[test]
    fn the_csv_written_reads_back_to_the_same_facilities() {
        let csv = "commune_code,kind,name,address,phone,hours,session_days\n00004,police,=Công an,\"Số 1, ngõ 2\",+84 24 1111 2222,\"7h30–11h30, 13h30–17h00\",\n00004,health,Trạm,-,,,T4 15\n";
        let p = parse(csv.as_bytes()).unwrap();
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let rows: Vec<Facility> = p.rows.into_iter().map(|(_, f)| f).collect();
        let mut out = Vec::new();
        write_csv(&mut out, &rows).unwrap();
        let written = String::from_utf8(out.clone()).unwrap();
        assert!(
            written.contains("'=Công an") && written.contains("'+84 24"),
            "{written}"
        );
        let back: Vec<Facility> = parse(&out)
            .unwrap()
            .rows
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        assert_eq!(back, rows);
    }
}
