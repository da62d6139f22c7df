//! The MFRC522 simulator checked at register level against the datasheet, with raw SPI bytes
//! and no driver: SPI framing (§8.1.2), FIFO (§9.3.1.10–11), ComIrqReg Set1 (§9.3.1.5), the CRC
//! coprocessor (§10.3.1.4), soft reset (§10.3.1.10), a REQA and a collision seen in ErrorReg and
//! CollReg (§9.3.1.7, §9.3.1.15).
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a test may panic

mod common;

use common::rc522::*;
use embedded_hal::spi::{Operation, SpiDevice};
use otmetka_firmware::sim::mfrc522::SimMfrc522;

// More registers, from the datasheet (§9.2).
const DIV_IRQ_REG: u8 = 0x05;
const FIFO_DATA_REG: u8 = 0x09;
const CONTROL_REG: u8 = 0x0C;
const BIT_FRAMING_REG: u8 = 0x0D;
const MODE_REG: u8 = 0x11;
const CRC_RESULT_MSB: u8 = 0x21;
const CRC_RESULT_LSB: u8 = 0x22;
const CMD_IDLE: u8 = 0x0;
const CMD_CALC_CRC: u8 = 0x3;
const CMD_TRANSCEIVE: u8 = 0xC;
const CMD_SOFT_RESET: u8 = 0xF;

fn write(sim: &mut SimMfrc522, reg: u8, v: u8) {
    sim.write(&[reg << 1, v]).unwrap();
}

fn read(sim: &mut SimMfrc522, reg: u8) -> u8 {
    let mut b = [0x80 | (reg << 1), 0];
    sim.transfer_in_place(&mut b).unwrap();
    b[1]
}

#[test]
fn a_read_burst_returns_each_address_on_the_next_byte() {
    let mut sim = SimMfrc522::default();
    write(&mut sim, T_MODE_REG, 0x8D);
    let mut b = [
        0x80 | (VERSION_REG << 1),
        0x80 | (T_MODE_REG << 1),
        0x80 | (VERSION_REG << 1),
        0x00,
    ];
    sim.transfer_in_place(&mut b).unwrap();
    assert_eq!(&b[1..], &[0x92, 0x8D, 0x92]);
    assert_eq!(sim.log().transactions, 2);
    assert_eq!(sim.log().bytes, 2 + 4);
}

#[test]
fn fifo_counts_flushes_and_pops() {
    let mut sim = SimMfrc522::default();
    sim.transaction(&mut [
        Operation::Write(&[FIFO_DATA_REG << 1]),
        Operation::Write(&[1, 2, 3]),
    ])
    .unwrap();
    assert_eq!(read(&mut sim, FIFO_LEVEL_REG), 3);
    assert_eq!(read(&mut sim, FIFO_DATA_REG), 1);
    assert_eq!(read(&mut sim, FIFO_LEVEL_REG), 2);
    write(&mut sim, FIFO_LEVEL_REG, 0x80); // FlushBuffer
    assert_eq!(read(&mut sim, FIFO_LEVEL_REG), 0);
    // 65 bytes overflow the 64-byte FIFO: BufferOvfl in ErrorReg.
    let data = [0xAAu8; 65];
    sim.transaction(&mut [
        Operation::Write(&[FIFO_DATA_REG << 1]),
        Operation::Write(&data),
    ])
    .unwrap();
    assert_eq!(read(&mut sim, FIFO_LEVEL_REG), 64);
    assert_ne!(read(&mut sim, ERROR_REG) & 0x10, 0);
}

#[test]
fn com_irq_set1_sets_and_clears_the_marked_bits() {
    let mut sim = SimMfrc522::default();
    write(&mut sim, COM_IRQ_REG, 0x7F); // Set1 = 0: clear all
    assert_eq!(read(&mut sim, COM_IRQ_REG), 0);
    write(&mut sim, COM_IRQ_REG, 0x80 | 0x21); // Set1 = 1: set RxIRq and TimerIRq
    assert_eq!(read(&mut sim, COM_IRQ_REG), 0x21);
    write(&mut sim, COM_IRQ_REG, 0x01);
    assert_eq!(read(&mut sim, COM_IRQ_REG), 0x20);
}

#[test]
fn crc_coprocessor_gives_crc_a_with_preset_6363() {
    let mut sim = SimMfrc522::default();
    write(&mut sim, MODE_REG, 0x3D); // CRCPreset = 01: 6363h
    sim.transaction(&mut [
        Operation::Write(&[FIFO_DATA_REG << 1]),
        Operation::Write(&[0x50, 0x00]),
    ])
    .unwrap();
    write(&mut sim, COMMAND_REG, CMD_CALC_CRC);
    assert_ne!(read(&mut sim, DIV_IRQ_REG) & 0x04, 0, "CRCIRq");
    // HLTA's CRC_A is 57 CD on the air: LSB register first.
    assert_eq!(read(&mut sim, CRC_RESULT_LSB), 0x57);
    assert_eq!(read(&mut sim, CRC_RESULT_MSB), 0xCD);
    write(&mut sim, COMMAND_REG, CMD_IDLE);
}

