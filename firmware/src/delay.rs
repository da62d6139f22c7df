//! A `DelayNs` for hosted Linux: the MFRC522 driver sleeps between status polls instead of
//! spinning, so idle polling costs little CPU.

use embedded_hal::delay::DelayNs;
use std::time::Duration;

/// Sleeps the calling thread. Sleeps shorter than the scheduler's granularity last longer than
/// asked (tens of microseconds on Linux); the drivers only need "at least".
#[derive(Debug, Default, Clone, Copy)]
pub struct StdDelay;

impl DelayNs for StdDelay {
    fn delay_ns(&mut self, ns: u32) {
        std::thread::sleep(Duration::from_nanos(u64::from(ns)));
    }
}

/// Does not wait at all: for simulators, whose "time" advances with bus transactions.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDelay;

impl DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}
