//! Admission: how much of one kiosk credential's traffic the journal takes, so that a flood
//! from one credential (a broken kiosk in a loop, or a stolen credential) can neither fill the
//! journal's disk nor hold up every other kiosk's check-ins for long.
//!
//! Each kiosk has two token buckets, taken from together: a short one (`burst` messages,
//! refilled at `rate` a second) and a daily one (`daily` messages, refilled at `daily` a day).
//! A message that finds either empty is *deferred*: the journal PUBACKs it without reading it
//! and without storing anything of it but a count, so it costs a hash lookup and a few
//! arithmetic steps. Its seq is never acknowledged, so a real kiosk publishes it again after
//! its `resend_after_s` (nothing it confirmed is lost: a kiosk marks a row delivered only on the
//! journal's ack). The defaults let a kiosk's honest backlog through at full speed — 25,000
//! messages at once is more than two weeks offline of a busy day centre — and bound what a
//! credential costs: at most `burst + rate × t` messages stored over `t` seconds, and `daily`
//! a day (about 55 MiB at the valid flood's 0.55 KiB a message).
//!
//! Sans I/O: instants are passed in. The buckets live as long as the process (a restarted
//! journal gives every kiosk a fresh allowance; a credential cannot restart the journal).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One kiosk's allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmissionLimits {
    /// Messages a kiosk may send at once, at full speed.
    pub burst: u32,
    /// Messages a second it may go on sending after its burst.
    pub rate: f64,
    /// Messages in a day, however they are spread.
    pub daily: u32,
}

impl Default for AdmissionLimits {
    fn default() -> AdmissionLimits {
        AdmissionLimits {
            burst: 25_000,
            rate: 500.0,
            daily: 100_000,
        }
    }
}

/// What happens to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Yes,
    /// The kiosk's burst is spent: deferred until its bucket refills.
    OverRate,
    /// The kiosk's day is spent.
    OverDaily,
}

impl Admit {
    /// The kind its count is kept under (with the rejections' kinds, on the fleet page).
    pub fn kind(self) -> Option<&'static str> {
        match self {
            Admit::Yes => None,
            Admit::OverRate => Some("deferred_rate"),
            Admit::OverDaily => Some("deferred_daily"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: capacity,
            at: now,
        }
    }

    /// Refills for the time since it was last looked at, up to `capacity`.
    fn refill(&mut self, capacity: f64, per_sec: f64, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * per_sec).min(capacity);
        self.at = now;
    }
}

/// The most kiosks whose buckets are held. Only credentials the broker let in publish on a
/// kiosk's topic, so this is never reached on a real site; past it, the buckets of kiosks quiet
/// for a day (full again anyway) are dropped.
const MAX_KIOSKS: usize = 100_000;

/// Every kiosk's buckets, by site and kiosk (nested, so that a message is looked up by the
/// borrowed names of its topic: a flood allocates nothing per message).
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    sites: HashMap<String, HashMap<String, (Bucket, Bucket)>>,
    held: usize,
}

const DAY: Duration = Duration::from_secs(86_400);

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Admission {
        Admission {
            limits,
            sites: HashMap::new(),
            held: 0,
        }
    }

    /// Whether a message from `kiosk` of `site`, received at `now`, is taken.
    pub fn admit(&mut self, site: &str, kiosk: &str, now: Instant) -> Admit {
        let l = self.limits;
        let (burst, daily) = (f64::from(l.burst), f64::from(l.daily));
        let known = self.sites.get(site).is_some_and(|k| k.contains_key(kiosk));
        if !known {
            if self.held >= MAX_KIOSKS {
                for kiosks in self.sites.values_mut() {
                    kiosks.retain(|_, (_, d)| now.saturating_duration_since(d.at) < DAY);
                }
                self.sites.retain(|_, k| !k.is_empty());
                self.held = self.sites.values().map(HashMap::len).sum();
            }
            self.held += 1;
            self.sites.entry(site.to_string()).or_default().insert(
                kiosk.to_string(),
                (Bucket::full(burst, now), Bucket::full(daily, now)),
            );
        }
        let Some((short, day)) = self.sites.get_mut(site).and_then(|k| k.get_mut(kiosk)) else {
            return Admit::Yes;
        };
        short.refill(burst, l.rate, now);
        day.refill(daily, daily / DAY.as_secs_f64(), now);
        if day.tokens < 1.0 {
            Admit::OverDaily
        } else if short.tokens < 1.0 {
            Admit::OverRate
        } else {
            short.tokens -= 1.0;
            day.tokens -= 1.0;
            Admit::Yes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> AdmissionLimits {
        AdmissionLimits {
            burst: 10,
            rate: 2.0,
            daily: 30,
        }
    }

    #[test]
    fn a_burst_goes_through_then_the_rate_then_the_day_runs_out() {
        let t0 = Instant::now();
        let mut a = Admission::new(limits());
        let taken = |a: &mut Admission, at: Instant, n: usize| {
            (0..n)
                .filter(|_| a.admit("demo", "k1", at) == Admit::Yes)
                .count()
        };
        assert_eq!(taken(&mut a, t0, 25), 10, "the burst");
        assert_eq!(a.admit("demo", "k1", t0), Admit::OverRate);
        // Another kiosk has its own allowance.
        assert_eq!(taken(&mut a, t0, 10), 0);
        assert_eq!(
            (0..10)
                .filter(|_| a.admit("demo", "k2", t0) == Admit::Yes)
                .count(),
            10
        );
        // 3 s later: 6 more at 2 a second.
        assert_eq!(taken(&mut a, t0 + Duration::from_secs(3), 20), 6);
        // An hour later the burst is full again, but the day holds only 14 more.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(taken(&mut a, later, 20), 10);
        assert_eq!(taken(&mut a, later + Duration::from_secs(60), 20), 5);
        assert_eq!(
            a.admit("demo", "k1", later + Duration::from_secs(60)),
            Admit::OverDaily
        );
        // A day after, the day is whole again.
        assert_eq!(taken(&mut a, t0 + DAY * 2, 40), 10);
    }

    #[test]
    fn the_held_kiosks_are_bounded() {
        let t0 = Instant::now();
        let mut a = Admission::new(limits());
        for i in 0..MAX_KIOSKS {
            a.admit("demo", &format!("k{i}"), t0);
        }
        assert_eq!(a.held, MAX_KIOSKS);
        // A day later, the next new kiosk drops the quiet ones.
        a.admit("demo", "new", t0 + DAY * 2);
        assert_eq!(a.held, 1);
    }
}
