//! Our MFRC522 driver, over an embedded-hal 1.0 `SpiDevice`.
//!
//! Why our own and not the published `mfrc522` crate 0.8: that crate polls the chip in
//! unbounded loops (`reset` and `transceive` spin until a bit changes, so a missing chip hangs
//! the kiosk), reads `CollReg`'s collision position as if it counted from the start of the UID
//! field rather than from the first FIFO byte, and returns untyped `Error` without `Display`.
//! We need every loop bounded (a dead bus must end in `Error::Timeout`), 10-byte UIDs, typed
//! errors and a count of bus transactions. The published crate is still used in our tests as a
//! second, independent implementation run against our simulator (see `docs/hardware.md`).
//!
//! Register and bit names follow the NXP MFRC522 datasheet (rev. 3.9, §9 "register
//! description", §10 "command set"). SPI framing follows §8.1.2: the address byte is
//! `1AAAAAA0` for a read and `0AAAAAA0` for a write; in one read transaction every further
//! address byte clocks out the value of the previous address.
//!
//! CRC_A is computed in software ([`crate::iso14443a::crc_a`]), not by the chip's CRC
//! coprocessor: the result is the same and it saves about seven bus transactions per frame.
//!
//! Flow of one [`Mfrc522::read_uid`]: WUPA (so that a card left resting on the reader, which
//! we halted after the previous read, answers again), anticollision and SELECT at up to three
//! cascade levels, then HLTA.

use crate::iso14443a::{self as a, CascadeLevel};
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::{Operation, SpiDevice};

/// Register addresses (datasheet §9.2, table 20).
pub mod reg {
    /// Starts and stops command execution.
    pub const COMMAND: u8 = 0x01;
    /// Interrupt request bits (ComIrqReg).
    pub const COM_IRQ: u8 = 0x04;
    /// Interrupt request bits (DivIrqReg).
    pub const DIV_IRQ: u8 = 0x05;
    /// Error bits of the last command.
    pub const ERROR: u8 = 0x06;
    /// Receiver and transmitter status.
    pub const STATUS2: u8 = 0x08;
    /// FIFO input and output.
    pub const FIFO_DATA: u8 = 0x09;
    /// Number of bytes in the FIFO; bit 7 flushes it.
    pub const FIFO_LEVEL: u8 = 0x0A;
    /// Miscellaneous control; RxLastBits in bits 2..0.
    pub const CONTROL: u8 = 0x0C;
    /// StartSend, RxAlign, TxLastBits.
    pub const BIT_FRAMING: u8 = 0x0D;
    /// First bit collision detected.
    pub const COLL: u8 = 0x0E;
    /// General mode (CRC preset).
    pub const MODE: u8 = 0x11;
    /// Transmission data rate and framing.
    pub const TX_MODE: u8 = 0x12;
    /// Reception data rate and framing.
    pub const RX_MODE: u8 = 0x13;
    /// Antenna driver pins TX1/TX2.
    pub const TX_CONTROL: u8 = 0x14;
    /// Transmit modulation (Force100ASK).
    pub const TX_ASK: u8 = 0x15;
    /// Receiver gain.
    pub const RF_CFG: u8 = 0x26;
    /// Timer mode (TAuto) and prescaler high bits.
    pub const T_MODE: u8 = 0x2A;
    /// Timer prescaler low bits.
    pub const T_PRESCALER: u8 = 0x2B;
    /// Timer reload, high byte.
    pub const T_RELOAD_H: u8 = 0x2C;
    /// Timer reload, low byte.
    pub const T_RELOAD_L: u8 = 0x2D;
    /// Chip version.
    pub const VERSION: u8 = 0x37;
}

/// Commands for CommandReg (datasheet §10.3, table 149).
pub mod cmd {
    /// No action; cancels the current command.
    pub const IDLE: u8 = 0b0000;
    /// Transmits the FIFO, then stops.
    pub const TRANSMIT: u8 = 0b0100;
    /// Transmits the FIFO and receives the answer.
    pub const TRANSCEIVE: u8 = 0b1100;
    /// Resets the chip.
    pub const SOFT_RESET: u8 = 0b1111;
}

