//! A virtual DS3231 on I2C: the register file (0x00..=0x12) with the chip's register pointer
//! and auto-increment (DS3231 datasheet, "I2C Serial Data Bus": a write sets the pointer and
//! writes from there; a read continues from the pointer; the pointer wraps after 0x12).

use embedded_hal::i2c::{self, ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};
use std::sync::{Arc, Mutex, MutexGuard};

const REGS: usize = 0x13;

/// The simulator's bus error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimI2cError(pub ErrorKind);

impl i2c::Error for SimI2cError {
    fn kind(&self) -> ErrorKind {
        self.0
    }
}

#[derive(Debug)]
struct Chip {
    regs: [u8; REGS],
    pointer: usize,
    present: bool,
    transactions: u64,
}

/// A virtual DS3231. Clones share one chip.
#[derive(Debug, Clone)]
pub struct SimDs3231 {
    chip: Arc<Mutex<Chip>>,
}

impl Default for SimDs3231 {
    fn default() -> Self {
        Self::new()
    }
}

impl SimDs3231 {
    /// A chip as after first power-up: time zero (00:00:00 1 Jan 2000), control 0x1C, status
    /// 0x88 (OSF set: the time is not valid yet).
    pub fn new() -> Self {
        let mut regs = [0u8; REGS];
        regs[3] = 0x01; // day
        regs[4] = 0x01; // date
        regs[5] = 0x01; // month
        regs[0x0E] = 0x1C;
        regs[0x0F] = 0x88;
        SimDs3231 {
            chip: Arc::new(Mutex::new(Chip {
                regs,
                pointer: 0,
                present: true,
                transactions: 0,
            })),
        }
    }

    fn chip(&self) -> MutexGuard<'_, Chip> {
        self.chip.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a register directly (to stage a corrupted or 12-hour clock).
    pub fn poke(&self, reg: u8, value: u8) {
        if let Some(r) = self.chip().regs.get_mut(usize::from(reg)) {
            *r = value;
        }
    }

    /// Reads a register directly.
    pub fn peek(&self, reg: u8) -> u8 {
        self.chip().regs.get(usize::from(reg)).copied().unwrap_or(0)
    }

    /// Unplugs (no ACK at 0x68) or plugs the chip.
    pub fn set_present(&self, present: bool) {
        self.chip().present = present;
    }

    /// Transactions so far.
    pub fn transactions(&self) -> u64 {
        self.chip().transactions
    }
}

impl ErrorType for SimDs3231 {
    type Error = SimI2cError;
}

impl I2c for SimDs3231 {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), SimI2cError> {
        let mut chip = self.chip();
        chip.transactions += 1;
        if address != crate::ds3231::ADDRESS || !chip.present {
            return Err(SimI2cError(ErrorKind::NoAcknowledge(
                NoAcknowledgeSource::Address,
            )));
        }
        for op in operations.iter_mut() {
            match op {
                Operation::Write(bytes) => {
                    let mut it = bytes.iter();
                    if let Some(&p) = it.next() {
                        chip.pointer = usize::from(p) % REGS;
                    }
                    for &b in it {
                        let p = chip.pointer;
                        // Status: OSF can only be cleared by writing 0; bits 2..0 are read-only.
                        chip.regs[p] = if p == 0x0F {
                            (chip.regs[p] & b & 0x80) | (b & 0x78)
                        } else {
                            b
                        };
                        chip.pointer = (p + 1) % REGS;
                    }
                }
                Operation::Read(buf) => {
                    for b in buf.iter_mut() {
                        let p = chip.pointer;
                        *b = chip.regs[p];
                        chip.pointer = (p + 1) % REGS;
                    }
                }
            }
        }
        Ok(())
    }
}
