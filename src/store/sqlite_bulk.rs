//! New citizens into SQLite at the speed of the library (issue #14): one prepared INSERT,
//! bound and stepped row by row through SQLite's C API on sqlx's own connection, as the
//! `sqlite3` shell's `.import` does. Through sqlx a row costs eighteen argument values copied,
//! named and sent to the connection's worker thread; here it costs the insert itself.
//!
//! The only unsafe code of the crate is here. It relies on what `LockedSqliteHandle` promises:
//! while it is held, sqlx's worker makes no call on the connection, so this thread may.

use super::{Result, StoreError};
use crate::registry::Citizen;
use chrono::{DateTime, SecondsFormat, Utc};
use libsqlite3_sys as ffi;
use sqlx::sqlite::{LockedSqliteHandle, SqliteConnection};
use std::ffi::{c_char, c_int};
use std::ptr::NonNull;

/// The columns written, named so that every other column (opt-outs, and whatever a later
/// migration adds) takes its default.
const INSERT: &str = "INSERT INTO citizens (personal_id, full_name, sex, date_of_birth, date_of_death, \
    commune_code, household_id, mother_id, father_id, guardian_id, phone, email, language, village, \
    address, created_at, updated_at, created_by) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16, ?17)";

/// Inserts citizens none of whom should be registered, inside the caller's write transaction.
/// `Ok(None)` when one of them is registered after all (the UNIQUE personal ID refused it):
/// the caller rolls back and upserts the batch instead. Any other refusal is the error sqlx
/// would have returned, so `StoreError::is_data_error` tells the same things apart.
pub(super) async fn insert_new(
    conn: &mut SqliteConnection,
    batch: &[&Citizen],
    source: &str,
    now: DateTime<Utc>,
) -> Result<Option<u64>> {
    let mut handle = conn.lock_handle().await?;
    // Written as sqlx writes a `DateTime<Utc>`, so every reader decodes it the same way.
    let now = now.to_rfc3339_opts(SecondsFormat::AutoSi, false);
    let outcome = insert_rows(&mut handle, batch, &now, source);
    match outcome {
        Ok(()) => Ok(Some(batch.len() as u64)),
        Err(code) => {
            let error = handle
                .last_error()
                .map(|e| sqlx::Error::Database(Box::new(e)))
                .unwrap_or_else(|| sqlx::Error::Protocol(format!("SQLite error {code}")));
            if code == ffi::SQLITE_CONSTRAINT_UNIQUE {
                return Ok(None);
            }
            Err(StoreError::from(error))
        }
    }
}

/// A prepared statement, finalized when dropped.
struct Statement(NonNull<ffi::sqlite3_stmt>);

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement came from sqlite3_prepare_v2 and is finalized only here.
        unsafe { ffi::sqlite3_finalize(self.0.as_ptr()) };
    }
}

/// The rows, one step each; the extended result code of the first failure.
fn insert_rows(
    handle: &mut LockedSqliteHandle<'_>,
    batch: &[&Citizen],
    now: &str,
    source: &str,
) -> std::result::Result<(), c_int> {
    let db = handle.as_raw_handle().as_ptr();
    let mut raw = std::ptr::null_mut();
    // SAFETY: `db` is the open connection the lock hands us; the SQL is a valid C string of
    // the given length; `raw` receives the statement or stays null on failure.
    let rc = unsafe {
        ffi::sqlite3_prepare_v2(
            db,
            INSERT.as_ptr() as *const c_char,
            INSERT.len() as c_int,
            &mut raw,
            std::ptr::null_mut(),
        )
    };
    let stmt = match NonNull::new(raw) {
        Some(s) if rc == ffi::SQLITE_OK => Statement(s),
        _ => return Err(extended_code(db, rc)),
    };
    let s = stmt.0.as_ptr();
    let mut dates = String::with_capacity(32);
    for c in batch {
        use std::fmt::Write;
        dates.clear();
        // Both dates in one buffer: `YYYY-MM-DD` as sqlx writes a NaiveDate.
        let _ = write!(dates, "{}", c.date_of_birth.format("%F"));
        let birth_end = dates.len();
        if let Some(d) = c.date_of_death {
            let _ = write!(dates, "{}", d.format("%F"));
        }
        let texts: [Option<&str>; 17] = [
            Some(c.personal_id.as_str()),
            Some(&c.full_name),
            Some(c.sex.code()),
            Some(&dates[..birth_end]),
            c.date_of_death.map(|_| &dates[birth_end..]),
            Some(c.commune_code.as_str()),
            c.household_id.as_deref(),
            c.mother_id.as_ref().map(|p| p.as_str()),
            c.father_id.as_ref().map(|p| p.as_str()),
            c.guardian_id.as_ref().map(|p| p.as_str()),
            c.phone.as_ref().map(|p| p.e164()),
            c.email.as_ref().map(|e| e.as_str()),
            Some(c.language.code()),
            c.village.as_deref(),
            c.address.as_deref(),
            Some(now),
            Some(source),
        ];
        for (i, text) in texts.iter().enumerate() {
            let index = i as c_int + 1;
            // SAFETY: `s` is a live statement with 17 parameters; SQLITE_STATIC is sound
            // because every bound string outlives the step and reset below, which end
            // SQLite's use of it (the next row rebinds every parameter).
            let rc = unsafe {
                match text {
                    Some(t) => ffi::sqlite3_bind_text(
                        s,
                        index,
                        t.as_ptr() as *const c_char,
                        t.len() as c_int,
                        ffi::SQLITE_STATIC(),
                    ),
                    None => ffi::sqlite3_bind_null(s, index),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(extended_code(db, rc));
            }
        }
        // SAFETY: a live statement with all its parameters bound.
        let rc = unsafe { ffi::sqlite3_step(s) };
        if rc != ffi::SQLITE_DONE {
            let code = extended_code(db, rc);
            // SAFETY: as above; resetting keeps the error readable through the connection.
            unsafe { ffi::sqlite3_reset(s) };
            return Err(code);
        }
        // SAFETY: as above.
        unsafe { ffi::sqlite3_reset(s) };
    }
    Ok(())
}

fn extended_code(db: *mut ffi::sqlite3, rc: c_int) -> c_int {
    // SAFETY: `db` is the open connection.
    let extended = unsafe { ffi::sqlite3_extended_errcode(db) };
    if extended & 0xff == rc & 0xff {
        extended
    } else {
        rc
    }
}