// Bits (datasheet §9.3.1).
const POWER_DOWN: u8 = 1 << 4; // CommandReg
const TIMER_IRQ: u8 = 1 << 0; // ComIrqReg
const ERR_IRQ: u8 = 1 << 1;
const IDLE_IRQ: u8 = 1 << 4;
const RX_IRQ: u8 = 1 << 5;
const TX_IRQ: u8 = 1 << 6;
const ALL_COM_IRQ: u8 = 0x7F; // Set1 = 0: clears every request bit
const FLUSH: u8 = 1 << 7; // FIFOLevelReg
const START_SEND: u8 = 1 << 7; // BitFramingReg
const COLL_POS_NOT_VALID: u8 = 1 << 5; // CollReg
const VALUES_AFTER_COLL: u8 = 1 << 7;
const ERR_PROTOCOL: u8 = 1 << 0; // ErrorReg
const ERR_PARITY: u8 = 1 << 1;
const ERR_CRC: u8 = 1 << 2;
const ERR_COLL: u8 = 1 << 3;
const ERR_BUFFER_OVFL: u8 = 1 << 4;
const ERR_TEMP: u8 = 1 << 6;
const ERR_WR: u8 = 1 << 7;
const TX_RF_EN: u8 = 0b11; // TxControlReg Tx1RFEn | Tx2RFEn
const FORCE_100_ASK: u8 = 1 << 6; // TxASKReg
const FIFO_SIZE: usize = 64;

/// Receiver gain (RFCfgReg RxGain, datasheet §9.3.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RxGain {
    /// 18 dB.
    Db18,
    /// 23 dB.
    Db23,
    /// 33 dB (chip default).
    Db33,
    /// 38 dB.
    Db38,
    /// 43 dB.
    Db43,
    /// 48 dB (maximum; helps with cheap antennas and thick card holders).
    Db48,
}

impl RxGain {
    /// The RFCfgReg value.
    pub fn bits(self) -> u8 {
        let g = match self {
            RxGain::Db18 => 0b000,
            RxGain::Db23 => 0b001,
            RxGain::Db33 => 0b100,
            RxGain::Db38 => 0b101,
            RxGain::Db43 => 0b110,
            RxGain::Db48 => 0b111,
        };
        g << 4
    }
}

/// What VersionReg says (datasheet §9.3.4.8; clone values seen on market modules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 0x91: MFRC522 version 1.0.
    V1,
    /// 0x92: MFRC522 version 2.0.
    V2,
    /// A known clone (0x88 FM17522, 0x12 and 0xB2 counterfeits): works for UIDs.
    Clone(u8),
}

/// Driver settings. The defaults suit a Raspberry Pi polling every 50 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Receiver gain.
    pub gain: RxGain,
    /// Most ComIrqReg reads while waiting for one card answer before `Error::Timeout`.
    pub max_irq_polls: u16,
    /// Pause between two ComIrqReg reads.
    pub irq_poll_pause_ns: u32,
    /// Most CommandReg reads while waiting for the soft reset to finish.
    pub max_reset_polls: u16,
    /// Pause between two reset polls.
    pub reset_poll_pause_ns: u32,
    /// Timer reload value: the chip reports "no answer" after this many 25 µs ticks.
    pub timeout_ticks: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gain: RxGain::Db48,
            // 1 ms chip timeout (40 ticks of 25 µs); 60 polls 100 µs apart give the chip six
            // times that before we give up on it.
            max_irq_polls: 60,
            irq_poll_pause_ns: 100_000,
            // The oscillator restarts within 37.74 µs after a soft reset (datasheet §8.8.2);
            // 50 polls 1 ms apart is far beyond that.
            max_reset_polls: 50,
            reset_poll_pause_ns: 1_000_000,
            timeout_ticks: 40,
        }
    }
}

