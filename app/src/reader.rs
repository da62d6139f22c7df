//! The card reader, wired: opens the configured reader, polls it on a thread of its own, and sends
//! each tap to the worker as `Command::Tap` (the same door `ctl tap` uses). It tells the kiosk
//! when the reader's health changes (`Internal::ReaderHealth`), so the diagnostics screen and the
//! feed's status say it, and it reopens a reader that keeps failing (a USB reader pulled out and
//! plugged back, an SPI chip that browned out) with a growing pause.
//!
//! The rules of when to report and when to reopen are a plain state machine ([`Supervisor`])
//! with its own tests; the thread is a thin loop around it.

use crate::config::{ReaderConfig, SerialProtocol};
use crate::kiosk::{Command, Internal};
use crate::worker::WorkerHandle;
use otmetka_firmware::tap::{CardReader, Debouncer, TapReader};
use std::time::{Duration, Instant};

/// A reader the thread can hold.
pub type BoxedReader = Box<dyn CardReader + Send>;

/// Opens (or reopens) the reader.
pub type Opener = Box<dyn FnMut() -> Result<BoxedReader, String> + Send>;

/// How often the reader is polled: a card shown for a quarter of a second is seen several times.
const POLL: Duration = Duration::from_millis(25);

/// A reader failing without a break for this long is closed and opened again.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// Pauses between attempts to open a reader that is not there: the first, and the longest.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What the thread should do after a poll or an attempt to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Keep going.
    Carry,
    /// Tell the kiosk the reader's health changed.
    Report { ok: bool, detail: String },
    /// Close the reader and open it again (after telling the kiosk it failed).
    Reopen { detail: String },
}

/// When a reader's health changes and when it is reopened, without I/O: time is passed in.
#[derive(Debug, Clone)]
pub struct Supervisor {
    /// The health last reported (`None` before the first report).
    reported: Option<bool>,
    /// Since when polls have failed without a good one in between.
    failing_since: Option<Instant>,
    /// The pause before the next attempt to open.
    backoff: Duration,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor {
            reported: None,
            failing_since: None,
            backoff: BACKOFF_FIRST,
        }
    }
}

impl Supervisor {
    fn report(&mut self, ok: bool, detail: String) -> Step {
        if self.reported == Some(ok) {
            Step::Carry
        } else {
            self.reported = Some(ok);
            Step::Report { ok, detail }
        }
    }

    /// A poll succeeded (with or without a card).
    pub fn on_good_poll(&mut self) -> Step {
        self.failing_since = None;
        self.backoff = BACKOFF_FIRST;
        self.report(true, String::new())
    }

    /// A poll failed with a device error (not a garbled read: those are not the reader's health).
    pub fn on_bad_poll(&mut self, now: Instant, detail: String) -> Step {
        let since = *self.failing_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= REOPEN_AFTER {
            self.failing_since = None;
            self.reported = Some(false);
            Step::Reopen { detail }
        } else {
            self.report(false, detail)
        }
    }

    /// Opening failed: returns what to report and how long to wait before the next attempt.
    pub fn on_open_failed(&mut self, detail: String) -> (Step, Duration) {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        (self.report(false, detail), wait)
    }
}

/// How the diagnostics screen names the configured reader.
pub fn label(cfg: &ReaderConfig) -> String {
    match cfg {
        ReaderConfig::Sim => "симулятор (F1–F9, ctl tap)".into(),
        ReaderConfig::Serial {
            path,
            protocol: SerialProtocol::Em4100,
            ..
        } => format!("EM4100, {}", path.display()),
        ReaderConfig::Serial { path, baud, .. } => {
            format!("последовательный, {} ({baud})", path.display())
        }
        ReaderConfig::Evdev { path, .. } => format!("USB-клавиатура, {}", path.display()),
        ReaderConfig::Mfrc522 { spi } => format!("MFRC522, {}", spi.display()),
    }
}

