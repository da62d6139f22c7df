//! Signing in: a staff card or a PIN, with wrong PINs locked out for longer each time.

use super::*;

/// Wrong PINs in a row. From the [`PinAttempts::FREE`]th on, each wrong PIN locks PINs out for
/// twice as long as the one before (30 s, 1 min, 2 min … at most 15 min): a 10⁴ search on the
/// keypad then takes months, while a person who mistyped waits half a minute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinAttempts {
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl PinAttempts {
    /// Wrong PINs taken without a pause.
    pub const FREE: u32 = 3;
    /// The longest lock-out, in seconds.
    pub const LONGEST: i64 = 15 * 60;

    /// How long PINs are still refused at `now`, if they are.
    /// A lock-out longer than the longest is a clock that went back (a Pi that boots in 1970
    /// with a lock-out kept from before): it is void, rather than refusing PINs for years.
    pub fn locked_for(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.locked_until.map(|t| t - now).filter(|d| {
            *d > chrono::Duration::zero() && *d <= chrono::Duration::seconds(Self::LONGEST)
        })
    }

    /// A wrong PIN at `now`; returns the failures in a row.
    pub fn failed(&mut self, now: DateTime<Utc>) -> u32 {
        self.failures += 1;
        if self.failures >= Self::FREE {
            let step = (self.failures - Self::FREE).min(5);
            let wait = (30i64 << step).min(Self::LONGEST);
            self.locked_until = Some(now + chrono::Duration::seconds(wait));
        }
        self.failures
    }
}

impl Kiosk {
    pub(super) fn sign_in(&mut self, credential: &str) -> Result<Reply, KioskError> {
        let by_card = CardRead::parse(credential).ok().and_then(|read| {
            match self.roster.lookup(&self.secret, &read) {
                Lookup::Found(Holder::Instructor(id)) => Some(id),
                _ => None,
            }
        });
        // A staff card always works; a PIN only while PINs are not locked out.
        let id = match by_card {
            Some(id) => id,
            None => {
                let now = self.clock.now();
                if let Some(wait) = self.pins.locked_for(now) {
                    return Err(KioskError::TooManyPins {
                        seconds: wait.num_seconds().max(1) as u64,
                    });
                }
                match self
                    .roster
                    .instructor_by_pin(&self.secret, credential.trim())
                {
                    Some(id) => id,
                    None => {
                        let n = self.pins.failed(now);
                        tracing::warn!(failures = n, "a wrong PIN at the kiosk");
                        self.store.set_pin_attempts(n, self.pins.locked_until)?;
                        return Err(KioskError::BadCredential);
                    }
                }
            }
        };
        if self.pins.failures > 0 {
            self.store.set_pin_attempts(0, None)?;
        }
        self.pins = PinAttempts::default();
        self.instructor = Some(id);
        let name = self
            .roster
            .instructors
            .get(&id)
            .map(|i| i.display_name.clone())
            .unwrap_or_default();
        Ok(Reply::SignedIn { instructor: name })
    }

    /// The signed-in instructor's name.
    pub fn instructor_name(&self) -> Option<String> {
        self.instructor
            .and_then(|i| self.roster.instructors.get(&i))
            .map(|i| i.display_name.clone())
    }
}