/// Why a driver operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error<E> {
    /// The SPI bus failed.
    #[error("SPI bus error: {0:?}")]
    Spi(E),
    /// The reset pin could not be driven.
    #[error("reset pin error")]
    ResetPin,
    /// No card answered before the chip's timer ran out (or a soft reset never finished).
    #[error("timeout")]
    Timeout,
    /// The chip raised no interrupt (no answer, no timer) within `max_irq_polls` reads: the
    /// chip is absent, hung, or its timer is not running.
    #[error("the reader chip raised no interrupt in time")]
    ChipSilent,
    /// VersionReg read 0x00 or 0xFF: nothing answers on the bus.
    #[error("no MFRC522 on the bus (VersionReg reads {0:#04x})")]
    NoChip(u8),
    /// VersionReg holds a value we do not know.
    #[error("unknown chip version {0:#04x}")]
    UnknownVersion(u8),
    /// A register did not keep the value we wrote (self-test).
    #[error("self-test failed: register {reg:#04x} reads {read:#04x}, expected {expected:#04x}")]
    SelfTest {
        /// Register address.
        reg: u8,
        /// What we wrote.
        expected: u8,
        /// What we read back.
        read: u8,
    },
    /// A frame from the card failed its CRC_A.
    #[error("CRC error")]
    Crc,
    /// A byte from the card failed its parity.
    #[error("parity error")]
    Parity,
    /// The chip reported a protocol error (or a write error).
    #[error("protocol error")]
    Protocol,
    /// Cards collided and the collision could not be resolved.
    #[error("collision")]
    Collision,
    /// The FIFO overflowed.
    #[error("FIFO overflow")]
    BufferOverflow,
    /// The chip is overheating and switched the antenna off.
    #[error("chip overheated")]
    Overheated,
    /// The UID CLn check byte was wrong.
    #[error("BCC mismatch")]
    Bcc,
    /// The card's answer had the wrong length.
    #[error("incomplete frame: {bits} bits")]
    IncompleteFrame {
        /// Bits received.
        bits: usize,
    },
    /// The cascade did not follow the standard (no cascade tag, or a fourth level).
    #[error("cascade error")]
    Cascade,
}

/// A reset pin that does not exist (the MFRC522's NRSTPD tied high).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPin;

impl embedded_hal::digital::ErrorType for NoPin {
    type Error = core::convert::Infallible;
}

impl OutputPin for NoPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A reset pin that may or may not be wired (chosen at run time from the pin map).
#[derive(Debug)]
pub struct OptionalPin<P>(pub Option<P>);

impl<P: OutputPin> embedded_hal::digital::ErrorType for OptionalPin<P> {
    type Error = P::Error;
}

impl<P: OutputPin> OutputPin for OptionalPin<P> {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.as_mut().map_or(Ok(()), OutputPin::set_low)
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.as_mut().map_or(Ok(()), OutputPin::set_high)
    }
}

/// What the chip received after a transceive.
#[derive(Debug, Clone, Copy)]
struct Rx {
    fifo: [u8; FIFO_SIZE],
    len: usize,
    /// Valid bits in the last byte (0 = all eight).
    last_bits: u8,
    /// Collision: CollReg's CollPos field (1..=32) when a collision was flagged.
    coll_pos: Option<u8>,
}

impl Rx {
    /// Number of valid bits in the FIFO, counted from bit 0 of its first byte.
    fn fifo_bits(&self) -> usize {
        match (self.len, self.last_bits) {
            (0, _) => 0,
            (n, 0) => n * 8,
            (n, b) => (n - 1) * 8 + usize::from(b),
        }
    }
}

/// A selected card's UID (4, 7 or 10 bytes) and its final SAK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uid {
    bytes: [u8; 10],
    len: u8,
    /// The final SAK (card type hints, ISO 14443-4 support).
    pub sak: u8,
}

impl Uid {
    /// The UID bytes in cascade order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The MFRC522 driver.
#[derive(Debug)]
pub struct Mfrc522<SPI, RST, D> {
    spi: SPI,
    reset: RST,
    delay: D,
    config: Config,
}

impl<SPI: SpiDevice, D: DelayNs> Mfrc522<SPI, NoPin, D> {
    /// A driver without a reset pin.
    pub fn new(spi: SPI, delay: D, config: Config) -> Self {
        Mfrc522 {
            spi,
            reset: NoPin,
            delay,
            config,
        }
    }
}

impl<SPI: SpiDevice, RST: OutputPin, D: DelayNs> Mfrc522<SPI, RST, D> {
    /// A driver with a reset pin (NRSTPD; low = hard power-down).
    pub fn with_reset(spi: SPI, reset: RST, delay: D, config: Config) -> Self {
        Mfrc522 {
            spi,
            reset,
            delay,
            config,
        }
    }

    /// The SPI device back (e.g. to read a simulator's log).
    pub fn spi(&self) -> &SPI {
        &self.spi
    }

    /// Releases the parts.
    pub fn release(self) -> (SPI, RST, D) {
        (self.spi, self.reset, self.delay)
    }

