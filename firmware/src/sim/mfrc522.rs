//! A virtual NXP MFRC522 (datasheet rev. 3.9) on SPI, with virtual ISO/IEC 14443 A cards.
//!
//! What is modelled:
//! - SPI framing (§8.1.2): in a transaction the first byte is the address `RAAAAAA0`
//!   (R = 1 read). A write sends data bytes after it, all to that address. A read sends one
//!   address byte per value and ends with 0x00; MISO carries the value of the previous address.
//! - Registers with their reset values (§9.2), the 64-byte FIFO (FIFODataReg, FIFOLevelReg with
//!   FlushBuffer, BufferOvfl on overflow), CommandReg (Idle, Mem, CalcCRC, Transceive,
//!   SoftReset with a PowerDown phase), ComIrqReg/DivIrqReg with Set1/Set2 write semantics,
//!   ErrorReg, CollReg (ValuesAfterColl, CollPosNotValid, CollPos), ControlReg RxLastBits,
//!   BitFramingReg (StartSend, RxAlign, TxLastBits), Status1Reg/Status2Reg, TxControlReg
//!   (antenna), TModeReg TAuto (the chip's timer raises TimerIRq when nobody answers),
//!   CRC coprocessor with CRCPreset (ModeReg), VersionReg.
//! - Cards: ISO 14443-3 states IDLE, READY (per cascade level), ACTIVE, HALT; REQA/WUPA answer
//!   ATQA; anticollision answers the remaining bits of UID CLn + BCC from the bits sent; SELECT
//!   (checked CRC_A) answers SAK + CRC_A; HLTA halts; any other frame sends a READY/ACTIVE card
//!   back to IDLE (HALT if it had been woken from HALT). Several cards answering at once are
//!   combined bit by bit: the first differing bit is a collision.
//! - Faults: cards placed and removed (also at a chosen RF frame, e.g. between anticollision and
//!   SELECT), noise (a flipped bit that the CRC catches, or a parity error), a silent bus (no
//!   chip: MISO stuck at 0x00 or 0xFF), a bus that fails after N transactions.
//! - A transaction log: transactions and bytes clocked.
//!
//! Modelling choices (documented in `docs/hardware.md`): time advances with bus traffic, not
//! with a clock: an answer (RxIRq) or the timer (TimerIRq) becomes visible on the
//! `response_polls`-th read of ComIrqReg after StartSend. CollPos counts FIFO bit positions
//! from bit 0 of the first received byte (so it includes RxAlign), 1-based, 0 meaning 32, as
//! NXP's reader library reads it. After a collision with ValuesAfterColl = 0 the collided bit
//! and all later bits read 0.

use crate::iso14443a::{self as a, CascadeLevel};
use embedded_hal::spi::{self, ErrorType, Operation, SpiDevice};
use std::sync::{Arc, Mutex, MutexGuard};

// Register addresses, from the datasheet (§9.2), declared here and not taken from the driver.
const COMMAND: u8 = 0x01;
const COM_IRQ: u8 = 0x04;
const DIV_IRQ: u8 = 0x05;
const ERROR: u8 = 0x06;
const STATUS1: u8 = 0x07;
const STATUS2: u8 = 0x08;
const FIFO_DATA: u8 = 0x09;
const FIFO_LEVEL: u8 = 0x0A;
const CONTROL: u8 = 0x0C;
const BIT_FRAMING: u8 = 0x0D;
const COLL: u8 = 0x0E;
const MODE: u8 = 0x11;
const TX_CONTROL: u8 = 0x14;
const CRC_RESULT_H: u8 = 0x21;
const CRC_RESULT_L: u8 = 0x22;
const T_MODE: u8 = 0x2A;
const VERSION: u8 = 0x37;

const FIFO_SIZE: usize = 64;

/// Which chip version VersionReg reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChipVersion {
    /// 0x91.
    V1,
    /// 0x92.
    V2,
    /// Any other value (clones, faults).
    Other(u8),
}

