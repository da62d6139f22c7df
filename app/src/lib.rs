//! The kiosk: the store with its outbox, the glue from reader to rules to store to screen and feed.
//!
//! # Layout
//! - [`store`]: SQLite (WAL, synchronous=FULL): outbox/event log, sessions, check-ins, documents.
//! - [`kiosk`]: people's commands (tap, sign in, start, override, undo, end) and the kiosk's own
//!   messages → decisions → durable events; a file per concern (`kiosk/tap.rs`, `session.rs`…).
//! - [`config`]: the configuration file, `kiosk.toml`.
//! - [`worker`]: the thread that owns the kiosk; everyone else sends it commands.
//! - [`control`]: the control socket (`otmetka-kiosk ctl`).
//! - [`feed`]: the outbox drained over MQTT, marked delivered on the journal's ack.
//! - [`clock`]: the one place that reads the system time.
//! - [`screens`]: which screen is shown when: the flow of replies and screen events → views,
//!   and the glue that plays the voice and the lights with them.
//! - [`reader`]: the configured card reader on its own thread: taps to the worker, its health,
//!   reopening a reader that fails.
//! - [`signals`]: lights, buzzer and relay following each tap result (firmware patterns).
//! - [`ui`]: the screens (Slint) behind a plain view model: `ScreenView` in, `UiEvent` out.
//! - [`texts`]: the message catalogue (Russian and English) for screens and voice.
//! - [`sound`]: tones, spoken clips and names (TTS), played by aplay or into a directory.

pub mod clock;
pub mod config;
pub mod control;
pub mod crash;
pub mod display;
pub mod feed;
pub mod health;
pub mod kiosk;
pub mod reader;
pub mod screens;
pub mod signals;
pub mod sound;
/// The store is its own crate (`kiosk-store/`): the Pi's tests run it under qemu without Slint.
pub use otmetka_kiosk_store as store;
pub mod texts;
pub mod ui;
pub mod worker;
