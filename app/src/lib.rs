//! The kiosk: the store with its outbox, the glue from reader to rules to store to screen and feed.
//!
//! # Layout
//! - [`store`]: SQLite (WAL, synchronous=FULL): outbox/event log, sessions, check-ins, documents.

pub mod store;
