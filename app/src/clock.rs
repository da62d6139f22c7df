//! The kiosk's clock: the only place that reads the system time, so that tests can drive time.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// A source of the current time and of whether it is synchronised.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
    /// Whether the time is synchronised (NTP, or an RTC with a running oscillator).
    fn synced(&self) -> bool;
}

/// The system clock. "Synchronised" is read from the kernel's NTP state (`adjtimex` through
/// `timedatectl`-free means: the file systemd-timesyncd touches), or assumed where configured.
#[derive(Debug, Clone, Default)]
pub struct SystemClock {
    /// Treat the clock as synchronised regardless (desktop demo, servers with NTP).
    pub assume_synced: bool,
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn synced(&self) -> bool {
        // systemd-timesyncd creates this file once it has synchronised the clock.
        self.assume_synced || std::path::Path::new("/run/systemd/timesync/synchronized").exists()
    }
}

/// One clock shared by the kiosk and its screens.
#[derive(Debug, Clone)]
pub struct SharedClock(pub Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    fn synced(&self) -> bool {
        self.0.synced()
    }
}

/// A clock the tests set and move, with an offset the instructor may have confirmed.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<(DateTime<Utc>, bool)>>,
}

impl ManualClock {
    pub fn new(now: DateTime<Utc>, synced: bool) -> Self {
        ManualClock {
            inner: Arc::new(Mutex::new((now, synced))),
        }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        if let Ok(mut g) = self.inner.lock() {
            g.0 = now;
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut g) = self.inner.lock() {
            g.0 += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.lock().map(|g| g.0).unwrap_or_default()
    }

    fn synced(&self) -> bool {
        self.inner.lock().map(|g| g.1).unwrap_or(false)
    }
}

/// The build time of this binary (clock sanity: the clock cannot be earlier).
pub fn build_time() -> DateTime<Utc> {
    option_env!("OTMETKA_BUILD_TIME")
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| {
            DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        })
}
