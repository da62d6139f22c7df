//! Logging that a flood cannot turn into a flood of its own: one line per kiosk and kind of
//! trouble per interval, saying how many were left unsaid since the last. (A journal that
//! logged every refused message of a 50,000-a-second flood spent its time writing the log, and
//! filled journald's share of the disk.)

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

/// The most keys held; past it, the oldest interval's are forgotten (their next line is logged).
const MAX_KEYS: usize = 10_000;

/// Which lines to write.
#[derive(Debug)]
pub struct Quiet {
    every: Duration,
    /// The hash of (site, kiosk, kind) → when its last line was written, and lines not written
    /// since. A hash, so that a flood's every message allocates nothing here (two keys that
    /// collide share their interval: a line fewer, never a message lost).
    last: HashMap<u64, (Instant, u64)>,
    hasher: std::collections::hash_map::RandomState,
}

impl Quiet {
    pub fn new(every: Duration) -> Quiet {
        Quiet {
            every,
            last: HashMap::new(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Whether to write a line about `kind` for `kiosk` of `site` at `now`: `Some(n)` with the
    /// lines left unsaid before it, or `None` to stay quiet (counted).
    pub fn speak(
        &mut self,
        site: &str,
        kiosk: &str,
        kind: &'static str,
        now: Instant,
    ) -> Option<u64> {
        let key = self.hasher.hash_one((site, kiosk, kind));
        match self.last.get_mut(&key) {
            Some((at, held)) if now.saturating_duration_since(*at) < self.every => {
                *held += 1;
                None
            }
            Some((at, held)) => {
                *at = now;
                Some(std::mem::take(held))
            }
            None => {
                if self.last.len() >= MAX_KEYS {
                    let every = self.every;
                    self.last
                        .retain(|_, (at, _)| now.saturating_duration_since(*at) < every);
                }
                self.last.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kiosk_and_kind_per_interval_with_the_count_left_unsaid() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut q = Quiet::new(s(10));
        assert_eq!(q.speak("demo", "k1", "malformed", t0), Some(0));
        for i in 1..=5 {
            assert_eq!(q.speak("demo", "k1", "malformed", t0 + s(i)), None);
        }
        assert_eq!(
            q.speak("demo", "k1", "invalid", t0 + s(1)),
            Some(0),
            "another kind"
        );
        assert_eq!(
            q.speak("demo", "k2", "malformed", t0 + s(1)),
            Some(0),
            "another kiosk"
        );
        assert_eq!(q.speak("demo", "k1", "malformed", t0 + s(10)), Some(5));
        assert_eq!(q.speak("demo", "k1", "malformed", t0 + s(11)), None);
    }
}
