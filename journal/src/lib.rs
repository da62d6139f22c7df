//! The journal server: receives the kiosks' feed, keeps the journal of social services.
//!
//! # Layout
//! - [`ingest`]: pure validation of each message from a kiosk (accept or reject with a reason).
//! - [`store`]: the journal store behind a trait; SQLite by default. Idempotent batch commits,
//!   per-kiosk committed seq, gap detection, rejections kept with their reasons.
//! - [`serve`]: the ingest loop over MQTT (commit, then PUBACK, then the kiosk's ack).
//! - [`config`]: the configuration file, `journal.toml`.
//! - [`provision`]: kiosk credentials and bundles (`provision-kiosk`, `revoke-kiosk`) against
//!   Mosquitto's password file and ACL.
//! - [`enrol`]: card enrolment requests (`enrol-card`): staff ask a kiosk to read a new card.
//! - [`schedule`]: the site's weekly timetable, expanded to the dated schedule kiosks receive.

pub mod config;
pub mod enrol;
pub mod ingest;
pub mod provision;
pub mod schedule;
pub mod serve;
pub mod store;
