//! CDSi schedules (issue #17): the US CDC's immunization logic and its supporting data.
//!
//! `xml` reads the CDC's supporting data; `store` writes and reads it as a rules folder
//! (`vongdoi rules from-cdsi`); `evaluate` and `forecast` follow the CDSi logic steps —
//! evaluate each dose against each series, select the best series, forecast the next dose of
//! each vaccine group. Evaluation is pure: a schedule, a person, their doses and a date in,
//! a forecast out.

pub mod cases;
pub mod evaluate;
pub mod folder;
pub mod forecast;
pub(crate) mod items;
pub mod model;
mod select;
pub mod span;
pub mod xml;
