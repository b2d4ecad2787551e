//! vongdoi ("vòng đời", life cycle): turns Vietnam's population registry into care that
//! arrives on time — vaccination reminders, school and identity-card notices, staff lists.
//!
//! Modules follow the data's path (ARCHITECTURE.md): `registry` (citizens, IDs, import and
//! export) → `rules` (pure evaluation) → scheduling and delivery → reports. `store` sits beside
//! them.

pub mod alerts;
pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod delivery;
pub mod demo;
pub mod exchange;
pub mod html;
pub mod inbound;
pub mod logging;
pub mod registry;
pub mod reports;
pub mod rules;
pub mod runtime;
pub mod schedule;
pub mod secret;
pub mod serve;
pub mod store;
pub mod text;

#[cfg(test)]
mod layers;