/// How the bus behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    /// A chip answers.
    Chip,
    /// Nothing answers: MISO floats to this value (0x00 with a pull-down, 0xFF with a pull-up).
    Silent(u8),
}

/// Noise on the RF link, applied to card answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Clean.
    None,
    /// Flip one data bit (with its parity bit, so only a CRC or BCC catches it) in every
    /// `every`-th card answer.
    FlipBit {
        /// Period in answers (1 = every answer).
        every: u32,
    },
    /// Raise ParityErr on every `every`-th card answer.
    Parity {
        /// Period in answers.
        every: u32,
    },
}

/// The ISO 14443-3 state of a virtual card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardState {
    /// Powered, waiting for REQA/WUPA.
    Idle,
    /// Answering anticollision at this cascade level.
    Ready(CascadeLevel),
    /// Selected.
    Active,
    /// Halted: answers only WUPA.
    Halt,
}

/// A virtual ISO 14443 A card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualCard {
    uid: Vec<u8>,
    /// SAK at the last level (0x08 MIFARE Classic 1K, 0x00 Ultralight, 0x20 ISO 14443-4).
    pub final_sak: u8,
    state: CardState,
    /// Woken from HALT (READY*/ACTIVE*): an unexpected frame returns it to HALT, not IDLE.
    from_halt: bool,
}

impl VirtualCard {
    /// A card with a 4-, 7- or 10-byte UID. Other lengths give `None`.
    pub fn new(uid: &[u8]) -> Option<Self> {
        let final_sak = match uid.len() {
            4 => 0x08,
            7 | 10 => 0x00,
            _ => return None,
        };
        Some(VirtualCard {
            uid: uid.to_vec(),
            final_sak,
            state: CardState::Idle,
            from_halt: false,
        })
    }

    /// The UID.
    pub fn uid(&self) -> &[u8] {
        &self.uid
    }

    /// The card's state.
    pub fn state(&self) -> CardState {
        self.state
    }

    fn atqa(&self) -> [u8; 2] {
        // Bits 8..7: UID size; bit 3: bit-frame anticollision (as MIFARE cards answer).
        let size = match self.uid.len() {
            4 => 0,
            7 => 1,
            _ => 2,
        };
        [(size << 6) | 0x04, 0x00]
    }

    /// UID CLn || BCC at a level, if the UID reaches that level.
    fn field(&self, level: CascadeLevel) -> Option<[u8; 5]> {
        let fields = a::cascade_fields(&self.uid)?;
        let cl = fields.get(level.index())?;
        Some([cl[0], cl[1], cl[2], cl[3], a::bcc(cl)])
    }

    fn is_last_level(&self, level: CascadeLevel) -> bool {
        a::cascade_fields(&self.uid).is_some_and(|f| f.len() == level.index() + 1)
    }

    fn fall_back(&mut self) {
        self.state = if self.from_halt {
            CardState::Halt
        } else {
            CardState::Idle
        };
    }

