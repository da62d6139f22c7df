//! Constructors that open the configured devices on real hardware.
//!
//! # Layout
//! - `linux` (feature `linux`): linux-embedded-hal: spidev, GPIO character device, i2c-dev.
//!   Works on any Linux board, Pi included.
//! - `rpi` (feature `rpi`): rppal, talking to the Pi's peripherals directly.

#[cfg(feature = "linux")]
pub mod linux;
#[cfg(feature = "rpi")]
pub mod rpi;
