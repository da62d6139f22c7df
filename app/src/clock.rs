//! The kiosk's clock: the only place that reads the system time, so that tests can drive time.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// A source of the current time and of whether it is synchronised.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
    /// Whether the time is synchronised (NTP, or an RTC with a running oscillator).
    fn synced(&self) -> bool;
}

/// The system clock. "Synchronised" is the kernel's own word ([`kernel_synced`]: what
/// `timedatectl` shows as "System clock synchronized"), whichever NTP daemon (timesyncd,
/// chrony) disciplines it, or assumed where configured.
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
        self.assume_synced || kernel_synced().unwrap_or(false)
    }
}

/// The kernel's maximum error at and past which the clock is not synchronised, µs: the kernel
/// lets `maxerror` grow by 500 ppm a second while no NTP daemon disciplines the clock and
/// stops at 16 s (`NTP_PHASE_LIMIT`), where it sets `STA_UNSYNC`.
pub const UNSYNCED_MAXERROR_US: i64 = 16_000_000;

/// Whether a kernel that reports `maxerror_us` keeps synchronised time. The test is systemd's
/// (`ntp_synced()`, behind `timedatectl`'s `NTPSynchronized`): the error, not `STA_UNSYNC`,
/// which an NTP daemon may set on purpose to keep the kernel from writing the RTC.
pub fn synced_by_maxerror(maxerror_us: i64) -> bool {
    (0..UNSYNCED_MAXERROR_US).contains(&maxerror_us)
}

/// The kernel's NTP state, read with `adjtimex(2)` and no modes set (reading needs no
/// privilege and changes nothing); `None` where the call fails (a seccomp filter).
pub fn kernel_synced() -> Option<bool> {
    kernel_maxerror_us().map(synced_by_maxerror)
}

/// The kernel's maximum error of the system clock, µs (`struct timex.maxerror`).
#[allow(unsafe_code)] // one read-only system call; neither nix nor rustix wraps adjtimex
pub fn kernel_maxerror_us() -> Option<i64> {
    // SAFETY: `timex` is plain old data, valid all zero (modes = 0: read, set nothing);
    // adjtimex only writes into the struct we own for the length of the call.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    #[allow(clippy::useless_conversion)] // `c_long` is i32 on a 32-bit board
    let maxerror = i64::from(tx.maxerror);
    (state >= 0).then_some(maxerror)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronised_is_a_maximum_error_under_sixteen_seconds_as_systemd_reads_it() {
        assert!(synced_by_maxerror(0));
        assert!(
            synced_by_maxerror(250_000),
            "a disciplined clock: a fraction of a second"
        );
        assert!(synced_by_maxerror(UNSYNCED_MAXERROR_US - 1));
        assert!(
            !synced_by_maxerror(UNSYNCED_MAXERROR_US),
            "the kernel's cap: no NTP"
        );
        assert!(!synced_by_maxerror(-1), "nonsense is not synchronised");
    }

    #[test]
    fn the_system_clock_asks_the_kernel() {
        // The real system call, on whatever this machine's clock is: it answers, and the
        // clock's word is the kernel's.
        let maxerror = kernel_maxerror_us().expect("adjtimex(2) answers an unprivileged read");
        assert!((0..=UNSYNCED_MAXERROR_US).contains(&maxerror), "{maxerror}");
        let kernel = synced_by_maxerror(maxerror);
        assert_eq!(SystemClock::default().synced(), kernel);
        assert!(
            SystemClock {
                assume_synced: true
            }
            .synced()
        );
    }
}
