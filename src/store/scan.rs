//! The registry scan: every citizen with their records, in personal-ID pages, read one page
//! ahead of the consumer. The database (SQLite's worker thread, or the PostgreSQL server)
//! fetches page n+1 while the caller evaluates page n, and the bounded channel keeps at most
//! two pages in memory whatever the registry's size.

use super::{CitizenRecords, Result, ScanRange, Store};
use crate::registry::PersonalId;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Pages of this many citizens: large enough that per-query costs vanish, small enough that a
/// page is a few megabytes.
pub const SCAN_PAGE: i64 = 5_000;

/// Starts a scan after `after` (None: from the first citizen; a checkpoint to resume). The
/// receiver yields pages in personal-ID order, then closes; an error ends the scan.
pub fn scan_registry(
    store: Arc<Store>,
    after: Option<PersonalId>,
    page: i64,
) -> mpsc::Receiver<Result<Vec<CitizenRecords>>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut after = after;
        loop {
            match store.evaluation_page(after, page).await {
                Ok(rows) if rows.is_empty() => return,
                Ok(rows) => {
                    after = rows.last().map(|r| r.personal_id);
                    // A dropped receiver means the consumer stopped: stop reading too.
                    if tx.send(Ok(rows)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    rx
}

/// Starts a filtered scan over `ranges` one after the other (a commune, or every commune, and a
/// birth range each), in (date of birth, personal ID) pages within each range, read one page
/// ahead like [`scan_registry`]. The staff lists are built on it.
pub fn scan_ranges(
    store: Arc<Store>,
    ranges: Vec<ScanRange>,
    page: i64,
) -> mpsc::Receiver<Result<Vec<CitizenRecords>>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for range in &ranges {
            let mut after = None;
            loop {
                match store.evaluation_page_in(range, after, page).await {
                    Ok(rows) if rows.is_empty() => break,
                    Ok(rows) => {
                        after = rows.last().map(|r| (r.date_of_birth, r.personal_id));
                        let short = (rows.len() as i64) < page;
                        if tx.send(Ok(rows)).await.is_err() {
                            return;
                        }
                        // A short page is the range's last: save the empty query.
                        if short {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        }
    });
    rx
}
