//! The kiosk: the store with its outbox, the glue from reader to rules to store to screen and feed.
//!
//! # Layout
//! - [`ui`]: the screens (Slint) behind a plain view model: `ScreenView` in, `UiEvent` out.
//! - [`texts`]: the message catalogue (Russian and English) for screens and voice.
//! - [`sound`]: tones, spoken clips and names (TTS), played by aplay or into a directory.
//!
//! (filled as the store, screens and feed land.)

pub mod sound;
pub mod texts;
pub mod ui;
