//! `vongdoi export citizens`: the registry written back in the import format.

use crate::registry::citizen::CITIZEN_COLUMNS;
use crate::registry::text::cell_for_csv;
use crate::store::{BirthCursor, Store};
use std::io::Write;

const PAGE: i64 = 5_000;

/// Writes every citizen, in (date of birth, personal ID) order so that parents and guardians
/// come before the children who link to them: importing the file into an empty database
/// gives the same registry. Streams by keyset pages; returns the number of rows written.
/// Text that would start a spreadsheet formula, and phones (`+84…`), get a leading `'`
/// ([`cell_for_csv`]), which the importer removes.
pub async fn export_citizens<W: Write>(store: &Store, out: W) -> anyhow::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CITIZEN_COLUMNS)?;
    let mut cursor: Option<BirthCursor> = None;
    let mut written = 0u64;
    loop {
        let page = store.citizens_by_birth(cursor, PAGE).await?;
        let Some(last) = page.last() else { break };
        cursor = Some((last.date_of_birth, last.personal_id));
        for c in &page {
            // Spreadsheet-safe cells (`'=…`, `'+84…`); the importer takes the `'` off again.
            let record = c.to_record();
            let cells: Vec<_> = record.iter().map(|v| cell_for_csv(v)).collect();
            w.write_record(cells.iter().map(|v| v.as_bytes()))?;
        }
        written += page.len() as u64;
    }
    w.flush()?;
    Ok(written)
}
