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

use crate::delay::NoDelay;
use crate::mfrc522::{Config, Mfrc522, NoPin};

/// Our MFRC522 driver on a simulated chip: what `reader = "sim"` runs.
pub type SimReader = Mfrc522<mfrc522::SimMfrc522, NoPin, NoDelay>;

/// A simulated reader, initialised, with a handle on its field (place and remove cards with
/// it, e.g. for `otmetka-kiosk ctl tap UID`). The real driver runs against the simulated chip,
/// so the demo exercises the code the Pi runs.
pub fn reader()
-> Result<(mfrc522::SimMfrc522, SimReader), crate::mfrc522::Error<mfrc522::SimBusFault>> {
    let chip = mfrc522::SimMfrc522::default();
    let mut rc = Mfrc522::new(chip.clone(), NoDelay, Config::default());
    rc.init()?;
    Ok((chip, rc))
}
