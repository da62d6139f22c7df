//! The PIR presence sensor: someone is near the kiosk (wake the screen, greet).
//!
//! A PIR module's output (HC-SR501 and similar) goes high on motion and may glitch on power
//! noise. [`PresenceFilter`] is pure: the level must hold for `settle` before it counts, and
//! presence lasts `hold` after the last motion (people stand still while they read the screen).

use embedded_hal::digital::InputPin;
use std::time::{Duration, Instant};

/// A change of presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Someone arrived.
    Arrived,
    /// Nobody has moved for `hold`.
    Left,
}

/// Debounces a PIR level into presence changes.
#[derive(Debug, Clone)]
pub struct PresenceFilter {
    settle: Duration,
    hold: Duration,
    present: bool,
    /// Level seen and since when.
    level: Option<(bool, Instant)>,
    last_motion: Option<Instant>,
}

impl PresenceFilter {
    /// A filter: a level must last `settle` to count; presence ends `hold` after the last
    /// motion.
    pub fn new(settle: Duration, hold: Duration) -> Self {
        PresenceFilter {
            settle,
            hold,
            present: false,
            level: None,
            last_motion: None,
        }
    }

    /// Whether someone is present now.
    pub fn present(&self) -> bool {
        self.present
    }

    /// Feeds the level read at `now`.
    pub fn observe(&mut self, now: Instant, high: bool) -> Option<Presence> {
        let since = match self.level {
            Some((l, since)) if l == high => since,
            _ => {
                self.level = Some((high, now));
                now
            }
        };
        let stable = now.saturating_duration_since(since) >= self.settle;
        if high && stable {
            self.last_motion = Some(now);
            if !self.present {
                self.present = true;
                return Some(Presence::Arrived);
            }
        }
        if self.present
            && self
                .last_motion
                .is_none_or(|t| now.saturating_duration_since(t) >= self.hold)
        {
            self.present = false;
            return Some(Presence::Left);
        }
        None
    }
}

impl Default for PresenceFilter {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(30))
    }
}

/// A PIR sensor on an input pin.
#[derive(Debug)]
pub struct PirSensor<P> {
    pin: P,
    filter: PresenceFilter,
}

impl<P: InputPin> PirSensor<P> {
    /// A sensor on a pin (high = motion).
    pub fn new(pin: P, filter: PresenceFilter) -> Self {
        PirSensor { pin, filter }
    }

    /// Reads the pin once at `now`.
    pub fn poll(&mut self, now: Instant) -> Result<Option<Presence>, P::Error> {
        let high = self.pin.is_high()?;
        Ok(self.filter.observe(now, high))
    }

    /// Whether someone is present.
    pub fn present(&self) -> bool {
        self.filter.present()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glitch_shorter_than_settle_is_ignored() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut f = PresenceFilter::new(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(f.observe(ms(0), true), None);
        assert_eq!(f.observe(ms(50), true), None);
        assert_eq!(f.observe(ms(60), false), None);
        assert!(!f.present());
    }

    #[test]
    fn presence_starts_after_settle_and_ends_hold_after_the_last_motion() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut f = PresenceFilter::new(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(f.observe(ms(0), true), None);
        assert_eq!(f.observe(ms(100), true), Some(Presence::Arrived));
        assert_eq!(f.observe(ms(2000), true), None);
        assert_eq!(f.observe(ms(2100), false), None);
        assert_eq!(f.observe(ms(6900), false), None);
        assert_eq!(f.observe(ms(7000), false), Some(Presence::Left));
        assert_eq!(f.observe(ms(7100), false), None);
    }
}
