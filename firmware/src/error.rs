//! The crate's error enum: what a caller (the kiosk) branches on when a device misbehaves.

use otmetka_core::card::CardError;

/// Why a hardware operation failed. Driver-level errors (`mfrc522::Error<E>`,
/// `ds3231::Error<E>`) carry the bus error type; they convert into this type-erased enum at the
/// [`crate::tap::CardReader`] boundary so that the kiosk can hold any reader behind one trait.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reader chip did not answer on its bus (no chip, wrong wiring, no power).
    #[error("the card reader does not answer on its bus (check wiring and power): {0}")]
    NoReader(String),
    /// A bounded polling loop ran out before the device answered.
    #[error("the device did not answer in time")]
    Timeout,
    /// The RF exchange with a card failed (CRC, parity, collision, protocol, BCC).
    #[error("card communication failed: {0}")]
    Rf(String),
    /// The bus itself failed (SPI, I2C, GPIO).
    #[error("bus error: {0}")]
    Bus(String),
    /// A reader delivered something that is not a card number.
    #[error("not a card: {0}")]
    Card(#[from] CardError),
    /// A serial or keyboard-wedge reader sent a malformed frame.
    #[error("malformed reader output: {0}")]
    Decode(#[from] crate::serial::DecodeError),
    /// Reading a device file failed.
    #[error("device I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Opening or reading a serial port failed.
    #[error("serial port: {0}")]
    Serial(String),
    /// The real-time clock failed or holds an invalid time.
    #[error("real-time clock: {0}")]
    Rtc(String),
}

impl Error {
    /// Whether the error concerns one read (a card pulled away mid-read, RF noise, a garbled
    /// frame) rather than the device: the kiosk keeps polling and only logs it. A persistent
    /// error (no reader, bus failure, device gone) should be shown to staff.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Timeout | Error::Rf(_) | Error::Card(_) | Error::Decode(_)
        )
    }
}

impl From<serialport::Error> for Error {
    fn from(e: serialport::Error) -> Self {
        Error::Serial(e.to_string())
    }
}
