//! The import's error report: `line,personal_id,field,reason` in line order, to the `--errors`
//! CSV (UTF-8 with a BOM, for Excel) or (the first few, contacts masked) to standard error. It never copies more than a short
//! prefix of a bad value.

use crate::registry::citizen::FieldError;
use crate::registry::text;
use std::io::Write;

/// Where problems go: the `--errors` CSV, or standard error when none was asked for.
pub struct ErrorReport {
    out: ErrorSink,
    pub(super) written: u64,
    /// Problems of the batch in flight. Some are only found when the batch is stored (a link
    /// to nobody), so they wait here and go out in line order.
    pub(super) pending: Vec<(u64, String, FieldError)>,
}

// One per import.
#[allow(clippy::large_enum_variant)]
enum ErrorSink {
    Csv(csv::Writer<Box<dyn Write>>),
    /// Problems printed as `FILE:LINE: field: reason`, the first few only.
    Terminal {
        file: String,
        limit: u64,
        /// Print phones, emails and personal IDs inside reasons as they are (`--show-names`);
        /// by default they are masked, since terminal output ends up in cron logs.
        show_values: bool,
    },
}

/// Characters of the `personal_id` column kept in the report: a real ID has 12; whatever the
/// file held in that cell, the report never copies more than this.
pub(super) const REPORT_PIN_CHARS: usize = 24;
/// Characters of a reason kept in the report (reasons quote only short prefixes of values;
/// this bounds what a database error message could add).
const REPORT_REASON_CHARS: usize = 600;

impl ErrorReport {
    /// The CSV starts with a UTF-8 byte-order mark, as the reports do: the report is opened in
    /// Excel, which without it reads the file in the local code page and garbles Vietnamese.
    /// (csv readers, the importer's included, skip it.)
    pub fn to_csv(mut out: Box<dyn Write>) -> std::io::Result<ErrorReport> {
        out.write_all("\u{feff}".as_bytes())?;
        let mut w = csv::Writer::from_writer(out);
        w.write_record(["line", "personal_id", "field", "reason"])?;
        Ok(ErrorReport {
            out: ErrorSink::Csv(w),
            written: 0,
            pending: Vec::new(),
        })
    }

    /// Problems on standard error; `show_values` prints contacts and IDs unmasked.
    pub fn to_stderr(file: &str, show_values: bool) -> ErrorReport {
        ErrorReport {
            out: ErrorSink::Terminal {
                file: file.to_string(),
                limit: 50,
                show_values,
            },
            written: 0,
            pending: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, line: u64, personal_id: &str, e: FieldError) {
        let pin = text::shown_max(personal_id, REPORT_PIN_CHARS);
        self.pending.push((line, pin, e));
    }

    /// Writes the pending problems in line order (stable: a row's problems keep their order).
    pub(super) fn flush_pending(&mut self) -> std::io::Result<()> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by_key(|p| p.0);
        for (line, pin, e) in &pending {
            self.write(*line, pin, e)?;
        }
        Ok(())
    }

    pub(super) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn write(
        &mut self,
        line: u64,
        personal_id: &str,
        e: &FieldError,
    ) -> std::io::Result<()> {
        self.written += 1;
        let reason = text::shown_max(&e.reason, REPORT_REASON_CHARS);
        match &mut self.out {
            // The report is opened in a spreadsheet: no cell may start a formula.
            ErrorSink::Csv(w) => w.write_record([
                line.to_string().as_str(),
                &text::cell_for_csv(personal_id),
                e.field,
                &text::cell_for_csv(&reason),
            ])?,
            ErrorSink::Terminal {
                file,
                limit,
                show_values,
            } => {
                if self.written <= *limit {
                    let reason = if *show_values {
                        reason
                    } else {
                        text::masked_for_terminal(e.field, &reason)
                    };
                    eprintln!("{file}:{line}: {}: {reason}", e.field);
                } else if self.written == *limit + 1 {
                    eprintln!("{file}: … more problems; write them all with --errors OUT.csv");
                }
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.flush_pending()?;
        if let ErrorSink::Csv(mut w) = self.out {
            w.flush()?;
        }
        Ok(())
    }
}