    /// The card's answer (bits, LSB first) to a frame of `bits` bits, and its new state.
    fn answer(&mut self, frame: &[u8], bits: usize) -> Option<Vec<bool>> {
        if bits == 7 {
            let cmd = frame.first().copied().unwrap_or(0) & 0x7F;
            let wakes = match (cmd, self.state) {
                (a::REQA, CardState::Idle) => true,
                (a::WUPA, CardState::Idle) => true,
                (a::WUPA, CardState::Halt) => {
                    self.from_halt = true;
                    true
                }
                // READY/ACTIVE cards receiving REQA/WUPA leave their state (ISO 14443-3
                // figure 7: "other" frames).
                (a::REQA | a::WUPA, CardState::Ready(_) | CardState::Active) => {
                    self.fall_back();
                    false
                }
                _ => false,
            };
            if !wakes {
                return None;
            }
            if cmd == a::REQA {
                self.from_halt = false;
            }
            self.state = CardState::Ready(CascadeLevel::One);
            return Some(bytes_to_bits(&self.atqa(), 16));
        }
        if bits == 32 && frame.len() == 4 && frame[0] == a::HLTA && frame[1] == 0 {
            if self.state == CardState::Active && a::crc_a_ok(frame) {
                self.state = CardState::Halt;
                self.from_halt = false;
            } else if matches!(self.state, CardState::Ready(_) | CardState::Active) {
                self.fall_back();
            }
            return None;
        }
        let level = frame.first().and_then(|s| CascadeLevel::from_sel(*s));
        let (CardState::Ready(ready_level), Some(level)) = (self.state, level) else {
            if matches!(self.state, CardState::Ready(_) | CardState::Active) {
                self.fall_back();
            }
            return None;
        };
        if level != ready_level || frame.len() < 2 {
            self.fall_back();
            return None;
        }
        let field = self.field(level)?;
        let nvb = frame[1];
        if nvb == a::NVB_SELECT && bits == 72 {
            if !a::crc_a_ok(&frame[..9]) || frame[2..7] != field {
                // Not for this card (or garbled): leave the selection.
                self.fall_back();
                return None;
            }
            let sak = if self.is_last_level(level) {
                self.state = CardState::Active;
                self.final_sak
            } else {
                self.state = level.next().map_or(CardState::Active, CardState::Ready);
                a::SAK_CASCADE_BIT
            };
            let crc = a::crc_a(&[sak]);
            return Some(bytes_to_bits(&[sak, crc[0], crc[1]], 24));
        }
        // Anticollision: NVB says how many bits of UID CLn || BCC the reader sends.
        let sent_bits = usize::from(nvb >> 4).saturating_sub(2) * 8 + usize::from(nvb & 0x0F);
        if sent_bits >= 40 || bits != 16 + sent_bits {
            self.fall_back();
            return None;
        }
        let matches = (0..sent_bits).all(|i| a::get_bit(&frame[2..], i) == a::get_bit(&field, i));
        if !matches {
            // Stays READY and silent: another card is being singled out.
            return None;
        }
        Some((sent_bits..40).map(|i| a::get_bit(&field, i)).collect())
    }
}

fn bytes_to_bits(bytes: &[u8], n: usize) -> Vec<bool> {
    (0..n).map(|i| a::get_bit(bytes, i)).collect()
}

/// A card leaving the field at a given RF frame.
#[derive(Debug, Clone)]
struct ScheduledRemoval {
    uid: Vec<u8>,
    at_frame: u64,
}

/// Counts of bus traffic since the log was last cleared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionLog {
    /// SPI transactions (chip-select assertions).
    pub transactions: u64,
    /// Bytes clocked (each byte goes out on MOSI and in on MISO at once).
    pub bytes: u64,
    /// RF frames the chip sent (StartSend).
    pub rf_frames: u64,
}

/// An answer waiting to become visible.
#[derive(Debug, Clone)]
struct Pending {
    polls_left: u32,
    irq: u8,
    error: u8,
    coll: Option<u8>,
    fifo: Vec<u8>,
    last_bits: u8,
}

#[derive(Debug)]
struct Chip {
    regs: [u8; 64],
    fifo: Vec<u8>,
    internal_buffer: [u8; 25],
    version: ChipVersion,
    bus: Bus,
    noise: Noise,
    answers: u32,
    cards: Vec<VirtualCard>,
    removals: Vec<ScheduledRemoval>,
    log: TransactionLog,
    pending: Option<Pending>,
    /// Reads of CommandReg left before a soft reset completes (PowerDown reads 1 until then).
    reset_polls_left: u32,
    /// Reads of ComIrqReg after StartSend before the answer (or the timer) shows.
    response_polls: u32,
    fail_after: Option<u64>,
}

