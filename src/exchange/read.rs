//! Reading an import file: rows decoded one by one with their line numbers (over-long lines
//! skipped unread), validated on a thread of their own while the previous batch is written.

use super::line_limit::{was_cut, LineLimit, MAX_LINE_BYTES};
use crate::registry::citizen::FieldError;
use crate::registry::text;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::io::Read;

use super::error_report::REPORT_PIN_CHARS;
use super::import::{ImportError, ImportKind};

/// A row of the file, read and decoded, with its line number.
pub(super) struct Line<T> {
    pub(super) line: u64,
    pub(super) raw_pin: String,
    pub(super) row: Result<T, FieldError>,
}

/// Reads data rows one by one, with line numbers, turning undecodable rows into problems.
pub(super) fn rows<T: DeserializeOwned, R: Read + Send>(
    kind: ImportKind,
    file: &str,
    input: R,
) -> Result<impl Iterator<Item = Result<Line<T>, ImportError>> + Send, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(LineLimit::new(input, MAX_LINE_BYTES));
    if reader
        .byte_headers()
        .map_err(|source| ImportError::Read {
            file: file.to_string(),
            source,
        })
        .map(was_cut)?
    {
        return Err(ImportError::Header {
            file: file.to_string(),
            problem: format!("dòng 1 (tiêu đề) dài quá {MAX_LINE_BYTES} byte / line 1 (the header) is longer than {MAX_LINE_BYTES} bytes: is this a CSV file?"),
        });
    }
    let headers = reader
        .headers()
        .map_err(|source| ImportError::Read {
            file: file.to_string(),
            source,
        })?
        .clone();
    let present: HashSet<&str> = headers.iter().collect();
    let missing: Vec<&str> = kind
        .required_columns()
        .iter()
        .copied()
        .filter(|c| !present.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::Header {
            file: file.to_string(),
            problem: format!(
                "dòng 1 thiếu cột {} / line 1 (the header) lacks the column(s) {}; expected: {}",
                missing.join(", "),
                missing.join(", "),
                kind.known_columns().join(",")
            ),
        });
    }
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| !kind.known_columns().contains(h))
        .collect();
    if !unknown.is_empty() {
        tracing::warn!(columns = ?unknown, "ignoring unknown columns");
    }
    let pin_index = headers.iter().position(|h| h == "personal_id");
    let columns = headers.len();
    let file = file.to_string();
    let mut records = reader.into_byte_records();
    Ok(std::iter::from_fn(move || {
        let record = records.next()?;
        Some(match record {
            Ok(bytes) => {
                let line = bytes.position().map(|p| p.line()).unwrap_or(0);
                let raw_pin = pin_index
                    .and_then(|i| bytes.get(i))
                    // Only a prefix: this travels with the row to the report.
                    .map(|b| {
                        let prefix =
                            String::from_utf8_lossy(&b[..b.len().min(4 * REPORT_PIN_CHARS)]);
                        text::shown_max(&prefix, REPORT_PIN_CHARS)
                    })
                    .unwrap_or_default();
                let row = if was_cut(&bytes) {
                    Err(FieldError::new(
                        "row",
                        format!("dòng quá dài (hơn {MAX_LINE_BYTES} byte), đã bỏ qua / line longer than {MAX_LINE_BYTES} bytes, skipped: split it, or look for a quote \" that is never closed"),
                    ))
                } else if bytes.len() != columns {
                    Err(FieldError::new(
                        "row",
                        format!("dòng có {} cột, tiêu đề có {columns} / the row has {} fields, the header has {columns}", bytes.len(), bytes.len()),
                    ))
                } else {
                    match csv::StringRecord::from_byte_record(bytes) {
                        Ok(rec) => unquote_cells(rec)
                            .deserialize::<T>(Some(&headers))
                            .map_err(|e| FieldError::new("row", format!("không đọc được dòng / cannot read the row: {e}"))),
                        Err(_) => Err(FieldError::new(
                            "row",
                            "dòng không phải UTF-8; lưu tệp dạng CSV UTF-8 / the row is not UTF-8: save the file as CSV UTF-8",
                        )),
                    }
                };
                Ok(Line { line, raw_pin, row })
            }
            Err(source) => Err(ImportError::Read {
                file: file.clone(),
                source,
            }),
        })
    }))
}

/// Undoes the `'` that `export` (and the reports) put before a cell starting with a formula
/// character ([`text::cell_for_csv`]), so export → import gives back the same values.
pub(super) fn unquote_cells(rec: csv::StringRecord) -> csv::StringRecord {
    if !rec.iter().any(|f| f.starts_with('\'')) {
        return rec;
    }
    rec.iter().map(text::cell_from_csv).collect()
}

/// A row read and validated on the reader thread.
pub(super) struct Checked<V> {
    pub(super) line: u64,
    pub(super) raw_pin: String,
    pub(super) result: Result<V, Vec<FieldError>>,
}

/// Rows travel from the reader thread in chunks of this many.
pub(super) const CHUNK_ROWS: usize = 1_000;

pub(super) type Chunks<V> = tokio::sync::mpsc::Receiver<Result<Vec<Checked<V>>, ImportError>>;

/// Reads and validates rows on their own thread while the caller writes the previous batch:
/// parsing and the database then use both cores instead of taking turns. The channel holds a
/// few chunks, so memory stays bounded however fast the file reads. The header is checked
/// before this returns, so a file with the wrong columns fails at once.
pub(super) fn read_in_background<T, V, R>(
    kind: ImportKind,
    file: &str,
    input: R,
    validate: impl Fn(T) -> Result<V, Vec<FieldError>> + Send + 'static,
) -> Result<Chunks<V>, ImportError>
where
    T: DeserializeOwned + 'static,
    V: Send + 'static,
    R: Read + Send + 'static,
{
    let lines = rows::<T, R>(kind, file, input)?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::Builder::new()
        .name("import-reader".into())
        .spawn(move || {
            let mut chunk = Vec::with_capacity(CHUNK_ROWS);
            for line in lines {
                match line {
                    Ok(l) => chunk.push(Checked {
                        line: l.line,
                        raw_pin: l.raw_pin,
                        result: l.row.map_err(|e| vec![e]).and_then(&validate),
                    }),
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
                // A closed channel means the importer stopped on an error: stop reading too.
                if chunk.len() == CHUNK_ROWS
                    && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
                {
                    return;
                }
            }
            if !chunk.is_empty() {
                let _ = tx.blocking_send(Ok(chunk));
            }
        })
        .map_err(ImportError::Report)?;
    Ok(rx)
}
