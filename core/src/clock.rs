//! Clock sanity. A Raspberry Pi before the Pi 5 has no clock of its own; after a power cut without
//! network it may think it is 1970 or the day its image was built. A session must not open on an
//! obviously wrong date: the instructor is asked to confirm it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the kiosk knows about its clock at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockFacts {
    /// The time the clock says now.
    pub now: DateTime<Utc>,
    /// Whether it was synchronised (NTP, or a battery-backed RTC with its oscillator running).
    pub synced: bool,
    /// When this software was built: the clock cannot be earlier.
    pub build_time: DateTime<Utc>,
    /// The latest time the store has seen (an event it wrote): the clock cannot be earlier.
    pub last_seen: Option<DateTime<Utc>>,
}

/// The verdict on a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "clock")]
pub enum ClockVerdict {
    /// Synchronised and plausible.
    Trusted,
    /// Plausible but not synchronised: events are flagged, sessions may open.
    Unsynced,
    /// Earlier than the build time.
    BeforeBuild { build_time: DateTime<Utc> },
    /// Earlier than the latest time the store has seen (the clock went backwards).
    BeforeLastSeen { last_seen: DateTime<Utc> },
}

impl ClockVerdict {
    /// Judge the clock.
    pub fn of(f: &ClockFacts) -> Self {
        if f.now < f.build_time {
            return ClockVerdict::BeforeBuild {
                build_time: f.build_time,
            };
        }
        if let Some(last) = f.last_seen {
            // A small step back (an NTP correction) is normal; minutes back are not.
            if f.now + chrono::Duration::minutes(5) < last {
                return ClockVerdict::BeforeLastSeen { last_seen: last };
            }
        }
        if f.synced {
            ClockVerdict::Trusted
        } else {
            ClockVerdict::Unsynced
        }
    }

    /// Whether a session may open without the instructor confirming the date.
    pub fn plausible(&self) -> bool {
        matches!(self, ClockVerdict::Trusted | ClockVerdict::Unsynced)
    }

    /// Whether events may be flagged as taken on a synchronised clock.
    pub fn synced(&self) -> bool {
        matches!(self, ClockVerdict::Trusted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn verdicts() {
        let facts = |now: &str, synced, last: Option<&str>| ClockFacts {
            now: t(now),
            synced,
            build_time: t("2026-11-01T00:00:00Z"),
            last_seen: last.map(t),
        };
        assert_eq!(
            ClockVerdict::of(&facts("2026-11-23T10:00:00Z", true, None)),
            ClockVerdict::Trusted
        );
        assert_eq!(
            ClockVerdict::of(&facts("2026-11-23T10:00:00Z", false, None)),
            ClockVerdict::Unsynced
        );
        assert!(matches!(
            ClockVerdict::of(&facts("1970-01-01T00:00:10Z", false, None)),
            ClockVerdict::BeforeBuild { .. }
        ));
        assert!(matches!(
            ClockVerdict::of(&facts(
                "2026-11-20T10:00:00Z",
                true,
                Some("2026-11-23T09:00:00Z")
            )),
            ClockVerdict::BeforeLastSeen { .. }
        ));
        assert_eq!(
            ClockVerdict::of(&facts(
                "2026-11-23T08:58:00Z",
                true,
                Some("2026-11-23T09:00:00Z")
            )),
            ClockVerdict::Trusted
        );
    }
}