    fn write(&mut self, reg: u8, value: u8) -> Result<(), Error<SPI::Error>> {
        self.spi.write(&[reg << 1, value]).map_err(Error::Spi)
    }

    fn read(&mut self, reg: u8) -> Result<u8, Error<SPI::Error>> {
        let mut buf = [(reg << 1) | 0x80, 0];
        self.spi.transfer_in_place(&mut buf).map_err(Error::Spi)?;
        Ok(buf[1])
    }

    /// Reads several registers in one transaction (§8.1.2.1: each address byte clocks out the
    /// previous address's value). `regs.len()` must be at most 8.
    fn read_regs<const N: usize>(&mut self, regs: [u8; N]) -> Result<[u8; N], Error<SPI::Error>> {
        let mut buf = [0u8; 9];
        let n = N.min(8);
        for (i, r) in regs.iter().take(n).enumerate() {
            buf[i] = (r << 1) | 0x80;
        }
        buf[n] = 0;
        self.spi
            .transfer_in_place(&mut buf[..=n])
            .map_err(Error::Spi)?;
        let mut out = [0u8; N];
        out[..n].copy_from_slice(&buf[1..=n]);
        Ok(out)
    }

    /// Reads `out.len()` bytes from the FIFO in one transaction.
    fn read_fifo(&mut self, out: &mut [u8]) -> Result<(), Error<SPI::Error>> {
        if out.is_empty() {
            return Ok(());
        }
        let addr = (reg::FIFO_DATA << 1) | 0x80;
        let mut buf = [addr; FIFO_SIZE + 1];
        let n = out.len().min(FIFO_SIZE);
        buf[n] = 0;
        self.spi
            .transfer_in_place(&mut buf[..=n])
            .map_err(Error::Spi)?;
        out[..n].copy_from_slice(&buf[1..=n]);
        Ok(())
    }

    fn write_fifo(&mut self, data: &[u8]) -> Result<(), Error<SPI::Error>> {
        let addr = [reg::FIFO_DATA << 1];
        self.spi
            .transaction(&mut [Operation::Write(&addr), Operation::Write(data)])
            .map_err(Error::Spi)
    }

    /// Hard reset (if a pin is wired), soft reset, timer and RF setup, antenna on, then the
    /// self-test. Returns the chip version.
    pub fn init(&mut self) -> Result<Version, Error<SPI::Error>> {
        self.reset.set_low().map_err(|_| Error::ResetPin)?;
        // Reset pulse: > 100 ns (datasheet §8.8.1); 1 ms is generous.
        self.delay.delay_ns(1_000_000);
        self.reset.set_high().map_err(|_| Error::ResetPin)?;
        self.delay.delay_ns(1_000_000);
        self.write(reg::COMMAND, cmd::SOFT_RESET)?;
        let mut ready = false;
        for _ in 0..self.config.max_reset_polls {
            self.delay.delay_ns(self.config.reset_poll_pause_ns);
            if self.read(reg::COMMAND)? & POWER_DOWN == 0 {
                ready = true;
                break;
            }
        }
        if !ready {
            // A silent bus reading 0xFF never clears PowerDown; tell it apart from a slow chip.
            let v = self.read(reg::VERSION)?;
            return Err(if v == 0x00 || v == 0xFF {
                Error::NoChip(v)
            } else {
                Error::Timeout
            });
        }
        // Timer: TAuto, prescaler 0x0A9 -> 13.56 MHz / (2*169+1) = 40 kHz, 25 µs per tick
        // (datasheet §8.5); reload = timeout in ticks.
        self.write(reg::T_MODE, 0x80)?;
        self.write(reg::T_PRESCALER, 0xA9)?;
        let [hi, lo] = self.config.timeout_ticks.to_be_bytes();
        self.write(reg::T_RELOAD_H, hi)?;
        self.write(reg::T_RELOAD_L, lo)?;
        self.write(reg::TX_ASK, FORCE_100_ASK)?;
        // CRC preset 0x6363 (ISO 14443-3), as in the reset value but explicit.
        self.write(reg::MODE, 0x3D)?;
        self.write(reg::TX_MODE, 0x00)?;
        self.write(reg::RX_MODE, 0x00)?;
        self.write(reg::RF_CFG, self.config.gain.bits())?;
        let tx = self.read(reg::TX_CONTROL)?;
        self.write(reg::TX_CONTROL, tx | TX_RF_EN)?;
        self.self_test()
    }

