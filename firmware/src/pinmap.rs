//! The pin map: which bus and which GPIO each part of the kiosk is wired to. It is part of the
//! kiosk's configuration (`[hardware]` in `kiosk.toml`); the defaults are the wiring in
//! `docs/hardware.md` for a Raspberry Pi 4 or 5 (BCM GPIO numbers, not header pin numbers).

use serde::{Deserialize, Serialize};

/// Which card reader the kiosk uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ReaderConfig {
    /// MFRC522 on SPI (the pin map's `spi_*` and `rfid_reset`).
    Mfrc522,
    /// RDM6300-style EM4100 module on a UART.
    Em4100 {
        /// Serial device, e.g. `/dev/serial0`.
        port: String,
    },
    /// A reader that sends one UID per line on a serial port.
    Line {
        /// Serial device, e.g. `/dev/ttyUSB0`.
        port: String,
        /// Baud rate.
        baud: u32,
        /// Number format.
        #[serde(default)]
        format: crate::serial::LineFormat,
    },
    /// A USB keyboard-wedge reader.
    Wedge {
        /// Its evdev node; prefer the stable `/dev/input/by-id/...-event-kbd` link.
        device: String,
        /// Grab it so that its digits do not reach other programs (recommended).
        #[serde(default = "yes")]
        grab: bool,
        /// Number format.
        #[serde(default)]
        format: crate::serial::LineFormat,
    },
    /// The simulated reader (desktop demo, tests).
    Sim,
}

fn yes() -> bool {
    true
}

/// Buses and BCM GPIO numbers. `None` means "not fitted".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PinMap {
    /// The card reader.
    pub reader: ReaderConfig,
    /// spidev node of the MFRC522 (linux backend): SPI0, chip select CE0.
    pub spi_device: String,
    /// SPI bus number (rpi backend): 0 = SPI0.
    pub spi_bus: u8,
    /// Chip select (rpi backend): 0 = CE0 (GPIO8).
    pub spi_chip_select: u8,
    /// SPI clock. The MFRC522 allows up to 10 MHz (datasheet §8.1.2); 4 MHz leaves margin for
    /// jumper wires.
    pub spi_clock_hz: u32,
    /// MFRC522 NRSTPD (reset, active low).
    pub rfid_reset: Option<u8>,
    /// Buzzer (active buzzer through a transistor; high = sound).
    pub buzzer: Option<u8>,
    /// Green light.
    pub green: Option<u8>,
    /// Red light.
    pub red: Option<u8>,
    /// Relay (door, turnstile); usually not fitted.
    pub relay: Option<u8>,
    /// How long the relay is energised on an accepted tap, in milliseconds.
    pub relay_pulse_ms: u64,
    /// PIR presence sensor output (high = motion).
    pub pir: Option<u8>,
    /// I2C bus of the DS3231 (1 = I2C1 on GPIO2/GPIO3); `None` if no RTC is fitted.
    pub rtc_i2c_bus: Option<u8>,
    /// GPIO character device (linux backend). On a Pi 5 with a kernel older than 6.6.45 the
    /// header is `/dev/gpiochip4`.
    pub gpio_chip: String,
}

impl Default for PinMap {
    fn default() -> Self {
        PinMap {
            reader: ReaderConfig::Mfrc522,
            spi_device: "/dev/spidev0.0".into(),
            spi_bus: 0,
            spi_chip_select: 0,
            spi_clock_hz: 4_000_000,
            rfid_reset: Some(25),
            buzzer: Some(18),
            green: Some(23),
            red: Some(24),
            relay: None,
            relay_pulse_ms: 1000,
            pir: Some(22),
            rtc_i2c_bus: Some(1),
            gpio_chip: "/dev/gpiochip0".into(),
        }
    }
}

impl PinMap {
    /// The i2c-dev node of the RTC bus.
    pub fn rtc_i2c_device(&self) -> Option<String> {
        self.rtc_i2c_bus.map(|b| format!("/dev/i2c-{b}"))
    }

    /// GPIOs used twice (a wiring mistake the kiosk refuses to start with).
    pub fn conflicts(&self) -> Vec<u8> {
        let mut used: Vec<u8> = [
            self.rfid_reset,
            self.buzzer,
            self.green,
            self.red,
            self.relay,
            self.pir,
        ]
        .into_iter()
        .flatten()
        .collect();
        // SPI0 (GPIO 7..=11) and I2C1 (GPIO 2, 3) are taken by their buses.
        if matches!(self.reader, ReaderConfig::Mfrc522) {
            used.extend([8, 9, 10, 11]);
        }
        if self.rtc_i2c_bus == Some(1) {
            used.extend([2, 3]);
        }
        used.sort_unstable();
        let mut dup: Vec<u8> = used
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        dup.dedup();
        dup
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_hardware_section_gives_the_pi_defaults() {
        let m: PinMap = toml::from_str("").unwrap();
        assert_eq!(m, PinMap::default());
        assert!(m.conflicts().is_empty());
        assert_eq!(m.rtc_i2c_device().as_deref(), Some("/dev/i2c-1"));
    }

    #[test]
    fn a_config_overrides_and_reports_conflicts() {
        let m: PinMap = toml::from_str(
            r#"
            buzzer = 23
            relay = 17
            reader = { kind = "wedge", device = "/dev/input/by-id/usb-reader-event-kbd" }
            "#,
        )
        .unwrap();
        assert_eq!(m.relay, Some(17));
        assert_eq!(m.conflicts(), vec![23]);
        assert!(matches!(m.reader, ReaderConfig::Wedge { grab: true, .. }));
        assert!(toml::from_str::<PinMap>("bogus = 1").is_err());
    }
}