/// Reset values (datasheet §9.2 table 20 and §9.3).
fn reset_regs(version: ChipVersion) -> [u8; 64] {
    let mut r = [0u8; 64];
    r[usize::from(COMMAND)] = 0x20;
    r[0x02] = 0x80; // ComIEnReg
    r[usize::from(COM_IRQ)] = 0x14;
    r[usize::from(STATUS1)] = 0x21;
    r[0x0B] = 0x08; // WaterLevelReg
    r[usize::from(CONTROL)] = 0x10;
    r[usize::from(COLL)] = 0xA0;
    r[usize::from(MODE)] = 0x3F;
    r[usize::from(TX_CONTROL)] = 0x80;
    r[0x16] = 0x10; // TxSelReg
    r[0x17] = 0x84; // RxSelReg
    r[0x18] = 0x84; // RxThresholdReg
    r[0x19] = 0x4D; // DemodReg
    r[0x1C] = 0x62; // MfTxReg
    r[0x1F] = 0xEB; // SerialSpeedReg
    r[usize::from(CRC_RESULT_H)] = 0xFF;
    r[usize::from(CRC_RESULT_L)] = 0xFF;
    r[0x24] = 0x26; // ModWidthReg
    r[0x26] = 0x48; // RFCfgReg
    r[0x27] = 0x88; // GsNReg
    r[0x28] = 0x20; // CWGsPReg
    r[0x29] = 0x20; // ModGsPReg
    r[usize::from(VERSION)] = match version {
        ChipVersion::V1 => 0x91,
        ChipVersion::V2 => 0x92,
        ChipVersion::Other(v) => v,
    };
    r
}

impl Chip {
    fn new(version: ChipVersion) -> Self {
        Chip {
            regs: reset_regs(version),
            fifo: Vec::new(),
            internal_buffer: [0; 25],
            version,
            bus: Bus::Chip,
            noise: Noise::None,
            answers: 0,
            cards: Vec::new(),
            removals: Vec::new(),
            log: TransactionLog::default(),
            pending: None,
            reset_polls_left: 0,
            response_polls: 2,
            fail_after: None,
        }
    }

    fn antenna_on(&self) -> bool {
        self.regs[usize::from(TX_CONTROL)] & 0b11 != 0
    }

    fn set_fifo_error(&mut self, bit: u8) {
        self.regs[usize::from(ERROR)] |= bit;
    }

    fn read_reg(&mut self, addr: u8) -> u8 {
        match addr {
            FIFO_DATA => {
                if self.fifo.is_empty() {
                    0
                } else {
                    self.fifo.remove(0)
                }
            }
            FIFO_LEVEL => {
                (self.regs[usize::from(FIFO_LEVEL)] & 0x80) | (self.fifo.len().min(127) as u8)
            }
            COMMAND => {
                let mut v = self.regs[usize::from(COMMAND)];
                if self.reset_polls_left > 0 {
                    self.reset_polls_left -= 1;
                    v |= 0x10;
                }
                v
            }
            COM_IRQ => {
                if let Some(p) = self.pending.as_mut() {
                    p.polls_left = p.polls_left.saturating_sub(1);
                    if p.polls_left == 0 {
                        self.land_pending();
                    }
                }
                self.regs[usize::from(COM_IRQ)]
            }
            STATUS1 => {
                let mut v = self.regs[usize::from(STATUS1)] & !0x03;
                if self.fifo.len() <= 8 {
                    v |= 0x01; // LoAlert with WaterLevel 8
                }
                if FIFO_SIZE - self.fifo.len() <= 8 {
                    v |= 0x02; // HiAlert
                }
                v
            }
            a if usize::from(a) < 64 => self.regs[usize::from(a)],
            _ => 0,
        }
    }

    fn land_pending(&mut self) {
        if let Some(p) = self.pending.take() {
            self.regs[usize::from(COM_IRQ)] |= p.irq;
            self.regs[usize::from(ERROR)] |= p.error;
            for b in p.fifo {
                if self.fifo.len() < FIFO_SIZE {
                    self.fifo.push(b);
                } else {
                    self.set_fifo_error(1 << 4);
                }
            }
            let control = self.regs[usize::from(CONTROL)] & !0x07;
            self.regs[usize::from(CONTROL)] = control | (p.last_bits & 0x07);
            let coll = self.regs[usize::from(COLL)] & 0x80;
            self.regs[usize::from(COLL)] = match p.coll {
                Some(pos) => coll | (pos & 0x1F),
                None => coll | 0x20,
            };
        }
    }

