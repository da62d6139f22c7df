//! The published `mfrc522` crate (0.8, embedded-hal 1.0) against our simulator: code the
//! simulator was not written for, so a simulator that only pleases our own driver fails here.
//!
//! That crate's loops are unbounded (its soft reset and transceive spin until a bit changes),
//! so every test arms the simulator's bus fault after a generous number of transactions: a
//! spin becomes an error instead of a hung test.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a test may panic

mod common;

use common::*;
use mfrc522::comm::blocking::spi::SpiInterface;
use otmetka_firmware::sim::mfrc522::{Bus, SimMfrc522};

const HANG_GUARD: u64 = 10_000;

fn published(
    sim: &SimMfrc522,
) -> mfrc522::Mfrc522<
    SpiInterface<SimMfrc522, mfrc522::comm::blocking::spi::DummyDelay>,
    mfrc522::Initialized,
> {
    sim.fail_after(Some(HANG_GUARD));
    mfrc522::Mfrc522::new(SpiInterface::new(sim.clone()))
        .init()
        .expect("the published driver initialises the simulator")
}

#[test]
fn published_driver_inits_and_reads_the_version() {
    let sim = SimMfrc522::default();
    let mut m = published(&sim);
    assert_eq!(m.version().unwrap(), 0x92);
    // It switched the antenna on in the simulated TxControlReg.
    assert_eq!(
        sim.peek(rc522::TX_CONTROL_REG) & rc522::ANTENNA_ON,
        rc522::ANTENNA_ON
    );
}

#[test]
fn published_driver_sees_no_card_as_a_timeout() {
    let sim = SimMfrc522::default();
    let mut m = published(&sim);
    assert!(matches!(m.reqa(), Err(mfrc522::Error::Timeout)));
}

fn read_with_published(uid: &[u8]) {
    let sim = SimMfrc522::default();
    let mut m = published(&sim);
    sim.place_uid(uid);
    let atqa = m.reqa().expect("ATQA");
    let got = m.select(&atqa).expect("select");
    assert_eq!(got.as_bytes(), uid);
    m.hlta().expect("HLTA");
    // Halted: REQA finds nothing, WUPA wakes it.
    assert!(matches!(m.reqa(), Err(mfrc522::Error::Timeout)));
    let atqa = m.wupa().expect("WUPA wakes the halted card");
    assert_eq!(m.select(&atqa).expect("select again").as_bytes(), uid);
    assert!(sim.log().transactions < HANG_GUARD);
}

#[test]
fn published_driver_reads_a_4_byte_uid() {
    read_with_published(&UID4);
}

#[test]
fn published_driver_reads_a_7_byte_uid() {
    read_with_published(&UID7);
}

#[test]
fn published_driver_reads_a_10_byte_uid() {
    read_with_published(&UID10);
}

#[test]
fn published_driver_resolves_a_first_byte_collision() {
    let sim = SimMfrc522::default();
    let mut m = published(&sim);
    sim.place_uid(&[0x10, 0x22, 0x33, 0x44]);
    sim.place_uid(&[0x11, 0x22, 0x33, 0x44]);
    let atqa = m.reqa().expect("ATQA");
    // It picks the card with a 1 at the first differing bit, as ours does.
    assert_eq!(
        m.select(&atqa).unwrap().as_bytes(),
        &[0x11, 0x22, 0x33, 0x44]
    );
}

#[test]
fn published_driver_spins_forever_on_a_silent_bus() {
    // Why we wrote our own driver: with MISO stuck high, PowerDown never clears and its reset
    // loop only ends because the simulated bus starts failing.
    let sim = SimMfrc522::default();
    sim.set_bus(Bus::Silent(0xFF));
    sim.fail_after(Some(1_000));
    let r = mfrc522::Mfrc522::new(SpiInterface::new(sim.clone())).init();
    assert!(matches!(r, Err(mfrc522::Error::Comm(_))));
    assert_eq!(sim.log().transactions, 1_000);
}
