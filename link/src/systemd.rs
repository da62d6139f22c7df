//! Telling systemd how the process is (`sd_notify(3)`), for both services that hold a link to the
//! broker: the kiosk and the journal. Their units are `Type=notify` with `WatchdogSec=`:
//! - [`ready`] once the process can do its work (READY=1), so `systemctl start` waits for it and
//!   units ordered after it start only then;
//! - [`Watchdog::pet`] from the loop that does the work (the kiosk's worker, the journal's
//!   ingest), never from a timer of its own: a loop that is stuck stops the pings, and systemd
//!   kills the process and starts it again (`Restart=always`);
//! - [`stopping`] when it is asked to stop.
//!
//! Outside systemd (no `NOTIFY_SOCKET`, no `WATCHDOG_USEC`) every call does nothing.

use std::time::{Duration, Instant};

/// READY=1, with a line for `systemctl status`.
pub fn ready(status: &str) {
    send(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(status),
    ]);
}

/// STOPPING=1.
pub fn stopping() {
    send(&[sd_notify::NotifyState::Stopping]);
}

/// A new line for `systemctl status` (STATUS=...).
pub fn status(status: &str) {
    send(&[sd_notify::NotifyState::Status(status)]);
}

fn send(states: &[sd_notify::NotifyState]) {
    // `false`: keep NOTIFY_SOCKET, the watchdog pings need it again.
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// The service manager's watchdog, as `WATCHDOG_USEC`/`WATCHDOG_PID` give it to this process.
#[derive(Debug, Clone)]
pub struct Watchdog {
    /// How often to ping: half the manager's timeout, as sd_watchdog_enabled(3) advises.
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Watchdog {
    /// The watchdog this process was started with, if any.
    pub fn from_env() -> Self {
        let mut usec = 0;
        let every = sd_notify::watchdog_enabled(false, &mut usec)
            .then(|| Duration::from_micros(usec) / 2)
            .filter(|d| !d.is_zero());
        if let Some(every) = every {
            tracing::info!("systemd watchdog on: a ping every {} ms", every.as_millis());
        }
        Watchdog { every, last: None }
    }

    /// No watchdog (tests, a process run by hand).
    pub fn off() -> Self {
        Watchdog {
            every: None,
            last: None,
        }
    }

    /// How often the loop must call [`Watchdog::pet`], if there is a watchdog.
    pub fn every(&self) -> Option<Duration> {
        self.every
    }

    /// When the next ping is due (now, if none was sent yet); `None` without a watchdog.
    pub fn due(&self) -> Option<Instant> {
        let every = self.every?;
        Some(self.last.map_or_else(Instant::now, |l| l + every))
    }

    /// WATCHDOG=1 if a ping is due: the loop calls this on every turn.
    pub fn pet(&mut self) {
        let Some(due) = self.due() else { return };
        let now = Instant::now();
        if now >= due {
            self.last = Some(now);
            send(&[sd_notify::NotifyState::Watchdog]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_never_pings_and_has_no_deadline() {
        let mut w = Watchdog::off();
        w.pet();
        assert_eq!(w.due(), None);
        assert_eq!(w.every(), None);
    }

    #[test]
    fn a_ping_is_due_at_once_then_every_half_timeout() {
        let mut w = Watchdog {
            every: Some(Duration::from_secs(10)),
            last: None,
        };
        assert!(w.due().is_some_and(|d| d <= Instant::now()));
        w.pet();
        let next = w.due().expect("a deadline");
        assert!(next > Instant::now() + Duration::from_secs(9));
        // A second call at once sends nothing and keeps the deadline.
        w.pet();
        assert_eq!(w.due(), Some(next));
    }
}
