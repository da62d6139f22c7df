//! Taps: what the kiosk receives from any card reader.
//!
//! A reader is polled (or reports by itself); each call says which card, if any, it sees now.
//! The [`Debouncer`] turns those observations into taps:
//! - a card resting on the reader is one tap (it is seen again and again);
//! - the same card lifted and presented again within [`Debouncer::window`] of the last time it
//!   was seen is still one tap (people tap twice to be sure);
//! - a different card is a new tap at once.
//!
//! Time is passed in (`now: Instant`), so the rules are tested without sleeping.

use crate::Error;
use otmetka_core::card::CardRead;
use std::time::{Duration, Instant};

/// Which kind of reader produced a tap (for the kiosk's status and diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReaderKind {
    /// NXP MFRC522 (13.56 MHz, ISO 14443 A) over SPI.
    Mfrc522,
    /// A 125 kHz EM4100 module on a UART (RDM6300 style frames).
    Em4100Serial,
    /// A serial reader that sends one UID per line.
    LineSerial,
    /// A USB keyboard-wedge reader read through evdev.
    KeyboardWedge,
    /// The simulated reader (desktop demo, tests, `ctl tap`).
    Simulated,
}

/// One tap: a card, the reader it came from, and when it was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tap {
    /// The card as read.
    pub card: CardRead,
    /// The reader kind.
    pub reader: ReaderKind,
    /// When the tap was registered (monotonic).
    pub at: Instant,
}

/// A source of card observations. Implementations do the bus work; debouncing is separate.
pub trait CardReader {
    /// The kind of this reader.
    fn kind(&self) -> ReaderKind;

    /// Looks for a card once. `Ok(None)` means no card is in the field (or no complete frame has
    /// arrived yet, for readers that report by themselves). Must return within a bounded time.
    fn read_card(&mut self) -> Result<Option<CardRead>, Error>;
}

impl<R: CardReader + ?Sized> CardReader for Box<R> {
    fn kind(&self) -> ReaderKind {
        (**self).kind()
    }
    fn read_card(&mut self) -> Result<Option<CardRead>, Error> {
        (**self).read_card()
    }
}

/// The longest list of recently seen cards the debouncer keeps. A kiosk sees one card at a
/// time; the cap keeps memory bounded whatever a faulty reader sends.
const MAX_RECENT: usize = 32;

/// Turns card observations into taps (see the module doc for the rules).
#[derive(Debug, Clone)]
pub struct Debouncer {
    window: Duration,
    /// Cards seen recently, with the last time each was seen.
    recent: Vec<(CardRead, Instant)>,
}

impl Debouncer {
    /// The default window: long enough for a deliberate second tap, short enough that a person
    /// who comes back later is counted (the rules in core decide what a second tap means).
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3);

    /// A debouncer with the given re-presentation window.
    pub fn new(window: Duration) -> Self {
        Debouncer {
            window,
            recent: Vec::new(),
        }
    }

    /// The re-presentation window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Feeds one observation: `Some(card)` if a card is seen at `now`, `None` if none.
    /// Returns the card if this observation is a new tap.
    pub fn observe(&mut self, now: Instant, seen: Option<CardRead>) -> Option<CardRead> {
        let window = self.window;
        // Forget cards not seen for longer than the window: presenting them again is a new tap.
        self.recent
            .retain(|(_, last)| now.saturating_duration_since(*last) <= window);
        let card = seen?;
        if let Some(entry) = self.recent.iter_mut().find(|(c, _)| *c == card) {
            entry.1 = now;
            return None;
        }
        if self.recent.len() >= MAX_RECENT {
            // Drop the one seen longest ago.
            if let Some(oldest) = self
                .recent
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(i, _)| i)
            {
                self.recent.swap_remove(oldest);
            }
        }
        self.recent.push((card, now));
        Some(card)
    }
}

impl Default for Debouncer {
    fn default() -> Self {
        Self::new(Self::DEFAULT_WINDOW)
    }
}

/// A reader with its debouncer: call [`TapReader::poll`] once per poll interval.
#[derive(Debug)]
pub struct TapReader<R> {
    reader: R,
    debouncer: Debouncer,
}

impl<R: CardReader> TapReader<R> {
    /// Wraps a reader.
    pub fn new(reader: R, debouncer: Debouncer) -> Self {
        TapReader { reader, debouncer }
    }

    /// Polls the reader once at `now`; returns a tap if a new card was presented. A read error
    /// is returned as is and does not disturb the debouncer (a flaky read is not "no card").
    pub fn poll(&mut self, now: Instant) -> Result<Option<Tap>, Error> {
        let seen = self.reader.read_card()?;
        let reader = self.reader.kind();
        Ok(self.debouncer.observe(now, seen).map(|card| Tap {
            card,
            reader,
            at: now,
        }))
    }

    /// The reader, e.g. to reach a simulator's field.
    pub fn reader_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// Unwraps the reader.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otmetka_core::card::CardKey;

