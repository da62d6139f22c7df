//! The journal server: receives the kiosks' feed, keeps the journal of social services, and
//! serves the staff's pages.
//!
//! # Layout
//! - [`serve`]: `otmetka-journal serve`: the feed and the web server in one process, with one
//!   shutdown ([`shutdown`]).
//! - [`feed`]: the thin MQTT task: messages in, batches committed, PUBACKs and kiosk acks out,
//!   documents and card requests published.
//! - [`ingest`]: sans I/O: judging each message ([`ingest::judge`]) and the batcher
//!   ([`ingest::batch`]) that says when to commit and what to publish after.
//! - [`store`]: the journal store: the trait, its error, one module per engine (SQLite), and
//!   numbered migrations; the engine is picked from the configured database.
//! - [`web`]: the web server: router and one file per page.
//! - [`export`]: exports of the units (CSV and XLSX, streamed from the store; the pages' exports
//!   in the background, kept a day).
//! - [`plan`]: plan vs fact, sans I/O: a programme item judged over the periods it counts in.
//! - [`documents`]: what the journal publishes to kiosks: catalogue, rosters, schedules.
//! - [`schedule`]: the site's weekly timetable, expanded to the dated schedule kiosks receive.
//! - [`provision`]: kiosk credentials and bundles (`provision-kiosk`, `revoke-kiosk`) against
//!   Mosquitto's password file and ACL.
//! - [`enrol`]: card enrolment requests (`enrol-card`): staff ask a kiosk to read a new card.
//! - [`config`]: the configuration file, `journal.toml`.
//! - [`clock`]: the one place that reads the time.
//! - [`error`]: the library's error enum.

pub mod clock;
pub mod config;
pub mod documents;
pub mod enrol;
pub mod error;
pub mod export;
pub mod feed;
pub mod ingest;
pub mod plan;
pub mod provision;
pub mod schedule;
pub mod serve;
pub mod shutdown;
pub mod store;
pub mod web;

pub use error::Error;
