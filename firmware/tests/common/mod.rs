//! Test helpers. Register addresses and bits are re-declared here from the NXP MFRC522
//! datasheet (rev. 3.9, §9.2 table 20, §9.3) and the DS3231 datasheet, not imported from the
//! driver, so that the driver is checked against the datasheet rather than against itself.
#![allow(dead_code)]

use otmetka_firmware::mfrc522::Config;
use otmetka_firmware::sim::mfrc522::SimMfrc522;

/// MFRC522 registers (datasheet §9.2).
pub mod rc522 {
    pub const COMMAND_REG: u8 = 0x01;
    pub const COM_IRQ_REG: u8 = 0x04;
    pub const ERROR_REG: u8 = 0x06;
    pub const FIFO_LEVEL_REG: u8 = 0x0A;
    pub const COLL_REG: u8 = 0x0E;
    pub const TX_CONTROL_REG: u8 = 0x14;
    pub const RF_CFG_REG: u8 = 0x26;
    pub const T_MODE_REG: u8 = 0x2A;
    pub const VERSION_REG: u8 = 0x37;
    /// TxControlReg Tx1RFEn | Tx2RFEn.
    pub const ANTENNA_ON: u8 = 0b11;
    /// RFCfgReg RxGain = 111b (48 dB).
    pub const RX_GAIN_48DB: u8 = 0x70;
    /// TModeReg TAuto.
    pub const T_AUTO: u8 = 0x80;
}

/// Most SPI transactions one transceive of our driver may take with `Config::default()`:
/// Idle, clear IRQs, flush, FIFO write, Transceive, StartSend (6), up to `max_irq_polls`
/// ComIrqReg reads, Idle, the status read and the FIFO read (3).
pub fn max_transactions_per_transceive() -> u64 {
    6 + u64::from(Config::default().max_irq_polls) + 3
}

pub use otmetka_firmware::sim::SimReader;

/// A driver on a fresh simulator (chip V2, no card), initialised; the log is cleared.
pub fn reader() -> (SimMfrc522, SimReader) {
    let (sim, rc) = otmetka_firmware::sim::reader().expect("init against the simulator");
    sim.clear_log();
    (sim, rc)
}

/// UIDs used across the tests.
pub const UID4: [u8; 4] = [0xDE, 0xAD, 0xBE, 0xEF];
pub const UID7: [u8; 7] = [0x04, 0x5A, 0x1B, 0x22, 0x6C, 0x3F, 0x80];
pub const UID10: [u8; 10] = [0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];

/// DS3231 registers (Maxim DS3231 datasheet, figure 1 "Timekeeping Registers").
pub mod ds3231 {
    pub const ADDRESS: u8 = 0x68;
    pub const SECONDS: u8 = 0x00;
    pub const HOURS: u8 = 0x02;
    pub const MONTH_CENTURY: u8 = 0x05;
    pub const YEAR: u8 = 0x06;
    pub const STATUS: u8 = 0x0F;
    pub const OSF: u8 = 0x80;
    pub const HOUR_12: u8 = 0x40;
    pub const PM: u8 = 0x20;
}
