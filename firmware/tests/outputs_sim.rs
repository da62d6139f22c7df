//! Buzzer/lights/relay, the PIR input and the DS3231 clock against virtual pins and a virtual
//! DS3231 register file.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a test may panic

mod common;

use chrono::NaiveDate;
use common::ds3231 as reg;
use otmetka_firmware::ds3231::{Ds3231, Error};
use otmetka_firmware::presence::{PirSensor, Presence, PresenceFilter};
use otmetka_firmware::signal::{Indicators, Player, Signal};
use otmetka_firmware::sim::ds3231::SimDs3231;
use otmetka_firmware::sim::pins::{SimInputPin, SimOutputPin};
use std::time::{Duration, Instant};

#[test]
fn a_played_pattern_reaches_the_pins_edge_by_edge() {
    let (buzzer, green, red, relay) = (
        SimOutputPin::new(),
        SimOutputPin::new(),
        SimOutputPin::new(),
        SimOutputPin::new(),
    );
    let mut pins = Indicators::new(
        Some(buzzer.clone()),
        Some(green.clone()),
        Some(red.clone()),
        Some(relay.clone()),
    );
    let t0 = Instant::now();
    let mut player = Player::new(Some(Duration::from_millis(800)));
    // Refused; 300 ms into its long red phase, an accepted tap replaces it. The loop wakes
    // exactly when the player says, or for the tap.
    player.start(Signal::Refused, t0);
    let tap_at = t0 + Duration::from_millis(700);
    let mut tapped = false;
    let mut now = t0;
    let mut wakeups = 0;
    while let (out, Some(next)) = player.at(now) {
        pins.apply(out).unwrap();
        wakeups += 1;
        assert!(wakeups < 100, "the player never went idle");
        if !tapped && next > tap_at {
            now = tap_at;
            player.start(Signal::Accepted, now);
            tapped = true;
        } else {
            now = next;
        }
    }
    pins.apply(player.at(now).0).unwrap();
    // Refused: two beeps; accepted: one more.
    assert_eq!(buzzer.edges(), vec![true, false, true, false, true, false]);
    assert_eq!(red.edges(), vec![true, false]);
    assert_eq!(green.edges(), vec![true, false]);
    assert_eq!(relay.edges(), vec![true, false]);
    assert!(!buzzer.is_set_high_now() && !red.is_set_high_now());
}

#[test]
fn pir_presence_through_a_virtual_pin() {
    let pin = SimInputPin::new();
    let mut pir = PirSensor::new(
        pin.clone(),
        PresenceFilter::new(Duration::from_millis(100), Duration::from_secs(10)),
    );
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    assert_eq!(pir.poll(at(0)).unwrap(), None);
    pin.set(true);
    assert_eq!(pir.poll(at(10)).unwrap(), None);
    assert_eq!(pir.poll(at(120)).unwrap(), Some(Presence::Arrived));
    pin.set(false);
    assert_eq!(pir.poll(at(5_000)).unwrap(), None);
    assert_eq!(pir.poll(at(10_120)).unwrap(), Some(Presence::Left));
}

#[test]
fn ds3231_fresh_chip_reports_a_stopped_oscillator_until_set() {
    let sim = SimDs3231::new();
    let mut rtc = Ds3231::new(sim.clone());
    assert!(rtc.oscillator_stopped().unwrap());
    let t = NaiveDate::from_ymd_opt(2026, 11, 23)
        .unwrap()
        .and_hms_opt(16, 45, 7)
        .unwrap();
    rtc.set_datetime(&t).unwrap();
    assert!(!rtc.oscillator_stopped().unwrap());
    assert_eq!(sim.peek(reg::STATUS) & reg::OSF, 0);
    assert_eq!(rtc.datetime().unwrap(), t);
    // BCD and 24-hour mode in the registers, as the datasheet lays them out.
    assert_eq!(sim.peek(reg::SECONDS), 0x07);
    assert_eq!(sim.peek(reg::HOURS), 0x16);
    assert_eq!(sim.peek(reg::YEAR), 0x26);
}

#[test]
fn ds3231_century_bit_and_twelve_hour_mode() {
    let sim = SimDs3231::new();
    let mut rtc = Ds3231::new(sim.clone());
    let t = NaiveDate::from_ymd_opt(2101, 3, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    rtc.set_datetime(&t).unwrap();
    assert_eq!(sim.peek(reg::MONTH_CENTURY), 0x80 | 0x03);
    assert_eq!(rtc.datetime().unwrap(), t);
    // Someone set the clock in 12-hour mode: 7 PM.
    sim.poke(reg::HOURS, reg::HOUR_12 | reg::PM | 0x07);
    assert_eq!(rtc.datetime().unwrap().format("%H").to_string(), "19");
}

#[test]
fn ds3231_invalid_bcd_and_a_missing_chip_are_typed_errors() {
    let sim = SimDs3231::new();
    let mut rtc = Ds3231::new(sim.clone());
    sim.poke(reg::SECONDS, 0x7A);
    assert!(matches!(
        rtc.datetime(),
        Err(Error::InvalidBcd {
            reg: 0,
            value: 0x7A
        })
    ));
    sim.set_present(false);
    assert!(matches!(rtc.datetime(), Err(Error::I2c(_))));
    assert!(matches!(rtc.oscillator_stopped(), Err(Error::I2c(_))));
    assert_eq!(reg::ADDRESS, otmetka_firmware::ds3231::ADDRESS);
}
