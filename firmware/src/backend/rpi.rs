//! The Raspberry Pi backend (rppal 0.22 with its embedded-hal 1.0 `hal` feature).
//!
//! rppal drives the SPI and I2C buses through the kernel's spidev and i2c-dev, and GPIO through
//! `/dev/gpiomem` (Pi 4) or `/dev/gpiochip*` (Pi 5); the same groups as for the `linux` backend.

use crate::Error;
use crate::ds3231::Ds3231;
use crate::mfrc522::{Config, Mfrc522, OptionalPin};
use crate::pinmap::PinMap;
use crate::presence::{PirSensor, PresenceFilter};
use crate::signal::Indicators;
use rppal::gpio::{Gpio, InputPin, OutputPin};
use rppal::hal::Delay;
use rppal::i2c::I2c;
use rppal::spi::{Bus, Mode, SimpleHalSpiDevice, SlaveSelect, Spi};

/// The MFRC522 on this backend.
pub type Reader = Mfrc522<SimpleHalSpiDevice, OptionalPin<OutputPin>, Delay>;

fn gpio() -> Result<Gpio, Error> {
    Gpio::new().map_err(|e| Error::Bus(format!("GPIO: {e}")))
}

fn output(gpio: &Gpio, pin: u8) -> Result<OutputPin, Error> {
    gpio.get(pin)
        .map(|p| p.into_output_low())
        .map_err(|e| Error::Bus(format!("GPIO{pin}: {e}")))
}

fn input(gpio: &Gpio, pin: u8) -> Result<InputPin, Error> {
    // The PIR module drives its output; a pull-down keeps an unplugged sensor at "nobody".
    gpio.get(pin)
        .map(|p| p.into_input_pulldown())
        .map_err(|e| Error::Bus(format!("GPIO{pin}: {e}")))
}

/// Opens the MFRC522 on the configured SPI bus and chip select (mode 0) and its reset pin.
/// Does not initialise it: call [`Mfrc522::init`].
#[tracing::instrument(skip_all)]
pub fn open_mfrc522(map: &PinMap, config: Config) -> Result<Reader, Error> {
    let bus = match map.spi_bus {
        0 => Bus::Spi0,
        1 => Bus::Spi1,
        n => return Err(Error::Bus(format!("SPI bus {n} is not supported"))),
    };
    let ss = match map.spi_chip_select {
        0 => SlaveSelect::Ss0,
        1 => SlaveSelect::Ss1,
        2 => SlaveSelect::Ss2,
        n => return Err(Error::Bus(format!("SPI chip select {n} is not supported"))),
    };
    let spi = Spi::new(bus, ss, map.spi_clock_hz, Mode::Mode0)
        .map_err(|e| Error::Bus(format!("SPI{}.{}: {e}", map.spi_bus, map.spi_chip_select)))?;
    let reset = match map.rfid_reset {
        Some(pin) => Some(output(&gpio()?, pin)?),
        None => None,
    };
    Ok(Mfrc522::with_reset(
        SimpleHalSpiDevice::new(spi),
        OptionalPin(reset),
        Delay::new(),
        config,
    ))
}

/// Opens the buzzer, lights and relay pins that are fitted.
#[tracing::instrument(skip_all)]
pub fn open_indicators(map: &PinMap) -> Result<Indicators<OutputPin>, Error> {
    let gpio = gpio()?;
    let out = |p: Option<u8>| p.map(|pin| output(&gpio, pin)).transpose();
    Ok(Indicators::new(
        out(map.buzzer)?,
        out(map.green)?,
        out(map.red)?,
        out(map.relay)?,
    ))
}

/// Opens the PIR input, if fitted.
#[tracing::instrument(skip_all)]
pub fn open_pir(
    map: &PinMap,
    filter: PresenceFilter,
) -> Result<Option<PirSensor<InputPin>>, Error> {
    match map.pir {
        Some(pin) => Ok(Some(PirSensor::new(input(&gpio()?, pin)?, filter))),
        None => Ok(None),
    }
}

/// Opens the DS3231 on the configured I2C bus, if fitted.
#[tracing::instrument(skip_all)]
pub fn open_rtc(map: &PinMap) -> Result<Option<Ds3231<I2c>>, Error> {
    match map.rtc_i2c_bus {
        Some(bus) => {
            let i2c = I2c::with_bus(bus).map_err(|e| Error::Bus(format!("I2C{bus}: {e}")))?;
            Ok(Some(Ds3231::new(i2c)))
        }
        None => Ok(None),
    }
}