    /// Checks that a chip answers: VersionReg is a known value, the antenna drivers are on and
    /// RFCfgReg holds the gain we set. (The datasheet's digital self-test, §16.1.1, compares 64
    /// FIFO bytes against a reference table per chip version; we do not carry that table.)
    pub fn self_test(&mut self) -> Result<Version, Error<SPI::Error>> {
        let version = self.version()?;
        let tx = self.read(reg::TX_CONTROL)?;
        if tx & TX_RF_EN != TX_RF_EN {
            return Err(Error::SelfTest {
                reg: reg::TX_CONTROL,
                expected: tx | TX_RF_EN,
                read: tx,
            });
        }
        let gain = self.read(reg::RF_CFG)?;
        let expected = self.config.gain.bits();
        if gain & 0x70 != expected {
            return Err(Error::SelfTest {
                reg: reg::RF_CFG,
                expected,
                read: gain,
            });
        }
        Ok(version)
    }

    /// Reads and classifies VersionReg.
    pub fn version(&mut self) -> Result<Version, Error<SPI::Error>> {
        match self.read(reg::VERSION)? {
            0x91 => Ok(Version::V1),
            0x92 => Ok(Version::V2),
            v @ (0x88 | 0x12 | 0xB2) => Ok(Version::Clone(v)),
            v @ (0x00 | 0xFF) => Err(Error::NoChip(v)),
            v => Err(Error::UnknownVersion(v)),
        }
    }

    /// Switches the antenna off (cards lose power) or on.
    pub fn set_antenna(&mut self, on: bool) -> Result<(), Error<SPI::Error>> {
        let tx = self.read(reg::TX_CONTROL)?;
        let v = if on { tx | TX_RF_EN } else { tx & !TX_RF_EN };
        self.write(reg::TX_CONTROL, v)
    }

    /// Sends `tx` (the last byte holding `tx_last_bits` bits, 0 = all) and collects the answer,
    /// storing its first bit at bit `rx_align` of the first FIFO byte. A collision is returned
    /// as `Ok` with `coll_pos` set, so that anticollision can continue.
    fn transceive(
        &mut self,
        tx: &[u8],
        tx_last_bits: u8,
        rx_align: u8,
    ) -> Result<Rx, Error<SPI::Error>> {
        self.write(reg::COMMAND, cmd::IDLE)?;
        self.write(reg::COM_IRQ, ALL_COM_IRQ)?;
        self.write(reg::FIFO_LEVEL, FLUSH)?;
        self.write_fifo(tx)?;
        self.write(reg::COMMAND, cmd::TRANSCEIVE)?;
        self.write(
            reg::BIT_FRAMING,
            START_SEND | ((rx_align & 0x07) << 4) | (tx_last_bits & 0x07),
        )?;
        let mut irq = 0;
        let mut done = false;
        for i in 0..self.config.max_irq_polls {
            if i > 0 {
                self.delay.delay_ns(self.config.irq_poll_pause_ns);
            }
            irq = self.read(reg::COM_IRQ)?;
            if irq & (RX_IRQ | IDLE_IRQ | ERR_IRQ | TIMER_IRQ) != 0 {
                done = true;
                break;
            }
        }
        // Stop the transceive so that the chip does not keep listening.
        self.write(reg::COMMAND, cmd::IDLE)?;
        if !done {
            return Err(Error::ChipSilent);
        }
        if irq & (RX_IRQ | ERR_IRQ) == 0 {
            // Only the timer fired: nobody answered.
            return Err(Error::Timeout);
        }
        let [err, level, control, coll] =
            self.read_regs([reg::ERROR, reg::FIFO_LEVEL, reg::CONTROL, reg::COLL])?;
        // ErrorReg bit 5 and FIFOLevelReg bit 7 always read 0 on a chip (datasheet §9.3.1.7,
        // §9.3.1.11): a bus stuck at 0xFF shows them set.
        if err & 0x20 != 0 || level & 0x80 != 0 {
            return Err(Error::NoChip(0xFF));
        }
        if err & ERR_TEMP != 0 {
            return Err(Error::Overheated);
        }
        if err & ERR_BUFFER_OVFL != 0 {
            return Err(Error::BufferOverflow);
        }
        if err & (ERR_PROTOCOL | ERR_WR) != 0 {
            return Err(Error::Protocol);
        }
        if err & ERR_PARITY != 0 {
            return Err(Error::Parity);
        }
        if err & ERR_CRC != 0 {
            return Err(Error::Crc);
        }
        let mut rx = Rx {
            fifo: [0; FIFO_SIZE],
            len: usize::from(level & 0x7F).min(FIFO_SIZE),
            last_bits: control & 0x07,
            coll_pos: None,
        };
        if err & ERR_COLL != 0 {
            if coll & COLL_POS_NOT_VALID != 0 {
                return Err(Error::Collision);
            }
            rx.coll_pos = Some(match coll & 0x1F {
                0 => 32,
                p => p,
            });
        }
        let len = rx.len;
        self.read_fifo(&mut rx.fifo[..len])?;
        Ok(rx)
    }

