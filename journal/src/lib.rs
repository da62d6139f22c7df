//! The journal server: receives the kiosks' feed, keeps the journal of social services.
//!
//! # Layout
//! - [`ingest`]: pure validation of each message from a kiosk (accept or reject with a reason).
//! - [`store`]: the journal store behind a trait; SQLite by default. Idempotent batch commits,
//!   per-kiosk committed seq, gap detection, rejections kept with their reasons.

pub mod ingest;
pub mod store;