/// The opener of the configured reader; `None` for the simulated one (its taps come through the
/// control socket and the window's keys). `pins` is the pin map of `outputs` (the MFRC522's reset
/// line), if any.
pub fn opener(
    cfg: &ReaderConfig,
    pins: Option<&otmetka_firmware::pinmap::PinMap>,
) -> Result<Option<Opener>, String> {
    use otmetka_firmware::serial;
    let path_str = |p: &std::path::Path| p.display().to_string();
    Ok(match cfg.clone() {
        ReaderConfig::Sim => None,
        ReaderConfig::Serial {
            path,
            protocol,
            baud,
            format,
        } => {
            let path = path_str(&path);
            Some(Box::new(move || -> Result<BoxedReader, String> {
                let why = |e: otmetka_firmware::Error| format!("{path}: {e}");
                Ok(match protocol {
                    SerialProtocol::Em4100 => Box::new(serial::em4100_reader(&path).map_err(why)?),
                    SerialProtocol::Line => Box::new(
                        serial::line_reader(&path, baud, format.line_format()).map_err(why)?,
                    ),
                })
            }))
        }
        ReaderConfig::Evdev { path, format } => {
            let path = path_str(&path);
            Some(Box::new(move || -> Result<BoxedReader, String> {
                use otmetka_firmware::wedge::{EvdevDevice, WedgeReader};
                let device = EvdevDevice::open(&path).map_err(|e| format!("{path}: {e}"))?;
                // Grabbed: the reader's digits must not type into a console or the screen.
                let reader = WedgeReader::open_device(device, true, format.line_format())
                    .map_err(|e| format!("{path}: {e}"))?;
                Ok(Box::new(reader))
            }))
        }
        ReaderConfig::Mfrc522 { spi } => Some(mfrc522_opener(spi, pins.cloned())?),
    })
}

#[cfg(any(feature = "rpi", feature = "linux"))]
fn mfrc522_opener(
    spi: std::path::PathBuf,
    pins: Option<otmetka_firmware::pinmap::PinMap>,
) -> Result<Opener, String> {
    let mut map = pins.unwrap_or_default();
    map.spi_device = spi.display().to_string();
    Ok(Box::new(move || -> Result<BoxedReader, String> {
        let config = otmetka_firmware::mfrc522::Config::default();
        #[cfg(feature = "rpi")]
        let mut chip = otmetka_firmware::backend::rpi::open_mfrc522(&map, config)
            .map_err(|e| format!("{}: {e}", map.spi_device))?;
        #[cfg(all(feature = "linux", not(feature = "rpi")))]
        let mut chip = otmetka_firmware::backend::linux::open_mfrc522(&map, config)
            .map_err(|e| format!("{}: {e}", map.spi_device))?;
        chip.init()
            .map_err(|e| format!("{}: {e}", map.spi_device))?;
        Ok(Box::new(chip))
    }))
}

#[cfg(not(any(feature = "rpi", feature = "linux")))]
fn mfrc522_opener(
    _spi: std::path::PathBuf,
    _pins: Option<otmetka_firmware::pinmap::PinMap>,
) -> Result<Opener, String> {
    Err(
        "reader = { kind = \"mfrc522\" } needs a kiosk built with --features rpi (Raspberry Pi) \
         or --features linux (spidev)"
            .into(),
    )
}

