//! Kiosk hardware: card readers, buzzer and lights, presence sensor, real-time clock.
//!
//! Everything that talks to a bus is generic over the `embedded-hal` 1.0 traits
//! (`SpiDevice`, `I2c`, `OutputPin`, `InputPin`, `DelayNs`), so the same driver runs on a
//! Raspberry Pi (feature `rpi`), on any Linux board (feature `linux`) and against the
//! register-level simulators (feature `sim`, on by default) that the tests and the desktop demo use.
//! Protocol logic is pure (frames, CRCs, decoders, debouncing, light patterns); the I/O loops
//! are thin and every polling loop is bounded.
//!
//! # Layout
//! - [`tap`]: the [`tap::CardReader`] trait, [`tap::Tap`] and the debouncer that turns repeated
//!   reads into taps (time is passed in).
//! - [`iso14443a`]: pure ISO/IEC 14443-3 type A helpers: CRC_A, BCC, ATQA/SAK, frame building.
//! - [`mfrc522`]: our MFRC522 driver over SPI (init, self-test, WUPA/REQA, anticollision and
//!   select through three cascade levels, HLTA).
//! - [`serial`]: 125 kHz EM4100 (RDM6300-style) and line-per-UID serial readers: pure decoders
//!   plus a thin `serialport` loop.
//! - [`wedge`]: USB keyboard-wedge readers: evdev `input_event` decoding and device grabbing.
//! - [`signal`]: buzzer and light patterns (accepted, refused, warning, error) as pure step
//!   sequences, their player, the relay.
//! - [`presence`]: the debounced PIR presence input.
//! - [`ds3231`]: the DS3231 real-time clock over I2C (BCD, century, 12/24 h, OSF).
//! - [`pinmap`]: the pin map (serde, for the kiosk's config) with Raspberry Pi 4/5 defaults.
//! - [`delay`]: a `DelayNs` over `std::thread::sleep`.
//! - `sim` (feature `sim`): register-level simulators: [`sim::mfrc522`], [`sim::pins`],
//!   [`sim::ds3231`].
//! - `backend` (features `linux`, `rpi`): constructors that open the configured devices.
//! - [`error`]: the crate's error enum.

pub mod delay;
pub mod ds3231;
pub mod error;
pub mod iso14443a;
pub mod mfrc522;
pub mod pinmap;
pub mod presence;
pub mod serial;
pub mod signal;
pub mod tap;
pub mod wedge;

#[cfg(any(feature = "linux", feature = "rpi"))]
pub mod backend;
#[cfg(feature = "sim")]
pub mod sim;

pub use error::Error;
pub use tap::{CardReader, Debouncer, ReaderKind, Tap, TapReader};
