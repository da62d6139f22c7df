//! The screens' read model: what they show of the kiosk, taken on the worker thread after each
//! command.

use super::*;

/// What the screens show of the kiosk, taken on the worker thread after each command.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub instructor: Option<String>,
    pub session: Option<SessionStatus>,
    /// Units the open session would send if it ended now.
    pub units_if_ended: u32,
    /// The open session is below its group's minimum: (present, minimum).
    pub below_group_min: Option<(u32, u32)>,
    pub choices: Vec<StartChoice>,
    pub clock: ClockVerdict,
    /// Events not yet acknowledged by the journal; read only when asked (a disk query).
    pub outbox_depth: Option<u64>,
    pub roster_version: u64,
    /// The card reader works; if not, why.
    pub reader: (bool, String),
    /// Card enrolment mode: whose card the next one will be.
    pub enrolment: Option<String>,
    /// The feed's link: connected, and the broker or why not (`None`: no feed).
    pub feed: Option<(bool, String)>,
    /// The power and the SD card's space.
    pub health: crate::health::Health,
}

impl Default for Facts {
    fn default() -> Facts {
        Facts {
            instructor: None,
            session: None,
            units_if_ended: 0,
            below_group_min: None,
            choices: Vec::new(),
            clock: ClockVerdict::Unsynced,
            outbox_depth: None,
            roster_version: 0,
            reader: (true, String::new()),
            enrolment: None,
            feed: None,
            health: crate::health::Health::default(),
        }
    }
}

impl Facts {
    /// The facts of `kiosk` at `now`; `with_outbox` also counts the outbox.
    pub fn of(kiosk: &Kiosk, now: DateTime<Utc>, with_outbox: bool) -> Facts {
        let open = kiosk
            .session
            .as_ref()
            .and_then(|s| Some((s, kiosk.catalogue.get(&s.service)?)));
        let units_if_ended = open
            .map(|(s, svc)| s.units(now, svc, &kiosk.site, true).len() as u32)
            .unwrap_or(0);
        let below_group_min = open.and_then(|(s, svc)| {
            s.close_warnings(svc, None)
                .into_iter()
                .find_map(|w| match w {
                    CloseWarning::BelowGroupMin { present, min } => Some((present, min)),
                    CloseWarning::HeadCount { .. } => None,
                })
        });
        Facts {
            instructor: kiosk.instructor_name(),
            session: kiosk.session_status(),
            units_if_ended,
            below_group_min,
            choices: kiosk.start_choices(now),
            clock: kiosk.verdict().unwrap_or(ClockVerdict::Unsynced),
            outbox_depth: with_outbox
                .then(|| kiosk.store.backlog().ok().map(|(d, _)| d))
                .flatten(),
            roster_version: kiosk.roster.version,
            reader: kiosk.reader.clone(),
            enrolment: kiosk.enrolment_name(),
            feed: kiosk.feed.clone(),
            health: kiosk.health,
        }
    }
}
