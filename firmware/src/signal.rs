//! Buzzer, lights and relay: what the kiosk does besides the screen when a card is tapped.
//!
//! A signal is a pure sequence of [`Step`]s (which outputs are on, for how long); the
//! [`Player`] is a sans-I/O state machine that says, for a given `now`, which outputs should be
//! on and when the next change is due; [`Indicators`] writes that to embedded-hal pins.
//! The patterns differ in rhythm as well as colour, so that they can be told apart by someone
//! who cannot see red from green, and by ear alone.

use embedded_hal::digital::OutputPin;
use std::time::{Duration, Instant};

/// What the kiosk wants to signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// Check-in recorded: one short beep, green light.
    Accepted,
    /// Refused by a rule (unknown card, group full...): two beeps, red light.
    Refused,
    /// Accepted with a warning the instructor should see: amber (both lights) blinking, one
    /// beep.
    Warning,
    /// The kiosk itself is in trouble (reader lost, storage failing): long beep, red blinking.
    Error,
}

/// The state of every output during one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outputs {
    /// Buzzer sounding.
    pub buzzer: bool,
    /// Green light on.
    pub green: bool,
    /// Red light on.
    pub red: bool,
    /// Relay (door or turnstile) energised.
    pub relay: bool,
}

/// One step of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Outputs during the step.
    pub outputs: Outputs,
    /// How long the step lasts.
    pub duration: Duration,
}

const fn step(buzzer: bool, green: bool, red: bool, ms: u64) -> Step {
    Step {
        outputs: Outputs {
            buzzer,
            green,
            red,
            relay: false,
        },
        duration: Duration::from_millis(ms),
    }
}

const ACCEPTED: [Step; 2] = [step(true, true, false, 120), step(false, true, false, 1380)];
const REFUSED: [Step; 4] = [
    step(true, false, true, 150),
    step(false, false, true, 100),
    step(true, false, true, 150),
    step(false, false, true, 1600),
];
const WARNING: [Step; 6] = [
    step(true, true, true, 200),
    step(false, false, false, 200),
    step(false, true, true, 200),
    step(false, false, false, 200),
    step(false, true, true, 200),
    step(false, false, false, 200),
];
const ERROR: [Step; 6] = [
    step(true, false, true, 600),
    step(false, false, false, 200),
    step(false, false, true, 200),
    step(false, false, false, 200),
    step(false, false, true, 200),
    step(false, false, false, 200),
];

/// The steps of a signal (after the last step every output is off).
pub fn pattern(signal: Signal) -> &'static [Step] {
    match signal {
        Signal::Accepted => &ACCEPTED,
        Signal::Refused => &REFUSED,
        Signal::Warning => &WARNING,
        Signal::Error => &ERROR,
    }
}

/// Plays patterns. A new signal replaces the one playing (the newest tap wins).
#[derive(Debug, Clone, Default)]
pub struct Player {
    playing: Option<(Signal, Instant)>,
    /// Relay pulse length for accepted taps; `None` when no relay is fitted.
    relay_pulse: Option<Duration>,
}

impl Player {
    /// A player; `relay_pulse` energises the relay for that long on [`Signal::Accepted`].
    pub fn new(relay_pulse: Option<Duration>) -> Self {
        Player {
            playing: None,
            relay_pulse,
        }
    }

    /// Starts a signal at `now`.
    pub fn start(&mut self, signal: Signal, now: Instant) {
        self.playing = Some((signal, now));
    }

    /// The outputs that should be on at `now`, and when they next change (`None`: idle).
    pub fn at(&self, now: Instant) -> (Outputs, Option<Instant>) {
        let Some((signal, start)) = self.playing else {
            return (Outputs::default(), None);
        };
        let elapsed = now.saturating_duration_since(start);
        let mut t = Duration::ZERO;
        let mut out = Outputs::default();
        let mut next = None;
        for s in pattern(signal) {
            if elapsed < t + s.duration {
                out = s.outputs;
                next = Some(start + t + s.duration);
                break;
            }
            t += s.duration;
        }
        if signal == Signal::Accepted {
            if let Some(pulse) = self.relay_pulse {
                if elapsed < pulse {
                    out.relay = true;
                    let end = start + pulse;
                    next = Some(next.map_or(end, |n| n.min(end)));
                }
            }
        }
        (out, next)
    }
}

