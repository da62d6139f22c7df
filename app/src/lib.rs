//! The kiosk: the store with its outbox, the glue from reader to rules to store to screen and feed.
//!
//! # Layout
//! - [`store`]: SQLite (WAL, synchronous=FULL): outbox/event log, sessions, check-ins, documents.
//! - [`kiosk`]: commands (tap, sign in, start, override, undo, end) → decisions → durable events.
//! - [`roster`]: the roster with card hashes indexed; roster files with raw numbers (bootstrap).
//! - [`cards`]: keyed card hashes (HMAC with the site secret) and the collision-reporting index.
//! - [`config`]: the configuration file, `kiosk.toml`.
//! - [`worker`]: the thread that owns the kiosk; everyone else sends it commands.
//! - [`control`]: the control socket (`otmetka-kiosk ctl`).
//! - [`clock`]: the one place that reads the system time.

pub mod cards;
pub mod clock;
pub mod config;
pub mod control;
pub mod kiosk;
pub mod roster;
pub mod store;
pub mod worker;
