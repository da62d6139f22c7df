//! Our MFRC522 driver against the register-level simulator: every case ends in a UID or a
//! typed error within a bounded number of SPI transactions (read from the simulator's log).
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a test may panic

mod common;

use common::*;
use otmetka_core::card::{CardKey, CardRead};
use otmetka_firmware::delay::NoDelay;
use otmetka_firmware::mfrc522::{Config, Error, Mfrc522, Version};
use otmetka_firmware::sim::mfrc522::{Bus, CardState, ChipVersion, Noise, SimMfrc522};
use otmetka_firmware::tap::{CardReader, Debouncer, TapReader};
use std::time::{Duration, Instant};

#[test]
fn init_reports_the_version_and_turns_the_antenna_on() {
    for (chip, want) in [
        (ChipVersion::V1, Version::V1),
        (ChipVersion::V2, Version::V2),
    ] {
        let sim = SimMfrc522::new(chip);
        let mut rc = Mfrc522::new(sim.clone(), NoDelay, Config::default());
        assert_eq!(rc.init().unwrap(), want);
        assert_eq!(
            sim.peek(rc522::TX_CONTROL_REG) & rc522::ANTENNA_ON,
            rc522::ANTENNA_ON
        );
        assert_eq!(sim.peek(rc522::RF_CFG_REG) & 0x70, rc522::RX_GAIN_48DB);
        assert_eq!(sim.peek(rc522::T_MODE_REG) & rc522::T_AUTO, rc522::T_AUTO);
        assert!(sim.log().transactions < 30, "init took {:?}", sim.log());
    }
}

#[test]
fn clone_and_unknown_versions_are_told_apart() {
    let sim = SimMfrc522::new(ChipVersion::Other(0x88));
    let mut rc = Mfrc522::new(sim, NoDelay, Config::default());
    assert_eq!(rc.init().unwrap(), Version::Clone(0x88));
    let sim = SimMfrc522::new(ChipVersion::Other(0x42));
    let mut rc = Mfrc522::new(sim, NoDelay, Config::default());
    assert_eq!(rc.init(), Err(Error::UnknownVersion(0x42)));
}

#[test]
fn no_card_is_none_within_one_transceive() {
    let (sim, mut rc) = reader();
    assert_eq!(rc.read_uid().unwrap(), None);
    let log = sim.log();
    assert!(
        log.transactions <= max_transactions_per_transceive(),
        "{log:?}"
    );
    assert_eq!(log.rf_frames, 1);
}

fn read_one(uid: &[u8], levels: u64) {
    let (sim, mut rc) = reader();
    assert!(sim.place_uid(uid));
    let got = rc.read_uid().unwrap().expect("a card");
    assert_eq!(got.as_bytes(), uid);
    // WUPA, per level anticollision + SELECT, HLTA.
    let log = sim.log();
    assert_eq!(log.rf_frames, 2 + 2 * levels, "{log:?}");
    let bound = (2 + 2 * levels) * max_transactions_per_transceive() + levels;
    assert!(log.transactions <= bound, "{log:?} > {bound}");
    // The card was halted, so it does not disturb the next REQA.
    assert_eq!(sim.cards()[0].state(), CardState::Halt);
}

#[test]
fn reads_a_4_byte_uid() {
    read_one(&UID4, 1);
}

#[test]
fn reads_a_7_byte_uid_through_two_cascade_levels() {
    read_one(&UID7, 2);
}

#[test]
fn reads_a_10_byte_uid_through_three_cascade_levels() {
    read_one(&UID10, 3);
}

#[test]
fn a_resting_card_is_seen_on_every_poll() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID7);
    for _ in 0..5 {
        assert_eq!(rc.read_uid().unwrap().unwrap().as_bytes(), &UID7);
    }
}

#[test]
fn a_halted_card_answers_wupa_only() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID4);
    rc.read_uid().unwrap().unwrap();
    assert_eq!(
        rc.request(false).unwrap(),
        None,
        "REQA must not wake a halted card"
    );
    let atqa = rc.request(true).unwrap().expect("WUPA wakes it");
    assert_eq!(atqa, [0x04, 0x00]);
    assert_eq!(rc.select_card().unwrap().as_bytes(), &UID4);
}