/// The output pins. Any of them may be missing (`None`).
#[derive(Debug)]
pub struct Indicators<P> {
    /// Buzzer (active buzzer module: high = sound).
    pub buzzer: Option<P>,
    /// Green light.
    pub green: Option<P>,
    /// Red light.
    pub red: Option<P>,
    /// Relay.
    pub relay: Option<P>,
    current: Option<Outputs>,
}

impl<P: OutputPin> Indicators<P> {
    /// Pins as wired.
    pub fn new(buzzer: Option<P>, green: Option<P>, red: Option<P>, relay: Option<P>) -> Self {
        Indicators {
            buzzer,
            green,
            red,
            relay,
            current: None,
        }
    }

    /// Drives the pins to `out`, touching only those that change.
    pub fn apply(&mut self, out: Outputs) -> Result<(), P::Error> {
        let old = self.current;
        let changed = |f: fn(&Outputs) -> bool| old.is_none_or(|o| f(&o) != f(&out));
        let pins: [(&mut Option<P>, bool, bool); 4] = [
            (&mut self.buzzer, out.buzzer, changed(|o| o.buzzer)),
            (&mut self.green, out.green, changed(|o| o.green)),
            (&mut self.red, out.red, changed(|o| o.red)),
            (&mut self.relay, out.relay, changed(|o| o.relay)),
        ];
        for (pin, on, changed) in pins {
            if let (Some(p), true) = (pin.as_mut(), changed) {
                if on {
                    p.set_high()?;
                } else {
                    p.set_low()?;
                }
            }
        }
        self.current = Some(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn every_pattern_ends_dark_and_silent_within_two_seconds() {
        for s in [
            Signal::Accepted,
            Signal::Refused,
            Signal::Warning,
            Signal::Error,
        ] {
            let total: Duration = pattern(s).iter().map(|s| s.duration).sum();
            assert!(total <= Duration::from_secs(2), "{s:?}");
            let t0 = Instant::now();
            let mut p = Player::default();
            p.start(s, t0);
            assert_eq!(p.at(t0 + total), (Outputs::default(), None));
        }
    }

    #[test]
    fn patterns_differ_in_their_beeps_not_only_in_colour() {
        let beeps = |s| pattern(s).iter().filter(|s| s.outputs.buzzer).count();
        let first = |s| pattern(s)[0].duration;
        let rhythms: Vec<_> = [
            Signal::Accepted,
            Signal::Refused,
            Signal::Warning,
            Signal::Error,
        ]
        .into_iter()
        .map(|s| (beeps(s), first(s)))
        .collect();
        for i in 0..rhythms.len() {
            for j in i + 1..rhythms.len() {
                assert_ne!(rhythms[i], rhythms[j]);
            }
        }
    }

    #[test]
    fn player_walks_the_steps_and_says_when_to_wake() {
        let t0 = Instant::now();
        let mut p = Player::default();
        p.start(Signal::Refused, t0);
        let (o, next) = p.at(t0);
        assert!(o.buzzer && o.red && !o.green);
        assert_eq!(next, Some(ms(t0, 150)));
        let (o, next) = p.at(ms(t0, 200));
        assert!(!o.buzzer && o.red);
        assert_eq!(next, Some(ms(t0, 250)));
        // a new signal replaces the old one
        p.start(Signal::Accepted, ms(t0, 300));
        assert!(p.at(ms(t0, 300)).0.green);
    }

    #[test]
    fn relay_pulses_only_on_accepted() {
        let t0 = Instant::now();
        let mut p = Player::new(Some(Duration::from_millis(500)));
        p.start(Signal::Accepted, t0);
        assert!(p.at(ms(t0, 10)).0.relay);
        assert_eq!(p.at(ms(t0, 130)).1, Some(ms(t0, 500)));
        assert!(!p.at(ms(t0, 600)).0.relay);
        p.start(Signal::Refused, t0);
        assert!(!p.at(ms(t0, 10)).0.relay);
    }
}