/// Starts the reader thread.
pub fn spawn(mut open: Opener, worker: WorkerHandle) {
    let spawned = std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            let mut sup = Supervisor::default();
            let started = Instant::now();
            let mut reader: Option<TapReader<BoxedReader>> = None;
            let tell = |step: Step| match step {
                Step::Carry => {}
                Step::Report { ok, detail } => {
                    if ok {
                        tracing::info!("the card reader works");
                    } else {
                        tracing::error!("the card reader fails: {detail}");
                    }
                    if let Err(e) = worker.call(Internal::ReaderHealth { ok, detail }) {
                        tracing::error!("cannot tell the kiosk about the reader: {e}");
                    }
                }
                Step::Reopen { detail } => {
                    tracing::error!("the card reader keeps failing ({detail}): opening it again");
                    if let Err(e) = worker.call(Internal::ReaderHealth { ok: false, detail }) {
                        tracing::error!("cannot tell the kiosk about the reader: {e}");
                    }
                }
            };
            loop {
                if crate::crash::injected("panic-reader") && started.elapsed() > POLL * 40 {
                    panic!("injected fault: panic-reader");
                }
                let Some(r) = reader.as_mut() else {
                    match open() {
                        Ok(r) => reader = Some(TapReader::new(r, Debouncer::default())),
                        Err(detail) => {
                            let (step, wait) = sup.on_open_failed(detail);
                            tell(step);
                            std::thread::sleep(wait);
                        }
                    }
                    continue;
                };
                let now = Instant::now();
                match r.poll(now) {
                    Ok(tap) => {
                        tell(sup.on_good_poll());
                        if let Some(tap) = tap {
                            let card = tap.card.to_string();
                            match worker.call(Command::Tap { card }) {
                                Ok(reply) => tracing::debug!(?reply, "tap from the reader"),
                                Err(e) => tracing::error!("a tap from the reader failed: {e}"),
                            }
                        }
                    }
                    Err(e) if e.is_transient() => tracing::debug!("a bad read: {e}"),
                    Err(e) => {
                        let step = sup.on_bad_poll(now, e.to_string());
                        if matches!(step, Step::Reopen { .. }) {
                            reader = None;
                        }
                        tell(step);
                    }
                }
                std::thread::sleep(POLL);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the reader thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_reported_on_change_and_a_failing_reader_is_reopened_with_growing_pauses() {
        let mut s = Supervisor::default();
        let t0 = Instant::now();
        assert_eq!(
            s.on_good_poll(),
            Step::Report {
                ok: true,
                detail: String::new()
            },
            "the first good poll is reported"
        );
        assert_eq!(s.on_good_poll(), Step::Carry, "no change, no report");
        assert_eq!(
            s.on_bad_poll(t0, "EIO".into()),
            Step::Report {
                ok: false,
                detail: "EIO".into()
            }
        );
        assert_eq!(
            s.on_bad_poll(t0 + Duration::from_millis(500), "EIO".into()),
            Step::Carry
        );
        assert_eq!(
            s.on_bad_poll(t0 + REOPEN_AFTER, "EIO".into()),
            Step::Reopen {
                detail: "EIO".into()
            }
        );
        // The device is gone: each failed open waits longer, up to the cap; one report.
        let (step, w1) = s.on_open_failed("no such file".into());
        assert_eq!(step, Step::Carry, "already reported as failing");
        let (_, w2) = s.on_open_failed("no such file".into());
        assert_eq!((w1, w2), (BACKOFF_FIRST, BACKOFF_FIRST * 2));
        let waits: Vec<Duration> = (0..10).map(|_| s.on_open_failed("x".into()).1).collect();
        assert_eq!(waits.last(), Some(&BACKOFF_MAX));
        // It is back: reported once, and the next failure starts the pauses over.
        assert_eq!(
            s.on_good_poll(),
            Step::Report {
                ok: true,
                detail: String::new()
            }
        );
        assert_eq!(s.on_open_failed("x".into()).1, BACKOFF_FIRST);
    }

    #[test]
    fn a_good_poll_between_failures_restarts_the_count() {
        let mut s = Supervisor::default();
        let t0 = Instant::now();
        s.on_bad_poll(t0, "x".into());
        s.on_good_poll();
        assert!(!matches!(
            s.on_bad_poll(t0 + REOPEN_AFTER, "x".into()),
            Step::Reopen { .. }
        ));
    }

    #[test]
    fn the_simulated_reader_has_no_thread_and_mfrc522_needs_a_hardware_build() {
        assert!(opener(&ReaderConfig::Sim, None).unwrap().is_none());
        let mfrc = opener(
            &ReaderConfig::Mfrc522 {
                spi: "/dev/spidev0.0".into(),
            },
            None,
        );
        if cfg!(any(feature = "rpi", feature = "linux")) {
            assert!(mfrc.is_ok());
        } else {
            assert!(mfrc.err().unwrap().contains("--features"));
        }
    }
}
