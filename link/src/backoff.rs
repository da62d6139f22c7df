//! Reconnect delays: exponential back-off with jitter, from an injected seed.
//!
//! "Equal jitter": attempt n waits a random time in `[c/2, c]` with `c = min(cap, initial·2ⁿ)`,
//! so a fleet of kiosks that lost the broker at the same moment does not come back in lockstep,
//! and no attempt comes sooner than half its ceiling.

use std::time::{Duration, Instant};

/// SplitMix64: a tiny, well-mixed PRNG. Good enough for jitter; it is not for secrets.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Reconnect delay policy and its state.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    attempt: u32,
    rng: SplitMix64,
    /// When the current connection was accepted (CONNACK), while it is up.
    up_since: Option<Instant>,
}

impl Backoff {
    /// Delays start near `initial`, double per failed attempt and never exceed `cap`.
    pub fn new(initial: Duration, cap: Duration, seed: u64) -> Self {
        Backoff {
            initial,
            cap: cap.max(initial),
            attempt: 0,
            rng: SplitMix64::new(seed),
            up_since: None,
        }
    }

    /// The delay before the next attempt; each call counts one more failed attempt.
    pub fn next_delay(&mut self) -> Duration {
        // 2^16 · initial is far past any sane cap; stop doubling there to avoid overflow.
        let factor = 1u32 << self.attempt.min(16);
        let ceiling = self.initial.saturating_mul(factor).min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let span = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = if span == 0 {
            0
        } else {
            self.rng.next_u64() % (span + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    /// Forgets the failures.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// A connection was accepted at `at`. The failures are forgotten only once it has held
    /// for as long as the longest delay ([`Backoff::lost`]): a broker that accepts and drops at
    /// once (a revoked credential, an ACL that kills the session, a full queue) must not be
    /// hammered at the shortest delay in a loop.
    pub fn connected(&mut self, at: Instant) {
        self.up_since = Some(at);
    }

    /// The connection accepted at [`Backoff::connected`] was lost at `at`.
    pub fn lost(&mut self, at: Instant) {
        if let Some(since) = self.up_since.take() {
            if at.saturating_duration_since(since) >= self.cap {
                self.reset();
            }
        }
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_dropped_at_once_does_not_reset_the_delay_but_one_that_held_does() {
        let (initial, cap) = (Duration::from_millis(200), Duration::from_secs(10));
        let mut b = Backoff::new(initial, cap, 3);
        for _ in 0..4 {
            b.next_delay();
        }
        let t0 = Instant::now();
        // CONNACK, then a drop 50 ms later: the next delay keeps growing.
        b.connected(t0);
        b.lost(t0 + Duration::from_millis(50));
        assert_eq!(b.attempts(), 4);
        assert!(b.next_delay() >= initial * 16 / 2);
        // A connection that held for the cap: the failures are forgotten.
        b.connected(t0 + cap);
        b.lost(t0 + cap * 2);
        assert_eq!(b.attempts(), 0);
        assert!(b.next_delay() <= initial);
    }

    #[test]
    fn delays_grow_within_jitter_bounds_and_stop_at_the_cap() {
        let initial = Duration::from_millis(500);
        let cap = Duration::from_secs(60);
        let mut b = Backoff::new(initial, cap, 7);
        let mut ceilings_seen = Vec::new();
        for n in 0..20u32 {
            let ceiling = (initial * 2u32.pow(n.min(16))).min(cap);
            let d = b.next_delay();
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "attempt {n}: {d:?} outside [c/2, {ceiling:?}]"
            );
            ceilings_seen.push(ceiling);
        }
        assert_eq!(*ceilings_seen.last().unwrap(), cap);
        b.reset();
        assert!(b.next_delay() <= initial);
    }

    #[test]
    fn same_seed_same_delays_other_seed_other_delays() {
        let run = |seed| {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300), seed);
            (0..10).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn jitter_spreads_a_fleet() {
        // 100 kiosks with different seeds, third attempt: the delays must not all coincide.
        let mut delays: Vec<Duration> = (0..100u64)
            .map(|seed| {
                let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), seed);
                b.next_delay();
                b.next_delay();
                b.next_delay()
            })
            .collect();
        delays.sort();
        delays.dedup();
        assert!(delays.len() > 90, "only {} distinct delays", delays.len());
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(3600), Duration::from_secs(7200), 0);
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(7200));
        }
        assert_eq!(b.attempts(), 100);
    }
}
