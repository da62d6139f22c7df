//! Firmware figures: bus cost of a card read, detection latency, idle polling CPU.
//!
//! Run: `cargo bench -p otmetka-firmware --bench firmware` (prints figures; asserts nothing).
//!
//! What is measured and what is modelled:
//! - SPI transactions and bytes of one poll cycle are counted by the simulated MFRC522 (exact
//!   for our driver's register traffic; the number of ComIrqReg polls per frame is the
//!   simulator's `response_polls` = 2, see the model below).
//! - Bus time at 1, 4 and 10 MHz is a model: 8 clock periods per byte plus a fixed cost per
//!   transaction (chip select, the spidev ioctl and its scheduling); we state 0 µs (wire only)
//!   and 25 µs (a typical spidev round trip on a Pi 4).
//! - RF time is a model from ISO/IEC 14443-3 at 106 kbit/s: 9.44 µs per bit, 9 bits per byte
//!   (parity), SOF/EOF, the 86 µs frame delay time; a request nobody answers costs the full
//!   1 ms chip timeout; HLTA is sent with Transmit and costs its own air time only.
//! - Detection latency is measured on this machine against the simulator: a card is placed at
//!   a random moment between polls; we time placement -> tap. The Pi adds the modelled cycle.
//! - Idle CPU is measured on this machine: polling the simulator with no card at the poll
//!   interval for a few seconds, CPU time of the polling thread from /proc/thread-self/schedstat.
#![allow(clippy::unwrap_used)] // a benchmark binary: a failure should stop it loudly