/// Reads every card in the field in turn: each read halts the card it selected, REQA then
/// finds the others.
fn read_all(rc: &mut SimReader, max: usize) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    for _ in 0..max {
        if rc.request(false).unwrap().is_none() {
            break;
        }
        let uid = rc.select_card().unwrap();
        rc.halt().unwrap();
        seen.push(uid.as_bytes().to_vec());
    }
    seen
}

#[test]
fn two_cards_collide_and_both_are_read_in_turn() {
    let (sim, mut rc) = reader();
    let a = [0x11, 0x22, 0x33, 0x44];
    let b = [0x11, 0x22, 0x37, 0x44]; // same first two bytes: the collision is in byte 2
    sim.place_uid(&a);
    sim.place_uid(&b);
    let mut seen = read_all(&mut rc, 4);
    seen.sort();
    assert_eq!(seen, vec![a.to_vec(), b.to_vec()]);
}

#[test]
fn three_cards_of_mixed_lengths_are_all_read() {
    let (sim, mut rc) = reader();
    let cards: [&[u8]; 3] = [&UID4, &UID7, &[0x04, 0x5A, 0x1B, 0x23, 0x01, 0x02, 0x03]];
    for c in cards {
        sim.place_uid(c);
    }
    sim.clear_log();
    let mut seen = read_all(&mut rc, 5);
    seen.sort();
    let mut want: Vec<Vec<u8>> = cards.iter().map(|c| c.to_vec()).collect();
    want.sort();
    assert_eq!(seen, want);
    // Bound: each card needs its frames plus at most 32 collision rounds per level.
    let bound = 3 * (2 + 3 * 34) * max_transactions_per_transceive();
    assert!(sim.log().transactions <= bound);
}

#[test]
fn with_several_cards_one_poll_reads_exactly_one_of_them() {
    let (sim, mut rc) = reader();
    let uids = [[0xA0, 1, 2, 3], [0xA0, 1, 2, 7], [0x20, 9, 9, 9]];
    for u in uids {
        sim.place_uid(&u);
    }
    let got = rc.read_uid().unwrap().unwrap();
    assert!(uids.iter().any(|u| u[..] == *got.as_bytes()));
}

#[test]
fn a_card_removed_mid_select_is_a_timeout() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID7);
    // It answers WUPA and the first anticollision, then leaves before SELECT.
    sim.remove_after_frames(&UID7, 2);
    assert_eq!(rc.read_uid(), Err(Error::Timeout));
    assert!(sim.log().transactions <= 4 * max_transactions_per_transceive() + 1);
    // And then there is simply no card.
    assert_eq!(rc.read_uid(), Ok(None));
}

#[test]
fn a_card_removed_between_cascade_levels_is_a_timeout() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID10);
    sim.remove_after_frames(&UID10, 3); // WUPA, anticollision CL1, SELECT CL1, then gone
    assert_eq!(rc.read_uid(), Err(Error::Timeout));
}

#[test]
fn rf_noise_is_a_crc_or_bcc_error_never_a_wrong_uid() {
    for every in 1..=4 {
        let (sim, mut rc) = reader();
        sim.place_uid(&UID7);
        sim.set_noise(Noise::FlipBit { every });
        for _ in 0..6 {
            match rc.read_uid() {
                Ok(Some(uid)) => assert_eq!(uid.as_bytes(), &UID7),
                Ok(None) => {}
                Err(e) => assert!(
                    matches!(e, Error::Crc | Error::Bcc | Error::IncompleteFrame { .. }),
                    "every {every}: {e:?}"
                ),
            }
        }
    }
}

#[test]
fn a_garbled_sak_is_a_crc_error() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID4);
    assert!(rc.request(true).unwrap().is_some());
    // The next answers: anticollision (clean), SAK (bit flipped).
    sim.set_noise(Noise::FlipBit { every: 2 });
    assert_eq!(rc.select_card(), Err(Error::Crc));
}

#[test]
fn parity_errors_are_typed() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID4);
    sim.set_noise(Noise::Parity { every: 1 });
    assert_eq!(rc.read_uid(), Err(Error::Parity));
}

