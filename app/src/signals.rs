//! Lights and buzzer follow each tap result, as the screen and the voice do (the standards ask
//! for text duplicated by sound or light, domain §4): the tone of the outcome picks one of the
//! firmware's patterns ([`otmetka_firmware::signal`]), which differ in rhythm as well as colour.
//!
//! [`spawn`] runs the firmware's sans-I/O pattern player on a thread of its own that drives the
//! pins through [`Indicators`]: the worker only sends the signal and never waits for a pin.

use crate::screens::SignalFn;
use otmetka_core::decision::Tone;
use otmetka_firmware::signal::{Indicators, Player, Signal};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The pattern of an outcome's tone.
pub fn signal_of(tone: Tone) -> Signal {
    match tone {
        // "Already checked in" confirms the read too: the person is in.
        Tone::Accepted | Tone::Notice => Signal::Accepted,
        Tone::Warning => Signal::Warning,
        Tone::Refused => Signal::Refused,
        Tone::Error => Signal::Error,
    }
}

/// Starts the thread that plays patterns on `pins`; the returned function hands it each tap
/// result. A newer signal replaces the one playing. A pin that fails is logged once and the
/// kiosk goes on (the screen and the voice still say the outcome).
pub fn spawn<P>(mut pins: Indicators<P>, relay_pulse: Option<Duration>) -> SignalFn
where
    P: embedded_hal::digital::OutputPin + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Signal>();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut player = Player::new(relay_pulse);
            let mut next: Option<Instant> = None;
            let mut failed = false;
            loop {
                let got = match next {
                    Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                    None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                };
                match got {
                    Ok(signal) => player.start(signal, Instant::now()),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                let (out, when) = player.at(Instant::now());
                next = when;
                if let Err(e) = pins.apply(out) {
                    if !failed {
                        tracing::error!("lights and buzzer: a pin failed: {e:?}");
                        failed = true;
                    }
                }
            }
            // Leave everything off.
            let _ = pins.apply(Default::default());
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the lights and buzzer thread: {e}");
    }
    Box::new(move |view| {
        let _ = tx.send(signal_of(view.tone));
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::texts::{Lang, Texts};
    use crate::ui::view::tap_view;
    use otmetka_core::decision::Decision;
    use otmetka_firmware::sim::pins::SimOutputPin;

    #[test]
    fn every_tone_has_its_own_pattern_but_notice() {
        let mut seen: Vec<Signal> = [Tone::Accepted, Tone::Warning, Tone::Refused, Tone::Error]
            .into_iter()
            .map(signal_of)
            .collect();
        seen.dedup();
        assert_eq!(seen.len(), 4);
        assert_eq!(signal_of(Tone::Notice), Signal::Accepted);
    }

    /// The thread plays a refused tap on (simulated) pins: the red light and the buzzer go on and
    /// off twice, the green light never, and everything ends off.
    #[test]
    fn a_refused_tap_plays_on_the_pins() {
        let (buzzer, green, red) = (
            SimOutputPin::new(),
            SimOutputPin::new(),
            SimOutputPin::new(),
        );
        let pins = Indicators::new(
            Some(buzzer.clone()),
            Some(green.clone()),
            Some(red.clone()),
            None,
        );
        let mut signal = spawn(pins, None);
        let t = Texts::bundled(Lang::Ru);
        let view = tap_view(&Decision::UnknownCard, None, &t);
        assert_eq!(view.tone, Tone::Refused);
        signal(&view);
        // The refused pattern lasts 2 s; wait (bounded) until the red light went off again.
        let deadline = Instant::now() + Duration::from_secs(20);
        while (red.is_set_high_now() || red.edges().len() < 2) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(red.edges().first(), Some(&true), "red went on");
        assert!(!red.is_set_high_now(), "red ends off");
        let beeps = buzzer.edges().iter().filter(|on| **on).count();
        assert_eq!(beeps, 2, "two beeps: {:?}", buzzer.edges());
        assert!(!green.edges().contains(&true), "green stays off");
    }
}
