//! The integration tests, as one binary (one link instead of one per file): each module is
//! what was a test file, `support` is what they share (databases on both backends, the binary,
//! `serve`, the fixtures under `tests/fixtures/`, outbox and mail readers, the API client, the
//! browser, the rule-engine helpers).

#[macro_use]
mod support;

mod accounts;
mod alerts;
mod api;
mod api_contract;
mod bulk_import;
mod cdsi;
mod delivery;
mod facilities;
mod forecast_cli;
mod import_export;
mod inbound;
mod incremental;
mod records;
mod reminders;
mod reports;
mod rules_catchup;
mod rules_check;
mod rules_conditions;
mod rules_evaluate;
mod rules_forecast;
mod scheduler;
mod school_places;
mod security;
mod serve;
mod serve_shared;
mod shards;
mod sms_duplicate;
mod station;
mod store_contract;
mod worklist;
mod zns;
mod zns_hold;