    fn write_reg(&mut self, addr: u8, value: u8) {
        match addr {
            FIFO_DATA => {
                if self.fifo.len() < FIFO_SIZE {
                    self.fifo.push(value);
                } else {
                    self.set_fifo_error(1 << 4);
                }
            }
            // FlushBuffer; the level itself is read-only.
            FIFO_LEVEL if value & 0x80 != 0 => {
                self.fifo.clear();
                self.regs[usize::from(ERROR)] &= !(1 << 4);
            }
            FIFO_LEVEL => {}
            COM_IRQ | DIV_IRQ => {
                let r = &mut self.regs[usize::from(addr)];
                if value & 0x80 != 0 {
                    *r |= value & 0x7F;
                } else {
                    *r &= !(value & 0x7F);
                }
            }
            COMMAND => self.command(value),
            BIT_FRAMING => {
                self.regs[usize::from(BIT_FRAMING)] = value & 0x77;
                if value & 0x80 != 0 && self.regs[usize::from(COMMAND)] & 0x0F == 0b1100 {
                    self.exchange(true);
                }
            }
            ERROR | STATUS1 | VERSION => {} // read-only
            STATUS2 => {
                // Only MFCrypto1On (bit 3) and the I2C/temperature bits are writable.
                self.regs[usize::from(STATUS2)] = value & 0xC8;
            }
            COLL => {
                self.regs[usize::from(COLL)] =
                    (self.regs[usize::from(COLL)] & 0x3F) | (value & 0x80);
            }
            TX_CONTROL => {
                let was_on = self.antenna_on();
                self.regs[usize::from(TX_CONTROL)] = value;
                if was_on && !self.antenna_on() {
                    // No field, no power: every card forgets its state.
                    for c in &mut self.cards {
                        c.state = CardState::Idle;
                        c.from_halt = false;
                    }
                }
            }
            a if usize::from(a) < 64 => self.regs[usize::from(a)] = value,
            _ => {}
        }
    }

    fn command(&mut self, value: u8) {
        let code = value & 0x0F;
        // RcvOff and PowerDown are kept; the command field changes.
        self.regs[usize::from(COMMAND)] = value & 0x30 | code;
        match code {
            0b0000 => self.pending = None, // Idle cancels a running transceive
            0b0001 => {
                // Mem: FIFO -> internal buffer if the FIFO holds 25 bytes, else the reverse.
                if self.fifo.len() >= 25 {
                    let bytes: Vec<u8> = self.fifo.drain(..25).collect();
                    self.internal_buffer.copy_from_slice(&bytes);
                } else {
                    let buf = self.internal_buffer;
                    for b in buf {
                        if self.fifo.len() < FIFO_SIZE {
                            self.fifo.push(b);
                        }
                    }
                }
                self.finish_command();
            }
            0b0011 => {
                let preset: u16 = match self.regs[usize::from(MODE)] & 0x03 {
                    0 => 0x0000,
                    1 => 0x6363,
                    2 => 0xA671,
                    _ => 0xFFFF,
                };
                let data: Vec<u8> = std::mem::take(&mut self.fifo);
                let crc = crc16_ccitt_reflected(preset, &data);
                self.regs[usize::from(CRC_RESULT_H)] = (crc >> 8) as u8;
                self.regs[usize::from(CRC_RESULT_L)] = crc as u8;
                self.regs[usize::from(DIV_IRQ)] |= 1 << 2; // CRCIRq
                self.regs[usize::from(STATUS1)] |= 1 << 5; // CRCReady
                // CalcCRC keeps running until Idle is written; leave the code in place.
            }
            0b0100 => {
                // Transmit: sends the FIFO at once, receives nothing, then goes idle.
                self.exchange(false);
            }
            0b1100 => {
                // Transceive: waits for StartSend (BitFramingReg).
                if self.regs[usize::from(BIT_FRAMING)] & 0x80 != 0 {
                    self.exchange(true);
                }
            }
            0b1111 => {
                let version = self.version;
                self.regs = reset_regs(version);
                self.fifo.clear();
                self.pending = None;
                self.reset_polls_left = 1;
            }
            _ => self.finish_command(),
        }
    }