    /// Sends WUPA (`wake = true`, also wakes halted cards) or REQA. `Ok(None)`: no card answered.
    /// `Ok(Some(atqa))`: at least one card is in the field (the ATQA may be mixed if several
    /// answered).
    pub fn request(&mut self, wake: bool) -> Result<Option<[u8; 2]>, Error<SPI::Error>> {
        let code = if wake { a::WUPA } else { a::REQA };
        match self.transceive(&[code], 7, 0) {
            Ok(rx) if rx.coll_pos.is_some() => Ok(Some([rx.fifo[0], rx.fifo[1]])),
            Ok(rx) if rx.len == 2 && rx.last_bits == 0 => Ok(Some([rx.fifo[0], rx.fifo[1]])),
            Ok(rx) => Err(Error::IncompleteFrame {
                bits: rx.fifo_bits(),
            }),
            Err(Error::Timeout) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Anticollision at one level: returns UID CLn (4 bytes). Bounded by 33 rounds: each round
    /// learns at least one more bit of the 32.
    fn anticollision(&mut self, level: CascadeLevel) -> Result<[u8; 4], Error<SPI::Error>> {
        // CollReg ValuesAfterColl = 0: bits after a collision read as 0 (ISO 14443 mode).
        let coll = self.read(reg::COLL)?;
        if coll & VALUES_AFTER_COLL != 0 {
            self.write(reg::COLL, coll & !VALUES_AFTER_COLL)?;
        }
        let mut known = [0u8; 5];
        let mut known_bits: u8 = 0;
        for _ in 0..=32 {
            let (frame, n, extra) = a::anticollision_frame(level, &known, known_bits);
            let rx = self.transceive(&frame[..n], extra, extra)?;
            // FIFO bit p holds UID-field bit base + p (RxAlign = extra keeps the bit offset).
            let base = usize::from(known_bits / 8) * 8;
            let first = usize::from(extra);
            let valid_end = match rx.coll_pos {
                Some(pos) => usize::from(pos) - 1,
                None => rx.fifo_bits(),
            };
            if valid_end < first {
                return Err(Error::Collision);
            }
            for p in first..valid_end {
                a::set_bit(&mut known, base + p, a::get_bit(&rx.fifo, p));
            }
            match rx.coll_pos {
                None => {
                    let total = base + valid_end;
                    if total != 40 {
                        return Err(Error::IncompleteFrame { bits: total });
                    }
                    let cl = [known[0], known[1], known[2], known[3]];
                    if a::bcc(&cl) != known[4] {
                        return Err(Error::Bcc);
                    }
                    return Ok(cl);
                }
                Some(_) => {
                    let at = base + valid_end;
                    if at >= 32 {
                        // A collision in the BCC cannot happen between distinct UIDs.
                        return Err(Error::Collision);
                    }
                    // Choose the cards with a 1 at the collision (ISO 14443-3 §6.4.3.1 step 7).
                    a::set_bit(&mut known, at, true);
                    known_bits = u8::try_from(at + 1).map_err(|_| Error::Collision)?;
                }
            }
        }
        Err(Error::Collision)
    }

    /// SELECT at one level: returns SAK.
    fn select(&mut self, level: CascadeLevel, cl: &[u8; 4]) -> Result<u8, Error<SPI::Error>> {
        let frame = a::select_frame(level, cl);
        let rx = self.transceive(&frame, 0, 0)?;
        if rx.coll_pos.is_some() {
            return Err(Error::Collision);
        }
        if rx.len != 3 || rx.last_bits != 0 {
            return Err(Error::IncompleteFrame {
                bits: rx.fifo_bits(),
            });
        }
        if !a::crc_a_ok(&rx.fifo[..3]) {
            return Err(Error::Crc);
        }
        Ok(rx.fifo[0])
    }

    /// Sends HLTA with the Transmit command and waits only until it has left the antenna
    /// (TxIRq). ISO 14443-3 §6.4.3.6: the card does not answer, and an answer within 1 ms would
    /// be a NAK; waiting out that millisecond buys nothing here, because a card that failed to
    /// halt is simply read again (and debounced) at the next poll.
    pub fn halt(&mut self) -> Result<(), Error<SPI::Error>> {
        self.write(reg::COMMAND, cmd::IDLE)?;
        self.write(reg::COM_IRQ, ALL_COM_IRQ)?;
        self.write(reg::FIFO_LEVEL, FLUSH)?;
        self.write_fifo(&a::hlta_frame())?;
        self.write(reg::BIT_FRAMING, 0)?;
        self.write(reg::COMMAND, cmd::TRANSMIT)?;
        let mut sent = false;
        for i in 0..self.config.max_irq_polls {
            if i > 0 {
                self.delay.delay_ns(self.config.irq_poll_pause_ns);
            }
            if self.read(reg::COM_IRQ)? & (TX_IRQ | IDLE_IRQ) != 0 {
                sent = true;
                break;
            }
        }
        self.write(reg::COMMAND, cmd::IDLE)?;
        if sent { Ok(()) } else { Err(Error::ChipSilent) }
    }

    /// Selects one card after a successful request: anticollision and SELECT through the
    /// cascade levels.
    pub fn select_card(&mut self) -> Result<Uid, Error<SPI::Error>> {
        let mut uid = Uid {
            bytes: [0; 10],
            len: 0,
            sak: 0,
        };
        let mut level = CascadeLevel::One;
        loop {
            let cl = self.anticollision(level)?;
            let sak = self.select(level, &cl)?;
            let at = usize::from(uid.len);
            if a::sak_uid_incomplete(sak) {
                if cl[0] != a::CASCADE_TAG {
                    return Err(Error::Cascade);
                }
                uid.bytes[at..at + 3].copy_from_slice(&cl[1..]);
                uid.len += 3;
                level = level.next().ok_or(Error::Cascade)?;
            } else {
                uid.bytes[at..at + 4].copy_from_slice(&cl);
                uid.len += 4;
                uid.sak = sak;
                return Ok(uid);
            }
        }
    }

    /// One complete read: WUPA, select, HLTA. `Ok(None)` if no card is in the field.
    pub fn read_uid(&mut self) -> Result<Option<Uid>, Error<SPI::Error>> {
        if self.request(true)?.is_none() {
            return Ok(None);
        }
        let uid = self.select_card()?;
        self.halt()?;
        Ok(Some(uid))
    }
}

impl<E: core::fmt::Debug> From<Error<E>> for crate::Error {
    fn from(e: Error<E>) -> Self {
        match e {
            Error::Timeout => crate::Error::Timeout,
            Error::Spi(e) => crate::Error::Bus(format!("{e:?}")),
            Error::ResetPin => crate::Error::Bus("reset pin".into()),
            e @ (Error::NoChip(_)
            | Error::ChipSilent
            | Error::UnknownVersion(_)
            | Error::SelfTest { .. }) => crate::Error::NoReader(e.to_string()),
            e => crate::Error::Rf(e.to_string()),
        }
    }
}

impl<SPI, RST, D> crate::tap::CardReader for Mfrc522<SPI, RST, D>
where
    SPI: SpiDevice,
    RST: OutputPin,
    D: DelayNs,
{
    fn kind(&self) -> crate::tap::ReaderKind {
        crate::tap::ReaderKind::Mfrc522
    }

    fn read_card(&mut self) -> Result<Option<otmetka_core::card::CardRead>, crate::Error> {
        match self.read_uid()? {
            None => Ok(None),
            Some(uid) => Ok(Some(otmetka_core::card::CardRead::Uid(
                otmetka_core::card::CardKey::from_uid(uid.as_bytes())?,
            ))),
        }
    }
}