    fn card(b: u8) -> CardRead {
        CardRead::Uid(CardKey::from_uid(&[b, 2, 3, 4]).unwrap())
    }

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn a_resting_card_is_one_tap() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_secs(2));
        let taps: Vec<_> = (0..200)
            .filter_map(|i| d.observe(ms(t0, i * 50), Some(card(1))))
            .collect();
        assert_eq!(taps, vec![card(1)]);
    }

    #[test]
    fn lifted_and_presented_again_within_the_window_is_one_tap() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_secs(2));
        assert_eq!(d.observe(ms(t0, 0), Some(card(1))), Some(card(1)));
        assert_eq!(d.observe(ms(t0, 50), Some(card(1))), None);
        for i in 2..30 {
            // lifted for 1.4 s
            assert_eq!(d.observe(ms(t0, i * 50), None), None);
        }
        assert_eq!(d.observe(ms(t0, 1500), Some(card(1))), None);
    }

    #[test]
    fn presented_again_after_the_window_is_a_new_tap() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_secs(2));
        assert!(d.observe(ms(t0, 0), Some(card(1))).is_some());
        assert!(d.observe(ms(t0, 100), None).is_none());
        // last seen at 0 ms; 2.001 s later is outside the window
        assert_eq!(d.observe(ms(t0, 2001), Some(card(1))), Some(card(1)));
    }

    #[test]
    fn the_window_counts_from_the_last_time_the_card_was_seen() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_secs(2));
        assert!(d.observe(ms(t0, 0), Some(card(1))).is_some());
        // rests for 10 s
        for i in 1..=200 {
            assert!(d.observe(ms(t0, i * 50), Some(card(1))).is_none());
        }
        // lifted at 10 s, back at 11.5 s: same tap
        assert!(d.observe(ms(t0, 11_500), Some(card(1))).is_none());
    }

    #[test]
    fn two_different_cards_in_a_row_are_two_taps() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_secs(2));
        assert_eq!(d.observe(ms(t0, 0), Some(card(1))), Some(card(1)));
        assert_eq!(d.observe(ms(t0, 50), Some(card(2))), Some(card(2)));
        assert_eq!(d.observe(ms(t0, 100), Some(card(2))), None);
        // the first card again within its window: still its first tap
        assert_eq!(d.observe(ms(t0, 150), Some(card(1))), None);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_cards() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_secs(60));
        for i in 0..1000u32 {
            let k = CardKey::from_uid(&i.to_be_bytes()).unwrap();
            assert!(
                d.observe(ms(t0, u64::from(i)), Some(CardRead::Uid(k)))
                    .is_some()
            );
        }
        assert!(d.recent.len() <= MAX_RECENT);
    }

    proptest::proptest! {
        /// One card seen with gaps never longer than the window is exactly one tap, however
        /// the observations are spread; any gap longer than the window adds one tap.
        #[test]
        fn taps_are_one_plus_the_gaps_longer_than_the_window(
            steps in proptest::collection::vec((0u64..5000, proptest::bool::ANY), 1..200),
        ) {
            let window = Duration::from_secs(2);
            let t0 = Instant::now();
            let mut d = Debouncer::new(window);
            let mut t = 0u64;
            let mut last_seen: Option<u64> = None;
            let mut expected = 0;
            let mut taps = 0;
            for (dt, seen) in steps {
                t += dt;
                let obs = seen.then_some(card(9));
                if seen {
                    if last_seen.is_none_or(|l| t - l > 2000) {
                        expected += 1;
                    }
                    last_seen = Some(t);
                }
                if d.observe(ms(t0, t), obs).is_some() {
                    taps += 1;
                }
            }
            proptest::prop_assert_eq!(taps, expected);
        }
    }

    struct Scripted(Vec<Option<CardRead>>);
    impl CardReader for Scripted {
        fn kind(&self) -> ReaderKind {
            ReaderKind::Simulated
        }
        fn read_card(&mut self) -> Result<Option<CardRead>, Error> {
            if self.0.is_empty() {
                return Err(Error::Timeout);
            }
            Ok(self.0.remove(0))
        }
    }

    #[test]
    fn tap_reader_stamps_taps_and_passes_errors_through() {
        let t0 = Instant::now();
        let mut r = TapReader::new(
            Scripted(vec![Some(card(7)), Some(card(7)), None]),
            Debouncer::default(),
        );
        let tap = r.poll(t0).unwrap().unwrap();
        assert_eq!(tap.card, card(7));
        assert_eq!(tap.reader, ReaderKind::Simulated);
        assert_eq!(tap.at, t0);
        assert!(r.poll(ms(t0, 50)).unwrap().is_none());
        assert!(r.poll(ms(t0, 100)).unwrap().is_none());
        let err = r.poll(ms(t0, 150)).unwrap_err();
        assert!(matches!(err, Error::Timeout) && err.is_transient());
        assert!(!Error::NoReader("x".into()).is_transient());
    }
}
