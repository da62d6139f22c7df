//! Register-level simulators of the kiosk's hardware, for tests and the desktop demo.
//!
//! They implement the same embedded-hal traits as the real buses, so the real drivers run
//! against them unchanged. Each models the datasheet's registers, not the driver's calls: a
//! driver that reads the wrong register or forgets a step fails against them.
//!
//! # Layout
//! - [`mfrc522`]: a virtual MFRC522 on SPI with virtual ISO 14443 A cards.
//! - [`pins`]: virtual GPIO pins that record their edges, and a scripted input pin.
//! - [`ds3231`]: a virtual DS3231 register file on I2C.

pub mod ds3231;
pub mod mfrc522;
pub mod pins;