    fn finish_command(&mut self) {
        self.regs[usize::from(COMMAND)] &= 0xF0;
        self.regs[usize::from(COM_IRQ)] |= 1 << 4; // IdleIRq
    }

    /// Runs one RF exchange: the FIFO goes out, the cards in the field answer (and are heard
    /// only if `receive`: Transceive rather than Transmit).
    fn exchange(&mut self, receive: bool) {
        self.log.rf_frames += 1;
        let frame_no = self.log.rf_frames;
        let due: Vec<Vec<u8>> = self
            .removals
            .iter()
            .filter(|r| r.at_frame <= frame_no)
            .map(|r| r.uid.clone())
            .collect();
        self.removals.retain(|r| r.at_frame > frame_no);
        self.cards.retain(|c| !due.contains(&c.uid));

        let framing = self.regs[usize::from(BIT_FRAMING)];
        let tx_last = usize::from(framing & 0x07);
        let rx_align = usize::from((framing >> 4) & 0x07);
        let frame: Vec<u8> = std::mem::take(&mut self.fifo);
        self.regs[usize::from(ERROR)] &= 0x40; // errors of the last command are cleared
        self.regs[usize::from(COM_IRQ)] |= 1 << 6; // TxIRq
        let bits = match frame.len() {
            0 => 0,
            n if tx_last == 0 => n * 8,
            n => (n - 1) * 8 + tx_last,
        };

        let answers: Vec<Vec<bool>> = if self.antenna_on() && bits > 0 {
            self.cards
                .iter_mut()
                .filter_map(|c| c.answer(&frame, bits))
                .collect()
        } else {
            Vec::new()
        };
        let timer_auto = self.regs[usize::from(T_MODE)] & 0x80 != 0;
        let polls_left = self.response_polls.max(1);
        if !receive {
            // Transmit ends by itself: TxIRq, then the command goes idle (IdleIRq).
            self.pending = Some(Pending {
                polls_left,
                irq: (1 << 6) | (1 << 4),
                error: 0,
                coll: None,
                fifo: Vec::new(),
                last_bits: self.regs[usize::from(CONTROL)] & 0x07,
            });
            self.regs[usize::from(COM_IRQ)] &= !(1 << 6);
            self.regs[usize::from(COMMAND)] &= 0xF0;
            return;
        }
        if answers.is_empty() {
            self.pending = timer_auto.then_some(Pending {
                polls_left,
                irq: 1 << 0, // TimerIRq
                error: 0,
                coll: None,
                fifo: Vec::new(),
                last_bits: 0,
            });
            return;
        }
        // Combine the answers bit by bit (they all start together after the frame).
        let len = answers.iter().map(Vec::len).max().unwrap_or(0);
        let mut bits_out = Vec::with_capacity(len);
        let mut collision = None;
        let values_after_coll = self.regs[usize::from(COLL)] & 0x80 != 0;
        for i in 0..len {
            let mut seen = answers.iter().filter_map(|ans| ans.get(i).copied());
            let first = seen.next().unwrap_or(false);
            let differs = seen.any(|b| b != first);
            if differs && collision.is_none() {
                collision = Some(i);
            }
            // ValuesAfterColl = 0: the collided bit and every later bit read 0.
            bits_out.push(if collision.is_none() || values_after_coll {
                first
            } else {
                false
            });
        }
        self.answers += 1;
        let mut error = 0u8;
        match self.noise {
            Noise::FlipBit { every } if every > 0 && self.answers % every == 0 => {
                let i = bits_out.len() / 2;
                if let Some(b) = bits_out.get_mut(i) {
                    *b = !*b;
                }
            }
            Noise::Parity { every } if every > 0 && self.answers % every == 0 => {
                error |= 1 << 1;
            }
            _ => {}
        }
        let total = rx_align + bits_out.len();
        let mut fifo = vec![0u8; total.div_ceil(8)];
        for (i, b) in bits_out.iter().enumerate() {
            a::set_bit(&mut fifo, rx_align + i, *b);
        }
        let coll = collision.map(|i| {
            error |= 1 << 3; // CollErr
            ((rx_align + i + 1) % 32) as u8
        });
        let irq = if error != 0 {
            (1 << 5) | (1 << 1) // RxIRq | ErrIRq
        } else {
            1 << 5
        };
        self.pending = Some(Pending {
            polls_left,
            irq,
            error,
            coll,
            fifo,
            last_bits: (total % 8) as u8,
        });
    }
}