#[test]
fn soft_reset_restores_reset_values_after_a_power_down_phase() {
    let mut sim = SimMfrc522::default();
    write(&mut sim, TX_CONTROL_REG, 0x83);
    write(&mut sim, COMMAND_REG, CMD_SOFT_RESET);
    assert_ne!(
        read(&mut sim, COMMAND_REG) & 0x10,
        0,
        "PowerDown while restarting"
    );
    assert_eq!(read(&mut sim, COMMAND_REG) & 0x10, 0);
    assert_eq!(read(&mut sim, TX_CONTROL_REG), 0x80);
    assert_eq!(read(&mut sim, RF_CFG_REG), 0x48);
}

/// Sends a frame by hand: FIFO, Transceive, StartSend with TxLastBits/RxAlign, then polls.
fn transceive_raw(sim: &mut SimMfrc522, frame: &[u8], framing: u8) -> u8 {
    write(sim, COMMAND_REG, CMD_IDLE);
    write(sim, COM_IRQ_REG, 0x7F);
    write(sim, FIFO_LEVEL_REG, 0x80);
    sim.transaction(&mut [
        Operation::Write(&[FIFO_DATA_REG << 1]),
        Operation::Write(frame),
    ])
    .unwrap();
    write(sim, COMMAND_REG, CMD_TRANSCEIVE);
    write(sim, BIT_FRAMING_REG, 0x80 | framing);
    for _ in 0..10 {
        let irq = read(sim, COM_IRQ_REG);
        if irq & 0x23 != 0 {
            return irq;
        }
    }
    0
}

#[test]
fn reqa_by_hand_gets_an_atqa_and_silence_gets_the_timer() {
    let mut sim = SimMfrc522::default();
    write(&mut sim, T_MODE_REG, T_AUTO);
    write(&mut sim, TX_CONTROL_REG, 0x83);
    assert_eq!(
        transceive_raw(&mut sim, &[0x26], 0x07) & 0x01,
        0x01,
        "TimerIRq"
    );
    sim.place_uid(&[1, 2, 3, 4]);
    assert_eq!(
        transceive_raw(&mut sim, &[0x26], 0x07) & 0x20,
        0x20,
        "RxIRq"
    );
    assert_eq!(read(&mut sim, FIFO_LEVEL_REG), 2);
    assert_eq!(read(&mut sim, FIFO_DATA_REG), 0x04);
    assert_eq!(read(&mut sim, FIFO_DATA_REG), 0x00);
    assert_eq!(read(&mut sim, CONTROL_REG) & 0x07, 0, "whole last byte");
}

#[test]
fn a_collision_shows_in_error_reg_and_coll_reg() {
    let mut sim = SimMfrc522::default();
    write(&mut sim, T_MODE_REG, T_AUTO);
    write(&mut sim, TX_CONTROL_REG, 0x83);
    write(&mut sim, COLL_REG, 0x00); // ValuesAfterColl = 0
    // UID CL1 differ first in bit 2 of byte 1 (bit 10 of the field, CollPos 11).
    sim.place_uid(&[0x11, 0x20, 0x33, 0x44]);
    sim.place_uid(&[0x11, 0x24, 0x33, 0x44]);
    transceive_raw(&mut sim, &[0x26], 0x07);
    let irq = transceive_raw(&mut sim, &[0x93, 0x20], 0x00);
    assert_eq!(irq & 0x22, 0x22, "RxIRq and ErrIRq");
    assert_ne!(read(&mut sim, ERROR_REG) & 0x08, 0, "CollErr");
    let coll = read(&mut sim, COLL_REG);
    assert_eq!(coll & 0x20, 0, "CollPosNotValid clear");
    assert_eq!(coll & 0x1F, 11);
    // Bits before the collision are the common ones; the rest read 0.
    assert_eq!(read(&mut sim, FIFO_DATA_REG), 0x11);
    assert_eq!(read(&mut sim, FIFO_DATA_REG), 0x00);
    // Anticollision with 12 known bits (11 + the chosen 1): RxAlign = 4, counted from byte 1.
    let irq = transceive_raw(&mut sim, &[0x93, 0x34, 0x11, 0x04], 0x44);
    assert_eq!(irq & 0x22, 0x20, "one card left: no error");
    assert_eq!(
        read(&mut sim, FIFO_LEVEL_REG),
        4,
        "28 bits from bit 4: 4 bytes"
    );
    assert_eq!(
        read(&mut sim, FIFO_DATA_REG) & 0xF0,
        0x20,
        "high nibble of 0x24"
    );
}
