//! The generic Linux backend (linux-embedded-hal 0.5).
//!
//! Needs `dtparam=spi=on` and `dtparam=i2c_arm=on` on a Pi, and access to `/dev/spidev0.0`,
//! `/dev/gpiochip0` and `/dev/i2c-1` (groups `spi`, `gpio`, `i2c`; see `docs/hardware.md`).

use crate::Error;
use crate::ds3231::Ds3231;
use crate::mfrc522::{Config, Mfrc522, OptionalPin};
use crate::pinmap::PinMap;
use crate::presence::{PirSensor, PresenceFilter};
use crate::signal::Indicators;
use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
use linux_embedded_hal::{CdevPin, Delay, I2cdev, SpidevDevice};

/// The MFRC522 on this backend.
pub type Reader = Mfrc522<SpidevDevice, OptionalPin<CdevPin>, Delay>;

const CONSUMER: &str = "otmetka";

fn gpio(chip: &mut Chip, line: u8, output: bool) -> Result<CdevPin, Error> {
    let flags = if output {
        LineRequestFlags::OUTPUT
    } else {
        LineRequestFlags::INPUT
    };
    let handle = chip
        .get_line(u32::from(line))
        .and_then(|l| l.request(flags, 0, CONSUMER))
        .map_err(|e| Error::Bus(format!("GPIO{line}: {e}")))?;
    CdevPin::new(handle).map_err(|e| Error::Bus(format!("GPIO{line}: {e}")))
}

fn open_chip(map: &PinMap) -> Result<Chip, Error> {
    Chip::new(&map.gpio_chip).map_err(|e| Error::Bus(format!("{}: {e}", map.gpio_chip)))
}

/// Opens the MFRC522 on the configured spidev node (mode 0, 8 bits) and reset line. Does not
/// initialise it: call [`Mfrc522::init`].
#[tracing::instrument(skip_all)]
pub fn open_mfrc522(map: &PinMap, config: Config) -> Result<Reader, Error> {
    let mut spi = SpidevDevice::open(&map.spi_device)
        .map_err(|e| Error::Bus(format!("{}: {e}", map.spi_device)))?;
    let options = SpidevOptions::new()
        .bits_per_word(8)
        .max_speed_hz(map.spi_clock_hz)
        .mode(SpiModeFlags::SPI_MODE_0)
        .build();
    spi.configure(&options)
        .map_err(|e| Error::Bus(format!("{}: {e}", map.spi_device)))?;
    let reset = match map.rfid_reset {
        Some(line) => Some(gpio(&mut open_chip(map)?, line, true)?),
        None => None,
    };
    Ok(Mfrc522::with_reset(spi, OptionalPin(reset), Delay, config))
}

/// Opens the buzzer, lights and relay lines that are fitted.
#[tracing::instrument(skip_all)]
pub fn open_indicators(map: &PinMap) -> Result<Indicators<CdevPin>, Error> {
    let mut chip = open_chip(map)?;
    let mut out = |p: Option<u8>| p.map(|l| gpio(&mut chip, l, true)).transpose();
    Ok(Indicators::new(
        out(map.buzzer)?,
        out(map.green)?,
        out(map.red)?,
        out(map.relay)?,
    ))
}

/// Opens the PIR input, if fitted.
#[tracing::instrument(skip_all)]
pub fn open_pir(map: &PinMap, filter: PresenceFilter) -> Result<Option<PirSensor<CdevPin>>, Error> {
    match map.pir {
        Some(line) => Ok(Some(PirSensor::new(
            gpio(&mut open_chip(map)?, line, false)?,
            filter,
        ))),
        None => Ok(None),
    }
}

/// Opens the DS3231 on the configured I2C bus, if fitted.
#[tracing::instrument(skip_all)]
pub fn open_rtc(map: &PinMap) -> Result<Option<Ds3231<I2cdev>>, Error> {
    match map.rtc_i2c_device() {
        Some(path) => {
            let i2c = I2cdev::new(&path).map_err(|e| Error::Bus(format!("{path}: {e}")))?;
            Ok(Some(Ds3231::new(i2c)))
        }
        None => Ok(None),
    }
}