/// CRC-16 with polynomial 0x1021 processed LSB first (0x8408 reflected), as the coprocessor
/// computes it with MSBFirst = 0 (datasheet §10.3.1.4). Independent of `iso14443a::crc_a` on
/// purpose: the simulator should not share code with the driver it checks.
fn crc16_ccitt_reflected(preset: u16, data: &[u8]) -> u16 {
    let mut crc = preset;
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// The simulator's SPI error (only when a fault is injected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimBusFault;

impl spi::Error for SimBusFault {
    fn kind(&self) -> spi::ErrorKind {
        spi::ErrorKind::Other
    }
}

/// A virtual MFRC522 on an SPI bus. Clones share one chip: give one to the driver and keep one
/// to place cards and read the log.
#[derive(Debug, Clone)]
pub struct SimMfrc522 {
    chip: Arc<Mutex<Chip>>,
}

impl Default for SimMfrc522 {
    fn default() -> Self {
        Self::new(ChipVersion::V2)
    }
}

impl SimMfrc522 {
    /// A chip of the given version with no card in the field.
    pub fn new(version: ChipVersion) -> Self {
        SimMfrc522 {
            chip: Arc::new(Mutex::new(Chip::new(version))),
        }
    }

    fn chip(&self) -> MutexGuard<'_, Chip> {
        // A panic while holding the lock can only come from a test; keep going with its data.
        self.chip.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Places a card in the field (in IDLE).
    pub fn place(&self, card: VirtualCard) {
        let mut chip = self.chip();
        chip.cards.retain(|c| c.uid != card.uid);
        chip.cards.push(card);
    }

    /// Places a card with this UID; `false` if the length is not 4, 7 or 10.
    pub fn place_uid(&self, uid: &[u8]) -> bool {
        match VirtualCard::new(uid) {
            Some(c) => {
                self.place(c);
                true
            }
            None => false,
        }
    }

    /// Removes a card from the field.
    pub fn remove(&self, uid: &[u8]) {
        self.chip().cards.retain(|c| c.uid != uid);
    }

    /// Removes every card.
    pub fn clear_field(&self) {
        self.chip().cards.clear();
    }

    /// Removes a card just before the chip sends RF frame number `after + 1` from now
    /// (`after = 1`: it answers the next frame, then is gone).
    pub fn remove_after_frames(&self, uid: &[u8], after: u64) {
        let mut chip = self.chip();
        let at_frame = chip.log.rf_frames + after + 1;
        chip.removals.push(ScheduledRemoval {
            uid: uid.to_vec(),
            at_frame,
        });
    }

    /// The states of the cards in the field.
    pub fn cards(&self) -> Vec<VirtualCard> {
        self.chip().cards.clone()
    }

    /// Sets the RF noise.
    pub fn set_noise(&self, noise: Noise) {
        let mut chip = self.chip();
        chip.noise = noise;
        chip.answers = 0;
    }

    /// Makes the bus silent (no chip) or brings the chip back.
    pub fn set_bus(&self, bus: Bus) {
        self.chip().bus = bus;
    }

    /// Makes every SPI transaction fail after `n` more transactions (`None`: never).
    pub fn fail_after(&self, n: Option<u64>) {
        let mut chip = self.chip();
        let now = chip.log.transactions;
        chip.fail_after = n.map(|n| now + n);
    }

    /// Reads of ComIrqReg after StartSend before an answer or the timer shows (at least 1).
    pub fn set_response_polls(&self, polls: u32) {
        self.chip().response_polls = polls.max(1);
    }

    /// The transaction log.
    pub fn log(&self) -> TransactionLog {
        self.chip().log
    }

    /// Clears the transaction log.
    pub fn clear_log(&self) {
        let mut chip = self.chip();
        let frames = chip.log.rf_frames;
        // Scheduled removals count RF frames: keep that clock running.
        chip.log = TransactionLog {
            rf_frames: frames,
            ..TransactionLog::default()
        };
    }

    /// A register's raw value, for tests (does not pop the FIFO or count as a poll).
    pub fn peek(&self, addr: u8) -> u8 {
        self.chip()
            .regs
            .get(usize::from(addr))
            .copied()
            .unwrap_or(0)
    }

    /// Bytes in the FIFO.
    pub fn fifo_len(&self) -> usize {
        self.chip().fifo.len()
    }
}

/// Where one transaction stands.
enum Phase {
    Start,
    Write(u8),
    Read(u8),
}

impl Chip {
    fn clock(&mut self, phase: &mut Phase, mosi: u8) -> u8 {
        self.log.bytes += 1;
        if let Bus::Silent(level) = self.bus {
            return level;
        }
        match *phase {
            Phase::Start => {
                let addr = (mosi >> 1) & 0x3F;
                *phase = if mosi & 0x80 != 0 {
                    Phase::Read(addr)
                } else {
                    Phase::Write(addr)
                };
                0
            }
            Phase::Write(addr) => {
                self.write_reg(addr, mosi);
                0
            }
            Phase::Read(prev) => {
                let v = self.read_reg(prev);
                *phase = Phase::Read((mosi >> 1) & 0x3F);
                v
            }
        }
    }
}

impl ErrorType for SimMfrc522 {
    type Error = SimBusFault;
}

impl SpiDevice for SimMfrc522 {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), SimBusFault> {
        let mut chip = self.chip();
        if chip.fail_after.is_some_and(|n| chip.log.transactions >= n) {
            return Err(SimBusFault);
        }
        chip.log.transactions += 1;
        let mut phase = Phase::Start;
        for op in operations.iter_mut() {
            match op {
                Operation::Read(buf) => {
                    for b in buf.iter_mut() {
                        *b = chip.clock(&mut phase, 0x00);
                    }
                }
                Operation::Write(buf) => {
                    for &b in buf.iter() {
                        chip.clock(&mut phase, b);
                    }
                }
                Operation::Transfer(read, write) => {
                    let n = read.len().max(write.len());
                    for i in 0..n {
                        let out = chip.clock(&mut phase, write.get(i).copied().unwrap_or(0));
                        if let Some(r) = read.get_mut(i) {
                            *r = out;
                        }
                    }
                }
                Operation::TransferInPlace(buf) => {
                    for b in buf.iter_mut() {
                        *b = chip.clock(&mut phase, *b);
                    }
                }
                Operation::DelayNs(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coprocessor_crc_matches_crc_a() {
        let crc = crc16_ccitt_reflected(0x6363, &[0x50, 0x00]);
        assert_eq!(crc.to_le_bytes(), [0x57, 0xCD]);
    }

    #[test]
    fn card_walks_the_iso_states() {
        let mut c = VirtualCard::new(&[1, 2, 3, 4]).unwrap();
        assert_eq!(c.answer(&[a::REQA], 7).map(|b| b.len()), Some(16));
        assert_eq!(c.state(), CardState::Ready(CascadeLevel::One));
        let sel = a::select_frame(CascadeLevel::One, &[1, 2, 3, 4]);
        assert_eq!(c.answer(&sel, 72).map(|b| b.len()), Some(24));
        assert_eq!(c.state(), CardState::Active);
        assert!(c.answer(&a::hlta_frame(), 32).is_none());
        assert_eq!(c.state(), CardState::Halt);
        assert!(c.answer(&[a::REQA], 7).is_none());
        assert!(c.answer(&[a::WUPA], 7).is_some());
    }
}