#[test]
fn a_silent_bus_is_a_typed_error_within_bounds() {
    for level in [0x00, 0xFF] {
        let sim = SimMfrc522::default();
        sim.set_bus(Bus::Silent(level));
        let mut rc = Mfrc522::new(sim.clone(), NoDelay, Config::default());
        assert_eq!(rc.init(), Err(Error::NoChip(level)), "bus at {level:#04x}");
        let max_init = u64::from(Config::default().max_reset_polls) + 2;
        assert!(sim.log().transactions <= max_init, "{:?}", sim.log());
        sim.clear_log();
        let err = rc.read_uid().unwrap_err();
        assert!(
            matches!(err, Error::ChipSilent | Error::NoChip(_)),
            "bus at {level:#04x}: {err:?}"
        );
        assert!(sim.log().transactions <= max_transactions_per_transceive());
    }
}

#[test]
fn the_chip_vanishing_after_init_is_a_typed_error() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID4);
    sim.set_bus(Bus::Silent(0x00));
    assert_eq!(rc.read_uid(), Err(Error::ChipSilent));
}

#[test]
fn a_failing_bus_is_an_spi_error() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID4);
    sim.fail_after(Some(10));
    assert!(matches!(rc.read_uid(), Err(Error::Spi(_))));
}

#[test]
fn antenna_off_loses_the_card() {
    let (sim, mut rc) = reader();
    sim.place_uid(&UID4);
    rc.set_antenna(false).unwrap();
    assert_eq!(rc.read_uid(), Ok(None));
    rc.set_antenna(true).unwrap();
    assert!(rc.read_uid().unwrap().is_some());
}

#[test]
fn every_response_delay_still_ends_in_a_uid_or_a_typed_error() {
    for polls in [1, 2, 10, 59, 60, 61, 200] {
        let (sim, mut rc) = reader();
        sim.set_response_polls(polls);
        sim.place_uid(&UID4);
        match rc.read_uid() {
            Ok(Some(uid)) => assert!(polls <= 60 && uid.as_bytes() == UID4),
            Err(Error::ChipSilent) => assert!(polls > 60),
            other => panic!("{polls} polls: {other:?}"),
        }
    }
}

#[test]
fn the_reader_trait_gives_taps_with_order_free_keys() {
    let (sim, rc) = reader();
    let mut taps = TapReader::new(rc, Debouncer::new(Duration::from_secs(2)));
    let t0 = Instant::now();
    assert!(taps.poll(t0).unwrap().is_none());
    sim.place_uid(&UID4);
    let tap = taps.poll(t0 + Duration::from_millis(50)).unwrap().unwrap();
    let mut reversed = UID4;
    reversed.reverse();
    assert_eq!(
        tap.card,
        CardRead::Uid(CardKey::from_uid(&reversed).unwrap())
    );
    // Resting: no more taps.
    for i in 2..20 {
        assert!(
            taps.poll(t0 + Duration::from_millis(50 * i))
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(
        taps.reader_mut().kind(),
        otmetka_firmware::ReaderKind::Mfrc522
    );
}

#[test]
fn lifting_and_re_presenting_through_the_whole_stack() {
    let (sim, rc) = reader();
    let mut taps = TapReader::new(rc, Debouncer::new(Duration::from_secs(2)));
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut count = 0;
    let mut poll = |taps: &mut TapReader<SimReader>, ms: u64| {
        if taps.poll(at(ms)).unwrap().is_some() {
            count += 1;
        }
    };
    sim.place_uid(&UID7);
    poll(&mut taps, 0); // tap 1
    poll(&mut taps, 50); // resting
    sim.remove(&UID7);
    poll(&mut taps, 100);
    poll(&mut taps, 1000);
    sim.place_uid(&UID7); // back within the window (last seen at 50 ms)
    poll(&mut taps, 1500);
    sim.place_uid(&UID10); // a second card beside it: WUPA + anticollision pick one of them
    sim.remove(&UID7);
    poll(&mut taps, 1550); // tap 2: a different card
    sim.clear_field();
    poll(&mut taps, 2000);
    sim.place_uid(&UID7);
    poll(&mut taps, 3600); // tap 3: UID7 last seen at 1500 ms, 2.1 s ago
    assert_eq!(count, 3);
}