use mfrc522::comm::blocking::spi::SpiInterface;
use otmetka_firmware::delay::{NoDelay, StdDelay};
use otmetka_firmware::mfrc522::{Config, Mfrc522};
use otmetka_firmware::sim::mfrc522::{SimMfrc522, TransactionLog};
use otmetka_firmware::tap::{Debouncer, TapReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const POLL_INTERVAL: Duration = Duration::from_millis(50);
const TRANSACTION_OVERHEAD_US: f64 = 25.0;
const BIT_US: f64 = 1e6 / 105_937.5; // 13.56 MHz / 128

fn cycle(uid: Option<&[u8]>) -> TransactionLog {
    cycle_with(uid, 2)
}

fn cycle_with(uid: Option<&[u8]>, response_polls: u32) -> TransactionLog {
    let sim = SimMfrc522::default();
    sim.set_response_polls(response_polls);
    let mut rc = Mfrc522::new(sim.clone(), NoDelay, Config::default());
    rc.init().unwrap();
    if let Some(uid) = uid {
        sim.place_uid(uid);
    }
    sim.clear_log();
    let got = rc.read_uid().unwrap();
    assert_eq!(got.map(|u| u.as_bytes().to_vec()), uid.map(<[u8]>::to_vec));
    sim.log()
}

fn published_cycle(uid: &[u8]) -> TransactionLog {
    let sim = SimMfrc522::default();
    sim.fail_after(Some(100_000));
    let mut m = mfrc522::Mfrc522::new(SpiInterface::new(sim.clone()))
        .init()
        .unwrap();
    sim.place_uid(uid);
    sim.clear_log();
    let atqa = m.wupa().unwrap();
    let got = m.select(&atqa).unwrap();
    assert_eq!(got.as_bytes(), uid);
    m.hlta().unwrap();
    sim.log()
}

/// Air time of one exchange: `tx_bits` sent, `rx_bits` answered (0 = no answer: timeout).
fn air_us(tx_bits: f64, rx_bits: f64) -> f64 {
    let frame = |bits: f64| (bits + (bits / 8.0).floor() + 2.0) * BIT_US;
    if rx_bits == 0.0 {
        frame(tx_bits) + 1000.0
    } else {
        frame(tx_bits) + 86.0 + frame(rx_bits)
    }
}

fn rf_us(levels: usize, card: bool) -> f64 {
    if !card {
        return air_us(7.0, 0.0);
    }
    let hlta = (32.0 + 4.0 + 2.0) * BIT_US;
    air_us(7.0, 16.0) + levels as f64 * (air_us(16.0, 40.0) + air_us(72.0, 24.0)) + hlta
}

fn bus_us(log: &TransactionLog, mhz: f64, overhead_us: f64) -> f64 {
    log.bytes as f64 * 8.0 / mhz + log.transactions as f64 * overhead_us
}

fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() {
    println!(
        "# otmetka-firmware bench (host: {} {})",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    println!();
    println!("## One poll cycle of our driver (WUPA -> anticollision/SELECT per level -> HLTA)");
    println!(
        "| case | RF frames | SPI transactions | SPI bytes | bus @1 MHz | bus @4 MHz | bus @10 MHz | + 25 µs/transaction @4 MHz | RF (model) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let cases: [(&str, Option<&[u8]>, usize); 4] = [
        ("no card", None, 0),
        ("4-byte UID", Some(&[0xDE, 0xAD, 0xBE, 0xEF]), 1),
        (
            "7-byte UID",
            Some(&[0x04, 0x5A, 0x1B, 0x22, 0x6C, 0x3F, 0x80]),
            2,
        ),
        ("10-byte UID", Some(&[4, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 3),
    ];
    let mut worst_cycle_us: f64 = 0.0;
    for (name, uid, levels) in cases {
        let log = cycle(uid);
        let rf = rf_us(levels, uid.is_some());
        let pi = bus_us(&log, 4.0, TRANSACTION_OVERHEAD_US);
        worst_cycle_us = worst_cycle_us.max(pi + rf);
        println!(
            "| {name} | {} | {} | {} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs |",
            log.rf_frames,
            log.transactions,
            log.bytes,
            bus_us(&log, 1.0, 0.0),
            bus_us(&log, 4.0, 0.0),
            bus_us(&log, 10.0, 0.0),
            pi,
            rf,
        );
    }
    println!();
    println!(
        "The published `mfrc522` 0.8 crate, same simulator (WUPA, select, HLTA; CRC by the chip's coprocessor):"
    );
    for (name, uid) in [
        ("4-byte", &[0xDE, 0xAD, 0xBE, 0xEF][..]),
        ("7-byte", &[0x04, 0x5A, 0x1B, 0x22, 0x6C, 0x3F, 0x80][..]),
    ] {
        let log = published_cycle(uid);
        println!(
            "- {name} UID: {} transactions, {} bytes",
            log.transactions, log.bytes
        );
    }

    // Detection latency, measured: a thread places the card at a random moment; the poll
    // loop (real sleeps at POLL_INTERVAL) reports the tap.
    println!();
    println!(
        "## Detection latency (card placed -> tap), poll interval {} ms",
        POLL_INTERVAL.as_millis()
    );
    let trials = 40;
    let mut lat = Vec::with_capacity(trials);
    let mut seed: u64 = 0x2026_1123;
    for i in 0..trials {
        let sim = SimMfrc522::default();
        let mut rc = Mfrc522::new(sim.clone(), StdDelay, Config::default());
        rc.init().unwrap();
        let mut taps = TapReader::new(rc, Debouncer::default());
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros(5_000 + (seed >> 33) % 50_000);
        let uid = [0x10, 0x20, 0x30, i as u8];
        let (tx, rx) = mpsc::channel();
        let placer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let t = Instant::now();
            sim.place_uid(&uid);
            tx.send(t).unwrap();
        });
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let now = Instant::now();
            if let Some(tap) = taps.poll(now).unwrap() {
                let placed = rx.recv().unwrap();
                lat.push(
                    Instant::now()
                        .duration_since(placed)
                        .max(tap.at.saturating_duration_since(placed)),
                );
                break;
            }
            assert!(now < deadline, "no tap");
            std::thread::sleep(POLL_INTERVAL);
        }
        placer.join().unwrap();
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = lat.iter().map(|d| ms(*d)).sum::<f64>() / lat.len() as f64;
    println!(
        "- measured here (simulated bus, {trials} trials): mean {:.1} ms, p50 {:.1} ms, max {:.1} ms",
        mean,
        ms(lat[lat.len() / 2]),
        ms(lat[lat.len() - 1])
    );
    println!(
        "- on a Pi (model): worst = interval + worst cycle = {} + {:.1} = {:.1} ms; mean = interval/2 + cycle = {:.1} ms (goal: < interval + 10 ms = {} ms)",
        POLL_INTERVAL.as_millis(),
        worst_cycle_us / 1000.0,
        ms(POLL_INTERVAL) + worst_cycle_us / 1000.0,
        ms(POLL_INTERVAL) / 2.0 + worst_cycle_us / 1000.0,
        POLL_INTERVAL.as_millis() + 10
    );

    // Idle polling CPU: no card, real sleeps, this thread's CPU time.
    println!();
    println!(
        "## Idle polling CPU (no card, interval {} ms)",
        POLL_INTERVAL.as_millis()
    );
    let sim = SimMfrc522::default();
    let mut rc = Mfrc522::new(sim.clone(), StdDelay, Config::default());
    rc.init().unwrap();
    sim.set_response_polls(6); // a no-card poll on a Pi reads ComIrqReg ~6 times (1 ms timer / 100 µs pauses + latency)
    let mut taps = TapReader::new(rc, Debouncer::default());
    let secs = 4;
    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    let mut polls = 0u64;
    while t0.elapsed() < Duration::from_secs(secs) {
        assert!(taps.poll(Instant::now()).unwrap().is_none());
        polls += 1;
        std::thread::sleep(POLL_INTERVAL);
    }
    let wall = t0.elapsed();
    match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) => {
            let cpu = Duration::from_nanos(b - a);
            println!(
                "- measured here: {polls} polls in {:.2} s, CPU {:.2} ms = {:.3} % of one core ({:.1} µs CPU per poll, sleeps included)",
                wall.as_secs_f64(),
                ms(cpu),
                100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / polls as f64
            );
        }
        _ => println!("- /proc/thread-self/schedstat not readable: CPU not measured"),
    }
    let idle = cycle_with(None, 6);
    println!(
        "- bus per idle poll (with 6 status polls): {} transactions, {} bytes; at {} polls/s that is {:.0} transactions/s",
        idle.transactions,
        idle.bytes,
        1000 / POLL_INTERVAL.as_millis(),
        idle.transactions as f64 * 1000.0 / ms(POLL_INTERVAL)
    );
}
