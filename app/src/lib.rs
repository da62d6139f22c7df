//! The kiosk: the store with its outbox, the glue from reader to rules to store to screen and feed.
//!
//! # Layout
//! - [`store`]: SQLite (WAL, synchronous=FULL): outbox/event log, sessions, check-ins, documents.
//! - [`kiosk`]: commands (tap, sign in, start, override, undo, end) → decisions → durable events.
//! - [`config`]: the configuration file, `kiosk.toml`.
//! - [`worker`]: the thread that owns the kiosk; everyone else sends it commands.
//! - [`control`]: the control socket (`otmetka-kiosk ctl`).
//! - [`feed`]: the outbox drained over MQTT, marked delivered on the journal's ack.
//! - [`clock`]: the one place that reads the system time.

pub mod clock;
pub mod config;
pub mod control;
pub mod feed;
pub mod kiosk;
pub mod store;
pub mod worker;
