//! The registry's CSV in and out: streaming import with an error report (bad rows reported at
//! their line and field, good rows kept), export in the import format, and the reader that
//! caps a line's length; the facilities file (health stations, police posts, schools) and
//! what it reads as the school places file does ([`table`]: CSV from a spreadsheet, bad rows
//! at their line). Above the store (it writes through it), below everything that runs.

pub mod error_report;
pub mod export;
pub mod facilities;
pub mod import;
pub mod line_limit;
pub mod read;
pub mod table;
