//! The registry: citizens keyed by personal ID, their immunization and ID-card records, and the
//! validation that keeps bad data out (docs/domain.md §1–2).

pub mod admin_units;
pub mod citizen;
pub mod contact;
pub mod dates;
pub mod facility;
pub mod personal_id;
pub mod records;
pub mod scope;
pub mod sex;
pub mod text;

pub use admin_units::AdminUnits;
pub use citizen::{Citizen, CitizenRow, CommuneCode, FieldError, Language};
pub use contact::{Email, Phone};
pub use facility::{Facility, FacilityKind, SessionDays};
pub use personal_id::PersonalId;
pub use records::{IdCardRecord, Immunization};
pub use scope::Scope;
pub use sex::Sex;
